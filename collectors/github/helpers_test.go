package github

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
)

// epoch anchors the fake organisation's history and the test clock.
var epoch = collectortest.Epoch

const testToken = "ghp_test_token"

// memStore is the shared in-memory store with the GitHub suite's lookups.
type memStore struct{ *collectortest.Store }

func newMemStore(slugs ...string) *memStore {
	m := &memStore{collectortest.NewStore()}
	m.setRepos(slugs...)
	return m
}

func (m *memStore) setRepos(slugs ...string) {
	m.SetMappings(collectortest.RepoMappings(RepoScope, slugs...)...)
}

// eventsOf returns the live events of type typ in scope (all scopes when empty), by scope and id.
func (m *memStore) eventsOf(typ string, scope yardstick.Scope) []yardstick.Event {
	return m.Events(func(e yardstick.Event) bool { return e.Type == typ && (scope == "" || e.Scope == scope) })
}

func (m *memStore) fact(t testing.TB, scope yardstick.Scope, name string, v any) {
	t.Helper()
	f, ok := m.Fact(SourceName, scope, name)
	if !ok {
		t.Fatalf("fact %s %s missing", scope, name)
	}
	if err := json.Unmarshal(f.Value, v); err != nil {
		t.Fatalf("fact %s %s: %v", scope, name, err)
	}
}

// env is a fake GitHub, a collector pointed at it and a store.
type env struct {
	fake  *githubfake.Server
	clock *collectortest.Clock
	store *memStore
	c     *Collector
	slugs []string
}

type envOption func(*githubfake.Options, *Config)

func newEnv(t testing.TB, slugs []string, opts ...envOption) *env {
	t.Helper()
	clock := collectortest.NewClock(epoch)
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

func mustCollector(t testing.TB, cfg Config, fake *githubfake.Server, clock *collectortest.Clock, cursors collectors.CursorStore, catalog collectors.Catalog, events EventStore) *Collector {
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
