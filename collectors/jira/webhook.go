package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jira "github.com/andygrunwald/go-jira"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// Webhook request headers and query parameter.
const (
	// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" from Jira
	// webhooks registered with a secret.
	SignatureHeader = "X-Hub-Signature"
	// SecretHeader and SecretParam carry the shared secret, for senders that
	// cannot sign (a Jira Server webhook URL, an automation rule).
	SecretHeader = "X-Webhook-Secret"
	SecretParam  = "secret"
)

// Webhook event names handled; every other webhookEvent is counted and ignored.
const (
	eventIssueCreated = "jira:issue_created"
	eventIssueUpdated = "jira:issue_updated"
)

// WebhookConfig configures the Jira webhook endpoint. When both secrets are set
// a request must carry both.
type WebhookConfig struct {
	// Secret is the shared secret expected in ?secret= or the X-Webhook-Secret header.
	Secret yardstick.Secret
	// SigningSecret is the key of the X-Hub-Signature HMAC.
	SigningSecret yardstick.Secret
	// MaxBodyBytes caps a request body; larger ones get 413. Default 10 MiB.
	MaxBodyBytes int64
	// MappingTTL is how long the catalog's scope mappings are cached; default 1m.
	MappingTTL time.Duration
	// StatusWait is the longest a delivery waits for the status list when its
	// cached copy is stale and Jira's REST API is slow or down; the delivery is
	// then stored with the status categories the payload carries. Default 2s.
	StatusWait time.Duration
}

// WebhookHandler receives Jira webhooks (POST) and stores the events they carry,
// converted by the same code as polling. It never answers 500: bad secret or
// signature 401, oversized body 413 (the collectors.Webhook scaffold),
// malformed payload 400, storage or catalog unavailable 503 (Jira retries),
// everything else 204.
type WebhookHandler struct {
	*collectors.Webhook
	c      *Collector
	cfg    WebhookConfig
	w      collectors.Writer
	logger *slog.Logger

	mu         sync.Mutex
	projects   map[string]project
	projectsAt time.Time
}

// WebhookHandler returns the webhook endpoint. w stores what arrives; reg gets
// the scaffold's yardstick_webhook_requests_total{source="jira",outcome}.
func (c *Collector) WebhookHandler(cfg WebhookConfig, w collectors.Writer, reg prometheus.Registerer) *WebhookHandler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.MappingTTL <= 0 {
		cfg.MappingTTL = time.Minute
	}
	if cfg.StatusWait <= 0 {
		cfg.StatusWait = 2 * time.Second
	}
	h := &WebhookHandler{c: c, cfg: cfg, w: w, logger: c.logger.With("handler", "webhook")}
	// The config is complete here, so NewWebhook cannot fail.
	h.Webhook, _ = collectors.NewWebhook(collectors.WebhookConfig{
		Source: SourceName, MaxBody: cfg.MaxBodyBytes, Verify: h.authorized, Handle: h.handle, Registerer: reg, Logger: h.logger,
	})
	for _, r := range []string{"stored", "ignored_event", "ignored_unmapped", collectors.OutcomeUnauthorized, collectors.OutcomeTooLarge,
		collectors.OutcomeBadRequest, collectors.OutcomeUnavailable, collectors.OutcomeMethodNotAllowed} {
		h.Requests(r)
	}
	return h
}

// webhookPayload is the body Jira posts for issue events.
type webhookPayload struct {
	Timestamp    int64      `json:"timestamp"`
	WebhookEvent string     `json:"webhookEvent"`
	User         *jira.User `json:"user"`
	Issue        *apiIssue  `json:"issue"`
	Changelog    *struct {
		ID    string                `json:"id"`
		Items []jira.ChangelogItems `json:"items"`
	} `json:"changelog"`
}

