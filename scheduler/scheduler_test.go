package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// TestNeverOverlapsRuns asks for many runs while one is going: the job's runs
// must never overlap, and the requests fold into one more run.
func TestNeverOverlapsRuns(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), time.Now)
	var (
		active, maxActive, runs atomic.Int32
		release                 = make(chan struct{})
		started                 = make(chan struct{}, 10)
	)
	err := s.Add(Job{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(ctx context.Context) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		runs.Add(1)
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-started // the run at start is going
	for i := 0; i < 5; i++ {
		if err := s.RunNow("github"); err != nil {
			t.Fatalf("RunNow(github) = %v", err)
		}
	}
	if st := s.Jobs(); len(st) != 1 || !st[0].Running {
		t.Errorf("Jobs() during a run = %+v, want github running", st)
	}
	release <- struct{}{} // end the first run; the folded request starts the second
	<-started
	release <- struct{}{}
	cancel()
	<-done
	if got := maxActive.Load(); got != 1 {
		t.Errorf("concurrent runs of one job = %d, want 1", got)
	}
	if got := runs.Load(); got != 2 {
		t.Errorf("runs = %d, want 2 (start + one folded run-now)", got)
	}
	if err := s.RunNow("jira"); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("RunNow(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRecordsFailures(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), time.Now)
	var once sync.Once
	ran := make(chan struct{})
	if err := s.Add(Job{Name: "scoring", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
		defer once.Do(func() { close(ran) })
		return errors.New("rules: boom")
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Job{Name: "scoring", Interval: time.Hour, Run: func(context.Context) error { return nil }}); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("Add(duplicate) = %v, want ErrInvalid", err)
	}
	if err := s.Add(Job{Name: "nothing", Run: func(context.Context) error { return nil }}); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("Add(no interval) = %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-ran
	cancel()
	<-done
	st := s.Jobs()
	if len(st) != 1 || st[0].LastErr != "rules: boom" || st[0].LastRun.IsZero() || st[0].Runs != 1 {
		t.Errorf("Jobs() = %+v, want the failure recorded", st)
	}
}

// TestStopsOnCancel ends the context while a job runs: Run returns once the
// run has seen the cancellation, and no further run starts.
func TestStopsOnCancel(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler), time.Now)
	var runs atomic.Int32
	started := make(chan struct{})
	if err := s.Add(Job{Name: "metrics", Interval: time.Millisecond, RunAtStart: true, Run: func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-ctx.Done()
		return ctx.Err()
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run() did not return after the context ended")
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("runs = %d, want 1 (none after cancel)", got)
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := Sleep(ctx, time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms) = %v, want nil", err)
	}
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(1h) after cancel = %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, 0); err != nil {
		t.Errorf("Sleep(0) = %v, want nil", err)
	}
}
