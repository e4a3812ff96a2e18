package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
	"github.com/yardstick-dev/yardstick/store"
)

// githubConfig is the `github:` section of yardstick.yaml. Secrets are named by
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
type githubConfig struct {
	BaseURL           string              `yaml:"base_url"`
	TokenEnv          string              `yaml:"token_env"`
	App               *githubAppConfig    `yaml:"app"`
	BackfillDays      int                 `yaml:"backfill_days"`
	RunLookback       time.Duration       `yaml:"run_lookback"`
	Concurrency       int                 `yaml:"concurrency"`
	MaxShippedCommits int                 `yaml:"max_shipped_commits"`
	FileFacts         []githubFileFact    `yaml:"file_facts"`
	Timeout           time.Duration       `yaml:"timeout"`
	ReconcileInterval time.Duration       `yaml:"reconcile_interval"`
	Webhook           githubWebhookConfig `yaml:"webhook"`
}

type githubAppConfig struct {
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKeyFile string `yaml:"private_key_file"`
	PrivateKeyEnv  string `yaml:"private_key_env"`
}

type githubFileFact struct {
	Name    string `yaml:"name"`
	Path    string `yaml:"path"`
	Pattern string `yaml:"pattern"`
}

type githubWebhookConfig struct {
	SecretEnv    string `yaml:"secret_env"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
}

// collectorConfig reads the credentials from the environment (or the app key
// file) and checks every key.
func (c githubConfig) collectorConfig(getenv func(string) string) (github.Config, error) {
	cfg := github.Config{
		BaseURL: c.BaseURL, Backfill: time.Duration(c.BackfillDays) * 24 * time.Hour, RunLookback: c.RunLookback,
		Concurrency: c.Concurrency, MaxShippedCommits: c.MaxShippedCommits,
	}
	for key, v := range map[string]int{"backfill_days": c.BackfillDays, "concurrency": c.Concurrency, "max_shipped_commits": c.MaxShippedCommits} {
		if v < 0 {
			return cfg, fmt.Errorf("github.%s: %d is negative: %w", key, v, yardstick.ErrInvalid)
		}
	}
	for _, ff := range c.FileFacts {
		cfg.FileFacts = append(cfg.FileFacts, github.FileFact{Name: ff.Name, Path: ff.Path, Pattern: ff.Pattern})
	}
	if c.App != nil {
		app := &github.AppConfig{AppID: c.App.AppID, InstallationID: c.App.InstallationID}
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
	env := firstNonEmpty(c.TokenEnv, "GITHUB_TOKEN")
	cfg.Token = yardstick.Secret(getenv(env))
	if cfg.Token == "" {
		return cfg, fmt.Errorf("github: environment variable %s (github.token_env) is empty, and no github.app is configured: %w", env, yardstick.ErrInvalid)
	}
	return cfg, nil
}

// githubEvents adapts *store.DB to github.EventStore for the reconcile pass.
type githubEvents struct{ db *store.DB }

func (g githubEvents) ScopeEvents(ctx context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error) {
	return g.db.Events(ctx, store.EventFilter{Source: source, Types: types, Scopes: []yardstick.Scope{scope}, Since: since})
}

func (g githubEvents) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	return g.db.DeleteEvents(ctx, events)
}

// newGitHubCollector builds the collector on a retrying, metered transport that
// waits out GitHub's hour-long rate-limit windows, with the catalog, cursors and
// ETags in db.
func (a *app) newGitHubCollector(db *store.DB, cfg github.Config) (*github.Collector, error) {
	tr := collectors.NewTransport(nil, github.Source, github.RetryConfig(), a.metrics)
	deps := github.Deps{Cursors: db, Catalog: db, Events: githubEvents{db}, Now: a.now}
	return github.New(cfg, &http.Client{Transport: tr, Timeout: 2 * time.Minute}, deps, a.logger)
}

// runGitHub runs the collector once through the runner (watermark, metrics),
// then, when reconcile is set, the reconcile pass; it prints what happened.
func (a *app) runGitHub(ctx context.Context, c *github.Collector, db *store.DB, timeout time.Duration, reconcile bool) (collectors.Report, error) {
	rep, err := a.runCollector(ctx, db, c, c.ConfigHash(), timeout)
	if err != nil || !reconcile {
		return rep, err
	}
	rr, err := c.Reconcile(ctx)
	fmt.Fprintf(a.out, "github: reconcile: %d deleted deployments, %d repositories gone from the catalog, %d events removed\n",
		rr.DeploymentsDeleted, len(rr.ReposRemoved), rr.EventsDeleted)
	for _, f := range collectors.Failures(err) {
		fmt.Fprintf(a.out, "  failed: %s\n", f)
		rep.Failures = append(rep.Failures, f)
	}
	return rep, err
}

// newCollectGitHubCmd is `yardstick collect github`.
func newCollectGitHubCmd(a *app) *cobra.Command {
	var full, reconcile bool
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Collect GitHub pull requests, reviews, commits, deployments, CI runs, releases and repository facts once",
		Long: `Collect, for every repository a catalog entity names in its
github.com/project-slug annotation: pull requests (opened, merged, closed),
reviews, default-branch commits, deployments with their statuses and the commits
each successful deployment shipped, Actions workflow runs and releases as events;
the repository, branch protection, well-known files, go.mod, package.json,
Dockerfile images and github.file_facts as facts.

A repository's first run reads github.backfill_days; later runs read what changed
since its cursor with conditional requests, so an unchanged repository costs a
handful of 304 answers. A change of the github config starts a full sync again.
--reconcile then removes the events of deployments deleted on GitHub and of
repositories gone from the catalog. When some repositories fail, the others are
stored and the command exits 1 naming each failure with its endpoint and status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gc := a.cfg.GitHub
			cfg, err := gc.collectorConfig(os.Getenv)
			if err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			c, err := a.newGitHubCollector(db, cfg)
			if err != nil {
				return err
			}
			c.ForceFull(full)
			rep, err := a.runGitHub(cmd.Context(), c, db, gc.Timeout, reconcile)
			if len(rep.Failures) > 0 {
				return exitError{code: 1}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "ignore cursors and ETags and re-read the whole backfill window")
	cmd.Flags().BoolVar(&reconcile, "reconcile", false, "after collecting, remove what was deleted upstream or left the catalog")
	return cmd
}

