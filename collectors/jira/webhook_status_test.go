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
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
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
	c, err := New(cfg, &http.Client{Transport: tr}, catalogOf("jira:AAA"), collectortest.NewStore(), slog.New(slog.DiscardHandler))
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
	h := newDownHook(t, true, 50*time.Millisecond)
	bodies := transitionPayloads(t, 4)
	for _, body := range bodies {
		h.post(t, body)
	}
	resolved := h.resolutions()
	if len(resolved) != len(bodies) {
		t.Errorf("resolutions stored = %d, want %d (one per delivery)", len(resolved), len(bodies))
	}
	for _, e := range resolved {
		if e.Str["to_category"] != categoryDone {
			t.Errorf("%s to_category = %q, want %q from the payload", e.Str["key"], e.Str["to_category"], categoryDone)
		}
	}
	if got := h.d.requests.Load(); got != 1 {
		t.Errorf("status list requests = %d, want 1 (one refresh in flight, not one per delivery)", got)
	}
}

// TestJiraWebhookStatusFailureCached: after the status list fails (503 after
// retries), deliveries for the next minute do not ask again; after it, one
// delivery does.
func TestJiraWebhookStatusFailureCached(t *testing.T) {
	// A long wait: the first delivery sees the refresh fail before it goes on.
	h := newDownHook(t, false, time.Minute)
	bodies := transitionPayloads(t, 4)
	h.post(t, bodies[0])
	first := h.d.requests.Load()
	if first == 0 {
		t.Fatal("status list never asked for")
	}
	h.advance(30 * time.Second)
	h.post(t, bodies[1])
	h.post(t, bodies[2])
	if got := h.d.requests.Load(); got != first {
		t.Errorf("status list requests within a minute of the failure = %d, want still %d", got, first)
	}
	h.advance(statusRetryAfter)
	h.post(t, bodies[3])
	if got := h.d.requests.Load(); got <= first {
		t.Errorf("status list requests after the retry delay = %d, want more than %d", got, first)
	}
	if n := len(h.resolutions()); n != 4 {
		t.Errorf("resolutions stored = %d, want 4", n)
	}
}

// downHook is the webhook handler of a collector on a Jira that is down, the
// clock the test moves and the store the handler writes to.
type downHook struct {
	d     *downJira
	wh    *WebhookHandler
	hooks *memWriter
	mu    sync.Mutex
	now   time.Time
}

func newDownHook(t *testing.T, blackHole bool, statusWait time.Duration) *downHook {
	h := &downHook{d: newDownJira(t, blackHole), hooks: newMemWriter(), now: testNow}
	c := mustDownCollector(t, h.d, &h.now, &h.mu)
	h.wh = c.WebhookHandler(WebhookConfig{SigningSecret: "k", StatusWait: statusWait}, h.hooks, prometheus.NewRegistry())
	return h
}

// post delivers a signed body; anything but 204 fails the test.
func (h *downHook) post(t *testing.T, body []byte) {
	t.Helper()
	if rec := mustPost(t, h.wh, "/webhooks/jira", body, map[string]string{SignatureHeader: sign("k", body)}); rec.Code != http.StatusNoContent {
		t.Fatalf("delivery = %d %s, want 204", rec.Code, rec.Body)
	}
}

// advance moves the collector's clock.
func (h *downHook) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// resolutions returns the ticket.resolved events stored.
func (h *downHook) resolutions() []yardstick.Event {
	return h.hooks.list(func(e yardstick.Event) bool { return e.Type == yardstick.TicketResolved })
}
