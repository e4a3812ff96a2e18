package collectors

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
)

// stepCollector writes one event per run, returns next, and records the since it got.
type stepCollector struct {
	mu      sync.Mutex
	next    time.Time
	err     error
	sinces  []time.Time
	block   chan struct{}
	entered chan struct{} // when set, receives once Collect has started
}

func (c *stepCollector) Name() string { return "step" }

func (c *stepCollector) Collect(ctx context.Context, since time.Time, w Writer) (time.Time, error) {
	c.mu.Lock()
	c.sinces = append(c.sinces, since)
	c.mu.Unlock()
	if c.entered != nil {
		c.entered <- struct{}{}
	}
	if c.block != nil {
		<-c.block
	}
	if err := w.WriteEvents(ctx, []yardstick.Event{{Source: "x", Type: "a.b", Scope: "s", ID: "1"}}); err != nil {
		return time.Time{}, err
	}
	return c.next, c.err
}

func TestRunnerWatermarks(t *testing.T) {
	cur := collectortest.NewStore()
	reg := prometheus.NewRegistry()
	r := NewRunner(cur, collectortest.NewStore(), NewMetrics(reg), slog.New(slog.DiscardHandler), time.Minute)
	ctx := context.Background()
	t1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	c := &stepCollector{next: t1}

	if _, err := r.Run(ctx, c, "cfg-a"); err != nil {
		t.Fatal(err)
	}
	// A failed run keeps the watermark.
	c.next, c.err = t1.Add(time.Hour), &PartialError{Collector: "step", Failures: []Failure{{Scope: "github:acme/api", Endpoint: "GET /repos/acme/api/pulls", Status: 502}}}
	rep, err := r.Run(ctx, c, "cfg-a")
	if err == nil || len(rep.Failures) != 1 || !strings.Contains(err.Error(), "github:acme/api: GET /repos/acme/api/pulls: status 502") {
		t.Fatalf("Run(partial) = %v, %+v; want the failure named", err, rep)
	}
	c.err = nil
	if _, err := r.Run(ctx, c, "cfg-a"); err != nil {
		t.Fatal(err)
	}
	// A config change resets the watermark: full sync.
	rep, err = r.Run(ctx, c, "cfg-b")
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{{}, t1, t1, {}}
	if len(c.sinces) != len(want) {
		t.Fatalf("sinces = %v, want %v", c.sinces, want)
	}
	for i := range want {
		if !c.sinces[i].Equal(want[i]) {
			t.Errorf("run %d since = %v, want %v", i+1, c.sinces[i], want[i])
		}
	}
	if !rep.Reset || rep.Events != 1 {
		t.Errorf("report after config change = %+v, want Reset and 1 event", rep)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP yardstick_collector_runs_total Collector runs by result (ok, partial, error).
# TYPE yardstick_collector_runs_total counter
yardstick_collector_runs_total{collector="step",result="ok"} 3
yardstick_collector_runs_total{collector="step",result="partial"} 1
`), "yardstick_collector_runs_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
}

func TestRunnerRefusesConcurrentRuns(t *testing.T) {
	r := NewRunner(collectortest.NewStore(), collectortest.NewStore(), nil, slog.New(slog.DiscardHandler), 0)
	c := &stepCollector{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	done := make(chan error)
	go func() {
		_, err := r.Run(context.Background(), c, "h")
		done <- err
	}()
	<-c.entered // the first run is inside Collect
	if _, err := r.Run(context.Background(), c, "h"); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run() = %v, want ErrAlreadyRunning", err)
	}
	close(c.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
