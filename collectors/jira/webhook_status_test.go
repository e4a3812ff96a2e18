package jira

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// downJira is a Jira whose REST API does not answer the status list: it
// either holds the request until the test ends (a black hole) or answers 503.
type downJira struct {
	srv      *httptest.Server
	requests atomic.Int64 // GET /rest/api/2/status requests received
}

func newDownJira(t *testing.T, blackHole bool) *downJira {
	d := &downJira{}
	release := make(chan struct{})
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rest/api/2/status" {
			d.requests.Add(1)
		}
		if blackHole {
			<-release
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(d.srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: the held requests end
	return d
}

// mustDownCollector is a collector of the catalog's AAA project whose API is
// d, on the retrying transport with instant sleeps, and whose clock is *now.
func mustDownCollector(t *testing.T, d *downJira, now *time.Time, mu *sync.Mutex) *Collector {
	tr := collectors.NewTransport(d.srv.Client().Transport, "jira", collectors.RetryConfig{}, collectors.NewMetrics(prometheus.NewRegistry())).
		WithClock(time.Now, func(context.Context, time.Duration) error { return nil })
	cfg := Config{BaseURL: d.srv.URL, Flavor: Cloud, Email: "bot@example.com", APIToken: "api-token", StoryPointsField: "customfield_10016"}
	c, err := New(cfg, &http.Client{Transport: tr}, catalogOf("jira:AAA"), &memCursors{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return *now })
}

// transitionPayloads returns n webhook bodies of AAA issues moving to Done,
// from the fake Jira.
func transitionPayloads(t *testing.T, n int) [][]byte {
	h := mustHarness(t, threeProjects, catalogOf("jira:AAA"), nil)
	var bodies [][]byte
	for i := range n {
		key := "AAA-" + string(rune('1'+i))
		mustDo(t, h.fake.Transition(key, "Done", testNow.Add(time.Duration(i)*time.Minute)))
		body, err := h.fake.WebhookPayload(h.srv.URL, "jira:issue_updated", key)
		mustDo(t, err)
		bodies = append(bodies, body)
	}
	return bodies
}

// TestJiraWebhookWhileRESTUnreachable: with Jira's REST API holding every
// request, each delivery is stored after at most StatusWait, with the status
// category the payload carries (the resolution is still recognised), and the
// status list is asked for once, not once per delivery.
func TestJiraWebhookWhileRESTUnreachable(t *testing.T) {
	d := newDownJira(t, true)
	var mu sync.Mutex
	now := testNow
	c := mustDownCollector(t, d, &now, &mu)
	hooks := newMemWriter()
	wh := c.WebhookHandler(WebhookConfig{SigningSecret: "k", StatusWait: 50 * time.Millisecond}, hooks, prometheus.NewRegistry())
	bodies := transitionPayloads(t, 4)
	for i, body := range bodies {
		if rec := mustPost(t, wh, "/webhooks/jira", body, map[string]string{SignatureHeader: sign("k", body)}); rec.Code != http.StatusNoContent {
			t.Fatalf("delivery %d = %d %s, want 204", i, rec.Code, rec.Body)
		}
	}
	resolved := hooks.list(func(e yardstick.Event) bool { return e.Type == yardstick.TicketResolved })
	if len(resolved) != len(bodies) {
		t.Errorf("resolutions stored = %d, want %d (one per delivery)", len(resolved), len(bodies))
	}
	for _, e := range resolved {
		if e.Str["to_category"] != categoryDone {
			t.Errorf("%s to_category = %q, want %q from the payload", e.Str["key"], e.Str["to_category"], categoryDone)
		}
	}
	if got := d.requests.Load(); got != 1 {
		t.Errorf("status list requests = %d, want 1 (one refresh in flight, not one per delivery)", got)
	}
}

// TestJiraWebhookStatusFailureCached: after the status list fails (503 after
// retries), deliveries for the next minute do not ask again; after it, one
// delivery does.
func TestJiraWebhookStatusFailureCached(t *testing.T) {
	d := newDownJira(t, false)
	var mu sync.Mutex
	now := testNow
	c := mustDownCollector(t, d, &now, &mu)
	hooks := newMemWriter()
	// A long wait: the first delivery sees the refresh fail before it goes on.
	wh := c.WebhookHandler(WebhookConfig{SigningSecret: "k", StatusWait: time.Minute}, hooks, prometheus.NewRegistry())
	bodies := transitionPayloads(t, 4)
	post := func(body []byte) {
		t.Helper()
		if rec := mustPost(t, wh, "/webhooks/jira", body, map[string]string{SignatureHeader: sign("k", body)}); rec.Code != http.StatusNoContent {
			t.Fatalf("delivery = %d %s, want 204", rec.Code, rec.Body)
		}
	}
	post(bodies[0])
	first := d.requests.Load()
	if first == 0 {
		t.Fatal("status list never asked for")
	}
	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	post(bodies[1])
	post(bodies[2])
	if got := d.requests.Load(); got != first {
		t.Errorf("status list requests within a minute of the failure = %d, want still %d", got, first)
	}
	mu.Lock()
	now = now.Add(statusRetryAfter)
	mu.Unlock()
	post(bodies[3])
	if got := d.requests.Load(); got <= first {
		t.Errorf("status list requests after the retry delay = %d, want more than %d", got, first)
	}
	if n := len(hooks.list(func(e yardstick.Event) bool { return e.Type == yardstick.TicketResolved })); n != 4 {
		t.Errorf("resolutions stored = %d, want 4", n)
	}
}
