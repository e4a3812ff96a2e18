package jira

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

// Annotations that tie an entity to a Jira project, optionally narrowed to a
// component or a label of it.
const (
	AnnotationProjectKey = "jira/project-key"
	AnnotationComponent  = "jira/component"
	AnnotationLabel      = "jira/label"
)

// ProjectScope returns the scope of a Jira project, narrowed by component or
// label when they are set ("jira:KEY", "jira:KEY/component=Payments",
// "jira:KEY/label=api"). ParseScope splits it again.
func ProjectScope(projectKey, component, label string) yardstick.Scope {
	s := SourceName + ":" + strings.ToUpper(projectKey)
	if component != "" {
		s += "/component=" + component
	}
	if label != "" {
		s += "/label=" + label
	}
	return yardstick.Scope(s)
}

// ScopesOf returns the scope e's Jira annotations name, or nil.
func ScopesOf(e yardstick.Entity) []yardstick.Scope {
	key := strings.TrimSpace(e.Annotations[AnnotationProjectKey])
	if key == "" {
		return nil
	}
	return []yardstick.Scope{ProjectScope(key, strings.TrimSpace(e.Annotations[AnnotationComponent]), strings.TrimSpace(e.Annotations[AnnotationLabel]))}
}

// Source describes the Jira source to the binary's registry.
func Source() collectors.Source {
	return collectors.Source{
		Name:        SourceName,
		Annotations: []string{AnnotationProjectKey, AnnotationComponent, AnnotationLabel},
		Scopes:      ScopesOf,
		NewConfig:   func() collectors.SourceConfig { return &FileConfig{} },
		New: func(sc collectors.SourceConfig, deps collectors.Deps) (collectors.Collector, error) {
			c, err := fileConfig(sc)
			if err != nil {
				return nil, err
			}
			return newCollector(c.Runtime(), deps)
		},
		Webhook: webhookFromFile,
		Demo:    demo,
	}
}

// FileConfig is the `jira:` section of yardstick.yaml. Secrets are named by
// environment variable, never written in the file.
//
//	jira:
//	  base_url: https://acme.atlassian.net    # or https://jira.example.com for Server / Data Center
//	  flavor: cloud                           # cloud (e-mail + API token) or server (personal access token)
//	  email: yardstick-bot@acme.com           # cloud only
//	  token_env: JIRA_API_TOKEN               # cloud API token or server PAT (default JIRA_API_TOKEN)
//	  story_points_field: customfield_10016   # empty: no story points
//	  bug_types: [Bug]                        # issue types counted as bugs (default [Bug])
//	  backfill_days: 365                      # a full sync reads issues updated this far back (0: all)
//	  overlap: 2m                             # incremental runs re-read this much before each cursor
//	  page_size: 100                          # issues per search page
//	  projects_per_query: 20                  # projects sharing one JQL search
//	  time_zone: ""                           # zone JQL dates are read in; empty asks Jira (/myself)
//	  timeout: 30m                            # one run
//	  webhook:
//	    secret_env: JIRA_WEBHOOK_SECRET               # shared secret, ?secret= or X-Webhook-Secret
//	    signing_secret_env: JIRA_WEBHOOK_SIGNING_KEY  # HMAC key of X-Hub-Signature: sha256=...
//	    max_body_bytes: 10485760
type FileConfig struct {
	collectors.FileSection `yaml:",inline"`  // base_url, token_env, backfill_days, timeout
	Flavor                 string            `yaml:"flavor"`
	Email                  string            `yaml:"email"`
	StoryPointsField       string            `yaml:"story_points_field"`
	BugTypes               []string          `yaml:"bug_types"`
	Overlap                time.Duration     `yaml:"overlap"`
	PageSize               int               `yaml:"page_size"`
	ProjectsPerQuery       int               `yaml:"projects_per_query"`
	TimeZone               string            `yaml:"time_zone"`
	Webhook                WebhookFileConfig `yaml:"webhook"`

	collectors.Resolved[Config] `yaml:"-"` // set by Validate (or by the demo)
}

