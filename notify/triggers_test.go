package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// recorder is a Sender that keeps what it was given. Sends run concurrently.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Send(_ context.Context, to string, n notify.Notification, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, to+" "+n.Title)
	return nil
}

func TestOtherTriggers(t *testing.T) {
	db := storetest.NewDB(t)
	mustSeed(t, db)
	ctx := context.Background()
	// readme passed, then fails; a collector fails its last three runs.
	res := func(run string, at time.Time, st yardstick.CheckState) yardstick.CheckResult {
		return yardstick.CheckResult{RunID: run, RunAt: at, Scorecard: "production-readiness", CheckID: "readme", Entity: "component:default/cart",
			Owner: "group:default/checkout", Level: "bronze", State: st, Value: "facts.github.files.readme = false"}
	}
	solo := func(run string, at time.Time, st yardstick.CheckState) yardstick.CheckResult {
		r := res(run, at, st)
		r.Entity, r.Owner = "component:default/solo", "user:default/ann"
		return r
	}
	if err := db.WriteCheckResults(ctx, []yardstick.CheckResult{res("r1", now.Add(-5*time.Hour), yardstick.StatePass), res("r2", now.Add(-time.Hour), yardstick.StateFail),
		solo("r1", now.Add(-5*time.Hour), yardstick.StatePass), solo("r2", now.Add(-time.Hour), yardstick.StateFail)}); err != nil {
		t.Fatal(err)
	}
	for i, e := range []string{"", "github: 502", "github: 502", "github: 401 Bad credentials"} {
		if err := db.RecordCollectorRun(ctx, yardstick.CollectorRun{Collector: "github", At: now.Add(time.Duration(i-4) * time.Hour), Err: e}); err != nil {
			t.Fatal(err)
		}
	}
	// The campaign's deadline has passed by the evaluation time, with cart not done.
	rs := mustScorecards(t)
	rules, err := notify.LoadRules(fstest.MapFS{"r/n.yaml": {Data: []byte(`kind: Notifications
rules:
  - name: squads
    triggers: [check_failing, deadline_passed, tribe_digest]
    channels: [slack]
  - name: platform
    triggers: [collector_failing]
    channels: [email]
    failing_runs: 3
  - name: patient platform
    triggers: [collector_failing]
    channels: [slack]
    failing_runs: 4
`)}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	slack, email := &recorder{}, &recorder{}
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) // a Thursday after the deadline
	n := notify.New(notify.Config{Settle: time.Second, Lookback: 5 * 24 * time.Hour, BaseURL: "https://ys.example.com",
		Default: notify.Route{SlackChannel: "#platform", Email: "platform@example.com"}},
		notify.Sources{Catalog: db, Changes: db, Campaigns: db, Digests: db, Collectors: db, Ledger: db,
			Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, rs }},
		map[string]notify.Sender{notify.ChannelSlack: slack, notify.ChannelEmail: email}, slog.New(slog.DiscardHandler), func() time.Time { return at })
	plan, err := n.Preview(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range plan {
		lines = append(lines, p.State+" "+p.Notification.Trigger+" "+p.Target.String()+" "+p.Notification.Title)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"due check_failing slack:#payments Cart API now fails \"Has a README\" on Production readiness",
		"due check_failing slack:#payments solo now fails \"Has a README\" on Production readiness",
		"due deadline_passed slack:#payments Go 1.22 everywhere: the deadline of 2026-12-02 passed with 1 components left",
		"due tribe_digest slack:#payments Weekly digest of Payments tribe (tribe), week 2026-W49",
		"due collector_failing email:platform@example.com Collector github failed its last 3 runs",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Preview() lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "slack:#platform") {
		t.Errorf("Preview() sends the 3-run streak to the rule that waits for 4:\n%s", got)
	}
	for _, p := range plan {
		if p.Notification.Trigger == notify.TriggerCheckFailing && p.Notification.Subject == "component:default/cart" {
			text := p.Notification.Text()
			if !strings.Contains(text, "How to fix: Add a README.md") || !strings.Contains(text, "https://ys.example.com/entities/component/default/cart") {
				t.Errorf("check_failing text lacks the remediation or link:\n%s", text)
			}
		}
	}
	rep, err := n.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 5 || len(slack.got)+len(email.got) != 5 {
		t.Errorf("Tick() = %+v, sent slack %v email %v; want 5 sent", rep, slack.got, email.got)
	}
}

func TestCampaignAtRisk(t *testing.T) {
	db := storetest.NewDB(t)
	mustSeed(t, db) // cart stays pending run after run: no downward trend
	ctx := context.Background()
	rs := mustScorecards(t)
	rules, err := notify.LoadRules(fstest.MapFS{"r/n.yaml": {Data: []byte("kind: Notifications\nrules:\n  - {name: owners, triggers: [campaign_at_risk], channels: [email]}\n")}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	n := notify.New(notify.Config{Settle: time.Second, Default: notify.Route{Email: "platform@example.com"}},
		notify.Sources{Catalog: db, Changes: db, Campaigns: db, Digests: db, Collectors: db, Ledger: db,
			Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, rs }},
		nil, slog.New(slog.DiscardHandler), func() time.Time { return now })
	plan, err := n.Preview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || plan[0].Notification.Trigger != notify.TriggerCampaignAtRisk || plan[0].Target.Address != "platform@example.com" ||
		!strings.Contains(plan[0].Notification.Title, "Go 1.22 everywhere is at risk: no downward trend") || plan[0].State != notify.StateNoSender {
		t.Fatalf("Preview() = %+v, want one at-risk notice to the campaign owner's default route, without a sender", plan)
	}
	// It turned at risk at the first run of the campaign, so the identity stays the same on later evaluations.
	again, err := n.Preview(ctx, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != plan[0].ID {
		t.Errorf("Preview(an hour later) = %+v, want the same delivery %s", again, plan[0].ID)
	}
}

// brokenLog is a collector log whose reads fail.
type brokenLog struct{}

func (brokenLog) CollectorRuns(context.Context, time.Time) ([]yardstick.CollectorRun, error) {
	return nil, errors.New("clickhouse: connection refused")
}

func TestOneFailingTriggerDoesNotHoldBackTheOthers(t *testing.T) {
	h := newHarness(t)
	rules, rs := mustRules(t)
	rules.Rules = append(rules.Rules, notify.Rule{Name: "platform", Triggers: []string{notify.TriggerCollectorFailing}, Channels: []string{notify.ChannelSlack}, FailingRuns: 1})
	rec := &recorder{}
	n := notify.New(notify.Config{Settle: time.Second},
		notify.Sources{Catalog: h.db, Changes: h.db, Campaigns: h.db, Digests: h.db, Collectors: brokenLog{}, Ledger: h.db,
			Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, rs }},
		map[string]notify.Sender{notify.ChannelSlack: rec, notify.ChannelEmail: rec}, slog.New(slog.DiscardHandler), func() time.Time { return now })
	rep, err := n.Tick(context.Background())
	if err == nil || !strings.Contains(err.Error(), "notify collectors: clickhouse: connection refused") {
		t.Errorf("Tick() error = %v, want the collectors' read error", err)
	}
	if rep.Sent != 6 {
		t.Errorf("Tick() = %+v, want the 6 other deliveries sent", rep)
	}
}
