package pagerduty

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// publishedDelivery returns PagerDuty's published v3 payload in file (under
// testdata/real) as a delivery of eventType: the event type and the
// incident's status changed, every other field as published.
func publishedDelivery(t testing.TB, file, eventType, status string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(mustRead(t, "testdata/real/"+file), &doc); err != nil {
		t.Fatal(err)
	}
	ev := doc["event"].(map[string]any)
	ev["event_type"] = eventType
	ev["data"].(map[string]any)["status"] = status
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// milestone is one incident event type of a published payload.
type milestone struct{ eventType, status, typ string }

var publishedMilestones = []milestone{
	{"incident.triggered", "triggered", yardstick.IncidentTriggered},
	{"incident.acknowledged", "acknowledged", yardstick.IncidentAcknowledged},
	{"incident.resolved", "resolved", yardstick.IncidentResolved},
}

// publishedEvent is the event every published payload converts to, before
// the per-milestone fields.
func publishedEvent(typ, status string, at time.Time, num map[string]float64) yardstick.Event {
	return yardstick.Event{
		Source: SourceName, Type: typ, Scope: "pagerduty:PF9KMXH", ID: "PGR0VU2", Time: at, Actor: "PLH1HKV",
		Num: num,
		Str: map[string]string{
			"service": "PF9KMXH", "urgency": "high", "priority": "P1", "status": status,
			"escalation_policy": "PUS0KTE", "title": "A little bump in the road",
		},
	}
}

// TestPagerDutyV3WebhookWithoutCreatedAt: PagerDuty's v3 payload as its docs
// published it until 2021 (and go-pagerduty's tests still carry it) has no
// data.created_at. Each milestone is stored, dated by occurred_at; an
// acknowledgement or resolution, whose trigger time is then unknown, carries
// no duration and no off_hours rather than wrong ones.
func TestPagerDutyV3WebhookWithoutCreatedAt(t *testing.T) {
	occurred := time.Date(2020, 10, 2, 18, 45, 22, 169e6, time.UTC) // a Friday, after 18:00 UTC
	for _, m := range publishedMilestones {
		t.Run(m.eventType, func(t *testing.T) {
			store := mustDeliverPublished(t, "webhook-v3-2021-without-created-at.json", m)
			num := map[string]float64{"number": 2}
			if m.typ == yardstick.IncidentTriggered {
				num["off_hours"] = 1
			}
			want := map[string]yardstick.Event{
				"pagerduty|" + m.typ + "|pagerduty:PF9KMXH|PGR0VU2": publishedEvent(m.typ, m.status, occurred, num),
			}
			if diff := cmp.Diff(want, store.snapshot()); diff != "" {
				t.Errorf("stored events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPagerDutyV3WebhookWithCreatedAt: the payload PagerDuty publishes now
// carries created_at: the trigger is dated by it (and off_hours decided
// from it), and acknowledgement and resolution count their durations from it.
func TestPagerDutyV3WebhookWithCreatedAt(t *testing.T) {
	created := time.Date(2020, 4, 9, 15, 16, 27, 0, time.UTC) // a Thursday, within 09:00-18:00 UTC
	occurred := time.Date(2020, 10, 2, 18, 45, 22, 169e6, time.UTC)
	took := occurred.Sub(created).Seconds()
	for _, m := range publishedMilestones {
		t.Run(m.eventType, func(t *testing.T) {
			store := mustDeliverPublished(t, "webhook-v3-current.json", m)
			num := map[string]float64{"number": 2, "off_hours": 0}
			at := occurred
			switch m.typ {
			case yardstick.IncidentTriggered:
				at = created
			case yardstick.IncidentAcknowledged:
				num["seconds_to_acknowledge"] = took
			case yardstick.IncidentResolved:
				num["seconds_to_resolve"] = took
			}
			want := map[string]yardstick.Event{
				"pagerduty|" + m.typ + "|pagerduty:PF9KMXH|PGR0VU2": publishedEvent(m.typ, m.status, at, num),
			}
			if diff := cmp.Diff(want, store.snapshot()); diff != "" {
				t.Errorf("stored events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPagerDutyV3WebhookBadTimes: an occurred_at or created_at that is not
// a time, or one the store cannot hold, is a 400 naming nothing stored.
func TestPagerDutyV3WebhookBadTimes(t *testing.T) {
	for _, tt := range []struct{ name, field, value string }{
		{"occurred_at not a time", "occurred_at", "yesterday"},
		{"occurred_at before 1970", "occurred_at", "1969-07-20T20:17:00Z"},
		{"created_at not a time", "created_at", "soon"},
		{"created_at after 2105", "created_at", "2200-01-01T00:00:00Z"},
		{"created_at before 1970", "created_at", "1900-01-01T00:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(mustRead(t, "testdata/real/webhook-v3-current.json"), &doc); err != nil {
				t.Fatal(err)
			}
			ev := doc["event"].(map[string]any)
			ev["event_type"] = "incident.triggered"
			if tt.field == "occurred_at" {
				ev["occurred_at"] = tt.value
			} else {
				ev["data"].(map[string]any)["created_at"] = tt.value
			}
			body, _ := json.Marshal(doc)
			store := newMemStore(nil)
			h, _ := mustWebhook(t, store, WebhookConfig{})
			if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusBadRequest {
				t.Errorf("deliver(%s) status = %d, want 400", tt.name, rec.Code)
			}
			if got := store.snapshot(); len(got) != 0 {
				t.Errorf("stored %v, want nothing", got)
			}
		})
	}
}

// TestClickHousePagerDutyV3PublishedWebhooks: the published payloads, with
// and without created_at, go through the handler into ClickHouse and read
// back as the three milestones of the incident.
func TestClickHousePagerDutyV3PublishedWebhooks(t *testing.T) {
	db := storetest.NewDB(t)
	h, err := NewWebhookHandler(WebhookConfig{Secrets: []yardstick.Secret{secret}}, db, db, prometheus.NewRegistry(), discard())
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"webhook-v3-2021-without-created-at.json", "webhook-v3-current.json"} {
		for _, m := range publishedMilestones {
			body := publishedDelivery(t, file, m.eventType, m.status)
			if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
				t.Fatalf("deliver(%s, %s) status = %d, want 202", file, m.eventType, rec.Code)
			}
		}
	}
	evs, err := db.Events(context.Background(), store.EventFilter{Source: SourceName, Scopes: []yardstick.Scope{"pagerduty:PF9KMXH"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, ev := range evs {
		got[ev.Type] = ev.Time
	}
	// The later delivery of each milestone (the current payload) replaced the earlier.
	occurred := time.Date(2020, 10, 2, 18, 45, 22, 0, time.UTC) // DateTime keeps whole seconds
	want := map[string]time.Time{
		yardstick.IncidentTriggered:    time.Date(2020, 4, 9, 15, 16, 27, 0, time.UTC),
		yardstick.IncidentAcknowledged: occurred,
		yardstick.IncidentResolved:     occurred,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("milestones read from ClickHouse (-want +got):\n%s", diff)
	}
}

// mustDeliverPublished delivers the published payload file as milestone m to
// a fresh handler and returns the handler's store.
func mustDeliverPublished(t *testing.T, file string, m milestone) *memStore {
	t.Helper()
	store := newMemStore(nil)
	h, _ := mustWebhook(t, store, WebhookConfig{})
	body := publishedDelivery(t, file, m.eventType, m.status)
	if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
		t.Fatalf("deliver(%s) status = %d, want 202", m.eventType, rec.Code)
	}
	return store
}
