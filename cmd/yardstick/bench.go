package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors/ingest/ingestbench"
	"github.com/yardstick-dev/yardstick/fixtures/orgbench"
	"github.com/yardstick-dev/yardstick/store"
)

func newBenchCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Measurements that need whole processes (make bench runs them)"}
	cfg := ingestbench.Config{Out: a.out, ErrOut: a.errOut}
	ing := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest a generated file with `yardstick ingest` and with clickhouse-client JSONEachRow; print both rates and their ratio",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Self = self
			cfg.Server = db.Server()
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			org.Binary, org.DataDir, org.Out, org.Logger = self, filepath.Join(a.cfg.DataDir, "bench-org"), a.out, a.logger
			_, err = orgbench.Run(cmd.Context(), org)
			return err
		},
	}
	orgCmd.Flags().IntVar(&org.Components, "components", 10_000, "components of the generated organisation")
	orgCmd.Flags().IntVar(&org.Days, "days", 14, "days of history")
	orgCmd.Flags().IntVar(&org.ColdRounds, "cold-rounds", 5, "metrics refreshes, each followed by one request per page")
	orgCmd.Flags().IntVar(&org.WarmRounds, "warm-rounds", 20, "requests per page with warm caches")
	orgCmd.Flags().BoolVar(&org.Reuse, "reuse", false, "reuse the organisation a previous run of the same size built in the data dir")
	c.AddCommand(ing, newBenchLoadCmd(a), newBenchOutageCmd(a), orgCmd)
	return c
}
