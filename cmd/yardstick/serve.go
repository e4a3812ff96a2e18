package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/serve"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

// newServeCmd is `yardstick serve`.
func newServeCmd(a *app) *cobra.Command {
	var runJobs bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboards and API, and run collectors and scoring on their intervals",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			if cmd.Flags().Changed("jobs") {
				a.cfg.Serve.Jobs = &runJobs
			}
			return a.serve(cmd.Context(), db, false)
		}),
	}
	c.Flags().BoolVar(&runJobs, "jobs", true, "run the scheduled jobs (collectors, metric refresh, scoring); run exactly one instance with jobs (overrides serve.jobs)")
	return c
}

// serveDeps builds what serve runs on db: the rules in force, scoring, the
// notifier, the enabled sources' jobs and webhooks (writing through the
// webhook spool) and the catalog's refresh jobs.
func (a *app) serveDeps(ctx context.Context, db *store.DB) (serve.Config, serve.Deps, error) {
	cfg, err := a.cfg.Serve.WithDefaults()
	if err != nil {
		return cfg, serve.Deps{}, err
	}
	env, set, where, err := a.loadRules("")
	if err != nil {
		return cfg, serve.Deps{}, err
	}
	a.logger.InfoContext(ctx, "rules loaded", "from", where, "scorecards", len(set.Scorecards), "campaigns", len(set.Campaigns))
	metrics := store.NewMetrics(db, cfg.MetricsConfig())
	n, err := a.notifier(db, metrics, set)
	if err != nil {
		return cfg, serve.Deps{}, err
	}
	// Webhook deliveries are acknowledged once on disk in the spool, which
	// writes them to the store (serve drains it).
	sp, err := spool.Open(spool.Config{Dir: cmp.Or(cfg.Spool.Dir, filepath.Join(a.cfg.DataDir, "spool")),
		MaxBytes: cfg.Spool.MaxBytes, Registerer: a.registry, Logger: a.logger.With("component", "spool")}, db)
	if err != nil {
		return cfg, serve.Deps{}, err
	}
	jobs, hooks, err := serve.SourceJobs(a.sources, a.cfg.sources, a.sourceDeps(db), sp, cfg.CollectorInterval)
	if err != nil {
		return cfg, serve.Deps{}, errors.Join(err, sp.Close())
	}
	return cfg, serve.Deps{
		DB: db, Metrics: metrics, Rules: func() *checks.RuleSet { return set },
		Scorer:     a.newScorer(db, env, set, metrics),
		Collectors: jobs, Jobs: a.cfg.Catalog.Jobs(db, os.Getenv), Notifier: n, NotifyInterval: a.cfg.Notify.Interval,
		Webhooks: hooks, Spool: sp, Registry: a.registry, Logger: a.logger,
	}, nil
}

// serve runs the server on db until ctx ends. anyPort takes a free port when
// the configured one is busy (a second demo).
func (a *app) serve(ctx context.Context, db *store.DB, anyPort bool) error {
	cfg, deps, err := a.serveDeps(ctx, db)
	if err != nil {
		return err
	}
	if cfg.MemoryLimitMB > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the heap grows GCPercent between collections until it
		// nears the limit (see tuneGC).
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMB) << 20)
	}
	return serve.Run(ctx, cfg, deps, a.out, anyPort)
}
