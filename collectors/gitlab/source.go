// Package gitlab collects merge request, commit, pipeline, deployment and
// release events and project facts from GitLab.com or a self-managed GitLab
// (REST API v4) for every project the catalog names with a
// gitlab.com/project-slug annotation. Events and facts use the same vocabulary
// as the GitHub collector, so every metric works for GitLab projects unchanged.
// Polling (Collector.Collect) and webhooks or system hooks (Webhook) share one
// conversion, so both give identical rows.
package gitlab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

// SourceName is the events' and facts' source name, the config section and
// the scope prefix.
const SourceName = "gitlab"

// AnnotationProjectSlug ties a catalog entity to a GitLab project by its full
// path: "group/subgroup/project".
const AnnotationProjectSlug = "gitlab.com/project-slug"

// Defaults.
const (
	DefaultBaseURL      = "https://gitlab.com"
	DefaultTokenEnv     = "GITLAB_TOKEN"
	DefaultBackfillDays = 90
	DefaultConcurrency  = 4
	DefaultPerPage      = 100
	// DefaultMaxShippedCommits caps the commits one deployment records as shipped.
	DefaultMaxShippedCommits = 2500
)

// Scope returns the scope of a project path ("group/sub/project"), lower-cased.
func Scope(path string) yardstick.Scope {
	return yardstick.Scope(SourceName + ":" + strings.ToLower(strings.Trim(strings.TrimSpace(path), "/")))
}

// ProjectOf returns the project path of a "gitlab:group/project" scope; ok is
// false for other scopes and for paths without a namespace.
func ProjectOf(s yardstick.Scope) (string, bool) {
	p, ok := strings.CutPrefix(string(s), SourceName+":")
	if !ok || !strings.Contains(p, "/") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return "", false
	}
	return p, true
}

// Scopes returns the scope e's gitlab.com/project-slug annotation names, nil
// when it has none.
func Scopes(e yardstick.Entity) []yardstick.Scope {
	slug := strings.TrimSpace(e.Annotations[AnnotationProjectSlug])
	if slug == "" {
		return nil
	}
	if _, ok := ProjectOf(Scope(slug)); !ok {
		return nil
	}
	return []yardstick.Scope{Scope(slug)}
}

// Config is the gitlab section of yardstick.yaml.
type Config struct {
	// BaseURL is the GitLab instance: https://gitlab.com (default) or a
	// self-managed one; the API is at BaseURL/api/v4.
	BaseURL string `yaml:"base_url"`
	// TokenEnv names the environment variable holding a personal, group or
	// project access token with read_api scope (default GITLAB_TOKEN).
	TokenEnv string `yaml:"token_env"`
	// Groups, when set, limit collection and hooks to catalog projects inside
	// these groups (and their subgroups).
	Groups []string `yaml:"groups"`
	// BackfillDays is how far back a full sync reads (default 90).
	BackfillDays int `yaml:"backfill_days"`
	// FactsSource is the source the project facts are written under: "gitlab"
	// (default; rules read facts.gitlab.<name>) or "github". Deprecated:
	// rules that should score GitLab and GitHub repositories alike read
	// facts.git.<name>, which both hosts' facts are visible under; writing
	// GitLab facts as github also puts GitLab projects into GitHub-only rules.
	// It is still accepted, so existing config files load and keep their
	// watermarks. Events are always source gitlab.
	FactsSource string `yaml:"facts_source"`
	// Webhook configures POST /webhooks/gitlab.
	Webhook WebhookConfig `yaml:"webhook"`

	// Token, when set (tests, the demo), is used instead of TokenEnv.
	Token yardstick.Secret `yaml:"-"`
	// Concurrency is how many projects are collected at once (default 4).
	Concurrency int `yaml:"-"`
	// PerPage is the page size of list requests (default 100, GitLab's maximum).
	PerPage int `yaml:"-"`
	// MaxShippedCommits caps the commits one deployment records as shipped.
	MaxShippedCommits int `yaml:"-"`
	// Retry overrides the transport's retry policy (tests shorten it).
	Retry collectors.RetryConfig `yaml:"-"`
}

// WebhookConfig configures the webhook and system hook endpoint.
type WebhookConfig struct {
	// SecretEnv names the environment variable holding the secret token set
	// on the hook; GitLab sends it verbatim in X-Gitlab-Token.
	SecretEnv string `yaml:"secret_env"`
	// MaxBody caps a delivery's body in bytes (default 25 MiB).
	MaxBody int64 `yaml:"max_body"`

	// Secret, when set (tests, the demo), is used instead of SecretEnv.
	Secret yardstick.Secret `yaml:"-"`
}

// Enabled reports whether the section names an instance, a token or groups.
func (c *Config) Enabled() bool {
	return c.BaseURL != "" || c.TokenEnv != "" || c.Token != "" || len(c.Groups) > 0
}

