package scoring

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
)

// prodRules is a three-level scorecard with weights, a per-check appliesTo
// and exemptions.
const prodRules = `kind: Scorecard
id: prod
title: Production readiness
appliesTo: entity.kind == "component" && entity.lifecycle != "experimental"
levels: [bronze, silver, gold]
checks:
  - id: owner
    title: Has an owner
    level: bronze
    weight: 2
    expr: entity.owner != ""
  - id: readme
    title: Has a README
    level: bronze
    expr: facts.github.files.readme == true
  - id: reviews
    title: Two reviews
    level: silver
    expr: facts.github.branch_protection.required_reviews >= 2
  - id: oncall
    title: On call
    level: silver
    appliesTo: entity.type == "service"
    expr: facts.pagerduty.has_escalation_policy == true
  - id: deploys
    title: Deploys weekly
    level: gold
    weight: 3
    expr: metrics.deploys_per_week >= 1.0
exemptions:
  - entity: component:default/legacy
    check: reviews
    reason: frozen codebase
    expires: 2025-06-01
  - selector: entity.lifecycle == "deprecated"
    check: deploys
    reason: no longer deployed
    expires: 2026-01-01
`

var scoreNow = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)

type entityCase struct {
	name, kind, typ, lifecycle, owner string
	facts                             yardstick.Facts
	metrics                           map[string]float64
}

func (c entityCase) input(t testing.TB, now time.Time) checks.Input {
	t.Helper()
	kind := c.kind
	if kind == "" {
		kind = "Component"
	}
	e, err := checks.NewEntity(yardstick.Entity{
		Ref: yardstick.NewEntityRef(kind, "default", c.name), Kind: kind, Name: c.name,
		Type: c.typ, Lifecycle: c.lifecycle, Owner: yardstick.EntityRef(c.owner),
	})
	if err != nil {
		t.Fatal(err)
	}
	return checks.Input{Entity: e, Facts: c.facts, Metrics: c.metrics, Now: now}
}

func goodFacts() yardstick.Facts {
	return yardstick.Facts{
		"github":    {"files": map[string]any{"readme": true}, "branch_protection": map[string]any{"required_reviews": 2.0}},
		"pagerduty": {"has_escalation_policy": true},
	}
}

