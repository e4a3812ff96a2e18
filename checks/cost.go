package checks

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// cel-go charges a call's cost after the call returns, from its arguments and
// result. That bounds every call whose work is linear in what it reads or
// builds: the next charge after a runaway stops the evaluation. A few
// extension functions do more work than that, comparing every element of one
// list with every element of another or writing a result many times their
// input, and would run for minutes or take gigabytes before their charge
// arrives. Their bindings are wrapped here to refuse, before any work, a call
// whose work alone is over the cost limit.

// callWork returns an upper bound of the elementary steps (comparisons,
// bytes written) one call with these arguments does.
type callWork func(args []ref.Val) uint64

// guardedOverloads are the overloads checked before they run, by overload id.
var guardedOverloads = map[string]callWork{
	// Each element is compared with the distinct ones before it.
	"list_distinct": func(a []ref.Val) uint64 { n := size(a[0]); return n * n / 2 },
	// Set operations compare each element of one list with those of the other.
	"list_sets_contains_list":   pairs,
	"list_sets_equivalent_list": func(a []ref.Val) uint64 { return 2 * pairs(a) },
	"list_sets_intersects_list": pairs,
	"list_hasOnly_list":         pairs,
	"list_hasAny_list":          pairs,
	"list_hasAll_list":          pairs,
	"list_hasExactly_list":      func(a []ref.Val) uint64 { return 2 * pairs(a) },
	// replace writes the string plus each replacement; with an empty search
	// string, one between every two bytes.
	"string_replace_string_string":     replaceWork,
	"string_replace_string_string_int": replaceWork,
}

// size is the length of a list, map or string value, 0 for other values.
func size(v ref.Val) uint64 {
	if s, ok := v.(traits.Sizer); ok {
		if n, ok := s.Size().(types.Int); ok && n > 0 {
			return uint64(n)
		}
	}
	return 0
}

func pairs(a []ref.Val) uint64 {
	x, y := size(a[0]), size(a[1])
	if x != 0 && y > ^uint64(0)/x {
		return ^uint64(0)
	}
	return x * y
}

func replaceWork(a []ref.Val) uint64 {
	s, ok1 := a[0].(types.String)
	old, ok2 := a[1].(types.String)
	repl, ok3 := a[2].(types.String)
	if !ok1 || !ok2 || !ok3 {
		return 0
	}
	n := uint64(len(s)) + 1 // replacements possible with an empty search string
	if len(old) > 0 {
		n = uint64(strings.Count(string(s), string(old)))
	}
	if len(a) == 4 {
		if limit, ok := a[3].(types.Int); ok && limit >= 0 && uint64(limit) < n {
			n = uint64(limit)
		}
	}
	// cel-go charges strings a tenth of a unit a byte.
	return (uint64(len(s)) + n*uint64(len(repl))) / 10
}

// costGuards rebinds the guarded overloads of env so that a call whose work
// is over limit stops the evaluation with the cost-limit error, as cel-go's
// own tracker does, before doing the work.
func costGuards(limit uint64) cel.EnvOption {
	return func(env *cel.Env) (*cel.Env, error) {
		var opts []cel.EnvOption
		for name, fn := range env.Functions() {
			bindings, err := fn.Bindings()
			if err != nil {
				return nil, fmt.Errorf("bindings of %s: %w", name, err)
			}
			for _, o := range fn.OverloadDecls() {
				work, ok := guardedOverloads[o.ID()]
				if !ok {
					continue
				}
				var orig *functions.Overload
				for _, b := range bindings {
					if b.Operator == o.ID() {
						orig = b
					}
				}
				if orig == nil {
					return nil, fmt.Errorf("guard %s: overload %s has no binding", name, o.ID())
				}
				opts = append(opts, cel.Function(name, guardedOverload(o, orig, work, limit)))
			}
		}
		return applyOptions(env, opts)
	}
}

// applyOptions extends env with opts, in order.
func applyOptions(env *cel.Env, opts []cel.EnvOption) (*cel.Env, error) {
	for _, o := range opts {
		var err error
		if env, err = o(env); err != nil {
			return nil, err
		}
	}
	return env, nil
}

func guardedOverload(o *decls.OverloadDecl, orig *functions.Overload, work callWork, limit uint64) cel.FunctionOpt {
	check := func(args []ref.Val) {
		if w := work(args); w > limit {
			panic(interpreter.EvalCancelledError{
				Cause:   interpreter.CostLimitExceeded,
				Message: fmt.Sprintf("operation cancelled: %s would cost about %d, over the limit of %d", o.ID(), w, limit),
			})
		}
	}
	var binding cel.OverloadOpt
	switch {
	case orig.Unary != nil:
		binding = cel.UnaryBinding(func(v ref.Val) ref.Val { check([]ref.Val{v}); return orig.Unary(v) })
	case orig.Binary != nil:
		binding = cel.BinaryBinding(func(x, y ref.Val) ref.Val { check([]ref.Val{x, y}); return orig.Binary(x, y) })
	default:
		binding = cel.FunctionBinding(func(args ...ref.Val) ref.Val { check(args); return orig.Function(args...) })
	}
	if o.IsMemberFunction() {
		return cel.MemberOverload(o.ID(), o.ArgTypes(), o.ResultType(), binding)
	}
	return cel.Overload(o.ID(), o.ArgTypes(), o.ResultType(), binding)
}
