package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/gitlab"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/store"
)

// newSources returns the sources compiled into the binary. Adding a source is
// one more entry here; cmd, serve's jobs, the webhook mux and the demo loop
// over them.
func newSources() *collectors.Registry {
	return collectors.NewRegistry(github.Source(), gitlab.Source(), jira.Source(), pagerduty.Source())
}

// sourceDeps are what every source is built with.
func (a *app) sourceDeps(db *store.DB) collectors.Deps {
	return collectors.Deps{
		Catalog: db, Cursors: db, Writer: db, Events: db, Now: a.now,
		Registerer: a.registry, Logger: a.logger, Metrics: a.metrics, Getenv: os.Getenv,
	}
}

// sourceConfig returns the validated config of a registered source.
func (a *app) sourceConfig(s collectors.Source) (collectors.SourceConfig, error) {
	cfg := a.cfg.sources[s.Name]
	if err := cfg.Validate(os.Getenv); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runTimeout is the source's configured run timeout, else def.
func runTimeout(cfg collectors.SourceConfig, def time.Duration) time.Duration {
	if t, ok := cfg.(collectors.RunTimeouter); ok && t.RunTimeout() > 0 {
		return t.RunTimeout()
	}
	return def
}

// runCollector runs c once through a runner (watermark, config-hash reset,
// metrics) and prints what the run did and every failure with its endpoint and
// status. `collect` and `demo` run every source through it.
func (a *app) runCollector(ctx context.Context, db *store.DB, c collectors.Collector, configHash string, timeout time.Duration) (collectors.Report, error) {
	runner := collectors.NewRunner(db, db, a.metrics, a.logger, timeout)
	rep, err := runner.Run(ctx, c, configHash)
	fmt.Fprintln(a.out, rep)
	return rep, err
}

// newCollectCmd is `yardstick collect NAME`, for every registered source.
func newCollectCmd(a *app, sources *collectors.Registry) *cobra.Command {
	var (
		full, reconcile bool
		s               *collectors.Source
		cfg             collectors.SourceConfig
	)
	var names []string
	for _, s := range sources.Sources() {
		names = append(names, s.Name)
	}
	c := &cobra.Command{
		Use:   "collect SOURCE",
		Short: fmt.Sprintf("Run one source's collector once (%v)", names),
		Long: `Collect, for every catalog entity whose annotations name the source's objects,
the events and facts the source knows (README, "Sources"). The first run is a full
sync of the source's backfill window; later runs read what changed since the last
successful one. A change of the source's config section starts a full sync again.
When some scopes fail, the others are stored and the command exits 1 naming each
failure with its endpoint and HTTP status.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		// The source and its config are checked before the store is opened.
		PreRunE: func(_ *cobra.Command, args []string) (err error) {
			if s = sources.Lookup(args[0]); s == nil {
				return fmt.Errorf("collect %q: no such source (%v): %w", args[0], names, yardstick.ErrNotFound)
			}
			cfg, err = a.sourceConfig(*s)
			return err
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, db *store.DB) error {
			ctx := cmd.Context()
			col, err := s.New(cfg, a.sourceDeps(db))
			if err != nil {
				return err
			}
			if full {
				fs, ok := col.(collectors.FullSyncer)
				if !ok {
					return fmt.Errorf("collect %s --full: the source keeps no cursors to ignore; a config change starts a full sync", s.Name)
				}
				fs.ForceFull(true)
			}
			rec, canReconcile := col.(collectors.Reconciler)
			if reconcile && !canReconcile {
				return fmt.Errorf("collect %s --reconcile: the source has no reconcile pass", s.Name)
			}
			rep, err := a.runCollector(ctx, db, col, cfg.Hash(), runTimeout(cfg, 30*time.Minute))
			if err == nil && reconcile {
				var summary string
				summary, err = rec.ReconcileOnce(ctx)
				fmt.Fprintf(a.out, "%s: reconcile: %s\n", s.Name, summary)
				for _, f := range collectors.Failures(err) {
					fmt.Fprintf(a.out, "  failed: %s\n", f)
					rep.Failures = append(rep.Failures, f)
				}
			}
			if len(rep.Failures) > 0 {
				return exitError{code: 1}
			}
			return err
		}),
	}
	c.Flags().BoolVar(&full, "full", false, "ignore cursors and ETags and re-read the whole backfill window (sources with cursors)")
	c.Flags().BoolVar(&reconcile, "reconcile", false, "after collecting, remove what was deleted upstream or left the catalog (sources with a reconcile pass)")
	return c
}
