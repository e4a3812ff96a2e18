package scoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
)

// fakeStore serves a catalog, facts (latest and by time) and metrics from
// memory, and records what is written and which queries ran.
type fakeStore struct {
	entities     []yardstick.Entity
	facts        map[yardstick.EntityRef]yardstick.Facts
	factsAt      func(t time.Time) map[yardstick.EntityRef]yardstick.Facts
	metrics      map[yardstick.EntityRef]map[string]float64
	metricCalls  []metricCall
	factCalls    int
	checkRows    []yardstick.CheckResult
	summaryRows  []yardstick.ScoreSummary
	campaignRows []yardstick.CampaignResult
}

type metricCall struct {
	names []string
	w     yardstick.Window
}

func (f *fakeStore) EntityPage(_ context.Context, after yardstick.EntityRef, limit int) ([]yardstick.Entity, error) {
	sorted := slices.Clone(f.entities)
	slices.SortFunc(sorted, func(a, b yardstick.Entity) int { return strings.Compare(string(a.Ref), string(b.Ref)) })
	var out []yardstick.Entity
	for _, e := range sorted {
		if e.Ref > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) Entity(_ context.Context, ref yardstick.EntityRef) (yardstick.Entity, error) {
	for _, e := range f.entities {
		if e.Ref == ref {
			return e, nil
		}
	}
	return yardstick.Entity{}, fmt.Errorf("entity %s: %w", ref, yardstick.ErrNotFound)
}

// only keeps the entries of refs, as the store's batch reads do.
func only[V any](m map[yardstick.EntityRef]V, refs []yardstick.EntityRef) map[yardstick.EntityRef]V {
	out := map[yardstick.EntityRef]V{}
	for _, r := range refs {
		if v, ok := m[r]; ok {
			out[r] = v
		}
	}
	return out
}

func (f *fakeStore) LatestFacts(_ context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
	f.factCalls++
	return only(f.facts, refs), nil
}

func (f *fakeStore) FactsAsOf(_ context.Context, refs []yardstick.EntityRef, t time.Time) (map[yardstick.EntityRef]yardstick.Facts, error) {
	f.factCalls++
	return only(f.factsAt(t), refs), nil
}

func (f *fakeStore) EntityMetrics(_ context.Context, names []string, w yardstick.Window, refs []yardstick.EntityRef) (map[yardstick.EntityRef]map[string]float64, error) {
	f.metricCalls = append(f.metricCalls, metricCall{names, w})
	return only(f.metrics, refs), nil
}

func (f *fakeStore) WriteCheckResults(_ context.Context, r []yardstick.CheckResult) error {
	f.checkRows = append(f.checkRows, r...)
	return nil
}

func (f *fakeStore) WriteScoreSummaries(_ context.Context, s []yardstick.ScoreSummary) error {
	f.summaryRows = append(f.summaryRows, s...)
	return nil
}

func (f *fakeStore) WriteCampaignResults(_ context.Context, r []yardstick.CampaignResult) error {
	f.campaignRows = append(f.campaignRows, r...)
	return nil
}

func (f *fakeStore) sources() Sources {
	return Sources{Catalog: f, Facts: f, History: f, Metrics: f, Results: f}
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		entities: orgCatalog(),
		facts: map[yardstick.EntityRef]yardstick.Facts{
			"component:default/api": {"github": {"go_version": "1.22.1", "files": map[string]any{"readme": true}}},
			"component:default/web": {"github": {"go_version": "1.20.0", "files": map[string]any{"readme": false}}},
		},
		metrics: map[yardstick.EntityRef]map[string]float64{"component:default/api": {"deploys_per_week": 2}},
	}
}