func TestScoreEntity(t *testing.T) {
	env := checkstest.MustEnv(t)
	sc := checkstest.MustLoad(t, env, prodRules).Scorecards[0]
	fast := map[string]float64{"deploys_per_week": 2}
	withFacts := func(mod func(yardstick.Facts)) yardstick.Facts {
		f := goodFacts()
		mod(f)
		return f
	}
	for _, tt := range []struct {
		name    string
		entity  entityCase
		now     time.Time
		applies bool
		level   string
		score   float64
		states  map[string]yardstick.CheckState
	}{
		{"everything passes", entityCase{name: "api", typ: "service", owner: "group:default/a", facts: goodFacts(), metrics: fast}, scoreNow,
			true, "gold", 100, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "pass", "oncall": "pass", "deploys": "pass"}},
		{"a library skips the on-call check", entityCase{name: "lib", typ: "library", owner: "group:default/a", facts: goodFacts(), metrics: fast}, scoreNow,
			true, "gold", 100, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "pass", "deploys": "pass"}},
		{"failing bronze means no level even when higher levels pass", entityCase{name: "api", typ: "service", facts: goodFacts(), metrics: fast}, scoreNow,
			true, "", 100 * 6.0 / 8, map[string]yardstick.CheckState{"owner": "fail", "readme": "pass", "reviews": "pass", "oncall": "pass", "deploys": "pass"}},
		{"failing silver stops at bronze", entityCase{name: "api", typ: "service", owner: "group:default/a",
			facts: withFacts(func(f yardstick.Facts) { f["github"]["branch_protection"] = map[string]any{"required_reviews": 1.0} }), metrics: fast}, scoreNow,
			true, "bronze", 100 * 7.0 / 8, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "fail", "oncall": "pass", "deploys": "pass"}},
		{"a missing metric is unknown and blocks gold", entityCase{name: "api", typ: "service", owner: "group:default/a", facts: goodFacts()}, scoreNow,
			true, "silver", 100 * 5.0 / 8, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "pass", "oncall": "pass", "deploys": "unknown"}},
		{"missing facts are unknown, not fail", entityCase{name: "api", typ: "service", owner: "group:default/a", metrics: fast}, scoreNow,
			true, "", 100 * 5.0 / 8, map[string]yardstick.CheckState{"owner": "pass", "readme": "unknown", "reviews": "unknown", "oncall": "unknown", "deploys": "pass"}},
		{"an exemption counts for the level and leaves the score", entityCase{name: "legacy", typ: "library", owner: "group:default/a",
			facts: withFacts(func(f yardstick.Facts) { delete(f["github"], "branch_protection") }), metrics: fast}, scoreNow,
			true, "gold", 100, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "exempt", "deploys": "pass"}},
		{"the exemption still counts the second before it expires", entityCase{name: "legacy", typ: "library", owner: "group:default/a",
			facts: withFacts(func(f yardstick.Facts) { delete(f["github"], "branch_protection") }), metrics: fast}, time.Date(2025, 5, 31, 23, 59, 59, 0, time.UTC),
			true, "gold", 100, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "exempt", "deploys": "pass"}},
		{"the exemption stops counting on its expiry date", entityCase{name: "legacy", typ: "library", owner: "group:default/a",
			facts: withFacts(func(f yardstick.Facts) { f["github"]["branch_protection"] = map[string]any{"required_reviews": 0.0} }), metrics: fast}, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
			true, "bronze", 100 * 6.0 / 7, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "fail", "deploys": "pass"}},
		{"a selector exemption", entityCase{name: "old", typ: "library", lifecycle: "deprecated", owner: "group:default/a", facts: goodFacts()}, scoreNow,
			true, "gold", 100, map[string]yardstick.CheckState{"owner": "pass", "readme": "pass", "reviews": "pass", "deploys": "exempt"}},
		{"appliesTo excludes experimental components", entityCase{name: "proto", lifecycle: "experimental"}, scoreNow, false, "", 0, nil},
		{"appliesTo excludes groups", entityCase{name: "team", kind: "Group"}, scoreNow, false, "", 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.entity.input(t, tt.now)
			got, ok, err := ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), tt.now)
			if err != nil {
				t.Fatalf("ScoreEntity() error = %v", err)
			}
			if ok != tt.applies {
				t.Fatalf("ScoreEntity() applies = %t, want %t", ok, tt.applies)
			}
			if !ok {
				return
			}
			if got.Level.Name != tt.level {
				t.Errorf("level = %q, want %q", got.Level.Name, tt.level)
			}
			if diff := cmp.Diff(tt.score, got.Score); diff != "" {
				t.Errorf("score (-want +got): %s", diff)
			}
			if tt.states != nil {
				states := map[string]yardstick.CheckState{}
				for _, c := range got.Checks {
					states[c.Check.ID] = c.State
				}
				if diff := cmp.Diff(tt.states, states); diff != "" {
					t.Errorf("check states (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestScoreEntityValuesAndMessages(t *testing.T) {
	env := checkstest.MustEnv(t)
	sc := checkstest.MustLoad(t, env, prodRules).Scorecards[0]
	in := entityCase{name: "legacy", typ: "service", owner: "group:default/a", facts: yardstick.Facts{
		"github": {"files": map[string]any{"readme": true}, "branch_protection": map[string]any{"required_reviews": 1.0}},
	}}.input(t, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	got, _, err := ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), in.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"owner":   {"", ""},
		"readme":  {"", ""},
		"reviews": {"facts.github.branch_protection.required_reviews = 1", "exemption expired 2025-06-01"},
		"oncall":  {"facts.pagerduty.has_escalation_policy missing", "missing fact or metric: pagerduty"},
		"deploys": {"metrics.deploys_per_week missing", "missing fact or metric: deploys_per_week"},
	}
	for _, c := range got.Checks {
		if w := want[c.Check.ID]; c.Value != w[0] || c.Message != w[1] {
			t.Errorf("check %s: value %q message %q, want %q and %q", c.Check.ID, c.Value, c.Message, w[0], w[1])
		}
	}

	in.Now = scoreNow
	got, _, _ = ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), in.Now)
	for _, c := range got.Checks {
		if c.Check.ID == "reviews" && (c.State != yardstick.StateExempt || c.Message != "exempt until 2025-06-01: frozen codebase") {
			t.Errorf("exempt check: state %s message %q", c.State, c.Message)
		}
	}
}

