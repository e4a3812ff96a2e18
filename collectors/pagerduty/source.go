package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
)

// AnnotationServiceID names an entity's PagerDuty service ("PXXXXXX").
const AnnotationServiceID = "pagerduty.com/service-id"

// ServiceScope returns the scope of a PagerDuty service.
func ServiceScope(serviceID string) yardstick.Scope {
	return yardstick.Scope(SourceName + ":" + serviceID)
}

// ScopesOf returns the scope e's PagerDuty annotation names, or nil.
func ScopesOf(e yardstick.Entity) []yardstick.Scope {
	if id := strings.TrimSpace(e.Annotations[AnnotationServiceID]); id != "" {
		return []yardstick.Scope{ServiceScope(id)}
	}
	return nil
}

// Source describes the PagerDuty source to the binary's registry.
func Source() collectors.Source {
	return collectors.Source{
		Name:        SourceName,
		Annotations: []string{AnnotationServiceID},
		Scopes:      ScopesOf,
		NewConfig:   func() collectors.SourceConfig { return &FileConfig{} },
		New: func(sc collectors.SourceConfig, deps collectors.Deps) (collectors.Collector, error) {
			c, err := fileConfig(sc)
			if err != nil {
				return nil, err
			}
			col, err := New(c.Runtime(), deps.HTTPClientFor(SourceName, collectors.RetryConfig{}), deps.Catalog, deps.Cursors, deps.Logger)
			if err != nil {
				return nil, err
			}
			if deps.Now != nil {
				col = col.WithClock(deps.Now)
			}
			if deps.Events != nil {
				col = col.WithDeleter(deps.Events)
			}
			return col, nil
		},
		Webhook: webhookFromFile,
		Demo:    demo,
	}
}

// FileConfig is the `pagerduty:` section of yardstick.yaml. Secrets are
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
type FileConfig struct {
	collectors.FileSection `yaml:",inline"`  // base_url, token_env, backfill_days, timeout
	OAuth                  bool              `yaml:"oauth"`
	MaxWindowDays          int               `yaml:"max_window_days"`
	Overlap                time.Duration     `yaml:"overlap"`
	BatchSize              int               `yaml:"batch_size"`
	Concurrency            int               `yaml:"concurrency"`
	WorkingHours           HoursFileConfig   `yaml:"working_hours"`
	Webhook                WebhookFileConfig `yaml:"webhook"`

	collectors.Resolved[Config] `yaml:"-"` // set by Validate (or by the demo)
}

// HoursFileConfig is `pagerduty.working_hours`.
type HoursFileConfig struct {
	Default WorkingHoursFileConfig            `yaml:"default"`
	Groups  map[string]WorkingHoursFileConfig `yaml:"groups"` // group ref ("group:default/x" or "x") -> hours
}

// WorkingHoursFileConfig is one working day in the config file.
type WorkingHoursFileConfig struct {
	TimeZone string   `yaml:"time_zone"` // IANA
	Start    string   `yaml:"start"`     // "09:00"
	End      string   `yaml:"end"`       // "17:00"; before start for an overnight span
	Days     []string `yaml:"days"`      // mon..sun; default mon-fri
}

// WebhookFileConfig is `pagerduty.webhook`.
type WebhookFileConfig struct {
	SecretEnvs   []string `yaml:"secret_envs"`
	MaxBodyBytes int64    `yaml:"max_body_bytes"`
}

// Enabled reports whether the section sets any key.
func (c *FileConfig) Enabled() bool { return !reflect.ValueOf(*c).IsZero() }

// Hash is Config.Hash of what the file describes (working hours that do not
// validate hash as if unset; Validate reports them).
func (c *FileConfig) Hash() string {
	cfg := c.base()
	cfg.Hours, _ = c.hours()
	return cfg.Hash()
}

