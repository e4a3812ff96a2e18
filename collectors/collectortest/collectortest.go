// Package collectortest holds what the collector test suites share: Store, an
// in-memory collectors.Writer, CursorStore, Catalog and EventStore with the
// store's identity semantics (the last write of an identity wins, a delete
// hides it). Tests of one source wire a collector to it instead of
// ClickHouse; the suites that need ClickHouse use store/storetest.
package collectortest

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Epoch anchors the fakes' histories and the test clocks of the collector
// suites.
var Epoch = time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)

// RepoMappings maps each repository ("acme/payments", "acme/platform/search")
// by its scope (scopeOf) to a component named after its path below "acme/"
// (component:default/payments).
func RepoMappings(scopeOf func(repo string) yardstick.Scope, repos ...string) []yardstick.ScopeMapping {
	var out []yardstick.ScopeMapping
	for _, r := range repos {
		out = append(out, yardstick.ScopeMapping{Scope: scopeOf(r), Entity: yardstick.NewEntityRef("component", "default", strings.TrimPrefix(r, "acme/"))})
	}
	return out
}

// EventKey is an event's identity in the store.
type EventKey struct {
	Source, Type string
	Scope        yardstick.Scope
	ID           string
}

// KeyOf returns e's identity.
func KeyOf(e yardstick.Event) EventKey { return EventKey{e.Source, e.Type, e.Scope, e.ID} }

// FactKey is a fact's identity (its latest value) in the store.
type FactKey struct {
	Source string
	Scope  yardstick.Scope
	Name   string
}

// Writes counts what a Store was handed: calls and rows, rewrites included.
type Writes struct {
	EventCalls, EventRows int
	FactCalls, FactRows   int
}

// Store is the in-memory store. The zero value is not usable: call NewStore.
// Safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	events   map[EventKey]yardstick.Event
	facts    map[FactKey]yardstick.Fact
	history  map[FactKey][]time.Time
	cursors  map[string]string
	entities []yardstick.Entity
	mappings []yardstick.ScopeMapping
	log      []yardstick.Event
	writes   Writes
	fail     error
}

// NewStore returns an empty store with an empty catalog.
func NewStore() *Store {
	return &Store{events: map[EventKey]yardstick.Event{}, facts: map[FactKey]yardstick.Fact{},
		history: map[FactKey][]time.Time{}, cursors: map[string]string{}}
}

// SetMappings replaces the catalog's scope mappings.
func (s *Store) SetMappings(mappings ...yardstick.ScopeMapping) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mappings = slices.Clone(mappings)
}

// SetEntities replaces the catalog's entities, mapping each to the scopes
// scopesOf returns (a source's Scopes).
func (s *Store) SetEntities(entities []yardstick.Entity, scopesOf func(yardstick.Entity) []yardstick.Scope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entities, s.mappings = slices.Clone(entities), nil
	for _, e := range entities {
		for _, sc := range scopesOf(e) {
			s.mappings = append(s.mappings, yardstick.ScopeMapping{Scope: sc, Entity: e.Ref})
		}
	}
}

// FailWrites makes every write fail with err from now on; nil heals it.
func (s *Store) FailWrites(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// write runs f under the lock, unless writes fail (FailWrites).
func (s *Store) write(f func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	f()
	return nil
}

// WriteEvents implements collectors.Writer.
func (s *Store) WriteEvents(_ context.Context, events []yardstick.Event) error {
	return s.write(func() {
		for _, e := range events {
			s.events[KeyOf(e)] = e
		}
		s.log = append(s.log, events...)
		s.writes.EventCalls++
		s.writes.EventRows += len(events)
	})
}

// WriteFacts implements collectors.Writer; each distinct observation time of
// a fact is kept in its history.
func (s *Store) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	return s.write(func() {
		for _, f := range facts {
			k := FactKey{f.Source, f.Scope, f.Name}
			s.facts[k] = f
			if !slices.ContainsFunc(s.history[k], f.ObservedAt.Equal) {
				s.history[k] = append(s.history[k], f.ObservedAt)
			}
		}
		s.writes.FactCalls++
		s.writes.FactRows += len(facts)
	})
}

