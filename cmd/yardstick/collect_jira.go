package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
	"github.com/yardstick-dev/yardstick/store"
)

// jiraConfig is the `jira:` section of yardstick.yaml. Secrets are named by
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
type jiraConfig struct {
	BaseURL          string            `yaml:"base_url"`
	Flavor           string            `yaml:"flavor"`
	Email            string            `yaml:"email"`
	TokenEnv         string            `yaml:"token_env"`
	StoryPointsField string            `yaml:"story_points_field"`
	BugTypes         []string          `yaml:"bug_types"`
	BackfillDays     int               `yaml:"backfill_days"`
	Overlap          time.Duration     `yaml:"overlap"`
	PageSize         int               `yaml:"page_size"`
	ProjectsPerQuery int               `yaml:"projects_per_query"`
	TimeZone         string            `yaml:"time_zone"`
	Timeout          time.Duration     `yaml:"timeout"`
	Webhook          jiraWebhookConfig `yaml:"webhook"`
}

type jiraWebhookConfig struct {
	SecretEnv        string `yaml:"secret_env"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	MaxBodyBytes     int64  `yaml:"max_body_bytes"`
}

// collectorConfig reads the token from the environment and checks every key.
func (c jiraConfig) collectorConfig(getenv func(string) string) (jira.Config, error) {
	env := firstNonEmpty(c.TokenEnv, "JIRA_API_TOKEN")
	token := yardstick.Secret(getenv(env))
	if token == "" {
		return jira.Config{}, fmt.Errorf("jira: environment variable %s (jira.token_env) is empty: %w", env, yardstick.ErrInvalid)
	}
	for key, v := range map[string]int{"backfill_days": c.BackfillDays, "page_size": c.PageSize, "projects_per_query": c.ProjectsPerQuery} {
		if v < 0 {
			return jira.Config{}, fmt.Errorf("jira.%s: %d is negative: %w", key, v, yardstick.ErrInvalid)
		}
	}
	if c.Overlap < 0 {
		return jira.Config{}, fmt.Errorf("jira.overlap: %s is negative: %w", c.Overlap, yardstick.ErrInvalid)
	}
	cfg := jira.Config{
		BaseURL: c.BaseURL, Flavor: jira.Flavor(firstNonEmpty(strings.ToLower(c.Flavor), string(jira.Cloud))),
		StoryPointsField: c.StoryPointsField, BugTypes: c.BugTypes,
		Backfill: time.Duration(c.BackfillDays) * 24 * time.Hour, Overlap: c.Overlap,
		PageSize: c.PageSize, ProjectsPerQuery: c.ProjectsPerQuery, TimeZone: c.TimeZone,
	}
	if cfg.Flavor == jira.Server {
		cfg.PersonalAccessToken = token
	} else {
		cfg.Email, cfg.APIToken = c.Email, token
	}
	if err := cfg.Validate(); err != nil {
		return jira.Config{}, fmt.Errorf("jira: %w", err)
	}
	return cfg, nil
}

// newJiraCollector builds the collector on a retrying, metered transport,
// reading the catalog and keeping cursors in db.
func (a *app) newJiraCollector(db *store.DB, cfg jira.Config) (*jira.Collector, error) {
	tr := collectors.NewTransport(nil, jira.Source, collectors.RetryConfig{}, a.metrics)
	c, err := jira.New(cfg, &http.Client{Transport: tr, Timeout: 2 * time.Minute}, db, db, a.logger)
	if err != nil {
		return nil, err
	}
	return c.WithClock(a.now), nil
}

// runJira runs the collector once from its watermark and prints the report.
func (a *app) runJira(ctx context.Context, db *store.DB, cfg jira.Config, timeout time.Duration) (collectors.Report, error) {
	c, err := a.newJiraCollector(db, cfg)
	if err != nil {
		return collectors.Report{}, err
	}
	return a.runCollector(ctx, db, c, c.ConfigHash(), timeout)
}

// newCollectJiraCmd is `yardstick collect jira`.
func newCollectJiraCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "jira",
		Short: "Collect Jira tickets and open-bug facts for the catalog's projects once",
		Long: `Collect ticket events (created, every status transition with its status
categories, resolved, reopened; with issue type, priority, labels, components
and story points) and per-scope facts (open bugs by priority, age of the oldest
open bug) for every Jira project a catalog entity names in its jira/project-key
annotation, narrowed by jira/component or jira/label when those are set.

The first run reads jira.backfill_days; later runs read, project by project,
what was updated since that project's last successful run. A project new in the
catalog is read in full. A change of the jira config starts a full sync again.
When some projects fail, the others are stored and the command exits 1 naming
each failure with its endpoint and HTTP status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			jc := a.cfg.Jira
			cfg, err := jc.collectorConfig(os.Getenv)
			if err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rep, err := a.runJira(cmd.Context(), db, cfg, jc.Timeout)
			if len(rep.Failures) > 0 {
				return exitError{code: 1}
			}
			return err
		},
	}
}

