// Package chserver writes a local clickhouse-server's config and runs it as
// a child process. The store's launcher (one server) and store/clustertest
// (a cluster of three) share it.
package chserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is one server's config.xml and users.xml: loopback only, everything
// under Dir. ClickHouse 18.16 and current releases accept it.
type Config struct {
	Dir               string
	TCPPort, HTTPPort int
	CacheBytes        int64  // the mark cache and the uncompressed cache, each
	MaxMemory         int64  // max_memory_usage of the default profile
	Profile           string // more settings of the default profile, as XML
	Extra             string // more server settings (cluster, ZooKeeper, macros), as XML
}

// dirs are the folders under Dir that the config names.
var dirs = []string{"data", "tmp", "user_files", "format_schemas", "log"}

// MakeDirs creates the folders a server under dir needs.
func MakeDirs(dir string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create clickhouse dir: %w", err)
		}
	}
	return nil
}

// Path returns where Write puts config.xml.
func (c Config) Path() string { return filepath.Join(c.Dir, "config.xml") }

// Write creates the server's folders and writes config.xml and users.xml.
func (c Config) Write() error {
	if err := MakeDirs(c.Dir); err != nil {
		return err
	}
	if err := os.WriteFile(c.Path(), []byte(c.serverXML()), 0o644); err != nil {
		return fmt.Errorf("write clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "users.xml"), []byte(c.usersXML()), 0o644); err != nil {
		return fmt.Errorf("write clickhouse users config: %w", err)
	}
	return nil
}

func (c Config) serverXML() string {
	dir, cache := c.Dir, strconv.FormatInt(c.CacheBytes, 10)
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
    <tcp_port>` + strconv.Itoa(c.TCPPort) + `</tcp_port>
    <http_port>` + strconv.Itoa(c.HTTPPort) + `</http_port>
    <path>` + dir + `/data/</path>
    <tmp_path>` + dir + `/tmp/</tmp_path>
    <user_files_path>` + dir + `/user_files/</user_files_path>
    <format_schema_path>` + dir + `/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>` + cache + `</mark_cache_size>
    <uncompressed_cache_size>` + cache + `</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
` + c.Extra + `</yandex>
`
}

func (c Config) usersXML() string {
	return `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>` + strconv.FormatInt(c.MaxMemory, 10) + `</max_memory_usage>
            ` + c.Profile + `
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
}

// Process is a program running as this process's child.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// ServerEnv is the environment a ClickHouse server starts with: this
// process's, with jemalloc told to back its memory with transparent huge pages
// unless MALLOC_CONF is set already. ClickHouse 18.16 (Debian's build, on the
// system jemalloc) returns freed memory to the kernel and faults it back in
// page by page; on the 2-core VM we measure on, those page faults were a third
// of a full metric refresh (10M events: 31-38 s, 25-27 s with huge pages).
// Memory is still given back (thp, unlike dirty_decay_ms:-1, keeps RSS as it
// was). Current ClickHouse ships its own tuned jemalloc, which ignores this.
func ServerEnv() []string {
	env := os.Environ()
	if _, ok := os.LookupEnv("MALLOC_CONF"); !ok {
		env = append(env, "MALLOC_CONF=thp:always,metadata_thp:always")
	}
	return env
}

// Start starts argv in dir with environment env (nil: this process's), its
// output in the file logPath (truncated) and the process attributes attr (its
// process group, the signal it gets when this process dies).
func Start(argv []string, env []string, dir, logPath string, attr *syscall.SysProcAttr) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", argv[0], err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = attr
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started the child ends, not the
		// process: keep this goroutine on its thread for the child's life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		logf.Close()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM and waits until the process ends, killing it after
// grace or when ctx ends; with no grace it kills it at once, as a crash
// would. A process that already ended is left alone.
func (p *Process) Stop(ctx context.Context, grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		case <-ctx.Done():
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Tail returns the last n lines of the file at path, "" when it cannot be read.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a TCP port free on loopback now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the loopback address of port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