func TestScoreAllExempt(t *testing.T) {
	env := checkstest.MustEnv(t)
	sc := checkstest.MustLoad(t, env, oneCheck("c", "C", "facts.github.x == true")+`exemptions:
  - entity: api
    check: c
    reason: r
    expires: 2030-01-01
`).Scorecards[0]
	in := entityCase{name: "api"}.input(t, scoreNow)
	got, _, err := ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), scoreNow)
	if err != nil || got.Score != 100 || got.Level.Name != "bronze" {
		t.Errorf("ScoreEntity(all exempt) = score %v level %q err %v; want 100 and bronze", got.Score, got.Level.Name, err)
	}
}

// bronzeC ends a test scorecard: one level, bronze, and one check, c, that
// always passes.
const bronzeC = `levels: [bronze]
checks:
  - id: c
    title: C
    level: bronze
    expr: "true"
`

// oneCheck is the rule text of scorecard s with one level, bronze, and one
// check, id, whose expression is expr.
func oneCheck(id, title, expr string) string {
	return "kind: Scorecard\nid: s\ntitle: S\nlevels: [bronze]\nchecks:\n  - id: " + id + "\n    title: " + title + "\n    level: bronze\n    expr: " + expr + "\n"
}

func TestAppliesToErrors(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, `kind: Scorecard
id: needs-fact
title: Needs a fact
appliesTo: facts.github.language == "Go"
`+bronzeC+`---
kind: Scorecard
id: broken
title: Broken appliesTo
appliesTo: int(entity.name) > 0
`+bronzeC)
	in := entityCase{name: "api"}.input(t, scoreNow)
	a := env.Activation(in)
	needs, _ := set.Scorecard("needs-fact")
	if _, ok, err := ScoreEntity(context.Background(), needs, &in.Entity, a, scoreNow); ok || err != nil {
		t.Errorf("ScoreEntity(appliesTo on a missing fact) = %t, %v; want not applicable, no error", ok, err)
	}
	broken, _ := set.Scorecard("broken")
	_, ok, err := ScoreEntity(context.Background(), broken, &in.Entity, a, scoreNow)
	if ok || err == nil || !strings.Contains(err.Error(), "rules.yaml:15:12: appliesTo of component:default/api") {
		t.Errorf("ScoreEntity(broken appliesTo) = %t, %v; want an error naming the file position and entity", ok, err)
	}
}

func TestCampaignEntity(t *testing.T) {
	env := checkstest.MustEnv(t)
	c := checkstest.MustLoad(t, env, campaignRules).Campaigns[0]
	for _, tt := range []struct {
		name    string
		facts   yardstick.Facts
		applies bool
		state   yardstick.CampaignState
		message string
	}{
		{"done", yardstick.Facts{"github": {"go_version": "1.22.2"}}, true, yardstick.CampaignDone, ""},
		{"pending says what it saw", yardstick.Facts{"github": {"go_version": "1.21.0"}}, true, yardstick.CampaignPending, `facts.github.go_version = "1.21.0"`},
		{"unparseable version is unknown", yardstick.Facts{"github": {"go_version": "tip"}}, true, yardstick.CampaignUnknown, `semver("tip")`},
		{"no Go in the repository: does not apply", yardstick.Facts{"github": {"language": "Java"}}, false, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := entityCase{name: "api", owner: "group:default/a", facts: tt.facts}.input(t, scoreNow)
			got, ok, err := CampaignEntity(context.Background(), c, &in.Entity, env.Activation(in))
			if err != nil || ok != tt.applies {
				t.Fatalf("CampaignEntity() = %t, %v; want applies %t", ok, err, tt.applies)
			}
			if got.State != tt.state || !strings.Contains(got.Message, tt.message) {
				t.Errorf("CampaignEntity() = %s %q, want %s containing %q", got.State, got.Message, tt.state, tt.message)
			}
			if ok && (got.Entity != "component:default/api" || got.Owner != "group:default/a" || got.Campaign != "go122") {
				t.Errorf("CampaignEntity() identity = %+v", got)
			}
		})
	}
}

const campaignRules = `kind: Campaign
id: go122
title: Go 1.22 everywhere
start: 2025-03-01
deadline: 2025-06-30
appliesTo: has(facts.github.go_version)
done: semver(facts.github.go_version) >= semver("1.22.0")
`
