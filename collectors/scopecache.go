package collectors

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// ScopeCache answers whether the catalog maps a scope, reading the mappings
// at most once per TTL: webhooks ask it for every delivery. Once it holds a
// copy, a re-read gets ScopeCacheRefreshTimeout, and when the store is
// unavailable (yardstick.ErrUnavailable) or slower the last copy decides, so
// deliveries still reach the spool during an outage. Safe for concurrent use.
type ScopeCache struct {
	catalog Catalog
	ttl     time.Duration
	now     func() time.Time

	mu     sync.Mutex
	scopes map[yardstick.Scope]bool
	read   time.Time
}

// ScopeCacheRefreshTimeout bounds a re-read of the mappings when a copy is
// held. GitHub gives up on a delivery after 10s.
const ScopeCacheRefreshTimeout = 2 * time.Second

// NewScopeCache returns a cache over catalog; now is the clock of its TTL.
func NewScopeCache(catalog Catalog, ttl time.Duration, now func() time.Time) *ScopeCache {
	return &ScopeCache{catalog: catalog, ttl: ttl, now: now}
}

// Has reports whether the catalog maps scope to an entity. It returns the
// catalog's error when the mappings had to be read and could not be.
func (c *ScopeCache) Has(ctx context.Context, scope yardstick.Scope) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scopes == nil || c.now().Sub(c.read) > c.ttl {
		rctx := ctx
		if c.scopes != nil {
			// With a copy to fall back on, a slow store must not hold the
			// delivery (and the ones queued behind this lock) for long.
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, ScopeCacheRefreshTimeout)
			defer cancel()
		}
		mappings, err := c.catalog.ScopeMappings(rctx)
		if err != nil && c.scopes != nil && (errors.Is(err, yardstick.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
			return c.scopes[scope], nil
		}
		if err != nil {
			return false, err
		}
		c.scopes = make(map[yardstick.Scope]bool, len(mappings))
		for _, m := range mappings {
			c.scopes[m.Scope] = true
		}
		c.read = c.now()
	}
	return c.scopes[scope], nil
}
