package catalog_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/gitlab"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// sources are the binary's sources, whose annotations the store maps to scopes.
var sources = collectors.NewRegistry(github.Source(), gitlab.Source(), jira.Source(), pagerduty.Source())

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func component(name, owner, slug string) string {
	s := "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name + "\n"
	if slug != "" {
		s += "  annotations:\n    github.com/project-slug: " + slug + "\n"
	}
	return s + "spec:\n  type: service\n  lifecycle: production\n  owner: " + owner + "\n"
}

// importSource reads src as `catalog import` does and syncs it: a replace when
// the scan is clean.
func importSource(t testing.TB, db *store.DB, src catalog.Source, allowShrink bool) (*catalog.Scan, store.CatalogChanges, []store.Conflict, error) {
	t.Helper()
	ctx := context.Background()
	scan, err := (&catalog.Importer{}).Read(ctx, src)
	if err != nil {
		t.Fatalf("Read(%s) = %v", src.Name, err)
	}
	t.Cleanup(func() { scan.Close() })
	ch, conflicts, err := db.SyncSource(ctx, src.Name, scan, store.SyncOptions{Replace: len(scan.Errors) == 0, AllowShrink: allowShrink, Errors: len(scan.Errors)})
	return scan, ch, conflicts, err
}

func mustImport(t testing.TB, db *store.DB, src catalog.Source) store.CatalogChanges {
	t.Helper()
	scan, ch, conflicts, err := importSource(t, db, src, false)
	if err != nil || len(conflicts) > 0 || scan.Err() != nil {
		t.Fatalf("import %s: err %v, conflicts %v, scan errors %v", src.Name, err, conflicts, scan.Err())
	}
	return ch
}

func mustEntities(t testing.TB, db *store.DB) map[yardstick.EntityRef]yardstick.Entity {
	t.Helper()
	return mustIndex(t, db.Entities, func(e yardstick.Entity) (yardstick.EntityRef, yardstick.Entity) { return e.Ref, e })
}

func mustMappings(t testing.TB, db *store.DB) map[yardstick.Scope]yardstick.EntityRef {
	t.Helper()
	return mustIndex(t, db.ScopeMappings, func(m yardstick.ScopeMapping) (yardstick.Scope, yardstick.EntityRef) { return m.Scope, m.Entity })
}

// mustIndex reads a list from the store and indexes it by kv.
func mustIndex[T any, K comparable, V any](t testing.TB, read func(context.Context) ([]T, error), kv func(T) (K, V)) map[K]V {
	t.Helper()
	list, err := read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[K]V{}
	for _, x := range list {
		k, v := kv(x)
		m[k] = v
	}
	return m
}

// twoTeams writes team A's folder (three components and its group) and team
// B's single catalog-info.yaml, as the platform team had them.
func twoTeams(t testing.TB) (a, b string) {
	root := t.TempDir()
	a = filepath.Join(root, "team-a")
	catalog.MustWrite(t, a, "group.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team, children: []}\n")
	catalog.MustWrite(t, a, "api/catalog-info.yaml", component("a-api", "team-a", "acme/a-api"))
	catalog.MustWrite(t, a, "web/catalog-info.yaml", component("a-web", "team-a", "acme/a-web"))
	catalog.MustWrite(t, a, "worker/catalog-info.yaml", component("a-worker", "team-a", "acme/a-worker"))
	b = catalog.MustWrite(t, filepath.Join(root, "team-b"), "catalog-info.yaml", component("b-api", "team-b", "acme/b-api"))
	return a, b
}

