package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/dashboards"
	"github.com/yardstick-dev/yardstick/ui"
)

// In-memory sources: the server's logic above the store is tested against
// these; browser_test.go runs the real store.

var now = time.Date(2024, time.March, 20, 12, 0, 0, 0, time.UTC)

// sources are the binary's sources, whose annotations map entities to scopes.
var sources = collectors.NewRegistry(github.Source(), jira.Source(), pagerduty.Source())

type fakeCatalog struct {
	entities []yardstick.Entity
	version  atomic.Value // string; unset: a new version at every call, so every read re-reads
	reads    atomic.Int64
	calls    atomic.Int64
}

func (f *fakeCatalog) CatalogVersion(context.Context) (string, error) {
	n := f.calls.Add(1)
	if v, _ := f.version.Load().(string); v != "" {
		return v, nil
	}
	return fmt.Sprint(n), nil
}

func (f *fakeCatalog) Entities(context.Context) ([]yardstick.Entity, error) {
	f.reads.Add(1)
	return f.entities, nil
}
func (f *fakeCatalog) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	var out []yardstick.ScopeMapping
	for _, e := range f.entities {
		for _, s := range sources.ScopesOf(e) {
			out = append(out, yardstick.ScopeMapping{Scope: s, Entity: e.Ref})
		}
	}
	return out, nil
}

type fakeMetrics struct {
	mu        sync.Mutex
	queries   []yardstick.MetricQuery
	err       error
	coverFrom time.Time // where every metric's data starts (zero: always)
}

func (f *fakeMetrics) Metrics(_ context.Context, q yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[yardstick.EntityRef]yardstick.MetricReport{}
	for _, s := range q.Subjects {
		rep := yardstick.MetricReport{Subject: s, Window: q.Window, Values: map[string]yardstick.MetricValue{}, Series: map[string][]yardstick.MetricPoint{}}
		for _, n := range q.Names {
			v := 2.0
			if n == yardstick.MetricDeploysPerWeek {
				v = 10 // elite in every benchmark set
			}
			if n == yardstick.MetricChangeFailureRate {
				v = 0.5
			}
			rep.Values[n] = yardstick.MetricValue{Value: v, Count: 4}
			if q.Weekly {
				rep.Series[n] = []yardstick.MetricPoint{{Week: q.Window.From, Value: v, Count: 2}, {Week: q.Window.From.AddDate(0, 0, 7), Value: v / 2, Count: 2}}
			}
		}
		out[s] = rep
	}
	return out, nil
}

// Evidence answers one deployment row per subject, like the store's shape.
func (f *fakeMetrics) Evidence(_ context.Context, metric string, subject yardstick.EntityRef, w yardstick.Window) (yardstick.Evidence, error) {
	if f.err != nil {
		return yardstick.Evidence{}, f.err
	}
	return yardstick.Evidence{Metric: metric, Subject: subject, Window: w, Unit: "failed (1) or not (0)", Rows: []yardstick.EvidenceRow{
		{Scope: "github:acme/api", Time: w.From.Add(time.Hour), Ref: "d1", Value: 1, Detail: "failed",
			Failures: []yardstick.FailureLink{{DeployScope: "github:acme/api", DeployID: "d1", SignalScope: "pagerduty:PAPI", SignalType: yardstick.IncidentTriggered, SignalID: "P1", SignalTime: w.From.Add(2 * time.Hour), Basis: "window"}}},
	}}, nil
}

// Coverage says every metric's data starts with the previous window, unless
// coverFrom is set.
func (f *fakeMetrics) Coverage(_ context.Context, _ yardstick.EntityRef, names []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, n := range names {
		out[n] = f.coverFrom
	}
	return out, nil
}

func (f *fakeMetrics) WorkflowStats(context.Context, yardstick.EntityRef, yardstick.Window) ([]yardstick.WorkflowStat, error) {
	return []yardstick.WorkflowStat{{Workflow: "build", Runs: 10, SuccessRate: 0.9, P50Minutes: 4, P90Minutes: 9}}, nil
}

type fakeScores struct {
	summaries []yardstick.ScoreSummary // current
	lastWeek  []yardstick.ScoreSummary
	results   []yardstick.CheckResult
}

func (f *fakeScores) ScoreSummaries(_ context.Context, asOf time.Time) ([]yardstick.ScoreSummary, error) {
	if asOf.IsZero() {
		return f.summaries, nil
	}
	return f.lastWeek, nil
}

