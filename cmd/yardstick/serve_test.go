package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/clustertest"
	"github.com/yardstick-dev/yardstick/ui"
)

// TestSchedulerNeverOverlapsRuns asks for many runs while one is going: the
// job's runs must never overlap, and the requests fold into one more run.
func TestSchedulerNeverOverlapsRuns(t *testing.T) {
	s := newScheduler(slog.New(slog.DiscardHandler), time.Now)
	var (
		active, maxActive, runs atomic.Int32
		release                 = make(chan struct{})
		started                 = make(chan struct{}, 10)
	)
	err := s.add(job{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(ctx context.Context) error {
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
	go func() { s.run(ctx); close(done) }()
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

func TestSchedulerRecordsFailures(t *testing.T) {
	s := newScheduler(slog.New(slog.DiscardHandler), time.Now)
	var once sync.Once
	ran := make(chan struct{})
	if err := s.add(job{Name: "scoring", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
		defer once.Do(func() { close(ran) })
		return errors.New("rules: boom")
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.add(job{Name: "scoring", Interval: time.Hour, Run: func(context.Context) error { return nil }}); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("add(duplicate) = %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	<-ran
	cancel()
	<-done
	st := s.Jobs()
	if len(st) != 1 || st[0].LastErr != "rules: boom" || st[0].LastRun.IsZero() {
		t.Errorf("Jobs() = %+v, want the failure recorded", st)
	}
}

func TestServeConfigDefaults(t *testing.T) {
	c, err := serveConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != defaultListen || c.DORABenchmark != "2024" || c.ScoreInterval != defaultScoreInterval || c.collectorInterval("github") != defaultCollectInterval {
		t.Errorf("defaults = %+v", c)
	}
	for _, bad := range []serveConfig{
		{Listen: "8080"},
		{DORABenchmark: "2019"},
		{ScoreInterval: time.Second},
		{CollectorIntervals: map[string]time.Duration{"github": time.Second}},
		{CustomBenchmark: &yardstick.DORABenchmark{Name: "x", LeadTimeHours: [3]float64{100, 10, 1}}},
		{Tokens: []serveToken{{SHA256: "ab"}}},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, yardstick.ErrInvalid) {
			t.Errorf("withDefaults(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestUIRules(t *testing.T) {
	if got := uiRules(nil); len(got.Scorecards) != 0 {
		t.Errorf("uiRules(nil) = %+v", got)
	}
	rs := &checks.RuleSet{Scorecards: []*checks.Scorecard{{ID: "sc", Title: "SC", Levels: []yardstick.Level{{Name: "bronze", Rank: 1}},
		Checks: []*checks.Check{{ID: "c1", Title: "C1", Level: yardstick.Level{Name: "bronze", Rank: 1}, Weight: 2, Remediation: "fix it", Expr: &checks.Program{Text: "true"}}}}},
		Campaigns: []*checks.Campaign{{ID: "go", Title: "Go", Done: &checks.Program{Text: "false"}}}}
	got := uiRules(rs)
	if len(got.Scorecards) != 1 || got.Scorecards[0].Checks[0].Expr != "true" || got.Scorecards[0].Checks[0].Level != "bronze" || got.Scorecards[0].Checks[0].Remediation != "fix it" {
		t.Errorf("uiRules scorecard = %+v", got.Scorecards)
	}
	if len(got.Campaigns) != 1 || got.Campaigns[0].Done != "false" {
		t.Errorf("uiRules campaign = %+v", got.Campaigns)
	}
}

// TestStartServe runs serve on a real store: health, readiness, the metrics
// refresh and a scheduled job, then a clean shutdown when the context ends.
func TestStartServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if errors.Is(err, store.ErrNoClickHouse) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("store.Open() = %v", err)
	}
	defer db.Close()
	ran := make(chan struct{}, 1)
	serveCtx, stop := context.WithCancel(ctx)
	r, err := startServe(serveCtx, serveConfig{Listen: "127.0.0.1:0"}, serveDeps{
		DB:    db,
		Rules: func() *checks.RuleSet { return &checks.RuleSet{} },
		Jobs: []job{{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
			select {
			case ran <- struct{}{}:
			default:
			}
			return nil
		}}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("startServe() = %v", err)
	}
	if !r.UI.Open() {
		t.Error("serve on 127.0.0.1 is not open")
	}
	for _, p := range []string{"healthz", "readyz", "api/v1/overview", "api/v1/openapi.json", "metrics"} {
		resp, err := http.Get(r.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /%s = %d, want 200", p, resp.StatusCode)
		}
	}
	<-ran
	var jobs []ui.JobStatus
	resp, err := http.Get(r.URL + "api/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&jobs); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(jobs) != 2 || jobs[0].Name != "github" || jobs[1].Name != "metrics" {
		t.Errorf("jobs = %+v, want github and metrics", jobs)
	}
	stop()
	if err := r.Wait(); err != nil {
		t.Errorf("Wait() after shutdown = %v", err)
	}
}

// TestServeWithoutJobs runs a reader instance (serve.jobs: false) beside one
// that runs the jobs, on one store: the reader schedules nothing, never
// refreshes metrics on its own, and serves what the jobs instance computed.
func TestServeWithoutJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if errors.Is(err, store.ErrNoClickHouse) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("store.Open() = %v", err)
	}
	defer db.Close()
	off := false
	readerCfg := serveConfig{Listen: "127.0.0.1:0", Jobs: &off}
	if got := readerCfg.metricsConfig().MaxAge; got < 24*365*time.Hour {
		t.Errorf("reader's metrics MaxAge = %s, want no background refresh", got)
	}
	ran := make(chan string, 4)
	deps := func(name string) serveDeps {
		return serveDeps{
			DB:    db,
			Rules: func() *checks.RuleSet { return &checks.RuleSet{} },
			Jobs: []job{{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
				ran <- name
				return nil
			}}},
			Logger: slog.New(slog.DiscardHandler),
		}
	}
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	worker, err := startServe(serveCtx, serveConfig{Listen: "127.0.0.1:0"}, deps("worker"))
	if err != nil {
		t.Fatalf("startServe(worker) = %v", err)
	}
	if got := <-ran; got != "worker" {
		t.Fatalf("first job run by %s, want worker", got)
	}
	reader, err := startServe(serveCtx, readerCfg, deps("reader"))
	if err != nil {
		t.Fatalf("startServe(reader) = %v", err)
	}
	var jobs []ui.JobStatus
	resp, err := http.Get(reader.URL + "api/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&jobs); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(jobs) != 0 {
		t.Errorf("reader's jobs = %+v, want none", jobs)
	}
	for _, r := range []*runningServer{worker, reader} {
		resp, err := http.Get(r.URL + "api/v1/overview")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %sapi/v1/overview = %d, want 200", r.URL, resp.StatusCode)
		}
	}
	stop()
	for _, r := range []*runningServer{worker, reader} {
		if err := r.Wait(); err != nil {
			t.Errorf("Wait() = %v", err)
		}
	}
	close(ran)
	for name := range ran {
		if name == "reader" {
			t.Error("the reader ran a scheduled job")
		}
	}
}

// TestServeJobsUnderLease starts two serve instances with jobs and a lease in
// ZooKeeper: only the holder runs its jobs; when it stops, the other takes over.
func TestServeJobsUnderLease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse and ZooKeeper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zk, err := clustertest.StartZooKeeper(ctx, t.TempDir())
	if errors.Is(err, clustertest.ErrNoZooKeeper) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer zk.Stop()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if errors.Is(err, store.ErrNoClickHouse) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("store.Open() = %v", err)
	}
	defer db.Close()
	ran := make(chan string, 16)
	start := func(sctx context.Context, name string) *runningServer {
		cfg := serveConfig{Listen: "127.0.0.1:0", Lease: leaseConfig{ZooKeeper: []string{zk.Addr}, Path: "/yardstick/test/jobs", SessionTimeout: 4 * time.Second}}
		r, err := startServe(sctx, cfg, serveDeps{
			DB:    db,
			Rules: func() *checks.RuleSet { return &checks.RuleSet{} },
			Jobs: []job{{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
				ran <- name
				return nil
			}}},
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatalf("startServe(%s) = %v", name, err)
		}
		return r
	}
	ctxA, stopA := context.WithCancel(ctx)
	a := start(ctxA, "a")
	if got := <-ran; got != "a" {
		t.Fatalf("first job run by %s, want a", got)
	}
	ctxB, stopB := context.WithCancel(ctx)
	defer stopB()
	b := start(ctxB, "b")
	select {
	case got := <-ran:
		t.Fatalf("%s ran a job while a holds the lease", got)
	case <-time.After(2 * time.Second):
	}
	stopA()
	if err := a.Wait(); err != nil {
		t.Errorf("a.Wait() = %v", err)
	}
	select {
	case got := <-ran:
		if got != "b" {
			t.Fatalf("job run by %s after a stopped, want b", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b ran no job within 30s of a stopping")
	}
	stopB()
	if err := b.Wait(); err != nil {
		t.Errorf("b.Wait() = %v", err)
	}
}
