package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/yardstick-dev/yardstick"
)

// Errors an evaluation can end with. Compare with errors.Is.
var (
	// ErrMissing means the expression read a fact or metric the entity does not have.
	ErrMissing = errors.New("missing fact or metric")
	// ErrCostLimit means the evaluation was stopped by the cost limit.
	ErrCostLimit = errors.New("cost limit exceeded")
)

// Program is one compiled, type-checked boolean expression. It is safe for
// concurrent use.
//
// Every evaluation runs under the environment's cost limit: cel-go charges
// each call by its cost model (a list built by lists.range, the pairs compared
// by distinct or sets.equivalent, the bytes a replace writes), and the few
// calls that do more work than their inputs are refused before they start
// (see cost.go), so even an expression without a comprehension stops with
// ErrCostLimit instead of running for minutes or taking gigabytes.
//
// Only comprehensions (all, exists, map, filter…) make CEL evaluation loop,
// and only their iterations can notice a cancelled context: a Program with a
// comprehension is evaluated with ContextEval, its loops checking the context
// every interruptEvery iterations. A loop-free Program checks the context
// before it starts and is then bounded by the cost limit alone; it skips
// ContextEval's per-evaluation context set-up, which would double its price.
type Program struct {
	Text string // the expression as written
	Pos  Pos    // where it starts in its file

	prg   cel.Program
	loops bool   // has a comprehension: evaluated with ContextEval
	reads []read // the fact and metric paths the expression reads
}

// read is one path an expression reads ("facts.github.files.readme"), kept
// so that a failing check can say what it saw.
type read struct {
	path string
	root string    // VarFacts or VarMetrics
	keys []ref.Val // the fields after it as CEL strings: "github", "files", "readme"
}

// Outcome is the result of one evaluation.
type Outcome struct {
	// State is StatePass (true), StateFail (false) or StateUnknown.
	State yardstick.CheckState
	// Err says why the state is unknown; it wraps ErrMissing, ErrCostLimit or
	// the context's error when one of them is the cause.
	Err error
	// Cost is what the evaluation spent in CEL cost units.
	Cost uint64
}

// Eval evaluates the expression against a. A missing fact or metric, a
// runtime error, the cost limit or a done ctx make the outcome unknown, never
// pass or fail.
func (p *Program) Eval(ctx context.Context, a *Activation) Outcome {
	return p.eval(ctx, a, nil)
}

// EvalFrame is Eval on a Frame: the same outcome, without setting up an
// evaluation each time.
func (p *Program) EvalFrame(ctx context.Context, f *Frame) Outcome {
	return p.eval(ctx, f.a, f.frame)
}

// eval evaluates against a, through frame when it is given and the program
// is loop-free.
func (p *Program) eval(ctx context.Context, a *Activation, frame *interpreter.ExecutionFrame) Outcome {
	select {
	case <-ctx.Done():
		return Outcome{State: yardstick.StateUnknown, Err: fmt.Errorf("evaluation stopped: %w", context.Cause(ctx))}
	default:
	}
	var (
		out ref.Val
		det *cel.EvalDetails
		err error
	)
	switch {
	case p.loops:
		out, det, err = p.prg.ContextEval(ctx, a)
	case frame != nil:
		frame.SetCostTracker(nil) // a fresh tracker, so costs do not add up across evaluations
		out, det, err = p.prg.Eval(frame)
	default:
		out, det, err = p.prg.Eval(a)
	}
	var cost uint64
	if det != nil && det.ActualCost() != nil {
		cost = *det.ActualCost()
	}
	if err != nil {
		return Outcome{State: yardstick.StateUnknown, Err: classify(ctx, err), Cost: cost}
	}
	if b, ok := out.(types.Bool); ok {
		if b {
			return Outcome{State: yardstick.StatePass, Cost: cost}
		}
		return Outcome{State: yardstick.StateFail, Cost: cost}
	}
	return Outcome{State: yardstick.StateUnknown, Err: fmt.Errorf("result is %s, not bool", out.Type().TypeName()), Cost: cost}
}

// Frame prepares one Activation for many evaluations in a row on one
// goroutine, as scoring does with an entity's checks: cel-go accepts a
// prepared execution frame in place of an activation, which saves setting one
// up per evaluation (about 15% of a small check). Each evaluation still gets
// its own cost tracker, and programs with comprehensions their own frame for
// ContextEval. A Frame is not safe for concurrent use; Close it after the
// last evaluation.
type Frame struct {
	a     *Activation
	frame *interpreter.ExecutionFrame
}

// Frame returns a Frame over a.
func (a *Activation) Frame() *Frame {
	f, err := interpreter.NewExecutionFrame(interpreter.Activation(a))
	if err != nil { // only for inputs that are not activations
		panic("checks: execution frame: " + err.Error())
	}
	return &Frame{a: a, frame: f}
}

