package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors/ingest/ingestbench"
	"github.com/yardstick-dev/yardstick/fixtures/orgbench"
	"github.com/yardstick-dev/yardstick/serve/servebench"
	"github.com/yardstick-dev/yardstick/store"
)

// newBenchCmd is `yardstick bench`: flags and wiring only, the harnesses live
// in ingestbench, servebench and orgbench.
func newBenchCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Measurements that need whole processes (make bench runs them)"}
	cfg := ingestbench.Config{Out: a.out, ErrOut: a.errOut}
	ing := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest a generated file with `yardstick ingest` and with clickhouse-client JSONEachRow; print both rates and their ratio",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) (err error) {
			cfg.Server = db.Server()
			if cfg.Self, err = os.Executable(); err != nil {
				return err
			}
			return ingestbench.Run(cmd.Context(), cfg)
		}),
	}
	ing.Flags().IntVar(&cfg.Components, "components", 1000, "components of the generated organisation")
	ing.Flags().IntVar(&cfg.Days, "days", 90, "days of history (1000 components x 90 days is about 1,000,000 events)")
	ing.Flags().IntVar(&cfg.Rounds, "rounds", 3, "runs of each method; the best of each is compared")
	var org orgbench.Config
	orgCmd := &cobra.Command{
		Use:   "org",
		Short: "Generate an organisation, time `yardstick score`, then crawl a real `yardstick serve`: page p95s cold and warm, and serve's peak RSS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			org.DataDir, org.Out, org.Logger = filepath.Join(a.cfg.DataDir, "bench-org"), a.out, a.logger
			if org.Binary, err = os.Executable(); err != nil {
				return err
			}
			_, err = orgbench.Run(cmd.Context(), org)
			return err
		},
	}
	orgCmd.Flags().IntVar(&org.Components, "components", 10_000, "components of the generated organisation")
	orgCmd.Flags().IntVar(&org.Days, "days", 14, "days of history")
	orgCmd.Flags().IntVar(&org.ColdRounds, "cold-rounds", 5, "metrics refreshes, each followed by one request per page")
	orgCmd.Flags().IntVar(&org.WarmRounds, "warm-rounds", 20, "requests per page with warm caches")
	orgCmd.Flags().BoolVar(&org.Reuse, "reuse", false, "reuse the organisation a previous run of the same size built in the data dir")
	var (
		clients, rate  int
		duration, stop time.Duration
	)
	env := func() servebench.Env {
		return servebench.Env{Out: a.out, Now: a.now, Logger: a.logger, Registry: a.registry, Metrics: a.metrics,
			OpenStore: a.openStore, ScopesOf: a.sources.ScopesOf, RunDemo: a.runDemo, ServeDeps: a.serveDeps,
			Serve: a.cfg.Serve, ReadTimeout: a.cfg.ClickHouse.ReadTimeout, WriteTimeout: a.cfg.ClickHouse.WriteTimeout}
	}
	load := &cobra.Command{
		Use:   "load",
		Short: "Mixed load on the demo organisation: concurrent clients on pages, API and signed GitHub webhooks; print throughput and p50/p99 per path",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return env().Load(cmd.Context(), clients, duration) },
	}
	load.Flags().IntVar(&clients, "clients", 20, "concurrent clients")
	load.Flags().DurationVar(&duration, "duration", 60*time.Second, "how long the load runs")
	outage := &cobra.Command{
		Use:   "outage",
		Short: "Signed GitHub webhooks while the local ClickHouse is SIGSTOPped: print the share of acknowledged deliveries stored afterwards",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return env().Outage(cmd.Context(), stop, rate) },
	}
	outage.Flags().DurationVar(&stop, "stop", 60*time.Second, "how long ClickHouse stays stopped")
	outage.Flags().IntVar(&rate, "rate", 20, "deliveries per second")
	c.AddCommand(ing, load, outage, orgCmd)
	return c
}
