package main

import (
	"context"
	"fmt"
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/store"
)

// runCollector runs c once through a runner (watermark, config-hash reset,
// metrics) and prints what the run did and every failure with its endpoint and
// status. `collect` and `demo` run all three sources through it.
func (a *app) runCollector(ctx context.Context, db *store.DB, c collectors.Collector, configHash string, timeout time.Duration) (collectors.Report, error) {
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	runner := collectors.NewRunner(db, db, a.metrics, a.logger, timeout)
	rep, err := runner.Run(ctx, c, configHash)
	kind := "incremental since " + rep.Since.Format(time.RFC3339)
	if rep.Since.IsZero() {
		kind = "full sync"
	}
	fmt.Fprintf(a.out, "%s: %s: %d events, %d facts in %.1fs\n", c.Name(), kind, rep.Events, rep.Facts, rep.Duration.Seconds())
	for _, f := range rep.Failures {
		fmt.Fprintf(a.out, "  failed: %s\n", f)
	}
	return rep, err
}
