package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/serve/servebench"
)

// benchEnv is what `bench load` and `bench outage` run on.
func (a *app) benchEnv() servebench.Env {
	return servebench.Env{Out: a.out, Now: a.now, Logger: a.logger, Registry: a.registry, Metrics: a.metrics,
		OpenStore: a.openStore, RunDemo: a.runDemo, ServeDeps: a.serveDeps,
		Serve: a.cfg.Serve, ReadTimeout: a.cfg.ClickHouse.ReadTimeout, WriteTimeout: a.cfg.ClickHouse.WriteTimeout}
}

func newBenchLoadCmd(a *app) *cobra.Command {
	var clients int
	var duration time.Duration
	c := &cobra.Command{
		Use:   "load",
		Short: "Mixed load on the demo organisation: concurrent clients on pages, API and signed GitHub webhooks; print throughput and p50/p99 per path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.benchEnv().Load(cmd.Context(), clients, duration)
		},
	}
	c.Flags().IntVar(&clients, "clients", 20, "concurrent clients")
	c.Flags().DurationVar(&duration, "duration", 60*time.Second, "how long the load runs")
	return c
}

func newBenchOutageCmd(a *app) *cobra.Command {
	var stop time.Duration
	var rate int
	c := &cobra.Command{
		Use:   "outage",
		Short: "Signed GitHub webhooks while the local ClickHouse is SIGSTOPped: print the share of acknowledged deliveries stored afterwards",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.benchEnv().Outage(cmd.Context(), stop, rate)
		},
	}
	c.Flags().DurationVar(&stop, "stop", 60*time.Second, "how long ClickHouse stays stopped")
	c.Flags().IntVar(&rate, "rate", 20, "deliveries per second")
	return c
}
