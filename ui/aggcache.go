package ui

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// cachedScores keeps the score aggregates pages read (rollups, failing
// checks, movers, check state counts) until the next scoring run (serve calls
// RefreshGauges after each) or for ttl, whichever comes first: they change
// only when a run is written, and at 10,000 components each is a scan of the
// run history. The other reads pass through.
type cachedScores struct {
	ScoreSource
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedAggregate
}

type cachedAggregate struct {
	at  time.Time
	val any
}

// maxCachedAggregates bounds the cache; it is emptied when full.
const maxCachedAggregates = 256

func newCachedScores(src ScoreSource, ttl time.Duration, now func() time.Time) *cachedScores {
	return &cachedScores{ScoreSource: src, ttl: ttl, now: now, entries: map[string]cachedAggregate{}}
}

// reset forgets every aggregate: a scoring run was written.
func (c *cachedScores) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = map[string]cachedAggregate{}
}

func refsKey(refs []yardstick.EntityRef) string {
	var b strings.Builder
	for _, r := range refs {
		b.WriteString(string(r))
		b.WriteByte(0)
	}
	return b.String()
}

// cached returns the value under key, computing it with fn when absent or
// older than ttl. Callers must not change what they get.
func cached[T any](c *cachedScores, key string, fn func() (T, error)) (T, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.val.(T), nil
	}
	v, err := fn()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedAggregates {
		c.entries = map[string]cachedAggregate{}
	}
	c.entries[key] = cachedAggregate{at: c.now(), val: v}
	c.mu.Unlock()
	return v, nil
}

func (c *cachedScores) ScoreRollups(ctx context.Context, owners []yardstick.EntityRef) ([]yardstick.ScoreRollup, error) {
	return cached(c, "rollups\x01"+refsKey(owners), func() ([]yardstick.ScoreRollup, error) {
		return c.ScoreSource.ScoreRollups(ctx, owners)
	})
}

func (c *cachedScores) FailingChecksByOwner(ctx context.Context, owners []yardstick.EntityRef) (map[yardstick.EntityRef]int, error) {
	return cached(c, "failing\x01"+refsKey(owners), func() (map[yardstick.EntityRef]int, error) {
		return c.ScoreSource.FailingChecksByOwner(ctx, owners)
	})
}

func (c *cachedScores) ScoreMoves(ctx context.Context, since time.Time, owners []yardstick.EntityRef, n int) ([]yardstick.ScoreMove, error) {
	key := "moves\x01" + strconv.FormatInt(since.Unix(), 10) + "\x01" + strconv.Itoa(n) + "\x01" + refsKey(owners)
	return cached(c, key, func() ([]yardstick.ScoreMove, error) {
		return c.ScoreSource.ScoreMoves(ctx, since, owners, n)
	})
}

func (c *cachedScores) CheckStateCounts(ctx context.Context, scorecard string, owners []yardstick.EntityRef) (map[string]map[yardstick.CheckState]int, error) {
	return cached(c, "states\x01"+scorecard+"\x01"+refsKey(owners), func() (map[string]map[yardstick.CheckState]int, error) {
		return c.ScoreSource.CheckStateCounts(ctx, scorecard, owners)
	})
}