func TestImportOfOneSourceKeepsTheOthers(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	a, b := twoTeams(t)
	srcA, srcB := catalog.PathSource(a), catalog.PathSource(b)
	if ch := mustImport(t, db, srcA); ch.Added != 4 {
		t.Fatalf("import team-a = %+v, want 4 added", ch)
	}
	if ch := mustImport(t, db, srcB); ch.Added != 1 || ch.Removed != 0 {
		t.Fatalf("import team-b = %+v, want 1 added and 0 removed (team-a is another source)", ch)
	}
	got := mustEntities(t, db)
	for ref, want := range map[yardstick.EntityRef]string{
		"group:default/team-a": srcA.Name, "component:default/a-api": srcA.Name, "component:default/a-web": srcA.Name,
		"component:default/a-worker": srcA.Name, "component:default/b-api": srcB.Name,
	} {
		if e, ok := got[ref]; !ok || e.Source != want {
			t.Errorf("entity %s: present %v, source %q; want source %q", ref, ok, e.Source, want)
		}
	}
	if m := mustMappings(t, db); m["github:acme/a-api"] != "component:default/a-api" || m["github:acme/b-api"] != "component:default/b-api" {
		t.Errorf("scope mappings = %v, want both teams' repositories", m)
	}
	sources, err := db.CatalogSources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range sources {
		counts[s.Name] = s.Entities
		if s.LastImport.IsZero() || s.Status != "ok" {
			t.Errorf("CatalogSources() %s: last import %v status %q, want a time and ok", s.Name, s.LastImport, s.Status)
		}
	}
	if counts[srcA.Name] != 4 || counts[srcB.Name] != 1 || len(counts) != 2 {
		t.Errorf("CatalogSources() counts = %v, want %s: 4, %s: 1", counts, srcA.Name, srcB.Name)
	}
}

func TestConflictingRefIsReportedWithBothPlaces(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	a, _ := twoTeams(t)
	mustImport(t, db, catalog.PathSource(a))
	// Team B copies team A's a-api into its own file, with another owner.
	dir := t.TempDir()
	bFile := catalog.MustWrite(t, dir, "catalog-info.yaml", component("b-api", "team-b", "")+"---\n"+component("a-api", "team-b", "acme/stolen"))
	_, ch, conflicts, err := importSource(t, db, catalog.PathSource(bFile), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 1 {
		t.Fatalf("conflicts = %v, want one for component:default/a-api", conflicts)
	}
	msg := conflicts[0].Error()
	for _, want := range []string{bFile + ":10", filepath.Join(a, "api/catalog-info.yaml") + ":1", "component:default/a-api", "source " + a} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict %q does not name %q", msg, want)
		}
	}
	if ch.Added != 1 {
		t.Errorf("import with a conflict = %+v, want b-api still added", ch)
	}
	got := mustEntities(t, db)["component:default/a-api"]
	if got.Source != a || got.Owner != "group:default/team-a" {
		t.Errorf("a-api after the conflict: source %q owner %q, want team-a's (the first source keeps it)", got.Source, got.Owner)
	}
	if m := mustMappings(t, db); m["github:acme/stolen"] != "" {
		t.Errorf("the conflicting entity's annotation was mapped: %v", m)
	}
}

func TestReimportWithOneEntityDeletedRemovesExactlyIt(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	a, b := twoTeams(t)
	mustImport(t, db, catalog.PathSource(a))
	mustImport(t, db, catalog.PathSource(b))
	if err := os.RemoveAll(filepath.Join(a, "worker")); err != nil {
		t.Fatal(err)
	}
	ch := mustImport(t, db, catalog.PathSource(a))
	if ch.Removed != 1 || ch.Added != 0 || ch.Changed != 0 || ch.Unchanged != 3 {
		t.Errorf("re-import = %+v, want 1 removed, 3 unchanged", ch)
	}
	got := mustEntities(t, db)
	if _, ok := got["component:default/a-worker"]; ok {
		t.Error("a-worker still in the catalog")
	}
	if len(got) != 4 {
		t.Errorf("catalog has %d entities, want 4 (3 of team-a, 1 of team-b)", len(got))
	}
	m := mustMappings(t, db)
	if _, ok := m["github:acme/a-worker"]; ok {
		t.Error("the removed entity's scope mapping is still there")
	}
	if m["github:acme/b-api"] != "component:default/b-api" || m["github:acme/a-web"] != "component:default/a-web" {
		t.Errorf("scope mappings of the remaining entities changed: %v", m)
	}
}

