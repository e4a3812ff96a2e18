package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainHelperEnv) == "1" {
		os.Exit(runMainHelper())
	}
	os.Exit(storetest.Main(m))
}

// mustCLI returns a function that runs the yardstick command line against a
// fresh database of the test ClickHouse, with the given config file body.
func mustCLI(t *testing.T, config string) func(args ...string) (code int, stdout, stderr string) {
	t.Helper()
	db := storetest.NewDB(t)
	cfg := filepath.Join(t.TempDir(), "yardstick.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	dsn := "clickhouse://" + storetest.Addr(t) + "/" + db.Database()
	return func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"--config", cfg, "--clickhouse", dsn, "--log-level", "error"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

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

func TestCatalogImportCommandOfEmptyInputExitsOneAndRemovesNothing(t *testing.T) {
	// Regression: `catalog import` of an empty file, a file of only --- or an
	// empty folder exited 0 and removed every entity and scope mapping.
	yardstick := mustCLI(t, "catalog:\n  max_shrink: 0.5\n")
	root := t.TempDir()
	a := filepath.Join(root, "team-a")
	writeCatalogFile(t, filepath.Join(a, "catalog-info.yaml"), cliComponents)
	if code, out, errOut := yardstick("catalog", "import", a); code != 0 || !strings.Contains(out, "3 added") {
		t.Fatalf("first import: exit %d\n%s%s", code, out, errOut)
	}
	writeCatalogFile(t, filepath.Join(a, "catalog-info.yaml"), "---\n")
	code, out, errOut := yardstick("catalog", "import", a)
	if code != 1 || !strings.Contains(errOut, "found 0 entities and would remove 3 of its 3") || !strings.Contains(errOut, "component:default/api") || !strings.Contains(errOut, "--allow-shrink") {
		t.Fatalf("import of only ---: exit %d, want 1 with what it would remove\n%s%s", code, out, errOut)
	}
	if _, out, _ := yardstick("catalog", "sources"); !strings.Contains(out, a+"  3 ") || !strings.Contains(out, "refused") {
		t.Errorf("catalog sources after the refusal, want 3 entities and the refused import:\n%s", out)
	}

	// team B's one file is a source of its own; a ref of team A in it is a conflict.
	b := filepath.Join(root, "team-b", "catalog-info.yaml")
	writeCatalogFile(t, b, strings.Replace(cliComponents, "name: web", "name: b-web", 1))
	code, out, errOut = yardstick("catalog", "import", b)
	if code != 1 || !strings.Contains(out, "1 added") || !strings.Contains(errOut, b+":1: entity component:default/api is already provided by source "+a+" at "+filepath.Join(a, "catalog-info.yaml")+":1") {
		t.Errorf("import of team-b with two refs of team-a: exit %d, want 1, b-web added and the conflicts located\n%s%s", code, out, errOut)
	}

	if code, out, errOut := yardstick("catalog", "import", "--allow-shrink", a); code != 0 || !strings.Contains(out, "3 removed") {
		t.Errorf("import with --allow-shrink: exit %d, want 0 and 3 removed\n%s%s", code, out, errOut)
	}
	if code, out, errOut := yardstick("catalog", "forget", b); code != 0 || !strings.Contains(out, "1 entities removed") {
		t.Errorf("forget team-b: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := yardstick("catalog", "forget", "no-such-source"); code != 1 || !strings.Contains(errOut, `catalog source "no-such-source": not found`) {
		t.Errorf("forget of an unknown source: exit %d, %s", code, errOut)
	}
}