func (f *fakeScores) LatestCheckResults(_ context.Context, flt yardstick.CheckFilter) ([]yardstick.CheckResult, error) {
	var out []yardstick.CheckResult
	for _, r := range f.results {
		if flt.Scorecard != "" && r.Scorecard != flt.Scorecard {
			continue
		}
		if len(flt.Entities) > 0 && !slices.Contains(flt.Entities, r.Entity) {
			continue
		}
		if len(flt.States) > 0 && !slices.Contains(flt.States, r.State) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

type fakeCampaigns struct {
	statuses map[string][]yardstick.CampaignStatus
	history  map[string][]yardstick.CampaignRun
}

func (f *fakeCampaigns) CampaignStatuses(_ context.Context, id string) ([]yardstick.CampaignStatus, error) {
	return f.statuses[id], nil
}

func (f *fakeCampaigns) CampaignHistory(_ context.Context, id string) ([]yardstick.CampaignRun, error) {
	return f.history[id], nil
}

type fakeEvents struct{}

func (fakeEvents) RecentEvents(_ context.Context, scopes []yardstick.Scope, limit int) ([]yardstick.Event, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	return []yardstick.Event{{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: scopes[0], ID: "d9", Time: now.Add(-time.Hour),
		Actor: "octocat", Str: map[string]string{"environment": "production", "sha": "0123456789abcdef"}, Related: []string{"a", "b"}}}, nil
}

type fakeRules struct{ r ui.Rules }

func (f fakeRules) Rules() ui.Rules { return f.r }

type fakePinger struct{ err error }

func (f fakePinger) Ping(context.Context) error { return f.err }

type fakeJobs struct{ ran []string }

func (f *fakeJobs) RunNow(name string) error {
	if name != "github" {
		return fmt.Errorf("job %s: %w", name, yardstick.ErrNotFound)
	}
	f.ran = append(f.ran, name)
	return nil
}

func (f *fakeJobs) Jobs() []ui.JobStatus {
	return []ui.JobStatus{{Name: "github", Interval: time.Hour}}
}

var (
	tribeRef  = yardstick.NewEntityRef("group", "", "payments")
	squadA    = yardstick.NewEntityRef("group", "", "checkout")
	squadB    = yardstick.NewEntityRef("group", "", "ledger")
	compAPI   = yardstick.NewEntityRef("component", "", "checkout-api")
	compWeb   = yardstick.NewEntityRef("component", "", "checkout-web")
	compBooks = yardstick.NewEntityRef("component", "", "books")
)

func fixtureEntities() []yardstick.Entity {
	u := func(n string) yardstick.EntityRef { return yardstick.NewEntityRef("user", "", n) }
	return []yardstick.Entity{
		{Ref: tribeRef, Kind: "Group", Name: "payments", Title: "Payments tribe", Type: "tribe", Children: []yardstick.EntityRef{squadA, squadB}},
		{Ref: squadA, Kind: "Group", Name: "checkout", Title: "Checkout", Type: "team", Parent: tribeRef, Members: []yardstick.EntityRef{u("ann"), u("bo")}},
		{Ref: squadB, Kind: "Group", Name: "ledger", Title: "Ledger", Type: "team", Parent: tribeRef, Members: []yardstick.EntityRef{u("cy")}},
		{Ref: compAPI, Kind: "Component", Name: "checkout-api", Title: "Checkout API", Type: "service", Lifecycle: "production", Owner: squadA,
			Description: "Takes payments", Tags: []string{"go", "payments"},
			Annotations: map[string]string{github.AnnotationSlug: "acme/checkout-api", pagerduty.AnnotationServiceID: "PCHK"}},
		{Ref: compWeb, Kind: "Component", Name: "checkout-web", Type: "website", Lifecycle: "production", Owner: squadA,
			Annotations: map[string]string{github.AnnotationSlug: "acme/checkout-web"}},
		{Ref: compBooks, Kind: "Component", Name: "books", Type: "service", Lifecycle: "production", Owner: squadB,
			Annotations: map[string]string{github.AnnotationSlug: "acme/books"}},
		{Ref: u("ann"), Kind: "User", Name: "ann"},
	}
}

func fixtureRules() ui.Rules {
	return ui.Rules{
		Scorecards: []ui.ScorecardDef{{
			ID: "production-readiness", Title: "Production readiness", Description: "Services we can run at night.",
			Levels: []yardstick.Level{{Name: "bronze", Rank: 1}, {Name: "silver", Rank: 2}, {Name: "gold", Rank: 3}},
			Checks: []ui.CheckDef{
				{ID: "has-owner", Title: "Has an owner", Level: "bronze", Weight: 1, Expr: `entity.owner != ""`},
				{ID: "oncall", Title: "Has on-call", Level: "silver", Weight: 2, Expr: `facts.pagerduty.oncall_rotations > 0`,
					Remediation: "Add a PagerDuty service and the pagerduty.com/service-id annotation.", Link: "https://example.com/oncall"},
			},
		}},
		Campaigns: []ui.CampaignDef{{
			ID: "go122", Title: "Go 1.22 migration", Done: `facts.github.go_version >= "1.22"`,
			Start: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), Deadline: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC),
		}},
	}
}

