package ui_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
	"github.com/yardstick-dev/yardstick/dashboards"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
	"github.com/yardstick-dev/yardstick/ui"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// demo is a generated organisation in a real ClickHouse, scored by the real
// rules, served by the real server: what the browser test and the benchmark use.
type demo struct {
	db      *store.DB
	metrics *store.Metrics
	srv     *ui.Server
	org     *fixtures.Org
	end     time.Time
	defs    ui.Rules
}

// mustDemo generates an organisation of the given size, stores its catalog and
// events, scores it weekly over the last four weeks (so campaigns have a
// burndown) and builds the server on it.
func mustDemo(t testing.TB, components, days int) demo {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	cfg := fixtures.GenConfig{Components: components, Days: days}
	org := fixtures.Generate(cfg)
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // the generator's fixed end of history

	storetest.MustImportOrg(t, db, org)
	storetest.MustStreamOrg(t, db, org, nil)

	env := checkstest.MustEnv(t)
	set, err := env.LoadDir(os.DirFS(filepath.Join("..", "fixtures", "rules")), ".")
	if err != nil {
		t.Fatalf("load demo rules: %v", err)
	}
	// Observations are refreshed explicitly (as serve's schedule does), never by a read.
	metrics := store.NewMetrics(db, store.MetricsConfig{})
	scorer := scoring.NewScorer(scoring.NewEngine(env, set, scoring.EngineConfig{}), scoring.Sources{
		Catalog: db, Facts: db, History: db, Metrics: metrics, Results: db,
	}, 4, slog.New(slog.DiscardHandler))
	if _, err := scorer.Backfill(ctx, end.AddDate(0, 0, -28), end, 7*24*time.Hour); err != nil {
		t.Fatalf("score the demo: %v", err)
	}
	defs := rulesOf(set)
	reg := prometheus.NewRegistry()
	srv, err := ui.New(ui.Config{
		Addr: "127.0.0.1:0", Catalog: db, Metrics: metrics, Scores: db, Campaigns: db, Events: db,
		Rules: fakeRules{defs}, Health: db, Dashboards: dashboards.FS, Registerer: reg, Gatherer: reg,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return end.Add(-time.Hour) },
	})
	if err != nil {
		t.Fatalf("ui.New() = %v", err)
	}
	return demo{db: db, metrics: metrics, srv: srv, org: org, end: end, defs: defs}
}

// rulesOf turns compiled rules into the pages' definitions (cmd does the same).
func rulesOf(rs *checks.RuleSet) ui.Rules {
	var out ui.Rules
	text := func(p *checks.Program) string {
		if p == nil {
			return ""
		}
		return p.Text
	}
	for _, sc := range rs.Scorecards {
		d := ui.ScorecardDef{ID: sc.ID, Title: sc.Title, Description: sc.Description, Levels: sc.Levels, AppliesTo: text(sc.AppliesTo)}
		for _, c := range sc.Checks {
			d.Checks = append(d.Checks, ui.CheckDef{ID: c.ID, Title: c.Title, Remediation: c.Remediation, Link: c.Link, Level: c.Level.Name, Weight: c.Weight, Expr: text(c.Expr)})
		}
		out.Scorecards = append(out.Scorecards, d)
	}
	for _, c := range rs.Campaigns {
		out.Campaigns = append(out.Campaigns, ui.CampaignDef{ID: c.ID, Title: c.Title, Description: c.Description, Done: text(c.Done), Start: c.Start, Deadline: c.Deadline})
	}
	return out
}
