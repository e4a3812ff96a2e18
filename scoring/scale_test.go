package scoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

const scaleRules = `kind: Scorecard
id: scale
title: Scale
levels: [bronze, silver]
checks:
  - id: readme
    title: README
    level: bronze
    expr: facts.github.files.readme == true
  - id: go
    title: Supported Go
    level: silver
    expr: semver(facts.github.go_version) >= semver("1.22.0")
  - id: ci
    title: CI runs
    level: silver
    expr: metrics.ci_runs >= 1.0
---
kind: Campaign
id: go-1-22
title: Go 1.22 everywhere
start: 2026-10-01
deadline: 2026-12-31
done: semver(facts.github.go_version) >= semver("1.22.0")
`

// scaleFacts are the facts the test writes for the i-th component: every
// third has no README, every fourth an old Go.
func scaleFacts(i int) (readme bool, goVersion string) {
	goVersion = "1.22.3"
	if i%4 == 1 {
		goVersion = "1.21.9"
	}
	return i%3 != 0, goVersion
}

// TestScoreTenThousandComponents scores a generated organisation of 10,000
// components (26,000 entities: more refs than fit in one statement) against
// the real ClickHouse, and checks every component's level, score and
// campaign state against what the generated data says they must be.
func TestScoreTenThousandComponents(t *testing.T) {
	db := storetest.NewDBMapping(t, github.Source().Scopes)
	ctx := context.Background()
	org := fixtures.Generate(fixtures.GenConfig{Components: 10_000, Days: 3, Seed: 5}) // one weekday of events
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)                               // the generator's end of history

	storetest.MustImportOrg(t, db, org)
	// Events, and the CI runs each repository had: the independent count
	// the ci_runs metric must match.
	ciRuns := map[yardstick.Scope]int{}
	storetest.MustStreamOrg(t, db, org, func(e yardstick.Event) bool {
		if e.Type == yardstick.PipelineFinished && e.Str["conclusion"] != "" && e.Time.Before(end) { // the metric window ends at the run
			ciRuns[e.Scope]++
		}
		return true
	})

	var facts []yardstick.Fact
	for i, c := range org.Components {
		readme, goVersion := scaleFacts(i)
		scope := github.RepoScope(c.Repo)
		facts = append(facts,
			yardstick.NewFact("github", scope, "files", map[string]bool{"readme": readme}, end.Add(-time.Hour)),
			yardstick.NewFact("github", scope, "go_version", goVersion, end.Add(-time.Hour)))
	}
	if err := db.WriteFacts(ctx, facts); err != nil {
		t.Fatal(err)
	}
	metrics := store.NewMetrics(db, store.MetricsConfig{})
	if err := metrics.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	s, _ := newStoreScorer(t, db, metrics, scaleRules)
	run, err := s.Run(ctx, end, scoring.RunOptions{Discard: true})
	if err != nil {
		t.Fatalf("Run(10,000 components) = %v", err)
	}
	if run.ScoreCount != 10_000 || run.CampaignCount != 10_000 || run.ProblemCount != 0 {
		t.Fatalf("Run(10,000 components) = %d scores, %d campaign results, %d problems (%v); want 10,000, 10,000, 0",
			run.ScoreCount, run.CampaignCount, run.ProblemCount, run.Problems)
	}

	sums, err := db.ScoreSummaries(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[yardstick.EntityRef]yardstick.ScoreSummary{}
	for _, x := range sums {
		got[x.Entity] = x
	}
	statuses, err := db.CampaignStatuses(ctx, "go-1-22")
	if err != nil {
		t.Fatal(err)
	}
	done := map[yardstick.EntityRef]bool{}
	for _, st := range statuses {
		done[st.Entity] = st.Done
	}
	if len(got) != 10_000 || len(done) != 10_000 {
		t.Fatalf("stored %d score summaries and %d campaign statuses, want 10,000 each", len(got), len(done))
	}
	levels := map[string]int{}
	bad := 0
	for i, c := range org.Components {
		ref := yardstick.NewEntityRef("component", "default", c.Name)
		readme, goVersion := scaleFacts(i)
		newGo, ci := !strings.HasPrefix(goVersion, "1.21"), ciRuns[github.RepoScope(c.Repo)] >= 1
		passed := 0
		for _, ok := range []bool{readme, newGo, ci} {
			if ok {
				passed++
			}
		}
		wantLevel := ""
		if readme {
			wantLevel = "bronze"
			if newGo && ci {
				wantLevel = "silver"
			}
		}
		wantScore := 100 * float64(passed) / 3
		x, ok := got[ref]
		if !ok || x.Level != wantLevel || x.Score < wantScore-1e-9 || x.Score > wantScore+1e-9 || done[ref] != newGo || x.Owner != yardstick.NewEntityRef("group", "default", c.Owner) {
			if bad++; bad <= 5 {
				t.Errorf("%s: level %q score %.1f owner %s campaign done %v; want %q, %.1f, group:default/%s, %v (readme %v, go %s, ci runs %d)",
					ref, x.Level, x.Score, x.Owner, done[ref], wantLevel, wantScore, c.Owner, newGo, readme, goVersion, ciRuns[github.RepoScope(c.Repo)])
			}
		}
		levels[wantLevel]++
	}
	if bad > 0 {
		t.Errorf("%d of 10,000 components scored otherwise than their data says", bad)
	}
	// The data must exercise every outcome, or the comparison above proves little.
	if levels[""] == 0 || levels["bronze"] == 0 || levels["silver"] == 0 {
		t.Errorf("expected levels %v: want components at none, bronze and silver", levels)
	}
	t.Logf("levels: %v", fmt.Sprint(levels))
}
