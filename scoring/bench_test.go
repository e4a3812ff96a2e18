package scoring

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
	"github.com/yardstick-dev/yardstick/collectors/github"
)

// The benchmark scores 10,000 generated entities against a scorecard of 100
// checks (1,000,000 evaluations): ten shapes of check that real scorecards
// use (entity fields, nested facts, metrics, semver, dates, missing data),
// each with ten thresholds. Every shape is also written as a plain Go
// function over the same data, for the CEL/Go ratio.

const (
	benchEntities = 10_000
	benchVariants = 10 // thresholds per shape: 10 shapes × 10 = 100 checks
)

var benchNow = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)

// goCheck is a check written in Go: pass (true), fail (false) or unknown (ok false).
type goCheck func(e *yardstick.Entity, f yardstick.Facts, m map[string]float64) (pass, ok bool)

type benchShape struct {
	expr string // with %d for the threshold
	gofn func(k int) goCheck
}

func fact(f yardstick.Facts, source, name string) (any, bool) {
	v, ok := f[source][name]
	return v, ok && v != nil
}

func factField(f yardstick.Facts, source, name, field string) (any, bool) {
	v, ok := fact(f, source, name)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	x, ok := m[field]
	return x, ok
}

func minorOf(v string) (int, bool) {
	parts := strings.Split(strings.TrimPrefix(v, "go"), ".")
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return n, err == nil
}

var benchShapes = []benchShape{
	{`entity.owner != "" && entity.lifecycle == "production" && "tier-%d" in entity.tags`, func(k int) goCheck {
		tag := fmt.Sprintf("tier-%d", k)
		return func(e *yardstick.Entity, _ yardstick.Facts, _ map[string]float64) (bool, bool) {
			if e.Owner == "" || e.Lifecycle != "production" {
				return false, true
			}
			for _, t := range e.Tags {
				if t == tag {
					return true, true
				}
			}
			return false, true
		}
	}},
	{`facts.github.branch_protection.required_reviews >= %d`, func(k int) goCheck {
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			v, ok := factField(f, "github", "branch_protection", "required_reviews")
			n, isNum := v.(float64)
			if !ok || !isNum {
				return false, false
			}
			return n >= float64(k%4), true
		}
	}},
	{`facts.github.files.readme == true && facts.github.files.codeowners == true && %d >= 0`, func(int) goCheck {
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			r, ok1 := factField(f, "github", "files", "readme")
			c, ok2 := factField(f, "github", "files", "codeowners")
			if !ok1 || !ok2 {
				return false, false
			}
			return r == true && c == true, true
		}
	}},
	{`metrics.deploys_per_week >= %d.0`, func(k int) goCheck {
		return func(_ *yardstick.Entity, _ yardstick.Facts, m map[string]float64) (bool, bool) {
			v, ok := m["deploys_per_week"]
			return ok && v >= float64(k), ok
		}
	}},
	{`semver(facts.github.go_version) >= semver("1.%d.0")`, func(k int) goCheck {
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			v, ok := fact(f, "github", "go_version")
			s, isStr := v.(string)
			if !ok || !isStr {
				return false, false
			}
			minor, ok := minorOf(s)
			return ok && minor >= 15+k, ok
		}
	}},
	{`metrics.change_failure_rate <= 0.%d && metrics.lead_time_p50_hours < 48.0`, func(k int) goCheck {
		return func(_ *yardstick.Entity, _ yardstick.Facts, m map[string]float64) (bool, bool) {
			cfr, ok1 := m["change_failure_rate"]
			lt, ok2 := m["lead_time_p50_hours"]
			if ok1 && cfr > float64(k)/10 {
				return false, true // && short-circuits on a known false
			}
			if ok2 && lt >= 48 {
				return false, true
			}
			return true, ok1 && ok2
		}
	}},
	{`facts.pagerduty.oncall_levels >= %d && facts.pagerduty.has_escalation_policy == true`, func(k int) goCheck {
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			l, ok1 := fact(f, "pagerduty", "oncall_levels")
			p, ok2 := fact(f, "pagerduty", "has_escalation_policy")
			n, isNum := l.(float64)
			if ok1 && isNum && n < float64(k%3) || ok2 && p != true {
				return false, true
			}
			return true, ok1 && ok2 && isNum
		}
	}},
	{`daysSince(facts.github.repository.pushed_at) < %d.0`, func(k int) goCheck {
		limit := float64(10 * (k + 1))
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			v, ok := factField(f, "github", "repository", "pushed_at")
			s, isStr := v.(string)
			if !ok || !isStr {
				return false, false
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return false, false
			}
			return benchNow.Sub(t).Hours()/24 < limit, true
		}
	}},
	{`entity.annotations["github.com/project-slug"].startsWith("acme/") && entity.spec.tier <= %d`, func(k int) goCheck {
		return func(e *yardstick.Entity, _ yardstick.Facts, _ map[string]float64) (bool, bool) {
			slug, ok := e.Annotations[github.AnnotationSlug]
			if !ok {
				return false, false
			}
			if !strings.HasPrefix(slug, "acme/") {
				return false, true
			}
			return benchTier(e) <= k%4, true
		}
	}},
	{`facts.jira.open_bugs < %d`, func(k int) goCheck {
		return func(_ *yardstick.Entity, f yardstick.Facts, _ map[string]float64) (bool, bool) {
			v, ok := fact(f, "jira", "open_bugs")
			n, isNum := v.(float64)
			if !ok || !isNum {
				return false, false
			}
			return n < float64(5*k), true
		}
	}},
}

