package scoring

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
	"github.com/yardstick-dev/yardstick/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const reportRules = `kind: Scorecard
id: prod
title: Prod
levels: [bronze, silver]
checks:
  - id: owner
    title: Owner
    level: bronze
    expr: entity.owner != ""
  - id: readme
    title: README
    level: silver
    expr: facts.github.files.readme == true
    remediation: Add a README.md.
---
kind: Campaign
id: go-1-22
title: Go 1.22
appliesTo: entity.kind == "component"
done: facts.github.go_version == "1.22"
start: 2026-01-05
deadline: 2026-03-30
`

type progressSource struct{ hist []yardstick.CampaignRun }

func (progressSource) Entities(context.Context) ([]yardstick.Entity, error) {
	return []yardstick.Entity{
		{Ref: "group:default/alpha", Type: "squad"},
		{Ref: "component:default/api", Owner: "group:default/alpha"},
		{Ref: "component:default/web", Owner: "group:default/alpha"},
	}, nil
}

func (p progressSource) CampaignHistory(context.Context, string) ([]yardstick.CampaignRun, error) {
	return p.hist, nil
}

// mustReportRun is a fixed run of two entities on one scorecard and one
// campaign, with its campaign progress.
func mustReportRun(t *testing.T) (*Run, []CampaignProgress, *checks.RuleSet) {
	t.Helper()
	set := checkstest.MustLoad(t, checkstest.MustEnv(t), reportRules)
	sc := set.Scorecards[0]
	owner, readme := sc.Checks[0], sc.Checks[1]
	at := time.Date(2026, 2, 2, 6, 0, 0, 0, time.UTC)
	run := &Run{ID: "run-1", At: at, Evaluations: 6, Scores: []EntityScore{
		{Scorecard: sc, Entity: "component:default/api", Owner: "group:default/alpha", Level: yardstick.Level{Name: "silver", Rank: 2}, Score: 100,
			Checks: []CheckOutcome{{Check: owner, State: yardstick.StatePass}, {Check: readme, State: yardstick.StatePass}}},
		{Scorecard: sc, Entity: "component:default/web", Owner: "group:default/alpha", Level: yardstick.Level{Name: "bronze", Rank: 1}, Score: 50,
			Checks: []CheckOutcome{{Check: owner, State: yardstick.StatePass}, {Check: readme, State: yardstick.StateFail, Value: "false"}}},
	}, Campaigns: []yardstick.CampaignResult{
		{RunID: "run-1", RunAt: at, Campaign: "go-1-22", Entity: "component:default/api", Owner: "group:default/alpha", State: yardstick.CampaignDone},
		{RunID: "run-1", RunAt: at, Campaign: "go-1-22", Entity: "component:default/web", Owner: "group:default/alpha", State: yardstick.CampaignPending, Message: "go_version 1.21"},
	}}
	hist := progressSource{hist: []yardstick.CampaignRun{
		{RunID: "run-a", RunAt: at.AddDate(0, 0, -14), Owner: "group:default/alpha", Total: 2, Done: 0},
		{RunID: "run-b", RunAt: at.AddDate(0, 0, -7), Owner: "group:default/alpha", Total: 2, Done: 1},
		{RunID: "run-1", RunAt: at, Owner: "group:default/alpha", Total: 2, Done: 1},
	}}
	progress, err := CampaignsProgress(context.Background(), hist, set, run)
	if err != nil {
		t.Fatal(err)
	}
	return run, progress, set
}

func TestReportGolden(t *testing.T) {
	run, progress, _ := mustReportRun(t)
	for _, tt := range []struct {
		golden string
		write  func(w io.Writer) error
	}{
		{"score.table.golden", func(w io.Writer) error { return WriteTable(w, run, progress) }},
		{"score.json.golden", func(w io.Writer) error { return WriteJSON(w, run, progress) }},
		{"score.explain.golden", func(w io.Writer) error { WriteExplanation(w, run); return nil }},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			golden.MustMatch(t, filepath.Join("testdata", tt.golden), b.Bytes(), *update)
		})
	}
}

func TestGate(t *testing.T) {
	run, _, _ := mustReportRun(t)
	var w bytes.Buffer
	if err := Gate(&w, run, "component:default/web", "silver"); !errors.Is(err, ErrBelowLevel) || !strings.Contains(w.String(), "below silver on prod: it reached bronze") {
		t.Errorf("Gate(silver) = %v, %q; want ErrBelowLevel and the reason", err, w.String())
	}
	if err := Gate(&w, run, "component:default/web", "bronze"); err != nil {
		t.Errorf("Gate(bronze) = %v, want pass", err)
	}
	if err := Gate(&w, run, "component:default/web", "platinum"); err == nil || errors.Is(err, ErrBelowLevel) {
		t.Errorf("Gate(unknown level) = %v, want a usage error", err)
	}
}
