package github

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
)

// epoch anchors the fake organisation's history and the test clock.
var epoch = time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)

const testToken = "ghp_test_token"

// fakeClock is a clock whose sleeps return at once and move it forward.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.t = c.t.Add(d)
		c.slept += d
	}
	return ctx.Err()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

type eventKey struct {
	source, typ string
	scope       yardstick.Scope
	id          string
}

func keyOf(e yardstick.Event) eventKey { return eventKey{e.Source, e.Type, e.Scope, e.ID} }

type factKey struct {
	scope yardstick.Scope
	name  string
}

// memStore is an in-memory Writer, CursorStore, Catalog and EventStore with the
// store's identity semantics: the last write of an identity wins, a delete hides it.
type memStore struct {
	mu       sync.Mutex
	events   map[eventKey]yardstick.Event
	facts    map[factKey]yardstick.Fact
	history  map[factKey][]time.Time
	cursors  map[string]string
	mappings []yardstick.ScopeMapping

	eventWrites, factWrites int // rows written, including rewrites
}

func newMemStore(slugs ...string) *memStore {
	m := &memStore{events: map[eventKey]yardstick.Event{}, facts: map[factKey]yardstick.Fact{}, history: map[factKey][]time.Time{}, cursors: map[string]string{}}
	m.setRepos(slugs...)
	return m
}

func (m *memStore) setRepos(slugs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mappings = nil
	for _, s := range slugs {
		m.mappings = append(m.mappings, yardstick.ScopeMapping{Scope: RepoScope(s), Entity: yardstick.NewEntityRef("component", "default", s[len("acme/"):])})
	}
}

func (m *memStore) WriteEvents(_ context.Context, events []yardstick.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		m.events[keyOf(e)] = e
	}
	m.eventWrites += len(events)
	return nil
}

func (m *memStore) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range facts {
		k := factKey{f.Scope, f.Name}
		m.facts[k] = f
		if !slices.ContainsFunc(m.history[k], f.ObservedAt.Equal) {
			m.history[k] = append(m.history[k], f.ObservedAt)
		}
	}
	m.factWrites += len(facts)
	return nil
}

func (m *memStore) DeleteEvents(_ context.Context, events []yardstick.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		delete(m.events, keyOf(e))
	}
	return nil
}

func (m *memStore) ScopeEvents(_ context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []yardstick.Event
	for _, e := range m.events {
		if e.Source == source && e.Scope == scope && (len(types) == 0 || slices.Contains(types, e.Type)) && !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) Cursor(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[key], nil
}

func (m *memStore) SaveCursor(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursors[key] = value
	return nil
}

func (m *memStore) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mappings), nil
}

func (m *memStore) Entities(context.Context) ([]yardstick.Entity, error) { return nil, nil }

// Events returns the live events of type typ in scope (all scopes when empty), sorted by id.
func (m *memStore) Events(typ string, scope yardstick.Scope) []yardstick.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []yardstick.Event
	for _, e := range m.events {
		if e.Type == typ && (scope == "" || e.Scope == scope) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Scope < out[j].Scope || out[i].Scope == out[j].Scope && out[i].ID < out[j].ID
	})
	return out
}

func (m *memStore) fact(t testing.TB, scope yardstick.Scope, name string, v any) {
	t.Helper()
	m.mu.Lock()
	f, ok := m.facts[factKey{scope, name}]
	m.mu.Unlock()
	if !ok {
		t.Fatalf("fact %s %s missing", scope, name)
	}
	if err := json.Unmarshal(f.Value, v); err != nil {
		t.Fatalf("fact %s %s: %v", scope, name, err)
	}
}

func (m *memStore) counts() (events, facts, history int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.history {
		history += len(h)
	}
	return len(m.events), len(m.facts), history
}

// env is a fake GitHub, a collector pointed at it and a store.
type env struct {
	fake  *githubfake.Server
	clock *fakeClock
	store *memStore
	c     *Collector
	slugs []string
}

type envOption func(*githubfake.Options, *Config)

func newEnv(t testing.TB, slugs []string, opts ...envOption) *env {
	t.Helper()
	clock := &fakeClock{t: epoch}
	fo := githubfake.Options{Repos: slugs, Epoch: epoch, Now: clock.Now, Token: testToken}
	cfg := Config{Token: testToken}
	for _, o := range opts {
		o(&fo, &cfg)
	}
	fake := githubfake.New(fo)
	t.Cleanup(fake.Close)
	cfg.BaseURL = fake.URL
	st := newMemStore(slugs...)
	return &env{fake: fake, clock: clock, store: st, c: mustCollector(t, cfg, fake, clock, st, st, st), slugs: slugs}
}

func mustCollector(t testing.TB, cfg Config, fake *githubfake.Server, clock *fakeClock, cursors collectors.CursorStore, catalog collectors.Catalog, events EventStore) *Collector {
	t.Helper()
	tr := collectors.NewTransport(fake.Client().Transport, "github", RetryConfig(), collectors.NewMetrics(prometheus.NewRegistry())).
		WithClock(clock.Now, clock.Sleep)
	c, err := New(cfg, &http.Client{Transport: tr}, Deps{Cursors: cursors, Catalog: catalog, Events: events, Now: clock.Now}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func (e *env) mustCollect(t testing.TB, w collectors.Writer) time.Time {
	t.Helper()
	next, err := e.c.Collect(context.Background(), time.Time{}, w)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return next
}

func demoSlugs(n int) []string {
	names := []string{"payments", "checkout", "search", "accounts", "ledger", "notifications", "catalog", "gateway"}
	out := make([]string, n)
	for i := range out {
		out[i] = "acme/" + names[i%len(names)]
		if i >= len(names) {
			out[i] += "-" + strconv.Itoa(i/len(names))
		}
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