// benchTier reads spec.tier the way a Go check would: the generated spec is
// `{"tier":N}`, so the digit after the colon.
func benchTier(e *yardstick.Entity) int {
	i := strings.IndexByte(e.Spec, ':')
	if i < 0 || i+1 >= len(e.Spec) {
		return 0
	}
	return int(e.Spec[i+1] - '0')
}

// thresholdFor maps a shape's variant to the literal in its CEL text, so the
// CEL and Go versions test the same thing.
func thresholdFor(shape, k int) int {
	switch shape {
	case 1, 8:
		return k % 4
	case 4:
		return 15 + k
	case 6:
		return k % 3
	case 7:
		return 10 * (k + 1)
	case 9:
		return 5 * k
	}
	return k
}

func benchScorecard() (string, []goCheck) {
	var b strings.Builder
	b.WriteString("kind: Scorecard\nid: bench\ntitle: Benchmark\nlevels: [bronze, silver, gold]\nchecks:\n")
	var fns []goCheck
	levels := []string{"bronze", "silver", "gold"}
	for s, shape := range benchShapes {
		for k := range benchVariants {
			expr := fmt.Sprintf(shape.expr, thresholdFor(s, k))
			fmt.Fprintf(&b, "  - id: c%d-%d\n    title: Check %d.%d\n    level: %s\n    expr: %q\n", s, k, s, k, levels[(s+k)%3], expr)
			fns = append(fns, shape.gofn(k))
		}
	}
	return b.String(), fns
}

