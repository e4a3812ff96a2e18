package github

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
)

// AnnotationSlug names an entity's repository ("org/repo").
const AnnotationSlug = "github.com/project-slug"

// RepoScope returns the scope of a repository slug ("org/repo").
func RepoScope(slug string) yardstick.Scope {
	return yardstick.Scope(SourceName + ":" + strings.ToLower(slug))
}

// Source describes the GitHub source to the binary's registry.
func Source() collectors.Source {
	return collectors.Source{
		Name:        SourceName,
		Annotations: []string{AnnotationSlug},
		// Rules read the facts as facts.git.* too, whichever host a repository is on.
		FactNamespaces: []string{githost.Namespace},
		Scopes: func(e yardstick.Entity) []yardstick.Scope {
			if slug := strings.TrimSpace(e.Annotations[AnnotationSlug]); slug != "" {
				return []yardstick.Scope{RepoScope(slug)}
			}
			return nil
		},
		NewConfig: func() collectors.SourceConfig { return &FileConfig{} },
		New: func(cfg collectors.SourceConfig, deps collectors.Deps) (collectors.Collector, error) {
			return newFromFile(cfg, deps)
		},
		Webhook: webhookFromFile,
		Demo:    demo,
	}
}

// FileConfig is the `github:` section of yardstick.yaml. Secrets are named by
// environment variable (or, for an app key, a file), never written in the file.
//
//	github:
//	  base_url: https://api.github.com/     # GHES: https://ghe.example.com/api/v3/
//	  token_env: GITHUB_TOKEN               # token auth (default GITHUB_TOKEN); or app:
//	  app:
//	    app_id: 123456
//	    installation_id: 7654321
//	    private_key_file: /etc/yardstick/github-app.pem   # or private_key_env: GITHUB_APP_KEY
//	  backfill_days: 90                     # a full sync reads this far back (default 90)
//	  run_lookback: 24h                     # re-read workflow runs this far before the last seen
//	  concurrency: 4                        # repositories collected at once
//	  max_shipped_commits: 2500             # cap on the commits one deployment records
//	  file_facts:                           # extra facts: first capture group of pattern in path
//	    - {name: node_version, path: .nvmrc, pattern: '^v?(\d+)'}
//	  timeout: 30m                          # one run
//	  reconcile_interval: 24h               # serve: how often deleted deployments and repos are removed
//	  webhook:
//	    secret_env: GITHUB_WEBHOOK_SECRET   # mounts POST /webhooks/github when set
//	    max_body_bytes: 26214400
type FileConfig struct {
	collectors.FileSection `yaml:",inline"`  // base_url, token_env, backfill_days, timeout
	App                    *AppFileConfig    `yaml:"app"`
	RunLookback            time.Duration     `yaml:"run_lookback"`
	Concurrency            int               `yaml:"concurrency"`
	MaxShippedCommits      int               `yaml:"max_shipped_commits"`
	FileFacts              []FileFactConfig  `yaml:"file_facts"`
	ReconcileInterval      time.Duration     `yaml:"reconcile_interval"`
	Webhook                WebhookFileConfig `yaml:"webhook"`

	collectors.Resolved[Config] `yaml:"-"` // set by Validate (or by the demo)
}

// AppFileConfig is `github.app`.
type AppFileConfig struct {
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKeyFile string `yaml:"private_key_file"`
	PrivateKeyEnv  string `yaml:"private_key_env"`
}

// FileFactConfig is one entry of `github.file_facts`.
type FileFactConfig struct {
	Name    string `yaml:"name"`
	Path    string `yaml:"path"`
	Pattern string `yaml:"pattern"`
}

