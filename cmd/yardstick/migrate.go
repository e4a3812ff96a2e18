package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/yardstick-dev/yardstick/store"
)

func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded schema migrations (also done at every start)",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			// Open runs the migrations; report what it applied and what is there.
			res, err := db.ReadOnlyQuery(cmd.Context(), "SELECT name, toString(applied_at) FROM schema_migrations FINAL ORDER BY version", 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "database %s is at %d migrations:\n", db.Database(), len(res.Rows))
			for _, r := range res.Rows {
				fmt.Fprintf(a.out, "  %s  (applied %s UTC)\n", r[0], r[1])
			}
			return nil
		}),
	}
}
