package pagerduty

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
)

func mustFileConfig(t *testing.T, doc string) FileConfig {
	t.Helper()
	var c struct {
		PagerDuty FileConfig `yaml:"pagerduty"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c.PagerDuty
}

func TestPagerDutyConfig(t *testing.T) {
	pc := mustFileConfig(t, `
pagerduty:
  base_url: https://api.eu.pagerduty.com
  token_env: PD_TOKEN
  backfill_days: 30
  overlap: 10m
  working_hours:
    default: {time_zone: Europe/Berlin, start: "08:00", end: "17:00", days: [mon, tue, wed, thu]}
    groups:
      payments-otters: {time_zone: America/New_York, start: "09:00", end: "17:00"}
  webhook:
    secret_envs: [PD_HOOK]
`)
	env := map[string]string{"PD_TOKEN": "s3cret"}
	cfg, err := pc.collectorConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("collectorConfig() error: %v", err)
	}
	if cfg.Token.Reveal() != "s3cret" || cfg.Backfill != 30*24*time.Hour || cfg.Overlap != 10*time.Minute || cfg.BaseURL != "https://api.eu.pagerduty.com" {
		t.Errorf("collectorConfig() = %+v", cfg)
	}
	if wh, ok := cfg.Hours.Groups["group:default/payments-otters"]; !ok || wh.TimeZone != "America/New_York" {
		t.Errorf("group hours = %+v, want payments-otters under its normalised ref", cfg.Hours.Groups)
	}
	if got := cfg.Hours.Default.Days; len(got) != 4 || got[0] != time.Monday {
		t.Errorf("default days = %v, want Monday to Thursday", got)
	}

	env["PD_TOKEN"] = "rotated"
	rotated, _ := pc.collectorConfig(func(k string) string { return env[k] })
	if cfg.Hash() != rotated.Hash() {
		t.Error("config hash changed with the token; rotating it must not force a full sync")
	}
	rotated.Backfill = time.Hour
	if cfg.Hash() == rotated.Hash() {
		t.Error("config hash ignores the backfill")
	}
}

func TestPagerDutyConfigErrorsNameTheKey(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"pagerduty: {token_env: NOPE}", "NOPE (pagerduty.token_env) is empty"},
		{"pagerduty: {backfill_days: -1}", "pagerduty.backfill_days"},
		{"pagerduty: {working_hours: {default: {days: [someday]}}}", "pagerduty.working_hours.default.days"},
		{"pagerduty: {working_hours: {groups: {'x': {start: '9'}}}}", "pagerduty.working_hours: working hours of group:default/x"},
	} {
		pc := mustFileConfig(t, tt.doc)
		_, err := pc.collectorConfig(func(k string) string {
			if k == "PAGERDUTY_TOKEN" {
				return "t"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, yardstick.ErrInvalid) {
			t.Errorf("config %s: error = %v, want one naming %q", tt.doc, err, tt.want)
		}
	}
}
