package yardstick

import (
	"cmp"
	"slices"
	"time"
)

// CampaignHealth is where a campaign stands against its deadline.
type CampaignHealth string

// Campaign healths, decided in this order (docs/metrics.md, "Campaigns").
const (
	CampaignEmpty      CampaignHealth = "empty"       // no entity in the subject is applicable
	CampaignComplete   CampaignHealth = "complete"    // nothing remains
	CampaignNotStarted CampaignHealth = "not-started" // before the start date
	CampaignOverdue    CampaignHealth = "overdue"     // past the deadline with work remaining
	CampaignAtRisk     CampaignHealth = "at-risk"     // the recent trend misses the deadline, or there is no downward trend
	CampaignOnTrack    CampaignHealth = "on-track"    // the recent trend reaches zero by the deadline
)

// OnTrack reports whether nothing needs a lead's attention: the campaign is
// complete, empty, not started or on track.
func (h CampaignHealth) OnTrack() bool { return h != CampaignOverdue && h != CampaignAtRisk }

// CampaignWindow is the part of a campaign's definition progress depends on.
type CampaignWindow struct {
	Start    time.Time
	Deadline time.Time // zero: no deadline
}

// BurndownPoint is a campaign's progress at one scoring run.
type BurndownPoint struct {
	At         time.Time `json:"at"`
	Applicable int       `json:"applicable"`
	Done       int       `json:"done"`
}

// Remaining is how many applicable entities are not done.
func (p BurndownPoint) Remaining() int { return p.Applicable - p.Done }

// SquadProgress is a campaign's progress for one group, counting the entities
// owned at or below it.
type SquadProgress struct {
	Subject    EntityRef       `json:"subject"`
	Applicable int             `json:"applicable"`
	Done       int             `json:"done"`
	Burndown   []BurndownPoint `json:"burndown"`
	Projected  time.Time       `json:"projected,omitempty"`
	Health     CampaignHealth  `json:"health"`
}

// CampaignProgress is where a campaign stands for a subject (a group, or the
// whole organisation).
type CampaignProgress struct {
	Campaign   string          `json:"campaign"`
	Subject    EntityRef       `json:"subject"` // OrgRef for the whole organisation
	Applicable int             `json:"applicable"`
	Done       int             `json:"done"`
	Unknown    int             `json:"unknown"` // applicable entities whose state could not be decided
	Squads     []SquadProgress `json:"squads"`  // every group at or below the subject with applicable entities
	// Remaining lists the entities not done, by owner then entity.
	Remaining []CampaignStatus `json:"remaining"`
	Burndown  []BurndownPoint  `json:"burndown"` // oldest first
	// Projected is when the recent trend reaches zero remaining; zero when
	// there is no downward trend or nothing remains.
	Projected time.Time      `json:"projected,omitempty"`
	Health    CampaignHealth `json:"health"`
}

// Ratio is the share of applicable entities that are done, 0..1 (0 when
// nothing applies).
func (p CampaignProgress) Ratio() float64 {
	if p.Applicable == 0 {
		return 0
	}
	return float64(p.Done) / float64(p.Applicable)
}

