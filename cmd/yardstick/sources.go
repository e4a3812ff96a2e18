package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/gitlab"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

// newSources returns the sources compiled into the binary. Adding a source is
// one more entry here; cmd, serve's jobs, the webhook mux and the demo loop
// over them.
func newSources() *collectors.Registry {
	return collectors.NewRegistry(github.Source(), gitlab.Source(), jira.Source(), pagerduty.Source())
}

// What sources read from and write to the store.
var (
	_ collectors.Catalog     = (*store.DB)(nil)
	_ collectors.CursorStore = (*store.DB)(nil)
	_ collectors.Writer      = (*store.DB)(nil)
	_ collectors.EventStore  = (*store.DB)(nil)
)

// spoolEvents reads events from the store and withdraws them through the
// spool, in order with the deliveries waiting there.
type spoolEvents struct {
	*store.DB
	sp *spool.Spool
}

func (s spoolEvents) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	return s.sp.DeleteEvents(ctx, events)
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
	var full, reconcile bool
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
		RunE: func(cmd *cobra.Command, args []string) error {
			s := sources.Lookup(args[0])
			if s == nil {
				return fmt.Errorf("collect %q: no such source (%v): %w", args[0], names, yardstick.ErrNotFound)
			}
			cfg, err := a.sourceConfig(*s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
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
		},
	}
	c.Flags().BoolVar(&full, "full", false, "ignore cursors and ETags and re-read the whole backfill window (sources with cursors)")
	c.Flags().BoolVar(&reconcile, "reconcile", false, "after collecting, remove what was deleted upstream or left the catalog (sources with a reconcile pass)")
	return c
}

// sourceJobs builds serve's jobs and webhooks for every enabled source: the
// collector on its interval, its reconcile pass when it has one, and its
// webhook when its config names a secret.
func (a *app) sourceJobs(db *store.DB, sp *spool.Spool, sources *collectors.Registry, interval func(string) time.Duration) ([]scheduler.Job, map[string]http.Handler, error) {
	var jobs []scheduler.Job
	hooks := map[string]http.Handler{}
	runner := collectors.NewRunner(db, db, a.metrics, a.logger, 0)
	deps := a.sourceDeps(db)
	hookDeps := deps // webhooks write and withdraw through the spool
	hookDeps.Writer, hookDeps.Events = sp, spoolEvents{db, sp}
	for _, s := range sources.Sources() {
		if !a.cfg.sources[s.Name].Enabled() {
			continue
		}
		cfg, err := a.sourceConfig(s)
		if err != nil {
			return nil, nil, err
		}
		col, err := s.New(cfg, deps)
		if err != nil {
			return nil, nil, err
		}
		hash := cfg.Hash()
		jobs = append(jobs, scheduler.Job{Name: s.Name, Interval: interval(s.Name), RunAtStart: true, Run: func(ctx context.Context) error {
			_, err := runner.Run(ctx, col, hash)
			if errors.Is(err, collectors.ErrAlreadyRunning) {
				return fmt.Errorf("%w: %w", scheduler.ErrSkipped, err)
			}
			return err
		}})
		if rec, ok := col.(collectors.Reconciler); ok {
			jobs = append(jobs, scheduler.Job{Name: s.Name + "-reconcile", Interval: rec.ReconcileInterval(), Run: func(ctx context.Context) error {
				_, err := rec.ReconcileOnce(ctx)
				return err
			}})
		}
		if s.Webhook == nil {
			continue
		}
		h, err := s.Webhook(cfg, hookDeps)
		if err != nil {
			return nil, nil, err
		}
		if h != nil {
			hooks[s.Name] = h
		}
	}
	return jobs, hooks, nil
}
