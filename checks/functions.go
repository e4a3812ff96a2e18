package checks

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/Masterminds/semver/v3"
)

// The custom functions rules may call, beyond CEL's standard library and the
// strings, lists, math and sets extensions:
//
//	semver(string) semver           "1.22", "v1.22.3" and "go1.22.1" all parse
//	isSemver(string) bool           whether semver() would accept the string
//	semver <, <=, >, >=, ==, !=     ordered by semantic-version precedence
//	semver.major() / .minor() / .patch() int
//	daysSince(timestamp|string) double   days from the argument to `now`
//	daysSince(a, b) double          days from a to b
//	parseDuration(string) duration  Go durations plus d (days) and w (weeks): "30d", "1w2d"
const (
	fnSemver        = "semver"
	fnIsSemver      = "isSemver"
	fnDaysSince     = "daysSince"
	fnParseDuration = "parseDuration"
)

var (
	semverDeclType = cel.OpaqueType("semver")
	// semverValType carries the comparer trait the standard `<` family
	// dispatches on; its name matches the declared type.
	semverValType = types.NewObjectType("semver", traits.ComparerType)
)

func functionLibrary() cel.EnvOption {
	versions := &versionCache{}
	return func(env *cel.Env) (*cel.Env, error) {
		opts := []cel.EnvOption{
			cel.Function(fnSemver,
				cel.Overload("semver_string", []*cel.Type{cel.StringType}, semverDeclType,
					stringBinding(func(s string) ref.Val {
						sv, err := versions.parse(s)
						if err != nil {
							return types.WrapErr(err)
						}
						return sv
					}))),
			cel.Function(fnIsSemver,
				cel.Overload("is_semver_string", []*cel.Type{cel.StringType}, cel.BoolType,
					stringBinding(func(s string) ref.Val {
						_, err := versions.parse(s)
						return types.Bool(err == nil)
					}))),
			semverPart("major", func(v *semver.Version) uint64 { return v.Major() }),
			semverPart("minor", func(v *semver.Version) uint64 { return v.Minor() }),
			semverPart("patch", func(v *semver.Version) uint64 { return v.Patch() }),
			cel.Function(fnDaysSince,
				cel.Overload("days_since_timestamp_timestamp", []*cel.Type{cel.TimestampType, cel.TimestampType}, cel.DoubleType,
					cel.BinaryBinding(daysBetween)),
				cel.Overload("days_since_string_timestamp", []*cel.Type{cel.StringType, cel.TimestampType}, cel.DoubleType,
					cel.BinaryBinding(daysBetween))),
			// daysSince(x) reads `now` from the activation, so a run "as of" a
			// past date and rule tests with a fixed now are deterministic.
			cel.Macros(cel.GlobalMacro(fnDaysSince, 1, func(eh cel.MacroExprFactory, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
				return eh.NewCall(fnDaysSince, args[0], eh.NewIdent(VarNow)), nil
			})),
			cel.Function(fnParseDuration,
				cel.Overload("parse_duration_string", []*cel.Type{cel.StringType}, cel.DurationType,
					stringBinding(func(s string) ref.Val {
						d, err := ParseDuration(s)
						if err != nil {
							return types.WrapErr(err)
						}
						return types.Duration{Duration: d}
					}))),
		}
		// The standard ordering operators have one trait-based binding for all
		// overloads; declaring the semver overloads lets the checker accept them.
		for _, op := range []string{operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals} {
			opts = append(opts, cel.Function(op,
				cel.Overload(strings.Trim(op, "_")+"_semver", []*cel.Type{semverDeclType, semverDeclType}, cel.BoolType)))
		}
		return applyOptions(env, opts)
	}
}

// stringBinding binds a function of one string argument.
func stringBinding(fn func(string) ref.Val) cel.OverloadOpt {
	return cel.UnaryBinding(func(v ref.Val) ref.Val {
		s, ok := v.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(v)
		}
		return fn(string(s))
	})
}

