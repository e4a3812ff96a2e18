package pagerduty

import (
	"context"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// chEnv is env with a real ClickHouse as catalog, cursor store and writer.
type chEnv struct {
	*env
	db *store.DB
}

func newCHEnv(t *testing.T, n int, fakeCfg pagerdutyfake.Config, cfg Config) *chEnv {
	t.Helper()
	e := newEnv(t, n, fakeCfg, cfg)
	db := storetest.NewDBMapping(t, Source().Scopes)
	ctx := context.Background()
	if _, err := db.ReplaceCatalog(ctx, e.store.entities()); err != nil {
		t.Fatalf("ReplaceCatalog() error: %v", err)
	}
	metrics := collectors.NewMetrics(prometheus.NewRegistry())
	tr := collectors.NewTransport(nil, SourceName, collectors.RetryConfig{}, metrics).WithClock(e.clock.Now, e.sleeps.sleep)
	cfg.BaseURL, cfg.Token = e.srv.URL, "test-token"
	c, err := New(cfg, &http.Client{Transport: tr}, db, db, discard())
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	e.coll = c.WithClock(e.clock.Now).WithDeleter(db)
	e.runner = collectors.NewRunner(db, db, metrics, discard(), 0)
	return &chEnv{env: e, db: db}
}

func (e *chEnv) events(t *testing.T) map[string]yardstick.Event {
	t.Helper()
	evs, err := e.db.Events(context.Background(), store.EventFilter{Source: SourceName})
	if err != nil {
		t.Fatalf("Events() error: %v", err)
	}
	out := make(map[string]yardstick.Event, len(evs))
	for _, ev := range evs {
		k := eventKey(ev)
		if _, dup := out[k]; dup {
			t.Errorf("event %s read twice", k)
		}
		out[k] = ev
	}
	return out
}

// TestClickHouseRowsMatchTheSource runs full, repeated and incremental syncs
// into a real ClickHouse and compares the rows with the fake's incidents.
func TestClickHouseRowsMatchTheSource(t *testing.T) {
	e := newCHEnv(t, 8, pagerdutyfake.Config{Seed: 21}, Config{Backfill: backfill})
	e.clock.Advance(-2 * time.Hour)
	openID, _ := e.fake.Trigger(e.ids[0], "Still burning")
	e.clock.Advance(2 * time.Hour)
	ctx := context.Background()

	e.run(t)
	got := e.events(t)
	if diff := cmp.Diff(wantEventKeys(e.fake.Incidents("")), keysOf(got)); diff != "" {
		t.Fatalf("event identities in ClickHouse (-want +got):\n%s", diff)
	}
	for _, inc := range e.fake.Incidents("") {
		ev := got[eventKey(yardstick.Event{Source: SourceName, Type: yardstick.IncidentTriggered, Scope: ServiceScope(inc.ServiceID), ID: inc.ID})]
		if !ev.Time.Equal(inc.CreatedAt) || ev.Str["urgency"] != inc.Urgency || ev.Num["escalations"] != float64(inc.Escalations) {
			t.Errorf("row of %s = time %v urgency %q escalations %v, want %v %q %d", inc.ID, ev.Time, ev.Str["urgency"], ev.Num["escalations"], inc.CreatedAt, inc.Urgency, inc.Escalations)
		}
	}
	facts, err := e.db.FactsByScope(ctx, SourceName)
	if err != nil {
		t.Fatalf("FactsByScope() error: %v", err)
	}
	if want := 4 * len(e.ids); len(facts) != want {
		t.Errorf("FactsByScope() = %d facts, want %d", len(facts), want)
	}
	if v, _ := e.db.Cursor(ctx, CursorKey(e.ids[0])); v == "" {
		t.Errorf("cursor %s empty, want open incident %s", CursorKey(e.ids[0]), openID)
	}

	// A full re-sync (the config changed) writes the same rows again: reads see each once.
	if _, err := e.runner.Run(ctx, e.coll, "config-2"); err != nil {
		t.Fatalf("Run() full re-sync error: %v", err)
	}
	if diff := cmp.Diff(got, e.events(t)); diff != "" {
		t.Errorf("events after a full re-sync (-first +second):\n%s", diff)
	}

	// Incremental: the open incident is resolved; only it is read.
	e.clock.Advance(30 * time.Minute)
	if err := e.fake.Resolve(openID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.fake.ResetCounts()
	rep, err := e.runner.Run(ctx, e.coll, "config-2")
	if err != nil {
		t.Fatalf("Run() incremental error: %v", err)
	}
	if rep.Since.IsZero() {
		t.Fatal("incremental run started from a zero watermark")
	}
	if n := e.fake.RequestsTo("log_entries"); n != 1 {
		t.Errorf("incremental run read %d logs, want 1", n)
	}
	after := e.events(t)
	if _, ok := after[eventKey(resolvedIdentity(e.ids[0], openID))]; !ok {
		t.Errorf("resolution of %s not in ClickHouse", openID)
	}
	if len(after) != len(got)+1 {
		t.Errorf("events after the incremental run = %d, want %d", len(after), len(got)+1)
	}
	if v, _ := e.db.Cursor(ctx, CursorKey(e.ids[0])); v != "" {
		t.Errorf("cursor %s = %q after the resolution, want empty", CursorKey(e.ids[0]), v)
	}
}

func TestClickHouseWebhookAndReopen(t *testing.T) {
	e := newCHEnv(t, 3, pagerdutyfake.Config{Seed: 22}, Config{Backfill: backfill})
	ctx := context.Background()
	h, err := NewWebhookHandler(WebhookConfig{Secrets: []yardstick.Secret{secret}}, e.db, e.db, prometheus.NewRegistry(), discard())
	if err != nil {
		t.Fatal(err)
	}
	h.WithDeleter(e.db)
	id, _ := e.fake.Trigger(e.ids[1], "Paged")
	e.clock.Advance(4 * time.Minute)
	if err := e.fake.Resolve(id); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"incident.triggered", "incident.resolved"} {
		body, _ := e.fake.Webhook(typ, id)
		if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
			t.Fatalf("deliver(%s) status = %d", typ, rec.Code)
		}
	}
	evs, err := e.db.Events(ctx, store.EventFilter{Source: SourceName, Scopes: []yardstick.Scope{ServiceScope(e.ids[1])}})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		if ev.ID == id {
			types = append(types, ev.Type)
		}
	}
	sort.Strings(types)
	if want := []string{yardstick.IncidentResolved, yardstick.IncidentTriggered}; !cmp.Equal(want, types) {
		t.Errorf("events of %s from webhooks = %v, want %v", id, types, want)
	}
	body, _ := e.fake.Webhook("incident.reopened", id)
	if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
		t.Fatalf("deliver(reopened) status = %d", rec.Code)
	}
	evs, _ = e.db.Events(ctx, store.EventFilter{Source: SourceName, Types: []string{yardstick.IncidentResolved}, Scopes: []yardstick.Scope{ServiceScope(e.ids[1])}})
	for _, ev := range evs {
		if ev.ID == id {
			t.Errorf("resolution of reopened %s still read from ClickHouse", id)
		}
	}
}
