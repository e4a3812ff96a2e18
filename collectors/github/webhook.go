package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
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

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// WebhookConfig configures the webhook endpoint.
type WebhookConfig struct {
	Secret  yardstick.Secret // the webhook's secret, required
	MaxBody int64            // bytes; default 25 MiB, GitHub's own cap on payloads
}

// DefaultMaxWebhookBody is GitHub's cap on webhook payloads.
const DefaultMaxWebhookBody = 25 << 20

// catalogTTL is how long the handler trusts its copy of the catalog's repositories.
const catalogTTL = time.Minute

// catalogRefreshTimeout bounds a refresh of that copy; past it (or when the
// store is unavailable) the old copy decides. GitHub gives up on a delivery
// after 10s.
const catalogRefreshTimeout = 2 * time.Second

// WebhookHandler receives GitHub webhook deliveries (pull_request,
// pull_request_review, push, deployment, deployment_status, workflow_run,
// release) and writes the same rows polling would. Mount it at
// POST /webhooks/github. Safe for concurrent use.
type WebhookHandler struct {
	c       *Collector
	w       collectors.Writer
	secret  []byte
	maxBody int64
	logger  *slog.Logger

	mu      sync.Mutex
	scopes  map[yardstick.Scope]bool
	checked time.Time
}

// WebhookHandler returns the webhook endpoint writing into w.
func (c *Collector) WebhookHandler(w collectors.Writer, cfg WebhookConfig) (*WebhookHandler, error) {
	if cfg.Secret == "" {
		return nil, fmt.Errorf("github webhook: a secret is required: %w", yardstick.ErrInvalid)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxWebhookBody
	}
	return &WebhookHandler{c: c, w: w, secret: []byte(cfg.Secret.Reveal()), maxBody: cfg.MaxBody, logger: c.logger.With("handler", "webhook")}, nil
}

// ServeHTTP answers 202 with the number of events written, 401 for a missing or
// wrong X-Hub-Signature-256, 413 for a body over the limit, 400 for a payload
// that does not parse, 503 with Retry-After when the writer is unavailable
// (yardstick.ErrUnavailable: a full spool, a store that is down) and 500 when
// it fails otherwise (GitHub shows both as failed deliveries that can be
// redelivered).
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Method not allowed."})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("Body over %d bytes.", h.maxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Unreadable body."})
		return
	}
	if !h.verify(r.Header.Get("X-Hub-Signature-256"), body) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Bad signature."})
		return
	}
	kind := r.Header.Get("X-GitHub-Event")
	d, err := parseDelivery(kind, body)
	if err != nil {
		h.logger.WarnContext(ctx, "unparseable webhook", "event", kind, "delivery", r.Header.Get("X-GitHub-Delivery"), "err", err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Unparseable " + kind + " payload."})
		return
	}
	if d == nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"events": 0, "ignored": "event " + kind})
		return
	}
	ok, err := h.inCatalog(ctx, d.scope)
	if err != nil {
		h.logger.ErrorContext(ctx, "read catalog for webhook", "err", err)
		if errors.Is(err, yardstick.ErrUnavailable) {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "Unavailable; redeliver later."})
			return
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Internal error."})
		return
	}
	if !ok {
		writeJSON(w, http.StatusAccepted, map[string]any{"events": 0, "ignored": "repository not in the catalog"})
		return
	}
	events := h.c.deliveryEvents(ctx, d)
	if len(events) > 0 {
		if err := h.w.WriteEvents(ctx, events); err != nil {
			h.logger.ErrorContext(ctx, "write webhook events", "event", kind, "repo", d.slug, "err", err)
			if errors.Is(err, yardstick.ErrUnavailable) {
				// The store (or the spool in front of it) is full or down: the
				// delivery was not kept, and GitHub may redeliver it later.
				w.Header().Set("Retry-After", "30")
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "Unavailable; redeliver later."})
				return
			}
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Internal error."})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"events": len(events)})
}

