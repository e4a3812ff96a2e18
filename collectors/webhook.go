package collectors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a webhook request the scaffold decides itself; a source's
// handler names the others (stored, ignored, …).
const (
	OutcomeMethodNotAllowed = "method_not_allowed"
	OutcomeTooLarge         = "too_large"
	OutcomeBadRequest       = "bad_request"
	OutcomeUnauthorized     = "unauthorized"
	OutcomeUnavailable      = "unavailable"
)

// WebhookConfig is what a source gives the webhook scaffold: how to check a
// delivery's signature or secret, and how to decode and store it.
type WebhookConfig struct {
	Source  string // the source's name: the outcome metric's label and the log attribute
	MaxBody int64  // bytes; larger bodies get 413
	// Verify reports whether the request carries the right signature or
	// secret for body. It must compare in constant time (VerifyHMAC,
	// EqualSecret).
	Verify func(r *http.Request, body []byte) bool
	// Handle decodes a verified delivery, converts it and stores it.
	Handle func(ctx context.Context, r *http.Request, body []byte) WebhookAnswer
	// Registerer gets yardstick_webhook_requests_total{source,outcome}.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// WebhookAnswer is what a source made of a verified delivery.
type WebhookAnswer struct {
	Status  int    // HTTP status: 2xx stored or deliberately ignored, 400 malformed, 503 try again
	Outcome string // the metric's outcome label
	// Reason is the error answer's text for a status of 400 and above.
	Reason string
	// Body, when set, is the JSON answer of a 2xx status.
	Body any
}

// Webhook is the HTTP endpoint every source's webhook runs in: POST only
// (405), a body limit (413), the source's signature or secret check (401),
// error answers as JSON {"error": reason}, and a count of requests by source
// and outcome. Sources keep only decoding and conversion. Safe for concurrent
// use.
type Webhook struct {
	cfg      WebhookConfig
	requests *prometheus.CounterVec
}

// NewWebhook returns the endpoint for cfg. Several sources share the metric
// on one registerer.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Source == "" || cfg.Verify == nil || cfg.Handle == nil || cfg.MaxBody <= 0 {
		return nil, fmt.Errorf("webhook %q: source, verify, handle and a positive body limit are required", cfg.Source)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yardstick_webhook_requests_total",
		Help: "Webhook requests by source and outcome (stored, ignored…, unauthorized, too_large, bad_request, unavailable, method_not_allowed).",
	}, []string{"source", "outcome"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(requests); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				return nil, fmt.Errorf("webhook %s: register metrics: %w", cfg.Source, err)
			}
			requests = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return &Webhook{cfg: cfg, requests: requests}, nil
}

// Requests returns the counter of one outcome of this source's requests.
func (h *Webhook) Requests(outcome string) prometheus.Counter {
	return h.requests.WithLabelValues(h.cfg.Source, outcome)
}

// Collector returns the request counter, for tests and linting.
func (h *Webhook) Collector() prometheus.Collector { return h.requests }

// ServeHTTP implements http.Handler.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, WebhookAnswer{Status: http.StatusMethodNotAllowed, Outcome: OutcomeMethodNotAllowed, Reason: "POST only."})
		return
	}
	tooLarge := WebhookAnswer{Status: http.StatusRequestEntityTooLarge, Outcome: OutcomeTooLarge, Reason: fmt.Sprintf("Body over %d bytes.", h.cfg.MaxBody)}
	if r.ContentLength > h.cfg.MaxBody {
		h.answer(w, tooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.answer(w, tooLarge)
			return
		}
		h.answer(w, WebhookAnswer{Status: http.StatusBadRequest, Outcome: OutcomeBadRequest, Reason: "Unreadable body."})
		return
	}
	if !h.cfg.Verify(r, body) {
		h.cfg.Logger.WarnContext(r.Context(), "webhook rejected", "source", h.cfg.Source, "remote", r.RemoteAddr)
		h.answer(w, WebhookAnswer{Status: http.StatusUnauthorized, Outcome: OutcomeUnauthorized, Reason: "Bad signature or secret."})
		return
	}
	h.answer(w, h.cfg.Handle(r.Context(), r, body))
}

func (h *Webhook) answer(w http.ResponseWriter, a WebhookAnswer) {
	h.requests.WithLabelValues(h.cfg.Source, a.Outcome).Inc()
	body := a.Body
	if a.Status >= 400 {
		body = map[string]string{"error": a.Reason}
		if a.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "30")
		}
	}
	if body == nil {
		w.WriteHeader(a.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// VerifyHMAC reports whether sigHex is the hex HMAC-SHA256 of body under key,
// comparing in constant time.
func VerifyHMAC(sigHex string, key, body []byte) bool {
	got, err := hex.DecodeString(sigHex)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// SignHMAC returns the hex HMAC-SHA256 of body under key, as senders sign.
func SignHMAC(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// EqualSecret compares a shared secret in constant time, hashing first so
// that not even the secret's length leaks through timing.
func EqualSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
