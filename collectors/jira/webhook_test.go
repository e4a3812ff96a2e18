package jira

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

func sign(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func mustPost(t testing.TB, h http.Handler, target string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookStoresWhatPollingStores(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf("jira:AAA", "jira:BBB"), nil)
	next := h.mustCollect(t, time.Time{})
	hooks := newMemWriter()
	wh := h.c.WebhookHandler(WebhookConfig{SigningSecret: "signing-key"}, hooks, prometheus.NewRegistry())

	at := next.Add(time.Hour)
	mustDo(t, h.fake.Transition("AAA-2", "Done", at))
	newKey, err := h.fake.CreateIssue("BBB", "Bug", "High", "", at.Add(time.Minute))
	mustDo(t, err)
	for _, hook := range []struct{ event, key string }{{"jira:issue_updated", "AAA-2"}, {"jira:issue_created", newKey}} {
		body, err := h.fake.WebhookPayload(h.srv.URL, hook.event, hook.key)
		mustDo(t, err)
		if rec := mustPost(t, wh, "/webhooks/jira", body, map[string]string{SignatureHeader: sign("signing-key", body)}); rec.Code != http.StatusNoContent {
			t.Fatalf("POST %s for %s = %d %s, want 204", hook.event, hook.key, rec.Code, rec.Body)
		}
	}
	got := hooks.list(nil)
	var types []string
	for _, e := range got {
		types = append(types, e.Type+" "+e.Str["key"])
	}
	wantTypes := []string{yardstick.TicketResolved + " AAA-2", yardstick.TicketTransitioned + " AAA-2", yardstick.TicketCreated + " " + newKey}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("webhook events (-want +got):\n%s", diff)
	}

	// Polling the same changes stores the same rows, identity and content.
	h.mustCollect(t, next)
	for _, e := range got {
		polled, ok := h.w.Event(collectortest.KeyOf(e))
		if !ok {
			t.Errorf("webhook event %s %s %s not found by polling", e.Type, e.Scope, e.ID)
			continue
		}
		if diff := cmp.Diff(polled, e); diff != "" {
			t.Errorf("webhook event %s %s differs from polling (-polled +webhook):\n%s", e.Type, e.ID, diff)
		}
	}
}

func TestWebhookAuthentication(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf("jira:AAA"), nil)
	body, err := h.fake.WebhookPayload(h.srv.URL, "jira:issue_created", "AAA-1")
	mustDo(t, err)
	good := sign("k3y", body)
	for _, tt := range []struct {
		name   string
		cfg    WebhookConfig
		target string
		header map[string]string
		want   int
	}{
		{"signed", WebhookConfig{SigningSecret: "k3y"}, "/webhooks/jira", map[string]string{SignatureHeader: good}, http.StatusNoContent},
		{"unsigned", WebhookConfig{SigningSecret: "k3y"}, "/webhooks/jira", nil, http.StatusUnauthorized},
		{"wrong key", WebhookConfig{SigningSecret: "k3y"}, "/webhooks/jira", map[string]string{SignatureHeader: sign("other", body)}, http.StatusUnauthorized},
		{"not hex", WebhookConfig{SigningSecret: "k3y"}, "/webhooks/jira", map[string]string{SignatureHeader: "sha256=zz"}, http.StatusUnauthorized},
		{"other algorithm", WebhookConfig{SigningSecret: "k3y"}, "/webhooks/jira", map[string]string{SignatureHeader: strings.Replace(good, "sha256", "sha1", 1)}, http.StatusUnauthorized},
		{"secret in query", WebhookConfig{Secret: "s3cret"}, "/webhooks/jira?secret=s3cret", nil, http.StatusNoContent},
		{"secret in header", WebhookConfig{Secret: "s3cret"}, "/webhooks/jira", map[string]string{SecretHeader: "s3cret"}, http.StatusNoContent},
		{"wrong secret", WebhookConfig{Secret: "s3cret"}, "/webhooks/jira?secret=guess", nil, http.StatusUnauthorized},
		{"no secret", WebhookConfig{Secret: "s3cret"}, "/webhooks/jira", nil, http.StatusUnauthorized},
		{"both", WebhookConfig{Secret: "s3cret", SigningSecret: "k3y"}, "/webhooks/jira?secret=s3cret", map[string]string{SignatureHeader: good}, http.StatusNoContent},
		{"both, secret missing", WebhookConfig{Secret: "s3cret", SigningSecret: "k3y"}, "/webhooks/jira", map[string]string{SignatureHeader: good}, http.StatusUnauthorized},
		{"nothing configured", WebhookConfig{}, "/webhooks/jira", nil, http.StatusNoContent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemWriter()
			reg := prometheus.NewRegistry()
			wh := h.c.WebhookHandler(tt.cfg, w, reg)
			rec := mustPost(t, wh, tt.target, body, tt.header)
			if rec.Code != tt.want {
				t.Fatalf("POST %s = %d %s, want %d", tt.target, rec.Code, rec.Body, tt.want)
			}
			if stored := len(w.list(nil)); (tt.want == http.StatusNoContent) != (stored > 0) {
				t.Errorf("events stored = %d with status %d", stored, rec.Code)
			}
			if tt.want == http.StatusUnauthorized {
				if got := testutil.ToFloat64(wh.Requests("unauthorized")); got != 1 {
					t.Errorf("unauthorized counter = %v, want 1", got)
				}
			}
		})
	}
}