func TestEmptyImportRemovesNothing(t *testing.T) {
	// Regression: an import of an empty file, a file of only ---, or an empty
	// folder exited 0 and removed every entity and scope mapping.
	for _, tt := range []struct {
		name  string
		empty func(t *testing.T, dir string)
	}{
		{"empty file", func(t *testing.T, dir string) {
			mustClear(t, dir)
			catalog.MustWrite(t, dir, "catalog-info.yaml", "")
		}},
		{"only ---", func(t *testing.T, dir string) {
			mustClear(t, dir)
			catalog.MustWrite(t, dir, "catalog-info.yaml", "---\n---\n")
		}},
		{"empty folder", mustClear},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.NewDBMapping(t, sources.ScopesOf)
			a, _ := twoTeams(t)
			mustImport(t, db, catalog.PathSource(a))
			before, mapsBefore := mustEntities(t, db), mustMappings(t, db)
			tt.empty(t, a)
			scan, _, _, err := importSource(t, db, catalog.PathSource(a), false)
			var shrink *store.ShrinkError
			if !errors.As(err, &shrink) {
				t.Fatalf("import of %s = %v, want a *store.ShrinkError", tt.name, err)
			}
			if scan.Len() != 0 || shrink.Found != 0 || shrink.Remove != 4 {
				t.Errorf("refusal = %+v, want 0 found and 4 to remove", shrink)
			}
			for _, want := range []string{"found 0 entities", "would remove 4 of its 4", "component 3, group 1", "component:default/a-api", "group:default/team-a", "refused"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			if after, mapsAfter := mustEntities(t, db), mustMappings(t, db); len(after) != len(before) || len(mapsAfter) != len(mapsBefore) {
				t.Errorf("after the refused import: %d entities, %d mappings; want %d and %d", len(after), len(mapsAfter), len(before), len(mapsBefore))
			}
		})
	}
}

func mustClear(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

func TestShrinkOverHalfRefusedUnlessAllowed(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	a, b := twoTeams(t)
	mustImport(t, db, catalog.PathSource(a))
	mustImport(t, db, catalog.PathSource(b))
	for _, d := range []string{"api", "web", "worker"} {
		if err := os.RemoveAll(filepath.Join(a, d)); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, err := importSource(t, db, catalog.PathSource(a), false)
	var shrink *store.ShrinkError
	if !errors.As(err, &shrink) || shrink.Remove != 3 || shrink.Have != 4 || shrink.Found != 1 {
		t.Fatalf("import removing 3 of 4 = %v, want a ShrinkError (3 of 4, 1 found)", err)
	}
	if !slices.Equal(shrink.First, []yardstick.EntityRef{"component:default/a-api", "component:default/a-web", "component:default/a-worker"}) {
		t.Errorf("refusal lists %v, want the three components", shrink.First)
	}
	if got := mustEntities(t, db); len(got) != 5 {
		t.Errorf("after the refusal %d entities, want all 5", len(got))
	}
	_, ch, _, err := importSource(t, db, catalog.PathSource(a), true)
	if err != nil || ch.Removed != 3 {
		t.Fatalf("import with allow-shrink = %+v, %v; want 3 removed", ch, err)
	}
	got := mustEntities(t, db)
	if _, ok := got["component:default/b-api"]; !ok || len(got) != 2 {
		t.Errorf("after allow-shrink: %d entities, want team-a's group and team-b's b-api", len(got))
	}
}

func TestForgetRetiresOneSource(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	ctx := context.Background()
	a, b := twoTeams(t)
	mustImport(t, db, catalog.PathSource(a))
	mustImport(t, db, catalog.PathSource(b))
	ch, err := db.ForgetSource(ctx, a)
	if err != nil || ch.Removed != 4 || ch.MappingsRemoved != 7 {
		t.Fatalf("ForgetSource(team-a) = %+v, %v; want 4 entities and 7 mappings (4 entity scopes, 3 repositories) removed", ch, err)
	}
	got := mustEntities(t, db)
	if len(got) != 1 || got["component:default/b-api"].Source != catalog.PathSource(b).Name {
		t.Errorf("after forget: %v, want only team-b's b-api", got)
	}
	m := mustMappings(t, db)
	if len(m) != 2 || m["github:acme/b-api"] == "" {
		t.Errorf("mappings after forget = %v, want only b-api's two", m)
	}
	sources, err := db.CatalogSources(ctx)
	if err != nil || len(sources) != 1 || sources[0].Name != catalog.PathSource(b).Name {
		t.Errorf("CatalogSources() after forget = %+v, %v", sources, err)
	}
	if _, err := db.ForgetSource(ctx, "no-such-source"); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("ForgetSource(unknown) = %v, want ErrNotFound", err)
	}
}

func TestHistoryRecordsTheSource(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	ctx := context.Background()
	a, _ := twoTeams(t)
	src := catalog.Source{Name: "team-a", Paths: []string{a}}
	mustImport(t, db, src)
	catalog.MustWrite(t, a, "api/catalog-info.yaml", component("a-api", "team-a", "acme/a-api-renamed"))
	mustImport(t, db, src)
	if err := os.RemoveAll(filepath.Join(a, "api")); err != nil {
		t.Fatal(err)
	}
	mustImport(t, db, src)
	hist, err := db.EntityHistory(ctx, "component:default/a-api")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hist {
		got = append(got, h.Change+" by "+h.Source)
	}
	slices.Sort(got) // the three imports may share a second
	want := []string{"added by team-a", "changed by team-a", "removed by team-a"}
	if !slices.Equal(got, want) {
		t.Errorf("EntityHistory(a-api) = %v, want %v", got, want)
	}
}

func TestUnownedEntitiesAreAdopted(t *testing.T) {
	// Entities stored before sources existed (source "") are taken over by the
	// first source that provides them, not reported as conflicts.
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	a, _ := twoTeams(t)
	legacy := (&catalog.Importer{}).ImportPaths(context.Background(), []string{a})
	if err := legacy.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReplaceCatalog(context.Background(), legacy.Entities); err != nil {
		t.Fatal(err)
	}
	ch := mustImport(t, db, catalog.PathSource(a))
	if ch.Unchanged != 4 || ch.Added != 0 {
		t.Errorf("import over unowned entities = %+v, want 4 unchanged", ch)
	}
	for ref, e := range mustEntities(t, db) {
		if e.Source != a {
			t.Errorf("%s source = %q, want %q (adopted)", ref, e.Source, a)
		}
	}
}

// syncSink stores scans as serve's catalog jobs do.
type syncSink struct{ db *store.DB }

func (s syncSink) StoreScan(ctx context.Context, scan *catalog.Scan) error {
	_, conflicts, err := s.db.SyncSource(ctx, scan.Source, scan, store.SyncOptions{Replace: len(scan.Errors) == 0, Errors: len(scan.Errors)})
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return conflicts[0]
	}
	return nil
}

