package ui

import (
	"context"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// CampaignSummary is a campaign at a glance.
type CampaignSummary struct {
	ID            string                   `json:"id"`
	Title         string                   `json:"title"`
	Done          int                      `json:"done"`
	Total         int                      `json:"total"`
	Ratio         float64                  `json:"ratio"`
	Start         time.Time                `json:"start"`
	Deadline      time.Time                `json:"deadline"`
	Projected     time.Time                `json:"projected,omitempty"` // zero: no progress to project from, or done
	ProjectedText string                   `json:"projected_text"`
	Health        yardstick.CampaignHealth `json:"health"`
	OnTrack       bool                     `json:"on_track"`
}

// CampaignSummary.Health and OnTrack come from yardstick.ComputeCampaignProgress,
// the one computation of campaign progress that the CLI and scoring use too.

// points turns a burndown into remaining-per-point chart points.
func points(b []yardstick.BurndownPoint) []Point {
	out := make([]Point, len(b))
	for i, p := range b {
		out[i] = Point{X: p.At, Y: float64(p.Remaining())}
	}
	return out
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("2 Jan 2006")
}

// summarise renders one subject's progress in a campaign.
func summarise(def CampaignDef, done, total int, projected time.Time, health yardstick.CampaignHealth) CampaignSummary {
	c := CampaignSummary{ID: def.ID, Title: orDefault(def.Title, def.ID), Done: done, Total: total, Start: def.Start, Deadline: def.Deadline,
		Projected: projected, Health: health, OnTrack: health.OnTrack()}
	if total > 0 {
		c.Ratio = float64(done) / float64(total)
	}
	switch {
	case health == yardstick.CampaignComplete:
		c.ProjectedText = "done"
	case health == yardstick.CampaignEmpty:
		c.ProjectedText = "nothing applies"
	case projected.IsZero():
		c.ProjectedText = "no progress"
	default:
		c.ProjectedText = dateText(projected)
	}
	return c
}

// campaignProgress computes a campaign's progress for group ("" for the whole
// organisation).
func (s *Server) campaignProgress(ctx context.Context, def CampaignDef, cat *catalogView, group yardstick.EntityRef) (yardstick.CampaignProgress, error) {
	st, err := s.cfg.Campaigns.CampaignStatuses(ctx, def.ID)
	if err != nil {
		return yardstick.CampaignProgress{}, err
	}
	hist, err := s.cfg.Campaigns.CampaignHistory(ctx, def.ID)
	if err != nil {
		return yardstick.CampaignProgress{}, err
	}
	subject := group
	if subject == "" {
		subject = yardstick.OrgRef
	}
	w := yardstick.CampaignWindow{Start: def.Start, Deadline: def.Deadline}
	return yardstick.ComputeCampaignProgress(def.ID, w, cat.org, subject, st, hist, s.now()), nil
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

func (s *Server) campaignSummaries(ctx context.Context, cat *catalogView, group yardstick.EntityRef) ([]CampaignSummary, error) {
	var out []CampaignSummary
	for _, def := range s.rules().Campaigns {
		p, err := s.campaignProgress(ctx, def, cat, group)
		if err != nil {
			return nil, err
		}
		out = append(out, summarise(def, p.Done, p.Applicable, p.Projected, p.Health))
	}
	return out, nil
}
