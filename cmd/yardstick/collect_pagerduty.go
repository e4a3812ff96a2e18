package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

var _ pagerduty.EventDeleter = (*store.DB)(nil)

// pagerdutyConfig is the `pagerduty:` section of yardstick.yaml. Secrets are
// named by environment variable, never written in the file.
//
//	pagerduty:
//	  base_url: https://api.pagerduty.com   # default
//	  token_env: PAGERDUTY_TOKEN            # REST API key (default PAGERDUTY_TOKEN)
//	  oauth: false                          # the token is an OAuth access token
//	  backfill_days: 90                     # a full sync reads this far back
//	  max_window_days: 179                  # longest since/until range per request (PagerDuty: 6 months)
//	  overlap: 5m                           # incremental runs re-read this much before the watermark
//	  batch_size: 20                        # services per incidents request, policies per on-call request
//	  concurrency: 4                        # incident logs read at once
//	  timeout: 30m                          # one run
//	  working_hours:
//	    default: {time_zone: UTC, start: "09:00", end: "18:00", days: [mon, tue, wed, thu, fri]}
//	    groups:
//	      group:default/payments-otters: {time_zone: Europe/Berlin, start: "08:00", end: "16:00"}
//	  webhook:
//	    secret_envs: [PAGERDUTY_WEBHOOK_SECRET]   # one per subscription, or old and new while rotating
//	    max_body_bytes: 1048576
//
// A group without working hours inherits its parent's; failing that, the
// default hours apply in the zone of its yardstick.dev/timezone annotation.
type pagerdutyConfig struct {
	BaseURL       string                 `yaml:"base_url"`
	TokenEnv      string                 `yaml:"token_env"`
	OAuth         bool                   `yaml:"oauth"`
	BackfillDays  int                    `yaml:"backfill_days"`
	MaxWindowDays int                    `yaml:"max_window_days"`
	Overlap       time.Duration          `yaml:"overlap"`
	BatchSize     int                    `yaml:"batch_size"`
	Concurrency   int                    `yaml:"concurrency"`
	Timeout       time.Duration          `yaml:"timeout"`
	WorkingHours  pagerdutyHoursConfig   `yaml:"working_hours"`
	Webhook       pagerdutyWebhookConfig `yaml:"webhook"`
}

type pagerdutyHoursConfig struct {
	Default workingHoursConfig            `yaml:"default"`
	Groups  map[string]workingHoursConfig `yaml:"groups"` // group ref ("group:default/x" or "x") -> hours
}

type workingHoursConfig struct {
	TimeZone string   `yaml:"time_zone"` // IANA
	Start    string   `yaml:"start"`     // "09:00"
	End      string   `yaml:"end"`       // "17:00"; before start for an overnight span
	Days     []string `yaml:"days"`      // mon..sun; default mon-fri
}

type pagerdutyWebhookConfig struct {
	SecretEnvs   []string `yaml:"secret_envs"`
	MaxBodyBytes int64    `yaml:"max_body_bytes"`
}

// hours validates the working hours into the collector's form.
func (c pagerdutyConfig) hours() (pagerduty.Hours, error) {
	conv := func(key string, w workingHoursConfig) (pagerduty.WorkingHours, error) {
		out := pagerduty.WorkingHours{TimeZone: w.TimeZone, Start: w.Start, End: w.End}
		for _, d := range w.Days {
			wd, err := pagerduty.ParseWeekday(d)
			if err != nil {
				return out, fmt.Errorf("%s.days: %w", key, err)
			}
			out.Days = append(out.Days, wd)
		}
		return out, nil
	}
	var h pagerduty.Hours
	var err error
	if h.Default, err = conv("pagerduty.working_hours.default", c.WorkingHours.Default); err != nil {
		return h, err
	}
	h.Groups = map[yardstick.EntityRef]pagerduty.WorkingHours{}
	for name, w := range c.WorkingHours.Groups {
		key := "pagerduty.working_hours.groups." + name
		ref, err := yardstick.ParseEntityRef(name, "group")
		if err != nil {
			return h, fmt.Errorf("%s: %w", key, err)
		}
		if h.Groups[ref], err = conv(key, w); err != nil {
			return h, err
		}
	}
	if err := h.Validate(); err != nil {
		return h, fmt.Errorf("pagerduty.working_hours: %w", err)
	}
	return h, nil
}

