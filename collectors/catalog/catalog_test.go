package catalog

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

// realCatalog holds real Backstage catalog files (see testdata/SOURCES.md).
const realCatalog = "testdata/backstage"

// MustWrite writes body to dir/name, making its directories, and returns the
// path. It is exported for the external tests (store_test.go) too.
func MustWrite(t testing.TB, dir, name, body string) string {
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
	if demo.Owner != "group:backstage/maintainers" || demo.Annotations["github.com/project-slug"] != "backstage/demo" {
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
	good := MustWrite(t, dir, "good.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: good
spec:
  type: service
  owner: team-a
`)
	noName := MustWrite(t, dir, "noname.yaml", `apiVersion: backstage.io/v1alpha1
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
	broken := MustWrite(t, dir, "broken.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n")
	dup := MustWrite(t, dir, "sub/dup.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: GOOD
`)
	custom := MustWrite(t, dir, "custom.yaml", `apiVersion: example.com/v1
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
	MustWrite(t, dir, "teams/a.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a}\nspec: {type: team, children: []}\n")
	MustWrite(t, dir, "teams/b.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: b}\nspec: {type: team, parent: a}\n")
	root := MustWrite(t, dir, "root/catalog.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\nspec:\n  targets: ['../teams/*.yaml']\n")
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

func TestLocationTargetsOutsideTheImportedFolderAreRefused(t *testing.T) {
	// Regression: Location targets such as /proc/self/environ were followed.
	root := t.TempDir()
	MustWrite(t, root, "outside/secret.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: outside}\nspec: {owner: x}\n")
	dir := filepath.Join(root, "catalog")
	MustWrite(t, dir, "inside/c.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: inside}\nspec: {owner: x}\n")
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "outside/secret.yaml"), filepath.Join(dir, "inside/linked.yaml")); err != nil {
		t.Fatal(err)
	}
	loc := MustWrite(t, dir, "all.yaml", `apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: all}
spec:
  targets: [./inside/c.yaml]
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: environ}
spec:
  target: /proc/self/environ
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: up}
spec:
  targets: [../outside, ./link/secret.yaml]
`)
	res := (&Importer{}).ImportPaths(context.Background(), []string{loc})
	all := res.Err()
	if all == nil {
		t.Fatal("ImportPaths() = no error, want the outside targets refused")
	}
	for _, want := range []string{
		loc + ":7: target /proc/self/environ (/proc/",
		loc + ":13: target " + filepath.Join(dir, "../outside") + " is outside the imported folder",
		loc + ":13: target " + filepath.Join(dir, "link/secret.yaml") + " (" + filepath.Join(root, "outside/secret.yaml") + ") is outside",
	} {
		if !strings.Contains(all.Error(), want) {
			t.Errorf("errors do not contain %q; got:\n%v", want, all)
		}
	}
	got := byRef(res.Entities)
	if _, ok := got["component:default/outside"]; ok {
		t.Error("an entity from outside the imported folder was imported")
	}
	if _, ok := got["component:default/inside"]; !ok {
		t.Error("the target inside the folder was not imported")
	}

	// Walking the folder does not follow a symlinked file out of it either.
	walk := (&Importer{}).ImportPaths(context.Background(), []string{dir})
	if _, ok := byRef(walk.Entities)["component:default/outside"]; ok || walk.Err() == nil || !strings.Contains(walk.Err().Error(), "linked.yaml") {
		t.Errorf("walk followed a symlink out of the folder: entities %d, errors %v", len(walk.Entities), walk.Err())
	}

	// catalog.allow_outside_root lets the operator follow them.
	open := (&Importer{AllowOutsideRoot: true}).ImportPaths(context.Background(), []string{filepath.Join(dir, "inside/linked.yaml")})
	if _, ok := byRef(open.Entities)["component:default/outside"]; !ok {
		t.Errorf("with AllowOutsideRoot the linked file was not read: %v", open.Err())
	}
}

func TestURLTargetOnLoopbackRefusedUnlessListed(t *testing.T) {
	// Regression: Location targets on loopback URLs were followed.
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write([]byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: remote}\nspec: {owner: x}\n"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	loc := MustWrite(t, dir, "catalog-info.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: remote}\nspec:\n  targets: ['"+srv.URL+"/catalog-info.yaml']\n")

	res := (&Importer{}).ImportPaths(context.Background(), []string{loc})
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), loc+":1: target "+srv.URL+"/catalog-info.yaml: host 127.0.0.1 (127.0.0.1) is a loopback, private or link-local address; refused") {
		t.Errorf("ImportPaths(loopback target) error = %v, want the target refused with file:line", err)
	}
	if calls != 0 || len(res.Entities) != 1 {
		t.Errorf("loopback target: %d requests, %d entities; want 0 requests and only the Location", calls, len(res.Entities))
	}

	// Another host on the allow-list does not open loopback either.
	res = (&Importer{AllowedHosts: []string{"github.com"}}).ImportPaths(context.Background(), []string{loc})
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "host 127.0.0.1 is not in catalog.allowed_hosts") || calls != 0 {
		t.Errorf("ImportPaths(unlisted host) = %v after %d requests, want refused", err, calls)
	}

	res = (&Importer{AllowedHosts: []string{"127.0.0.1"}}).ImportPaths(context.Background(), []string{loc})
	if err := res.Err(); err != nil {
		t.Fatalf("ImportPaths(listed loopback host) = %v", err)
	}
	if _, ok := byRef(res.Entities)["component:default/remote"]; !ok || calls != 1 {
		t.Errorf("listed host: %d requests, entities %v; want the remote component", calls, byRef(res.Entities))
	}
}