// WebhookFileConfig is `github.webhook`.
type WebhookFileConfig struct {
	SecretEnv    string `yaml:"secret_env"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
}

// Enabled reports whether the section sets any key.
func (c *FileConfig) Enabled() bool { return !reflect.ValueOf(*c).IsZero() }

// Hash identifies what is collected (base URL, backfill, shipped-commit cap,
// file facts); credentials are left out, so rotating them never forces a
// full sync.
func (c *FileConfig) Hash() string {
	cfg, _, _, err := c.base().withDefaults()
	if err != nil {
		return ""
	}
	return cfg.hash()
}

// base is the collector config the file describes, without credentials.
func (c *FileConfig) base() Config {
	cfg := Config{
		BaseURL: c.BaseURL, Backfill: c.Backfill(), RunLookback: c.RunLookback,
		Concurrency: c.Concurrency, MaxShippedCommits: c.MaxShippedCommits,
	}
	for _, ff := range c.FileFacts {
		cfg.FileFacts = append(cfg.FileFacts, FileFact{Name: ff.Name, Path: ff.Path, Pattern: ff.Pattern})
	}
	return cfg
}

// Validate reads the credentials from the environment (or the app key file)
// and checks every key; errors name the key and wrap yardstick.ErrInvalid.
func (c *FileConfig) Validate(getenv func(string) string) error {
	cfg, err := c.collectorConfig(getenv)
	if err == nil {
		if _, _, _, err = cfg.withDefaults(); err != nil {
			err = fmt.Errorf("github: %w", err)
		}
	}
	return c.Resolve(cfg, err)
}

func (c *FileConfig) collectorConfig(getenv func(string) string) (Config, error) {
	cfg := c.base()
	if err := collectors.NonNegative(SourceName, collectors.IntKey{Key: "backfill_days", Value: c.BackfillDays},
		collectors.IntKey{Key: "concurrency", Value: c.Concurrency}, collectors.IntKey{Key: "max_shipped_commits", Value: c.MaxShippedCommits}); err != nil {
		return cfg, err
	}
	if c.App != nil {
		app := &AppConfig{AppID: c.App.AppID, InstallationID: c.App.InstallationID}
		switch {
		case c.App.PrivateKeyFile != "":
			b, err := os.ReadFile(c.App.PrivateKeyFile)
			if err != nil {
				return cfg, fmt.Errorf("github.app.private_key_file: %w", err)
			}
			app.PrivateKey = yardstick.Secret(b)
		case c.App.PrivateKeyEnv != "":
			app.PrivateKey = yardstick.Secret(getenv(c.App.PrivateKeyEnv))
			if app.PrivateKey == "" {
				return cfg, fmt.Errorf("github.app.private_key_env: environment variable %s is empty: %w", c.App.PrivateKeyEnv, yardstick.ErrInvalid)
			}
		default:
			return cfg, fmt.Errorf("github.app: set private_key_file or private_key_env: %w", yardstick.ErrInvalid)
		}
		cfg.App = app
		return cfg, nil
	}
	token, err := collectors.EnvSecret(getenv, "github.token_env", c.TokenEnv, "GITHUB_TOKEN")
	if err != nil {
		return cfg, fmt.Errorf("github: %w, and no github.app is configured", err)
	}
	cfg.Token = token
	return cfg, nil
}

func fileConfig(sc collectors.SourceConfig) (*FileConfig, error) {
	return collectors.ValidConfig[*FileConfig](SourceName, sc)
}

// sourceCollector is the Collector the registry builds: the collector plus
// its scheduled reconcile pass.
type sourceCollector struct {
	*Collector
	every time.Duration
}

// ReconcileOnce runs Reconcile and sums it up in one line.
func (c sourceCollector) ReconcileOnce(ctx context.Context) (string, error) {
	rr, err := c.Reconcile(ctx)
	return fmt.Sprintf("%d deleted deployments, %d repositories gone from the catalog, %d events removed",
		rr.DeploymentsDeleted, len(rr.ReposRemoved), rr.EventsDeleted), err
}

// ReconcileInterval is `github.reconcile_interval` (default daily).
func (c sourceCollector) ReconcileInterval() time.Duration { return c.every }

func newCollector(c *FileConfig, deps collectors.Deps) (*Collector, error) {
	hc := deps.HTTPClientFor(SourceName, RetryConfig())
	return New(c.Runtime(), hc, Deps{Cursors: deps.Cursors, Catalog: deps.Catalog, Events: deps.Events, Now: deps.Now}, deps.Logger)
}

func newFromFile(sc collectors.SourceConfig, deps collectors.Deps) (collectors.Collector, error) {
	c, err := fileConfig(sc)
	if err != nil {
		return nil, err
	}
	col, err := newCollector(c, deps)
	if err != nil {
		return nil, err
	}
	every := c.ReconcileInterval
	if every <= 0 {
		every = 24 * time.Hour
	}
	return sourceCollector{Collector: col, every: every}, nil
}

// webhookFromFile builds the handler for POST /webhooks/github, or nil when no
// webhook secret is configured (an unsigned endpoint would let anyone write events).
func webhookFromFile(sc collectors.SourceConfig, deps collectors.Deps) (http.Handler, error) {
	c, err := fileConfig(sc)
	if err != nil {
		return nil, err
	}
	if c.Webhook.SecretEnv == "" {
		return nil, nil
	}
	secret, err := collectors.EnvSecret(deps.Getenv, "github.webhook.secret_env", c.Webhook.SecretEnv, "")
	if err != nil {
		return nil, err
	}
	col, err := newCollector(c, deps)
	if err != nil {
		return nil, err
	}
	return col.WebhookHandler(deps.Writer, WebhookConfig{Secret: secret, MaxBody: c.Webhook.MaxBodyBytes, Registerer: deps.Registerer})
}

// demo serves a fake GitHub on loopback with a deterministic history (120
// days up to now) for every repository the entities name.
func demo(_ context.Context, entities []yardstick.Entity, now time.Time) (collectors.SourceConfig, func(), error) {
	var slugs []string
	for _, e := range entities {
		if slug := strings.ToLower(strings.TrimSpace(e.Annotations[AnnotationSlug])); slug != "" && !slices.Contains(slugs, slug) {
			slugs = append(slugs, slug)
		}
	}
	if len(slugs) == 0 {
		return nil, nil, fmt.Errorf("demo github: no catalog entity has a %s annotation", AnnotationSlug)
	}
	slices.Sort(slugs)
	const token = "demo-token"
	fake := githubfake.New(githubfake.Options{Repos: slugs, Epoch: now, Now: func() time.Time { return now }, Token: token})
	return &FileConfig{FileSection: collectors.FileSection{BaseURL: fake.URL}, Resolved: collectors.ResolvedTo(Config{BaseURL: fake.URL, Token: token})}, fake.Close, nil
}
