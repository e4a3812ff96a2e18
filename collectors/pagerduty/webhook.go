package pagerduty

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// SignatureHeader carries the HMAC-SHA256 signatures of a v3 webhook body:
// "v1=<hex>", several separated by commas while a secret is being rotated.
const SignatureHeader = "X-PagerDuty-Signature"

// WebhookConfig configures a WebhookHandler.
type WebhookConfig struct {
	// Secrets are the signing secrets of the webhook subscriptions; a delivery
	// signed with any of them is accepted. At least one is required.
	Secrets []yardstick.Secret
	// MaxBodyBytes caps a delivery; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// Hours decides off_hours, as for the Collector.
	Hours Hours
	// CatalogTTL is how long the owner of each service is cached; default 1 minute.
	CatalogTTL time.Duration
}

// WebhookHandler receives PagerDuty v3 webhooks (POST) and writes the incident
// events they carry through the same conversion as polling. It answers 202 for
// deliveries it stored or deliberately ignored, 401 for a missing or wrong
// signature, 413 for an oversized body, 400 for a body that is not a webhook,
// 405 for other methods and 503 when the catalog or the store fails (PagerDuty
// then delivers again); never 500. Safe for concurrent use.
type WebhookHandler struct {
	secrets [][]byte
	maxBody int64
	ttl     time.Duration
	catalog collectors.Catalog
	writer  collectors.Writer
	deleter EventDeleter
	hours   *hoursResolver
	logger  *slog.Logger
	now     func() time.Time

	deliveries *prometheus.CounterVec
	ignored    *prometheus.CounterVec

	mu       sync.Mutex
	cachedAt time.Time
	cached   map[string]*schedule
}

// NewWebhookHandler builds a handler that writes to w and registers its
// metrics on reg: yardstick_pagerduty_webhook_deliveries_total{result} and
// yardstick_pagerduty_webhook_ignored_total{event_type}.
func NewWebhookHandler(cfg WebhookConfig, catalog collectors.Catalog, w collectors.Writer, reg prometheus.Registerer, logger *slog.Logger) (*WebhookHandler, error) {
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("pagerduty webhook: no signing secret: %w", yardstick.ErrInvalid)
	}
	h := &WebhookHandler{
		maxBody: cfg.MaxBodyBytes, ttl: cfg.CatalogTTL, catalog: catalog, writer: w,
		logger: logger.With("webhook", Source), now: time.Now,
	}
	for i, s := range cfg.Secrets {
		if s == "" {
			return nil, fmt.Errorf("pagerduty webhook: secret %d is empty: %w", i, yardstick.ErrInvalid)
		}
		h.secrets = append(h.secrets, []byte(s.Reveal()))
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	if h.ttl <= 0 {
		h.ttl = time.Minute
	}
	var err error
	if h.hours, err = newHoursResolver(cfg.Hours); err != nil {
		return nil, fmt.Errorf("pagerduty webhook: %w", err)
	}
	f := promauto.With(reg)
	h.deliveries = f.NewCounterVec(prometheus.CounterOpts{
		Name: "yardstick_pagerduty_webhook_deliveries_total",
		Help: "PagerDuty webhook deliveries by result (stored, ignored, bad_signature, too_large, malformed, unavailable, method).",
	}, []string{"result"})
	h.ignored = f.NewCounterVec(prometheus.CounterOpts{
		Name: "yardstick_pagerduty_webhook_ignored_total",
		Help: "PagerDuty webhook events ignored, by event type (\"unknown\" for types PagerDuty does not document).",
	}, []string{"event_type"})
	return h, nil
}

// WithDeleter lets the handler withdraw the resolution of a reopened incident.
func (h *WebhookHandler) WithDeleter(d EventDeleter) *WebhookHandler {
	h.deleter = d
	return h
}

// WithClock replaces the clock of the catalog cache.
func (h *WebhookHandler) WithClock(now func() time.Time) *WebhookHandler {
	h.now = now
	return h
}