// WebhookFileConfig is `jira.webhook`.
type WebhookFileConfig struct {
	SecretEnv        string `yaml:"secret_env"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	MaxBodyBytes     int64  `yaml:"max_body_bytes"`
}

// Enabled reports whether the section sets any key.
func (c *FileConfig) Enabled() bool { return !reflect.ValueOf(*c).IsZero() }

// Hash is Config.Hash of what the file describes; credentials are left out.
func (c *FileConfig) Hash() string { return c.base().Hash() }

func (c *FileConfig) base() Config {
	flavor := Flavor(strings.ToLower(c.Flavor))
	if flavor == "" {
		flavor = Cloud
	}
	return Config{
		BaseURL: c.BaseURL, Flavor: flavor,
		StoryPointsField: c.StoryPointsField, BugTypes: c.BugTypes,
		Backfill: c.Backfill(), Overlap: c.Overlap,
		PageSize: c.PageSize, ProjectsPerQuery: c.ProjectsPerQuery, TimeZone: c.TimeZone,
	}
}

// Validate reads the token from the environment and checks every key;
// errors name the key and wrap yardstick.ErrInvalid.
func (c *FileConfig) Validate(getenv func(string) string) error {
	return c.Resolve(c.collectorConfig(getenv))
}

func (c *FileConfig) collectorConfig(getenv func(string) string) (Config, error) {
	token, err := c.Check(getenv, SourceName, "JIRA_API_TOKEN",
		collectors.IntKey{Key: "page_size", Value: c.PageSize}, collectors.IntKey{Key: "projects_per_query", Value: c.ProjectsPerQuery})
	if err != nil {
		return Config{}, err
	}
	if c.Overlap < 0 {
		return Config{}, fmt.Errorf("jira.overlap: %s is negative: %w", c.Overlap, yardstick.ErrInvalid)
	}
	cfg := c.base()
	if cfg.Flavor == Server {
		cfg.PersonalAccessToken = token
	} else {
		cfg.Email, cfg.APIToken = c.Email, token
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("jira: %w", err)
	}
	return cfg, nil
}

func fileConfig(sc collectors.SourceConfig) (*FileConfig, error) {
	return collectors.ValidConfig[*FileConfig](SourceName, sc)
}

func newCollector(cfg Config, deps collectors.Deps) (*Collector, error) {
	c, err := New(cfg, deps.HTTPClientFor(SourceName, collectors.RetryConfig{}), deps.Catalog, deps.Cursors, deps.Logger)
	if err != nil {
		return nil, err
	}
	if deps.Now != nil {
		c = c.WithClock(deps.Now)
	}
	return c, nil
}

// webhookFromFile builds the handler for POST /webhooks/jira, or nil when
// neither a shared secret nor a signing secret is configured (the route is
// then not mounted: an unauthenticated endpoint would let anyone write events).
func webhookFromFile(sc collectors.SourceConfig, deps collectors.Deps) (http.Handler, error) {
	c, err := fileConfig(sc)
	if err != nil {
		return nil, err
	}
	wc := WebhookConfig{MaxBodyBytes: c.Webhook.MaxBodyBytes}
	for _, s := range []struct {
		key, env string
		into     *yardstick.Secret
	}{
		{"jira.webhook.secret_env", c.Webhook.SecretEnv, &wc.Secret},
		{"jira.webhook.signing_secret_env", c.Webhook.SigningSecretEnv, &wc.SigningSecret},
	} {
		if s.env == "" {
			continue
		}
		if *s.into, err = collectors.EnvSecret(deps.Getenv, s.key, s.env, ""); err != nil {
			return nil, err
		}
	}
	if wc.Secret == "" && wc.SigningSecret == "" {
		return nil, nil
	}
	col, err := newCollector(c.Runtime(), deps)
	if err != nil {
		return nil, err
	}
	return col.WebhookHandler(wc, deps.Writer, deps.Registerer), nil
}

// demo serves a fake Jira Cloud on loopback for the Jira projects the
// entities name (with the components and labels they narrow to); its issues
// are created over the 90 days before now.
func demo(_ context.Context, entities []yardstick.Entity, now time.Time) (collectors.SourceConfig, func(), error) {
	opts := jirafake.Options{
		Flavor: "cloud", Email: "demo@yardstick.dev", APIToken: "demo-token",
		Start: now.UTC().Add(-90 * 24 * time.Hour).Truncate(time.Hour), Spread: 80 * 24 * time.Hour, IssuesPerProject: 150,
		Components: map[string][]string{}, Labels: map[string][]string{},
		MaxResults: 100, ChangelogInSearch: 40, ChangelogPageSize: 100, BulkChangelogPageSize: 1000,
	}
	for _, e := range entities {
		for _, s := range ScopesOf(e) {
			key, comp, label, _ := ParseScope(s)
			if !slices.Contains(opts.Projects, key) {
				opts.Projects = append(opts.Projects, key)
			}
			if comp != "" && !slices.Contains(opts.Components[key], comp) {
				opts.Components[key] = append(opts.Components[key], comp)
			}
			if label != "" && !slices.Contains(opts.Labels[key], label) {
				opts.Labels[key] = append(opts.Labels[key], label)
			}
		}
	}
	slices.Sort(opts.Projects)
	baseURL, stop, err := jirafake.New(opts).Start()
	if err != nil {
		return nil, nil, fmt.Errorf("demo jira: %w", err)
	}
	cfg := Config{
		BaseURL: baseURL, Flavor: Cloud, Email: opts.Email, APIToken: yardstick.Secret(opts.APIToken),
		StoryPointsField: jirafake.StoryPointsField,
	}
	return &FileConfig{FileSection: collectors.FileSection{BaseURL: baseURL}, StoryPointsField: cfg.StoryPointsField, Resolved: collectors.ResolvedTo(cfg)}, stop, nil
}
