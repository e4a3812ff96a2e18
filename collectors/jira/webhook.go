package jira

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
	"strings"
	"sync"
	"time"

	jira "github.com/andygrunwald/go-jira"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

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
// signature 401, oversized body 413, malformed payload 400, storage or catalog
// unavailable 503 (Jira retries), everything else 204.
type WebhookHandler struct {
	c       *Collector
	cfg     WebhookConfig
	w       collectors.Writer
	logger  *slog.Logger
	results *prometheus.CounterVec

	mu         sync.Mutex
	projects   map[string]project
	projectsAt time.Time
}

// WebhookHandler returns the webhook endpoint. w stores what arrives; reg gets
// the counter yardstick_jira_webhook_requests_total{result}.
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
	h := &WebhookHandler{
		c: c, cfg: cfg, w: w, logger: c.logger.With("handler", "webhook"),
		results: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "yardstick_jira_webhook_requests_total",
			Help: "Jira webhook requests by result (stored, ignored_event, ignored_unmapped, unauthorized, too_large, bad_request, unavailable, method_not_allowed).",
		}, []string{"result"}),
	}
	for _, r := range []string{"stored", "ignored_event", "ignored_unmapped", "unauthorized", "too_large", "bad_request", "unavailable", "method_not_allowed"} {
		h.results.WithLabelValues(r)
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

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		h.answer(rw, "method_not_allowed", http.StatusMethodNotAllowed, "POST only")
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		h.answer(rw, "too_large", http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.answer(rw, "too_large", http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		h.answer(rw, "bad_request", http.StatusBadRequest, "unreadable body")
		return
	}
	if !h.authorized(r, body) {
		h.logger.WarnContext(ctx, "jira webhook rejected", "remote", r.RemoteAddr)
		h.answer(rw, "unauthorized", http.StatusUnauthorized, "bad secret or signature")
		return
	}
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		h.answer(rw, "bad_request", http.StatusBadRequest, "malformed payload")
		return
	}
	if p.WebhookEvent != eventIssueCreated && p.WebhookEvent != eventIssueUpdated {
		h.answer(rw, "ignored_event", http.StatusNoContent, "")
		return
	}
	if p.Issue == nil {
		h.answer(rw, "bad_request", http.StatusBadRequest, "issue event without issue")
		return
	}
	events, result, err := h.convert(ctx, &p)
	switch {
	case errors.Is(err, errUnavailable):
		h.logger.ErrorContext(ctx, "jira webhook not stored", "issue", p.Issue.Key, "err", err)
		rw.Header().Set("Retry-After", "30")
		h.answer(rw, "unavailable", http.StatusServiceUnavailable, "try again later")
		return
	case err != nil:
		h.logger.WarnContext(ctx, "jira webhook payload rejected", "issue", p.Issue.Key, "err", err)
		h.answer(rw, "bad_request", http.StatusBadRequest, "bad issue payload")
		return
	}
	if len(events) > 0 {
		if err := h.w.WriteEvents(ctx, events); err != nil {
			h.logger.ErrorContext(ctx, "jira webhook not stored", "issue", p.Issue.Key, "err", err)
			rw.Header().Set("Retry-After", "30")
			h.answer(rw, "unavailable", http.StatusServiceUnavailable, "try again later")
			return
		}
	}
	h.answer(rw, result, http.StatusNoContent, "")
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

// authorized checks the shared secret and the HMAC signature that are configured.
func (h *WebhookHandler) authorized(r *http.Request, body []byte) bool {
	if want := h.cfg.Secret.Reveal(); want != "" {
		got := r.Header.Get(SecretHeader)
		if got == "" {
			got = r.URL.Query().Get(SecretParam)
		}
		if !equalSecret(got, want) {
			return false
		}
	}
	if key := h.cfg.SigningSecret.Reveal(); key != "" {
		algo, sig, ok := strings.Cut(r.Header.Get(SignatureHeader), "=")
		if !ok || !strings.EqualFold(algo, "sha256") {
			return false
		}
		got, err := hex.DecodeString(strings.TrimSpace(sig))
		if err != nil {
			return false
		}
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return false
		}
	}
	return true
}

// equalSecret compares in constant time, hashing first so that not even the
// length of the secret leaks through timing.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func (h *WebhookHandler) answer(rw http.ResponseWriter, result string, status int, msg string) {
	h.results.WithLabelValues(result).Inc()
	if msg == "" {
		rw.WriteHeader(status)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": msg})
}
