package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
)

// What scoring reads from and writes to the store.
var (
	_ scoring.Catalog           = (*store.DB)(nil)
	_ scoring.FactReader        = (*store.DB)(nil)
	_ scoring.FactHistoryReader = (*store.DB)(nil)
	_ scoring.ResultWriter      = (*store.DB)(nil)
	_ scoring.MetricSource      = (*store.Metrics)(nil)
)

// newScorer wires a scorer to the store: catalog, facts (latest and past),
// metrics computed in bulk, and the run history tables.
func (a *app) newScorer(db *store.DB, env *checks.Env, set *checks.RuleSet, cfg *rulesConfig) *scoring.Scorer {
	return a.newScorerWith(db, env, set, cfg, store.NewMetrics(db, store.MetricsConfig{}))
}

// newScorerWith is newScorer reading metrics from m, which serve shares with
// the dashboards so both see the same observations.
func (a *app) newScorerWith(db *store.DB, env *checks.Env, set *checks.RuleSet, cfg *rulesConfig, m *store.Metrics) *scoring.Scorer {
	engine := scoring.NewEngine(env, set, scoring.EngineConfig{Workers: cfg.Workers, RunCostBudget: cfg.RunCostBudget})
	return scoring.NewScorer(engine, scoring.Sources{
		Catalog: db,
		Facts:   db,
		History: db,
		Metrics: m,
		Results: db,
	}, cfg.MetricWeeks, a.logger)
}

