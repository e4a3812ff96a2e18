package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
)

// memStore is the shared in-memory store, its catalog the entities given
// and the scopes of their PagerDuty annotations.
type memStore struct{ *collectortest.Store }

func newMemStore(entities []yardstick.Entity) *memStore {
	m := &memStore{collectortest.NewStore()}
	m.SetEntities(entities, ScopesOf)
	return m
}

// entities returns the catalog's entities.
func (m *memStore) entities() []yardstick.Entity {
	es, _ := m.Entities(context.Background())
	return es
}

func eventKey(e yardstick.Event) string {
	return e.Source + "|" + e.Type + "|" + string(e.Scope) + "|" + e.ID
}

func (m *memStore) event(typ string, scope yardstick.Scope, id string) (yardstick.Event, bool) {
	return m.Event(collectortest.EventKey{Source: SourceName, Type: typ, Scope: scope, ID: id})
}

func (m *memStore) fact(scope yardstick.Scope, name string) (any, bool) {
	f, ok := m.Fact(SourceName, scope, name)
	if !ok {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(f.Value, &v); err != nil {
		return nil, false
	}
	return v, true
}

// snapshot returns the live events by eventKey.
func (m *memStore) snapshot() map[string]yardstick.Event {
	out := map[string]yardstick.Event{}
	for _, e := range m.Snapshot() {
		out[eventKey(e)] = e
	}
	return out
}

// testClock is a settable clock shared by the fake and the collector.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the waits of the transport, which returns at once.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// env is a fake PagerDuty, a collector on a retrying transport, and a store.
type env struct {
	clock  *testClock
	fake   *pagerdutyfake.Server
	srv    *httptest.Server
	store  *memStore
	coll   *Collector
	sleeps *sleeps
	runner *collectors.Runner
	ids    []string
}

// start is 2024-03-06 (a Wednesday) 12:00 UTC.
var start = time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC)

func serviceIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("PSV%04d", i)
	}
	return out
}

// demoEntities is a catalog: one component per service, owned by squads of
// five components under two tribes.
func demoEntities(ids []string) []yardstick.Entity {
	var out []yardstick.Entity
	for t := range 2 {
		out = append(out, yardstick.Entity{Ref: yardstick.NewEntityRef("group", "", fmt.Sprintf("tribe-%d", t)), Kind: "Group", Name: fmt.Sprintf("tribe-%d", t)})
	}
	squads := (len(ids) + 4) / 5
	for s := range squads {
		out = append(out, yardstick.Entity{
			Ref: yardstick.NewEntityRef("group", "", fmt.Sprintf("squad-%d", s)), Kind: "Group", Name: fmt.Sprintf("squad-%d", s),
			Parent: yardstick.NewEntityRef("group", "", fmt.Sprintf("tribe-%d", s%2)),
		})
	}
	for i, id := range ids {
		out = append(out, yardstick.Entity{
			Ref: yardstick.NewEntityRef("component", "", fmt.Sprintf("svc-%d", i)), Kind: "Component", Name: fmt.Sprintf("svc-%d", i),
			Owner:       yardstick.NewEntityRef("group", "", fmt.Sprintf("squad-%d", i/5)),
			Annotations: map[string]string{AnnotationServiceID: id},
		})
	}
	return out
}

func newEnv(t testing.TB, n int, fakeCfg pagerdutyfake.Config, cfg Config) *env {
	t.Helper()
	return newEnvFor(t, serviceIDs(n), fakeCfg, cfg)
}

// newEnvFor serves and collects the given service ids.
func newEnvFor(t testing.TB, ids []string, fakeCfg pagerdutyfake.Config, cfg Config) *env {
	t.Helper()
	e := &env{clock: &testClock{t: start}, sleeps: &sleeps{}, ids: ids}
	fakeCfg.ServiceIDs, fakeCfg.Now, fakeCfg.Token = e.ids, e.clock.Now, "test-token"
	e.fake = pagerdutyfake.New(fakeCfg)
	e.srv = httptest.NewServer(e.fake)
	t.Cleanup(e.srv.Close)
	e.store = newMemStore(demoEntities(e.ids))

	metrics := collectors.NewMetrics(prometheus.NewRegistry())
	tr := collectors.NewTransport(nil, SourceName, collectors.RetryConfig{}, metrics).WithClock(e.clock.Now, e.sleeps.sleep)
	cfg.BaseURL, cfg.Token = e.srv.URL, "test-token"
	c, err := New(cfg, &http.Client{Transport: tr}, e.store, e.store, discard())
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	e.coll = c.WithClock(e.clock.Now).WithDeleter(e.store)
	e.runner = collectors.NewRunner(e.store, e.store, metrics, discard(), 0)
	return e
}

func (e *env) run(t testing.TB) collectors.Report {
	t.Helper()
	rep, err := e.runner.Run(context.Background(), e.coll, "config-1")
	if err != nil {
		t.Fatalf("Run() error: %v", err)
	}
	return rep
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// realFixture reads one of PagerDuty's published examples from testdata/real
// (their sources are in testdata/SOURCES.md).
func realFixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("testdata", "real", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read fixture %s: %v", p, err)
	}
	return b
}

// wantEvents are the events the fake's incidents should turn into, by key,
// without attributes.
func wantEventKeys(incs []pagerdutyfake.Incident) []string {
	var out []string
	for _, inc := range incs {
		scope := ServiceScope(inc.ServiceID)
		out = append(out, eventKey(yardstick.Event{Source: SourceName, Type: yardstick.IncidentTriggered, Scope: scope, ID: inc.ID}))
		if !inc.AcknowledgedAt.IsZero() {
			out = append(out, eventKey(yardstick.Event{Source: SourceName, Type: yardstick.IncidentAcknowledged, Scope: scope, ID: inc.ID}))
		}
		if !inc.ResolvedAt.IsZero() {
			out = append(out, eventKey(yardstick.Event{Source: SourceName, Type: yardstick.IncidentResolved, Scope: scope, ID: inc.ID}))
		}
	}
	sort.Strings(out)
	return out
}

func keysOf(m map[string]yardstick.Event) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var errStoreDown = errors.New("store down")
