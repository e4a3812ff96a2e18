package gitlab

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// project is the fake's project the ClickHouse tests collect; hostEntity
// names it on GitLab or, by the same path, on GitHub.
const project = "acme/payments"

func hostEntity(ref yardstick.EntityRef, annotation string) yardstick.Entity {
	return yardstick.Entity{
		Ref: ref, APIVersion: "backstage.io/v1alpha1", Kind: "component", Namespace: "default", Name: ref.Name(),
		Type: "service", Lifecycle: "production", Owner: "group:default/team-a", System: "payments",
		Annotations: map[string]string{annotation: project}, Spec: "{}", Location: "test.yaml:1",
	}
}

// mustRunFake collects a fake GitLab serving project into db once, through
// the runner, and returns the collector, the runner and the run's report.
func mustRunFake(t *testing.T, db *store.DB) (*Collector, *collectors.Runner, collectors.Report) {
	t.Helper()
	fake := gitlabfake.New(gitlabfake.Options{Projects: []string{project}, Epoch: epoch, Token: testToken})
	t.Cleanup(fake.Close)
	clock := collectortest.NewClock(epoch)
	tr := collectors.NewTransport(nil, SourceName, RetryConfig(), nil).WithClock(clock.Now, clock.Sleep)
	c, err := New(Config{BaseURL: fake.URL, Token: testToken}, collectors.Deps{
		Catalog: db, Cursors: db, Writer: db, Now: clock.Now, HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatal(err)
	}
	runner := collectors.NewRunner(db, db, nil, slog.New(slog.DiscardHandler), 0)
	rep, err := runner.Run(context.Background(), c, c.ConfigHash())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return c, runner, rep
}

// TestClickHouseMetrics collects a fake GitLab project into a real ClickHouse
// and computes the DORA metrics for it and for a copy of the same history
// written as the GitHub collector writes it (source github, a github: scope):
// every metric comes out the same, and lead time and merge-to-deploy count
// what the fake's history says.
func TestClickHouseMetrics(t *testing.T) {
	// The catalog maps both annotations through the sources' registry, as the binary's does.
	db := storetest.NewDBMapping(t, collectors.NewRegistry(Source(), github.Source()).ScopesOf)
	ctx := context.Background()
	glRef, ghRef := yardstick.EntityRef("component:default/payments-gitlab"), yardstick.EntityRef("component:default/payments-github")
	if _, err := db.ReplaceCatalog(ctx, []yardstick.Entity{
		hostEntity(glRef, AnnotationProjectSlug), hostEntity(ghRef, github.AnnotationSlug),
	}); err != nil {
		t.Fatal(err)
	}
	c, runner, rep := mustRunFake(t, db)
	if rep.Events == 0 || rep.Facts == 0 {
		t.Fatalf("run wrote %d events and %d facts", rep.Events, rep.Facts)
	}
	rep2, err := runner.Run(ctx, c, c.ConfigHash())
	if err != nil || rep2.Events != 0 || rep2.Facts != 0 {
		t.Errorf("unchanged second run: %v, %d events, %d facts; want nothing written", err, rep2.Events, rep2.Facts)
	}

	events, err := db.Events(ctx, store.EventFilter{Source: SourceName, Scopes: []yardstick.Scope{Scope(project)}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		events[i].Source, events[i].Scope = "github", github.RepoScope(project)
	}
	if err := db.WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}

	m := store.NewMetrics(db, store.MetricsConfig{})
	got, err := m.Metrics(ctx, yardstick.MetricQuery{
		Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{glRef, ghRef},
		Window: yardstick.Window{From: epoch.AddDate(0, 0, -70), To: epoch.Add(time.Hour)},
	})
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	if diff := cmp.Diff(got[ghRef].Values, got[glRef].Values, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("GitLab metrics differ from the same history as GitHub data (-github +gitlab):\n%s", diff)
	}
	// The fake's history: 24 merged merge requests, a production deployment
	// after every second one (the 7th failed), 11 successes. The first
	// success ships its own merge commit only and is the scope's baseline,
	// which the metrics do not measure (docs/metrics.md, "First deployment");
	// each later success ships the feature and merge commits since the
	// previous success: merge requests 3 to 24, 22 merges and 44 commits.
	v := got[glRef].Values
	for name, want := range map[string]int64{
		yardstick.MetricMergeToDeployChanges: 22,
		yardstick.MetricLeadTimeCommits:      44,
		yardstick.MetricDeploysTotal:         11,
		yardstick.MetricPRsMerged:            24,
	} {
		if v[name].Count != want {
			t.Errorf("%s: count %d (value %v), want %d", name, v[name].Count, v[name].Value, want)
		}
	}
	// Merge to deploy is 94 minutes for the merge a deployment follows and 48h
	// more for the one before it; the median lies between.
	if p50 := v[yardstick.MetricMergeToDeployP50Hours].Value; math.IsNaN(p50) || p50 < 94.0/60 || p50 > 48+94.0/60 {
		t.Errorf("merge_to_deploy_p50_hours = %v, want within [1.57, 49.57]", p50)
	}
	if lt := v[yardstick.MetricLeadTimeP50Hours].Value; math.IsNaN(lt) || lt <= 0 {
		t.Errorf("lead_time_p50_hours = %v, want a positive number", lt)
	}
	facts, err := db.LatestFacts(ctx, []yardstick.EntityRef{glRef})
	if err != nil {
		t.Fatal(err)
	}
	if gv := facts[glRef][SourceName]["go_version"]; gv != "1.20" {
		t.Errorf("facts.gitlab.go_version = %v, want 1.20", gv)
	}
}

// TestClickHouseGitNamespace collects a fake GitLab project into a real
// ClickHouse, copies its facts as the GitHub collector writes them for a
// GitHub repository, and scores both with the demo rules through a store
// opened with the registry's FactNamespaces, as the binary opens it: the
// host-neutral checks and campaigns (facts.git) score both alike, and the
// github-actions campaign (facts.github) leaves the GitLab project out.
func TestClickHouseGitNamespace(t *testing.T) {
	ctx := context.Background()
	reg := collectors.NewRegistry(Source(), github.Source())
	db, err := store.Open(ctx, store.Config{
		DSN: "clickhouse://" + storetest.Addr(t) + "/default", Database: fmt.Sprintf("t_gitns_%d", time.Now().UnixNano()),
		ScopesOf: reg.ScopesOf, FactNamespaces: reg.FactNamespaces,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Drop(context.Background())
		_ = db.Close()
	})
	glRef, ghRef := yardstick.EntityRef("component:default/payments-gitlab"), yardstick.EntityRef("component:default/payments-github")
	entities := []yardstick.Entity{hostEntity(glRef, AnnotationProjectSlug), hostEntity(ghRef, github.AnnotationSlug)}
	if _, err := db.ReplaceCatalog(ctx, entities); err != nil {
		t.Fatal(err)
	}
	mustRunFake(t, db)
	facts, err := db.FactsByScope(ctx, SourceName)
	if err != nil || len(facts) == 0 {
		t.Fatalf("FactsByScope(gitlab) = %d facts, %v", len(facts), err)
	}
	for i := range facts {
		facts[i].Source, facts[i].Scope = "github", github.RepoScope(project)
	}
	if err := db.WriteFacts(ctx, facts); err != nil {
		t.Fatal(err)
	}

	latest, err := db.LatestFacts(ctx, []yardstick.EntityRef{glRef, ghRef})
	if err != nil {
		t.Fatal(err)
	}
	if latest[glRef]["git"]["files"] == nil {
		t.Fatalf("facts.git of the GitLab project = %v, want the files fact", latest[glRef]["git"])
	}
	if diff := cmp.Diff(latest[ghRef]["git"], latest[glRef]["git"]); diff != "" {
		t.Errorf("facts.git differ between the GitHub repository and the GitLab project (-github +gitlab):\n%s", diff)
	}
	if diff := cmp.Diff(latest[glRef][SourceName], latest[glRef]["git"]); diff != "" {
		t.Errorf("facts.git of the GitLab project differ from its facts.gitlab (-gitlab +git):\n%s", diff)
	}
	if latest[glRef]["github"] != nil || latest[ghRef][SourceName] != nil {
		t.Errorf("facts leak between hosts: gitlab project has github %v, github repository has gitlab %v",
			latest[glRef]["github"], latest[ghRef][SourceName])
	}

	env, err := checks.NewEnv(checks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := env.LoadDir(os.DirFS(filepath.Join("..", "..", "fixtures")), "rules")
	if err != nil {
		t.Fatalf("load demo rules: %v", err)
	}
	run, err := scoring.NewEngine(env, set, scoring.EngineConfig{}).Evaluate(ctx, scoring.Input{
		RunID: "git-namespace", At: epoch, Entities: entities, Facts: latest,
	})
	if err != nil {
		t.Fatal(err)
	}
	states := map[yardstick.EntityRef]map[string]yardstick.CheckState{}
	for _, s := range run.Scores {
		if s.Scorecard.ID != "production-readiness" {
			continue
		}
		states[s.Entity] = map[string]yardstick.CheckState{}
		for _, o := range s.Checks {
			states[s.Entity][o.Check.ID] = o.State
		}
	}
	for _, ref := range []yardstick.EntityRef{glRef, ghRef} {
		// facts.git.files.readme and facts.git.branch_protection: the fake's
		// project has a README and a protected default branch.
		for _, check := range []string{"readme", "branch-protected"} {
			if got := states[ref][check]; got != yardstick.StatePass {
				t.Errorf("%s: check %s = %q, want pass", ref, check, got)
			}
		}
	}
	if diff := cmp.Diff(states[ghRef], states[glRef]); diff != "" {
		t.Errorf("production-readiness checks differ between the hosts (-github +gitlab):\n%s", diff)
	}
	in := map[string][]yardstick.EntityRef{}
	for _, r := range run.Campaigns {
		in[r.Campaign] = append(in[r.Campaign], r.Entity)
	}
	slices.Sort(in["go-1-22"])
	if want := []yardstick.EntityRef{ghRef, glRef}; !slices.Equal(in["go-1-22"], want) {
		t.Errorf("go-1-22 (facts.git) applies to %v, want %v", in["go-1-22"], want)
	}
	if want := []yardstick.EntityRef{ghRef}; !slices.Equal(in["github-actions"], want) {
		t.Errorf("github-actions (facts.github) applies to %v, want %v only", in["github-actions"], want)
	}
}