// benchInput generates entities with a realistic mix: most facts present,
// some missing (unknown checks), versions, dates and metrics spread out.
func benchInput() Input {
	rng := rand.New(rand.NewPCG(1, 2))
	in := Input{RunID: "bench", At: benchNow, Facts: map[yardstick.EntityRef]yardstick.Facts{}, Metrics: map[yardstick.EntityRef]map[string]float64{}}
	lifecycles := []string{"production", "production", "production", "experimental"}
	for i := range benchEntities {
		ref := yardstick.NewEntityRef("component", "default", fmt.Sprintf("svc-%05d", i))
		e := yardstick.Entity{
			Ref: ref, Kind: "Component", Namespace: "default", Name: ref.Name(), Type: "service",
			Lifecycle: lifecycles[rng.IntN(4)], Owner: yardstick.EntityRef(fmt.Sprintf("group:default/squad-%02d", i%40)),
			Tags:        []string{fmt.Sprintf("tier-%d", rng.IntN(10)), "go"},
			Annotations: map[string]string{github.AnnotationSlug: "acme/" + ref.Name()},
			Spec:        fmt.Sprintf(`{"tier":%d}`, rng.IntN(4)),
		}
		in.Entities = append(in.Entities, e)
		f := yardstick.Facts{"github": {
			"go_version":        fmt.Sprintf("1.%d.%d", 15+rng.IntN(10), rng.IntN(5)),
			"branch_protection": map[string]any{"required_reviews": float64(rng.IntN(4)), "protected": true},
			"files":             map[string]any{"readme": rng.IntN(10) > 0, "codeowners": rng.IntN(2) == 0},
			"repository":        map[string]any{"pushed_at": benchNow.Add(-time.Duration(rng.IntN(100*24)) * time.Hour).Format(time.RFC3339)},
		}}
		if rng.IntN(5) > 0 {
			f["pagerduty"] = map[string]any{"oncall_levels": float64(rng.IntN(4)), "has_escalation_policy": rng.IntN(4) > 0}
		}
		if rng.IntN(3) > 0 {
			f["jira"] = map[string]any{"open_bugs": float64(rng.IntN(50))}
		}
		in.Facts[ref] = f
		m := map[string]float64{"deploys_per_week": float64(rng.IntN(12))}
		if rng.IntN(4) > 0 {
			m["change_failure_rate"] = rng.Float64() / 2
			m["lead_time_p50_hours"] = rng.Float64() * 100
		}
		in.Metrics[ref] = m
	}
	return in
}

