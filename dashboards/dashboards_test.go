package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGrafanaGolden renders each Grafana dashboard as its panels and their
// SQL into testdata/grafana.golden, so a change to what Grafana users see
// shows in review; go test -update rewrites it. Every panel must carry a
// ClickHouse query.
func TestGrafanaGolden(t *testing.T) {
	files, err := fs.Glob(FS, "grafana/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("grafana dashboards: %v, %d files", err, len(files))
	}
	var b bytes.Buffer
	for _, f := range files {
		raw, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Title  string `json:"title"`
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Datasource struct {
						Type string `json:"type"`
					} `json:"datasource"`
					RawSQL string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fmt.Fprintf(&b, "%s: %s (uid %s)\n", f, d.Title, d.UID)
		for _, p := range d.Panels {
			fmt.Fprintf(&b, "\n  panel %q (%s)\n", p.Title, p.Type)
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, q := range p.Targets {
				if q.Datasource.Type != "grafana-clickhouse-datasource" || strings.TrimSpace(q.RawSQL) == "" {
					t.Errorf("%s: panel %q: a target without ClickHouse SQL", f, p.Title)
				}
				for _, line := range strings.Split(q.RawSQL, "\n") {
					fmt.Fprintf(&b, "    %s\n", line)
				}
			}
		}
	}
	golden.MustMatch(t, filepath.Join("testdata", "grafana.golden"), b.Bytes(), *update)
}
