package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors/catalog/catalogsync"
	"github.com/yardstick-dev/yardstick/demo"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

func newDemoCmd(a *app) *cobra.Command {
	var once bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on the demo organisation and print a summary",
		Long: `Start (or attach to) the local ClickHouse, import the demo organisation's catalog
(3 tribes, 12 squads, 120 components), collect from in-process fakes of every
registered source serving that organisation, and print a summary.
--once exits after the summary (for scripts and CI).`,
		Args: cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			ctx := cmd.Context()
			if err := a.runDemo(ctx, db); err != nil {
				return err
			}
			if once {
				return nil
			}
			fmt.Fprintln(a.out, "Ctrl-C stops the demo.")
			return a.serve(ctx, db, true)
		}),
	}
	c.Flags().BoolVar(&once, "once", false, "exit after the summary instead of serving")
	return c
}

// runDemo is the pipeline `yardstick demo` runs, step by step.
func (a *app) runDemo(ctx context.Context, db *store.DB) error {
	start := time.Now()
	dir := filepath.Join(a.cfg.DataDir, "demo", "catalog")
	if err := demo.Materialise(fixtures.Demo(), "catalog", dir); err != nil {
		return fmt.Errorf("write demo catalog: %w", err)
	}
	res := a.cfg.Catalog.Importer().ImportPaths(ctx, []string{dir})
	if err := res.Err(); err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	if err := catalogsync.Sync(ctx, a.out, a.errOut, db, res); err != nil {
		return err
	}
	if err := a.collectDemo(ctx, db); err != nil {
		return err
	}
	n, err := demo.SeedFactHistory(ctx, db, a.now(), 12)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "history: %d past fact observations, so migrations have a past\n", n)
	// Metrics first (scoring's DORA checks read them), then twelve weekly
	// scoring runs from the fact history, so trends and burndowns have a shape.
	refreshStart := time.Now()
	if err := store.NewMetrics(db, store.MetricsConfig{}).Refresh(ctx); err != nil {
		return fmt.Errorf("demo metrics: %w", err)
	}
	fmt.Fprintf(a.out, "metrics: refreshed in %.1fs\n", time.Since(refreshStart).Seconds())
	if err := a.scoreDemo(ctx, db, fixtures.Rules(), a.now(), 12); err != nil {
		return err
	}
	if err := demo.WriteSummary(ctx, a.out, db, time.Since(start)); err != nil {
		return err
	}
	if s := db.Server(); s != nil {
		fmt.Fprintf(a.out, "clickhouse  %s (native), %s (http), data in %s\n", s.Addr, s.HTTP, a.cfg.DataDir)
	}
	return nil
}

// collectDemo runs every registered source's collector, for real over HTTP on
// loopback, against the source's demo fake serving the demo organisation.
func (a *app) collectDemo(ctx context.Context, db *store.DB) error {
	entities, err := db.Entities(ctx)
	if err != nil {
		return err
	}
	deps := a.sourceDeps(db)
	for _, s := range a.sources.Sources() {
		if s.Demo == nil {
			continue
		}
		cfg, stop, err := s.Demo(ctx, entities, a.now())
		if err != nil {
			return err
		}
		col, err := s.New(cfg, deps)
		if err == nil {
			_, err = a.runCollector(ctx, db, col, cfg.Hash(), 10*time.Minute)
		}
		stop()
		if err != nil {
			return fmt.Errorf("demo %s: %w", s.Name, err)
		}
	}
	return nil
}
