package checks

import (
	"maps"
	"slices"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Scorecard is a standard entities are held to: ordered levels, each reached
// when every check of it and of the levels below passes or is exempt.
type Scorecard struct {
	ID          string
	Title       string
	Description string
	Owner       yardstick.EntityRef // who maintains the standard; may be ""
	Pos         Pos
	// AppliesTo selects the entities the scorecard scores; nil means every entity.
	AppliesTo *Program
	Levels    []yardstick.Level // in order, Rank from 1
	// LevelDescriptions says what each level means, where the file does.
	LevelDescriptions map[string]string
	Checks            []*Check // in file order
	Exemptions        []Exemption
	Tests             []TestCase
}

// Check is one rule of a scorecard.
type Check struct {
	ID          string
	Title       string
	Description string
	Remediation string // how to fix a failure
	Link        string // where to read more; may be ""
	Level       yardstick.Level
	Weight      float64 // > 0; 1 when the file does not say
	// AppliesTo narrows the check to some of the scorecard's entities; nil
	// means all of them.
	AppliesTo *Program
	Expr      *Program
	Pos       Pos
}

// Exemption excuses entities from one check until it expires.
type Exemption struct {
	Entity   yardstick.EntityRef // the one entity exempted, or ""
	Selector *Program            // or the entities it is true for
	Check    string
	Reason   string
	// Expires is when the exemption stops counting: a date means 00:00 UTC
	// that day.
	Expires time.Time
	Pos     Pos
}

// ActiveAt reports whether the exemption still counts at t.
func (x Exemption) ActiveAt(t time.Time) bool { return t.Before(x.Expires) }

// Campaign is a migration or time-bound push: the entities it applies to
// should all be done by the deadline.
type Campaign struct {
	ID          string
	Title       string
	Description string
	Owner       yardstick.EntityRef
	Pos         Pos
	AppliesTo   *Program // nil means every entity
	Done        *Program
	Start       time.Time
	Deadline    time.Time
	Tests       []TestCase
}

// TestCase is one example embedded in a rule file: an entity with its facts
// and metrics, and what the scorecard or campaign must say about it.
type TestCase struct {
	Name   string
	Pos    Pos
	Input  Input // Input.Now is zero when the file does not fix it
	Expect Expect
}

// Expect is what a test case asserts. Nil fields are not asserted.
type Expect struct {
	Applies bool                            // whether appliesTo selects the entity
	Level   *string                         // the level reached, "" for none
	Score   *float64                        // the weighted percentage
	Checks  map[string]yardstick.CheckState // state per check id
	Done    *bool                           // campaigns: whether the entity is done
}

// RuleSet is every scorecard and campaign of a rule directory, sorted by ID.
type RuleSet struct {
	Scorecards []*Scorecard
	Campaigns  []*Campaign
}

// Scorecard returns the scorecard with the given id.
func (s *RuleSet) Scorecard(id string) (*Scorecard, bool) {
	return find(s.Scorecards, id, func(sc *Scorecard) string { return sc.ID })
}

// Campaign returns the campaign with the given id.
func (s *RuleSet) Campaign(id string) (*Campaign, bool) {
	return find(s.Campaigns, id, func(c *Campaign) string { return c.ID })
}

// Level returns the level of the scorecard with the given name.
func (sc *Scorecard) Level(name string) (yardstick.Level, bool) {
	return find(sc.Levels, name, func(l yardstick.Level) string { return l.Name })
}

// Check returns the check with the given id.
func (sc *Scorecard) Check(id string) (*Check, bool) {
	return find(sc.Checks, id, func(c *Check) string { return c.ID })
}

// find returns the element of xs whose key is k.
func find[T any](xs []T, k string, key func(T) string) (T, bool) {
	if i := slices.IndexFunc(xs, func(x T) bool { return key(x) == k }); i >= 0 {
		return xs[i], true
	}
	var zero T
	return zero, false
}

// MetricNames returns the metric names any expression of the set reads, so
// that scoring asks the store for those only.
func (s *RuleSet) MetricNames() []string {
	seen := map[string]bool{}
	add := func(p *Program) {
		if p == nil {
			return
		}
		for _, r := range p.reads {
			if name, ok := metricName(r.path); ok {
				seen[name] = true
			}
		}
	}
	for _, sc := range s.Scorecards {
		add(sc.AppliesTo)
		for _, c := range sc.Checks {
			add(c.AppliesTo)
			add(c.Expr)
		}
		for _, x := range sc.Exemptions {
			add(x.Selector)
		}
	}
	for _, c := range s.Campaigns {
		add(c.AppliesTo)
		add(c.Done)
	}
	return slices.Sorted(maps.Keys(seen))
}

// ErrorLines lists the errors err joins (nested joins too), one message each:
// LoadDir's problems, one per file:line:col.
func ErrorLines(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, ErrorLines(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