// newGitHubWebhook builds the handler for POST /webhooks/github, or nil when no
// webhook secret is configured (an unsigned endpoint would let anyone write events).
func (a *app) newGitHubWebhook(db *store.DB, w collectors.Writer) (http.Handler, error) {
	gc := a.cfg.GitHub
	if gc.Webhook.SecretEnv == "" {
		return nil, nil
	}
	secret := os.Getenv(gc.Webhook.SecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("github.webhook.secret_env: environment variable %s is empty: %w", gc.Webhook.SecretEnv, yardstick.ErrInvalid)
	}
	cfg, err := gc.collectorConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := a.newGitHubCollector(db, cfg)
	if err != nil {
		return nil, err
	}
	h, err := c.WebhookHandler(w, github.WebhookConfig{Secret: yardstick.Secret(secret), MaxBody: gc.Webhook.MaxBodyBytes})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// gitHubJobs are serve's scheduled GitHub jobs: the collector on interval and
// the reconcile pass on github.reconcile_interval (default daily).
func (a *app) gitHubJobs(db *store.DB, runner *collectors.Runner, interval time.Duration) ([]job, error) {
	cfg, err := a.cfg.GitHub.collectorConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := a.newGitHubCollector(db, cfg)
	if err != nil {
		return nil, err
	}
	every := a.cfg.GitHub.ReconcileInterval
	if every <= 0 {
		every = 24 * time.Hour
	}
	reconcile := job{Name: "github-reconcile", Interval: every, Run: func(ctx context.Context) error {
		_, err := c.Reconcile(ctx)
		return err
	}}
	return []job{collectorJob(runner, c, c.ConfigHash(), interval), reconcile}, nil
}

// runGitHubDemo serves a fake GitHub on loopback with a deterministic history
// (120 days up to now) for every repository of the catalog in db, collects from
// it like from the real API, runs an incremental sync to show its cost, and
// stops the fake. It does not reconcile: the demo's generated events share the
// repositories' scopes, and reconcile would remove the generated deployments
// the fake does not know.
func (a *app) runGitHubDemo(ctx context.Context, db *store.DB) (collectors.Report, error) {
	mappings, err := db.ScopeMappings(ctx)
	if err != nil {
		return collectors.Report{}, err
	}
	seen := map[string]bool{}
	var slugs []string
	for _, m := range mappings {
		if slug, ok := github.SlugOf(m.Scope); ok && !seen[slug] {
			seen[slug] = true
			slugs = append(slugs, slug)
		}
	}
	if len(slugs) == 0 {
		return collectors.Report{}, errors.New("demo github: no catalog entity has a github.com/project-slug annotation")
	}
	sort.Strings(slugs)
	const token = "demo-token"
	fake := githubfake.New(githubfake.Options{Repos: slugs, Epoch: a.now(), Now: a.now, Token: token})
	defer fake.Close()
	c, err := a.newGitHubCollector(db, github.Config{BaseURL: fake.URL, Token: token})
	if err != nil {
		return collectors.Report{}, err
	}
	rep, err := a.runGitHub(ctx, c, db, 10*time.Minute, false)
	if err != nil {
		return rep, err
	}
	full := fake.Stats()
	fake.ResetStats()
	if _, err := a.runGitHub(ctx, c, db, 10*time.Minute, false); err != nil {
		return rep, err
	}
	inc := fake.Stats()
	fmt.Fprintf(a.out, "github: fake GitHub for %d repositories answered %d requests for the first sync, %d (%d of them 304) for the next\n",
		len(slugs), full.Requests, inc.Requests, inc.NotModified)
	return rep, nil
}