// newJiraWebhook builds the handler for POST /webhooks/jira, or nil when
// neither a shared secret nor a signing secret is configured (the route is
// then not mounted: an unauthenticated endpoint would let anyone write events).
func (a *app) newJiraWebhook(db *store.DB, w collectors.Writer) (*jira.WebhookHandler, error) {
	jc := a.cfg.Jira
	wc := jira.WebhookConfig{MaxBodyBytes: jc.Webhook.MaxBodyBytes}
	for _, s := range []struct {
		key, env string
		into     *yardstick.Secret
	}{
		{"jira.webhook.secret_env", jc.Webhook.SecretEnv, &wc.Secret},
		{"jira.webhook.signing_secret_env", jc.Webhook.SigningSecretEnv, &wc.SigningSecret},
	} {
		if s.env == "" {
			continue
		}
		v := os.Getenv(s.env)
		if v == "" {
			return nil, fmt.Errorf("%s: environment variable %s is empty: %w", s.key, s.env, yardstick.ErrInvalid)
		}
		*s.into = yardstick.Secret(v)
	}
	if wc.Secret == "" && wc.SigningSecret == "" {
		return nil, nil
	}
	cfg, err := jc.collectorConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := a.newJiraCollector(db, cfg)
	if err != nil {
		return nil, err
	}
	return c.WebhookHandler(wc, w, a.registry), nil
}

// runJiraDemo serves a fake Jira Cloud on loopback for the Jira projects of
// the catalog in db (with the components and labels the catalog narrows to),
// collects from it like from the real API, and stops the fake. The fake's
// issues are created over the 90 days before now.
func (a *app) runJiraDemo(ctx context.Context, db *store.DB) (collectors.Report, error) {
	mappings, err := db.ScopeMappings(ctx)
	if err != nil {
		return collectors.Report{}, err
	}
	opts := jirafake.Options{
		Flavor: "cloud", Email: "demo@yardstick.dev", APIToken: "demo-token",
		Start: a.now().UTC().Add(-90 * 24 * time.Hour).Truncate(time.Hour), Spread: 80 * 24 * time.Hour, IssuesPerProject: 150,
		Components: map[string][]string{}, Labels: map[string][]string{},
		MaxResults: 100, ChangelogInSearch: 40, ChangelogPageSize: 100, BulkChangelogPageSize: 1000,
	}
	for _, m := range mappings {
		key, comp, label, ok := jira.ParseScope(m.Scope)
		if !ok {
			continue
		}
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
	slices.Sort(opts.Projects)
	fake := jirafake.New(opts)
	baseURL, stop, err := fake.Start()
	if err != nil {
		return collectors.Report{}, err
	}
	defer stop()
	cfg := jira.Config{
		BaseURL: baseURL, Flavor: jira.Cloud, Email: opts.Email, APIToken: yardstick.Secret(opts.APIToken),
		StoryPointsField: jirafake.StoryPointsField,
	}
	rep, err := a.runJira(ctx, db, cfg, 10*time.Minute)
	fmt.Fprintf(a.out, "jira: fake Jira for %d projects answered %d requests\n", len(opts.Projects), fake.Requests())
	return rep, err
}
