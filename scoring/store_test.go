package scoring_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const integrationRules = `kind: Scorecard
id: prod
title: Production readiness
levels: [bronze, silver]
checks:
  - id: readme
    title: README
    level: bronze
    expr: facts.github.files.readme == true
  - id: go-supported
    title: Supported Go
    level: silver
    appliesTo: facts.github.files.go_mod == true
    expr: semver(facts.github.go_version) >= semver("1.22.0")
  - id: deploys
    title: Deploys weekly
    level: silver
    expr: metrics.deploys_per_week >= 1.0
---
kind: Campaign
id: go-1-22
title: Go 1.22 everywhere
start: 2025-02-01
deadline: 2025-04-30
appliesTo: facts.github.files.go_mod == true
done: semver(facts.github.go_version) >= semver("1.22.0")
`

// week returns the Monday n weeks after 3 March 2025.
func week(n int) time.Time { return time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*n) }

// seed writes a catalog of two squads and three Go components whose Go
// versions are upgraded one after another, plus weekly deployments of api.
func seed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	comp := func(name, owner string) yardstick.Entity {
		return yardstick.Entity{Ref: yardstick.NewEntityRef("component", "default", name), Kind: "Component", Namespace: "default", Name: name,
			Type: "service", Lifecycle: "production", Owner: yardstick.NewEntityRef("group", "default", owner),
			Annotations: map[string]string{github.AnnotationSlug: "acme/" + name}, Spec: "{}"}
	}
	group := func(name, parent string) yardstick.Entity {
		e := yardstick.Entity{Ref: yardstick.NewEntityRef("group", "default", name), Kind: "Group", Namespace: "default", Name: name, Type: "squad", Spec: "{}"}
		if parent != "" {
			e.Parent = yardstick.NewEntityRef("group", "default", parent)
		}
		return e
	}
	if _, err := db.ReplaceCatalog(ctx, []yardstick.Entity{
		group("tribe", ""), group("alpha", "tribe"), group("beta", "tribe"),
		comp("api", "alpha"), comp("web", "alpha"), comp("worker", "beta"),
	}); err != nil {
		t.Fatal(err)
	}
	files := map[string]any{"readme": true, "go_mod": true}
	var facts []yardstick.Fact
	for name, upgraded := range map[string]int{"api": 1, "web": 3, "worker": -1} {
		scope := github.RepoScope("acme/" + name)
		facts = append(facts,
			yardstick.NewFact("github", scope, "files", files, week(0).Add(-time.Hour)),
			yardstick.NewFact("github", scope, "go_version", "1.21.4", week(0).Add(-time.Hour)))
		if upgraded >= 0 {
			facts = append(facts, yardstick.NewFact("github", scope, "go_version", "1.22.1", week(upgraded).Add(-time.Hour)))
		}
	}
	if err := db.WriteFacts(ctx, facts); err != nil {
		t.Fatal(err)
	}
	var events []yardstick.Event
	for d := -35; d < 28; d += 2 {
		events = append(events, yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: github.RepoScope("acme/api"),
			ID: "d" + week(0).AddDate(0, 0, d).Format("0102"), Time: week(0).AddDate(0, 0, d).Add(10 * time.Hour), Str: map[string]string{"environment": "production"}})
	}
	if err := db.WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
}

// newStoreScorer compiles rules and returns a scorer of them that reads and
// writes db, with metrics from metrics.
func newStoreScorer(t *testing.T, db *store.DB, metrics *store.Metrics, rules string) (*scoring.Scorer, *checks.RuleSet) {
	t.Helper()
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, rules)
	engine := scoring.NewEngine(env, set, scoring.EngineConfig{})
	return scoring.NewScorer(engine, scoring.Sources{
		Catalog: db, Facts: db, History: db, Metrics: metrics, Results: db,
	}, 0, slog.New(slog.DiscardHandler)), set
}