func mustBench(b *testing.B) (*checks.Env, *checks.RuleSet, []goCheck, Input) {
	b.Helper()
	env := checkstest.MustEnv(b)
	yaml, fns := benchScorecard()
	set, err := env.LoadFile("bench.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	return env, set, fns, benchInput()
}

// parallel runs fn(i) for every entity index on GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(64)) - 64
				if start >= n {
					return
				}
				for i := start; i < min(start+64, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkScoreRun scores 10,000 entities × 100 checks through the engine:
// activations, evaluations, exemptions, levels, scores and the values seen
// by failing checks, on every core. It reports evaluations per second and
// the seconds per million evaluations.
//
// Wall time depends on what else the machine runs; cpu-s/1M-evals (the
// process's user and system CPU time) does not, and divided by the cores it
// is the wall time on an otherwise idle machine.
func BenchmarkScoreRun(b *testing.B) {
	defer setBenchGC()()
	env, set, _, in := mustBench(b)
	engine := NewEngine(env, set, EngineConfig{})
	b.ResetTimer()
	var evals int64
	cpu0 := cpuTime(b)
	for b.Loop() {
		run, err := engine.Evaluate(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		evals += run.Evaluations
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(evals)/sec, "evals/s")
	b.ReportMetric(sec/float64(evals)*1e6, "s/1M-evals")
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(evals)*1e6, "cpu-s/1M-evals")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")
}

// cpuTime is the user plus system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCELvsGo evaluates the same 1,000,000 checks as compiled CEL
// programs and as plain Go functions, both on every core, and reports each
// one's seconds per million evaluations and their ratio.
func BenchmarkCELvsGo(b *testing.B) {
	defer setBenchGC()()
	env, set, fns, in := mustBench(b)
	checksList := set.Scorecards[0].Checks
	ctx := context.Background()
	views := make([]checks.Entity, len(in.Entities))
	for i, e := range in.Entities {
		v, err := checks.NewEntity(e)
		if err != nil {
			b.Fatal(err)
		}
		views[i] = v
	}
	var celDur, goDur, celCPU, goCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		celStates := make([][]yardstick.CheckState, len(in.Entities))
		cpu0, start := cpuTime(b), time.Now()
		parallel(len(in.Entities), func(i int) {
			a := env.Activation(checks.Input{Entity: views[i], Facts: in.Facts[in.Entities[i].Ref], Metrics: in.Metrics[in.Entities[i].Ref], Now: benchNow})
			f := a.Frame()
			states := make([]yardstick.CheckState, len(checksList))
			for j, c := range checksList {
				states[j] = c.Expr.EvalFrame(ctx, f).State
			}
			f.Close()
			celStates[i] = states
		})
		celDur += time.Since(start)
		celCPU += cpuTime(b) - cpu0

		goStates := make([][]yardstick.CheckState, len(in.Entities))
		cpu0, start = cpuTime(b), time.Now()
		parallel(len(in.Entities), func(i int) {
			e := &in.Entities[i]
			f, m := in.Facts[e.Ref], in.Metrics[e.Ref]
			states := make([]yardstick.CheckState, len(fns))
			for j, fn := range fns {
				switch pass, ok := fn(e, f, m); {
				case !ok:
					states[j] = yardstick.StateUnknown
				case pass:
					states[j] = yardstick.StatePass
				default:
					states[j] = yardstick.StateFail
				}
			}
			goStates[i] = states
		})
		goDur += time.Since(start)
		goCPU += cpuTime(b) - cpu0

		b.StopTimer()
		for i := range celStates {
			for j := range celStates[i] {
				if celStates[i][j] != goStates[i][j] {
					b.Fatalf("entity %d check %s: CEL %s, Go %s", i, checksList[j].ID, celStates[i][j], goStates[i][j])
				}
			}
		}
		b.StartTimer()
	}
	n := float64(b.N) * benchEntities * float64(len(checksList))
	b.ReportMetric(celDur.Seconds()/n*1e6, "cel-s/1M-evals")
	b.ReportMetric(goDur.Seconds()/n*1e6, "go-s/1M-evals")
	b.ReportMetric(celDur.Seconds()/goDur.Seconds(), "cel/go")
	b.ReportMetric(n/celDur.Seconds(), "cel-evals/s")
	b.ReportMetric(celCPU.Seconds()/n*1e6, "cel-cpu-s/1M-evals")
	b.ReportMetric(goCPU.Seconds()/n*1e6, "go-cpu-s/1M-evals")
	b.ReportMetric(celCPU.Seconds()/goCPU.Seconds(), "cel/go-cpu")
}

// BenchmarkCheckShapes times each shape of check on one core, CEL against
// the Go function, over 1,000 of the generated entities: each iteration is
// 100,000 evaluations, so `-benchtime 1x` (make bench) still reports ns/eval.
func BenchmarkCheckShapes(b *testing.B) {
	defer setBenchGC()()
	env, set, fns, in := mustBench(b)
	ctx := context.Background()
	acts := make([]*checks.Activation, 1000)
	for i := range acts {
		e := in.Entities[i]
		v, err := checks.NewEntity(e)
		if err != nil {
			b.Fatal(err)
		}
		acts[i] = env.Activation(checks.Input{Entity: v, Facts: in.Facts[e.Ref], Metrics: in.Metrics[e.Ref], Now: benchNow})
	}
	const perIteration = 100_000
	for s := range benchShapes {
		c := set.Scorecards[0].Checks[s*benchVariants+3]
		fn := fns[s*benchVariants+3]
		b.Run(fmt.Sprintf("%d/cel", s), func(b *testing.B) {
			for b.Loop() {
				for i := range perIteration {
					c.Expr.Eval(ctx, acts[i%len(acts)])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perIteration), "ns/eval")
		})
		b.Run(fmt.Sprintf("%d/go", s), func(b *testing.B) {
			for b.Loop() {
				for i := range perIteration {
					e := &in.Entities[i%len(acts)]
					fn(e, in.Facts[e.Ref], in.Metrics[e.Ref])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perIteration), "ns/eval")
		})
	}
}

// setBenchGC runs the benchmark with the garbage-collector setting the
// yardstick binary uses for every command (cmd/yardstick GCPercent), so the
// figures are what `yardstick score` and `serve` get. It returns the undo.
func setBenchGC() func() {
	old := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(old) }
}
