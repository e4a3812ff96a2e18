package demo

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/scoring"
)

// Score scores the demo organisation once a week for weeks weeks up to end,
// with the facts known at each date, so burndowns, trends and "what changed"
// have history; then prints each scorecard's distribution and each
// campaign's progress to w. Re-running it rewrites the same runs.
func Score(ctx context.Context, w io.Writer, s *scoring.Scorer, db scoring.ProgressSource, set *checks.RuleSet, end time.Time, weeks int) error {
	end = end.UTC()
	if _, err := s.Backfill(ctx, end.AddDate(0, 0, -7*weeks), end, 7*24*time.Hour); err != nil {
		return fmt.Errorf("demo scoring: %w", err)
	}
	run, err := s.RunAsOf(ctx, end, scoring.RunOptions{})
	if err != nil {
		return fmt.Errorf("demo scoring: %w", err)
	}
	progress, err := scoring.CampaignsProgress(ctx, db, set, run)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "scoring: %d weekly runs up to %s, %d evaluations in the last\n", weeks+1, end.Format(time.DateOnly), run.Evaluations)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range scoring.OrgRollups(run) {
		fmt.Fprintf(tw, "  %s\t%d entities\t%s\n", r.Scorecard, r.Entities, scoring.LevelDistribution(r))
	}
	for _, p := range progress {
		fmt.Fprintf(tw, "  %s\t%d/%d done\t%s, projected %s, deadline %s\n", p.Campaign.ID, p.Done, p.Applicable, p.Health,
			scoring.DayOrDash(p.Projected), p.Campaign.Deadline.Format(time.DateOnly))
	}
	if len(run.Problems) > 0 {
		fmt.Fprintf(tw, "  %d rule problems (first: %v)\n", len(run.Problems), run.Problems[0])
	}
	return tw.Flush()
}