// Hash identifies what the collector reads and how; the token is left out,
// so rotating it does not force a full sync.
func (c Config) Hash() string {
	c.Token = ""
	b, err := json.Marshal(c)
	if err != nil {
		// Config holds only strings, numbers and maps of them: unreachable.
		panic(fmt.Sprintf("pagerduty: marshal config: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (c *FileConfig) base() Config {
	const day = 24 * time.Hour
	return Config{
		BaseURL: c.BaseURL, OAuth: c.OAuth,
		Backfill: c.Backfill(), MaxWindow: time.Duration(c.MaxWindowDays) * day,
		Overlap: c.Overlap, BatchSize: c.BatchSize, Concurrency: c.Concurrency,
	}
}

// hours validates the working hours into the collector's form.
func (c *FileConfig) hours() (Hours, error) {
	conv := func(key string, w WorkingHoursFileConfig) (WorkingHours, error) {
		out := WorkingHours{TimeZone: w.TimeZone, Start: w.Start, End: w.End}
		for _, d := range w.Days {
			wd, err := ParseWeekday(d)
			if err != nil {
				return out, fmt.Errorf("%s.days: %w", key, err)
			}
			out.Days = append(out.Days, wd)
		}
		return out, nil
	}
	var h Hours
	var err error
	if h.Default, err = conv("pagerduty.working_hours.default", c.WorkingHours.Default); err != nil {
		return h, err
	}
	h.Groups = map[yardstick.EntityRef]WorkingHours{}
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

// Validate reads the token from the environment and checks every key;
// errors name the key and wrap yardstick.ErrInvalid.
func (c *FileConfig) Validate(getenv func(string) string) error {
	return c.Resolve(c.collectorConfig(getenv))
}

func (c *FileConfig) collectorConfig(getenv func(string) string) (Config, error) {
	token, err := c.Check(getenv, SourceName, "PAGERDUTY_TOKEN", collectors.IntKey{Key: "max_window_days", Value: c.MaxWindowDays},
		collectors.IntKey{Key: "batch_size", Value: c.BatchSize}, collectors.IntKey{Key: "concurrency", Value: c.Concurrency})
	if err != nil {
		return Config{}, err
	}
	hours, err := c.hours()
	if err != nil {
		return Config{}, err
	}
	cfg := c.base()
	cfg.Token, cfg.Hours = token, hours
	return cfg, nil
}

func fileConfig(sc collectors.SourceConfig) (*FileConfig, error) {
	return collectors.ValidConfig[*FileConfig](SourceName, sc)
}

// webhookFromFile builds the handler for POST /webhooks/pagerduty, or nil
// when no webhook secret is configured (the route is then not mounted).
func webhookFromFile(sc collectors.SourceConfig, deps collectors.Deps) (http.Handler, error) {
	c, err := fileConfig(sc)
	if err != nil {
		return nil, err
	}
	if len(c.Webhook.SecretEnvs) == 0 {
		return nil, nil
	}
	var secrets []yardstick.Secret
	for _, env := range c.Webhook.SecretEnvs {
		v, err := collectors.EnvSecret(deps.Getenv, "pagerduty.webhook.secret_envs", env, "")
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, v)
	}
	h, err := NewWebhookHandler(WebhookConfig{Secrets: secrets, MaxBodyBytes: c.Webhook.MaxBodyBytes, Hours: c.Runtime().Hours},
		deps.Catalog, deps.Writer, deps.Registerer, deps.Logger)
	if err != nil {
		return nil, err
	}
	if deps.Events != nil {
		h = h.WithDeleter(deps.Events)
	}
	return h, nil
}

// demo serves a fake PagerDuty on loopback for the services the entities
// name. Its incidents span the 90 days before now, two in three during the
// owners' working day.
func demo(_ context.Context, entities []yardstick.Entity, now time.Time) (collectors.SourceConfig, func(), error) {
	var ids []string
	var mappings []yardstick.ScopeMapping
	for _, e := range entities {
		for _, s := range ScopesOf(e) {
			mappings = append(mappings, yardstick.ScopeMapping{Scope: s, Entity: e.Ref})
			if id := strings.TrimPrefix(string(s), SourceName+":"); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	const token = "demo-token"
	fake := pagerdutyfake.New(pagerdutyfake.Config{
		ServiceIDs: ids, Seed: 1, Now: func() time.Time { return now }, Token: token,
		TimeZones: ServiceTimeZones(mappings, entities), // owners are paged mostly in their own working day
	})
	baseURL, stop, err := fake.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("demo pagerduty: %w", err)
	}
	return &FileConfig{FileSection: collectors.FileSection{BaseURL: baseURL}, Resolved: collectors.ResolvedTo(Config{BaseURL: baseURL, Token: token})}, stop, nil
}
