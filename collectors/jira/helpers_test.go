package jira

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

// memWriter is the shared in-memory store as the collector's writer.
type memWriter struct{ *collectortest.Store }

func newMemWriter() *memWriter { return &memWriter{collectortest.NewStore()} }

// list returns the stored events keep accepts, sorted by identity.
func (m *memWriter) list(keep func(yardstick.Event) bool) []yardstick.Event { return m.Events(keep) }

// writtenCount is the number of events handed over, duplicates included.
func (m *memWriter) writtenCount() int { return m.Writes().EventRows }

// writtenSince returns the events handed over after the first n.
func (m *memWriter) writtenSince(n int) []yardstick.Event { return m.Written(n) }

// catalogOf is a catalog mapping each scope to a component of its own.
func catalogOf(scopes ...yardstick.Scope) *collectortest.Store {
	var mappings []yardstick.ScopeMapping
	for i, s := range scopes {
		mappings = append(mappings, yardstick.ScopeMapping{Scope: s, Entity: yardstick.NewEntityRef("component", "", "svc-"+string(rune('a'+i)))})
	}
	return catalogWith(mappings)
}

// catalogWith is a catalog of the given mappings.
func catalogWith(mappings []yardstick.ScopeMapping) *collectortest.Store {
	c := collectortest.NewStore()
	c.SetMappings(mappings...)
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
	cursors    *collectortest.Store
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
	cursors := collectortest.NewStore()
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

// fact returns the latest value of a Jira fact, the zero fact when missing.
func (m *memWriter) fact(scope yardstick.Scope, name string) yardstick.Fact {
	f, _ := m.Fact(SourceName, scope, name)
	return f
}
