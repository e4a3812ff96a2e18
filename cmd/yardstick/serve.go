package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/yardstick-dev/yardstick/serve"
	"github.com/yardstick-dev/yardstick/store"
)

// newServeCmd is `yardstick serve`. cfg returns the serve section of the
// configuration; deps builds jobs (collectors, scoring), webhooks and rules on
// the open store.
func newServeCmd(a *app, cfg func() serve.Config, deps func(ctx context.Context, db *store.DB) (serve.Deps, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboards and API, and run collectors and scoring on their intervals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			d, err := deps(ctx, db)
			if err != nil {
				return err
			}
			d.DB = db
			if d.Registry == nil {
				d.Registry = a.registry
			}
			if d.Logger == nil {
				d.Logger = a.logger
			}
			r, err := serve.Start(ctx, cfg(), d)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, serveURLLine(r, r.UI.Open()))
			return r.Wait()
		},
	}
}

// serveURLLine is what `serve` and `demo` print.
func serveURLLine(r *serve.Running, open bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Yardstick is serving at %s", r.URL)
	if !open {
		b.WriteString(" (token required)")
	}
	return b.String()
}
