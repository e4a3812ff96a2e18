package pagerduty

import (
	"context"
	"fmt"
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
	*collectors.Webhook
	secrets [][]byte
	maxBody int64
	ttl     time.Duration
	catalog collectors.Catalog
	writer  collectors.Writer
	deleter EventDeleter
	hours   *hoursResolver
	logger  *slog.Logger
	now     func() time.Time

	ignored *prometheus.CounterVec

	mu       sync.Mutex
	cachedAt time.Time
	cached   map[string]*schedule
}

// NewWebhookHandler builds a handler that writes to w and registers its
// metrics on reg: the scaffold's yardstick_webhook_requests_total{source,outcome}
// and yardstick_pagerduty_webhook_ignored_total{event_type}.
func NewWebhookHandler(cfg WebhookConfig, catalog collectors.Catalog, w collectors.Writer, reg prometheus.Registerer, logger *slog.Logger) (*WebhookHandler, error) {
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("pagerduty webhook: no signing secret: %w", yardstick.ErrInvalid)
	}
	h := &WebhookHandler{
		maxBody: cfg.MaxBodyBytes, ttl: cfg.CatalogTTL, catalog: catalog, writer: w,
		logger: logger.With("webhook", SourceName), now: time.Now,
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
	if h.Webhook, err = collectors.NewWebhook(collectors.WebhookConfig{
		Source: SourceName, MaxBody: h.maxBody, Registerer: reg, Logger: h.logger,
		Verify: func(r *http.Request, body []byte) bool { return h.verify(r.Header.Get(SignatureHeader), body) },
		Handle: h.handle,
	}); err != nil {
		return nil, err
	}
	h.ignored = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
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

// handle converts and stores a verified delivery.
func (h *WebhookHandler) handle(ctx context.Context, _ *http.Request, body []byte) collectors.WebhookAnswer {
	malformed := collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: "not a PagerDuty v3 incident webhook"}
	d, err := decodeWebhook(body)
	if err != nil && d.EventType == "" {
		return malformed
	}
	if !handledEventTypes[d.EventType] {
		label := d.EventType
		if !knownEventTypes[label] {
			label = "unknown"
		}
		h.ignored.WithLabelValues(label).Inc()
		h.logger.DebugContext(ctx, "pagerduty webhook event ignored", "event_type", d.EventType, "event", d.ID)
		return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "ignored_event"}
	}
	if err != nil {
		h.logger.InfoContext(ctx, "pagerduty webhook incident unreadable", "event", d.ID, "event_type", d.EventType, "err", err)
		return malformed
	}
	return h.store(ctx, d)
}

// store converts one incident event and writes it; it returns the answer to
// the delivery.
func (h *WebhookHandler) store(ctx context.Context, d delivery) collectors.WebhookAnswer {
	stored := collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "stored"}
	unavailable := collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "try again later"}
	malformed := collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: "unusable incident"}
	inc := d.Incident
	scope := ServiceScope(inc.Service.ID)
	if d.EventType == "incident.reopened" {
		if h.deleter == nil {
			return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "ignored_event"}
		}
		if err := h.deleter.DeleteEvents(ctx, []yardstick.Event{resolvedIdentity(inc.Service.ID, inc.ID)}); err != nil {
			h.logger.ErrorContext(ctx, "pagerduty webhook: withdraw resolution", "scope", scope, "incident", inc.ID, "err", err)
			return unavailable
		}
		return stored
	}
	sched, err := h.schedule(ctx, inc.Service.ID)
	if err != nil {
		h.logger.ErrorContext(ctx, "pagerduty webhook: read catalog", "scope", scope, "err", err)
		return unavailable
	}
	events, err := webhookEvents(d, sched)
	if err != nil {
		h.logger.InfoContext(ctx, "pagerduty webhook incident unusable", "incident", inc.ID, "err", err)
		return malformed
	}
	if err := h.writer.WriteEvents(ctx, events); err != nil {
		h.logger.ErrorContext(ctx, "pagerduty webhook: write events", "scope", scope, "incident", inc.ID, "err", err)
		return unavailable
	}
	return stored
}

// verify checks the body against every v1 signature in the header with every
// secret, comparing in constant time.
func (h *WebhookHandler) verify(header string, body []byte) bool {
	ok := false
	for _, part := range strings.Split(header, ",") {
		sig, found := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !found {
			continue
		}
		for _, secret := range h.secrets {
			if collectors.VerifyHMAC(sig, secret, body) {
				ok = true
			}
		}
	}
	return ok
}

// Sign returns the X-PagerDuty-Signature value PagerDuty would send for body,
// for fakes and tests.
func Sign(secret yardstick.Secret, body []byte) string {
	return "v1=" + collectors.SignHMAC([]byte(secret.Reveal()), body)
}

// schedule returns the working hours of the group owning a service, reading
// the catalog at most once per TTL.
func (h *WebhookHandler) schedule(ctx context.Context, serviceID string) (*schedule, error) {
	h.mu.Lock()
	fresh := h.cached != nil && h.now().Sub(h.cachedAt) < h.ttl
	m := h.cached
	h.mu.Unlock()
	if !fresh {
		var err error
		if m, err = h.hours.readServices(ctx, h.catalog); err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.cached, h.cachedAt = m, h.now()
		h.mu.Unlock()
	}
	if s, ok := m[serviceID]; ok {
		return s, nil
	}
	return h.hours.def, nil
}
