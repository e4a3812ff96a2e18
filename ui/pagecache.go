package ui

import (
	"sync"
	"time"
)

// pageCache keeps the data of each page (title and view, before rendering)
// until the data under it changes: Invalidate, which serve calls when a metric
// refresh or a scoring run completes, drops every entry, and an entry is never
// older than its TTL (what a webhook or collector wrote since shows within
// it). Concurrent requests for a page that is not cached wait for one build
// instead of building it each; while an aged entry is rebuilt, the others are
// served the aged one. Views are shared between requests: builders
// return fresh values and nothing mutates a view after it is built.
type pageCache struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu       sync.Mutex
	gen      uint64
	entries  map[string]pageEntry
	inflight map[string]*pageCall
}

type pageEntry struct {
	at    time.Time
	title string
	view  any
}

type pageCall struct {
	done  chan struct{}
	title string
	view  any
	err   error
}

func newPageCache(ttl time.Duration, now func() time.Time) *pageCache {
	return &pageCache{ttl: ttl, now: now, max: 4096, entries: map[string]pageEntry{}, inflight: map[string]*pageCall{}}
}

// get returns the cached page for key, or builds it once for every caller
// waiting on the same key. A failed build is not cached.
func (pc *pageCache) get(key string, build func() (string, any, error)) (string, any, error) {
	if pc.ttl <= 0 {
		return build()
	}
	pc.mu.Lock()
	e, cached := pc.entries[key]
	if cached && pc.now().Sub(e.at) < pc.ttl {
		pc.mu.Unlock()
		return e.title, e.view, nil
	}
	if call, ok := pc.inflight[key]; ok {
		pc.mu.Unlock()
		if cached {
			// Only aged, not invalidated: the data under it has not been
			// refreshed, so it is served while one request rebuilds it.
			return e.title, e.view, nil
		}
		<-call.done
		return call.title, call.view, call.err
	}
	call := &pageCall{done: make(chan struct{})}
	pc.inflight[key] = call
	gen, at := pc.gen, pc.now()
	pc.mu.Unlock()

	call.title, call.view, call.err = build()

	pc.mu.Lock()
	delete(pc.inflight, key)
	// A build that overlapped an invalidation may hold data from before it.
	if call.err == nil && gen == pc.gen {
		if len(pc.entries) >= pc.max {
			clear(pc.entries)
		}
		pc.entries[key] = pageEntry{at: at, title: call.title, view: call.view}
	}
	pc.mu.Unlock()
	close(call.done)
	return call.title, call.view, call.err
}

func (pc *pageCache) invalidate() {
	pc.mu.Lock()
	pc.gen++
	clear(pc.entries)
	pc.mu.Unlock()
}
