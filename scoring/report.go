package scoring

// The text and JSON forms of a run that `yardstick score` prints.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// ErrBelowLevel is returned by Gate when the entity is below the level.
var ErrBelowLevel = errors.New("below the level")

// Gate checks ref against level on every scorecard of run that has that
// level, printing a line to w for each it is below. It returns an error
// wrapping ErrBelowLevel when there is one, and another error when no
// scorecard that applies to ref has the level.
func Gate(w io.Writer, run *Run, ref yardstick.EntityRef, level string) error {
	checked, below := 0, 0
	for _, s := range run.Scores {
		want, ok := s.Scorecard.Level(level)
		if s.Entity != ref || !ok {
			continue
		}
		checked++
		if s.Level.Rank < want.Rank {
			below++
			fmt.Fprintf(w, "%s is below %s on %s: it reached %s\n", ref, level, s.Scorecard.ID, yardstick.LevelOrNone(s.Level.Name))
		}
	}
	switch {
	case checked == 0:
		return fmt.Errorf("--fail-under %s: no scorecard that applies to %s has a level %q", level, ref, level)
	case below > 0:
		return fmt.Errorf("%s on %d scorecards: %w", ref, below, ErrBelowLevel)
	}
	return nil
}

// ProgressSource is what campaign progress reads besides the run: the
// catalog (for the squads) and each campaign's history.
type ProgressSource interface {
	Entities(ctx context.Context) ([]yardstick.Entity, error)
	CampaignHistory(ctx context.Context, campaign string) ([]yardstick.CampaignRun, error)
}

// CampaignsProgress computes each campaign of set's progress from run and
// the stored history.
func CampaignsProgress(ctx context.Context, db ProgressSource, set *checks.RuleSet, run *Run) ([]CampaignProgress, error) {
	if len(set.Campaigns) == 0 {
		return nil, nil
	}
	entities, err := db.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("campaign progress: %w", err)
	}
	org := yardstick.NewOrganisation(entities)
	var out []CampaignProgress
	for _, c := range set.Campaigns {
		hist, err := db.CampaignHistory(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		var latest []yardstick.CampaignResult
		for _, r := range run.Campaigns {
			if r.Campaign == c.ID {
				latest = append(latest, r)
			}
		}
		out = append(out, Progress(c, org, latest, hist, run.At))
	}
	return out, nil
}

// WriteTable prints a run as `yardstick score` does: one line per entity and
// scorecard, each scorecard's distribution over the organisation, then the
// campaigns' progress.
func WriteTable(w io.Writer, run *Run, progress []CampaignProgress) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORECARD\tENTITY\tOWNER\tLEVEL\tSCORE\tPASS\tFAIL\tUNKNOWN\tEXEMPT")
	for _, s := range run.Scores {
		n := s.Counts()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\n", s.Scorecard.ID, s.Entity, s.Owner, yardstick.LevelOrNone(s.Level.Name), s.Score,
			n[yardstick.StatePass], n[yardstick.StateFail], n[yardstick.StateUnknown], n[yardstick.StateExempt])
	}
	fmt.Fprintln(tw)
	for _, r := range OrgRollups(run) {
		fmt.Fprintf(tw, "%s:\t%d entities\t%s\tmean score %.1f\n", r.Scorecard, r.Entities, LevelDistribution(r), r.MeanScore)
	}
	if len(progress) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "CAMPAIGN\tDONE\tSTATUS\tPROJECTED\tDEADLINE")
		for _, p := range progress {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\n", p.Campaign.ID, p.Done, p.Applicable, p.Health, DayOrDash(p.Projected), p.Campaign.Deadline.Format(time.DateOnly))
		}
	}
	fmt.Fprintf(tw, "\nrun %s at %s: %d evaluations\n", run.ID, run.At.Format(time.RFC3339), run.Evaluations)
	return tw.Flush()
}

// OrgRollups returns each scorecard's rollup over the whole organisation.
func OrgRollups(run *Run) []Rollup {
	var out []Rollup
	for _, r := range Rollups(yardstick.NewOrganisation(nil), run.Scores) {
		if r.Subject == yardstick.OrgRef {
			out = append(out, r)
		}
	}
	return out
}

// LevelDistribution prints "none 3, bronze 10, silver 4, gold 1".
func LevelDistribution(r Rollup) string {
	dist := make([]string, len(r.Levels))
	for i, l := range r.Levels {
		dist[i] = fmt.Sprintf("%s %d", yardstick.LevelOrNone(l.Level), l.Entities)
	}
	return strings.Join(dist, ", ")
}

