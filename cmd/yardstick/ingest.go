package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/collectors/ingest"
	"github.com/yardstick-dev/yardstick/store"
)

func newIngestCmd(a *app) *cobra.Command {
	var batch int
	c := &cobra.Command{
		Use:   "ingest FILE|-",
		Short: "Store events from a JSON-lines file (or stdin), e.g. from a CI/CD system without a collector",
		Long: `Store events from a JSON-lines file, one event per line (schema in the README,
"Event ingest"). Re-ingesting the same events changes nothing. A malformed line is
reported with its line number; every good line is stored; the exit code is then 1.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, db *store.DB) error {
			var r io.Reader = os.Stdin
			name := "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r, name = f, args[0]
			}
			// The ingest allocates short-lived events at a high rate: collect garbage
			// by a memory ceiling rather than by heap growth, which halves GC work
			// and keeps the peak under 300 MB.
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(240 << 20))
			start := time.Now()
			open := func(ctx context.Context) (ingest.Stream, error) { return db.StreamEvents(ctx, batch) }
			st, err := ingest.Read(cmd.Context(), r, open, ingest.Options{})
			elapsed := time.Since(start)
			rate := float64(st.Events) / elapsed.Seconds()
			fmt.Fprintf(a.out, "ingest %s: %d lines, %d events stored, %d invalid, %.2fs (%.0f events/s), peak memory %.0f MB\n",
				name, st.Lines, st.Events, st.Invalid, elapsed.Seconds(), rate, float64(procKB("/proc/self/status", "VmHWM"))/1024)
			if st.Invalid > 0 {
				for _, e := range st.Errors {
					fmt.Fprintf(a.errOut, "  %s: %v\n", name, e)
				}
				if st.Invalid > len(st.Errors) {
					fmt.Fprintf(a.errOut, "  ... and %d more\n", st.Invalid-len(st.Errors))
				}
				if err != nil && st.Events >= 0 {
					return exitError{code: 1}
				}
			}
			return err
		}),
	}
	c.Flags().IntVar(&batch, "batch", 20_000, "events per block sent to ClickHouse")
	return c
}
