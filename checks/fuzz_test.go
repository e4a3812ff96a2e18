package checks

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzLoadFile feeds rule files to the loader and evaluates what compiles.
// Seeds: the rule files of testdata/*/check.yaml and the faults of the cost
// limit tests, in testdata/fuzz/FuzzLoadFile. It must never panic; a refused
// file must say where each problem is (t.yaml, a line from 1); every
// compiled expression must evaluate within the cost limit to an outcome.
func FuzzLoadFile(f *testing.F) {
	env := mustEnv(f)
	a := env.Activation(sampleInput(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := env.LoadFile("t.yaml", data)
		if err != nil {
			var joined interface{ Unwrap() []error }
			errs := []error{err}
			if errors.As(err, &joined) {
				errs = joined.Unwrap()
			}
			for _, e := range errs {
				var p *Problem
				if !errors.As(e, &p) || p.Pos.File != "t.yaml" || p.Pos.Line < 1 {
					t.Errorf("LoadFile() problem %q has no position in t.yaml", e)
				}
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, sc := range set.Scorecards {
			for _, c := range sc.Checks {
				if o := c.Expr.Eval(ctx, a); o.Cost > env.CostLimit()*2 {
					t.Errorf("check %s cost %d, over twice the limit %d", c.ID, o.Cost, env.CostLimit())
				}
			}
		}
	})
}