func fixtureScores() *fakeScores {
	run := now.Add(-2 * time.Hour)
	old := now.Add(-8 * 24 * time.Hour)
	return &fakeScores{
		summaries: []yardstick.ScoreSummary{
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", Entity: compAPI, Owner: squadA, Level: "bronze", LevelRank: 1, Score: 33},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", Entity: compWeb, Owner: squadA, Level: "silver", LevelRank: 2, Score: 100},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", Entity: compBooks, Owner: squadB, Level: "", LevelRank: 0, Score: 0},
		},
		lastWeek: []yardstick.ScoreSummary{
			{RunID: "r1", RunAt: old, Scorecard: "production-readiness", Entity: compAPI, Owner: squadA, Level: "silver", LevelRank: 2, Score: 100},
			{RunID: "r1", RunAt: old, Scorecard: "production-readiness", Entity: compWeb, Owner: squadA, Level: "bronze", LevelRank: 1, Score: 50},
		},
		results: []yardstick.CheckResult{
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", CheckID: "has-owner", Entity: compAPI, Owner: squadA, Level: "bronze", State: yardstick.StatePass, Value: "group:default/checkout"},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", CheckID: "oncall", Entity: compAPI, Owner: squadA, Level: "silver", State: yardstick.StateFail, Value: "0"},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", CheckID: "has-owner", Entity: compWeb, Owner: squadA, Level: "bronze", State: yardstick.StatePass, Value: "group:default/checkout"},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", CheckID: "oncall", Entity: compWeb, Owner: squadA, Level: "silver", State: yardstick.StatePass, Value: "2"},
			{RunID: "r2", RunAt: run, Scorecard: "production-readiness", CheckID: "has-owner", Entity: compBooks, Owner: squadB, Level: "bronze", State: yardstick.StateUnknown, Message: "missing fact"},
		},
	}
}

func fixtureCampaigns() *fakeCampaigns {
	day := func(d int) time.Time { return time.Date(2024, 3, d, 6, 0, 0, 0, time.UTC) }
	return &fakeCampaigns{
		statuses: map[string][]yardstick.CampaignStatus{"go122": {
			{Campaign: "go122", Entity: compAPI, Owner: squadA, Done: true, State: "pass", RunAt: day(19)},
			{Campaign: "go122", Entity: compWeb, Owner: squadA, Done: false, State: "fail", Message: "go 1.21 in go.mod", RunAt: day(19)},
			{Campaign: "go122", Entity: compBooks, Owner: squadB, Done: false, State: "fail", Message: "=cmd()", RunAt: day(19)},
		}},
		history: map[string][]yardstick.CampaignRun{"go122": {
			{RunID: "a", RunAt: day(1), Owner: squadA, Done: 0, Total: 2}, {RunID: "a", RunAt: day(1), Owner: squadB, Done: 0, Total: 1},
			{RunID: "b", RunAt: day(10), Owner: squadA, Done: 1, Total: 2}, {RunID: "b", RunAt: day(10), Owner: squadB, Done: 0, Total: 1},
			{RunID: "c", RunAt: day(19), Owner: squadA, Done: 1, Total: 2}, {RunID: "c", RunAt: day(19), Owner: squadB, Done: 0, Total: 1},
		}},
	}
}

type harness struct {
	srv     *ui.Server
	metrics *fakeMetrics
	jobs    *fakeJobs
	reg     *prometheus.Registry
}