func TestScorerRun(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, prodRules+"---\n"+campaignRules)
	fs := newFakeStore()
	s := NewScorer(NewEngine(env, set, EngineConfig{Workers: 2}), fs.sources(), 0, slog.New(slog.DiscardHandler))
	now := time.Date(2025, 5, 1, 10, 30, 15, 999, time.UTC)
	run, err := s.Run(context.Background(), now, RunOptions{})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if fs.factCalls != 1 {
		t.Errorf("fact queries = %d, want 1 bulk query", fs.factCalls)
	}
	wantMetrics := []metricCall{{[]string{"deploys_per_week"}, yardstick.Window{From: now.Truncate(time.Second).AddDate(0, 0, -28), To: now.Truncate(time.Second)}}}
	if diff := cmp.Diff(wantMetrics, fs.metricCalls, cmp.AllowUnexported(metricCall{})); diff != "" {
		t.Errorf("metric queries (-want +got):\n%s", diff)
	}
	// Three components on prod; api and web on the campaign (lib has no Go version).
	if len(run.Scores) != 3 || len(run.Campaigns) != 2 {
		t.Fatalf("run has %d scores and %d campaign results, want 3 and 2", len(run.Scores), len(run.Campaigns))
	}
	if len(fs.summaryRows) != 3 || len(fs.campaignRows) != 2 || len(fs.checkRows) != len(run.CheckResults()) {
		t.Errorf("written: %d summaries, %d campaign rows, %d check rows", len(fs.summaryRows), len(fs.campaignRows), len(fs.checkRows))
	}
	for _, r := range fs.checkRows {
		if r.RunID != run.ID || !r.RunAt.Equal(now.Truncate(time.Second)) || r.Owner == "" || r.Level == "" {
			t.Fatalf("check row %+v lacks run, time, owner or level", r)
		}
	}
	got := map[yardstick.EntityRef]yardstick.CampaignState{}
	for _, r := range fs.campaignRows {
		got[r.Entity] = r.State
	}
	if diff := cmp.Diff(map[yardstick.EntityRef]yardstick.CampaignState{"component:default/api": yardstick.CampaignDone, "component:default/web": yardstick.CampaignPending}, got); diff != "" {
		t.Errorf("campaign states (-want +got):\n%s", diff)
	}
	if run.Evaluations == 0 || run.Cost == 0 {
		t.Errorf("run counted %d evaluations costing %d", run.Evaluations, run.Cost)
	}

	// One entity, dry run: nothing more is written.
	before := len(fs.checkRows)
	one, err := s.Run(context.Background(), now, RunOptions{Entities: []yardstick.EntityRef{"component:default/web"}, DryRun: true})
	if err != nil || len(one.Scores) != 1 || one.Scores[0].Entity != "component:default/web" {
		t.Fatalf("Run(web, dry) = %v, %v", one, err)
	}
	if len(fs.checkRows) != before {
		t.Errorf("a dry run wrote check results")
	}
	if _, err := s.Run(context.Background(), now, RunOptions{Entities: []yardstick.EntityRef{"component:default/nope"}}); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("Run(unknown entity) = %v, want ErrNotFound", err)
	}
}

