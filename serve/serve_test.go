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
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/store"
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
	r, err := Start(serveCtx, Config{Listen: "127.0.0.1:0"}, Deps{
		DB:    db,
		Rules: func() *checks.RuleSet { return &checks.RuleSet{} },
		Jobs: []scheduler.Job{{Name: "github", Interval: time.Hour, RunAtStart: true, Run: func(context.Context) error {
			select {
			case ran <- struct{}{}:
			default:
			}
			return nil
		}}},
		Logger: slog.New(slog.DiscardHandler),
	})
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