// DeleteEvents implements collectors.EventStore.
func (s *Store) DeleteEvents(_ context.Context, events []yardstick.Event) error {
	return s.write(func() {
		for _, e := range events {
			delete(s.events, KeyOf(e))
		}
	})
}

// ScopeEvents implements collectors.EventStore.
func (s *Store) ScopeEvents(_ context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error) {
	return s.Events(func(e yardstick.Event) bool {
		return e.Source == source && e.Scope == scope && (len(types) == 0 || slices.Contains(types, e.Type)) && !e.Time.Before(since)
	}), nil
}

// Cursor implements collectors.CursorStore.
func (s *Store) Cursor(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[key], nil
}

// SaveCursor implements collectors.CursorStore.
func (s *Store) SaveCursor(_ context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[key] = value
	return nil
}

// ScopeMappings implements collectors.Catalog.
func (s *Store) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mappings), nil
}

// Entities implements collectors.Catalog.
func (s *Store) Entities(context.Context) ([]yardstick.Entity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entities), nil
}

// Event returns the live event with identity k.
func (s *Store) Event(k EventKey) (yardstick.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[k]
	return e, ok
}

// Events returns the live events keep accepts (all when nil), sorted by
// scope, type and id.
func (s *Store) Events(keep func(yardstick.Event) bool) []yardstick.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := kept(s.events, keep)
	SortEvents(out)
	return out
}

// SortEvents sorts events by scope, type and id, the order Events returns.
func SortEvents(events []yardstick.Event) {
	slices.SortFunc(events, func(a, b yardstick.Event) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
}

// Snapshot returns the live events by identity.
func (s *Store) Snapshot() map[EventKey]yardstick.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.events)
}

// ClearEvents forgets every event, as if the store were new.
func (s *Store) ClearEvents() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = map[EventKey]yardstick.Event{}
}

// Fact returns the latest value of a fact.
func (s *Store) Fact(source string, scope yardstick.Scope, name string) (yardstick.Fact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.facts[FactKey{source, scope, name}]
	return f, ok
}

// Written returns the events handed over after the first n, duplicates
// included, in the order they came.
func (s *Store) Written(n int) []yardstick.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log[min(n, len(s.log)):])
}

// Writes returns what the store was handed so far.
func (s *Store) Writes() Writes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Counts returns the number of live events, of facts, and of fact
// observations in the history.
func (s *Store) Counts() (events, facts, history int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.history {
		history += len(h)
	}
	return len(s.events), len(s.facts), history
}

// Cursors returns a copy of the saved cursors.
func (s *Store) Cursors() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.cursors)
}

// AddMappings adds scope mappings to the catalog.
func (s *Store) AddMappings(mappings ...yardstick.ScopeMapping) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mappings = append(s.mappings, mappings...)
}

// Facts returns the latest facts keep accepts (all when nil), by scope,
// source and name.
func (s *Store) Facts(keep func(yardstick.Fact) bool) []yardstick.Fact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := kept(s.facts, keep)
	slices.SortFunc(out, func(a, b yardstick.Fact) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Clock is a test clock whose sleeps return at once and move it forward, for
// a collectors.Transport's WithClock and a collector's Now. Safe for
// concurrent use.
type Clock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
	waits []time.Duration
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Sleep moves the clock forward by d at once; it fails only when ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	if d > 0 {
		c.t = c.t.Add(d)
		c.slept += d
	}
	return ctx.Err()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Waits returns every duration Sleep was asked for, in order.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// Slept is the time Sleep has moved the clock forward.
func (c *Clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// kept returns the values of m that keep accepts (all when keep is nil), in
// no particular order.
func kept[K comparable, V any](m map[K]V, keep func(V) bool) []V {
	var out []V
	for _, v := range m {
		if keep == nil || keep(v) {
			out = append(out, v)
		}
	}
	return out
}
