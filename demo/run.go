package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/catalog/catalogsync"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
)

// Config is what the demo pipeline runs with.
type Config struct {
	DataDir     string             // the demo catalog is written to DataDir/demo/catalog
	Catalog     catalogsync.Config // how catalog files are imported
	Sources     *collectors.Registry
	Deps        collectors.Deps // what each source is built with
	Out, ErrOut io.Writer
}

// Run is the pipeline `yardstick demo` runs on db, step by step: import the
// demo organisation's catalog, collect from every registered source's demo
// fake, give the fact history a past, refresh the metrics, score twelve weeks
// with the demo rules and print a summary.
func Run(ctx context.Context, db *store.DB, cfg Config) error {
	start := time.Now()
	dir := filepath.Join(cfg.DataDir, "demo", "catalog")
	if err := Materialise(fixtures.Demo(), "catalog", dir); err != nil {
		return fmt.Errorf("write demo catalog: %w", err)
	}
	res := cfg.Catalog.Importer().ImportPaths(ctx, []string{dir})
	if err := res.Err(); err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	if err := catalogsync.Sync(ctx, cfg.Out, cfg.ErrOut, db, res); err != nil {
		return err
	}
	if err := collect(ctx, db, cfg); err != nil {
		return err
	}
	n, err := SeedFactHistory(ctx, db, cfg.Deps.Now(), 12)
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "history: %d past fact observations, so migrations have a past\n", n)
	// Metrics first (scoring's DORA checks read them), then twelve weekly
	// scoring runs from the fact history, so trends and burndowns have a shape.
	refreshStart := time.Now()
	if err := store.NewMetrics(db, store.MetricsConfig{}).Refresh(ctx); err != nil {
		return fmt.Errorf("demo metrics: %w", err)
	}
	fmt.Fprintf(cfg.Out, "metrics: refreshed in %.1fs\n", time.Since(refreshStart).Seconds())
	env, err := checks.NewEnv(checks.Options{})
	if err != nil {
		return err
	}
	set, err := env.LoadDir(fixtures.Rules(), ".")
	if err != nil {
		return fmt.Errorf("demo rules: %w", err)
	}
	s := scoring.NewScorer(scoring.NewEngine(env, set, scoring.EngineConfig{}),
		scoring.Sources{Catalog: db, Facts: db, History: db, Metrics: store.NewMetrics(db, store.MetricsConfig{}), Results: db}, 0, cfg.Deps.Logger)
	if err := Score(ctx, cfg.Out, s, db, set, cfg.Deps.Now(), 12); err != nil {
		return err
	}
	if err := WriteSummary(ctx, cfg.Out, db, time.Since(start)); err != nil {
		return err
	}
	if s := db.Server(); s != nil {
		fmt.Fprintf(cfg.Out, "clickhouse  %s (native), %s (http), data in %s\n", s.Addr, s.HTTP, cfg.DataDir)
	}
	return nil
}

// collect runs every registered source's collector, for real over HTTP on
// loopback, against the source's demo fake serving the demo organisation.
func collect(ctx context.Context, db *store.DB, cfg Config) error {
	entities, err := db.Entities(ctx)
	if err != nil {
		return err
	}
	runner := collectors.NewRunner(db, db, cfg.Deps.Metrics, cfg.Deps.Logger, 10*time.Minute)
	for _, s := range cfg.Sources.Sources() {
		if s.Demo == nil {
			continue
		}
		sc, stop, err := s.Demo(ctx, entities, cfg.Deps.Now())
		if err != nil {
			return err
		}
		col, err := s.New(sc, cfg.Deps)
		if err == nil {
			var rep collectors.Report
			rep, err = runner.Run(ctx, col, sc.Hash())
			fmt.Fprintln(cfg.Out, rep)
		}
		stop()
		if err != nil {
			return fmt.Errorf("demo %s: %w", s.Name, err)
		}
	}
	return nil
}
