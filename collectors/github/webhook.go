package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v62/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// WebhookConfig configures the webhook endpoint.
type WebhookConfig struct {
	Secret  yardstick.Secret // the webhook's secret, required
	MaxBody int64            // bytes; default 25 MiB, GitHub's own cap on payloads
	// Registerer gets the scaffold's yardstick_webhook_requests_total; nil
	// counts without exporting.
	Registerer prometheus.Registerer
}

// DefaultMaxWebhookBody is GitHub's cap on webhook payloads.
const DefaultMaxWebhookBody = githost.DefaultMaxWebhookBody

// catalogTTL is how long the handler trusts its copy of the catalog's repositories.
const catalogTTL = githost.CatalogTTL

// WebhookHandler receives GitHub webhook deliveries (pull_request,
// pull_request_review, push, deployment, deployment_status, workflow_run,
// release) and writes the same rows polling would. Mount it at
// POST /webhooks/github. It answers 202 with the number of events written,
// 400 for a payload that does not parse and 503 when the catalog or the store
// fails (GitHub shows a failed delivery that can be redelivered); the
// collectors.Webhook scaffold answers 401 for a missing or wrong
// X-Hub-Signature-256, 413 over the body limit and 405 for other methods.
// Safe for concurrent use.
type WebhookHandler struct {
	githost.Hook
	c *Collector
}

// WebhookHandler returns the webhook endpoint writing into w.
func (c *Collector) WebhookHandler(w collectors.Writer, cfg WebhookConfig) (*WebhookHandler, error) {
	if cfg.Secret == "" {
		return nil, fmt.Errorf("github webhook: a secret is required: %w", yardstick.ErrInvalid)
	}
	h := &WebhookHandler{c: c}
	secret := []byte(cfg.Secret.Reveal())
	var err error
	h.Hook, err = githost.NewHook(w, c.catalog, c.now, c.logger, collectors.WebhookConfig{
		Source: SourceName, MaxBody: cfg.MaxBody, Registerer: cfg.Registerer,
		Verify: func(r *http.Request, body []byte) bool {
			sig, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
			return ok && collectors.VerifyHMAC(sig, secret, body)
		},
		Handle: h.handle,
	})
	return h, err
}

// handle converts and stores a verified delivery.
func (h *WebhookHandler) handle(ctx context.Context, r *http.Request, body []byte) collectors.WebhookAnswer {
	unavailable := collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "Try again later."}
	kind := r.Header.Get("X-GitHub-Event")
	d, err := parseDelivery(kind, body)
	if err != nil {
		h.Logger.WarnContext(ctx, "unparseable webhook", "event", kind, "delivery", r.Header.Get("X-GitHub-Delivery"), "err", err)
		return collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: "Unparseable " + kind + " payload."}
	}
	if d == nil {
		return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "ignored_event", Body: map[string]any{"events": 0, "ignored": "event " + kind}}
	}
	ok, err := h.Scopes.Has(ctx, d.scope)
	if err != nil {
		h.Logger.ErrorContext(ctx, "read catalog for webhook", "err", err)
		return unavailable
	}
	if !ok {
		return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "ignored_unmapped", Body: map[string]any{"events": 0, "ignored": "repository not in the catalog"}}
	}
	events := h.c.deliveryEvents(ctx, d)
	if len(events) > 0 {
		if err := h.W.WriteEvents(ctx, events); err != nil {
			h.Logger.ErrorContext(ctx, "write webhook events", "event", kind, "repo", d.slug, "err", err)
			return unavailable
		}
	}
	return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: "stored", Body: map[string]any{"events": len(events)}}
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body with secret;
// tests and the demo use it to deliver webhooks.
func Sign(secret yardstick.Secret, body []byte) string {
	return "sha256=" + collectors.SignHMAC([]byte(secret.Reveal()), body)
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
	// Every kind above names its repository; a push with its own type.
	var fullName string
	switch e := ev.(type) {
	case interface{ GetRepo() *gh.Repository }:
		fullName = e.GetRepo().GetFullName()
	case *gh.PushEvent:
		fullName = e.GetRepo().GetFullName()
	}
	if fullName == "" {
		return nil, fmt.Errorf("%s payload without repository.full_name", kind)
	}
	slug := strings.ToLower(fullName)
	return &delivery{kind: kind, slug: slug, scope: RepoScope(slug), event: ev}, nil
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
	return c.states.Ship(ctx, slug, c.deploy(slug, d, success{ID: d.GetID(), SHA: d.GetSHA(), At: st.GetCreatedAt().Time}))
}
