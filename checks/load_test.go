package checks

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

func mustEnv(t testing.TB) *Env {
	t.Helper()
	return mustEnvWith(t, Options{})
}

func mustEnvWith(t testing.TB, o Options) *Env {
	t.Helper()
	env, err := NewEnv(o)
	if err != nil {
		t.Fatalf("NewEnv() = %v", err)
	}
	return env
}

// problems returns "line:col: message" of every problem of err.
func problems(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var p *Problem
		if !errors.As(err, &p) {
			t.Fatalf("error %q is not a *Problem", err)
		}
		out = append(out, strings.TrimPrefix(p.Error(), p.Pos.File+":"))
	}
	walk(err)
	return out
}

const header = `kind: Scorecard
id: prod
title: Production readiness
levels: [bronze, silver]
checks:
`

// withOwner is the header with one valid check, owner, at lines 6 to 9.
const withOwner = header + `  - id: owner
    title: Owner
    level: bronze
    expr: entity.owner != ""
`

func TestLoadFileProblems(t *testing.T) {
	env := mustEnv(t)
	for _, tt := range []struct {
		name string
		file string
		want []string // "line:col: message" prefixes, in order
	}{
		{"unknown field", header + `  - id: owner
    title: Owner
    level: bronze
    expr: entity.ownr != ""
`, []string{`9:17: check "owner": undefined field 'ownr'`}},
		{"wrong type", header + `  - id: owner
    title: Owner
    level: bronze
    expr: entity.owner > 3
`, []string{`9:24: check "owner": found no matching overload for '_>_' applied to '(string, int)'`}},
		{"syntax error in a literal block", header + `  - id: owner
    title: Owner
    level: bronze
    expr: |
      entity.owner != "" &&
        entity.lifecycle == ==
`, []string{`11:29: check "owner": Syntax error: mismatched input '=='`, `11:31: check "owner": Syntax error: mismatched input '<EOF>'`}},
		{"error inside a double-quoted expression", header + `  - id: owner
    title: Owner
    level: bronze
    expr: "entity.owner != \"\" && entity.systm != \"\""
`, []string{`9:42: check "owner": undefined field 'systm'`}},
		{"error on the second line of a folded block", header + `  - id: owner
    title: Owner
    level: bronze
    expr: >
      entity.owner != "" &&
      entity.tagz.size() > 0
`, []string{`11:13: check "owner": undefined field 'tagz'`}},
		{"not bool", header + `  - id: owner
    title: Owner
    level: bronze
    expr: facts.github.has_ci
`, []string{`9:11: check "owner": must be a bool expression, got dyn (compare the value, e.g. ` + "`== true`)"}},
		{"unknown metric", header + `  - id: deploys
    title: Deploys
    level: bronze
    expr: metrics.deploy_per_week >= 1.0
`, []string{`9:18: check "deploys": unknown metric "deploy_per_week", did you mean "deploys_per_week"?`}},
		{"unknown level", header + `  - id: owner
    title: Owner
    level: gold
    expr: entity.owner != ""
`, []string{`8:12: check "owner": unknown level "gold" (levels: bronze, silver)`}},
		{"duplicate check ids", withOwner + `  - id: owner
    title: Owner again
    level: silver
    expr: entity.owner != ""
`, []string{`10:5: scorecard "prod": duplicate check id "owner" (first at x.yaml:6:5)`}},
		{"exemption naming an unknown check", withOwner + `exemptions:
  - entity: component:default/legacy
    check: readme
    reason: being retired
    expires: 2025-09-30
`, []string{`12:12: exemption: unknown check "readme" in scorecard "prod"`}},
		{"exemption with entity and selector", withOwner + `exemptions:
  - entity: legacy
    selector: entity.lifecycle == "deprecated"
    check: owner
    reason: being retired
    expires: 2025-09-30
`, []string{`12:15: exemption: give an entity or a selector, not both`}},
		{"exemption without expiry", withOwner + `exemptions:
  - entity: legacy
    check: owner
    reason: being retired
`, []string{`11:5: exemption: missing key "expires"`}},
		{"unknown key and missing expr", header + `  - id: owner
    title: Owner
    level: bronze
    expresion: entity.owner != ""
`, []string{`9:5: check: unknown key "expresion"`, `6:5: check: missing key "expr"`}},
		{"every error is listed", header + `  - id: a
    title: A
    level: gold
    expr: entity.ownr != ""
  - id: b
    title: B
    level: bronze
    weight: 0
    expr: entity.owner != ""
`, []string{`8:12: check "a": unknown level "gold"`, `9:17: check "a": undefined field 'ownr'`, `13:13: check "b": weight must be above 0`}},
		{"deadline before start", `kind: Campaign
id: go122
title: Go 1.22
start: 2025-06-01
deadline: 2025-03-01
done: semver(facts.github.go_version) >= semver("1.22")
`, []string{`5:11: campaign "go122": deadline 2025-03-01 is not after start 2025-06-01`}},
		{"bad date", `kind: Campaign
id: go122
title: Go 1.22
start: next monday
deadline: 2025-03-01
done: true
`, []string{`4:8: campaign: start: "next monday" is not a date`}},
		{"no kind", "id: x\ntitle: y\n", []string{`1:1: rule document: missing key "kind"`}},
		{"not a mapping", "- kind: Scorecard\n", []string{`1:1: rule document: want a mapping`}},
		{"duplicate key", header + `  - id: owner
    title: Owner
    title: Owner again
    level: bronze
    expr: entity.owner != ""
`, []string{`8:5: check: duplicate key "title"`}},
		{"unknown kind", `kind: Scorcard
id: x
`, []string{`1:7: unknown kind "Scorcard"`}},
		// yaml.v3 reports this parser error's line 0-based; its message is passed on as is.
		{"yaml syntax", "kind: Scorecard\nid: [x\n", []string{`1:1: yaml: did not find expected ',' or ']'`}},
		{"test expecting an unknown check and state", withOwner + `tests:
  - name: t
    expect:
      checks: {readme: pass, owner: passed}
`, []string{`13:16: test "t": unknown check "readme"`, `13:37: test "t": check "owner": state "passed" is not pass, fail, unknown or exempt`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, err := env.LoadFile("x.yaml", []byte(tt.file))
			if set != nil {
				t.Errorf("LoadFile() returned rules despite problems")
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("LoadFile() problems:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLoadFileReadsEverything(t *testing.T) {
	env := mustEnv(t)
	set, err := env.LoadFile("rules.yaml", []byte(`kind: Scorecard
id: prod
title: Production readiness
owner: platform
levels:
  - bronze
  - name: silver
    description: Ready for real traffic
checks:
  - id: owner
    title: Has an owner
    level: bronze
    weight: 2
    expr: entity.owner != ""
    remediation: Set spec.owner.
    link: https://backstage.io/docs/features/software-catalog/descriptor-format
  - id: deploys
    title: Deploys weekly
    level: silver
    appliesTo: entity.type == "service"
    expr: metrics.deploys_per_week >= 1.0
exemptions:
  - selector: entity.lifecycle == "deprecated"
    check: deploys
    reason: retiring
    expires: 2025-09-30
tests:
  - name: service
    entity: {name: api, owner: payments, type: service}
    facts: {github: {stars: 3}}
    metrics: {deploys_per_week: 2}
    now: 2025-05-01
    expect: {level: silver, score: 100, checks: {owner: pass, deploys: pass}}
---
kind: Campaign
id: go122
title: Go 1.22 everywhere
start: 2025-01-06
deadline: 2025-06-30T12:00:00Z
appliesTo: has(facts.github.go_version)
done: semver(facts.github.go_version) >= semver("1.22.0")
tests:
  - name: old
    facts: {github: {go_version: "1.21.4"}}
    expect: {done: false}
`))
	if err != nil {
		t.Fatalf("LoadFile() = %v", err)
	}
	sc, ok := set.Scorecard("prod")
	if !ok {
		t.Fatal(`Scorecard("prod") not found`)
	}
	if sc.Owner != "group:default/platform" || len(sc.Levels) != 2 || sc.Levels[1] != (yardstick.Level{Name: "silver", Rank: 2}) {
		t.Errorf("scorecard = owner %q levels %v", sc.Owner, sc.Levels)
	}
	if diff := cmp.Diff(map[string]string{"silver": "Ready for real traffic"}, sc.LevelDescriptions); diff != "" {
		t.Errorf("level descriptions (-want +got):\n%s", diff)
	}
	owner, _ := sc.Check("owner")
	if owner.Weight != 2 || owner.Level.Name != "bronze" || owner.Link == "" || owner.Pos.Line != 10 {
		t.Errorf("check owner = %+v", owner)
	}
	if d, _ := sc.Check("deploys"); d.Weight != 1 || d.AppliesTo == nil {
		t.Errorf("check deploys: weight %v appliesTo %v, want default weight 1 and an appliesTo", d.Weight, d.AppliesTo)
	}
	if x := sc.Exemptions[0]; x.Selector == nil || !x.Expires.Equal(time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("exemption = %+v", x)
	}
	tc := sc.Tests[0]
	wantEntity := Entity{Ref: "component:default/api", Kind: "component", Namespace: "default", Name: "api", Type: "service",
		Owner: "group:default/payments", Tags: []string{}, Annotations: map[string]string{}, Labels: map[string]string{}, Spec: map[string]any{}}
	if diff := cmp.Diff(wantEntity, tc.Input.Entity); diff != "" {
		t.Errorf("test entity (-want +got):\n%s", diff)
	}
	if v := tc.Input.Facts["github"]["stars"]; v != 3.0 {
		t.Errorf("test fact stars = %#v, want float64 3 as from JSON", v)
	}
	if *tc.Expect.Level != "silver" || *tc.Expect.Score != 100 || tc.Expect.Checks["deploys"] != yardstick.StatePass || !tc.Expect.Applies {
		t.Errorf("expect = %+v", tc.Expect)
	}
	c, ok := set.Campaign("go122")
	if !ok {
		t.Fatal(`Campaign("go122") not found`)
	}
	if !c.Deadline.Equal(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)) || c.Tests[0].Expect.Done == nil || *c.Tests[0].Expect.Done {
		t.Errorf("campaign = deadline %v tests %+v", c.Deadline, c.Tests)
	}
	if diff := cmp.Diff([]string{"deploys_per_week"}, set.MetricNames()); diff != "" {
		t.Errorf("MetricNames() (-want +got):\n%s", diff)
	}
}

func TestLoadDir(t *testing.T) {
	env := mustEnv(t)
	good := withOwner
	bad := strings.ReplaceAll(good, "entity.owner", "entity.ownr")
	fsys := fstest.MapFS{
		"rules/a.yaml":        {Data: []byte(good)},
		"rules/sub/b.yml":     {Data: []byte(strings.ReplaceAll(good, "id: prod", "id: security"))},
		"rules/notes.txt":     {Data: []byte("not a rule")},
		"dup/a.yaml":          {Data: []byte(good)},
		"dup/b.yaml":          {Data: []byte(good)},
		"broken/a.yaml":       {Data: []byte(good)},
		"broken/b.yaml":       {Data: []byte(bad)},
		"broken/c.yaml":       {Data: []byte(bad)},
		"empty/readme.md":     {Data: []byte("#")},
		"reload/rules.yaml":   {Data: []byte(good)},
		"reloadbad/rules.yml": {Data: []byte(bad)},
	}
	set, err := env.LoadDir(fsys, "rules")
	if err != nil {
		t.Fatalf("LoadDir(rules) = %v", err)
	}
	if len(set.Scorecards) != 2 || set.Scorecards[0].ID != "prod" || set.Scorecards[1].ID != "security" {
		t.Errorf("LoadDir(rules) scorecards = %v, want prod and security", set.Scorecards)
	}

	_, err = env.LoadDir(fsys, "dup")
	if got := problems(t, err); len(got) != 1 || !strings.Contains(got[0], `scorecard id "prod" already used at dup/a.yaml:1:1`) {
		t.Errorf("LoadDir(dup) = %v, want one duplicate id problem", got)
	}
	set, err = env.LoadDir(fsys, "broken")
	if set != nil || len(problems(t, err)) != 2 {
		t.Errorf("LoadDir(broken) = %v, %v; want no rules and a problem per broken file", set, err)
	}
	if _, err := env.LoadDir(fsys, "empty"); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("LoadDir(empty) = %v, want ErrNotFound", err)
	}

	var rules Rules
	if err := rules.Reload(env, fsys, "reload"); err != nil {
		t.Fatalf("Reload(reload) = %v", err)
	}
	first := rules.Current()
	if err := rules.Reload(env, fsys, "reloadbad"); err == nil {
		t.Errorf("Reload(reloadbad) = nil, want the problems")
	}
	if rules.Current() != first {
		t.Errorf("Reload with a bad file replaced the last good set")
	}
}
