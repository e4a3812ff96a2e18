package scoring

import (
	"cmp"
	"slices"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// CampaignStatus is where a campaign stands against its deadline.
type CampaignStatus string

// Campaign statuses against the deadline.
const (
	StatusComplete   CampaignStatus = "complete"    // nothing remains
	StatusNotStarted CampaignStatus = "not-started" // before the start date
	StatusOnTrack    CampaignStatus = "on-track"    // the recent trend reaches zero by the deadline
	StatusAtRisk     CampaignStatus = "at-risk"     // the trend misses the deadline, or there is no downward trend
	StatusOverdue    CampaignStatus = "overdue"     // past the deadline with work remaining
)

// TrendWindow is how far back from the latest point the projection looks.
const TrendWindow = yardstick.CampaignTrendWindow

// BurndownPoint is a campaign's progress in one scoring run.
type BurndownPoint struct {
	At         time.Time
	Applicable int
	Done       int
}

// Remaining is how many applicable entities are not done.
func (p BurndownPoint) Remaining() int { return p.Applicable - p.Done }

// SquadProgress is a campaign's latest progress for one squad (a group with
// the groups below it).
type SquadProgress struct {
	Subject    yardstick.EntityRef
	Applicable int
	Done       int
	Burndown   []BurndownPoint
}

// CampaignProgress is where a campaign stands.
type CampaignProgress struct {
	Campaign   *checks.Campaign
	Applicable int
	Done       int
	Unknown    int // applicable entities whose state could not be decided
	Squads     []SquadProgress
	// Remaining lists the entities not done, with their owners, by owner then entity.
	Remaining []yardstick.CampaignResult
	Burndown  []BurndownPoint // oldest first
	// Projected is when the recent trend reaches zero remaining; zero when
	// there is no downward trend.
	Projected time.Time
	Status    CampaignStatus
}

// Progress computes a campaign's progress at now from the latest results of
// each applicable entity and the campaign's history (one row per run and
// owner, as the store's CampaignHistory returns it). The latest results
// decide the counts and the remaining list; the history gives the burndown
// and the trend.
func Progress(c *checks.Campaign, h *Hierarchy, latest []yardstick.CampaignResult, history []yardstick.CampaignRun, now time.Time) CampaignProgress {
	p := CampaignProgress{Campaign: c}
	squads := map[yardstick.EntityRef]*SquadProgress{}
	squad := func(ref yardstick.EntityRef) *SquadProgress {
		s := squads[ref]
		if s == nil {
			s = &SquadProgress{Subject: ref}
			squads[ref] = s
		}
		return s
	}
	for _, r := range latest {
		p.Applicable++
		switch {
		case r.Done():
			p.Done++
		case r.State == yardstick.CampaignUnknown:
			p.Unknown++
		}
		if !r.Done() {
			p.Remaining = append(p.Remaining, r)
		}
		for _, g := range h.Squads(r.Owner) {
			s := squad(g)
			s.Applicable++
			if r.Done() {
				s.Done++
			}
		}
	}
	slices.SortFunc(p.Remaining, func(a, b yardstick.CampaignResult) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Entity, b.Entity))
	})

	// Burndown: one point per run, overall and per squad.
	type runKey struct {
		id string
		at time.Time
	}
	var runs []runKey
	overall := map[runKey]*BurndownPoint{}
	perSquad := map[yardstick.EntityRef]map[runKey]*BurndownPoint{}
	for _, row := range history {
		k := runKey{row.RunID, row.RunAt}
		pt := overall[k]
		if pt == nil {
			pt = &BurndownPoint{At: row.RunAt}
			overall[k] = pt
			runs = append(runs, k)
		}
		pt.Applicable += row.Total
		pt.Done += row.Done
		for _, g := range h.Squads(row.Owner) {
			m := perSquad[g]
			if m == nil {
				m = map[runKey]*BurndownPoint{}
				perSquad[g] = m
			}
			sp := m[k]
			if sp == nil {
				sp = &BurndownPoint{At: row.RunAt}
				m[k] = sp
			}
			sp.Applicable += row.Total
			sp.Done += row.Done
		}
	}
	slices.SortStableFunc(runs, func(a, b runKey) int { return a.at.Compare(b.at) })
	for _, k := range runs {
		p.Burndown = append(p.Burndown, *overall[k])
		for g, m := range perSquad {
			if sp, ok := m[k]; ok {
				s := squad(g)
				s.Burndown = append(s.Burndown, *sp)
			}
		}
	}
	for _, s := range squads {
		p.Squads = append(p.Squads, *s)
	}
	slices.SortFunc(p.Squads, func(a, b SquadProgress) int { return cmp.Compare(a.Subject, b.Subject) })

	p.Projected = Project(p.Burndown, TrendWindow)
	p.Status = status(c, p.Applicable-p.Done, p.Projected, now)
	return p
}

func status(c *checks.Campaign, remaining int, projected, now time.Time) CampaignStatus {
	switch {
	case remaining == 0:
		return StatusComplete
	case now.Before(c.Start):
		return StatusNotStarted
	case !now.Before(c.Deadline):
		return StatusOverdue
	case projected.IsZero() || projected.After(c.Deadline):
		return StatusAtRisk
	}
	return StatusOnTrack
}

// Project returns when the burndown's remaining count reaches zero at the
// pace of the points within window of the latest one (yardstick.ProjectZero).
func Project(points []BurndownPoint, window time.Duration) time.Time {
	series := make([]yardstick.TimePoint, len(points))
	for i, pt := range points {
		series[i] = yardstick.TimePoint{At: pt.At, Value: float64(pt.Remaining())}
	}
	return yardstick.ProjectZero(series, window)
}