// handle converts and stores a verified delivery.
func (h *WebhookHandler) handle(ctx context.Context, _ *http.Request, body []byte) collectors.WebhookAnswer {
	bad := func(reason string) collectors.WebhookAnswer {
		return collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: reason}
	}
	unavailable := collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "try again later"}
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return bad("malformed payload")
	}
	if p.WebhookEvent != eventIssueCreated && p.WebhookEvent != eventIssueUpdated {
		return collectors.WebhookAnswer{Status: http.StatusNoContent, Outcome: "ignored_event"}
	}
	if p.Issue == nil {
		return bad("issue event without issue")
	}
	events, result, err := h.convert(ctx, &p)
	switch {
	case errors.Is(err, errUnavailable):
		h.logger.ErrorContext(ctx, "jira webhook not stored", "issue", p.Issue.Key, "err", err)
		return unavailable
	case err != nil:
		h.logger.WarnContext(ctx, "jira webhook payload rejected", "issue", p.Issue.Key, "err", err)
		return bad("bad issue payload")
	}
	if len(events) > 0 {
		if err := h.w.WriteEvents(ctx, events); err != nil {
			h.logger.ErrorContext(ctx, "jira webhook not stored", "issue", p.Issue.Key, "err", err)
			return unavailable
		}
	}
	return collectors.WebhookAnswer{Status: http.StatusNoContent, Outcome: result}
}

var errUnavailable = errors.New("unavailable")

// convert turns an issue event into events with the polling converter.
func (h *WebhookHandler) convert(ctx context.Context, p *webhookPayload) ([]yardstick.Event, string, error) {
	projects, err := h.mappedProjects(ctx)
	if err != nil {
		return nil, "", errors.Join(errUnavailable, err)
	}
	pr, ok := projects[p.Issue.projectKey()]
	if !ok {
		return nil, "ignored_unmapped", nil
	}
	scopes := pr.scopesOf(p.Issue)
	if len(scopes) == 0 {
		return nil, "ignored_unmapped", nil
	}
	conv := converter{storyPoints: h.c.cfg.StoryPointsField, statuses: h.c.statusIndex(ctx, h.cfg.StatusWait)}
	events, err := payloadEvents(p, scopes, conv, h.c.now())
	if err != nil {
		return nil, "", err
	}
	return events, "stored", nil
}

// payloadEvents converts an issue webhook payload into the events of scopes
// with the polling converter. The payload's changelog is dated by its
// timestamp, or now when it has none. An event time the store cannot hold
// is an ErrInvalid error.
func payloadEvents(p *webhookPayload, scopes []yardstick.Scope, conv converter, now time.Time) ([]yardstick.Event, error) {
	if p.Issue == nil {
		return nil, fmt.Errorf("%s without issue: %w", p.WebhookEvent, yardstick.ErrInvalid)
	}
	at := now
	if p.Timestamp > 0 {
		at = time.UnixMilli(p.Timestamp)
	}
	var histories []jira.ChangelogHistory
	if p.Changelog != nil && len(p.Changelog.Items) > 0 && p.Changelog.ID != "" {
		hist := jira.ChangelogHistory{Id: p.Changelog.ID, Created: at.UTC().Format("2006-01-02T15:04:05.000-0700"), Items: p.Changelog.Items}
		if p.User != nil {
			hist.Author = *p.User
		}
		histories = append(histories, hist)
	}
	events, err := conv.events(p.Issue, histories, scopes, p.WebhookEvent == eventIssueCreated)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		if err := yardstick.CheckEventTime(e.Time); err != nil {
			return nil, fmt.Errorf("issue %s: %s: %w", p.Issue.Key, e.Type, err)
		}
	}
	return events, nil
}

// mappedProjects returns the catalog's Jira projects, cached for MappingTTL.
func (h *WebhookHandler) mappedProjects(ctx context.Context) (map[string]project, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.projects != nil && h.c.now().Sub(h.projectsAt) < h.cfg.MappingTTL {
		return h.projects, nil
	}
	mappings, err := h.c.catalog.ScopeMappings(ctx)
	if err != nil {
		return nil, err
	}
	h.projects, h.projectsAt = projectsByKey(groupProjects(mappings)), h.c.now()
	return h.projects, nil
}

// authorized checks the shared secret and the HMAC signature that are
// configured, in constant time.
func (h *WebhookHandler) authorized(r *http.Request, body []byte) bool {
	if want := h.cfg.Secret.Reveal(); want != "" {
		got := r.Header.Get(SecretHeader)
		if got == "" {
			got = r.URL.Query().Get(SecretParam)
		}
		if !collectors.EqualSecret(got, want) {
			return false
		}
	}
	if key := h.cfg.SigningSecret.Reveal(); key != "" {
		algo, sig, ok := strings.Cut(r.Header.Get(SignatureHeader), "=")
		if !ok || !strings.EqualFold(algo, "sha256") || !collectors.VerifyHMAC(strings.TrimSpace(sig), []byte(key), body) {
			return false
		}
	}
	return true
}
