package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gofrs/flock"

	"github.com/yardstick-dev/yardstick/store/internal/chserver"
)

// ErrNoClickHouse is returned when no DSN is configured and no ClickHouse binary is installed.
var ErrNoClickHouse = errors.New("no ClickHouse server binary found (looked for clickhouse and clickhouse-server on PATH); install it with: apt-get install clickhouse-server, or pass --clickhouse DSN")

// Server is a local ClickHouse server that the launcher started or attached to.
//
// Supervision rules (README "Local ClickHouse"):
//   - A server runs only as the child of the Yardstick process that owns it. The
//     owner stops it on every exit path it controls (Stop from DB.Close, also on
//     errors and panics unwinding main), and on Linux the child gets SIGTERM
//     from the kernel when the owner dies any other way (Pdeathsig): a crash or
//     SIGKILL of the owner never leaves a server running.
//   - When the owned server exits on its own (crash, OOM kill), the owner
//     restarts it on the same ports with exponential backoff.
//   - A second process on the same data dir attaches while the owner lives.
//     When the owner exits (and so stops its server), an attached process takes
//     over: under the launcher lock it starts its own server on the same ports
//     and becomes the owner. A server whose recorded owner is gone is never
//     attached to: it is stopped and replaced, so no server ever runs unowned.
type Server struct {
	Addr       string // host:port of the native protocol
	HTTP       string // host:port of the HTTP interface (for clickhouse-client users)
	dataDir    string
	logger     *slog.Logger
	argv       []string
	tcpPort    int
	httpPort   int
	newBackoff func() backoff.BackOff

	stopOnce sync.Once
	stopCh   chan struct{} // closed by Stop
	superv   chan struct{} // closed when the supervisor goroutine ends; nil without one

	mu       sync.Mutex
	owned    bool
	pid      int
	proc     *chserver.Process // the owned child; nil when attached
	exited   <-chan struct{}   // closed when the current process ends (owned) or the owner or server is gone (attached)
	restarts int
}

// Owned reports whether this process owns (started) the server and stops it on Stop.
func (s *Server) Owned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned
}

// PID returns the server's current process id.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Restarts returns how many times the supervisor restarted or took over the server.
func (s *Server) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// serverState is written to the data dir so a second process attaches instead of starting another server.
type serverState struct {
	PID      int    `json:"pid"`
	OwnerPID int    `json:"owner_pid"`
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

// LaunchConfig configures LaunchWith.
type LaunchConfig struct {
	DataDir string
	Logger  *slog.Logger
	// NoSupervise turns off restarts and take-overs (the server is then only
	// started or attached to, as by a one-shot tool).
	NoSupervise bool
	// Backoff returns the restart schedule; default exponential from 250ms to
	// 15s, retrying until Stop.
	Backoff func() backoff.BackOff
}

// Launch starts a supervised ClickHouse server that owns dataDir, or attaches
// to the one a live Yardstick process started there. See LaunchWith.
func Launch(ctx context.Context, dataDir string, logger *slog.Logger) (*Server, error) {
	return LaunchWith(ctx, LaunchConfig{DataDir: dataDir, Logger: logger})
}

// LaunchWith starts a ClickHouse server that owns cfg.DataDir, or attaches to
// the one a live Yardstick process started there. It waits until the server
// answers. The data survives Stop and is reused by the next launch. Unless
// cfg.NoSupervise, the server is supervised by the rules on Server.
func LaunchWith(ctx context.Context, cfg LaunchConfig) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	if err := chserver.MakeDirs(filepath.Join(abs, "clickhouse")); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	argv, err := FindClickHouse()
	if err != nil {
		return nil, err
	}
	s := &Server{dataDir: abs, logger: cfg.Logger, argv: argv, newBackoff: cfg.Backoff, stopCh: make(chan struct{})}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, found := s.readState()
	if found && s.tryAttach(ctx, st) {
		// attached
	} else {
		if err := s.replaceOrphan(st, found); err != nil {
			return nil, err
		}
		if s.tcpPort, err = chserver.FreePort(); err != nil {
			return nil, err
		}
		if s.httpPort, err = chserver.FreePort(); err != nil {
			return nil, err
		}
		s.setAddrs()
		if err := s.startChild(ctx); err != nil {
			return nil, err
		}
	}
	if !cfg.NoSupervise {
		s.superv = make(chan struct{})
		go s.supervise()
	}
	return s, nil
}

func defaultBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.MaxInterval = 15 * time.Second
	b.MaxElapsedTime = 0
	return b
}

func (s *Server) setAddrs() {
	s.Addr, s.HTTP = chserver.Addr(s.tcpPort), chserver.Addr(s.httpPort)
}

// lock takes the data dir's launcher lock (one process at a time decides who
// runs the server) and returns its release.
func (s *Server) lock(ctx context.Context) (func(), error) {
	l := flock.New(filepath.Join(s.dataDir, "clickhouse", "launcher.lock"))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ok, err := l.TryLockContext(ctx, 50*time.Millisecond)
	if err == nil && !ok {
		err = errors.New("timed out waiting for the launcher lock")
	}
	if err != nil {
		return nil, fmt.Errorf("lock data dir %s: %w", s.dataDir, err)
	}
	return func() { _ = l.Unlock() }, nil
}

func statePath(dataDir string) string { return filepath.Join(dataDir, "clickhouse", "server.json") }

func (s *Server) readState() (serverState, bool) {
	var st serverState
	b, err := os.ReadFile(statePath(s.dataDir))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, true
}

func (s *Server) writeState() error {
	s.mu.Lock()
	st := serverState{PID: s.pid, OwnerPID: os.Getpid(), TCPPort: s.tcpPort, HTTPPort: s.httpPort, Binary: s.argv[0]}
	s.mu.Unlock()
	b, _ := json.Marshal(st)
	tmp := statePath(s.dataDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	if err := os.Rename(tmp, statePath(s.dataDir)); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	return nil
}

// tryAttach attaches to the server st describes when it and its owner are
// alive and it answers. The attached side watches both.
func (s *Server) tryAttach(ctx context.Context, st serverState) bool {
	if st.PID <= 0 || !processAlive(st.PID) || st.OwnerPID <= 0 || !processAlive(st.OwnerPID) {
		return false
	}
	addr := chserver.Addr(st.TCPPort)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ping(pctx, addr) != nil {
		return false
	}
	if s.Addr == "" {
		s.tcpPort, s.httpPort = st.TCPPort, st.HTTPPort
		s.setAddrs()
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.owned, s.pid, s.proc, s.exited = false, st.PID, nil, exited
	s.mu.Unlock()
	go watchAttached(st.PID, st.OwnerPID, exited, s.stopCh)
	s.logger.Info("attached to running clickhouse", "addr", s.Addr, "pid", st.PID, "owner_pid", st.OwnerPID)
	return true
}

// watchAttached closes exited when the server or its owner is gone.
func watchAttached(pid, owner int, exited, stop chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !processAlive(pid) || !processAlive(owner) {
			close(exited)
			return
		}
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	// A zombie (exited, not yet reaped by its parent) answers signal 0 too.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: trust the signal
	}
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// terminate stops a process that is not our child: SIGTERM, then SIGKILL after grace.
func terminate(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startChild starts the server as this process's child on s's ports, waits
// until it answers and records it in the data dir.
func (s *Server) startChild(ctx context.Context) error {
	cfg := chserver.Config{Dir: filepath.Join(s.dataDir, "clickhouse"), TCPPort: s.tcpPort, HTTPPort: s.httpPort,
		CacheBytes: 256 << 20, MaxMemory: 4_000_000_000, Profile: "<load_balancing>random</load_balancing>"}
	if err := cfg.Write(); err != nil {
		return err
	}
	// Its own process group: a Ctrl-C in the terminal reaches Yardstick, which
	// then stops the server cleanly, instead of killing the server mid-write.
	// On Linux the kernel also sends it SIGTERM when this process dies.
	p, err := chserver.Start(append(slices.Clone(s.argv), "--config-file="+cfg.Path()), chserver.ServerEnv(), cfg.Dir, filepath.Join(cfg.Dir, "log", "stderr.log"), childSysProcAttr())
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p.Exited()); err != nil {
		p.Stop(context.Background(), 5*time.Second)
		return err
	}
	s.mu.Lock()
	s.owned, s.pid, s.proc, s.exited = true, p.PID(), p, p.Exited()
	s.mu.Unlock()
	if err := s.writeState(); err != nil {
		p.Stop(context.Background(), 5*time.Second)
		return err
	}
	s.logger.Info("started clickhouse", "addr", s.Addr, "pid", p.PID(), "data", cfg.Dir)
	return nil
}

// supervise restarts the owned server when it exits and takes over when the
// owner of an attached server goes, until Stop.
func (s *Server) supervise() {
	defer close(s.superv)
	for {
		s.mu.Lock()
		exited, owned, pid := s.exited, s.owned, s.pid
		s.mu.Unlock()
		select {
		case <-s.stopCh:
			return
		case <-exited:
		}
		select {
		case <-s.stopCh:
			return
		default:
		}
		if owned {
			s.logger.Warn("clickhouse exited; restarting", "pid", pid, "addr", s.Addr)
		} else {
			s.logger.Warn("clickhouse owner or server gone; taking over", "pid", pid, "addr", s.Addr)
		}
		b := s.newBackoff()
		for {
			err := s.recover()
			if err == nil {
				break
			}
			d := b.NextBackOff()
			if d == backoff.Stop {
				s.logger.Error("clickhouse not restarted: giving up", "err", err)
				return
			}
			s.logger.Warn("clickhouse restart failed; retrying", "in", d, "err", err)
			select {
			case <-s.stopCh:
				return
			case <-time.After(d):
			}
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

// recover runs one restart or take-over under the launcher lock: it attaches
// again when another process already took over, else starts its own child on
// the same ports.
func (s *Server) recover() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, found := s.readState()
	if found && st.TCPPort == s.tcpPort && st.OwnerPID != os.Getpid() && s.tryAttach(ctx, st) {
		return nil
	}
	if err := s.replaceOrphan(st, found); err != nil {
		return err
	}
	return s.startChild(ctx)
}

// replaceOrphan stops the server st records when its owner is gone: it would
// run unowned. A server whose owner lives but that does not answer is left
// alone (an error: the caller retries later), and so is a recorded pid that
// is no longer this data dir's ClickHouse (the pid was reused).
func (s *Server) replaceOrphan(st serverState, found bool) error {
	if !found || st.PID <= 0 || !processAlive(st.PID) || !isServerOf(st.PID, s.dataDir) {
		return nil
	}
	if st.OwnerPID > 0 && processAlive(st.OwnerPID) {
		return fmt.Errorf("clickhouse %d of process %d on data dir %s does not answer: %w", st.PID, st.OwnerPID, s.dataDir, errServerBusy)
	}
	s.logger.Warn("stopping clickhouse left without its owner", "pid", st.PID, "owner_pid", st.OwnerPID)
	terminate(st.PID, 30*time.Second)
	return nil
}

var errServerBusy = errors.New("server busy")

// isServerOf reports whether pid runs ClickHouse with this data dir's config.
// Without procfs it cannot tell and says no, so nothing is killed by mistake.
func isServerOf(pid int, dataDir string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return strings.Contains(string(b), filepath.Join(dataDir, "clickhouse", "config.xml"))
}

func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ping(pctx, s.Addr)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
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
		if t := strings.TrimSpace(chserver.Tail(filepath.Join(s.dataDir, "clickhouse", "log", f), 8)); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, "\n")
}

// Stop ends supervision and shuts an owned server down cleanly (SIGTERM, then
// SIGKILL after 30s or when ctx ends). An attached server is left running for
// the process that owns it. Safe to call more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopCh) })
	if s.superv != nil {
		<-s.superv
	}
	s.mu.Lock()
	owned, p := s.owned, s.proc
	s.owned = false
	s.mu.Unlock()
	if !owned || p == nil {
		return nil
	}
	p.Stop(ctx, 30*time.Second)
	// Forget the server in the data dir, unless an attached process already
	// took over (it holds the lock while it starts its own).
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if unlock, err := s.lock(lctx); err == nil {
		if st, ok := s.readState(); ok && st.OwnerPID == os.Getpid() && st.PID == p.PID() {
			_ = os.Remove(statePath(s.dataDir))
		}
		unlock()
	}
	s.logger.Info("stopped clickhouse", "addr", s.Addr)
	return nil
}
