package store_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

var t0 = time.Date(2026, 10, 5, 9, 30, 0, 0, time.UTC)

func sampleEvents() []yardstick.Event {
	return []yardstick.Event{
		{Source: "github", Type: yardstick.ChangeMerged, Scope: "github:acme/api", ID: "42", Time: t0, Actor: "octocat",
			Num: map[string]float64{"additions": 10, "deletions": 3}, Str: map[string]string{"merge_commit_sha": "abc"}},
		{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: "github:acme/api", ID: "d1", Time: t0.Add(time.Hour),
			Str: map[string]string{"environment": "production"}, Related: []string{"abc", "def"}},
		{Source: "ingest", Type: yardstick.PipelineFinished, Scope: "github:acme/web", ID: "run-1", Time: t0.Add(2 * time.Hour),
			Num: map[string]float64{"duration_seconds": 120}, Str: map[string]string{"conclusion": "success"}},
	}
}

func TestWriteEventsIdempotent(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		mustWrite(t, db.WriteEvents, sampleEvents())
	}
	got, err := db.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleEvents(), got); diff != "" {
		t.Errorf("Events() after 3 writes (-want +got):\n%s", diff)
	}
	counts, err := db.EventCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[yardstick.ChangeMerged] != 1 || counts[yardstick.PipelineFinished] != 1 {
		t.Errorf("EventCounts() = %v, want one of each", counts)
	}
}

func TestDeleteEventsIsExact(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	evs := sampleEvents()
	mustWrite(t, db.WriteEvents, evs)
	if err := db.DeleteEvents(ctx, evs[1:2]); err != nil {
		t.Fatal(err)
	}
	ids, err := db.EventIDs(ctx, "github", yardstick.DeploymentSucceeded, "github:acme/api")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Errorf("EventIDs() after delete = %v, want none", ids)
	}
	// Collecting it again brings it back.
	mustWrite(t, db.WriteEvents, evs[1:2])
	if ids, _ = db.EventIDs(ctx, "github", yardstick.DeploymentSucceeded, "github:acme/api"); len(ids) != 1 {
		t.Errorf("EventIDs() after rewrite = %v, want [d1]", ids)
	}
}

func TestWriteEventsRejectsMissingIdentity(t *testing.T) {
	db := newDB(t)
	err := db.WriteEvents(context.Background(), []yardstick.Event{{Source: "x", Type: "change.opened", Scope: "s"}})
	if err == nil {
		t.Fatal("WriteEvents(event without id) = nil, want error")
	}
}

// TestWriteEventsTimeOutOfRange: a time the DateTime column cannot hold
// (before 1970, after 2105) is refused with an error naming the event and the
// time, from any source, and nothing of the batch is stored; the two ends of
// the range are stored and read back as they were.
func TestWriteEventsTimeOutOfRange(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	for _, at := range []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2200, 6, 1, 0, 0, 0, 0, time.UTC),
		{}, // year 1
	} {
		evs := sampleEvents()
		evs[1].Time = at
		err := db.WriteEvents(ctx, evs)
		if !errors.Is(err, yardstick.ErrInvalid) || !strings.Contains(err.Error(), "d1") || !strings.Contains(err.Error(), at.Format("2006-01-02")) {
			t.Errorf("WriteEvents(time %s) = %v, want ErrInvalid naming event d1 and the time", at, err)
		}
	}
	if got, err := db.Events(ctx, store.EventFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("Events() after refused batches = %d events (%v), want none", len(got), err)
	}
	ends := sampleEvents()[:2]
	ends[0].Time, ends[1].Time = yardstick.EventTimeMin, yardstick.EventTimeMax
	mustWrite(t, db.WriteEvents, ends)
	got, err := db.Events(ctx, store.EventFilter{})
	mustMatch(t, "Events() of the range ends", ends, got, err)
}

func entity(kind, name, owner string, ann map[string]string) yardstick.Entity {
	return yardstick.Entity{Ref: yardstick.NewEntityRef(kind, "", name), Kind: kind, Namespace: "default", Name: name,
		Owner: yardstick.EntityRef(owner), Annotations: ann}
}

// repoComponent is a component with the GitHub repository acme/name.
func repoComponent(name, owner string) yardstick.Entity {
	return entity("Component", name, owner, map[string]string{github.AnnotationSlug: "acme/" + name})
}

// newRepoDB is newDB whose catalog is a component per name, each with its
// GitHub repository acme/name and owned by owner, in the order given.
func newRepoDB(t testing.TB, owner string, names ...string) (*store.DB, []yardstick.Entity) {
	t.Helper()
	db := newDB(t)
	var es []yardstick.Entity
	for _, n := range names {
		es = append(es, repoComponent(n, owner))
	}
	mustCatalog(t, db, es)
	return db, es
}

