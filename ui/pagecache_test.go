package ui_test

import (
	"net/http"
	"sync"
	"testing"

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