func TestGuardedClientRefusesPrivateAddressesWhenItConnects(t *testing.T) {
	// A name can resolve to a public address when checked and a private one
	// when dialled; the client checks the address it connects to as well.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := newHostGuard(nil).client().Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "loopback, private or link-local") {
		t.Errorf("guarded GET %s = %v, want the connection refused", srv.URL, err)
	}
	if _, err := newHostGuard([]string{"127.0.0.1"}).client().Get(srv.URL); err != nil {
		t.Errorf("guarded GET of a listed host = %v", err)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "0.0.0.0": false, "100.64.0.1": false, "::ffff:127.0.0.1": false, "fd00::1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestLocationReadFromURLCannotNameLocalFiles(t *testing.T) {
	mux := http.NewServeMux()
	var srvURL string
	mux.HandleFunc("GET /all.yaml", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\nspec:\n  targets: ['file:///etc/passwd', /team/c.yaml]\n"))
	})
	mux.HandleFunc("GET /team/c.yaml", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: c}\nspec: {owner: x}\n"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	srvURL = srv.URL + "/all.yaml"
	// The URL given as the source opens its own host, loopback as it is.
	res := (&Importer{}).ImportPaths(context.Background(), []string{srvURL})
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), srvURL+":1: target file:///etc/passwd: a Location read from a URL can only name http(s) URLs; refused") {
		t.Errorf("ImportPaths(URL naming a file) error = %v, want the file target refused", err)
	}
	if _, ok := byRef(res.Entities)["component:default/c"]; !ok {
		t.Errorf("the same-host target was not read; entities %v", byRef(res.Entities))
	}
}

func TestLargeImportIsStreamedInBatchesWithRelationsResolved(t *testing.T) {
	// Regression: an import of 20,000 entities held every entity (and the whole
	// file) in memory at once, peaking at 1.2 GB. Entities now wait on disk and
	// come out in batches; relations that span batches must still resolve.
	var b strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: c%d}\nspec: {owner: squad, system: sys}\n", i)
	}
	// Defined after every component: the system (domain through it), the
	// squad naming its tribe as parent, the tribe, and a user naming the squad.
	b.WriteString("---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: sys}\nspec: {owner: squad, domain: payments}\n")
	b.WriteString("---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: squad}\nspec: {type: team, parent: tribe}\n")
	b.WriteString("---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: tribe}\nspec: {type: tribe, children: []}\n")
	b.WriteString("---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ana}\nspec: {memberOf: [squad]}\n")
	path := MustWrite(t, t.TempDir(), "catalog.yaml", b.String())

	scan, err := (&Importer{}).Read(context.Background(), PathSource(path))
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	if err := scan.Err(); err != nil || scan.Len() != 2504 {
		t.Fatalf("Read() = %d entities, errors %v; want 2504", scan.Len(), err)
	}
	var sizes []int
	got := map[yardstick.EntityRef]yardstick.Entity{}
	err = scan.EachBatch(context.Background(), 1000, func(batch []yardstick.Entity) error {
		sizes = append(sizes, len(batch))
		for _, e := range batch {
			got[e.Ref] = e
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[1000 1000 504]" {
		t.Errorf("batch sizes = %v, want [1000 1000 504]", sizes)
	}
	if c := got["component:default/c0"]; c.Domain != "domain:default/payments" {
		t.Errorf("c0 (first batch) domain = %q, want its system's domain defined in the last batch", c.Domain)
	}
	if tribe := got["group:default/tribe"]; fmt.Sprint(tribe.Children) != "[group:default/squad]" {
		t.Errorf("tribe children = %v, want [group:default/squad] (from the squad's parent)", tribe.Children)
	}
	if squad := got["group:default/squad"]; fmt.Sprint(squad.Members) != "[user:default/ana]" {
		t.Errorf("squad members = %v, want [user:default/ana] (from ana's memberOf)", squad.Members)
	}
	name := scan.spool.Name()
	if err := scan.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("spool %s still there after Close: %v", name, err)
	}
}
