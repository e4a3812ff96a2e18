package catalogsync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func writeCatalogFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const cliComponents = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: api, annotations: {github.com/project-slug: acme/api}}
spec: {type: service, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: web}
spec: {type: website, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
`

// TestImportOfEmptyInputRemovesNothing imports sources into a real store the
// way `catalog import` does. Regression: an import of an empty file, a file of
// only --- or an empty folder removed every entity and scope mapping.
func TestImportOfEmptyInputRemovesNothing(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	im := (Config{}).Importer()
	importOne := func(allowShrink bool, path string) (error, string, string) {
		var out, errOut bytes.Buffer
		sink := &Sink{DB: db, MaxShrink: 0.5, AllowShrink: allowShrink}
		err := sink.ImportOne(ctx, &out, &errOut, im, catalog.PathSource(path))
		return err, out.String(), errOut.String()
	}
	root := t.TempDir()
	a := filepath.Join(root, "team-a")
	writeCatalogFile(t, filepath.Join(a, "catalog-info.yaml"), cliComponents)
	if err, out, errOut := importOne(false, a); err != nil || !strings.Contains(out, "3 added") {
		t.Fatalf("first import: %v\n%s%s", err, out, errOut)
	}
	writeCatalogFile(t, filepath.Join(a, "catalog-info.yaml"), "---\n")
	err, out, errOut := importOne(false, a)
	var shrink *store.ShrinkError
	if !errors.As(err, &shrink) || !strings.Contains(errOut, "found 0 entities and would remove 3 of its 3") || !strings.Contains(errOut, "component:default/api") || !strings.Contains(errOut, "--allow-shrink") {
		t.Fatalf("import of only ---: %v, want a ShrinkError naming what it would remove\n%s%s", err, out, errOut)
	}
	list, err := db.CatalogSources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSources(&b, list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), a+"  3 ") || !strings.Contains(b.String(), "refused") {
		t.Errorf("sources after the refusal, want 3 entities and the refused import:\n%s", b.String())
	}

	// team B's one file is a source of its own; a ref of team A in it is a conflict.
	bFile := filepath.Join(root, "team-b", "catalog-info.yaml")
	writeCatalogFile(t, bFile, strings.Replace(cliComponents, "name: web", "name: b-web", 1))
	err, out, errOut = importOne(false, bFile)
	if !errors.Is(err, ErrImport) || !strings.Contains(out, "1 added") || !strings.Contains(errOut, bFile+":1: entity component:default/api is already provided by source "+a+" at "+filepath.Join(a, "catalog-info.yaml")+":1") {
		t.Errorf("import of team-b with two refs of team-a: %v, want ErrImport, b-web added and the conflicts located\n%s%s", err, out, errOut)
	}
	if err, out, errOut := importOne(true, a); err != nil || !strings.Contains(out, "3 removed") {
		t.Errorf("import with AllowShrink: %v, want 3 removed\n%s%s", err, out, errOut)
	}
	if ch, err := db.ForgetSource(ctx, bFile); err != nil || ch.Removed != 1 {
		t.Errorf("ForgetSource(team-b) = %+v, %v; want 1 removed", ch, err)
	}
	if _, err := db.ForgetSource(ctx, "no-such-source"); err == nil || !strings.Contains(err.Error(), `catalog source "no-such-source": not found`) {
		t.Errorf("ForgetSource(unknown) = %v", err)
	}
}