// knownEventTypes are PagerDuty's documented v3 event types; others are counted as "unknown".
var knownEventTypes = map[string]bool{
	"incident.acknowledged": true, "incident.annotated": true, "incident.conference_bridge.updated": true,
	"incident.custom_field_values.updated": true, "incident.delegated": true, "incident.escalated": true,
	"incident.incident_type.changed": true, "incident.priority_updated": true, "incident.reassigned": true,
	"incident.reopened": true, "incident.resolved": true, "incident.responder.added": true,
	"incident.responder.replied": true, "incident.status_update_published": true, "incident.triggered": true,
	"incident.unacknowledged": true, "incident.workflow.started": true, "incident.workflow.completed": true,
	"service.created": true, "service.deleted": true, "service.updated": true, "pagey.ping": true,
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, "method")
		return
	}
	if req.ContentLength > h.maxBody {
		h.answer(w, http.StatusRequestEntityTooLarge, "too_large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.answer(w, http.StatusRequestEntityTooLarge, "too_large")
			return
		}
		h.answer(w, http.StatusBadRequest, "malformed")
		return
	}
	if !h.verify(req.Header.Get(SignatureHeader), body) {
		h.logger.WarnContext(ctx, "pagerduty webhook signature rejected", "remote", req.RemoteAddr)
		h.answer(w, http.StatusUnauthorized, "bad_signature")
		return
	}
	d, err := decodeWebhook(body)
	if err != nil && d.EventType == "" {
		h.answer(w, http.StatusBadRequest, "malformed")
		return
	}
	if !handledEventTypes[d.EventType] {
		label := d.EventType
		if !knownEventTypes[label] {
			label = "unknown"
		}
		h.ignored.WithLabelValues(label).Inc()
		h.logger.DebugContext(ctx, "pagerduty webhook event ignored", "event_type", d.EventType, "event", d.ID)
		h.answer(w, http.StatusAccepted, "ignored")
		return
	}
	if err != nil {
		h.logger.InfoContext(ctx, "pagerduty webhook incident unreadable", "event", d.ID, "event_type", d.EventType, "err", err)
		h.answer(w, http.StatusBadRequest, "malformed")
		return
	}
	status, result := h.store(ctx, d)
	h.answer(w, status, result)
}

// store converts one incident event and writes it; it returns the status and
// the result label of the delivery.
func (h *WebhookHandler) store(ctx context.Context, d delivery) (int, string) {
	inc := d.Incident
	scope := yardstick.PagerDutyScope(inc.Service.ID)
	if d.EventType == "incident.reopened" {
		if h.deleter == nil {
			return http.StatusAccepted, "ignored"
		}
		if err := h.deleter.DeleteEvents(ctx, []yardstick.Event{resolvedIdentity(inc.Service.ID, inc.ID)}); err != nil {
			h.logger.ErrorContext(ctx, "pagerduty webhook: withdraw resolution", "scope", scope, "incident", inc.ID, "err", err)
			return http.StatusServiceUnavailable, "unavailable"
		}
		return http.StatusAccepted, "stored"
	}
	sched, err := h.schedule(ctx, inc.Service.ID)
	if err != nil {
		h.logger.ErrorContext(ctx, "pagerduty webhook: read catalog", "scope", scope, "err", err)
		return http.StatusServiceUnavailable, "unavailable"
	}
	events, err := webhookEvents(d, sched)
	if err != nil {
		h.logger.InfoContext(ctx, "pagerduty webhook incident unusable", "incident", inc.ID, "err", err)
		return http.StatusBadRequest, "malformed"
	}
	if err := h.writer.WriteEvents(ctx, events); err != nil {
		h.logger.ErrorContext(ctx, "pagerduty webhook: write events", "scope", scope, "incident", inc.ID, "err", err)
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusAccepted, "stored"
}

func (h *WebhookHandler) answer(w http.ResponseWriter, status int, result string) {
	h.deliveries.WithLabelValues(result).Inc()
	w.WriteHeader(status)
}

// verify checks the body against every v1 signature in the header with every
// secret, comparing in constant time.
func (h *WebhookHandler) verify(header string, body []byte) bool {
	if header == "" {
		return false
	}
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		sig, err := hex.DecodeString(v)
		if err != nil || len(sig) != sha256.Size {
			continue
		}
		sigs = append(sigs, sig)
	}
	ok := false
	for _, secret := range h.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	return ok
}

// Sign returns the X-PagerDuty-Signature value PagerDuty would send for body,
// for fakes and tests.
func Sign(secret yardstick.Secret, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// schedule returns the working hours of the group owning a service, reading
// the catalog at most once per TTL.
func (h *WebhookHandler) schedule(ctx context.Context, serviceID string) (*schedule, error) {
	h.mu.Lock()
	fresh := h.cached != nil && h.now().Sub(h.cachedAt) < h.ttl
	m := h.cached
	h.mu.Unlock()
	if !fresh {
		mappings, err := h.catalog.ScopeMappings(ctx)
		if err != nil {
			return nil, fmt.Errorf("read scope mappings: %w", err)
		}
		entities, err := h.catalog.Entities(ctx)
		if err != nil {
			return nil, fmt.Errorf("read catalog entities: %w", err)
		}
		m = h.hours.forServices(mappings, entities)
		h.mu.Lock()
		h.cached, h.cachedAt = m, h.now()
		h.mu.Unlock()
	}
	if s, ok := m[serviceID]; ok {
		return s, nil
	}
	return h.hours.def, nil
}
