package scoring

import (
	"cmp"
	"slices"

	"github.com/yardstick-dev/yardstick"
)

// LevelCount is how many entities reached a level ("" and rank 0: none).
type LevelCount struct {
	Level    string
	Rank     int
	Entities int
}

// CheckRate counts the states of one check across entities.
type CheckRate struct {
	CheckID string
	Pass    int
	Fail    int
	Unknown int
	Exempt  int
}

// PassRate is the share of passing results among the non-exempt ones, 0..1;
// 1 when every result is exempt.
func (c CheckRate) PassRate() float64 {
	n := c.Pass + c.Fail + c.Unknown
	if n == 0 {
		return 1
	}
	return float64(c.Pass) / float64(n)
}

// Rollup is one scorecard over the entities of a subject: a group (its own
// entities and those of every group below it), a system, a domain or the org
// (yardstick.OrgRef).
type Rollup struct {
	Subject   yardstick.EntityRef
	Scorecard string
	Entities  int
	Levels    []LevelCount // one per level, "none" first, in rank order
	MeanScore float64
	Checks    []CheckRate // in the scorecard's order
}

// Rollups aggregates scores per subject and scorecard, sorted by subject then
// scorecard.
func Rollups(org *yardstick.Organisation, scores []EntityScore) []Rollup {
	type key struct {
		subject   yardstick.EntityRef
		scorecard string
	}
	type acc struct {
		r      *Rollup
		sum    float64
		checks map[string]int // check id → index in r.Checks
	}
	accs := map[key]*acc{}
	for _, s := range scores {
		for _, subj := range rollupSubjects(org, s.Entity, s.Owner) {
			k := key{subj, s.Scorecard.ID}
			a := accs[k]
			if a == nil {
				r := &Rollup{Subject: subj, Scorecard: s.Scorecard.ID, Levels: []LevelCount{{Level: "", Rank: 0}}}
				for _, l := range s.Scorecard.Levels {
					r.Levels = append(r.Levels, LevelCount{Level: l.Name, Rank: l.Rank})
				}
				a = &acc{r: r, checks: map[string]int{}}
				for i, c := range s.Scorecard.Checks {
					r.Checks = append(r.Checks, CheckRate{CheckID: c.ID})
					a.checks[c.ID] = i
				}
				accs[k] = a
			}
			a.r.Entities++
			a.r.Levels[s.Level.Rank].Entities++
			a.sum += s.Score
			for _, c := range s.Checks {
				rate := &a.r.Checks[a.checks[c.Check.ID]]
				switch c.State {
				case yardstick.StatePass:
					rate.Pass++
				case yardstick.StateFail:
					rate.Fail++
				case yardstick.StateExempt:
					rate.Exempt++
				default:
					rate.Unknown++
				}
			}
		}
	}
	out := make([]Rollup, 0, len(accs))
	for _, a := range accs {
		a.r.MeanScore = a.sum / float64(a.r.Entities)
		out = append(out, *a.r)
	}
	slices.SortFunc(out, func(a, b Rollup) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Scorecard, b.Scorecard))
	})
	return out
}

// SquadChanges counts the check changes of a subject (a group with the groups
// below it, or the org).
type SquadChanges struct {
	Subject      yardstick.EntityRef
	NewlyFailing int
	NewlyPassing int
}

// SummarizeChanges counts newly failing and newly passing checks per squad,
// up the group hierarchy, sorted by subject.
func SummarizeChanges(org *yardstick.Organisation, changes []yardstick.CheckChange) []SquadChanges {
	by := map[yardstick.EntityRef]*SquadChanges{}
	for _, c := range changes {
		for _, subj := range append([]yardstick.EntityRef{yardstick.OrgRef}, org.Ancestors(c.Owner)...) {
			s := by[subj]
			if s == nil {
				s = &SquadChanges{Subject: subj}
				by[subj] = s
			}
			if c.NewlyFailing() {
				s.NewlyFailing++
			}
			if c.NewlyPassing() {
				s.NewlyPassing++
			}
		}
	}
	out := make([]SquadChanges, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b SquadChanges) int { return cmp.Compare(a.Subject, b.Subject) })
	return out
}

// rollupSubjects returns what an entity's results roll up into: the org, the
// owner it had when scored and every group above, its system and its domain.
func rollupSubjects(org *yardstick.Organisation, entity, owner yardstick.EntityRef) []yardstick.EntityRef {
	out := append([]yardstick.EntityRef{yardstick.OrgRef}, org.Ancestors(owner)...)
	for _, r := range []yardstick.EntityRef{org.System(entity), org.Domain(entity)} {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}
