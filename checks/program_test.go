package checks

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

// mustProgram compiles one check expression through the file loader.
func mustProgram(t testing.TB, env *Env, expr string) *Program {
	t.Helper()
	set, err := env.LoadFile("t.yaml", []byte(header+"  - id: c\n    title: C\n    level: bronze\n    expr: "+quoteYAML(expr)+"\n"))
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return set.Scorecards[0].Checks[0].Expr
}

func quoteYAML(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

var evalNow = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

func sampleInput(t testing.TB) Input {
	t.Helper()
	ent, err := NewEntity(yardstick.Entity{
		Ref: "component:default/api", Kind: "Component", Namespace: "default", Name: "api",
		Type: "service", Lifecycle: "production", Owner: "group:default/payments", System: "system:default/checkout",
		Tags: []string{"go", "tier-1"}, Annotations: map[string]string{"github.com/project-slug": "acme/api"},
		Spec: `{"type":"service","tier":1,"owner":"payments"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Entity: ent,
		Facts: yardstick.Facts{
			"github": {
				"go_version":        "1.21.5",
				"branch_protection": map[string]any{"protected": true, "required_reviews": 1.0, "required_status_checks": []any{"ci", "lint"}},
				"files":             map[string]any{"readme": true, "codeowners": false},
				"pushed_at":         "2025-04-21T12:00:00Z",
				"archived":          nil,
			},
			"pagerduty": {"oncall_levels": 2.0},
		},
		Metrics: map[string]float64{"deploys_per_week": 3.5, "change_failure_rate": 0.1},
		Now:     evalNow,
	}
}

func TestEval(t *testing.T) {
	env := mustEnv(t)
	a := env.Activation(sampleInput(t))
	for _, tt := range []struct {
		name, expr string
		want       yardstick.CheckState
		missing    bool // the unknown is a missing fact or metric
	}{
		{"entity field", `entity.owner == "group:default/payments"`, yardstick.StatePass, false},
		{"entity kind is lower-case", `entity.kind == "component"`, yardstick.StatePass, false},
		{"entity spec", `entity.spec.tier == 1 && entity.spec.type == "service"`, yardstick.StatePass, false},
		{"entity tags and annotations", `"tier-1" in entity.tags && entity.annotations["github.com/project-slug"] == "acme/api"`, yardstick.StatePass, false},
		{"nested fact", `facts.github.branch_protection.required_reviews >= 2`, yardstick.StateFail, false},
		{"fact number equals int", `facts.pagerduty.oncall_levels == 2`, yardstick.StatePass, false},
		{"fact list", `"ci" in facts.github.branch_protection.required_status_checks`, yardstick.StatePass, false},
		{"metric", `metrics.deploys_per_week >= 1`, yardstick.StatePass, false},
		{"missing fact is unknown", `facts.github.dependabot == true`, yardstick.StateUnknown, true},
		{"missing source is unknown", `facts.jira.open_bugs < 10`, yardstick.StateUnknown, true},
		{"missing metric is unknown", `metrics.lead_time_p50_hours < 24`, yardstick.StateUnknown, true},
		{"null fact is missing", `facts.github.archived == false`, yardstick.StateUnknown, true},
		{"missing nested key is unknown", `facts.github.branch_protection.enforce_admins == true`, yardstick.StateUnknown, true},
		{"has() guards a missing fact", `!has(facts.github.dependabot) || facts.github.dependabot`, yardstick.StatePass, false},
		{"or short-circuits past a missing fact", `facts.github.files.readme || facts.github.nope`, yardstick.StatePass, false},
		{"optional with default", `facts.?jira.?open_bugs.orValue(0) < 10`, yardstick.StatePass, false},
		{"runtime error is unknown", `int(entity.name) > 0`, yardstick.StateUnknown, false},
		{"semver of a fact", `semver(facts.github.go_version) >= semver("1.22.0")`, yardstick.StateFail, false},
		{"bad semver is unknown", `semver(entity.name) >= semver("1.0.0")`, yardstick.StateUnknown, false},
		{"daysSince of a fact string", `daysSince(facts.github.pushed_at) == 10.0`, yardstick.StatePass, false},
		{"parseDuration", `now - timestamp(facts.github.pushed_at) < parseDuration("2w")`, yardstick.StatePass, false},
		{"strings ext", `entity.owner.split("/")[1] == "payments" && entity.name.upperAscii() == "API"`, yardstick.StatePass, false},
		{"lists ext", `entity.tags.sort() == ["go", "tier-1"]`, yardstick.StatePass, false},
		{"sets ext", `sets.contains(entity.tags, ["go"])`, yardstick.StatePass, false},
		{"guarded distinct", `entity.tags.distinct().size() == 2`, yardstick.StatePass, false},
		{"guarded replace", `entity.name.replace("a", "b") == "bpi"`, yardstick.StatePass, false},
		{"math ext", `math.greatest(metrics.deploys_per_week, 1.0) == 3.5`, yardstick.StatePass, false},
		{"comprehension", `facts.github.branch_protection.required_status_checks.all(c, c.size() > 1)`, yardstick.StatePass, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustProgram(t, env, tt.expr)
			got := p.Eval(context.Background(), a)
			if got.State != tt.want {
				t.Errorf("Eval(%q) = %s (%v), want %s", tt.expr, got.State, got.Err, tt.want)
			}
			f := a.Frame()
			defer f.Close()
			for range 2 { // a frame serves evaluation after evaluation
				if fr := p.EvalFrame(context.Background(), f); fr.State != got.State || (fr.Err == nil) != (got.Err == nil) {
					t.Errorf("EvalFrame(%q) = %s (%v), Eval = %s (%v)", tt.expr, fr.State, fr.Err, got.State, got.Err)
				}
			}
			if (got.State == yardstick.StateUnknown) != (got.Err != nil) {
				t.Errorf("Eval(%q) state %s with error %v: an unknown needs a reason, a verdict none", tt.expr, got.State, got.Err)
			}
			if isMissing := errors.Is(got.Err, ErrMissing); isMissing != tt.missing {
				t.Errorf("Eval(%q) error %v: missing = %t, want %t", tt.expr, got.Err, isMissing, tt.missing)
			}
		})
	}
}

func TestEvalCostLimit(t *testing.T) {
	env := mustEnvWith(t, Options{CostLimit: 10_000})
	a := env.Activation(sampleInput(t))
	heavy := mustProgram(t, env, `lists.range(200).all(i, lists.range(200).all(j, i + j >= 0))`)
	if !heavy.Loops() {
		t.Fatalf("Loops() = false for a comprehension")
	}
	got := heavy.Eval(context.Background(), a)
	if got.State != yardstick.StateUnknown || !errors.Is(got.Err, ErrCostLimit) {
		t.Errorf("Eval(heavy) = %s (%v), want unknown with ErrCostLimit", got.State, got.Err)
	}
	if got.Cost == 0 {
		t.Errorf("Eval(heavy).Cost = 0, want the cost spent")
	}
	light := mustProgram(t, env, `lists.range(10).all(i, i >= 0)`)
	if got := light.Eval(context.Background(), a); got.State != yardstick.StatePass || got.Cost == 0 {
		t.Errorf("Eval(light) = %s (%v), cost %d; want pass with a cost", got.State, got.Err, got.Cost)
	}
	// A loop-free program is tracked too, and its costs do not add up across
	// the evaluations of one frame: 2,000 evaluations of about 10 each stay
	// under a limit of 10,000.
	small := mustProgram(t, env, `entity.owner != "" && entity.name == "api"`)
	f := a.Frame()
	defer f.Close()
	for i := range 2000 {
		got := small.EvalFrame(context.Background(), f)
		if got.State != yardstick.StatePass || got.Cost == 0 {
			t.Fatalf("EvalFrame(small) #%d = %s (%v), cost %d; want pass with a cost", i, got.State, got.Err, got.Cost)
		}
	}
}

func TestEvalCancelled(t *testing.T) {
	env := mustEnv(t)
	a := env.Activation(sampleInput(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, expr := range []string{`entity.owner != ""`, `lists.range(100000).all(i, i >= 0)`} {
		got := mustProgram(t, env, expr).Eval(ctx, a)
		if got.State != yardstick.StateUnknown || !errors.Is(got.Err, context.Canceled) {
			t.Errorf("Eval(%q) with a cancelled context = %s (%v), want unknown wrapping context.Canceled", expr, got.State, got.Err)
		}
	}
}

func TestObserveAndReads(t *testing.T) {
	env := mustEnv(t)
	a := env.Activation(sampleInput(t))
	for _, tt := range []struct {
		expr     string
		reads    []string
		observed string
	}{
		{`facts.github.branch_protection.required_reviews >= 2 && metrics.deploys_per_week >= 1`,
			[]string{"facts.github.branch_protection.required_reviews", "metrics.deploys_per_week"},
			"facts.github.branch_protection.required_reviews = 1; metrics.deploys_per_week = 3.5"},
		{`semver(facts.github.go_version) >= semver("1.22.0")`, []string{"facts.github.go_version"}, `facts.github.go_version = "1.21.5"`},
		{`has(facts.github.dependabot) && facts.github.dependabot`, []string{"facts.github.dependabot"}, "facts.github.dependabot missing"},
		{`metrics["lead_time_p50_hours"] < 24.0`, []string{"metrics.lead_time_p50_hours"}, "metrics.lead_time_p50_hours missing"},
		{`facts.github.files.readme && facts.github.files.codeowners`, []string{"facts.github.files.codeowners", "facts.github.files.readme"},
			"facts.github.files.codeowners = false; facts.github.files.readme = true"},
		{`facts.github.branch_protection.required_status_checks.exists(c, c == "ci")`, []string{"facts.github.branch_protection.required_status_checks"},
			`facts.github.branch_protection.required_status_checks = ["ci","lint"]`},
		{`entity.owner != ""`, []string{}, ""},
	} {
		p := mustProgram(t, env, tt.expr)
		if diff := cmp.Diff(tt.reads, p.Reads()); diff != "" {
			t.Errorf("Reads(%q) (-want +got):\n%s", tt.expr, diff)
		}
		if got := p.Observe(context.Background(), a); got != tt.observed {
			t.Errorf("Observe(%q) = %q, want %q", tt.expr, got, tt.observed)
		}
	}
}

func TestNewEntityBadSpec(t *testing.T) {
	_, err := NewEntity(yardstick.Entity{Ref: "component:default/x", Spec: "[1,"})
	if err == nil || !strings.Contains(err.Error(), "component:default/x") {
		t.Errorf("NewEntity(bad spec) = %v, want an error naming the entity", err)
	}
}

// hostileInput is an entity whose facts hold a large list and a long string,
// as a collector could store them.
func hostileInput(t testing.TB) Input {
	in := sampleInput(t)
	big := make([]any, 200_000)
	for i := range big {
		big[i] = strconv.Itoa(i)
	}
	in.Facts["github"]["topics"] = big
	in.Facts["github"]["description"] = strings.Repeat("a", 100_000)
	return in
}

// TestCELHostileExpressionsStopAtCostLimit: expressions without a
// comprehension that used to run for minutes or take gigabytes stop with
// ErrCostLimit (cel-go's cost models charge lists.range, distinct,
// sets.equivalent and replace by the work they do).
func TestCELHostileExpressionsStopAtCostLimit(t *testing.T) {
	env := mustEnv(t)
	a := env.Activation(hostileInput(t))
	for _, expr := range []string{
		// sizes only known at run time: metrics and facts
		`lists.range(int(metrics.deploys_per_week * 100000.0)).distinct().size() > 0`,
		`facts.github.topics.distinct().size() > 0`,
		`sets.equivalent(facts.github.topics, facts.github.topics)`,
		`sets.contains(facts.github.topics, facts.github.topics.reverse())`,
		`facts.github.description.replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").size() > 0`,
		// growth from a constant: the least cost is small, the actual is not
		`"aaaaaaaaaa".replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").replace("a", "aaaaaaaaaa").size() > 0`,
	} {
		got := mustProgram(t, env, expr).Eval(context.Background(), a)
		if got.State != yardstick.StateUnknown || !errors.Is(got.Err, ErrCostLimit) {
			t.Errorf("Eval(%q) = %s (%v), want unknown with ErrCostLimit", expr, got.State, got.Err)
		}
	}
}

// TestCELUnboundedExpressionRefusedAtLoad: an expression that costs more than
// the limit whatever the data is refused when the file is loaded, at its
// position, rather than failing on every entity.
func TestCELUnboundedExpressionRefusedAtLoad(t *testing.T) {
	env := mustEnv(t)
	for _, expr := range []string{
		`lists.range(1000000).distinct().size() > 0`,
		`sets.equivalent(lists.range(1000000), lists.range(1000000))`,
	} {
		_, err := env.LoadFile("t.yaml", []byte(header+"  - id: c\n    title: C\n    level: bronze\n    expr: "+quoteYAML(expr)+"\n"))
		var p *Problem
		if !errors.As(err, &p) || !strings.Contains(p.Msg, "over the cost limit") || p.Pos.File != "t.yaml" || p.Pos.Line == 0 {
			t.Errorf("LoadFile(%q) = %v, want a positioned problem saying it is over the cost limit", expr, err)
		}
	}
}

// TestCELCancelStopsRunningEvaluation: cancelling the context of an
// evaluation that is already running stops it (interrupt checks inside the
// loop), and the outcome wraps context.Canceled.
func TestCELCancelStopsRunningEvaluation(t *testing.T) {
	env := mustEnvWith(t, Options{CostLimit: math.MaxUint64})
	a := env.Activation(sampleInput(t))
	// Without a cost limit this runs for hours.
	p := mustProgram(t, env, `lists.range(1000000).all(i, lists.range(1000000).all(j, i + j >= 0))`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { done <- p.Eval(ctx, a) }()
	// Cancel once evaluation is under way: the outcome must then come back.
	time.Sleep(50 * time.Millisecond)
	cancel()
	got := <-done
	if got.State != yardstick.StateUnknown || !errors.Is(got.Err, context.Canceled) {
		t.Errorf("Eval after cancel = %s (%v), want unknown wrapping context.Canceled", got.State, got.Err)
	}
}
