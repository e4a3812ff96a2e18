package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/yardstick-dev/yardstick/store"
)

func newSQLCmd(a *app) *cobra.Command {
	var (
		format  string
		maxRows int
	)
	c := &cobra.Command{
		Use:   "sql QUERY",
		Short: "Run a read-only SQL query against the store and print a table or TSV",
		Long: `Run a read-only query (ClickHouse's readonly setting is on, so nothing can change).
Tables: events, facts, fact_history, entities, entity_history, scope_mappings, cursors,
check_results, score_summaries, campaign_results. Read replacing tables with FINAL, e.g.
  yardstick sql "SELECT type, count() FROM events FINAL WHERE deleted = 0 GROUP BY type"`,
		Args: cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, db *store.DB) error {
			res, err := db.ReadOnlyQuery(cmd.Context(), args[0], maxRows)
			if err != nil {
				return err
			}
			switch format {
			case "tsv":
				fmt.Fprintln(a.out, strings.Join(res.Columns, "\t"))
				for _, r := range res.Rows {
					fmt.Fprintln(a.out, strings.Join(r, "\t"))
				}
			case "table":
				tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
				seps := make([]string, len(res.Columns))
				for i, c := range res.Columns {
					seps[i] = strings.Repeat("-", len(c))
				}
				fmt.Fprintln(tw, strings.Join(seps, "\t"))
				for _, r := range res.Rows {
					fmt.Fprintln(tw, strings.Join(r, "\t"))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "(%d rows)\n", len(res.Rows))
			default:
				return fmt.Errorf("--format %q: want table or tsv", format)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&format, "format", "table", "table or tsv")
	c.Flags().IntVar(&maxRows, "max-rows", 10000, "stop after this many rows (0: all)")
	return c
}