// ComputeCampaignProgress is the one computation of campaign progress; the
// CLI, scoring and every page use it. latest holds each entity's latest
// status; entities no longer in the catalog are left out, and each entity
// counts for its current catalog owner. history holds one row per scoring run
// and owner (the owner at scoring time); the burndown keeps the last run of
// each UTC day. subject is a group, or OrgRef for everything.
func ComputeCampaignProgress(id string, w CampaignWindow, org *Organisation, subject EntityRef, latest []CampaignStatus, history []CampaignRun, now time.Time) CampaignProgress {
	p := CampaignProgress{Campaign: id, Subject: subject}
	in := func(owner EntityRef) bool { return true }
	if subject != OrgRef && subject != "" {
		below := map[EntityRef]bool{}
		for _, g := range org.Descendants(subject) {
			below[g] = true
		}
		in = func(owner EntityRef) bool { return below[owner] }
	}
	squads := map[EntityRef]*SquadProgress{}
	squad := func(ref EntityRef) *SquadProgress {
		s := squads[ref]
		if s == nil {
			s = &SquadProgress{Subject: ref}
			squads[ref] = s
		}
		return s
	}
	// The groups a row counts for: its owner and the groups above it, but only
	// those at or below the subject.
	groupsOf := func(owner EntityRef) []EntityRef {
		var out []EntityRef
		for _, g := range org.Ancestors(owner) {
			if in(g) {
				out = append(out, g)
			}
		}
		return out
	}

	for _, st := range latest {
		e := org.Entity(st.Entity)
		if e == nil {
			continue
		}
		st.Owner = e.Owner
		if !in(st.Owner) {
			continue
		}
		p.Applicable++
		switch {
		case st.Done:
			p.Done++
		case st.State == CampaignUnknown:
			p.Unknown++
		}
		if !st.Done {
			p.Remaining = append(p.Remaining, st)
		}
		for _, g := range groupsOf(st.Owner) {
			s := squad(g)
			s.Applicable++
			if st.Done {
				s.Done++
			}
		}
	}
	slices.SortFunc(p.Remaining, func(a, b CampaignStatus) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Entity, b.Entity))
	})

	// Burndown: one point per run, overall and per group.
	type runKey struct {
		id string
		at time.Time
	}
	var runs []runKey
	overall := map[runKey]*BurndownPoint{}
	perSquad := map[EntityRef]map[runKey]*BurndownPoint{}
	for _, row := range history {
		if !in(row.Owner) {
			continue
		}
		k := runKey{row.RunID, row.RunAt}
		pt := overall[k]
		if pt == nil {
			pt = &BurndownPoint{At: row.RunAt}
			overall[k] = pt
			runs = append(runs, k)
		}
		pt.Applicable += row.Total
		pt.Done += row.Done
		for _, g := range groupsOf(row.Owner) {
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
	slices.SortStableFunc(runs, func(a, b runKey) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) })
	for _, k := range runs {
		p.Burndown = appendDaily(p.Burndown, *overall[k])
		for g, m := range perSquad {
			if sp, ok := m[k]; ok {
				s := squad(g)
				s.Burndown = appendDaily(s.Burndown, *sp)
			}
		}
	}
	for _, s := range squads {
		if rem := s.Applicable - s.Done; rem > 0 {
			s.Projected = ProjectBurndown(s.Burndown)
		}
		s.Health = campaignHealth(w, s.Applicable, s.Applicable-s.Done, s.Projected, now)
		p.Squads = append(p.Squads, *s)
	}
	slices.SortFunc(p.Squads, func(a, b SquadProgress) int { return cmp.Compare(a.Subject, b.Subject) })

	remaining := p.Applicable - p.Done
	if remaining > 0 {
		p.Projected = ProjectBurndown(p.Burndown)
	}
	p.Health = campaignHealth(w, p.Applicable, remaining, p.Projected, now)
	return p
}

// appendDaily appends pt, replacing the last point when both fall on the same
// UTC day: a burndown keeps the last run of each day.
func appendDaily(points []BurndownPoint, pt BurndownPoint) []BurndownPoint {
	if n := len(points); n > 0 {
		a, b := points[n-1].At.UTC(), pt.At.UTC()
		if a.Year() == b.Year() && a.YearDay() == b.YearDay() {
			points[n-1] = pt
			return points
		}
	}
	return append(points, pt)
}

// ProjectBurndown returns when a burndown's remaining count reaches zero at
// the pace of its points within CampaignTrendWindow of the latest one.
func ProjectBurndown(points []BurndownPoint) time.Time {
	series := make([]TimePoint, len(points))
	for i, pt := range points {
		series[i] = TimePoint{At: pt.At, Value: float64(pt.Remaining())}
	}
	return ProjectZero(series, CampaignTrendWindow)
}

func campaignHealth(w CampaignWindow, applicable, remaining int, projected, now time.Time) CampaignHealth {
	switch {
	case applicable == 0:
		return CampaignEmpty
	case remaining == 0:
		return CampaignComplete
	case now.Before(w.Start):
		return CampaignNotStarted
	case !w.Deadline.IsZero() && !now.Before(w.Deadline):
		return CampaignOverdue
	case projected.IsZero() || (!w.Deadline.IsZero() && projected.After(w.Deadline)):
		return CampaignAtRisk
	}
	return CampaignOnTrack
}
