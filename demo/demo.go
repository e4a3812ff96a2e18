// Package demo is the pipeline of `yardstick demo` (Run): writing the
// embedded demo catalog to disk and importing it, collecting from the
// sources' demo fakes, giving the demo organisation's migrations a fact
// history, scoring it week by week and printing a summary.
package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Materialise copies dir of fsys to a folder on disk, so the demo catalog is
// imported by the same code (and with the same file:line errors) as a user's.
func Materialise(fsys fs.FS, dir, to string) error {
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

// SummaryStore is what the summary reads.
type SummaryStore interface {
	Entities(ctx context.Context) ([]yardstick.Entity, error)
	EventCounts(ctx context.Context) (map[string]uint64, error)
}

// WriteSummary prints what the store holds after the demo: entities per
// kind, squads, events per type, and how long the demo took.
func WriteSummary(ctx context.Context, w io.Writer, db SummaryStore, took time.Duration) error {
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSUMMARY\t")
	fmt.Fprintln(tw, "entities per kind\t")
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, kinds[k])
	}
	fmt.Fprintf(tw, "squads\t%d\n", squads)
	fmt.Fprintln(tw, "events per type\t")
	var total uint64
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(tw, "  %s\t%d\n", t, counts[t])
		total += counts[t]
	}
	fmt.Fprintf(tw, "  total\t%d\n", total)
	fmt.Fprintf(tw, "took\t%.1fs\n", took.Seconds())
	return tw.Flush()
}
