package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/demo"
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

// runDemo runs the demo pipeline on db with the configured catalog settings.
func (a *app) runDemo(ctx context.Context, db *store.DB) error {
	return demo.Run(ctx, db, demo.Config{DataDir: a.cfg.DataDir, Catalog: a.cfg.Catalog, Sources: a.sources, Deps: a.sourceDeps(db), Out: a.out, ErrOut: a.errOut})
}