type failingCatalog struct{}

func (failingCatalog) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	return nil, errors.New("clickhouse down")
}
func (failingCatalog) Entities(context.Context) ([]yardstick.Entity, error) { return nil, nil }

func TestWebhookAnswers(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf("jira:AAA"), nil)
	created, err := h.fake.WebhookPayload(h.srv.URL, "jira:issue_created", "AAA-1")
	mustDo(t, err)
	unmapped, err := h.fake.WebhookPayload(h.srv.URL, "jira:issue_created", "BBB-1")
	mustDo(t, err)
	for _, tt := range []struct {
		name    string
		method  string
		body    []byte
		chunked bool
		writer  error
		catalog bool // a catalog that fails
		want    int
		result  string
	}{
		{"created", http.MethodPost, created, false, nil, false, http.StatusNoContent, "stored"},
		{"unknown event", http.MethodPost, []byte(`{"timestamp":1,"webhookEvent":"comment_created","comment":{"id":"1"}}`), false, nil, false, http.StatusNoContent, "ignored_event"},
		{"deleted issue", http.MethodPost, bytes.Replace(created, []byte("jira:issue_created"), []byte("jira:issue_deleted"), 1), false, nil, false, http.StatusNoContent, "ignored_event"},
		{"unmapped project", http.MethodPost, unmapped, false, nil, false, http.StatusNoContent, "ignored_unmapped"},
		{"oversized", http.MethodPost, append(created, bytes.Repeat([]byte(" "), 4096)...), false, nil, false, http.StatusRequestEntityTooLarge, "too_large"},
		{"oversized chunked", http.MethodPost, append(created, bytes.Repeat([]byte(" "), 4096)...), true, nil, false, http.StatusRequestEntityTooLarge, "too_large"},
		{"malformed", http.MethodPost, []byte(`{"webhookEvent":`), false, nil, false, http.StatusBadRequest, "bad_request"},
		{"no issue", http.MethodPost, []byte(`{"webhookEvent":"jira:issue_updated"}`), false, nil, false, http.StatusBadRequest, "bad_request"},
		{"issue without fields", http.MethodPost, []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"AAA-1"}}`), false, nil, false, http.StatusBadRequest, "bad_request"},
		{"bad field types", http.MethodPost, []byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"AAA-1","fields":{"created":12}}}`), false, nil, false, http.StatusBadRequest, "bad_request"},
		{"storage down", http.MethodPost, created, false, errors.New("disk full"), false, http.StatusServiceUnavailable, "unavailable"},
		{"catalog down", http.MethodPost, created, false, nil, true, http.StatusServiceUnavailable, "unavailable"},
		{"get", http.MethodGet, nil, false, nil, false, http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemWriter()
			w.FailWrites(tt.writer)
			reg := prometheus.NewRegistry()
			c := h.c
			if tt.catalog {
				var err error
				c, err = New(h.c.cfg, &http.Client{}, failingCatalog{}, h.cursors, h.c.logger)
				mustDo(t, err)
			}
			wh := c.WebhookHandler(WebhookConfig{MaxBodyBytes: int64(len(created)) + 100}, w, reg)
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: no Content-Length
			}
			req := httptest.NewRequest(tt.method, "/webhooks/jira", body)
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s /webhooks/jira = %d %s, want %d", tt.method, rec.Code, rec.Body, tt.want)
			}
			if got := testutil.ToFloat64(wh.Requests(tt.result)); got != 1 {
				t.Errorf("counter result=%q = %v, want 1", tt.result, got)
			}
			if problems, err := testutil.CollectAndLint(wh.Collector()); err != nil || len(problems) > 0 {
				t.Errorf("CollectAndLint = %v, %v", problems, err)
			}
		})
	}
}

func TestWebhookNeverAnswers500(t *testing.T) {
	h := mustHarness(t, jirafake.Options{Projects: []string{"AAA"}}, catalogOf("jira:AAA"), nil)
	wh := h.c.WebhookHandler(WebhookConfig{}, newMemWriter(), prometheus.NewRegistry())
	bodies := []string{
		``, `null`, `[]`, `"x"`, `{}`, `{"webhookEvent":null}`, `{"webhookEvent":"jira:issue_created","issue":null}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"AAA-1","fields":{"created":"2024-01-01T00:00:00.000+0000"}},"changelog":{"id":"9","items":[{"field":"status","from":7,"to":{"x":1}}]}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"AAA-1","fields":{"created":"2024-01-01T00:00:00.000+0000","customfield_10016":"many"}}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"id":"1","key":"AAA-1","fields":{"created":"2024-01-01T00:00:00.000+0000"}},"changelog":{"id":"9","items":[{"field":"status","fromString":"To Do","toString":"Done"}]},"timestamp":-5}`,
		"\xff\xfe{",
	}
	for _, b := range bodies {
		rec := mustPost(t, wh, "/webhooks/jira", []byte(b), nil)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Errorf("POST %q = %d, want no 5xx but 503", b, rec.Code)
		}
	}
}