// newScoreCmd is `yardstick score`: score the catalog, store the run and print
// the scorecards; with --entity and --fail-under it is a CI gate. demo is the
// embedded demo rule directory, used when neither --rules nor rules.dir is set.
func newScoreCmd(a *app, cfg *rulesConfig, demo fs.FS) *cobra.Command {
	var (
		rulesDir, entity, scorecard, failUnder, format, asOf string
		dryRun                                               bool
	)
	c := &cobra.Command{
		Use:   "score",
		Short: "Score the catalog against the scorecards and campaigns, store the run and print it",
		Long: `Score every entity on every scorecard and campaign with the latest facts and
metrics, write the run to the history tables and print it as a table or JSON.

--entity REF scores one entity and prints why each check passes or fails; it
does not write history. With --fail-under LEVEL the command exits 1 when the
entity is below LEVEL on any scorecard that has that level (only --scorecard
when given): a CI gate, e.g.

  yardstick score --entity component:default/checkout-api --fail-under silver

--as-of DATE scores with the facts known at that date and stores the run at it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if failUnder != "" && entity == "" {
				return fmt.Errorf("--fail-under needs --entity")
			}
			env, set, _, err := a.loadRules(cfg, rulesDir, demo)
			if err != nil {
				return err
			}
			if scorecard != "" {
				sc, ok := set.Scorecard(scorecard)
				if !ok {
					return fmt.Errorf("--scorecard %q: %w", scorecard, yardstick.ErrNotFound)
				}
				set = &checks.RuleSet{Scorecards: []*checks.Scorecard{sc}}
			}
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			s := a.newScorer(db, env, set, cfg)
			opts := scoring.RunOptions{DryRun: dryRun}
			if entity != "" {
				ref, err := yardstick.ParseEntityRef(entity, "component")
				if err != nil {
					return fmt.Errorf("--entity: %w", err)
				}
				opts.Entities, opts.DryRun = []yardstick.EntityRef{ref}, true
			}
			var run *scoring.Run
			if asOf != "" {
				t, err := parseDay(asOf)
				if err != nil {
					return fmt.Errorf("--as-of: %w", err)
				}
				run, err = s.RunAsOf(ctx, t, opts)
				if err != nil {
					return err
				}
			} else if run, err = s.Run(ctx, a.now(), opts); err != nil {
				return err
			}
			var progress []scoring.CampaignProgress
			if entity == "" {
				if progress, err = campaignProgress(ctx, db, set, run); err != nil {
					return err
				}
			}
			if format == "json" {
				err = writeScoreJSON(a.out, run, progress)
			} else {
				err = writeScoreTable(a.out, run, progress, entity != "")
			}
			if err != nil {
				return err
			}
			for _, p := range run.Problems {
				fmt.Fprintf(a.errOut, "warning: %v\n", p)
			}
			if failUnder != "" {
				return gate(a.errOut, run, opts.Entities[0], failUnder)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&rulesDir, "rules", "", "directory of scorecard and campaign files (default rules.dir, else the demo rules)")
	f.StringVar(&entity, "entity", "", "score only this entity (kind:namespace/name) and explain each check")
	f.StringVar(&scorecard, "scorecard", "", "only this scorecard (and no campaigns)")
	f.StringVar(&failUnder, "fail-under", "", "with --entity: exit 1 when the entity is below this level")
	f.StringVar(&format, "format", "table", "table or json")
	f.StringVar(&asOf, "as-of", "", "score with the facts known at this date (2025-06-30 or RFC 3339)")
	f.BoolVar(&dryRun, "dry-run", false, "do not write the run to the history tables")
	return c
}

// gate returns exitError{1} when ref is below level on a scorecard that has
// that level, and an error when no scorecard that applies to ref has it.
func gate(w io.Writer, run *scoring.Run, ref yardstick.EntityRef, level string) error {
	checked, below := 0, 0
	for _, s := range run.Scores {
		want, ok := s.Scorecard.Level(level)
		if s.Entity != ref || !ok {
			continue
		}
		checked++
		if s.Level.Rank < want.Rank {
			below++
			fmt.Fprintf(w, "%s is below %s on %s: it reached %s\n", ref, level, s.Scorecard.ID, levelOrNone(s.Level.Name))
		}
	}
	switch {
	case checked == 0:
		return fmt.Errorf("--fail-under %s: no scorecard that applies to %s has a level %q", level, ref, level)
	case below > 0:
		return exitError{code: 1}
	}
	return nil
}

func levelOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// campaignProgress computes each campaign's progress from the run and the
// stored history.
func campaignProgress(ctx context.Context, db *store.DB, set *checks.RuleSet, run *scoring.Run) ([]scoring.CampaignProgress, error) {
	if len(set.Campaigns) == 0 {
		return nil, nil
	}
	entities, err := db.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("campaign progress: %w", err)
	}
	org := yardstick.NewOrganisation(entities)
	var out []scoring.CampaignProgress
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
		out = append(out, scoring.Progress(c, org, latest, hist, run.At))
	}
	return out, nil
}

func writeScoreTable(w io.Writer, run *scoring.Run, progress []scoring.CampaignProgress, explain bool) error {
	if explain {
		writeExplanation(w, run)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORECARD\tENTITY\tOWNER\tLEVEL\tSCORE\tPASS\tFAIL\tUNKNOWN\tEXEMPT")
	for _, s := range run.Scores {
		n := s.Counts()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\n", s.Scorecard.ID, s.Entity, s.Owner, levelOrNone(s.Level.Name), s.Score,
			n[yardstick.StatePass], n[yardstick.StateFail], n[yardstick.StateUnknown], n[yardstick.StateExempt])
	}
	fmt.Fprintln(tw)
	for _, r := range orgRollups(run) {
		fmt.Fprintf(tw, "%s:\t%d entities\t%s\tmean score %.1f\n", r.Scorecard, r.Entities, levelDistribution(r), r.MeanScore)
	}
	if len(progress) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "CAMPAIGN\tDONE\tSTATUS\tPROJECTED\tDEADLINE")
		for _, p := range progress {
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\n", p.Campaign.ID, p.Done, p.Applicable, p.Health, dayOrDash(p.Projected), p.Campaign.Deadline.Format(time.DateOnly))
		}
	}
	fmt.Fprintf(tw, "\nrun %s at %s: %d evaluations\n", run.ID, run.At.Format(time.RFC3339), run.Evaluations)
	return tw.Flush()
}

// orgRollups returns each scorecard's rollup over the whole organisation.
func orgRollups(run *scoring.Run) []scoring.Rollup {
	var out []scoring.Rollup
	for _, r := range scoring.Rollups(yardstick.NewOrganisation(nil), run.Scores) {
		if r.Subject == yardstick.OrgRef {
			out = append(out, r)
		}
	}
	return out
}

// levelDistribution prints "none 3, bronze 10, silver 4, gold 1".
func levelDistribution(r scoring.Rollup) string {
	dist := make([]string, len(r.Levels))
	for i, l := range r.Levels {
		dist[i] = fmt.Sprintf("%s %d", levelOrNone(l.Level), l.Entities)
	}
	return strings.Join(dist, ", ")
}

// writeExplanation prints, per scorecard, each check's state and why: what
// it saw, notes (errors, exemptions) and how to fix a failure.
func writeExplanation(w io.Writer, run *scoring.Run) {
	for _, s := range run.Scores {
		fmt.Fprintf(w, "%s  %s: level %s, score %.1f, owner %s\n", s.Entity, s.Scorecard.ID, levelOrNone(s.Level.Name), s.Score, s.Owner)
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

func dayOrDash(t time.Time) string {
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

func writeScoreJSON(w io.Writer, run *scoring.Run, progress []scoring.CampaignProgress) error {
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
			cj.Remaining = append(cj.Remaining, remainingJSON{Entity: string(r.Entity), Owner: string(r.Owner), State: r.State, Message: r.Message})
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

// scoreDemo scores the demo organisation once a week for weeks weeks up to
// end, with the facts known at each date, so burndowns, trends and "what
// changed" have history; then prints the scorecards' distribution and the
// campaigns. Re-running it rewrites the same runs. rules is the demo rule
// directory (fixtures).
func (a *app) scoreDemo(ctx context.Context, db *store.DB, rules fs.FS, end time.Time, weeks int) error {
	cfg := &rulesConfig{}
	env, set, _, err := a.loadRules(cfg, "", rules)
	if err != nil {
		return err
	}
	s := a.newScorer(db, env, set, cfg)
	end = end.UTC()
	if _, err := s.Backfill(ctx, end.AddDate(0, 0, -7*weeks), end, 7*24*time.Hour); err != nil {
		return fmt.Errorf("demo scoring: %w", err)
	}
	run, err := s.RunAsOf(ctx, end, scoring.RunOptions{})
	if err != nil {
		return fmt.Errorf("demo scoring: %w", err)
	}
	progress, err := campaignProgress(ctx, db, set, run)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "scoring: %d weekly runs up to %s, %d evaluations in the last\n", weeks+1, end.Format(time.DateOnly), run.Evaluations)
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for _, r := range orgRollups(run) {
		fmt.Fprintf(tw, "  %s\t%d entities\t%s\n", r.Scorecard, r.Entities, levelDistribution(r))
	}
	for _, p := range progress {
		fmt.Fprintf(tw, "  %s\t%d/%d done\t%s, projected %s, deadline %s\n", p.Campaign.ID, p.Done, p.Applicable, p.Health,
			dayOrDash(p.Projected), p.Campaign.Deadline.Format(time.DateOnly))
	}
	if len(run.Problems) > 0 {
		fmt.Fprintf(tw, "  %d rule problems (first: %v)\n", len(run.Problems), run.Problems[0])
	}
	return tw.Flush()
}