// A run in batches reads, scores and writes each batch in turn and ends with
// the same results as a run in one batch; with Discard it keeps only counts.
func TestScorerRunsInBatches(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, prodRules+"---\n"+campaignRules)
	now := time.Date(2025, 5, 1, 10, 30, 0, 0, time.UTC)
	whole := newFakeStore()
	want, err := NewScorer(NewEngine(env, set, EngineConfig{}), whole.sources(), 0, slog.New(slog.DiscardHandler)).Run(context.Background(), now, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStore()
	s := NewScorer(NewEngine(env, set, EngineConfig{}), fs.sources(), 0, slog.New(slog.DiscardHandler))
	got, err := s.Run(context.Background(), now, RunOptions{Batch: 2, Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	batches := (len(fs.entities) + 1) / 2
	if fs.factCalls != batches || len(fs.metricCalls) != batches {
		t.Errorf("batches of 2 over %d entities: %d fact and %d metric reads, want %d each", len(fs.entities), fs.factCalls, len(fs.metricCalls), batches)
	}
	if len(got.Scores) != 0 || len(got.Campaigns) != 0 {
		t.Errorf("Discard run kept %d scores and %d campaign results, want none", len(got.Scores), len(got.Campaigns))
	}
	if got.ScoreCount != len(want.Scores) || got.CampaignCount != len(want.Campaigns) || got.Evaluations != want.Evaluations || got.Cost != want.Cost {
		t.Errorf("batched run counted %d scores, %d campaign results, %d evaluations, cost %d; want %d, %d, %d, %d",
			got.ScoreCount, got.CampaignCount, got.Evaluations, got.Cost, len(want.Scores), len(want.Campaigns), want.Evaluations, want.Cost)
	}
	key := func(r yardstick.CheckResult) string {
		return string(r.Entity) + " " + r.CheckID + " " + string(r.State) + " " + r.Value
	}
	var wantRows, gotRows []string
	for _, r := range whole.checkRows {
		wantRows = append(wantRows, key(r))
	}
	for _, r := range fs.checkRows {
		gotRows = append(gotRows, key(r))
	}
	slices.Sort(wantRows)
	slices.Sort(gotRows)
	if diff := cmp.Diff(wantRows, gotRows); diff != "" || len(fs.summaryRows) != len(whole.summaryRows) || len(fs.campaignRows) != len(whole.campaignRows) {
		t.Errorf("batched run wrote other rows: %d summaries (want %d), %d campaign rows (want %d), check rows (-want +got):\n%s",
			len(fs.summaryRows), len(whole.summaryRows), len(fs.campaignRows), len(whole.campaignRows), diff)
	}
}

func TestScorerBackfill(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, campaignRules)
	fs := newFakeStore()
	upgraded := time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC)
	fs.factsAt = func(t time.Time) map[yardstick.EntityRef]yardstick.Facts {
		v := "1.21.0"
		if !t.Before(upgraded) {
			v = "1.22.0"
		}
		return map[yardstick.EntityRef]yardstick.Facts{"component:default/api": {"github": {"go_version": v}}}
	}
	s := NewScorer(NewEngine(env, set, EngineConfig{}), fs.sources(), 0, slog.New(slog.DiscardHandler))
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	runs, err := s.Backfill(context.Background(), from, from.AddDate(0, 0, 28), 7*24*time.Hour)
	if err != nil || len(runs) != 4 {
		t.Fatalf("Backfill() = %d runs, %v; want 4", len(runs), err)
	}
	var states []string
	for _, r := range fs.campaignRows {
		states = append(states, r.RunAt.Format("01-02")+" "+string(r.State))
	}
	want := []string{"03-03 pending", "03-10 pending", "03-17 pending", "03-24 done"}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("backfilled campaign states (-want +got):\n%s", diff)
	}
	if _, err := s.Backfill(context.Background(), from, from, 0); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("Backfill(step 0) = %v, want ErrInvalid", err)
	}
	noHistory := NewScorer(NewEngine(env, set, EngineConfig{}), Sources{Catalog: fs, Facts: fs}, 0, slog.New(slog.DiscardHandler))
	if _, err := noHistory.RunAsOf(context.Background(), from, RunOptions{}); err == nil {
		t.Errorf("RunAsOf() without a fact history reader = nil error")
	}
}

func TestEvaluateProblemsAndBudget(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, `kind: Scorecard
id: s
title: S
appliesTo: entity.kind == "component" && int(entity.name) >= 0
`+bronzeC+`---
kind: Scorecard
id: t
title: T
levels: [bronze]
checks:
  - id: c
    title: C
    level: bronze
    expr: lists.range(50).all(i, i >= 0)
`)
	in := Input{RunID: "r", At: scoreNow, Entities: orgCatalog()}
	run, err := NewEngine(env, set, EngineConfig{Workers: 3}).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// appliesTo fails for each of the three components: reported, not fatal.
	if len(run.Problems) != 3 || !strings.Contains(run.Problems[0].Error(), "appliesTo of component:default/api") {
		t.Errorf("Problems = %v, want one appliesTo error per component", run.Problems)
	}
	if len(run.Scores) != 3 || run.Scores[0].Scorecard.ID != "t" || run.Scores[0].Entity != "component:default/api" {
		t.Errorf("scores = %d, want scorecard t for 3 components in catalog order", len(run.Scores))
	}

	// A budget smaller than one entity's cost: the first entities are
	// scored, the rest reported as not scored.
	run, err = NewEngine(env, set, EngineConfig{Workers: 1, RunCostBudget: 1}).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var skipped int
	for _, p := range run.Problems {
		if errors.Is(p, ErrBudget) {
			skipped++
		}
	}
	if skipped == 0 || len(run.Scores) == 3 {
		t.Errorf("budget of 1: %d scores, %d entities skipped; want some skipped", len(run.Scores), skipped)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewEngine(env, set, EngineConfig{}).Evaluate(ctx, in); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate(cancelled) = %v, want context.Canceled", err)
	}
}

