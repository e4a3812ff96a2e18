package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
)

// newScorer wires a scorer to the store: catalog, facts (latest and past),
// metrics m (serve shares its with the dashboards) and the history tables.
func (a *app) newScorer(db *store.DB, env *checks.Env, set *checks.RuleSet, m *store.Metrics) *scoring.Scorer {
	cfg := a.cfg.Rules
	engine := scoring.NewEngine(env, set, scoring.EngineConfig{Workers: cfg.Workers, RunCostBudget: cfg.RunCostBudget})
	return scoring.NewScorer(engine, scoring.Sources{Catalog: db, Facts: db, History: db, Metrics: m, Results: db}, cfg.MetricWeeks, a.logger)
}

// newScoreCmd is `yardstick score`: score the catalog, store the run and print
// the scorecards; with --entity and --fail-under it is a CI gate.
func newScoreCmd(a *app) *cobra.Command {
	var (
		rulesDir, entity, scorecard, failUnder, format, asOf string
		dryRun                                               bool
		env                                                  *checks.Env
		set                                                  *checks.RuleSet
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
		// Flags and rules are checked before the store is opened.
		PreRunE: func(*cobra.Command, []string) (err error) {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if failUnder != "" && entity == "" {
				return fmt.Errorf("--fail-under needs --entity")
			}
			if env, set, _, err = a.loadRules(rulesDir); err != nil || scorecard == "" {
				return err
			}
			sc, ok := set.Scorecard(scorecard)
			if !ok {
				return fmt.Errorf("--scorecard %q: %w", scorecard, yardstick.ErrNotFound)
			}
			set = &checks.RuleSet{Scorecards: []*checks.Scorecard{sc}}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) (err error) {
			ctx := cmd.Context()
			s := a.newScorer(db, env, set, store.NewMetrics(db, store.MetricsConfig{}))
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
				if progress, err = scoring.CampaignsProgress(ctx, db, set, run); err != nil {
					return err
				}
			}
			switch {
			case format == "json":
				err = scoring.WriteJSON(a.out, run, progress)
			case entity != "":
				scoring.WriteExplanation(a.out, run)
			default:
				err = scoring.WriteTable(a.out, run, progress)
			}
			if err != nil {
				return err
			}
			for _, p := range run.Problems {
				fmt.Fprintf(a.errOut, "warning: %v\n", p)
			}
			if failUnder != "" {
				err := scoring.Gate(a.errOut, run, opts.Entities[0], failUnder)
				if errors.Is(err, scoring.ErrBelowLevel) {
					return exitError{code: 1}
				}
				return err
			}
			return nil
		}),
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
