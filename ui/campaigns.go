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

// paceWindow is how much recent history the projection's pace is taken over.
const paceWindow = 28 * 24 * time.Hour

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

// project returns when remaining reaches zero at the pace of the last
// paceWindow (least-squares slope of remaining over time), or zero when the
// pace is not downward.
func project(points []Point) time.Time {
	if len(points) < 2 {
		return time.Time{}
	}
	last := points[len(points)-1]
	if last.Y <= 0 {
		return time.Time{}
	}
	var xs, ys []float64
	for _, p := range points {
		if last.X.Sub(p.X) <= paceWindow {
			xs = append(xs, float64(p.X.Sub(last.X))/float64(24*time.Hour))
			ys = append(ys, p.Y)
		}
	}
	if len(xs) < 2 {
		return time.Time{}
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 || num/den >= 0 {
		return time.Time{}
	}
	days := last.Y / (-num / den)
	if days > 365*20 {
		return time.Time{}
	}
	return last.X.Add(time.Duration(days * float64(24*time.Hour))).UTC()
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
