package collectors

import (
	"context"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// ScopeCache answers whether the catalog maps a scope, reading the mappings
// at most once per TTL: webhooks ask it for every delivery. Safe for
// concurrent use.
type ScopeCache struct {
	catalog Catalog
	ttl     time.Duration
	now     func() time.Time

	mu     sync.Mutex
	scopes map[yardstick.Scope]bool
	read   time.Time
}

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
		mappings, err := c.catalog.ScopeMappings(ctx)
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