// Activation returns the activation the frame evaluates against.
func (f *Frame) Activation() *Activation { return f.a }

// Close returns the frame's resources to cel-go's pool.
func (f *Frame) Close() { f.frame.Close() }

// Loops reports whether the expression has a comprehension.
func (p *Program) Loops() bool { return p.loops }

func classify(ctx context.Context, err error) error {
	// Missing data is by far the most common error, so it is recognised
	// first. cel-go exports no sentinel for an absent map key or attribute
	// (its resolution error type is unexported): its stable messages are what
	// can be matched.
	msg := err.Error()
	if key, ok := strings.CutPrefix(msg, "no such key: "); ok {
		return missingError(key)
	}
	if strings.HasPrefix(msg, "no such attribute") {
		return missingError(msg)
	}
	var cancelled interpreter.EvalCancelledError
	switch {
	case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
		return ErrCostLimit
	case ctx.Err() != nil:
		return fmt.Errorf("evaluation stopped: %w", context.Cause(ctx))
	}
	return err
}

// missingError names the fact or metric key that was missing; it is ErrMissing.
type missingError string

func (e missingError) Error() string { return ErrMissing.Error() + ": " + string(e) }
func (e missingError) Unwrap() error { return ErrMissing }

// isMissing reports whether err is cel-go's error for an absent map key or
// attribute. cel-go exports no sentinel for it (its resolution error type is
// unexported), so its stable message prefixes are what can be matched.
func isMissing(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "no such key: ") || strings.HasPrefix(msg, "no such attribute")
}

// Reads returns the fact and metric paths the expression reads
// ("facts.github.go_version", "metrics.deploys_per_week"), sorted.
func (p *Program) Reads() []string {
	out := make([]string, len(p.reads))
	for i, r := range p.reads {
		out[i] = r.path
	}
	return out
}

// Observe says what the expression saw: each fact and metric path it reads
// with its value, or "missing". Scoring stores it with failing and unknown
// results, to answer "why do we fail".
func (p *Program) Observe(ctx context.Context, a *Activation) string {
	if len(p.reads) == 0 || ctx.Err() != nil {
		return ""
	}
	var b strings.Builder
	for i, r := range p.reads {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.path)
		out, ok := a.lookup(r.root, r.keys)
		if !ok {
			b.WriteString(" missing")
			continue
		}
		b.WriteString(" = ")
		writeValue(&b, out)
	}
	return b.String()
}

// writeValue prints a CEL value compactly: strings quoted, numbers without
// trailing zeros, lists and maps as JSON, capped in length.
func writeValue(b *strings.Builder, v ref.Val) {
	const maxLen = 200
	switch x := v.(type) {
	case types.String:
		if len(x) > maxLen {
			x = x[:maxLen] + "…"
		}
		b.WriteString(strconv.Quote(string(x)))
		return
	case types.Double:
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 64))
		return
	case types.Bool:
		b.WriteString(strconv.FormatBool(bool(x)))
		return
	case types.Int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
		return
	case types.Null:
		b.WriteString("null")
		return
	case types.Timestamp:
		b.WriteString(x.Time.UTC().Format(time.RFC3339))
		return
	}
	s := fmt.Sprint(v.Value())
	if native, err := v.ConvertToNative(anyType); err == nil {
		if j, err := json.Marshal(native); err == nil {
			s = string(j)
		}
	}
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	b.WriteString(s)
}

var anyType = reflect.TypeFor[any]()

