package gitlab

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
)

func mustConfig(t *testing.T, text string) *Config {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(text), &node); err != nil {
		t.Fatal(err)
	}
	src := Source()
	var n *yaml.Node
	if len(node.Content) > 0 {
		n = node.Content[0]
	}
	cfg, err := src.DecodeConfig(n)
	if err != nil {
		t.Fatalf("DecodeConfig: %v", err)
	}
	return cfg.(*Config)
}

func TestSourceConfig(t *testing.T) {
	r := collectors.NewRegistry(Source())
	if s := r.Lookup("gitlab"); s == nil || s.Annotations[0] != "gitlab.com/project-slug" || s.Webhook == nil || s.Demo == nil {
		t.Fatalf("registry lookup = %+v", s)
	}
	e := yardstick.Entity{Annotations: map[string]string{AnnotationProjectSlug: "Acme/Payments", github.AnnotationSlug: "acme/payments"}}
	if got := r.ScopesOf(e); len(got) != 1 || got[0] != "gitlab:acme/payments" {
		t.Errorf("ScopesOf = %v, want [gitlab:acme/payments]", got)
	}

	if mustConfig(t, "").Enabled() {
		t.Error("an absent section is enabled")
	}
	cfg := mustConfig(t, `
base_url: https://gitlab.example.com/gitlab/
token_env: GL_TOKEN
groups: [Acme/Platform]
backfill_days: 30
webhook: {secret_env: GL_HOOK}
`)
	env := map[string]string{"GL_TOKEN": "glpat-x", "GL_HOOK": "hook"}
	getenv := func(k string) string { return env[k] }
	if !cfg.Enabled() {
		t.Fatal("configured section is not enabled")
	}
	if err := cfg.Validate(getenv); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if api, _ := apiURL(cfg.BaseURL); api != "https://gitlab.example.com/gitlab/api/v4/" {
		t.Errorf("API URL %q", api)
	}
	if !cfg.inGroups("acme/platform/search") || cfg.inGroups("acme/payments") || cfg.inGroups("acme/platformer/x") {
		t.Error("groups filter does not follow group paths")
	}
	h := cfg.Hash()
	other := *cfg
	other.Token, other.TokenEnv = "different", "OTHER"
	if other.Hash() != h {
		t.Error("the token changed the config hash")
	}
	for _, change := range []func(c *Config){
		func(c *Config) { c.BaseURL = "https://gitlab.com" },
		func(c *Config) { c.Groups = nil },
		func(c *Config) { c.BackfillDays = 10 },
		func(c *Config) { c.FactsSource = "github" },
	} {
		c := *cfg
		change(&c)
		if c.Hash() == h {
			t.Errorf("a change of %+v kept the hash", c)
		}
	}

	for _, tc := range []struct {
		text, want string
	}{
		{"base_url: ftp://x", "base_url"},
		{"token_env: NOPE", "NOPE is empty"},
		{"token_env: GL_TOKEN\nbackfill_days: -1", "backfill_days"},
		{"token_env: GL_TOKEN\ngroups: ['/']", "groups[0]"},
		{"token_env: GL_TOKEN\nwebhook: {secret_env: NOPE}", "webhook.secret_env"},
		{"token_env: GL_TOKEN\nfacts_source: bitbucket", "facts_source"},
	} {
		err := mustConfig(t, tc.text).Validate(getenv)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, yardstick.ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want an ErrInvalid naming %s", tc.text, err, tc.want)
		}
	}

	st := newMemStore("acme/payments")
	deps := collectors.Deps{Catalog: st, Cursors: st, Writer: st, Getenv: getenv, Logger: slog.New(slog.DiscardHandler)}
	noHook := mustConfig(t, "token_env: GL_TOKEN")
	if h, err := Source().Webhook(noHook, deps); h != nil || err != nil {
		t.Errorf("Webhook without a secret = %v, %v; want no route", h, err)
	}
	if h, err := Source().Webhook(cfg, deps); h == nil || err != nil {
		t.Errorf("Webhook = %v, %v", h, err)
	}
}

// TestGroupsFilter: with groups set, catalog projects outside them are not read.
func TestGroupsFilter(t *testing.T) {
	_, fake, _, st, c := mustSetup(t, 2, Config{Groups: []string{"acme/platform"}})
	if _, err := c.Collect(context.Background(), time.Time{}, st); err != nil {
		t.Fatal(err)
	}
	if s := fake.Stats(); s.ByProject["acme/payments"] != 0 || s.ByProject["acme/platform/search"] == 0 {
		t.Errorf("requests by project %v, want acme/platform/search only", s.ByProject)
	}
}

// TestDemo starts the demo fake from catalog entities and collects it through
// the registry's constructor.
func TestDemo(t *testing.T) {
	entities := []yardstick.Entity{
		{Ref: "component:default/a", Annotations: map[string]string{AnnotationProjectSlug: "demo-org/platform/a"}},
		{Ref: "component:default/b", Annotations: map[string]string{AnnotationProjectSlug: "demo-org/b"}},
		{Ref: "component:default/c", Annotations: map[string]string{github.AnnotationSlug: "demo-org/c"}},
	}
	src := Source()
	cfg, stop, err := src.Demo(context.Background(), entities, epoch)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	st := newMemStore()
	for _, e := range entities {
		for _, s := range Scopes(e) {
			st.AddMappings(yardstick.ScopeMapping{Scope: s, Entity: e.Ref})
		}
	}
	if !cfg.Enabled() || cfg.Validate(func(string) string { return "" }) != nil {
		t.Fatalf("demo config not enabled or invalid: %+v", cfg)
	}
	col, err := src.New(cfg, collectors.Deps{Catalog: st, Cursors: st, Writer: st, Now: func() time.Time { return epoch }, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.Collect(context.Background(), time.Time{}, st); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, scope := range []yardstick.Scope{"gitlab:demo-org/platform/a", "gitlab:demo-org/b"} {
		if len(st.of(yardstick.DeploymentSucceeded, scope)) == 0 || len(st.of(yardstick.ChangeMerged, scope)) == 0 {
			t.Errorf("%s: no deployments or merges collected from the demo fake", scope)
		}
		// The demo writes facts as gitlab: its host-neutral rules read them as
		// facts.git, and the GitHub-only ones (facts.github) leave them out.
		if f, ok := st.factsOf(scope)["go_version"]; !ok || f.Source != SourceName {
			t.Errorf("%s: go_version fact %+v, want one under source gitlab", scope, f)
		}
	}
	if n := len(st.of(yardstick.ChangeOpened, "gitlab:demo-org/c")); n != 0 {
		t.Errorf("a GitHub-only entity got %d GitLab rows", n)
	}
}
