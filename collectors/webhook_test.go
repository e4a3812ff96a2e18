package collectors_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick/collectors"
)

func mustHook(t *testing.T, source string, reg prometheus.Registerer) *collectors.Webhook {
	t.Helper()
	key := []byte("k3y")
	h, err := collectors.NewWebhook(collectors.WebhookConfig{
		Source: source, MaxBody: 64, Registerer: reg,
		Verify: func(r *http.Request, body []byte) bool {
			return collectors.VerifyHMAC(r.Header.Get("X-Sig"), key, body)
		},
		Handle: func(_ context.Context, _ *http.Request, body []byte) collectors.WebhookAnswer {
			switch string(body) {
			case "store":
				return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "stored", Body: map[string]int{"events": 1}}
			case "down":
				return collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "try again later"}
			}
			return collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: "not a delivery"}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestWebhookScaffold(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := mustHook(t, "alpha", reg)
	other := mustHook(t, "beta", reg) // a second source shares the metric
	post := func(body, sig string, chunked bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/alpha", strings.NewReader(body))
		if chunked {
			req.ContentLength = -1
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		req.Header.Set("X-Sig", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	sign := func(body string) string { return collectors.SignHMAC([]byte("k3y"), []byte(body)) }
	big := strings.Repeat("x", 65)
	for _, tt := range []struct {
		name, body, sig string
		chunked         bool
		want            int
		wantBody        string
	}{
		{"stored", "store", sign("store"), false, http.StatusAccepted, `{"events":1}`},
		{"unsigned", "store", "", false, http.StatusUnauthorized, `{"error":"Bad signature or secret."}`},
		{"signed by another key", "store", collectors.SignHMAC([]byte("other"), []byte("store")), false, http.StatusUnauthorized, ""},
		{"not hex", "store", "zz", false, http.StatusUnauthorized, ""},
		{"too large", big, sign(big), false, http.StatusRequestEntityTooLarge, `{"error":"Body over 64 bytes."}`},
		{"too large chunked", big, sign(big), true, http.StatusRequestEntityTooLarge, ""},
		{"malformed", "junk", sign("junk"), false, http.StatusBadRequest, `{"error":"not a delivery"}`},
		{"store down", "down", sign("down"), false, http.StatusServiceUnavailable, `{"error":"try again later"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(tt.body, tt.sig, tt.chunked)
			if rec.Code != tt.want {
				t.Errorf("POST = %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("POST body = %s, want %s", rec.Body, tt.wantBody)
			}
			if tt.want >= 400 && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("error answer %q is not JSON", rec.Body)
			}
		})
	}
	get := httptest.NewRecorder()
	h.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/webhooks/alpha", nil))
	if get.Code != http.StatusMethodNotAllowed || get.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET = %d (Allow %q), want 405 allowing POST", get.Code, get.Header().Get("Allow"))
	}
	for outcome, want := range map[string]float64{"stored": 1, "unauthorized": 3, "too_large": 2, "bad_request": 1, "unavailable": 1, "method_not_allowed": 1} {
		if got := testutil.ToFloat64(h.Requests(outcome)); got != want {
			t.Errorf("requests{source=alpha,outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
	if got := testutil.ToFloat64(other.Requests("stored")); got != 0 {
		t.Errorf("requests{source=beta} = %v, want 0: sources count apart", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("GatherAndLint() = %v, %v", problems, err)
	}
}

func TestEqualSecret(t *testing.T) {
	if !collectors.EqualSecret("s3cret", "s3cret") || collectors.EqualSecret("s3cre", "s3cret") || collectors.EqualSecret("", "s3cret") {
		t.Error("EqualSecret does not compare secrets")
	}
}