// Validate checks an enabled config; the token is read through getenv.
func (c *Config) Validate(getenv func(string) string) error {
	if _, err := apiURL(c.baseURL()); err != nil {
		return err
	}
	if c.token(getenv) == "" {
		return fmt.Errorf("gitlab token_env: environment variable %s is empty: %w", c.tokenEnv(), yardstick.ErrInvalid)
	}
	if fs := c.FactsSource; fs != "" && fs != SourceName && fs != "github" {
		return fmt.Errorf("gitlab facts_source: %q, want gitlab or github: %w", fs, yardstick.ErrInvalid)
	}
	if c.BackfillDays < 0 {
		return fmt.Errorf("gitlab backfill_days: %d is negative: %w", c.BackfillDays, yardstick.ErrInvalid)
	}
	for i, g := range c.Groups {
		if strings.Trim(strings.TrimSpace(g), "/") == "" {
			return fmt.Errorf("gitlab groups[%d]: empty group path: %w", i, yardstick.ErrInvalid)
		}
	}
	if c.Webhook.SecretEnv != "" && c.Webhook.Secret == "" && getenv(c.Webhook.SecretEnv) == "" {
		return fmt.Errorf("gitlab webhook.secret_env: environment variable %s is empty: %w", c.Webhook.SecretEnv, yardstick.ErrInvalid)
	}
	return nil
}

// Hash changes when a setting that changes what is collected changes.
func (c *Config) Hash() string {
	groups := c.groups()
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(struct {
		BaseURL  string
		Groups   []string
		Backfill int
		MaxShip  int
		Facts    string
	}{strings.TrimRight(c.baseURL(), "/"), groups, c.backfillDays(), c.maxShipped(), c.factsSource()})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (c *Config) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return c.BaseURL
}

func (c *Config) factsSource() string {
	if c.FactsSource == "" {
		return SourceName
	}
	return c.FactsSource
}

func (c *Config) tokenEnv() string {
	if c.TokenEnv == "" {
		return DefaultTokenEnv
	}
	return c.TokenEnv
}

func (c *Config) token(getenv func(string) string) yardstick.Secret {
	if c.Token != "" {
		return c.Token
	}
	if getenv == nil {
		return ""
	}
	return yardstick.Secret(getenv(c.tokenEnv()))
}

func (c *Config) backfillDays() int {
	if c.BackfillDays <= 0 {
		return DefaultBackfillDays
	}
	return c.BackfillDays
}

func (c *Config) maxShipped() int {
	if c.MaxShippedCommits <= 0 {
		return DefaultMaxShippedCommits
	}
	return c.MaxShippedCommits
}

// groups returns the configured groups lower-cased, trimmed and sorted.
func (c *Config) groups() []string {
	var out []string
	for _, g := range c.Groups {
		if g = strings.ToLower(strings.Trim(strings.TrimSpace(g), "/")); g != "" {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// inGroups reports whether project lies inside one of the configured groups
// (always true without groups).
func (c *Config) inGroups(project string) bool {
	groups := c.groups()
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		if strings.HasPrefix(project, g+"/") {
			return true
		}
	}
	return false
}

// apiURL returns BASE/api/v4/ for an instance URL.
func apiURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("gitlab base_url %q: not an absolute http(s) URL: %w", base, yardstick.ErrInvalid)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v4")
	u.Path = p + "/api/v4/"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// RetryConfig is the retry policy GitLab needs from collectors.Transport: its
// rate-limit windows are a minute long, so waits are short.
func RetryConfig() collectors.RetryConfig {
	return collectors.RetryConfig{MaxWait: 5 * time.Minute}
}

// Source describes the GitLab source to the registry.
func Source() collectors.Source {
	return collectors.Source{
		Name:        SourceName,
		Annotations: []string{AnnotationProjectSlug},
		// Rules read the facts as facts.git.* too, whichever host a repository is on.
		FactNamespaces: []string{githost.Namespace},
		Scopes:         Scopes,
		NewConfig:      func() collectors.SourceConfig { return &Config{} },
		New: func(cfg collectors.SourceConfig, deps collectors.Deps) (collectors.Collector, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("gitlab: config of type %T: %w", cfg, yardstick.ErrInvalid)
			}
			return New(*c, deps)
		},
		Webhook: func(cfg collectors.SourceConfig, deps collectors.Deps) (http.Handler, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("gitlab: config of type %T: %w", cfg, yardstick.ErrInvalid)
			}
			secret := c.Webhook.Secret
			if secret == "" && c.Webhook.SecretEnv != "" && deps.Getenv != nil {
				secret = yardstick.Secret(deps.Getenv(c.Webhook.SecretEnv))
			}
			if secret == "" {
				return nil, nil
			}
			col, err := New(*c, deps)
			if err != nil {
				return nil, err
			}
			return col.WebhookHandler(deps.Writer, secret, c.Webhook.MaxBody, deps.Registerer)
		},
		Demo: Demo,
	}
}

// Demo starts a fake GitLab serving the projects of the entities that carry
// the gitlab.com/project-slug annotation, with a deterministic history ending
// at now, and returns a config pointing at it.
func Demo(_ context.Context, entities []yardstick.Entity, now time.Time) (collectors.SourceConfig, func(), error) {
	var projects []string
	for _, e := range entities {
		for _, s := range Scopes(e) {
			if p, ok := ProjectOf(s); ok {
				projects = append(projects, p)
			}
		}
	}
	slices.Sort(projects)
	projects = slices.Compact(projects)
	fake := gitlabfake.New(gitlabfake.Options{Projects: projects, Epoch: now, Token: demoToken})
	// The demo's host-neutral rules read facts.git, which GitLab's facts are
	// visible under; the GitHub-only ones (facts.github) leave GitLab out.
	cfg := &Config{BaseURL: fake.URL, Token: demoToken, Webhook: WebhookConfig{Secret: demoToken}}
	return cfg, fake.Close, nil
}

const demoToken = "glpat-demo"
