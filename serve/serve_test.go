package serve

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/clustertest"
	"github.com/yardstick-dev/yardstick/ui"
)

func TestServeConfigDefaults(t *testing.T) {
	c, err := Config{}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.DORABenchmark != "2024" || c.ScoreInterval != defaultScoreInterval || c.CollectorInterval("github") != defaultCollectInterval {
		t.Errorf("defaults = %+v", c)
	}
	for _, bad := range []Config{
		{Listen: "8080"},
		{DORABenchmark: "2019"},
		{ScoreInterval: time.Second},
		{CollectorIntervals: map[string]time.Duration{"github": time.Second}},
		{CustomBenchmark: &yardstick.DORABenchmark{Name: "x", LeadTimeHours: [3]float64{100, 10, 1}}},
		{Tokens: []Token{{SHA256: "ab"}}},
	} {
		if _, err := bad.WithDefaults(); !errors.Is(err, yardstick.ErrInvalid) {
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
// refresh, a collector job whose run is recorded and the notifier's job,
// then a clean shutdown when the context ends.
func TestStartServe(t *testing.T) {
	ctx, db := mustServeStore(t)
	ran := make(chan string, 1)
	deps := recordingDeps(db, "github", ran)
	deps.Collectors, deps.Jobs = deps.Jobs, nil
	deps.Notifier = notify.New(notify.Config{}, notify.Sources{Ledger: db}, nil, deps.Logger, time.Now)
	serveCtx, stop := context.WithCancel(ctx)
	r, err := Start(serveCtx, Config{Listen: "127.0.0.1:0"}, deps)
	if err != nil {
		t.Fatalf("Start() = %v", err)
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
	if jobs := mustJobs(t, r.URL); len(jobs) != 3 || jobs[0].Name != "github" || jobs[1].Name != "metrics" || jobs[2].Name != "notify" {
		t.Errorf("jobs = %+v, want github, metrics and notify", jobs)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		runs, err := db.CollectorRuns(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].Collector == "github" && runs[0].Err == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector runs = %+v, want the one run of github", runs)
		}
	}
	stop()
	if err := r.Wait(); err != nil {
		t.Errorf("Wait() after shutdown = %v", err)
	}
}

// mustJobs reads the scheduled jobs from the API of the serve at url.
func mustJobs(t *testing.T, url string) []ui.JobStatus {
	t.Helper()
	resp, err := http.Get(url + "api/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jobs []ui.JobStatus
	if err := json.NewDecoder(resp.Body).Decode(&jobs); err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestServeMemoryLimitDefaults(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, defaultMemoryLimitMB}, {-1, 0}, {512, 512}} {
		c, err := Config{MemoryLimitMB: tt.in}.WithDefaults()
		if err != nil {
			t.Fatalf("WithDefaults(memory_limit_mb %d) = %v", tt.in, err)
		}
		if c.MemoryLimitMB != tt.want {
			t.Errorf("WithDefaults(memory_limit_mb %d).MemoryLimitMB = %d, want %d", tt.in, c.MemoryLimitMB, tt.want)
		}
	}
}

// mustServeStore opens a store on a local ClickHouse of its own for serve
// tests, with a context that ends after two minutes, or with the test. Short
// tests skip.
func mustServeStore(t *testing.T) (context.Context, *store.DB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if errors.Is(err, store.ErrNoClickHouse) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("store.Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return ctx, db
}

// recordingDeps has one job that reports which instance ran it.
func recordingDeps(db *store.DB, name string, ran chan<- string) Deps {
	return Deps{
		DB:    db,
		Rules: func() *checks.RuleSet { return &checks.RuleSet{} },
		Jobs: []scheduler.Job{{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
			ran <- name
			return nil
		}}},
		Logger: slog.New(slog.DiscardHandler),
	}
}

// TestServeWithoutJobs runs a reader instance (serve.jobs: false) beside one
// that runs the jobs, on one store: the reader schedules nothing and serves
// what the jobs instance computed.
func TestServeWithoutJobs(t *testing.T) {
	ctx, db := mustServeStore(t)
	ran := make(chan string, 8)
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	worker, err := Start(serveCtx, Config{Listen: "127.0.0.1:0"}, recordingDeps(db, "worker", ran))
	if err != nil {
		t.Fatalf("Start(worker) = %v", err)
	}
	if got := <-ran; got != "worker" {
		t.Fatalf("first job run by %s, want worker", got)
	}
	off := false
	reader, err := Start(serveCtx, Config{Listen: "127.0.0.1:0", Jobs: &off}, recordingDeps(db, "reader", ran))
	if err != nil {
		t.Fatalf("Start(reader) = %v", err)
	}
	if jobs := mustJobs(t, reader.URL); len(jobs) != 0 {
		t.Errorf("reader's jobs = %+v, want none", jobs)
	}
	stop()
	for _, r := range []*Running{worker, reader} {
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

// TestServeJobsUnderLease: two instances with jobs and one ZooKeeper lease;
// only the holder runs jobs, and the other takes over when it stops.
func TestServeJobsUnderLease(t *testing.T) {
	ctx, db := mustServeStore(t)
	zk, err := clustertest.StartZooKeeper(ctx, t.TempDir())
	if errors.Is(err, clustertest.ErrNoZooKeeper) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer zk.Stop()
	ran := make(chan string, 16)
	start := func(sctx context.Context, name string) *Running {
		cfg := Config{Listen: "127.0.0.1:0", Lease: LeaseConfig{ZooKeeper: []string{zk.Addr}, Path: "/yardstick/test/jobs", SessionTimeout: 4 * time.Second}}
		r, err := Start(sctx, cfg, recordingDeps(db, name, ran))
		if err != nil {
			t.Fatalf("Start(%s) = %v", name, err)
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
