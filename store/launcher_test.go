package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// launchHelperEnv makes the test binary a second Yardstick process: it
// launches (or attaches to) the server of the data dir it names, prints
// "<server pid> <addr> <owned>" and waits to be killed.
const launchHelperEnv = "YARDSTICK_TEST_LAUNCH_HELPER"

func launchHelper(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := store.Launch(ctx, dir, slog.New(slog.DiscardHandler))
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch helper:", err)
		return 1
	}
	fmt.Printf("%d %s %v\n", s.PID(), s.Addr, s.Owned())
	select {} // until killed: no Stop, no cleanup of ours runs
}

// mustStartHelper runs launchHelper in a child process and returns it with the
// server pid and address it reported.
func mustStartHelper(t *testing.T, dir string) (*exec.Cmd, int, string) {
	t.Helper()
	if _, err := store.FindClickHouse(); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), launchHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("launch helper: %v", err)
	}
	f := strings.Fields(line)
	pid, _ := strconv.Atoi(f[0])
	return cmd, pid, f[1]
}

func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fastBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 50*time.Millisecond, time.Second, 0
	return b
}

func mustLaunch(t *testing.T, dir string) *store.Server {
	t.Helper()
	if _, err := store.FindClickHouse(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := store.LaunchWith(ctx, store.LaunchConfig{DataDir: dir, Backoff: fastBackoff})
	if err != nil {
		t.Fatalf("LaunchWith(%s) = %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// TestLauncherRestartsKilledServer: ClickHouse killed under a running process
// was never restarted (issue 10); the supervisor restarts it on the same address.
func TestLauncherRestartsKilledServer(t *testing.T) {
	s := mustLaunch(t, t.TempDir())
	first := s.PID()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + s.Addr + "/default", Database: "restart", ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "server restarted", time.Minute, func() bool { return s.PID() != first && s.Restarts() == 1 })
	waitFor(t, "store answers again on "+s.Addr, time.Minute, func() bool { return db.Ping(ctx) == nil })
	if err := db.WriteEvents(ctx, sampleEvents()); err != nil {
		t.Errorf("WriteEvents() after restart = %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !processGone(s.PID()) {
		t.Errorf("server %d still running after Stop", s.PID())
	}
}

// TestLauncherServerDiesWithKilledOwner: an ingest killed mid-run left the
// ClickHouse it started running, orphaned (issue 10).
func TestLauncherServerDiesWithKilledOwner(t *testing.T) {
	helper, pid, _ := mustStartHelper(t, t.TempDir())
	if processGone(pid) {
		t.Fatalf("helper's server %d not running", pid)
	}
	_ = helper.Process.Signal(syscall.SIGKILL)
	_ = helper.Wait()
	waitFor(t, fmt.Sprintf("server %d gone after its owner was killed", pid), time.Minute, func() bool { return processGone(pid) })
}

// TestLauncherAttachedProcessTakesOver: when the owner of a shared server
// exits, the attached process neither loses its store nor leaves a server
// unowned: it starts its own on the same address and stops it on exit.
func TestLauncherAttachedProcessTakesOver(t *testing.T) {
	dir := t.TempDir()
	helper, pid, addr := mustStartHelper(t, dir)
	s := mustLaunch(t, dir)
	if s.Owned() || s.Addr != addr {
		t.Fatalf("LaunchWith() owned=%v addr=%s, want attached to %s", s.Owned(), s.Addr, addr)
	}
	_ = helper.Process.Signal(syscall.SIGKILL)
	_ = helper.Wait()
	waitFor(t, "take-over", 2*time.Minute, func() bool { return s.Owned() && s.PID() != pid })
	if !processGone(pid) {
		t.Errorf("old server %d still running", pid)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + s.Addr + "/default", Database: "takeover"})
	if err != nil {
		t.Fatalf("Open() on the taken-over server = %v", err)
	}
	db.Close()
	now := s.PID()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !processGone(now) {
		t.Errorf("server %d still running after the new owner's Stop", now)
	}
}

// TestStoreTimesOutOnStoppedServer: with ClickHouse SIGSTOPped, reads and
// writes hung up to the driver's 300s default (issue 10); now they end at their
// deadline with an error wrapping yardstick.ErrUnavailable.
func TestStoreTimesOutOnStoppedServer(t *testing.T) {
	s := mustLaunch(t, t.TempDir())
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + s.Addr + "/default", Database: "stopped",
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pid := s.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	// SIGSTOP lands asynchronously: on a loaded machine a call made at once can
	// still be answered. Wait until the kernel reports the process stopped.
	waitFor(t, "server stopped", 10*time.Second, func() bool { return processState(pid) == "T" })
	for name, call := range map[string]func() error{
		"Ping":        func() error { return db.Ping(ctx) },
		"Events":      func() error { _, err := db.Events(ctx, store.EventFilter{}); return err },
		"WriteEvents": func() error { return db.WriteEvents(ctx, sampleEvents()) },
		"Cursor":      func() error { _, err := db.Cursor(ctx, "k"); return err },
	} {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if !errors.Is(err, yardstick.ErrUnavailable) {
			t.Errorf("%s() on a stopped server = %v, want ErrUnavailable", name, err)
		}
		// The deadline plus the pool's dial timeout at most: never the driver's 300s.
		if took > 15*time.Second {
			t.Errorf("%s() took %s on a stopped server", name, took)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "store answers after SIGCONT", 30*time.Second, func() bool { return db.Ping(ctx) == nil })
	if err := db.WriteEvents(ctx, sampleEvents()); err != nil {
		t.Errorf("WriteEvents() after SIGCONT = %v", err)
	}
}

// TestInsertsDoNotCloseConnectionsOfOtherCalls: under 20 clients, 6 of 2,476
// requests failed with "use of closed network connection" (issue 10): a batch
// whose context ended just as Send returned had clickhouse-go's watchdog close
// a connection already back in the pool. Writes whose callers cancel right
// after they return, mixed with reads, must all succeed.
func TestInsertsDoNotCloseConnectionsOfOtherCalls(t *testing.T) {
	db := storetest.NewDB(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	// Busy goroutines keep every P occupied, so the driver's watchdog
	// goroutine often starts late: the window in which the fault happens.
	stop := make(chan struct{})
	for i := 0; i < runtime.GOMAXPROCS(0)*4; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	defer close(stop)
	for c := 0; c < 20; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := db.SaveCursor(ctx, fmt.Sprintf("k%d", c), strconv.Itoa(i))
				cancel() // the request ends the moment the write returns
				if err == nil {
					_, err = db.Cursor(context.Background(), fmt.Sprintf("k%d", c))
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of 1600 calls failed; first: %v", len(failures), failures[0])
	}
}

// TestLauncherReplacesServerWithoutOwner: a server whose recorded owner is
// gone (left by an older Yardstick, or where Pdeathsig does not exist) is
// never attached to, which would leave it unowned: it is stopped and replaced.
func TestLauncherReplacesServerWithoutOwner(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	orphan, err := store.LaunchWith(ctx, store.LaunchConfig{DataDir: dir, NoSupervise: true})
	if errors.Is(err, store.ErrNoClickHouse) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orphan.Stop(context.Background()) })
	// Record an owner that has exited.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "clickhouse", "server.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), fmt.Sprintf(`"owner_pid":%d`, os.Getpid()), fmt.Sprintf(`"owner_pid":%d`, gone.Process.Pid), 1))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustLaunch(t, dir)
	if !s.Owned() || s.PID() == orphan.PID() {
		t.Errorf("LaunchWith() on a server without owner: owned=%v pid=%d, want its own server (not %d)", s.Owned(), s.PID(), orphan.PID())
	}
	if !processGone(orphan.PID()) {
		t.Errorf("server %d without owner still running", orphan.PID())
	}
}

// processState is the state letter of /proc/PID/stat ("T" when stopped), ""
// when it cannot be read.
func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return string(s[i+2])
}
