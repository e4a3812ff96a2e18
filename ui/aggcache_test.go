package ui_test

import (
	"context"
	"net/http"
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