// WriteExplanation prints, per scorecard, each check's state and why: what
// it saw, notes (errors, exemptions) and how to fix a failure.
func WriteExplanation(w io.Writer, run *Run) {
	for _, s := range run.Scores {
		fmt.Fprintf(w, "%s  %s: level %s, score %.1f, owner %s\n", s.Entity, s.Scorecard.ID, yardstick.LevelOrNone(s.Level.Name), s.Score, s.Owner)
		idWidth, levelWidth := 0, 0
		for _, c := range s.Checks {
			idWidth, levelWidth = max(idWidth, len(c.Check.ID)), max(levelWidth, len(c.Check.Level.Name))
		}
		for _, c := range s.Checks {
			fmt.Fprintf(w, "  %-7s  %-*s  %-*s  %s\n", c.State, idWidth, c.Check.ID, levelWidth, c.Check.Level.Name, c.Check.Title)
			if c.Value != "" {
				fmt.Fprintf(w, "           saw:  %s\n", c.Value)
			}
			if c.Message != "" {
				fmt.Fprintf(w, "           note: %s\n", c.Message)
			}
			if c.State == yardstick.StateFail || c.State == yardstick.StateUnknown {
				if fix := strings.TrimSpace(c.Check.Remediation + " " + c.Check.Link); fix != "" {
					fmt.Fprintf(w, "           fix:  %s\n", fix)
				}
			}
		}
	}
}

// DayOrDash prints a day, or "-" for the zero time.
func DayOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateOnly)
}

// The JSON form of a run: stable names, for scripts and CI.
type (
	scoreJSON struct {
		Run       string         `json:"run"`
		At        time.Time      `json:"at"`
		Scores    []entityJSON   `json:"scores"`
		Campaigns []campaignJSON `json:"campaigns,omitempty"`
		Problems  []string       `json:"problems,omitempty"`
	}
	entityJSON struct {
		Scorecard string      `json:"scorecard"`
		Entity    string      `json:"entity"`
		Owner     string      `json:"owner"`
		Level     string      `json:"level"`
		Score     float64     `json:"score"`
		Checks    []checkJSON `json:"checks"`
	}
	checkJSON struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Level       string `json:"level"`
		State       string `json:"state"`
		Value       string `json:"value,omitempty"`
		Message     string `json:"message,omitempty"`
		Remediation string `json:"remediation,omitempty"`
		Link        string `json:"link,omitempty"`
	}
	campaignJSON struct {
		ID         string          `json:"id"`
		Title      string          `json:"title"`
		Start      time.Time       `json:"start"`
		Deadline   time.Time       `json:"deadline"`
		Applicable int             `json:"applicable"`
		Done       int             `json:"done"`
		Unknown    int             `json:"unknown"`
		Status     string          `json:"status"`
		Projected  *time.Time      `json:"projected,omitempty"`
		Remaining  []remainingJSON `json:"remaining"`
		Burndown   []pointJSON     `json:"burndown"`
	}
	remainingJSON struct {
		Entity  string `json:"entity"`
		Owner   string `json:"owner"`
		State   string `json:"state"`
		Message string `json:"message,omitempty"`
	}
	pointJSON struct {
		At         time.Time `json:"at"`
		Applicable int       `json:"applicable"`
		Done       int       `json:"done"`
	}
)

// WriteJSON prints a run as `yardstick score --format json` does.
func WriteJSON(w io.Writer, run *Run, progress []CampaignProgress) error {
	out := scoreJSON{Run: run.ID, At: run.At, Scores: []entityJSON{}}
	for _, s := range run.Scores {
		e := entityJSON{Scorecard: s.Scorecard.ID, Entity: string(s.Entity), Owner: string(s.Owner), Level: s.Level.Name, Score: s.Score, Checks: []checkJSON{}}
		for _, c := range s.Checks {
			e.Checks = append(e.Checks, checkJSON{ID: c.Check.ID, Title: c.Check.Title, Level: c.Check.Level.Name, State: string(c.State),
				Value: c.Value, Message: c.Message, Remediation: c.Check.Remediation, Link: c.Check.Link})
		}
		out.Scores = append(out.Scores, e)
	}
	for _, p := range progress {
		cj := campaignJSON{ID: p.Campaign.ID, Title: p.Campaign.Title, Start: p.Campaign.Start, Deadline: p.Campaign.Deadline,
			Applicable: p.Applicable, Done: p.Done, Unknown: p.Unknown, Status: string(p.Health), Remaining: []remainingJSON{}, Burndown: []pointJSON{}}
		if !p.Projected.IsZero() {
			cj.Projected = &p.Projected
		}
		for _, r := range p.Remaining {
			cj.Remaining = append(cj.Remaining, remainingJSON{Entity: string(r.Entity), Owner: string(r.Owner), State: string(r.State), Message: r.Message})
		}
		for _, pt := range p.Burndown {
			cj.Burndown = append(cj.Burndown, pointJSON{At: pt.At, Applicable: pt.Applicable, Done: pt.Done})
		}
		out.Campaigns = append(out.Campaigns, cj)
	}
	for _, p := range run.Problems {
		out.Problems = append(out.Problems, p.Error())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTestResults prints one line per test case of a rule set, and the
// failures of each failing case; it returns how many failed.
func WriteTestResults(w io.Writer, results []TestResult) int {
	failed := 0
	for _, r := range results {
		if r.Passed() {
			fmt.Fprintf(w, "ok    %s  %s: %s\n", r.Pos, r.Rule, r.Name)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s  %s: %s\n", r.Pos, r.Rule, r.Name)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "        %s\n", f)
		}
	}
	return failed
}