func TestRunTests(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, prodRules+`tests:
  - name: gold service
    entity: {name: api, type: service, owner: alpha}
    facts:
      github: {files: {readme: true}, branch_protection: {required_reviews: 2}}
      pagerduty: {has_escalation_policy: true}
    metrics: {deploys_per_week: 3}
    expect: {level: gold, score: 100, checks: {oncall: pass, deploys: pass}}
  - name: wrong on purpose
    entity: {name: api, type: service, owner: alpha}
    facts: {github: {files: {readme: true}}}
    expect: {level: silver, checks: {reviews: pass, owner: pass}}
  - name: experimental is out of scope
    entity: {name: proto, lifecycle: experimental}
    expect: {applies: false}
  - name: exemption expires
    entity: {name: legacy, owner: alpha}
    facts: {github: {files: {readme: true}, branch_protection: {required_reviews: 0}}}
    now: 2025-06-01
    expect: {level: bronze, checks: {reviews: fail}}
---
`+campaignRules+`tests:
  - name: upgraded
    facts: {github: {go_version: "1.22.0"}}
    expect: {done: true}
  - name: claims done wrongly
    facts: {github: {go_version: "1.19"}}
    expect: {done: true}
`)
	got := RunTests(context.Background(), env, set, scoreNow)
	failures := map[string][]string{}
	for _, r := range got {
		failures[r.Rule+"/"+r.Name] = r.Failures
	}
	want := map[string][]string{
		"scorecard prod/gold service":                 nil,
		"scorecard prod/experimental is out of scope": nil,
		"scorecard prod/exemption expires":            nil,
		"scorecard prod/wrong on purpose": {
			"check reviews = unknown, want pass (missing fact or metric: branch_protection; facts.github.branch_protection.required_reviews missing)",
			"level = bronze, want silver",
		},
		"campaign go122/upgraded":            nil,
		"campaign go122/claims done wrongly": {`done = false, want true (state pending: facts.github.go_version = "1.19")`},
	}
	if diff := cmp.Diff(want, failures); diff != "" {
		t.Errorf("RunTests() failures (-want +got):\n%s", diff)
	}
	if got[0].Pos.Line == 0 || got[0].Passed() != (got[0].Failures == nil) {
		t.Errorf("TestResult = %+v, want a position", got[0])
	}
}

// TestScoringRunHostileRuleStopsAtCostLimit: a rule that used to run for
// minutes per entity (distinct over a large fact list, no comprehension)
// ends each evaluation at the cost limit; the run completes with the check
// unknown and the cost error as its message.
func TestScoringRunHostileRuleStopsAtCostLimit(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, oneCheck("topics", "Distinct topics", "facts.github.topics.distinct().size() > 0"))
	big := make([]any, 100_000)
	for i := range big {
		big[i] = fmt.Sprint(i)
	}
	in := Input{RunID: "r", At: scoreNow, Entities: orgCatalog(), Facts: map[yardstick.EntityRef]yardstick.Facts{}}
	for _, e := range in.Entities {
		in.Facts[e.Ref] = yardstick.Facts{"github": {"topics": big}}
	}
	run, err := NewEngine(env, set, EngineConfig{Workers: 1}).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scores) != 3 { // the three components
		t.Fatalf("scores = %d, want 3", len(run.Scores))
	}
	for _, s := range run.Scores {
		c := s.Checks[0]
		if c.State != yardstick.StateUnknown || !strings.Contains(c.Message, checks.ErrCostLimit.Error()) {
			t.Errorf("%s: check = %s %q, want unknown with the cost limit error", s.Entity, c.State, c.Message)
		}
	}
}

// TestScoringRunInterruptedByShutdown: cancelling the context of a run in
// progress (what serve does on SIGTERM) stops it between entities and inside
// a running evaluation; Evaluate returns context.Canceled.
func TestScoringRunInterruptedByShutdown(t *testing.T) {
	env, err := checks.NewEnv(checks.Options{CostLimit: math.MaxUint64})
	if err != nil {
		t.Fatal(err)
	}
	// Without a cost limit each entity takes hours.
	set := checkstest.MustLoad(t, env, oneCheck("slow", "Slow", "lists.range(1000000).all(i, lists.range(1000000).all(j, i + j >= 0))"))
	var ents []yardstick.Entity
	for i := range 1000 {
		ents = append(ents, yardstick.Entity{Ref: yardstick.EntityRef(fmt.Sprintf("component:default/c%d", i)), Kind: "Component", Name: fmt.Sprintf("c%d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := NewEngine(env, set, EngineConfig{Workers: 2}).Evaluate(ctx, Input{RunID: "r", At: scoreNow, Entities: ents})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the run start its evaluations
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate(cancelled mid-run) = %v, want context.Canceled", err)
	}
}
