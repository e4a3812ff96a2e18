package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// ErrNoClickHouse is returned when no DSN is configured and no ClickHouse binary is installed.
var ErrNoClickHouse = errors.New("no ClickHouse server binary found (looked for clickhouse and clickhouse-server on PATH); install it with: apt-get install clickhouse-server, or pass --clickhouse DSN")

// Server is a local ClickHouse server that the launcher started or attached to.
type Server struct {
	Addr    string // host:port of the native protocol
	HTTP    string // host:port of the HTTP interface (for clickhouse-client users)
	Owned   bool   // this process started it and stops it on Stop
	PID     int    // the server's process id
	dataDir string
	cmd     *exec.Cmd
	exited  chan struct{}
	logger  *slog.Logger
}

// serverState is written to the data dir so a second process attaches instead of starting another server.
type serverState struct {
	PID      int    `json:"pid"`
	TCPPort  int    `json:"tcp_port"`
	HTTPPort int    `json:"http_port"`
	Binary   string `json:"binary"`
}

// FindClickHouse returns the command that starts a server: the upstream single
// binary ("clickhouse server") or Debian's "clickhouse-server".
func FindClickHouse() ([]string, error) {
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	// Debian installs the server under /usr/sbin, which a non-root PATH often lacks.
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if _, err := os.Stat(p); err == nil {
			if strings.HasSuffix(p, "/clickhouse") {
				return []string{p, "server"}, nil
			}
			return []string{p}, nil
		}
	}
	return nil, ErrNoClickHouse
}

// Launch starts a ClickHouse server that owns dataDir, or attaches to the one a
// previous Yardstick process started there and left running. It waits until the
// server answers. The data survives Stop and is reused by the next Launch.
func Launch(ctx context.Context, dataDir string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	for _, d := range []string{"clickhouse/data", "clickhouse/tmp", "clickhouse/user_files", "clickhouse/format_schemas", "clickhouse/log"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	lock := flock.New(filepath.Join(abs, "clickhouse", "launcher.lock"))
	if err := lockWithContext(ctx, lock); err != nil {
		return nil, fmt.Errorf("lock data dir %s: %w", abs, err)
	}
	defer func() { _ = lock.Unlock() }()

	if s, ok := attach(ctx, abs, logger); ok {
		return s, nil
	}
	return start(ctx, abs, logger)
}

func lockWithContext(ctx context.Context, l *flock.Flock) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ok, err := l.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("timed out waiting for the launcher lock")
	}
	return nil
}

func statePath(dataDir string) string { return filepath.Join(dataDir, "clickhouse", "server.json") }

func attach(ctx context.Context, dataDir string, logger *slog.Logger) (*Server, bool) {
	b, err := os.ReadFile(statePath(dataDir))
	if err != nil {
		return nil, false
	}
	var st serverState
	if json.Unmarshal(b, &st) != nil || st.PID <= 0 || !processAlive(st.PID) {
		return nil, false
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(st.TCPPort))
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ping(pctx, addr) != nil {
		return nil, false
	}
	logger.Info("attached to running clickhouse", "addr", addr, "pid", st.PID)
	return &Server{Addr: addr, HTTP: net.JoinHostPort("127.0.0.1", strconv.Itoa(st.HTTPPort)), PID: st.PID, dataDir: dataDir, logger: logger}, true
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

func start(ctx context.Context, dataDir string, logger *slog.Logger) (*Server, error) {
	argv, err := FindClickHouse()
	if err != nil {
		return nil, err
	}
	tcpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	chDir := filepath.Join(dataDir, "clickhouse")
	cfgPath := filepath.Join(chDir, "config.xml")
	if err := os.WriteFile(cfgPath, []byte(serverConfig(chDir, tcpPort, httpPort)), 0o644); err != nil {
		return nil, fmt.Errorf("write clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(chDir, "users.xml"), []byte(usersConfig), 0o644); err != nil {
		return nil, fmt.Errorf("write clickhouse users config: %w", err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "--config-file="+cfgPath)...)
	cmd.Dir = chDir
	// Its own process group: a Ctrl-C in the terminal reaches Yardstick, which then
	// stops the server cleanly, instead of killing the server mid-write.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := os.Create(filepath.Join(chDir, "log", "stderr.log"))
	if err != nil {
		return nil, fmt.Errorf("create clickhouse log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s := &Server{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort)),
		HTTP:    net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		Owned:   true,
		PID:     cmd.Process.Pid,
		dataDir: dataDir,
		cmd:     cmd,
		exited:  make(chan struct{}),
		logger:  logger,
	}
	go func() {
		_ = cmd.Wait()
		stderr.Close()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	st, _ := json.Marshal(serverState{PID: cmd.Process.Pid, TCPPort: tcpPort, HTTPPort: httpPort, Binary: argv[0]})
	if err := os.WriteFile(statePath(dataDir), st, 0o644); err != nil {
		_ = s.Stop(context.Background())
		return nil, fmt.Errorf("write server state: %w", err)
	}
	logger.Info("started clickhouse", "addr", s.Addr, "pid", cmd.Process.Pid, "data", chDir)
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ping(pctx, s.Addr)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("clickhouse server exited at start; last log lines:\n%s", s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse server did not answer on %s within 90s; last log lines:\n%s", s.Addr, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	var out []string
	for _, f := range []string{"stderr.log", "error.log"} {
		b, err := os.ReadFile(filepath.Join(s.dataDir, "clickhouse", "log", f))
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		out = append(out, lines...)
	}
	return strings.Join(out, "\n")
}

// Stop shuts an owned server down cleanly (SIGTERM, then SIGKILL after 30s).
// An attached server is left running for the process that owns it.
func (s *Server) Stop(ctx context.Context) error {
	if !s.Owned || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.Remove(statePath(s.dataDir))
	s.logger.Info("stopped clickhouse", "addr", s.Addr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverConfig is the smallest config both ClickHouse 18.16 and current releases
// accept: loopback only, everything under the data dir.
func serverConfig(dir string, tcpPort, httpPort int) string {
	return `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>` + dir + `/log/server.log</log>
        <errorlog>` + dir + `/log/error.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>` + strconv.Itoa(tcpPort) + `</tcp_port>
    <http_port>` + strconv.Itoa(httpPort) + `</http_port>
    <path>` + dir + `/data/</path>
    <tmp_path>` + dir + `/tmp/</tmp_path>
    <user_files_path>` + dir + `/user_files/</user_files_path>
    <format_schema_path>` + dir + `/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
`
}

const usersConfig = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
