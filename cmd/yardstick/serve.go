package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/serve"
	"github.com/yardstick-dev/yardstick/store"
)

// newServeCmd is `yardstick serve`.
func newServeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboards and API, and run collectors and scoring on their intervals",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			return a.serve(cmd.Context(), db, false)
		}),
	}
}

// serve runs the server on db until ctx ends: the rules in force, scoring,
// the enabled sources' jobs and the webhooks of the sources that have
// secrets. anyPort takes a free port when the configured one is busy (a
// second demo).
func (a *app) serve(ctx context.Context, db *store.DB, anyPort bool) error {
	cfg, err := a.cfg.Serve.WithDefaults()
	if err != nil {
		return err
	}
	env, set, where, err := a.loadRules(&a.cfg.Rules, "", fixtures.Rules())
	if err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "rules loaded", "from", where, "scorecards", len(set.Scorecards), "campaigns", len(set.Campaigns))
	metrics := store.NewMetrics(db, cfg.MetricsConfig())
	jobs, hooks, err := a.sourceJobs(db, a.sources, cfg.CollectorInterval)
	if err != nil {
		return err
	}
	deps := serve.Deps{
		DB: db, Metrics: metrics, Rules: func() *checks.RuleSet { return set },
		Scorer: a.newScorer(db, env, set, &a.cfg.Rules, metrics),
		Jobs:   append(jobs, a.cfg.Catalog.Jobs(db, os.Getenv)...), Webhooks: hooks, Registry: a.registry, Logger: a.logger,
	}
	r, err := serve.Start(ctx, cfg, deps)
	if err != nil && anyPort {
		cfg.Listen = "127.0.0.1:0"
		r, err = serve.Start(ctx, cfg, deps)
	}
	if err != nil {
		return err
	}
	line := "Yardstick is serving at " + r.URL
	if !r.UI.Open() {
		line += " (token required)"
	}
	fmt.Fprintln(a.out, line)
	return r.Wait()
}
