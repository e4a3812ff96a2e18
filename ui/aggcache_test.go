package ui_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

type countingScores struct {
	*fakeScores
	rollups atomic.Int64
}

func (c *countingScores) ScoreRollups(ctx context.Context, owners []yardstick.EntityRef) ([]yardstick.ScoreRollup, error) {
	c.rollups.Add(1)
	return c.fakeScores.ScoreRollups(ctx, owners)
}

// Score aggregates are read once per scoring run (or TTL), not per request.
func TestScoreAggregatesCachedUntilNextRun(t *testing.T) {
	scores := &countingScores{fakeScores: fixtureScores()}
	clock := now
	hs := mustServer(t, func(c *ui.Config) {
		c.Scores = scores
		c.Now = func() time.Time { return clock }
	})
	h := hs.srv.Handler()
	for range 3 {
		if rec := get(t, h, "/squads"); rec.Code != http.StatusOK {
			t.Fatalf("GET /squads = %d", rec.Code)
		}
	}
	if n := scores.rollups.Load(); n != 1 {
		t.Errorf("3 views of /squads read rollups %d times, want 1", n)
	}
	if err := hs.srv.RefreshGauges(t.Context()); err != nil { // serve calls it after a scoring run
		t.Fatal(err)
	}
	get(t, h, "/squads")
	if n := scores.rollups.Load(); n != 2 { // the gauges read them once afresh, and /squads reuses that
		t.Errorf("after RefreshGauges rollups were read %d times in all, want 2", n)
	}
	clock = clock.Add(6 * time.Minute) // past the default TTL
	get(t, h, "/squads")
	if n := scores.rollups.Load(); n != 3 {
		t.Errorf("after the TTL rollups were read %d times in all, want 3", n)
	}
}

// Past its TTL the catalog is read again only when its version changed.
func TestCatalogReadAgainOnlyWhenChanged(t *testing.T) {
	cat := &fakeCatalog{entities: fixtureEntities()}
	cat.version.Store("v1")
	clock := now
	var mu sync.Mutex
	hs := mustServer(t, func(c *ui.Config) {
		c.Catalog = cat
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	})
	h := hs.srv.Handler()
	tick := func() {
		mu.Lock()
		clock = clock.Add(time.Minute) // past the 15s catalog TTL
		mu.Unlock()
	}
	waitReads := func(want int64) {
		t.Helper()
		for range 200 { // the re-read runs in the background
			if cat.reads.Load() == want && cat.calls.Load() > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("catalog read %d times, want %d", cat.reads.Load(), want)
	}
	get(t, h, "/squads")
	waitReads(1)
	for range 3 {
		tick()
		get(t, h, "/squads")
	}
	calls := cat.calls.Load()
	for range 200 {
		if cat.calls.Load() >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := cat.reads.Load(); n != 1 {
		t.Errorf("unchanged catalog read %d times over 3 TTLs, want once (version asked %d times)", n, calls)
	}
	cat.version.Store("v2")
	tick()
	get(t, h, "/squads")
	waitReads(2)
}
