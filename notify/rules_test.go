package notify_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/yardstick-dev/yardstick/notify"
)

func TestLoadRulesReportsEveryProblemWithItsLine(t *testing.T) {
	fsys := fstest.MapFS{
		"rules/a.yaml": {Data: []byte(`kind: Scorecard
id: x
---
kind: Notifications
rules:
  - name: squads
    triggers: [level_drop, level_fall]
    channels: [slack, pager]
    quiet_hours: {start: "25:00", end: "07:00"}
    lead_times: [3d, soon]
    digest: {day: funday}
    colour: blue
  - triggers: [digest]
    channels: [email]
`)},
	}
	_, err := notify.LoadRules(fsys, "rules")
	if err == nil {
		t.Fatal("LoadRules() = nil error, want the problems")
	}
	for _, want := range []string{
		`rules/a.yaml:7:`, `unknown trigger "level_fall"`,
		`rules/a.yaml:8:`, `unknown channel "pager"`,
		`rules/a.yaml:9:`, `quiet_hours.start "25:00": want HH:MM`,
		`rules/a.yaml:10:`, `lead time "soon"`,
		`rules/a.yaml:11:`, `digest day "funday"`,
		`rules/a.yaml:12:`, `unknown key "colour"`,
		`rules/a.yaml:13:`, `rule: missing name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LoadRules() error lacks %q:\n%v", want, err)
		}
	}
}

func TestLoadRulesDefaultsAndQuietHours(t *testing.T) {
	fsys := fstest.MapFS{"r/n.yml": {Data: []byte(`kind: Notifications
time_zone: Europe/Berlin
rules:
  - name: leads
    triggers: [tribe_digest, collector_failing]
    channels: [email, webhook:ops]
    quiet_hours: {start: "22:00", end: "07:30"}
    failing_runs: 5
`)}}
	rules, err := notify.LoadRules(fsys, "r")
	if err != nil {
		t.Fatalf("LoadRules() = %v", err)
	}
	if rules.TimeZone.String() != "Europe/Berlin" || len(rules.Rules) != 1 {
		t.Fatalf("LoadRules() = %+v, want one rule in Europe/Berlin", rules)
	}
	r := rules.Rules[0]
	if r.FailingRuns != 5 || r.Digest != notify.DefaultDigest || len(r.LeadTimes) != 3 || r.Pos != "r/n.yml:4" {
		t.Errorf("rule = %+v, want failing_runs 5, default digest and lead times, at r/n.yml:4", r)
	}
	if got := r.QuietHours.Length(); got != 9*time.Hour+30*time.Minute {
		t.Errorf("QuietHours.Length() = %v, want 9h30m", got)
	}
	for _, tt := range []struct {
		clock string
		want  bool
	}{{"21:59", false}, {"22:00", true}, {"03:00", true}, {"07:29", true}, {"07:30", false}, {"12:00", false}} {
		at, _ := time.Parse("15:04", tt.clock)
		if got := r.QuietHours.Contains(at); got != tt.want {
			t.Errorf("QuietHours.Contains(%s) = %v, want %v", tt.clock, got, tt.want)
		}
	}
}

func TestLoadRulesWithoutNotifications(t *testing.T) {
	rules, err := notify.LoadRules(fstest.MapFS{"r/s.yaml": {Data: []byte("kind: Scorecard\nid: x\n")}}, "r")
	if err != nil || len(rules.Rules) != 0 {
		t.Errorf("LoadRules(scorecards only) = %+v, %v; want no rules and no error", rules, err)
	}
}