// compile parses and type-checks one expression written at node in src. want
// is the result type (bool for every rule expression). Problems name the file
// position of what is wrong.
func (e *Env) compile(src *source, text string, positions []Pos, what string) (*Program, []*Problem) {
	ast, iss := e.cel.CompileSource(common.NewStringSource(text, src.name))
	if iss.Err() != nil {
		var problems []*Problem
		for _, ce := range iss.Errors() {
			problems = append(problems, &Problem{Pos: celPos(text, positions, ce.Location), Msg: what + ": " + ce.Message})
		}
		return nil, problems
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		msg := fmt.Sprintf("%s: must be a bool expression, got %s", what, ast.OutputType())
		if ast.OutputType().IsExactType(cel.DynType) {
			msg += " (compare the value, e.g. `== true`)"
		}
		return nil, []*Problem{{Pos: positions[0], Msg: msg}}
	}
	// An expression whose least possible cost is over the limit would stop
	// with ErrCostLimit on every entity: refuse it here, where the author sees it.
	if est, err := e.cel.EstimateCost(ast, nil); err == nil && est.Min > e.costLimit {
		return nil, []*Problem{{Pos: positions[0], Msg: fmt.Sprintf("%s: costs at least %d to evaluate, over the cost limit of %d (docs/rules.md#cost-limit)", what, est.Min, e.costLimit)}}
	}
	prg, err := e.cel.Program(ast,
		cel.CostLimit(e.costLimit),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, []*Problem{{Pos: positions[0], Msg: fmt.Sprintf("%s: %v", what, err)}}
	}
	p := &Program{Text: text, Pos: positions[0], prg: prg, loops: hasComprehension(ast.NativeRep().Expr())}
	var problems []*Problem
	for _, r := range readPaths(ast.NativeRep().Expr()) {
		if name, ok := metricName(r.path); ok {
			if _, known := yardstick.LookupMetric(name); !known {
				at := celPos(text, positions, ast.NativeRep().SourceInfo().GetStartLocation(r.id))
				problems = append(problems, &Problem{Pos: at, Msg: fmt.Sprintf("%s: unknown metric %q%s (metrics: docs/metrics.md)", what, name, didYouMean(name, yardstick.MetricNames()))})
				continue
			}
		}
		parts := strings.Split(r.path, ".")
		keys := make([]ref.Val, len(parts)-1)
		for i, f := range parts[1:] {
			keys[i] = types.String(f)
		}
		p.reads = append(p.reads, read{path: r.path, root: parts[0], keys: keys})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return p, nil
}

// didYouMean suggests the closest of names to a misspelt one.
func didYouMean(got string, names []string) string {
	best, bestD := "", len(got)/2+1 // suggest only names within a few edits
	for _, n := range names {
		if d := editDistance(got, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(", did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// hasComprehension reports whether an expression has a comprehension.
func hasComprehension(e ast.Expr) (loops bool) {
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() == ast.ComprehensionKind {
			loops = true
		}
	}))
	return loops
}

// celPos turns a CEL location (line from 1, column from 0, inside the
// expression) into a file position.
func celPos(text string, positions []Pos, loc common.Location) Pos {
	runes := []rune(text)
	line, off := 1, 0
	for off < len(runes) && line < loc.Line() {
		if runes[off] == '\n' {
			line++
		}
		off++
	}
	off += max(loc.Column(), 0)
	return positions[min(off, len(positions)-1)]
}

// readPaths returns the fact and metric paths an expression reads, outermost
// selections only (facts.github.branch_protection.required_reviews, not also
// facts.github), ignoring has() tests. Constant-key indexing (metrics["x"])
// counts as a read of metrics.x.
func readPaths(e ast.Expr) []pathRead {
	seen := map[string]int64{}
	note := func(path string, id int64) {
		if _, ok := seen[path]; !ok {
			seen[path] = id
		}
	}
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			sel := e.AsSelect()
			if sel.IsTestOnly() {
				return
			}
			if path, ok := selectPath(e); ok {
				note(path, e.ID())
				return
			}
			walk(sel.Operand())
		case ast.CallKind:
			call := e.AsCall()
			if call.FunctionName() == operators.Index && len(call.Args()) == 2 {
				if path, ok := selectPath(call.Args()[0]); ok || isVar(call.Args()[0]) {
					if !ok {
						path = call.Args()[0].AsIdent()
					}
					if key := call.Args()[1]; key.Kind() == ast.LiteralKind {
						if s, isStr := key.AsLiteral().(types.String); isStr && isIdentifier(string(s)) {
							note(path+"."+string(s), e.ID())
							return
						}
					}
				}
			}
			if call.IsMemberFunction() {
				walk(call.Target())
			}
			for _, a := range call.Args() {
				walk(a)
			}
		case ast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		case ast.StructKind:
			for _, f := range e.AsStruct().Fields() {
				walk(f.AsStructField().Value())
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				walk(x)
			}
		}
	}
	walk(e)
	out := make([]pathRead, 0, len(seen))
	for _, p := range sortedKeys(seen) {
		out = append(out, pathRead{path: p, id: seen[p]})
	}
	return out
}

// pathRead is a path an expression reads and the id of the expression node
// that reads it first.
type pathRead struct {
	path string
	id   int64
}

func isVar(e ast.Expr) bool {
	return e.Kind() == ast.IdentKind && (e.AsIdent() == VarFacts || e.AsIdent() == VarMetrics)
}

// selectPath returns "facts.a.b" for a selection chain rooted at facts or metrics.
func selectPath(e ast.Expr) (string, bool) {
	var fields []string
	for e.Kind() == ast.SelectKind {
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return "", false
		}
		fields = append(fields, sel.FieldName())
		e = sel.Operand()
	}
	if len(fields) == 0 || !isVar(e) {
		return "", false
	}
	slices.Reverse(fields)
	return e.AsIdent() + "." + strings.Join(fields, "."), true
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
