package pagerduty

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
)

const secret = yardstick.Secret("whsec-current")

func mustWebhook(t testing.TB, store *memStore, cfg WebhookConfig) (*WebhookHandler, *prometheus.Registry) {
	t.Helper()
	if cfg.Secrets == nil {
		cfg.Secrets = []yardstick.Secret{secret}
	}
	reg := prometheus.NewRegistry()
	h, err := NewWebhookHandler(cfg, store, store, reg, discard())
	if err != nil {
		t.Fatalf("NewWebhookHandler() error: %v", err)
	}
	return h.WithDeleter(store), reg
}

func deliver(h http.Handler, body []byte, signature string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/pagerduty", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(SignatureHeader, signature)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhookStoresTheAnnouncedEvent(t *testing.T) {
	store := newMemStore(nil)
	h, _ := mustWebhook(t, store, WebhookConfig{})
	body := mustRead(t, "testdata/webhook-incident-acknowledged.json")
	if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
		t.Fatalf("deliver() status = %d, want 202", rec.Code)
	}
	got := store.snapshot()
	want := map[string]yardstick.Event{
		"pagerduty|incident.acknowledged|pagerduty:PF9KMXH|PGR0VU2": {
			Source: SourceName, Type: yardstick.IncidentAcknowledged, Scope: "pagerduty:PF9KMXH", ID: "PGR0VU2",
			Time: time.Date(2024, 3, 9, 2, 45, 22, 169e6, time.UTC), Actor: "PLH1HKV",
			Num: map[string]float64{"number": 2, "off_hours": 1, "seconds_to_acknowledge": 235.169},
			Str: map[string]string{
				"service": "PF9KMXH", "urgency": "high", "priority": "P1", "status": "acknowledged",
				"escalation_policy": "PUS0KTE", "title": "A little bump in the road",
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored events (-want +got):\n%s", diff)
	}
}

func TestWebhookSignatures(t *testing.T) {
	body := mustRead(t, "testdata/webhook-incident-acknowledged.json")
	good := Sign(secret, body)
	old := Sign("whsec-old", body)
	for _, tt := range []struct {
		name, signature string
		want            int
	}{
		{"valid", good, http.StatusAccepted},
		{"valid among several", "v1=" + strings.Repeat("ab", 32) + ", " + good, http.StatusAccepted},
		{"second configured secret", old, http.StatusAccepted},
		{"missing", "", http.StatusUnauthorized},
		{"wrong secret", Sign("whsec-wrong", body), http.StatusUnauthorized},
		{"other scheme only", "v0=" + strings.TrimPrefix(good, "v1="), http.StatusUnauthorized},
		{"not hex", "v1=zz", http.StatusUnauthorized},
		{"truncated", good[:20], http.StatusUnauthorized},
		{"signature of another body", Sign(secret, append([]byte(" "), body...)), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore(nil)
			h, _ := mustWebhook(t, store, WebhookConfig{Secrets: []yardstick.Secret{secret, "whsec-old"}})
			if rec := deliver(h, body, tt.signature); rec.Code != tt.want {
				t.Errorf("deliver(signature %q) status = %d, want %d", tt.signature, rec.Code, tt.want)
			}
			if stored := len(store.snapshot()) > 0; stored != (tt.want == http.StatusAccepted) {
				t.Errorf("deliver(signature %q) stored = %v", tt.signature, stored)
			}
		})
	}
}

func TestWebhookRejectsBadDeliveries(t *testing.T) {
	store := newMemStore(nil)
	h, reg := mustWebhook(t, store, WebhookConfig{MaxBodyBytes: 4096})
	big := append(mustRead(t, "testdata/webhook-incident-acknowledged.json"), bytes.Repeat([]byte(" "), 4096)...)

	if rec := deliver(h, big, Sign(secret, big)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized delivery status = %d, want 413", rec.Code)
	}
	// Without Content-Length the limit holds while reading.
	req := httptest.NewRequest(http.MethodPost, "/webhooks/pagerduty", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set(SignatureHeader, Sign(secret, big))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized chunked delivery status = %d, want 413", rec.Code)
	}

	junk := []byte(`{"event": "nope"`)
	if rec := deliver(h, junk, Sign(secret, junk)); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed delivery status = %d, want 400", rec.Code)
	}
	noIncident := []byte(`{"event":{"event_type":"incident.triggered","occurred_at":"2024-03-09T02:45:22Z","data":{"id":"P1"}}}`)
	if rec := deliver(h, noIncident, Sign(secret, noIncident)); rec.Code != http.StatusBadRequest {
		t.Errorf("delivery without service status = %d, want 400", rec.Code)
	}
	get := httptest.NewRecorder()
	h.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/webhooks/pagerduty", nil))
	if get.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET status = %d, want 405", get.Code)
	}
	if n := len(store.snapshot()); n != 0 {
		t.Errorf("bad deliveries stored %d events", n)
	}
	for outcome, want := range map[string]float64{"too_large": 2, "bad_request": 2, "method_not_allowed": 1} {
		if got := testutil.ToFloat64(h.Requests(outcome)); got != want {
			t.Errorf("yardstick_webhook_requests_total{source=pagerduty,outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("GatherAndLint() = %v, %v", problems, err)
	}
}

func TestWebhookIgnoresOtherEventTypes(t *testing.T) {
	store := newMemStore(nil)
	h, _ := mustWebhook(t, store, WebhookConfig{})
	var env map[string]map[string]any
	if err := json.Unmarshal(mustRead(t, "testdata/webhook-incident-acknowledged.json"), &env); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"incident.annotated", "incident.annotated", "pagey.ping", "incident.time_travelled"} {
		env["event"]["event_type"] = typ
		body, _ := json.Marshal(env)
		if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
			t.Errorf("deliver(%s) status = %d, want 202", typ, rec.Code)
		}
	}
	for label, want := range map[string]float64{"incident.annotated": 2, "pagey.ping": 1, "unknown": 1} {
		if got := testutil.ToFloat64(h.ignored.WithLabelValues(label)); got != want {
			t.Errorf("ignored{event_type=%q} = %v, want %v", label, got, want)
		}
	}
	if n := len(store.snapshot()); n != 0 {
		t.Errorf("ignored deliveries stored %d events", n)
	}
}

