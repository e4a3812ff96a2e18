package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/scheduler"
)

// Headers of a webhook delivery.
const (
	HeaderDelivery  = "X-Yardstick-Delivery"  // the delivery identity; the same on every retry
	HeaderTimestamp = "X-Yardstick-Timestamp" // unix seconds when the request was signed
	HeaderSignature = "X-Yardstick-Signature" // sha256=HEX of HMAC-SHA256(secret, timestamp + "." + body)
)

// WebhookConfig configures one generic webhook.
type WebhookConfig struct {
	Name      string
	URL       string
	Secret    yardstick.Secret
	Retries   int           // extra attempts on 5xx, 429 and network errors within one send; default 3
	RetryWait time.Duration // first wait, doubling; default 1s
}

// Webhook posts notifications as signed JSON.
type Webhook struct {
	cfg  WebhookConfig
	http *http.Client
	now  func() time.Time
}

// NewWebhook builds a webhook channel on hc.
func NewWebhook(cfg WebhookConfig, hc *http.Client, now func() time.Time) (*Webhook, error) {
	if cfg.URL == "" || cfg.Secret == "" {
		return nil, fmt.Errorf("webhook %s: url and secret are required: %w", cfg.Name, yardstick.ErrInvalid)
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.RetryWait == 0 {
		cfg.RetryWait = time.Second
	}
	return &Webhook{cfg: cfg, http: hc, now: now}, nil
}

// WebhookPayload is the JSON body of a webhook delivery.
type WebhookPayload struct {
	Delivery     string    `json:"delivery"`
	Notification string    `json:"notification"`
	Trigger      string    `json:"trigger"`
	Subject      string    `json:"subject"`
	Group        string    `json:"group,omitempty"`
	Period       string    `json:"period"`
	At           time.Time `json:"at"`
	Title        string    `json:"title"`
	Summary      string    `json:"summary,omitempty"`
	Sections     []Section `json:"sections,omitempty"`
	Link         string    `json:"link,omitempty"`
	Text         string    `json:"text"`
}

// Sign returns the signature header value of body at timestamp ts.
func Sign(secret yardstick.Secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header in constant time.
func Verify(secret yardstick.Secret, ts string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// Send posts n, retrying 5xx, 429 and network errors with backoff until ctx ends.
func (w *Webhook) Send(ctx context.Context, _ string, n Notification, delivery string) error {
	body, err := json.Marshal(WebhookPayload{Delivery: delivery, Notification: n.ID, Trigger: n.Trigger, Subject: n.Subject, Group: string(n.Group),
		Period: n.Period, At: n.At.UTC(), Title: n.Title, Summary: n.Summary, Sections: n.Sections, Link: n.Link, Text: n.Text()})
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	wait := w.cfg.RetryWait
	for attempt := 0; ; attempt++ {
		retry, err := w.post(ctx, body, delivery)
		if err == nil {
			return nil
		}
		if !retry || attempt >= w.cfg.Retries {
			return err
		}
		if serr := scheduler.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (gave up: %w)", err, serr)
		}
		wait *= 2
	}
}

func (w *Webhook) post(ctx context.Context, body []byte, delivery string) (retry bool, err error) {
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "yardstick-notify")
	req.Header.Set(HeaderDelivery, delivery)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, ts, body))
	resp, err := w.http.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("webhook %s: %w", w.cfg.Name, withoutURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("webhook %s: POST answered %s: %q", w.cfg.Name, resp.Status, snippet)
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, err
}
