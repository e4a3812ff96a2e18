package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustConfigFile(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "yardstick.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDecodesEachSource(t *testing.T) {
	cfg, err := loadConfig(mustConfigFile(t, "data_dir: /tmp/x\njira:\n  base_url: https://acme.atlassian.net\n  email: a@b\n"), newSources())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range newSources().Sources() {
		sc, ok := cfg.sources[s.Name]
		if !ok {
			t.Fatalf("no config for registered source %s", s.Name)
		}
		if got, want := sc.Enabled(), s.Name == "jira"; got != want {
			t.Errorf("%s: Enabled() = %v, want %v", s.Name, got, want)
		}
	}
}

func TestLoadConfigRefusesUnknownKeys(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"data_dir: x\nbitbucket:\n  base_url: y\n", `line 2: unknown key "bitbucket"`},
		{"serve:\n  listen: x\n  lisen: y\n", "line 3: field lisen not found"},
		{"data_dir: x\npagerduty:\n  token_env: T\n  tokenenv: U\n", `config pagerduty: line 4: unknown key "tokenenv"`},
	} {
		_, err := loadConfig(mustConfigFile(t, tt.doc), newSources())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%q) = %v, want an error naming %q", tt.doc, err, tt.want)
		}
	}
}