func mustServer(t testing.TB, mod func(*ui.Config)) harness {
	t.Helper()
	h := harness{metrics: &fakeMetrics{}, jobs: &fakeJobs{}, reg: prometheus.NewRegistry()}
	cfg := ui.Config{
		Addr:       "127.0.0.1:0",
		Catalog:    &fakeCatalog{entities: fixtureEntities()},
		Metrics:    h.metrics,
		Scores:     fixtureScores(),
		Campaigns:  fixtureCampaigns(),
		Events:     fakeEvents{},
		Rules:      fakeRules{fixtureRules()},
		Health:     fakePinger{},
		Jobs:       h.jobs,
		Dashboards: dashboards.FS,
		Webhooks: map[string]http.Handler{"github": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		})},
		Registerer: h.reg, Gatherer: h.reg,
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return now },
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := ui.New(cfg)
	if err != nil {
		t.Fatalf("ui.New() = %v", err)
	}
	h.srv = srv
	return h
}

func sortedStrings(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The aggregates, computed from the same rows in memory.

func ownerIn(owners []yardstick.EntityRef, o yardstick.EntityRef) bool {
	return len(owners) == 0 || slices.Contains(owners, o)
}

func (f *fakeScores) ScoreRollups(_ context.Context, owners []yardstick.EntityRef) ([]yardstick.ScoreRollup, error) {
	type key struct {
		sc    string
		owner yardstick.EntityRef
		rank  int
	}
	agg := map[key]*yardstick.ScoreRollup{}
	var keys []key
	for _, x := range f.summaries {
		if !ownerIn(owners, x.Owner) {
			continue
		}
		k := key{x.Scorecard, x.Owner, x.LevelRank}
		if agg[k] == nil {
			agg[k] = &yardstick.ScoreRollup{Scorecard: x.Scorecard, Owner: x.Owner, LevelRank: x.LevelRank}
			keys = append(keys, k)
		}
		agg[k].Entities++
		agg[k].ScoreSum += x.Score
	}
	out := make([]yardstick.ScoreRollup, 0, len(keys))
	for _, k := range keys {
		out = append(out, *agg[k])
	}
	return out, nil
}

func (f *fakeScores) FailingChecksByOwner(_ context.Context, owners []yardstick.EntityRef) (map[yardstick.EntityRef]int, error) {
	out := map[yardstick.EntityRef]int{}
	for _, r := range f.results {
		if r.State == yardstick.StateFail && ownerIn(owners, r.Owner) {
			out[r.Owner]++
		}
	}
	return out, nil
}

func (f *fakeScores) ScoreMoves(_ context.Context, _ time.Time, owners []yardstick.EntityRef, n int) ([]yardstick.ScoreMove, error) {
	type key struct {
		sc string
		e  yardstick.EntityRef
	}
	old := map[key]yardstick.ScoreSummary{}
	for _, x := range f.lastWeek {
		old[key{x.Scorecard, x.Entity}] = x
	}
	var out []yardstick.ScoreMove
	for _, x := range f.summaries {
		o, ok := old[key{x.Scorecard, x.Entity}]
		if !ok || !ownerIn(owners, x.Owner) || (o.Score == x.Score && o.LevelRank == x.LevelRank) {
			continue
		}
		out = append(out, yardstick.ScoreMove{Scorecard: x.Scorecard, Entity: x.Entity, Owner: x.Owner, FromLevel: o.Level, ToLevel: x.Level, From: o.Score, To: x.Score})
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := out[i].To-out[i].From, out[j].To-out[j].From
		if di < 0 {
			di = -di
		}
		if dj < 0 {
			dj = -dj
		}
		if di != dj {
			return di > dj
		}
		return out[i].Entity < out[j].Entity
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func (f *fakeScores) ScoreSummariesOf(_ context.Context, entities []yardstick.EntityRef) ([]yardstick.ScoreSummary, error) {
	var out []yardstick.ScoreSummary
	for _, x := range f.summaries {
		if slices.Contains(entities, x.Entity) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (f *fakeScores) CheckStateCounts(_ context.Context, scorecard string, owners []yardstick.EntityRef) (map[string]map[yardstick.CheckState]int, error) {
	out := map[string]map[yardstick.CheckState]int{}
	for _, r := range f.results {
		if r.Scorecard != scorecard || !ownerIn(owners, r.Owner) {
			continue
		}
		if out[r.CheckID] == nil {
			out[r.CheckID] = map[yardstick.CheckState]int{}
		}
		out[r.CheckID][r.State]++
	}
	return out, nil
}

func (f *fakeCampaigns) CampaignStatusesOf(_ context.Context, id string, entities []yardstick.EntityRef) ([]yardstick.CampaignStatus, error) {
	var out []yardstick.CampaignStatus
	for _, x := range f.statuses[id] {
		if slices.Contains(entities, x.Entity) {
			out = append(out, x)
		}
	}
	return out, nil
}
