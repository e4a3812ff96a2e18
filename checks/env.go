// Package checks reads scorecard and campaign files, compiles and type-checks
// their CEL expressions once, and evaluates them against one entity at a time.
//
// A rule sees four variables: entity (the catalog entity, see Entity), facts
// (facts.<source>.<name>, decoded JSON), metrics (metrics.<name>, numbers) and
// now (the time of the run). Levels, weights, exemptions and rollups belong to
// package scoring; this package only knows what the files say and how to
// evaluate one expression.
package checks

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// DefaultCostLimit is the cost one evaluation may spend before it is stopped.
// A three-clause check costs about ten; the limit only stops runaway
// expressions (nested comprehensions over large lists, distinct or set
// operations on large lists, growing strings) long before they hang a run.
const DefaultCostLimit = 1_000_000

// interruptEvery is how many comprehension iterations pass between checks of
// the context, so a cancelled run stops evaluating promptly.
const interruptEvery = 100

// Variable names an activation binds.
const (
	VarEntity  = "entity"
	VarFacts   = "facts"
	VarMetrics = "metrics"
	VarNow     = "now"
)

// Options configure an Env.
type Options struct {
	// CostLimit caps the cost of one evaluation; 0 means DefaultCostLimit.
	CostLimit uint64
}

// Env is the one CEL environment every rule is compiled in. It is safe for
// concurrent use once built.
type Env struct {
	cel       *cel.Env
	costLimit uint64
}

// NewEnv builds the environment: the declared variables, the custom
// functions (semver, daysSince, parseDuration) and cel-go's strings, lists,
// math and sets extensions.
func NewEnv(opts Options) (*Env, error) {
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultCostLimit
	}
	env, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Entity](), ext.ParseStructTags(true)),
		cel.Variable(VarEntity, cel.ObjectType(entityTypeName)),
		cel.Variable(VarFacts, cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))),
		cel.Variable(VarMetrics, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(VarNow, cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(),
		ext.Math(),
		ext.Sets(),
		functionLibrary(),
		costGuards(opts.CostLimit),
	)
	if err != nil {
		return nil, fmt.Errorf("build cel environment: %w", err)
	}
	return &Env{cel: env, costLimit: opts.CostLimit}, nil
}

// CostLimit returns the cost one evaluation may spend.
func (e *Env) CostLimit() uint64 { return e.costLimit }
