package github

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// dbEvents adapts *store.DB to EventStore, as cmd/yardstick does.
type dbEvents struct{ db *store.DB }

func (d dbEvents) ScopeEvents(ctx context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error) {
	return d.db.Events(ctx, store.EventFilter{Source: source, Types: types, Scopes: []yardstick.Scope{scope}, Since: since})
}

func (d dbEvents) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	return d.db.DeleteEvents(ctx, events)
}

func mustCatalog(t testing.TB, db *store.DB, slugs ...string) {
	t.Helper()
	var entities []yardstick.Entity
	for _, slug := range slugs {
		name := strings.ReplaceAll(slug, "/", "-")
		entities = append(entities, yardstick.Entity{
			Ref: yardstick.NewEntityRef("component", "default", name), APIVersion: "backstage.io/v1alpha1", Kind: "Component",
			Namespace: "default", Name: name, Type: "service", Lifecycle: "production", Owner: "group:default/team-a",
			Annotations: map[string]string{AnnotationSlug: slug}, Spec: "{}", Location: "test.yaml:1",
		})
	}
	if _, err := db.ReplaceCatalog(context.Background(), entities); err != nil {
		t.Fatalf("ReplaceCatalog: %v", err)
	}
}

func mustEvents(t testing.TB, db *store.DB, typ string, scope yardstick.Scope) []yardstick.Event {
	t.Helper()
	evs, err := db.Events(context.Background(), store.EventFilter{Source: SourceName, Types: []string{typ}, Scopes: []yardstick.Scope{scope}})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

// TestClickHouseRows collects the fake organisation into a real ClickHouse with
// the catalog, cursors and ETags kept there too, and checks the rows, a second
// run that adds nothing at almost no cost, and the reconcile pass.
func TestClickHouseRows(t *testing.T) {
	db := storetest.NewDBMapping(t, Source().Scopes)
	ctx := context.Background()
	slugs := demoSlugs(4)
	mustCatalog(t, db, slugs...)
	clock := collectortest.NewClock(epoch)
	fake := githubfake.New(githubfake.Options{Repos: slugs, Epoch: epoch, Now: clock.Now, Token: testToken})
	t.Cleanup(fake.Close)
	c := mustCollector(t, Config{BaseURL: fake.URL, Token: testToken}, fake, clock, db, db, dbEvents{db})

	runner := collectors.NewRunner(db, db, nil, discardLogger(), 0)
	rep, err := runner.Run(ctx, c, c.ConfigHash())
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	windowStart := epoch.Add(-DefaultBackfill)
	for _, slug := range slugs {
		scope := RepoScope(slug)
		x := expect(fake, slug, windowStart)
		for typ, want := range map[string]int{
			yardstick.ChangeOpened: x.opened, yardstick.ChangeMerged: x.merged, yardstick.ChangeReviewed: x.reviews,
			yardstick.DeploymentStarted: x.deployments, yardstick.DeploymentSucceeded: x.succeeded, yardstick.PipelineFinished: x.runs,
		} {
			if got := len(mustEvents(t, db, typ, scope)); got != want {
				t.Errorf("%s: %d %s rows in ClickHouse, want %d", slug, got, typ, want)
			}
		}
		for _, d := range mustEvents(t, db, yardstick.DeploymentSucceeded, scope) {
			// A redeploy of the same sha ships nothing; any other deploy ships at least its sha.
			shipsNew := d.Str["base_sha"] != d.Str["sha"]
			if shipsNew != (len(d.Related) > 0) || d.Str["environment"] == "" || d.Num["duration_seconds"] <= 0 {
				t.Errorf("%s deployment %s: base %q, sha %q, related %d, environment %q, duration %v", slug, d.ID,
					d.Str["base_sha"], d.Str["sha"], len(d.Related), d.Str["environment"], d.Num["duration_seconds"])
			}
		}
	}
	facts, err := db.LatestFacts(ctx, []yardstick.EntityRef{"component:default/acme-payments", "component:default/acme-search"})
	if err != nil {
		t.Fatalf("LatestFacts: %v", err)
	}
	if v := facts["component:default/acme-payments"]["github"]["go_version"]; v != "1.20" {
		t.Errorf("facts.github.go_version of acme-payments = %v, want 1.20", v)
	}
	bp, _ := facts["component:default/acme-search"]["github"]["branch_protection"].(map[string]any)
	if bp == nil || bp["protected"] != false || bp["required_reviews"] != float64(0) {
		t.Errorf("facts.github.branch_protection of acme-search = %v, want protected false, required_reviews 0", bp)
	}

	counts := func() map[string]uint64 {
		c, err := db.EventCounts(ctx)
		if err != nil {
			t.Fatalf("EventCounts: %v", err)
		}
		return c
	}
	before := counts()
	factsBefore, err := db.FactsByScope(ctx, SourceName)
	if err != nil {
		t.Fatal(err)
	}
	fake.ResetStats()
	clock.Advance(time.Hour)
	rep2, err := runner.Run(ctx, c, c.ConfigHash())
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if rep2.Since.IsZero() || rep2.Events != 0 || rep2.Facts != 0 {
		t.Errorf("second run: since %v, %d events and %d facts written; want an incremental run writing nothing", rep2.Since, rep2.Events, rep2.Facts)
	}
	if after := counts(); len(after) != len(before) {
		t.Errorf("event counts changed: %v → %v", before, after)
	} else {
		for typ, n := range before {
			if after[typ] != n {
				t.Errorf("%s: %d rows → %d after an unchanged second run", typ, n, after[typ])
			}
		}
	}
	if factsAfter, _ := db.FactsByScope(ctx, SourceName); len(factsAfter) != len(factsBefore) {
		t.Errorf("facts: %d → %d after an unchanged second run", len(factsBefore), len(factsAfter))
	}
	stats := fake.Stats()
	for _, slug := range slugs {
		if rs := stats.ByRepo[slug]; rs.Requests-rs.NotModified > 1 {
			t.Errorf("%s: %d non-304 requests in the unchanged run, want at most 1", slug, rs.Requests-rs.NotModified)
		}
	}
	t.Logf("first run: %d events, %d facts; unchanged run: %d requests, %d answered 304", rep.Events, rep.Facts, stats.Requests, stats.NotModified)

	deps := fake.Deployments("acme/checkout")
	gone := deps[len(deps)-2]
	fake.DeleteDeployment("acme/checkout", gone.ID)
	mustCatalog(t, db, slugs[:3]...) // acme/accounts leaves the catalog
	rr, err := c.Reconcile(ctx)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if rr.DeploymentsDeleted != 1 || len(rr.ReposRemoved) != 1 {
		t.Errorf("Reconcile = %+v, want 1 deployment and acme/accounts removed", rr)
	}
	for _, e := range mustEvents(t, db, yardstick.DeploymentStarted, "github:acme/checkout") {
		if e.ID == strconv.FormatInt(gone.ID, 10) {
			t.Errorf("deleted deployment %s still in ClickHouse", e.ID)
		}
	}
	if n := len(mustEvents(t, db, yardstick.ChangeOpened, "github:acme/accounts")); n != 0 {
		t.Errorf("%d change.opened rows of acme/accounts remain after it left the catalog", n)
	}
}
