package ui_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

func (f *fakeMetrics) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

// TestPageCacheUnderLoad: under 20 clients, pages were rebuilt from the store
// on every request (issue 10: "/" p50 675 ms). A page's data is built once
// until a refresh or scoring run invalidates it, including for concurrent
// requests, and never served across an invalidation.
func TestPageCacheUnderLoad(t *testing.T) {
	hs := mustServer(t, nil)
	h := hs.srv.Handler()
	if rec := get(t, h, "/api/v1/overview"); rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/overview = %d", rec.Code)
	}
	once := hs.metrics.calls()
	if once == 0 {
		t.Fatal("the overview read no metrics")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rec := get(t, h, "/api/v1/overview"); rec.Code != http.StatusOK {
				t.Errorf("GET /api/v1/overview = %d", rec.Code)
			}
		}()
	}
	wg.Wait()
	if got := hs.metrics.calls(); got != once {
		t.Errorf("metric reads after 20 more requests = %d, want %d (cached)", got, once)
	}
	// Another filter is another page.
	get(t, h, "/api/v1/overview?range=4w")
	if got := hs.metrics.calls(); got == once {
		t.Error("the 4w overview was served from the 12w one")
	}
	after := hs.metrics.calls()
	hs.srv.Invalidate()
	get(t, h, "/api/v1/overview")
	if got := hs.metrics.calls(); got != after+once {
		t.Errorf("metric reads after Invalidate = %d, want %d (rebuilt once)", got, after+once)
	}
}

// TestPageCacheOff: a negative TTL turns the cache off.
func TestPageCacheOff(t *testing.T) {
	hs := mustServer(t, func(c *ui.Config) { c.PageCacheTTL = -1 })
	get(t, hs.srv.Handler(), "/api/v1/overview")
	once := hs.metrics.calls()
	get(t, hs.srv.Handler(), "/api/v1/overview")
	if got := hs.metrics.calls(); got != 2*once {
		t.Errorf("metric reads of two requests without cache = %d, want %d", got, 2*once)
	}
}

// gatedMetrics blocks Metrics calls while gate is set, announcing each on entered.
type gatedMetrics struct {
	*fakeMetrics
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedMetrics) Metrics(ctx context.Context, q yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		<-gate
	}
	return g.fakeMetrics.Metrics(ctx, q)
}

// TestPageCacheServesAgedPageWhileRebuilding: when a page only aged past its
// TTL (no refresh changed its data), one request rebuilds it and the others
// are answered from the aged copy instead of queueing behind the rebuild.
func TestPageCacheServesAgedPageWhileRebuilding(t *testing.T) {
	var mu sync.Mutex
	clock := now
	g := &gatedMetrics{fakeMetrics: &fakeMetrics{}, entered: make(chan struct{}, 100)}
	hs := mustServer(t, func(c *ui.Config) {
		c.Metrics = g
		c.PageCacheTTL = time.Minute
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	})
	h := hs.srv.Handler()
	first := get(t, h, "/api/v1/overview")
	if first.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/overview = %d", first.Code)
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	rebuilt := make(chan int)
	go func() { rebuilt <- get(t, h, "/api/v1/overview").Code }()
	<-g.entered // the rebuild is under way, held at the gate
	if rec := get(t, h, "/api/v1/overview"); rec.Code != http.StatusOK || rec.Body.String() != first.Body.String() {
		t.Errorf("GET during the rebuild = %d, want 200 with the aged page", rec.Code)
	}
	g.mu.Lock()
	g.gate = nil
	g.mu.Unlock()
	close(gate)
	if code := <-rebuilt; code != http.StatusOK {
		t.Errorf("the rebuilding GET = %d", code)
	}
}