func TestRehomingRepoRehomesEvents(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	api := repoComponent("api", "group:default/a")
	other := entity("Component", "other", "group:default/b", nil)
	mustCatalog(t, db, []yardstick.Entity{api, other})
	mustWrite(t, db.WriteEvents, sampleEvents())
	count := func(ref yardstick.EntityRef) int {
		evs, err := db.Events(ctx, store.EventFilter{Entities: []yardstick.EntityRef{ref}})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	if got := count(api.Ref); got != 2 {
		t.Fatalf("events of %s = %d, want 2", api.Ref, got)
	}
	// Move the repository annotation to the other component.
	api.Annotations, other.Annotations = nil, map[string]string{github.AnnotationSlug: "acme/api"}
	ch, err := db.ReplaceCatalog(ctx, []yardstick.Entity{api, other})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Changed != 2 || ch.MappingsAdded != 1 || ch.MappingsRemoved != 1 { // entity scopes stay
		t.Errorf("ReplaceCatalog() = %+v, want 2 changed, 1 mapping added and 1 removed", ch)
	}
	if got := count(api.Ref); got != 0 {
		t.Errorf("events of %s after re-homing = %d, want 0", api.Ref, got)
	}
	if got := count(other.Ref); got != 2 {
		t.Errorf("events of %s after re-homing = %d, want 2", other.Ref, got)
	}
}

func TestReplaceCatalogHistoryAndRemoval(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	a := entity("Component", "a", "group:default/x", nil)
	b := entity("Component", "b", "group:default/x", nil)
	mustCatalog(t, db, []yardstick.Entity{a, b})
	ch, err := db.ReplaceCatalog(ctx, []yardstick.Entity{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if ch != (store.CatalogChanges{Unchanged: 2}) {
		t.Errorf("ReplaceCatalog(same) = %+v, want 2 unchanged", ch)
	}
	mustCatalog(t, db, []yardstick.Entity{a})
	es, err := db.Entities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Ref != a.Ref {
		t.Errorf("Entities() = %v, want only %s", es, a.Ref)
	}
	if _, err := db.Entity(ctx, b.Ref); err == nil {
		t.Errorf("Entity(%s) after removal = nil error, want ErrNotFound", b.Ref)
	}
	var n uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM entity_history WHERE ref = ?", string(b.Ref)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("history rows of %s = %d, want 2 (added, removed)", b.Ref, n)
	}
}

func TestLatestFactsPerEntity(t *testing.T) {
	db, es := newRepoDB(t, "group:default/a", "api")
	ctx, api := context.Background(), es[0]
	old := yardstick.NewFact("github", "github:acme/api", "go_version", "1.20", t0)
	cur := yardstick.NewFact("github", "github:acme/api", "go_version", "1.22", t0.Add(24*time.Hour))
	own := yardstick.NewFact("jira", yardstick.EntityScope(api.Ref), "open_bugs", map[string]int{"high": 2}, t0)
	for _, batch := range [][]yardstick.Fact{{old}, {cur, own}, {old}} { // a late, older observation must not win
		mustWrite(t, db.WriteFacts, batch)
	}
	got, err := db.LatestFacts(ctx, []yardstick.EntityRef{api.Ref})
	want := map[yardstick.EntityRef]yardstick.Facts{api.Ref: {
		"github": {"go_version": "1.22"},
		"jira":   {"open_bugs": map[string]any{"high": float64(2)}},
	}}
	mustMatch(t, "LatestFacts()", want, got, err)
	past, err := db.FactsAsOf(ctx, nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if v := past[api.Ref]["github"]["go_version"]; v != "1.20" {
		t.Errorf("FactsAsOf(t0+1h) go_version = %v, want 1.20", v)
	}
	hist, err := db.FactHistory(ctx, "github:acme/api", "github", "go_version")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 {
		t.Errorf("FactHistory() = %d rows, want 2", len(hist))
	}
}

func TestCursors(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	if v, err := db.Cursor(ctx, "k"); err != nil || v != "" {
		t.Fatalf("Cursor(unset) = %q, %v; want empty", v, err)
	}
	for _, v := range []string{"a", "b"} {
		if err := db.SaveCursor(ctx, "k", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := db.Cursor(ctx, "k"); v != "b" {
		t.Errorf("Cursor() = %q, want b", v)
	}
}

func TestLauncherReusesDataAndAttaches(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := store.Config{DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler)}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if !db.Server().Owned() {
		t.Fatal("first Open() did not start its own server")
	}
	mustWrite(t, db.WriteEvents, sampleEvents())
	// A second store on the same data dir attaches to the running server.
	second, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("second Open() = %v", err)
	}
	if second.Server().Owned() || second.Server().Addr != db.Server().Addr {
		t.Errorf("second Open() started %s (owned=%v), want to attach to %s", second.Server().Addr, second.Server().Owned(), db.Server().Addr)
	}
	second.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart finds the data again.
	db, err = store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open() after restart = %v", err)
	}
	defer db.Close()
	got, err := db.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sampleEvents()) {
		t.Errorf("Events() after restart = %d, want %d", len(got), len(sampleEvents()))
	}
}

func TestUpsertCatalogKeepsMissing(t *testing.T) {
	db, es := newRepoDB(t, "group:default/x", "a", "b")
	ctx, a := context.Background(), es[0]
	a.Title = "A"
	ch, err := db.UpsertCatalog(ctx, []yardstick.Entity{a})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Changed != 1 || ch.Removed != 0 {
		t.Errorf("UpsertCatalog() = %+v, want 1 changed, 0 removed", ch)
	}
	ms, err := db.ScopeMappings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 { // two repositories and two entity scopes
		t.Errorf("ScopeMappings() after upsert = %v, want b's kept", ms)
	}
}

func TestEventStreamManyBlocksIdempotent(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	events := fixtures.Generate(fixtures.GenConfig{Components: 10, Days: 30, Seed: 5}).Events()
	for round := 0; round < 2; round++ {
		s, err := db.StreamEvents(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(events); i += 700 {
			if err := s.Write(events[i:min(i+700, len(events))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := db.EventCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total != uint64(len(events)) {
		t.Errorf("events after streaming the same %d twice = %d", len(events), total)
	}
}
