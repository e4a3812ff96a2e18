package gitlab

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

// epoch ends the fake's history and starts the test clock.
var epoch = time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)

const testToken = "glpat-test"

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

type eventKey struct {
	typ   string
	scope yardstick.Scope
	id    string
}

// memStore is an in-memory Writer, CursorStore and Catalog with the store's
// identity semantics: the last write of an identity wins.
type memStore struct {
	mu       sync.Mutex
	events   map[eventKey]yardstick.Event
	facts    map[yardstick.Scope]map[string]yardstick.Fact
	cursors  map[string]string
	mappings []yardstick.ScopeMapping

	eventWrites, factWrites int
}

func newMemStore(projects ...string) *memStore {
	m := &memStore{events: map[eventKey]yardstick.Event{}, facts: map[yardstick.Scope]map[string]yardstick.Fact{}, cursors: map[string]string{}}
	for _, p := range projects {
		m.mappings = append(m.mappings, yardstick.ScopeMapping{Scope: Scope(p), Entity: yardstick.NewEntityRef("component", "default", p[len("acme/"):])})
	}
	return m
}

func (m *memStore) WriteEvents(_ context.Context, events []yardstick.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		m.events[eventKey{e.Type, e.Scope, e.ID}] = e
	}
	m.eventWrites += len(events)
	return nil
}

func (m *memStore) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range facts {
		if m.facts[f.Scope] == nil {
			m.facts[f.Scope] = map[string]yardstick.Fact{}
		}
		m.facts[f.Scope][f.Name] = f
	}
	m.factWrites += len(facts)
	return nil
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
	return append([]yardstick.ScopeMapping(nil), m.mappings...), nil
}

func (m *memStore) Entities(context.Context) ([]yardstick.Entity, error) { return nil, nil }

// of returns the events of typ in scope.
func (m *memStore) of(typ string, scope yardstick.Scope) []yardstick.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []yardstick.Event
	for k, e := range m.events {
		if k.typ == typ && k.scope == scope {
			out = append(out, e)
		}
	}
	return out
}

func (m *memStore) event(typ string, scope yardstick.Scope, id string) (yardstick.Event, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.events[eventKey{typ, scope, id}]
	return e, ok
}

// mustCollector builds a collector on the fake whose transport sleeps on clock.
func mustCollector(t testing.TB, fake *gitlabfake.Server, clock *fakeClock, st *memStore, cfg Config) *Collector {
	t.Helper()
	cfg.BaseURL, cfg.Token = fake.URL, testToken
	tr := collectors.NewTransport(nil, SourceName, collectors.RetryConfig{MaxRetries: 4, MaxWait: time.Hour}, nil).WithClock(clock.Now, clock.Sleep)
	c, err := New(cfg, collectors.Deps{
		Catalog: st, Cursors: st, Writer: st, Now: clock.Now,
		HTTPClient: &http.Client{Transport: tr}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// mustSetup starts a fake serving n projects and a collector on it with a
// fresh in-memory store.
func mustSetup(t testing.TB, n int, cfg Config) ([]string, *gitlabfake.Server, *fakeClock, *memStore, *Collector) {
	t.Helper()
	projects := acmeProjects(n)
	fake := gitlabfake.New(gitlabfake.Options{Projects: projects, Epoch: epoch, Token: testToken})
	t.Cleanup(fake.Close)
	clock := &fakeClock{t: epoch}
	st := newMemStore(projects...)
	return projects, fake, clock, st, mustCollector(t, fake, clock, st, cfg)
}

func acmeProjects(n int) []string {
	names := []string{"acme/payments", "acme/platform/search", "acme/checkout", "acme/accounts"}
	var out []string
	for i := range n {
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, "acme/svc-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		}
	}
	return out
}
