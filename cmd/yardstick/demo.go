package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

func newDemoCmd(a *app) *cobra.Command {
	var once bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on the demo organisation and print a summary",
		Long: `Start (or attach to) the local ClickHouse, import the demo organisation's catalog
(3 tribes, 12 squads, 120 components), collect from in-process fakes of GitHub, Jira
and PagerDuty serving that organisation, and print a summary.
--once exits after the summary (for scripts and CI).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := a.runDemo(ctx, db); err != nil {
				return err
			}
			if once {
				return nil
			}
			return a.serveDemo(ctx, db)
		},
	}
	c.Flags().BoolVar(&once, "once", false, "exit after the summary instead of serving")
	return c
}

// runDemo is the pipeline `yardstick demo` runs, step by step.
func (a *app) runDemo(ctx context.Context, db *store.DB) error {
	start := time.Now()
	dir := filepath.Join(a.cfg.DataDir, "demo", "catalog")
	if err := materialise(fixtures.Demo(), "catalog", dir); err != nil {
		return fmt.Errorf("write demo catalog: %w", err)
	}
	res := a.readCatalog(ctx, []string{dir}, "")
	if err := res.Err(); err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	ch, err := syncCatalog(ctx, db, res)
	if err != nil {
		return err
	}
	a.printCatalogSummary(res, ch)

	// The collectors run for real, over HTTP on loopback, against in-process fakes
	// of GitHub, Jira and PagerDuty that serve the demo organisation.
	for _, step := range []struct {
		name string
		run  func(context.Context, *store.DB) (collectors.Report, error)
	}{
		{"github", a.runGitHubDemo},
		{"jira", a.runJiraDemo},
		{"pagerduty", a.runPagerDutyDemo},
	} {
		if _, err := step.run(ctx, db); err != nil {
			return fmt.Errorf("demo %s: %w", step.name, err)
		}
	}
	n, err := seedDemoFactHistory(ctx, db, a.now(), 12)
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
	return a.printSummary(ctx, db, time.Since(start))
}

// materialise copies dir of fsys to a folder on disk, so the demo catalog is
// imported by the same code (and with the same file:line errors) as a user's.
func materialise(fsys fs.FS, dir, to string) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(to, strings.TrimPrefix(strings.TrimPrefix(p, dir), "/"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func (a *app) printSummary(ctx context.Context, db *store.DB, took time.Duration) error {
	entities, err := db.Entities(ctx)
	if err != nil {
		return err
	}
	kinds := map[string]int{}
	squads := 0
	for _, e := range entities {
		kinds[e.Ref.Kind()]++
		if e.Ref.Kind() == "group" && e.Type == "squad" {
			squads++
		}
	}
	counts, err := db.EventCounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSUMMARY\t")
	fmt.Fprintln(tw, "entities per kind\t")
	for _, k := range sortedKeys(kinds) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, kinds[k])
	}
	fmt.Fprintf(tw, "squads\t%d\n", squads)
	fmt.Fprintln(tw, "events per type\t")
	var total uint64
	for _, t := range sortedKeys(counts) {
		fmt.Fprintf(tw, "  %s\t%d\n", t, counts[t])
		total += counts[t]
	}
	fmt.Fprintf(tw, "  total\t%d\n", total)
	fmt.Fprintf(tw, "took\t%.1fs\n", took.Seconds())
	if s := db.Server(); s != nil {
		fmt.Fprintf(tw, "clickhouse\t%s (native), %s (http), data in %s\n", s.Addr, s.HTTP, a.cfg.DataDir)
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