func TestRefreshOfAFailingSourceKeepsItsEntitiesAndBlocksNoOther(t *testing.T) {
	db := storetest.NewDBMapping(t, sources.ScopesOf)
	ctx := context.Background()
	up := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up {
			http.Error(w, `{"error":{"name":"ServiceUnavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"from-backstage","namespace":"default"},
			"spec":{"type":"service","owner":"platform"}}],"totalItems":1,"pageInfo":{}}`))
	}))
	defer srv.Close()
	a, _ := twoTeams(t)
	im := &catalog.Importer{HTTP: srv.Client()}
	bs := catalog.Source{Name: "backstage", BackstageURL: srv.URL, Interval: time.Minute}
	files := catalog.Source{Name: "team-a", Paths: []string{a}, Interval: time.Minute}
	if err := im.Refresh(ctx, bs, syncSink{db}); err != nil {
		t.Fatal(err)
	}
	up = false
	catalog.MustWrite(t, a, "new/catalog-info.yaml", component("a-new", "team-a", ""))
	err := im.Refresh(ctx, bs, syncSink{db})
	if err == nil || !strings.Contains(err.Error(), "/api/catalog/entities/by-query") || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("Refresh(backstage down) = %v, want the endpoint and status", err)
	}
	if err := im.Refresh(ctx, files, syncSink{db}); err != nil {
		t.Errorf("Refresh(team-a) after another source failed = %v", err)
	}
	got := mustEntities(t, db)
	if got["component:default/from-backstage"].Source != "backstage" {
		t.Error("the failing source's entity was removed")
	}
	if got["component:default/a-new"].Source != "team-a" || len(got) != 6 {
		t.Errorf("catalog after the refreshes has %d entities (a-new from %q), want 6 with team-a's new one", len(got), got["component:default/a-new"].Source)
	}
}