func TestWebhookStoreFailureAsksForRedelivery(t *testing.T) {
	store := newMemStore(nil)
	store.FailWrites(errStoreDown)
	h, _ := mustWebhook(t, store, WebhookConfig{})
	body := mustRead(t, "testdata/webhook-incident-acknowledged.json")
	if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("deliver() with the store down status = %d, want 503", rec.Code)
	}
}

// TestWebhookConvertsLikePolling delivers the webhooks of incidents the
// collector also polled: the events must be the same, except the escalation
// count, which a webhook cannot know.
func TestWebhookConvertsLikePolling(t *testing.T) {
	hours := Hours{Groups: map[yardstick.EntityRef]WorkingHours{"group:default/squad-0": {TimeZone: "Europe/Berlin", Start: "08:30", End: "16:30"}}}
	e := newEnv(t, 5, pagerdutyfake.Config{Seed: 12, IncidentsPerService: 8}, Config{Backfill: backfill, Hours: hours})
	e.run(t)
	hooked := newMemStore(e.store.entities())
	h, _ := mustWebhook(t, hooked, WebhookConfig{Hours: hours})

	checked := 0
	for _, inc := range e.fake.Incidents("") {
		if inc.AcknowledgedAt.IsZero() || inc.ResolvedAt.IsZero() {
			continue
		}
		for _, typ := range []string{"incident.triggered", "incident.acknowledged", "incident.resolved"} {
			body, err := e.fake.Webhook(typ, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
				t.Fatalf("deliver(%s of %s) status = %d", typ, inc.ID, rec.Code)
			}
			polled, _ := e.store.event(typ, ServiceScope(inc.ServiceID), inc.ID)
			delete(polled.Num, "escalations")
			got, ok := hooked.event(typ, ServiceScope(inc.ServiceID), inc.ID)
			if !ok {
				t.Fatalf("%s of %s not stored from the webhook", typ, inc.ID)
			}
			if diff := cmp.Diff(polled, got); diff != "" {
				t.Errorf("%s of %s: webhook vs polling (-polled +webhook):\n%s", typ, inc.ID, diff)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no acknowledged and resolved incident to compare")
	}
}

func TestWebhookReopenWithdrawsTheResolution(t *testing.T) {
	store := newMemStore(nil)
	h, _ := mustWebhook(t, store, WebhookConfig{})
	var env map[string]map[string]any
	if err := json.Unmarshal(mustRead(t, "testdata/webhook-incident-acknowledged.json"), &env); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"incident.resolved", "incident.reopened"} {
		env["event"]["event_type"] = typ
		body, _ := json.Marshal(env)
		if rec := deliver(h, body, Sign(secret, body)); rec.Code != http.StatusAccepted {
			t.Fatalf("deliver(%s) status = %d", typ, rec.Code)
		}
		_, ok := store.event(yardstick.IncidentResolved, "pagerduty:PF9KMXH", "PGR0VU2")
		if want := typ == "incident.resolved"; ok != want {
			t.Errorf("after %s the resolution is stored = %v, want %v", typ, ok, want)
		}
	}
}

func TestNewWebhookHandlerNeedsASecret(t *testing.T) {
	if _, err := NewWebhookHandler(WebhookConfig{}, newMemStore(nil), newMemStore(nil), prometheus.NewRegistry(), discard()); err == nil {
		t.Error("NewWebhookHandler(no secrets) error = nil, want an error")
	}
}
