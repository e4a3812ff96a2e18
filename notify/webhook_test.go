package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/notify"
)

func testNotification() notify.Notification {
	return notify.Notification{ID: "n1", Trigger: notify.TriggerLevelDrop, Subject: "component:default/cart", Group: "group:default/checkout",
		Period: "p", At: now, Message: notify.Message{Title: "Cart <API> dropped", Summary: "a & b",
			Sections: []notify.Section{{Heading: "Why", Lines: []notify.Line{{Text: "readme", Link: "https://x/readme"}}}}}}
}

func TestWebhookSignsAndRetries(t *testing.T) {
	const secret = yardstick.Secret("hook-secret")
	var (
		mu       sync.Mutex
		calls    int
		payloads []notify.WebhookPayload
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if !notify.Verify(secret, r.Header.Get(notify.HeaderTimestamp), body, r.Header.Get(notify.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.Header.Get(notify.HeaderDelivery) != "d1" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "missing headers", http.StatusBadRequest)
			return
		}
		if calls < 3 {
			http.Error(w, "try later", http.StatusBadGateway)
			return
		}
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		payloads = append(payloads, p)
	}))
	t.Cleanup(srv.Close)
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "ops", URL: srv.URL, Secret: secret, RetryWait: 10 * time.Millisecond}, srv.Client(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Send(context.Background(), "", testNotification(), "d1"); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	if calls != 3 || len(payloads) != 1 || payloads[0].Title != "Cart <API> dropped" || payloads[0].Delivery != "d1" || payloads[0].Group != "group:default/checkout" {
		t.Errorf("after Send(): %d calls, payloads %+v; want 3 calls (two 502s retried) and the payload once", calls, payloads)
	}

	// A wrong secret is refused, and a 4xx is not retried.
	calls = 0
	bad, _ := notify.NewWebhook(notify.WebhookConfig{Name: "ops", URL: srv.URL, Secret: "other", RetryWait: time.Millisecond}, srv.Client(), time.Now)
	err = bad.Send(context.Background(), "", testNotification(), "d1")
	if err == nil || !strings.Contains(err.Error(), "401") || calls != 1 {
		t.Errorf("Send(wrong secret) = %v after %d calls, want a 401 error after one call", err, calls)
	}
}

func TestWebhookGivesUpWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	wh, _ := notify.NewWebhook(notify.WebhookConfig{Name: "ops", URL: srv.URL + "/secret-path", Secret: "s", Retries: 100, RetryWait: 20 * time.Millisecond}, srv.Client(), time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := wh.Send(ctx, "", testNotification(), "d1")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Send() = %v after %v, want an error once the context ends", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("Send() = %v, want the last status", err)
	}
}

func TestSlackIncomingWebhook(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// https://api.slack.com/messaging/webhooks: a JSON body; "ok" as plain text.
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/XXXX" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "no_service")
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_payload")
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	s := notify.NewSlack(notify.SlackConfig{Webhooks: map[string]yardstick.Secret{"#payments": yardstick.Secret(srv.URL + "/services/T000/B000/XXXX")}}, srv.Client())
	if err := s.Send(context.Background(), "#payments", testNotification(), "d1"); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	blocks, _ := got["blocks"].([]any)
	if got["text"] != "Cart <API> dropped" || len(blocks) != 3 {
		t.Fatalf("webhook body = %v, want the fallback text and header, summary and section blocks", got)
	}
	summary := blocks[1].(map[string]any)["text"].(map[string]any)["text"]
	section := blocks[2].(map[string]any)["text"].(map[string]any)["text"]
	if summary != "a &amp; b" || section != "*Why*\n• <https://x/readme|readme>" {
		t.Errorf("blocks text = %q, %q; want mrkdwn escaped and links as <url|text>", summary, section)
	}
	// An unknown channel without a bot token or default webhook is an error, not a silent drop.
	if err := s.Send(context.Background(), "#other", testNotification(), "d2"); err == nil {
		t.Error("Send(#other) = nil, want an error")
	}
	// A webhook URL never appears in errors: it is the secret.
	down := notify.NewSlack(notify.SlackConfig{DefaultWebhook: "http://127.0.0.1:1/services/T/B/secret-token"}, srv.Client())
	err := down.Send(context.Background(), "#x", testNotification(), "d3")
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("Send(unreachable webhook) = %v, want an error without the URL", err)
	}
}
