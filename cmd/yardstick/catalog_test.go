package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
)

func TestCatalogConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, wantErr string
	}{
		{"good", "catalog:\n  sources:\n    - {name: a, paths: [x], interval: 10m}\n    - {name: b, url: 'https://example.com/c.yaml'}\n    - {name: c, backstage_url: 'https://bs.example.com'}\n  max_shrink: 0.25\n", ""},
		{"no name", "catalog:\n  sources:\n    - {paths: [x]}\n", "catalog.sources[0]: name is required"},
		{"twice", "catalog:\n  sources:\n    - {name: a, paths: [x]}\n    - {name: a, paths: [y]}\n", `catalog.sources[1]: name "a" used twice`},
		{"two kinds", "catalog:\n  sources:\n    - {name: a, paths: [x], url: 'https://example.com'}\n", "catalog.sources[0] (a): give exactly one of paths, url or backstage_url"},
		{"nothing", "catalog:\n  sources:\n    - {name: a}\n", "give exactly one of"},
		{"short interval", "catalog:\n  sources:\n    - {name: a, paths: [x], interval: 5s}\n", "interval 5s: at least 1m"},
		{"share", "catalog:\n  max_shrink: 1.5\n", "catalog.max_shrink 1.5"},
		{"typo", "catalog:\n  allowed_host: [x]\n", "field allowed_host not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "yardstick.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(p)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig() = %v", err)
				}
				if s := cfg.Catalog.Sources[0]; s.Interval != 10*time.Minute || cfg.Catalog.MaxShrink != 0.25 {
					t.Errorf("loadConfig() = %+v", cfg.Catalog)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("loadConfig() = %v, want %q", err, tt.wantErr)
			}
			if tt.name != "typo" && !errors.Is(err, yardstick.ErrInvalid) {
				t.Errorf("loadConfig() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestImportSources(t *testing.T) {
	a, _, _ := testApp()
	a.cfg.Catalog = catalogConfig{
		Paths:     []string{"cat"},
		Backstage: backstageConfig{URL: "https://bs.example.com/"},
		Sources:   []catalogSourceConfig{{Name: "team-a", Paths: []string{"a"}, Interval: time.Hour}, {Name: "shared", URL: "https://example.com/all.yaml"}},
	}
	abs := func(p string) string { s, _ := filepath.Abs(p); return s }
	for _, tt := range []struct {
		name               string
		args               []string
		source, backstage  string
		want               []string // source names
		wantPaths0, errSub string
	}{
		{name: "each argument its own source", args: []string{"x", "https://h.example/c.yaml"}, want: []string{abs("x"), "https://h.example/c.yaml"}},
		{name: "named arguments", args: []string{"x", "y"}, source: "mine", want: []string{"mine"}, wantPaths0: "x"},
		{name: "configured source", source: "shared", want: []string{"shared"}, wantPaths0: "https://example.com/all.yaml"},
		{name: "unknown source", source: "nope", errSub: "no such source"},
		{name: "backstage", backstage: "https://bs2.example.com/", want: []string{"https://bs2.example.com"}},
		{name: "everything configured", want: []string{"team-a", "shared", abs("cat"), "https://bs.example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.importSources(tt.args, tt.source, tt.backstage)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("importSources() = %v, want %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if strings.Join(names, " ") != strings.Join(tt.want, " ") {
				t.Errorf("importSources() names = %v, want %v", names, tt.want)
			}
			if tt.wantPaths0 != "" && (len(got[0].Paths) == 0 || got[0].Paths[0] != tt.wantPaths0) {
				t.Errorf("importSources()[0].Paths = %v, want %s first", got[0].Paths, tt.wantPaths0)
			}
		})
	}
	if jobs := a.catalogJobs(nil); len(jobs) != 1 || jobs[0].Name != "catalog:team-a" || jobs[0].Interval != time.Hour {
		t.Errorf("catalogJobs() = %+v, want one job for team-a every hour", jobs)
	}
}
