package collectors

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
)

// scripted answers with one handler per request, in order, and counts requests.
func scripted(t *testing.T, answers ...http.HandlerFunc) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := n
		n++
		mu.Unlock()
		if i >= len(answers) {
			t.Errorf("unexpected request %d %s", i+1, r.URL)
			http.Error(w, "no more answers", http.StatusTeapot)
			return
		}
		answers[i](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"ok":`+strconv.FormatBool(code < 300)+`}`)
	}
}

func newTestTransport(reg prometheus.Registerer, clock *collectortest.Clock) *Transport {
	return NewTransport(nil, "test", RetryConfig{MaxRetries: 3, MaxWait: time.Hour}, NewMetrics(reg)).WithClock(clock.Now, clock.Sleep)
}

func TestTransportRetries(t *testing.T) {
	epoch := time.Unix(1_700_000_000, 0)
	reset := strconv.FormatInt(epoch.Add(90*time.Second).Unix(), 10)
	for _, tt := range []struct {
		name      string
		answers   []http.HandlerFunc
		wantCode  int
		wantCalls int
		wantWait  time.Duration // the first wait asked for; -1 means any positive backoff
	}{
		{"500 then ok", []http.HandlerFunc{status(500), status(200)}, 200, 2, -1},
		{"429 with Retry-After", []http.HandlerFunc{status(429, "Retry-After", "7"), status(200)}, 200, 2, 7 * time.Second},
		{"403 secondary limit", []http.HandlerFunc{status(403, "Retry-After", "60"), status(200)}, 200, 2, time.Minute},
		{"403 primary limit waits for reset", []http.HandlerFunc{status(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset), status(200)}, 200, 2, 91 * time.Second},
		{"403 permission is final", []http.HandlerFunc{status(403)}, 403, 1, 0},
		{"404 is final", []http.HandlerFunc{status(404)}, 404, 1, 0},
		{"501 is final", []http.HandlerFunc{status(501)}, 501, 1, 0},
		{"500 four times gives up", []http.HandlerFunc{status(500), status(502), status(503), status(504)}, 504, 4, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := scripted(t, tt.answers...)
			clock := collectortest.NewClock(epoch)
			reg := prometheus.NewRegistry()
			client := &http.Client{Transport: newTestTransport(reg, clock)}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader(`{"body":"replayed"}`))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("Do() = %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || *calls != tt.wantCalls {
				t.Errorf("Do() = %d after %d calls, want %d after %d", resp.StatusCode, *calls, tt.wantCode, tt.wantCalls)
			}
			switch {
			case tt.wantWait == 0 && len(clock.Waits()) != 0:
				t.Errorf("waits = %v, want none", clock.Waits())
			case tt.wantWait > 0 && (len(clock.Waits()) == 0 || clock.Waits()[0] != tt.wantWait):
				t.Errorf("waits = %v, want first %v", clock.Waits(), tt.wantWait)
			case tt.wantWait < 0 && (len(clock.Waits()) == 0 || clock.Waits()[0] <= 0):
				t.Errorf("waits = %v, want a backoff", clock.Waits())
			}
		})
	}
}

func TestTransportReplaysBody(t *testing.T) {
	var bodies []string
	srv, _ := scripted(t,
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(b))
			w.WriteHeader(500)
		},
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(b))
		},
	)
	clock := collectortest.NewClock(time.Unix(0, 0))
	client := &http.Client{Transport: newTestTransport(prometheus.NewRegistry(), clock)}
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(bodies) != 2 || bodies[0] != "payload" || bodies[1] != "payload" {
		t.Errorf("bodies seen = %q, want the payload twice", bodies)
	}
}

func TestTransportWaitsWhenWindowSpent(t *testing.T) {
	epoch := time.Unix(1_700_000_000, 0)
	reset := strconv.FormatInt(epoch.Add(30*time.Second).Unix(), 10)
	srv, calls := scripted(t,
		status(200, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset),
		status(200, "X-RateLimit-Remaining", "4999"),
	)
	clock := collectortest.NewClock(epoch)
	reg := prometheus.NewRegistry()
	client := &http.Client{Transport: newTestTransport(reg, clock)}
	mustGet(t, client, srv.URL, 2)
	if *calls != 2 || len(clock.Waits()) != 1 || clock.Waits()[0] != 31*time.Second {
		t.Errorf("calls %d, waits %v; want the second request to wait 31s for the reset", *calls, clock.Waits())
	}
	want := `
# HELP yardstick_api_ratelimit_remaining Requests left in the current rate-limit window, as the API last reported.
# TYPE yardstick_api_ratelimit_remaining gauge
yardstick_api_ratelimit_remaining{collector="test"} 4999
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "yardstick_api_ratelimit_remaining"); err != nil {
		t.Error(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP yardstick_api_requests_total HTTP requests to source APIs by status code class.
# TYPE yardstick_api_requests_total counter
yardstick_api_requests_total{code="2xx",collector="test"} 2
`), "yardstick_api_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestTransportStopsOnCancel(t *testing.T) {
	srv, _ := scripted(t, status(503), status(503))
	ctx, cancel := context.WithCancel(context.Background())
	tr := NewTransport(nil, "test", RetryConfig{MaxRetries: 3, BaseDelay: 10 * time.Second, MaxDelay: 10 * time.Second}, nil)
	client := &http.Client{Transport: tr}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := client.Do(req); err == nil {
		t.Fatal("Do() after cancel = nil error, want context canceled")
	}
}

// TestTransportGitLabHeaders: GitLab names its limits RateLimit-Remaining and
// RateLimit-Reset (no X- prefix) and throttles with 429 "Retry later" and
// Retry-After; a spent window is waited out before the next request too.
func TestTransportGitLabHeaders(t *testing.T) {
	epoch := time.Unix(1_700_000_000, 0)
	reset := strconv.FormatInt(epoch.Add(20*time.Second).Unix(), 10)
	srv, calls := scripted(t,
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.Header().Set("RateLimit-Remaining", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "Retry later\n")
		},
		status(200, "RateLimit-Remaining", "0", "RateLimit-Reset", reset),
		status(200, "RateLimit-Remaining", "1999"),
	)
	clock := collectortest.NewClock(epoch)
	reg := prometheus.NewRegistry()
	client := &http.Client{Transport: newTestTransport(reg, clock)}
	for i, code := range mustGet(t, client, srv.URL, 2) {
		if code != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200 after the retry", i+1, code)
		}
	}
	// 7s for Retry-After; then the spent window blocks the second request
	// until 1s past the reset (20s after epoch, 7s already gone).
	if *calls != 3 || len(clock.Waits()) != 2 || clock.Waits()[0] != 7*time.Second || clock.Waits()[1] != 14*time.Second {
		t.Errorf("calls %d, waits %v; want 3 calls and waits [7s 14s]", *calls, clock.Waits())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP yardstick_api_ratelimit_remaining Requests left in the current rate-limit window, as the API last reported.
# TYPE yardstick_api_ratelimit_remaining gauge
yardstick_api_ratelimit_remaining{collector="test"} 1999
`), "yardstick_api_ratelimit_remaining"); err != nil {
		t.Error(err)
	}
}

// mustGet sends n GET requests to url through client and returns their
// statuses.
func mustGet(t *testing.T, client *http.Client, url string, n int) []int {
	t.Helper()
	var codes []int
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	return codes
}