func semverPart(name string, part func(*semver.Version) uint64) cel.EnvOption {
	return cel.Function(name,
		cel.MemberOverload("semver_"+name, []*cel.Type{semverDeclType}, cel.IntType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				sv, ok := v.(semverVal)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.Int(part(sv.v))
			})))
}

func daysBetween(from, to ref.Val) ref.Val {
	var t time.Time
	switch v := from.(type) {
	case types.Timestamp:
		t = v.Time
	case types.String:
		var err error
		if t, err = time.Parse(time.RFC3339, string(v)); err != nil {
			if t, err = time.Parse(time.DateOnly, string(v)); err != nil {
				return types.NewErr("daysSince: %q is neither an RFC 3339 time nor a date", string(v))
			}
		}
	default:
		return types.MaybeNoSuchOverloadErr(from)
	}
	end, ok := to.(types.Timestamp)
	if !ok {
		return types.MaybeNoSuchOverloadErr(to)
	}
	return types.Double(end.Sub(t).Hours() / 24)
}

// parse accepts what repositories write: "1.22", "v1.22.3", "go1.22.1".
// Parsing is a regular-expression match, far dearer than the comparison that
// follows, and the same few versions recur across thousands of entities and
// every literal semver("1.22.0"), so parsed versions are kept in a bounded cache.
func (c *versionCache) parse(s string) (semverVal, error) {
	if v, ok := c.m.Load(s); ok {
		return semverVal{v: v.(*semver.Version)}, nil
	}
	t := strings.TrimPrefix(strings.TrimSpace(s), "go")
	v, err := semver.NewVersion(t)
	if err != nil {
		return semverVal{}, fmt.Errorf("semver(%q): %w", s, err)
	}
	if c.n.Add(1) <= maxSemverCache {
		c.m.Store(s, v)
	}
	return semverVal{v: v}, nil
}

const maxSemverCache = 10_000

// versionCache maps version strings to parsed, immutable versions.
type versionCache struct {
	m sync.Map // string → *semver.Version
	n atomic.Int64
}

// semverVal is a semantic version as a CEL value.
type semverVal struct{ v *semver.Version }

var (
	_ ref.Val         = semverVal{}
	_ traits.Comparer = semverVal{}
)

func (s semverVal) ConvertToNative(t reflect.Type) (any, error) {
	switch t.Kind() {
	case reflect.String:
		return s.v.String(), nil
	case reflect.Interface, reflect.Pointer:
		if reflect.TypeOf(s.v).AssignableTo(t) {
			return s.v, nil
		}
	}
	return nil, fmt.Errorf("semver: no conversion to %v", t)
}

func (s semverVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.StringType:
		return types.String(s.v.String())
	case types.TypeType:
		return semverValType
	}
	return types.NewErr("type conversion error from semver to %s", t.TypeName())
}

func (s semverVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(semverVal)
	return types.Bool(ok && s.v.Equal(o.v))
}

func (s semverVal) Compare(other ref.Val) ref.Val {
	o, ok := other.(semverVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Int(s.v.Compare(o.v))
}

func (s semverVal) Type() ref.Type { return semverValType }
func (s semverVal) Value() any     { return s.v }

// ParseDuration parses a Go duration ("90m", "1h30m") extended with days
// ("30d") and weeks ("2w"), which rules about staleness need. A day is 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	rest, neg := in, false
	if strings.HasPrefix(rest, "-") {
		rest, neg = rest[1:], true
	} else {
		rest = strings.TrimPrefix(rest, "+")
	}
	if rest == "" {
		return 0, fmt.Errorf("parse duration %q: empty", s)
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		if num == "" || unit == "" {
			return 0, fmt.Errorf("parse duration %q: want a number and a unit (ns, us, ms, s, m, h, d, w)", s)
		}
		var part time.Duration
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("parse duration %q: %w", s, err)
			}
			hours := 24.0
			if unit == "w" {
				hours = 7 * 24
			}
			part = time.Duration(f * hours * float64(time.Hour))
		default:
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("parse duration %q: %w", s, err)
			}
			part = d
		}
		total += part
		rest = rest[j:]
	}
	if neg {
		total = -total
	}
	return total, nil
}