// collectorConfig reads the token from the environment and checks every key.
func (c pagerdutyConfig) collectorConfig(getenv func(string) string) (pagerduty.Config, error) {
	env := firstNonEmpty(c.TokenEnv, "PAGERDUTY_TOKEN")
	token := getenv(env)
	if token == "" {
		return pagerduty.Config{}, fmt.Errorf("pagerduty: environment variable %s (pagerduty.token_env) is empty: %w", env, yardstick.ErrInvalid)
	}
	for key, v := range map[string]int{"backfill_days": c.BackfillDays, "max_window_days": c.MaxWindowDays, "batch_size": c.BatchSize, "concurrency": c.Concurrency} {
		if v < 0 {
			return pagerduty.Config{}, fmt.Errorf("pagerduty.%s: %d is negative: %w", key, v, yardstick.ErrInvalid)
		}
	}
	hours, err := c.hours()
	if err != nil {
		return pagerduty.Config{}, err
	}
	const day = 24 * time.Hour
	return pagerduty.Config{
		BaseURL: c.BaseURL, Token: yardstick.Secret(token), OAuth: c.OAuth,
		Backfill: time.Duration(c.BackfillDays) * day, MaxWindow: time.Duration(c.MaxWindowDays) * day,
		Overlap: c.Overlap, BatchSize: c.BatchSize, Concurrency: c.Concurrency, Hours: hours,
	}, nil
}

