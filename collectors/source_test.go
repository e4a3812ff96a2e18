package collectors_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
)

func registry() *collectors.Registry {
	return collectors.NewRegistry(github.Source(), jira.Source(), pagerduty.Source())
}

func TestRegistryScopesOf(t *testing.T) {
	e := yardstick.Entity{Annotations: map[string]string{
		github.AnnotationSlug: "Acme/API", jira.AnnotationProjectKey: "pay", jira.AnnotationLabel: "api", pagerduty.AnnotationServiceID: "PX1",
	}}
	got := registry().ScopesOf(e)
	want := []yardstick.Scope{"github:acme/api", "jira:PAY/label=api", "pagerduty:PX1"}
	if !slices.Equal(got, want) {
		t.Errorf("ScopesOf() = %v, want %v", got, want)
	}
	if got := registry().ScopesOf(yardstick.Entity{}); len(got) != 0 {
		t.Errorf("ScopesOf(no annotations) = %v, want none", got)
	}
}

func TestRegistryLookup(t *testing.T) {
	r := registry()
	if s := r.Lookup("jira"); s == nil || s.Name != "jira" {
		t.Errorf("Lookup(jira) = %v", s)
	}
	if s := r.Lookup("gitlab"); s != nil {
		t.Errorf("Lookup(unregistered) = %v, want nil", s)
	}
	var names []string
	for _, s := range r.Sources() {
		names = append(names, s.Name)
		if s.NewConfig == nil || s.New == nil || s.Scopes == nil || len(s.Annotations) == 0 {
			t.Errorf("source %s lacks a part of its description", s.Name)
		}
	}
	if !slices.Equal(names, []string{"github", "jira", "pagerduty"}) {
		t.Errorf("Sources() = %v, want registration order", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewRegistry(duplicate) did not panic")
		}
	}()
	collectors.NewRegistry(github.Source(), github.Source())
}

func mustNode(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestDecodeConfigIsStrict(t *testing.T) {
	for _, tt := range []struct {
		source, doc, want string
	}{
		{"github", "base_url: https://x\ntoken_envv: X\n", `line 2: unknown key "token_envv"`},
		{"github", "app:\n  app_id: 1\n  key: x\n", `line 3: unknown key "key"`},
		{"github", "file_facts:\n  - {name: a, path: b, patern: c}\n", `line 2: unknown key "patern"`},
		{"pagerduty", "working_hours:\n  groups:\n    x: {start: '9', zone: UTC}\n", `line 3: unknown key "zone"`},
		{"jira", "webhook:\n  secret: s\n", `line 2: unknown key "secret"`},
	} {
		s := registry().Lookup(tt.source)
		_, err := s.DecodeConfig(mustNode(t, tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config "+tt.source) {
			t.Errorf("DecodeConfig(%q) = %v, want an error naming %q", tt.doc, err, tt.want)
		}
	}
}

func TestDecodeConfig(t *testing.T) {
	s := registry().Lookup("jira")
	cfg, err := s.DecodeConfig(nil)
	if err != nil || cfg.Enabled() {
		t.Errorf("DecodeConfig(absent) = %v, %v; want a disabled zero config", cfg, err)
	}
	cfg, err = s.DecodeConfig(mustNode(t, "base_url: https://acme.atlassian.net\nemail: a@b\nbackfill_days: 30\ntimeout: 5m\n"))
	if err != nil || !cfg.Enabled() {
		t.Fatalf("DecodeConfig() = %v, %v; want an enabled config", cfg, err)
	}
	if rt, ok := cfg.(collectors.RunTimeouter); !ok || rt.RunTimeout().Minutes() != 5 {
		t.Errorf("RunTimeout() of timeout: 5m = %v", cfg)
	}
	if err := cfg.Validate(func(string) string { return "" }); !errors.Is(err, yardstick.ErrInvalid) || !strings.Contains(err.Error(), "JIRA_API_TOKEN") {
		t.Errorf("Validate(no token) = %v, want ErrInvalid naming JIRA_API_TOKEN", err)
	}
	if err := cfg.Validate(func(string) string { return "t" }); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	other, _ := s.DecodeConfig(mustNode(t, "base_url: https://acme.atlassian.net\nemail: a@b\nbackfill_days: 31\n"))
	if cfg.Hash() == "" || cfg.Hash() == other.Hash() {
		t.Errorf("Hash() = %q and %q for different backfills, want different non-empty hashes", cfg.Hash(), other.Hash())
	}
}
