package catalog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

// realCatalog holds real Backstage catalog files (see testdata/SOURCES.md).
const realCatalog = "testdata/backstage"

func mustWrite(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func byRef(es []yardstick.Entity) map[yardstick.EntityRef]yardstick.Entity {
	m := map[yardstick.EntityRef]yardstick.Entity{}
	for _, e := range es {
		m[e.Ref] = e
	}
	return m
}

func TestImportBackstageExampleCatalog(t *testing.T) {
	if _, err := os.Stat(realCatalog); err != nil {
		t.Fatalf("real Backstage catalog fixtures missing: %v", err)
	}
	// The folder holds three independent catalogs (they share example users such
	// as "guest"), so each is imported on its own, every file of each.
	im := &Importer{}
	got := map[yardstick.EntityRef]yardstick.Entity{}
	for _, sub := range []string{"catalog-model", "create-app", "demo"} {
		res := im.ImportPaths(context.Background(), []string{filepath.Join(realCatalog, sub)})
		if err := res.Err(); err != nil {
			t.Fatalf("ImportPaths(%s) errors:\n%v", sub, err)
		}
		if res.Files == 0 {
			t.Fatalf("ImportPaths(%s) read no file", sub)
		}
		for ref, e := range byRef(res.Entities) {
			got[ref] = e
		}
	}
	// Spot checks against what the example files say.
	lookup := got["component:default/artist-lookup"]
	if lookup.Owner != "group:default/team-a" || lookup.System != "system:default/artist-engagement-portal" || lookup.Lifecycle != "experimental" {
		t.Errorf("artist-lookup = owner %q system %q lifecycle %q", lookup.Owner, lookup.System, lookup.Lifecycle)
	}
	if len(lookup.DependsOn) != 1 || lookup.DependsOn[0] != "resource:default/artists-db" {
		t.Errorf("artist-lookup dependsOn = %v, want [resource:default/artists-db]", lookup.DependsOn)
	}
	if lookup.Domain != "domain:default/artists" {
		t.Errorf("artist-lookup domain (through its system) = %q, want domain:default/artists", lookup.Domain)
	}
	teamA := got["group:default/team-a"]
	if teamA.Parent != "group:default/backstage" || len(teamA.Members) == 0 {
		t.Errorf("team-a parent %q members %v; want parent backstage and its users", teamA.Parent, teamA.Members)
	}
	demo := got["component:default/backstage-demo"]
	if demo.Owner != "group:backstage/maintainers" || demo.Annotations[yardstick.AnnotationGitHubSlug] != "backstage/demo" {
		t.Errorf("backstage-demo owner %q annotations %v", demo.Owner, demo.Annotations)
	}
	if _, ok := got["template:default/example-nodejs-template"]; !ok {
		t.Errorf("Template entity not kept; refs: %d", len(got))
	}
	// Importing through the Location tree must find the same components as the walk.
	viaLocations := im.ImportPaths(context.Background(), []string{filepath.Join(realCatalog, "catalog-model/examples/all.yaml"), filepath.Join(realCatalog, "catalog-model/examples/acme-corp.yaml")})
	if err := viaLocations.Err(); err != nil {
		t.Fatalf("import via Locations: %v", err)
	}
	for ref := range byRef(viaLocations.Entities) {
		if _, ok := got[ref]; !ok {
			t.Errorf("%s found via Locations but not by walking the folder", ref)
		}
	}
	if len(viaLocations.Entities) < 40 {
		t.Errorf("import via Locations found %d entities, want the whole example catalog", len(viaLocations.Entities))
	}
}

func TestImportErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good := mustWrite(t, dir, "good.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: good
spec:
  type: service
  owner: team-a
`)
	noName := mustWrite(t, dir, "noname.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: first
spec: {owner: x}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  title: No name here
spec: {}
`)
	broken := mustWrite(t, dir, "broken.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n")
	dup := mustWrite(t, dir, "sub/dup.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: GOOD
`)
	custom := mustWrite(t, dir, "custom.yaml", `apiVersion: example.com/v1
kind: AiResource
metadata:
  name: model-x
`)
	res := (&Importer{}).ImportPaths(context.Background(), []string{good, noName, broken, dup, custom})
	msgs := make([]string, 0, len(res.Errors))
	for _, e := range res.Errors {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"noname.yaml:9: Component without metadata.name",
		"broken.yaml:3: did not find expected ',' or ']'",
		"dup.yaml:1: duplicate entity component:default/good, first defined at " + good + ":1",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not contain %q; got:\n%s", want, all)
		}
	}
	refs := byRef(res.Entities)
	for _, want := range []yardstick.EntityRef{"component:default/good", "component:default/first", "airesource:default/model-x"} {
		if _, ok := refs[want]; !ok {
			t.Errorf("entity %s missing; every good document must still be imported", want)
		}
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "AiResource") {
		t.Errorf("notes = %v, want one about kind AiResource", res.Notes)
	}
}

func TestImportLocationGlobsAndRelativeTargets(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir, "teams/a.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a}\nspec: {type: team, children: []}\n")
	mustWrite(t, dir, "teams/b.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: b}\nspec: {type: team, parent: a}\n")
	root := mustWrite(t, dir, "root/catalog.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\nspec:\n  targets: ['../teams/*.yaml']\n")
	// The targets leave root/, which only catalog.allow_outside_root permits.
	res := (&Importer{AllowOutsideRoot: true}).ImportPaths(context.Background(), []string{root})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	got := byRef(res.Entities)
	if a := got["group:default/a"]; len(a.Children) != 1 || a.Children[0] != "group:default/b" {
		t.Errorf("group a children = %v, want [group:default/b] (derived from b's parent)", a.Children)
	}
}

func TestBackstageAPIPaginated(t *testing.T) {
	pages := map[string]string{
		"": `{"items":[{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"api","namespace":"default","uid":"1",
			"annotations":{"github.com/project-slug":"acme/api"}},"spec":{"type":"service","owner":"team-a","lifecycle":"production"},"relations":[]}],
			"totalItems":2,"pageInfo":{"nextCursor":"c2"}}`,
		"c2": `{"items":[{"apiVersion":"backstage.io/v1alpha1","kind":"Group","metadata":{"name":"team-a","namespace":"default"},"spec":{"type":"team","children":[]}}],
			"totalItems":2,"pageInfo":{}}`,
	}
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != "/api/catalog/entities/by-query" || r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"error":{"name":"AuthenticationError"}}`, http.StatusUnauthorized)
			return
		}
		body, ok := pages[r.URL.Query().Get("cursor")]
		if !ok {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c := &BackstageClient{BaseURL: srv.URL, Token: "s3cret", HTTP: srv.Client(), PageSize: 1}
	res := c.Fetch(context.Background())
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || len(res.Entities) != 2 {
		t.Fatalf("Fetch() = %d entities in %d calls, want 2 in 2", len(res.Entities), calls)
	}
	if api := byRef(res.Entities)["component:default/api"]; api.Owner != "group:default/team-a" {
		t.Errorf("api owner = %q", api.Owner)
	}
	bad := &BackstageClient{BaseURL: srv.URL, Token: "wrong", HTTP: srv.Client()}
	res = bad.Fetch(context.Background())
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "/api/catalog/entities/by-query") || !strings.Contains(err.Error(), "status 401") {
		t.Errorf("Fetch(bad token) error = %v, want endpoint and status 401", err)
	}
}
