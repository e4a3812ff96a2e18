package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors/ingest/ingestbench"
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
	c.AddCommand(ing, newBenchLoadCmd(a), newBenchOutageCmd(a))
	return c
}
