package jira

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

// eventKey is an event's identity in the store.
type eventKey struct {
	Type  string
	Scope yardstick.Scope
	ID    string
}

// memWriter is an in-memory collectors.Writer that keeps one row per identity,
// like the store, and counts what it was handed.
type memWriter struct {
	mu     sync.Mutex
	events map[eventKey]yardstick.Event
	facts  map[string]yardstick.Fact // scope + "|" + name
	log    []yardstick.Event         // events handed over, duplicates included
	fail   error
}

func newMemWriter() *memWriter {
	return &memWriter{events: map[eventKey]yardstick.Event{}, facts: map[string]yardstick.Fact{}}
}

func (m *memWriter) WriteEvents(_ context.Context, events []yardstick.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, e := range events {
		if e.Source != SourceName {
			return errors.New("memWriter: event of another source")
		}
		m.events[eventKey{e.Type, e.Scope, e.ID}] = e
	}
	m.log = append(m.log, events...)
	return nil
}

func (m *memWriter) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, f := range facts {
		m.facts[string(f.Scope)+"|"+f.Name] = f
	}
	return nil
}

// list returns the stored events, filtered and sorted by identity.
func (m *memWriter) list(keep func(yardstick.Event) bool) []yardstick.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []yardstick.Event
	for _, e := range m.events {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out
}

func sortEvents(es []yardstick.Event) {
	slices.SortFunc(es, func(a, b yardstick.Event) int {
		return strings.Compare(string(a.Scope)+a.Type+a.ID, string(b.Scope)+b.Type+b.ID)
	})
}

func (m *memWriter) writtenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// writtenSince returns the events handed over after the first n.
func (m *memWriter) writtenSince(n int) []yardstick.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log[n:])
}

// memCursors is an in-memory collectors.CursorStore.
type memCursors struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *memCursors) Cursor(_ context.Context, key string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

func (c *memCursors) SaveCursor(_ context.Context, key, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[key] = value
	return nil
}

// staticCatalog is a collectors.Catalog with fixed scope mappings.
type staticCatalog struct{ mappings []yardstick.ScopeMapping }

func (c staticCatalog) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	return c.mappings, nil
}

func (c staticCatalog) Entities(context.Context) ([]yardstick.Entity, error) { return nil, nil }

func catalogOf(scopes ...yardstick.Scope) staticCatalog {
	var c staticCatalog
	for i, s := range scopes {
		c.mappings = append(c.mappings, yardstick.ScopeMapping{Scope: s, Entity: yardstick.NewEntityRef("component", "", "svc-"+string(rune('a'+i)))})
	}
	return c
}

// harness is a collector wired to a fake Jira over real HTTP, with the
// retrying transport on an instant clock.
type harness struct {
	fake       *jirafake.Server
	httpClient *http.Client
	srv        *httptest.Server
	c          *Collector
	w          *memWriter
	cursors    *memCursors
	sleeps     *[]time.Duration
}

// testNow is the clock of collectors in tests: after every generated issue.
var testNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func mustHarness(t testing.TB, opts jirafake.Options, cat collectors.Catalog, tweak func(*Config)) *harness {
	t.Helper()
	if opts.Flavor == "" {
		opts.Flavor = "cloud"
	}
	opts.Email, opts.APIToken, opts.Token = "bot@example.com", "api-token", "pat-token"
	fake := jirafake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	var sleeps []time.Duration
	var mu sync.Mutex
	tr := collectors.NewTransport(srv.Client().Transport, "jira", collectors.RetryConfig{}, collectors.NewMetrics(prometheus.NewRegistry())).
		WithClock(func() time.Time { return testNow }, func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			sleeps = append(sleeps, d)
			return nil
		})
	cfg := Config{BaseURL: srv.URL, Flavor: Flavor(opts.Flavor), StoryPointsField: jirafake.StoryPointsField}
	if cfg.Flavor == Cloud {
		cfg.Email, cfg.APIToken = "bot@example.com", "api-token"
	} else {
		cfg.PersonalAccessToken = "pat-token"
	}
	if tweak != nil {
		tweak(&cfg)
	}
	cursors := &memCursors{}
	hc := &http.Client{Transport: tr}
	c, err := New(cfg, hc, cat, cursors, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.WithClock(func() time.Time { return testNow })
	return &harness{fake: fake, httpClient: hc, srv: srv, c: c, w: newMemWriter(), cursors: cursors, sleeps: &sleeps}
}

func (h *harness) mustCollect(t testing.TB, since time.Time) time.Time {
	t.Helper()
	next, err := h.c.Collect(context.Background(), since, h.w)
	if err != nil {
		t.Fatalf("Collect(%v) = %v", since, err)
	}
	return next
}

// eventsOf returns the stored events of one issue key and type.
func (h *harness) eventsOf(key, typ string) []yardstick.Event {
	return h.w.list(func(e yardstick.Event) bool { return e.Str["key"] == key && (typ == "" || e.Type == typ) })
}