// configHash identifies what the collector reads and how; the token is left
// out, so rotating it does not force a full sync.
func pagerdutyConfigHash(cfg pagerduty.Config) string {
	cfg.Token = ""
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// newPagerDutyCollector builds the collector on a retrying, metered transport,
// reading the catalog and keeping cursors in db.
func (a *app) newPagerDutyCollector(db *store.DB, cfg pagerduty.Config) (*pagerduty.Collector, error) {
	tr := collectors.NewTransport(nil, pagerduty.Source, collectors.RetryConfig{}, a.metrics)
	c, err := pagerduty.New(cfg, &http.Client{Transport: tr, Timeout: 2 * time.Minute}, db, db, a.logger)
	if err != nil {
		return nil, err
	}
	return c.WithClock(a.now).WithDeleter(db), nil
}

// configuredPagerDuty builds the collector that `serve` schedules, with the
// config hash its runner needs (collectorJob(runner, c, hash, interval)). It
// returns a nil collector when PagerDuty is not set up: no pagerduty section
// and no token in the environment.
func (a *app) configuredPagerDuty(db *store.DB) (*pagerduty.Collector, string, error) {
	pc := a.cfg.PagerDuty
	if reflect.ValueOf(pc).IsZero() && os.Getenv("PAGERDUTY_TOKEN") == "" {
		return nil, "", nil
	}
	cfg, err := pc.collectorConfig(os.Getenv)
	if err != nil {
		return nil, "", err
	}
	c, err := a.newPagerDutyCollector(db, cfg)
	if err != nil {
		return nil, "", err
	}
	return c, pagerdutyConfigHash(cfg), nil
}

// runPagerDuty runs the collector once from its watermark and prints the report.
func (a *app) runPagerDuty(ctx context.Context, db *store.DB, cfg pagerduty.Config, timeout time.Duration) (collectors.Report, error) {
	c, err := a.newPagerDutyCollector(db, cfg)
	if err != nil {
		return collectors.Report{}, err
	}
	return a.runCollector(ctx, db, c, pagerdutyConfigHash(cfg), timeout)
}

// newCollectPagerDutyCmd is `yardstick collect pagerduty`.
func newCollectPagerDutyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "pagerduty",
		Short: "Collect PagerDuty incidents and on-call facts for the catalog's services once",
		Long: `Collect incidents (triggered, acknowledged, resolved, with urgency, priority,
escalations and whether they paged off-hours) and per-service facts (escalation
policy, on-call levels, someone on call now, service status) for every service a
catalog entity names in its pagerduty.com/service-id annotation.

The first run reads pagerduty.backfill_days; later runs read what changed since
the last successful one, and re-read incidents still open until they resolve.
A change of the pagerduty config starts a full sync again. When some services
fail, the others are stored and the command exits 1 naming each failure with
its endpoint and HTTP status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc := a.cfg.PagerDuty
			cfg, err := pc.collectorConfig(os.Getenv)
			if err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rep, err := a.runPagerDuty(cmd.Context(), db, cfg, pc.Timeout)
			if len(rep.Failures) > 0 {
				return exitError{code: 1}
			}
			return err
		},
	}
}

// newPagerDutyWebhook builds the handler for POST /webhooks/pagerduty, or nil
// when no webhook secret is configured (the route is then not mounted).
func (a *app) newPagerDutyWebhook(db *store.DB, w *spool.Spool) (*pagerduty.WebhookHandler, error) {
	pc := a.cfg.PagerDuty
	if len(pc.Webhook.SecretEnvs) == 0 {
		return nil, nil
	}
	var secrets []yardstick.Secret
	for _, env := range pc.Webhook.SecretEnvs {
		v := os.Getenv(env)
		if v == "" {
			return nil, fmt.Errorf("pagerduty.webhook.secret_envs: environment variable %s is empty: %w", env, yardstick.ErrInvalid)
		}
		secrets = append(secrets, yardstick.Secret(v))
	}
	hours, err := pc.hours()
	if err != nil {
		return nil, err
	}
	h, err := pagerduty.NewWebhookHandler(pagerduty.WebhookConfig{Secrets: secrets, MaxBodyBytes: pc.Webhook.MaxBodyBytes, Hours: hours}, db, w, a.registry, a.logger)
	if err != nil {
		return nil, err
	}
	return h.WithDeleter(w), nil
}

// runPagerDutyDemo serves a fake PagerDuty on loopback for the PagerDuty
// services of the catalog in db, collects from it like from the real API, and
// stops the fake. The fake's incidents span the 90 days before now, two in
// three during the owners' working day.
func (a *app) runPagerDutyDemo(ctx context.Context, db *store.DB) (collectors.Report, error) {
	mappings, err := db.ScopeMappings(ctx)
	if err != nil {
		return collectors.Report{}, err
	}
	entities, err := db.Entities(ctx)
	if err != nil {
		return collectors.Report{}, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, m := range mappings {
		if id, ok := strings.CutPrefix(string(m.Scope), "pagerduty:"); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	const token = "demo-token"
	fake := pagerdutyfake.New(pagerdutyfake.Config{
		ServiceIDs: ids, Seed: 1, Now: a.now, Token: token,
		TimeZones: pagerduty.ServiceTimeZones(mappings, entities), // owners are paged mostly in their own working day
	})
	baseURL, stop, err := fake.Start()
	if err != nil {
		return collectors.Report{}, err
	}
	defer stop()
	hours, err := a.cfg.PagerDuty.hours()
	if err != nil {
		return collectors.Report{}, err
	}
	cfg := pagerduty.Config{BaseURL: baseURL, Token: token, Hours: hours}
	rep, err := a.runPagerDuty(ctx, db, cfg, 10*time.Minute)
	fmt.Fprintf(a.out, "pagerduty: fake PagerDuty for %d services answered %d requests\n", len(ids), fake.Requests())
	return rep, err
}
