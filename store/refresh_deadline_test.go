package store_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick/store"
)

// TestRefreshOutlivesReadTimeout: at 10M events a refresh's failure-link read
// passed the store's 30 s read timeout and the refresh failed. Refresh calls
// get MetricsConfig.RefreshTimeout instead: a refresh that waits out a server
// stopped for many read timeouts still finishes.
func TestRefreshOutlivesReadTimeout(t *testing.T) {
	s := mustLaunch(t, t.TempDir())
	ctx := context.Background()
	// The events are written with the default timeouts: on a loaded machine
	// a first write can take longer than the 300 ms this test is about.
	setup, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + s.Addr + "/default", Database: "longrefresh"})
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	if err := setup.WriteEvents(ctx, sampleEvents()); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + s.Addr + "/default", Database: "longrefresh",
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := store.NewMetrics(db, store.MetricsConfig{RefreshTimeout: time.Minute})
	pid := s.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	waitFor(t, "server stopped", 10*time.Second, func() bool { return processState(pid) == "T" })
	done := make(chan error, 1)
	go func() { done <- m.Rebuild(ctx) }()
	// Ten read timeouts' worth of a stopped server.
	time.Sleep(3 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Rebuild() returned %v while the server was stopped", err)
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Rebuild() across a 3s stop with 300ms read and write timeouts = %v, want nil", err)
	}
}
