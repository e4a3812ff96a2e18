package ui

import (
	"context"
	"sort"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// CampaignSummary is a campaign at a glance.
type CampaignSummary struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	Done          int       `json:"done"`
	Total         int       `json:"total"`
	Ratio         float64   `json:"ratio"`
	Start         time.Time `json:"start"`
	Deadline      time.Time `json:"deadline"`
	Projected     time.Time `json:"projected,omitempty"` // zero: no progress to project from, or done
	ProjectedText string    `json:"projected_text"`
	OnTrack       bool      `json:"on_track"`
}

// burndownPoints turns scoring runs into remaining-per-day points (the last
// run of each UTC day), keeping only runs of owners that pass keep.
func burndownPoints(runs []yardstick.CampaignRun, keep func(yardstick.EntityRef) bool) []Point {
	type agg struct {
		at          time.Time
		done, total int
	}
	byRun := map[string]*agg{}
	var order []string
	for _, r := range runs {
		if keep != nil && !keep(r.Owner) {
			continue
		}
		a, ok := byRun[r.RunID]
		if !ok {
			a = &agg{at: r.RunAt}
			byRun[r.RunID] = a
			order = append(order, r.RunID)
		}
		a.done += r.Done
		a.total += r.Total
	}
	sort.SliceStable(order, func(i, j int) bool { return byRun[order[i]].at.Before(byRun[order[j]].at) })
	var out []Point
	for _, id := range order {
		a := byRun[id]
		p := Point{X: a.at, Y: float64(a.total - a.done)}
		if n := len(out); n > 0 && sameDay(out[n-1].X, a.at) {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}

func sameDay(a, b time.Time) bool {
	a, b = a.UTC(), b.UTC()
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// project returns when remaining reaches zero at the recent pace, the same
// projection `yardstick score` prints.
func project(points []Point) time.Time {
	series := make([]yardstick.TimePoint, len(points))
	for i, p := range points {
		series[i] = yardstick.TimePoint{At: p.X, Value: p.Y}
	}
	return yardstick.ProjectZero(series, yardstick.CampaignTrendWindow)
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("2 Jan 2006")
}

func summarise(def CampaignDef, done, total int, points []Point) CampaignSummary {
	c := CampaignSummary{ID: def.ID, Title: def.Title, Done: done, Total: total, Start: def.Start, Deadline: def.Deadline}
	if c.Title == "" {
		c.Title = def.ID
	}
	if total > 0 {
		c.Ratio = float64(done) / float64(total)
	}
	switch {
	case total > 0 && done == total:
		c.ProjectedText, c.OnTrack = "done", true
	case total == 0:
		c.ProjectedText, c.OnTrack = "nothing applies", true
	default:
		c.Projected = project(points)
		if c.Projected.IsZero() {
			c.ProjectedText = "no progress"
		} else {
			c.ProjectedText = dateText(c.Projected)
			c.OnTrack = def.Deadline.IsZero() || !c.Projected.After(def.Deadline)
		}
	}
	return c
}

// campaignStatusesIn returns the latest statuses of entities still in the
// catalog and within the group filter, with owners taken from the catalog.
func (s *Server) campaignStatusesIn(ctx context.Context, id string, cat *catalogView, group yardstick.EntityRef) ([]yardstick.CampaignStatus, error) {
	st, err := s.cfg.Campaigns.CampaignStatuses(ctx, id)
	if err != nil {
		return nil, err
	}
	in := cat.within(group)
	out := st[:0:0]
	for _, x := range st {
		e := cat.byRef[x.Entity]
		if e == nil || (in != nil && !in[x.Entity]) {
			continue
		}
		x.Owner = e.Owner
		out = append(out, x)
	}
	return out, nil
}

// ownerFilter keeps history rows of owners at or below group.
func ownerFilter(cat *catalogView, group yardstick.EntityRef) func(yardstick.EntityRef) bool {
	if group == "" {
		return nil
	}
	in := map[yardstick.EntityRef]bool{}
	for _, g := range cat.descendants(group) {
		in[g] = true
	}
	return func(o yardstick.EntityRef) bool { return in[o] }
}

func (s *Server) campaignSummaries(ctx context.Context, cat *catalogView, group yardstick.EntityRef) ([]CampaignSummary, error) {
	var out []CampaignSummary
	for _, def := range s.rules().Campaigns {
		st, err := s.campaignStatusesIn(ctx, def.ID, cat, group)
		if err != nil {
			return nil, err
		}
		hist, err := s.cfg.Campaigns.CampaignHistory(ctx, def.ID)
		if err != nil {
			return nil, err
		}
		done := 0
		for _, x := range st {
			if x.Done {
				done++
			}
		}
		out = append(out, summarise(def, done, len(st), burndownPoints(hist, ownerFilter(cat, group))))
	}
	return out, nil
}
