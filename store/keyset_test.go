package store_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// manyRefs returns n refs whose text alone (about 40 bytes each) is longer
// than ClickHouse's max_query_size (256 KiB) when n is 10,000 or more, with
// the given real refs among them.
func manyRefs(n int, real ...yardstick.EntityRef) []yardstick.EntityRef {
	out := make([]yardstick.EntityRef, 0, n+len(real))
	for i := range n {
		out = append(out, yardstick.EntityRef(fmt.Sprintf("component:default/not-in-catalog-%06d", i)))
	}
	return append(out, real...)
}

// Every query taking a list of refs or scopes must work whatever the list's
// length: 20,000 refs are about 800 KB of text, three times max_query_size.
func TestKeySetsLargerThanMaxQuerySize(t *testing.T) {
	db, es := newRepoDB(t, "group:default/a", "api", "web")
	ctx, api, web := context.Background(), es[0], es[1]
	facts := []yardstick.Fact{
		yardstick.NewFact("github", "github:acme/api", "go_version", "1.22", t0),
		yardstick.NewFact("github", "github:acme/web", "go_version", "1.21", t0),
	}
	mustWrite(t, db.WriteFacts, facts)
	events := []yardstick.Event{
		{Source: "github", Type: yardstick.PipelineFinished, Scope: "github:acme/api", ID: "1", Time: t0, Str: map[string]string{"conclusion": "success", "workflow": "ci"}},
		{Source: "github", Type: yardstick.PipelineFinished, Scope: "github:acme/web", ID: "2", Time: t0, Str: map[string]string{"conclusion": "success", "workflow": "ci"}},
	}
	mustWrite(t, db.WriteEvents, events)
	refs := manyRefs(20_000, api.Ref)

	got, err := db.LatestFacts(ctx, refs)
	if err != nil {
		t.Fatalf("LatestFacts(20,001 refs) = %v", err)
	}
	if len(got) != 1 || got[api.Ref]["github"]["go_version"] != "1.22" {
		t.Errorf("LatestFacts(20,001 refs) = %v, want only %s with go_version 1.22", got, api.Ref)
	}
	past, err := db.FactsAsOf(ctx, refs, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("FactsAsOf(20,001 refs) = %v", err)
	}
	if len(past) != 1 || past[api.Ref]["github"]["go_version"] != "1.22" {
		t.Errorf("FactsAsOf(20,001 refs) = %v, want only %s", past, api.Ref)
	}

	evs, err := db.Events(ctx, store.EventFilter{Entities: refs})
	if err != nil {
		t.Fatalf("Events(20,001 entities) = %v", err)
	}
	if len(evs) != 1 || evs[0].ID != "1" {
		t.Errorf("Events(20,001 entities) = %v, want event 1 of acme/api", evs)
	}
	scopes := make([]yardstick.Scope, 0, 20_001)
	for _, r := range refs {
		scopes = append(scopes, yardstick.EntityScope(r))
	}
	scopes = append(scopes, "github:acme/web")
	if evs, err = db.Events(ctx, store.EventFilter{Scopes: scopes}); err != nil {
		t.Fatalf("Events(20,002 scopes) = %v", err)
	}
	if len(evs) != 1 || evs[0].ID != "2" {
		t.Errorf("Events(20,002 scopes) = %v, want event 2 of acme/web", evs)
	}
	recent, err := db.RecentEvents(ctx, scopes, 10)
	if err != nil {
		t.Fatalf("RecentEvents(20,002 scopes) = %v", err)
	}
	if len(recent) != 1 || recent[0].ID != "2" {
		t.Errorf("RecentEvents(20,002 scopes) = %v, want event 2", recent)
	}

	results := []yardstick.CheckResult{
		{RunID: "r1", RunAt: t0, Scorecard: "sc", CheckID: "c", Entity: api.Ref, Owner: "group:default/a", Level: "bronze", State: yardstick.StateFail},
		{RunID: "r1", RunAt: t0, Scorecard: "sc", CheckID: "c", Entity: web.Ref, Owner: "group:default/a", Level: "bronze", State: yardstick.StatePass},
	}
	mustWrite(t, db.WriteCheckResults, results)
	rs, err := db.LatestCheckResults(ctx, yardstick.CheckFilter{Entities: refs})
	if err != nil {
		t.Fatalf("LatestCheckResults(20,001 entities) = %v", err)
	}
	if len(rs) != 1 || rs[0].Entity != api.Ref || rs[0].State != yardstick.StateFail {
		t.Errorf("LatestCheckResults(20,001 entities) = %v, want the failing check of %s", rs, api.Ref)
	}

	m := store.NewMetrics(db, store.MetricsConfig{})
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	w := yardstick.Window{From: t0.AddDate(0, 0, -7), To: t0.AddDate(0, 0, 7)}
	vals, err := m.EntityMetrics(ctx, []string{yardstick.MetricCIRuns}, w, refs)
	if err != nil {
		t.Fatalf("EntityMetrics(20,001 refs) = %v", err)
	}
	all, err := m.MetricsByEntity(ctx, []string{yardstick.MetricCIRuns}, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 || vals[api.Ref][yardstick.MetricCIRuns] != all[api.Ref][yardstick.MetricCIRuns] || vals[api.Ref][yardstick.MetricCIRuns] != 1 {
		t.Errorf("EntityMetrics(20,001 refs) = %v, want only %s as MetricsByEntity has it: %v", vals, api.Ref, all[api.Ref])
	}
}

func TestEntityPageWalksTheCatalog(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	var entities []yardstick.Entity
	for i := range 25 {
		entities = append(entities, entity("Component", fmt.Sprintf("c%02d", i), "group:default/a", nil))
	}
	mustCatalog(t, db, entities)
	var seen []yardstick.EntityRef
	var after yardstick.EntityRef
	pages := 0
	for {
		page, err := db.EntityPage(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, e := range page {
			seen = append(seen, e.Ref)
		}
		after = page[len(page)-1].Ref
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("EntityPage walk = %d pages, %d entities; want 3 and 25", pages, len(seen))
	}
	for i, r := range seen {
		if want := yardstick.EntityRef(fmt.Sprintf("component:default/c%02d", i)); r != want {
			t.Errorf("entity %d = %s, want %s", i, r, want)
		}
	}
	if _, err := db.EntityPage(ctx, "", 0); err == nil {
		t.Error("EntityPage(limit 0) = nil error, want one")
	}
}

func TestCatalogVersionChangesWithTheCatalog(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	empty, err := db.CatalogVersion(ctx)
	if err != nil {
		t.Fatalf("CatalogVersion(empty) = %v", err)
	}
	api := repoComponent("api", "group:default/a")
	mustCatalog(t, db, []yardstick.Entity{api})
	one, err := db.CatalogVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.CatalogVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api.Annotations[github.AnnotationSlug] = "acme/api-v2" // re-homed: a new mapping
	mustCatalog(t, db, []yardstick.Entity{api})
	rehomed, err := db.CatalogVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if one == empty || again != one || rehomed == one {
		t.Errorf("CatalogVersion: empty %q, after import %q, read again %q, after re-homing %q; want a change at each write only", empty, one, again, rehomed)
	}
}

// TestMetricsReadTheCatalogAgainWhenItChanges pins how Metrics keeps the
// catalog it resolves subjects through: for catalogTTL (10 s) as it was read,
// then again once CatalogVersion says it changed. The first read loads the
// catalog without its version, so the read after the TTL loads it again.
func TestMetricsReadTheCatalogAgainWhenItChanges(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	clock := time.Now()
	store.SetClock(db, func() time.Time { return clock })
	a := entity("Component", "a", "group:default/team", nil)
	b := entity("Component", "b", "group:default/team", nil)
	mustCatalog(t, db, []yardstick.Entity{a})
	m := store.NewMetrics(db, store.MetricsConfig{})
	w := yardstick.Window{From: clock.AddDate(0, 0, -28), To: clock}
	read := func(ref yardstick.EntityRef) error {
		_, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricCIRuns}, Subjects: []yardstick.EntityRef{ref}, Window: w})
		return err
	}
	steps := []struct {
		what    string
		catalog []yardstick.Entity // written before the step, if not nil
		later   time.Duration      // the clock moves on before the step
		ref     yardstick.EntityRef
		found   bool
	}{
		{what: "first read", ref: a.Ref, found: true},
		{what: "b added, within the TTL: the kept catalog", catalog: []yardstick.Entity{a, b}, ref: b.Ref, found: false},
		{what: "after the TTL: read again", later: 11 * time.Second, ref: b.Ref, found: true},
		{what: "b removed, after the TTL: read again", catalog: []yardstick.Entity{a}, later: 11 * time.Second, ref: b.Ref, found: false},
		{what: "b back, after the TTL", catalog: []yardstick.Entity{a, b}, later: 11 * time.Second, ref: b.Ref, found: true},
	}
	for _, s := range steps {
		if s.catalog != nil {
			mustCatalog(t, db, s.catalog)
		}
		clock = clock.Add(s.later)
		err := read(s.ref)
		if found := err == nil; found != s.found || (err != nil && !errors.Is(err, yardstick.ErrNotFound)) {
			t.Errorf("%s: Metrics(%s) = %v; want found %v", s.what, s.ref, err, s.found)
		}
	}
}
