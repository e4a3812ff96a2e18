package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// ErrAlreadyRunning is returned by Runner.Run when the same collector is still
// running; serve's scheduler never starts two runs of one collector at once.
var ErrAlreadyRunning = errors.New("collector already running")

// Report is what one run did.
type Report struct {
	Collector string
	Since     time.Time // watermark the run started from; zero for a full sync
	Next      time.Time // watermark saved after the run (unchanged on error)
	Events    int64
	Facts     int64
	Duration  time.Duration
	Failures  []Failure
	Reset     bool // the collector's config changed, so the watermark was reset
}

// String is the report as `yardstick collect` prints it: the collector, the
// kind of run and its counts, then one line per failure with its endpoint
// and status.
func (r Report) String() string {
	kind := "incremental since " + r.Since.Format(time.RFC3339)
	if r.Since.IsZero() {
		kind = "full sync"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %d events, %d facts in %.1fs", r.Collector, kind, r.Events, r.Facts, r.Duration.Seconds())
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\n  failed: %s", f)
	}
	return b.String()
}

// Runner runs collectors with watermarks and metrics, the node_exporter way.
// Safe for concurrent use; runs of the same collector are serialised.
type Runner struct {
	cursors CursorStore
	writer  Writer
	metrics *Metrics
	logger  *slog.Logger
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	running map[string]bool
}

// NewRunner builds a Runner. timeout caps one run (0: no cap).
func NewRunner(cursors CursorStore, w Writer, m *Metrics, logger *slog.Logger, timeout time.Duration) *Runner {
	return &Runner{cursors: cursors, writer: w, metrics: m, logger: logger, timeout: timeout, now: time.Now, running: map[string]bool{}}
}

// Run runs c once from its saved watermark. configHash identifies the collector's
// configuration: when it differs from the one saved with the watermark, the
// watermark is reset and the run is a full sync. The watermark advances only when
// the run ends without error, so a failed scope is read again next time.
func (r *Runner) Run(ctx context.Context, c Collector, configHash string) (Report, error) {
	name := c.Name()
	if !r.claim(name) {
		return Report{Collector: name}, fmt.Errorf("run %s: %w", name, ErrAlreadyRunning)
	}
	defer r.release(name)
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	log := r.logger.With("collector", name)
	rep := Report{Collector: name}
	since, reset, err := r.watermark(ctx, name, configHash)
	if err != nil {
		return rep, err
	}
	rep.Since, rep.Reset = since, reset
	if reset {
		log.InfoContext(ctx, "collector config changed, full sync")
	}

	cw := &countingWriter{w: r.writer}
	start := r.now()
	next, err := c.Collect(ctx, since, cw)
	rep.Duration = r.now().Sub(start)
	rep.Events, rep.Facts = cw.events.Load(), cw.facts.Load()
	rep.Failures = Failures(err)
	r.observe(name, rep, err)
	if err != nil {
		log.WarnContext(ctx, "collector run failed", "err", err, "events", rep.Events, "facts", rep.Facts)
		return rep, err
	}
	if next.Before(since) {
		next = since
	}
	if err := r.saveWatermark(ctx, name, next, configHash); err != nil {
		return rep, err
	}
	rep.Next = next
	log.InfoContext(ctx, "collector run done", "events", rep.Events, "facts", rep.Facts, "duration", rep.Duration, "next", next)
	return rep, nil
}

func (r *Runner) claim(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] {
		return false
	}
	r.running[name] = true
	return true
}

func (r *Runner) release(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, name)
}

func watermarkKey(name string) string { return "collector/" + name + "/watermark" }
func configKey(name string) string    { return "collector/" + name + "/config" }

func (r *Runner) watermark(ctx context.Context, name, configHash string) (time.Time, bool, error) {
	saved, err := r.cursors.Cursor(ctx, configKey(name))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read config hash of %s: %w", name, err)
	}
	if saved != configHash {
		return time.Time{}, saved != "", nil
	}
	v, err := r.cursors.Cursor(ctx, watermarkKey(name))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read watermark of %s: %w", name, err)
	}
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("parse watermark of %s %q: %w", name, v, err)
	}
	return t, false, nil
}

func (r *Runner) saveWatermark(ctx context.Context, name string, next time.Time, configHash string) error {
	if err := r.cursors.SaveCursor(ctx, watermarkKey(name), next.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("save watermark of %s: %w", name, err)
	}
	if err := r.cursors.SaveCursor(ctx, configKey(name), configHash); err != nil {
		return fmt.Errorf("save config hash of %s: %w", name, err)
	}
	return nil
}

func (r *Runner) observe(name string, rep Report, err error) {
	if r.metrics == nil {
		return
	}
	r.metrics.duration.WithLabelValues(name).Observe(rep.Duration.Seconds())
	r.metrics.rows.WithLabelValues(name, "event").Add(float64(rep.Events))
	r.metrics.rows.WithLabelValues(name, "fact").Add(float64(rep.Facts))
	result := "ok"
	switch {
	case len(rep.Failures) > 0:
		result = "partial"
	case err != nil:
		result = "error"
	}
	r.metrics.runs.WithLabelValues(name, result).Inc()
	if err == nil {
		r.metrics.lastSuccess.WithLabelValues(name).Set(float64(r.now().Unix()))
	}
}

type countingWriter struct {
	w             Writer
	events, facts atomic.Int64
}

func (c *countingWriter) WriteEvents(ctx context.Context, events []yardstick.Event) error {
	if err := c.w.WriteEvents(ctx, events); err != nil {
		return err
	}
	c.events.Add(int64(len(events)))
	return nil
}

func (c *countingWriter) WriteFacts(ctx context.Context, facts []yardstick.Fact) error {
	if err := c.w.WriteFacts(ctx, facts); err != nil {
		return err
	}
	c.facts.Add(int64(len(facts)))
	return nil
}