// verify checks X-Hub-Signature-256 ("sha256=<hex hmac of the body>") in constant time.
func (h *WebhookHandler) verify(header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body with secret;
// tests and the demo use it to deliver webhooks.
func Sign(secret yardstick.Secret, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (h *WebhookHandler) inCatalog(ctx context.Context, scope yardstick.Scope) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scopes == nil || h.c.now().Sub(h.checked) > catalogTTL {
		rctx := ctx
		if h.scopes != nil {
			// With a copy to fall back on, a slow store must not hold the
			// delivery (and the ones queued behind this lock) for long.
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, catalogRefreshTimeout)
			defer cancel()
		}
		maps, err := h.c.catalog.ScopeMappings(rctx)
		if err != nil && h.scopes != nil && (errors.Is(err, yardstick.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
			// The store is down: the last copy of the catalog decides, so a
			// delivery still reaches the spool during an outage.
			h.logger.WarnContext(ctx, "catalog unavailable; using the last copy", "age", h.c.now().Sub(h.checked), "err", err)
			return h.scopes[scope], nil
		}
		if err != nil {
			return false, err
		}
		h.scopes = map[yardstick.Scope]bool{}
		for _, m := range maps {
			h.scopes[m.Scope] = true
		}
		h.checked = h.c.now()
	}
	return h.scopes[scope], nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// delivery is a parsed webhook payload of a kind the collector converts.
type delivery struct {
	kind  string
	slug  string
	scope yardstick.Scope
	event any // *gh.PullRequestEvent, *gh.PushEvent, …
}

// parseDelivery decodes a payload with go-github. It returns nil for event kinds
// and actions that carry nothing to collect.
func parseDelivery(kind string, body []byte) (*delivery, error) {
	switch kind {
	case "pull_request", "pull_request_review", "push", "deployment", "deployment_status", "workflow_run", "release":
	default:
		return nil, nil
	}
	ev, err := gh.ParseWebHook(kind, body)
	if err != nil {
		return nil, err
	}
	var fullName string
	switch e := ev.(type) {
	case *gh.PullRequestEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.PullRequestReviewEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.PushEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.DeploymentEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.DeploymentStatusEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.WorkflowRunEvent:
		fullName = e.GetRepo().GetFullName()
	case *gh.ReleaseEvent:
		fullName = e.GetRepo().GetFullName()
	}
	if fullName == "" {
		return nil, fmt.Errorf("%s payload without repository.full_name", kind)
	}
	slug := strings.ToLower(fullName)
	return &delivery{kind: kind, slug: slug, scope: yardstick.GitHubScope(slug), event: ev}, nil
}

// deliveryEvents converts a delivery with the same functions as the REST sync.
// Where polling reads more than the payload holds (a merged pull request's
// commits, a push's commit dates and parents, a deployment's shipped commits) it
// asks the API the same way; when that fails the rows are written from the
// payload alone and the next sync completes them.
//
// An event whose time the store cannot hold (before 1970, after 2105) is left
// out with a warning, so that one bad timestamp does not refuse the delivery.
func (c *Collector) deliveryEvents(ctx context.Context, d *delivery) (out []yardstick.Event) {
	log := c.logger.With("repo", d.slug, "event", d.kind)
	defer func() {
		kept := out[:0]
		for _, e := range out {
			if err := yardstick.CheckEventTime(e.Time); err != nil {
				log.WarnContext(ctx, "webhook event left out", "type", e.Type, "id", e.ID, "err", err)
				continue
			}
			kept = append(kept, e)
		}
		out = kept
	}()
	switch e := d.event.(type) {
	case *gh.PullRequestEvent:
		commits, err := c.pullCommits(ctx, d.slug, e.GetPullRequest())
		if err != nil {
			log.WarnContext(ctx, "read pull request commits for webhook", "err", err)
		}
		return pullEvents(d.scope, e.GetPullRequest(), commits)
	case *gh.PullRequestReviewEvent:
		if ev, ok := reviewEvent(d.scope, e.GetPullRequest(), e.GetReview()); ok {
			return []yardstick.Event{ev}
		}
	case *gh.PushEvent:
		return c.pushEvents(ctx, d, e)
	case *gh.DeploymentEvent:
		return deploymentEvents(d.scope, e.GetDeployment(), nil, shipment{})
	case *gh.DeploymentStatusEvent:
		dep, st := e.GetDeployment(), e.GetDeploymentStatus()
		statuses := []*gh.DeploymentStatus{st}
		var ship shipment
		if st.GetState() == "success" {
			var err error
			if ship, err = c.webhookShipped(ctx, d.slug, dep, st); err != nil {
				log.WarnContext(ctx, "read shipped commits for webhook", "deployment", dep.GetID(), "err", err)
			}
		}
		return deploymentEvents(d.scope, dep, statuses, ship)
	case *gh.WorkflowRunEvent:
		if ev, ok := runEvent(d.scope, e.GetWorkflowRun()); ok {
			return []yardstick.Event{ev}
		}
	case *gh.ReleaseEvent:
		if ev, ok := releaseEvent(d.scope, e.GetRelease()); ok {
			return []yardstick.Event{ev}
		}
	}
	return nil
}

// pushEvents converts a push to the default branch: the commits come from the
// compare API (as the REST sync reads them) or, failing that, from the payload.
func (c *Collector) pushEvents(ctx context.Context, d *delivery, e *gh.PushEvent) []yardstick.Event {
	branch := e.GetRepo().GetDefaultBranch()
	if e.GetDeleted() || branch == "" || e.GetRef() != "refs/heads/"+branch {
		return nil
	}
	var commits []*gh.RepositoryCommit
	if before := e.GetBefore(); before != "" && strings.Trim(before, "0") != "" {
		var err error
		if commits, err = c.compareCommits(ctx, d.slug, before, e.GetAfter()); err != nil {
			c.logger.WarnContext(ctx, "read pushed commits for webhook", "repo", d.slug, "err", err)
			commits = nil
		}
	}
	if commits == nil {
		for _, hc := range e.Commits {
			commits = append(commits, payloadCommit(hc))
		}
	}
	var out []yardstick.Event
	for _, rc := range commits {
		if ev, ok := commitEvent(d.scope, branch, rc); ok {
			out = append(out, ev)
		}
	}
	return out
}

// payloadCommit shapes a push payload's commit like the REST API's, which has
// both dates; the payload has one timestamp, used for both.
func payloadCommit(hc *gh.HeadCommit) *gh.RepositoryCommit {
	ts := hc.GetTimestamp()
	return &gh.RepositoryCommit{
		SHA:    gh.String(hc.GetID()),
		Author: &gh.User{Login: hc.GetAuthor().Login},
		Commit: &gh.Commit{
			Author:    &gh.CommitAuthor{Date: &ts},
			Committer: &gh.CommitAuthor{Date: &ts},
		},
	}
}

// webhookShipped computes a successful deployment's shipped commits from the
// repository's saved successes and records the deployment among them.
func (c *Collector) webhookShipped(ctx context.Context, slug string, d *gh.Deployment, st *gh.DeploymentStatus) (shipment, error) {
	saved, err := c.loadState(ctx, slug)
	if err != nil {
		return shipment{}, err
	}
	succ := saved.Successes
	if succ == nil {
		succ = successMap{}
	}
	ship, err := c.shipped(ctx, slug, succ, d)
	if err != nil {
		return shipment{}, err
	}
	err = c.updateState(ctx, slug, func(cur *repoState) {
		if cur.Successes == nil {
			cur.Successes = successMap{}
		}
		cur.Successes.add(d.GetEnvironment(), success{ID: d.GetID(), SHA: d.GetSHA(), At: st.GetCreatedAt().Time})
	})
	return ship, err
}