// TestScoringAgainstClickHouse replays four weeks through the real store:
// facts as of each week, metrics computed in ClickHouse, runs written to the
// history tables and read back as burndowns, check changes and latest results.
func TestScoringAgainstClickHouse(t *testing.T) {
	db := storetest.NewDBMapping(t, github.Source().Scopes)
	ctx := context.Background()
	seed(t, db)
	s, set := newStoreScorer(t, db, store.NewMetrics(db, store.MetricsConfig{}), integrationRules)
	for range 2 { // backfilling twice rewrites the same rows
		runs, err := s.Backfill(ctx, week(0), week(4), 7*24*time.Hour)
		if err != nil {
			t.Fatalf("Backfill() = %v", err)
		}
		if len(runs) != 4 {
			t.Fatalf("Backfill() = %d runs, want 4", len(runs))
		}
	}

	count, err := db.ReadOnlyQuery(ctx, "SELECT count() FROM check_results FINAL", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(count.Rows) != 1 || count.Rows[0][0] != "36" {
		t.Errorf("check_results has %v rows, want 36 (4 runs x 3 entities x 3 checks), once each", count.Rows)
	}

	// Burndown: api done from week 1, web from week 3, worker never.
	c, _ := set.Campaign("go-1-22")
	latest, err := s.RunAsOf(ctx, week(4), scoring.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	entities, err := db.Entities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := db.CampaignHistory(ctx, "go-1-22")
	if err != nil {
		t.Fatal(err)
	}
	p := scoring.Progress(c, yardstick.NewOrganisation(entities), latest.Campaigns, hist, week(4))
	wantBurndown := []yardstick.BurndownPoint{{At: week(0), Applicable: 3, Done: 0}, {At: week(1), Applicable: 3, Done: 1}, {At: week(2), Applicable: 3, Done: 1}, {At: week(3), Applicable: 3, Done: 2}, {At: week(4), Applicable: 3, Done: 2}}
	if diff := cmp.Diff(wantBurndown, p.Burndown); diff != "" {
		t.Errorf("burndown (-want +got):\n%s", diff)
	}
	if len(p.Remaining) != 1 || p.Remaining[0].Entity != "component:default/worker" || p.Remaining[0].Owner != "group:default/beta" {
		t.Errorf("remaining = %+v, want worker of beta", p.Remaining)
	}
	if p.Projected.IsZero() || p.Health != yardstick.CampaignOnTrack {
		t.Errorf("projection %v status %s, want a date and on-track", p.Projected, p.Health)
	}
	squads := map[yardstick.EntityRef][2]int{}
	for _, sq := range p.Squads {
		squads[sq.Subject] = [2]int{sq.Done, sq.Applicable}
	}
	if diff := cmp.Diff(map[yardstick.EntityRef][2]int{"group:default/alpha": {2, 2}, "group:default/beta": {0, 1}, "group:default/tribe": {2, 3}}, squads); diff != "" {
		t.Errorf("squads (-want +got):\n%s", diff)
	}

	// What changed: web's Go check went from fail to pass between weeks 2 and 3.
	changes, err := db.CheckChanges(ctx, week(2), week(3))
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []yardstick.CheckChange{{Scorecard: "prod", CheckID: "go-supported", Entity: "component:default/web", Owner: "group:default/alpha",
		From: yardstick.StateFail, To: yardstick.StatePass, At: week(3)}}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Errorf("CheckChanges(week 2, week 3) (-want +got):\n%s", diff)
	}

	// Metrics come from ClickHouse: api deploys every other day, the others
	// never (a counting metric: zero, so the check fails rather than unknown).
	res, err := db.LatestCheckResults(ctx, yardstick.CheckFilter{Scorecard: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]yardstick.CheckState{}
	for _, r := range res {
		if r.CheckID == "deploys" {
			got[r.Entity.Name()] = r.State
			if r.State == yardstick.StateFail && r.Value != "metrics.deploys_per_week = 0" {
				t.Errorf("failing deploys check of %s saw %q", r.Entity, r.Value)
			}
		}
	}
	if diff := cmp.Diff(map[string]yardstick.CheckState{"api": "pass", "web": "fail", "worker": "fail"}, got); diff != "" {
		t.Errorf("deploys check per entity (-want +got):\n%s", diff)
	}

	// A live run (latest facts, random run id) adds one more run.
	if _, err := s.Run(ctx, week(4).Add(time.Hour), scoring.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	sums, err := db.ScoreSummaries(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]string{}
	for _, s := range sums {
		levels[s.Entity.Name()] = s.Level
	}
	if diff := cmp.Diff(map[string]string{"api": "silver", "web": "bronze", "worker": "bronze"}, levels); diff != "" {
		t.Errorf("latest levels (-want +got):\n%s", diff)
	}
}
