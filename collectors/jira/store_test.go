package jira

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// demoEntities are catalog entities annotated the way teams annotate them.
func demoEntities(bbbComponent string) []yardstick.Entity {
	mk := func(name string, ann map[string]string) yardstick.Entity {
		return yardstick.Entity{
			Ref: yardstick.NewEntityRef("component", "default", name), APIVersion: "backstage.io/v1alpha1",
			Kind: "Component", Namespace: "default", Name: name, Type: "service", Lifecycle: "production",
			Owner: "group:default/team-a", Annotations: ann, Spec: `{}`,
		}
	}
	return []yardstick.Entity{
		mk("ledger", map[string]string{AnnotationProjectKey: "AAA"}),
		mk("checkout", map[string]string{AnnotationProjectKey: "BBB", AnnotationComponent: bbbComponent}),
		mk("search", map[string]string{AnnotationProjectKey: "CCC", AnnotationLabel: "backend"}),
	}
}

// mustStoreHarness wires a collector to a fake Jira and to a real ClickHouse
// store that serves as catalog, cursor store and writer.
func mustStoreHarness(t *testing.T) (*harness, *store.DB, *collectors.Runner) {
	t.Helper()
	db := storetest.NewDBMapping(t, Source().Scopes)
	ctx := context.Background()
	probe := jirafake.New(threeProjects)
	if _, err := db.ReplaceCatalog(ctx, demoEntities(probe.Components("BBB")[0])); err != nil {
		t.Fatalf("ReplaceCatalog: %v", err)
	}
	h := mustHarness(t, threeProjects, db, nil)
	c, err := New(h.c.cfg, h.httpClient, db, db, slog.New(slog.DiscardHandler))
	mustDo(t, err)
	h.c = c.WithClock(func() time.Time { return testNow })
	runner := collectors.NewRunner(db, db, collectors.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler), time.Minute)
	return h, db, runner
}

func mustEvents(t testing.TB, db *store.DB) []yardstick.Event {
	t.Helper()
	es, err := db.Events(context.Background(), store.EventFilter{Source: SourceName})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	collectortest.SortEvents(es)
	return es
}

// secondPrecision is how ClickHouse's DateTime keeps event times.
var secondPrecision = cmp.Transformer("seconds", func(t time.Time) time.Time { return t.UTC().Truncate(time.Second) })

func TestClickHouseRowsIdempotentAndIncremental(t *testing.T) {
	h, db, runner := mustStoreHarness(t)
	ctx := context.Background()

	rep, err := runner.Run(ctx, h.c, h.c.ConfigHash())
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !rep.Since.IsZero() || rep.Events == 0 || rep.Facts != 6 {
		t.Errorf("first run report = %+v, want a full sync with events and 2 facts for each of 3 scopes", rep)
	}

	// The rows in ClickHouse are the events the collector produced, as an
	// in-memory writer sees them from the same fake.
	mem := mustHarness(t, threeProjects, catalogOf(), nil)
	mappings, err := db.ScopeMappings(ctx)
	mustDo(t, err)
	mem.c.catalog = catalogWith(mappings)
	mem.mustCollect(t, time.Time{})
	want := mem.w.list(nil)
	got := mustEvents(t, db)
	if diff := cmp.Diff(want, got, secondPrecision, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("events in ClickHouse (-collected +stored):\n%s", diff)
	}

	// Facts are stored per scope and reach entities through the catalog.
	facts, err := db.LatestFacts(ctx, []yardstick.EntityRef{"component:default/ledger", "component:default/search"})
	mustDo(t, err)
	for ref, f := range facts {
		ob, ok := f[SourceName]["open_bugs"].(map[string]any)
		if !ok || ob["total"] == nil {
			t.Errorf("facts of %s: jira.open_bugs = %v, want an object with total", ref, f[SourceName]["open_bugs"])
		}
		if _, ok := f[SourceName]["oldest_open_bug_age_days"].(float64); !ok {
			t.Errorf("facts of %s: jira.oldest_open_bug_age_days = %v, want a number", ref, f[SourceName]["oldest_open_bug_age_days"])
		}
	}
	if len(facts) != 2 {
		t.Errorf("LatestFacts returned %d entities, want 2", len(facts))
	}

	// A full re-run (watermark reset by a new config hash) stores nothing new.
	if _, err := runner.Run(ctx, h.c, "other-config"); err != nil {
		t.Fatalf("second full Run = %v", err)
	}
	if diff := cmp.Diff(got, mustEvents(t, db), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("re-running the full sync changed the rows (-before +after):\n%s", diff)
	}

	// An incremental run after one transition fetches one issue and adds its
	// new transition and resolution, nothing else.
	at := testNow.Add(-time.Hour)
	mustDo(t, h.fake.Transition("AAA-1", "Done", at))
	h.fake.ResetRequests()
	rep, err = runner.Run(ctx, h.c, "other-config")
	if err != nil {
		t.Fatalf("incremental Run = %v", err)
	}
	if rep.Since.IsZero() {
		t.Errorf("third run was a full sync, want incremental")
	}
	after := mustEvents(t, db)
	added := map[string]int{}
	for _, e := range after {
		if e.Time.Equal(at) {
			added[e.Type+" "+e.Str["key"]]++
		}
	}
	wantAdded := map[string]int{yardstick.TicketTransitioned + " AAA-1": 1, yardstick.TicketResolved + " AAA-1": 1}
	if diff := cmp.Diff(wantAdded, added); diff != "" {
		t.Errorf("events added by the incremental run (-want +got):\n%s", diff)
	}
	if len(after) != len(got)+2 {
		t.Errorf("rows after the incremental run = %d, want %d", len(after), len(got)+2)
	}
	if n := h.fake.RequestCounts()["POST /rest/api/3/search/jql"]; n != 2 {
		t.Errorf("incremental searches = %d, want 2 (changes, open bugs)", n)
	}
}

func TestClickHouseWebhookRows(t *testing.T) {
	h, db, runner := mustStoreHarness(t)
	ctx := context.Background()
	if _, err := runner.Run(ctx, h.c, h.c.ConfigHash()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	before := mustEvents(t, db)
	at := testNow.Add(-30 * time.Minute)
	mustDo(t, h.fake.Transition("AAA-1", "In Review", at))
	body, err := h.fake.WebhookPayload(h.srv.URL, "jira:issue_updated", "AAA-1")
	mustDo(t, err)
	wh := h.c.WebhookHandler(WebhookConfig{Secret: "s3cret"}, db, prometheus.NewRegistry())
	if rec := mustPost(t, wh, "/webhooks/jira?secret=s3cret", body, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("POST /webhooks/jira = %d %s, want 204", rec.Code, rec.Body)
	}
	after := mustEvents(t, db)
	if len(after) != len(before)+1 {
		t.Fatalf("rows after the webhook = %d, want %d", len(after), len(before)+1)
	}
	es, err := db.Events(ctx, store.EventFilter{Source: SourceName, Since: at, Entities: []yardstick.EntityRef{"component:default/ledger"}})
	mustDo(t, err)
	if len(es) != 1 || es[0].Type != yardstick.TicketTransitioned || es[0].Str["to"] != "In Review" || es[0].Str["to_category"] != "indeterminate" {
		t.Errorf("events of component:default/ledger since the webhook = %+v, want one transition to In Review", es)
	}
	// Polling the same change afterwards keeps one row.
	if _, err := runner.Run(ctx, h.c, h.c.ConfigHash()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := len(mustEvents(t, db)); n != len(after) {
		t.Errorf("rows after polling what the webhook stored = %d, want %d", n, len(after))
	}
}
