package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// DefaultMaxWebhookBody caps a delivery's body (GitLab's own default limit
// for webhook payloads is 25 MB).
const DefaultMaxWebhookBody = githost.DefaultMaxWebhookBody

// WebhookHandler receives GitLab project webhooks, group webhooks and system
// hooks (merge request, note, push, pipeline, deployment and release events)
// and writes the rows polling would write: for each delivery it reads the
// object it names through the API and converts it with the polling code. When
// that read fails it converts the payload itself where the payload carries
// enough, and the next sync completes the rows. Mount it at
// POST /webhooks/gitlab. Safe for concurrent use.
type WebhookHandler struct {
	githost.Hook
	c          *Collector
	deliveries *prometheus.CounterVec
}

// WebhookHandler returns the hook endpoint writing into w. secret is the
// secret token configured on the hook. reg may be nil.
func (c *Collector) WebhookHandler(w collectors.Writer, secret yardstick.Secret, maxBody int64, reg prometheus.Registerer) (*WebhookHandler, error) {
	if secret == "" {
		return nil, fmt.Errorf("gitlab webhook: a secret token is required: %w", yardstick.ErrInvalid)
	}
	if w == nil {
		return nil, fmt.Errorf("gitlab webhook: a writer is required: %w", yardstick.ErrInvalid)
	}
	h := &WebhookHandler{c: c}
	token := secret.Reveal()
	var err error
	h.Hook, err = githost.NewHook(w, c.catalog, c.now, c.logger, collectors.WebhookConfig{
		Source: SourceName, MaxBody: maxBody, Registerer: reg,
		Verify: func(r *http.Request, _ []byte) bool {
			if !collectors.EqualSecret(r.Header.Get("X-Gitlab-Token"), token) {
				h.deliveries.WithLabelValues("", "rejected").Inc()
				return false
			}
			return true
		},
		Handle: h.handle,
	})
	if err != nil {
		return nil, err
	}
	h.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yardstick_gitlab_webhook_deliveries_total",
		Help: "GitLab hook deliveries by object kind and result (written, ignored, unknown_kind, rejected).",
	}, []string{"kind", "result"})
	if reg != nil {
		if err := reg.Register(h.deliveries); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("gitlab webhook metrics: %w", err)
			}
			h.deliveries = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return h, nil
}

// Counter returns the deliveries counter (for tests and /metrics).
func (h *WebhookHandler) Counter() *prometheus.CounterVec { return h.deliveries }

// handle answers a verified delivery: 202 with the number of events written,
// 400 with the reason for a payload that does not parse, 202 for kinds and
// projects it does not collect (counted as ignored), and 503 when the catalog
// or the store fails, so GitLab shows a failed delivery that can be resent.
// The collectors.Webhook scaffold answers 401 for a missing or wrong
// X-Gitlab-Token, 405 for other methods and 413 for a body over the limit.
func (h *WebhookHandler) handle(ctx context.Context, r *http.Request, body []byte) collectors.WebhookAnswer {
	bad := func(reason string) collectors.WebhookAnswer {
		return collectors.WebhookAnswer{Status: http.StatusBadRequest, Outcome: collectors.OutcomeBadRequest, Reason: reason}
	}
	accepted := func(outcome string, body map[string]any) collectors.WebhookAnswer {
		return collectors.WebhookAnswer{Status: http.StatusAccepted, Outcome: outcome, Body: body}
	}
	var p hookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return bad("Payload is not valid JSON: " + err.Error())
	}
	kind := p.kind()
	if !knownKinds[kind] {
		h.deliveries.WithLabelValues("other", "unknown_kind").Inc()
		return accepted("ignored_event", map[string]any{"events": 0, "ignored": "event kind " + quoteKind(kind, r.Header.Get("X-Gitlab-Event"))})
	}
	project := strings.ToLower(strings.Trim(p.Project.PathWithNamespace, "/"))
	if _, ok := ProjectOf(Scope(project)); !ok {
		return bad(kind + " payload without project.path_with_namespace.")
	}
	ok, err := h.Scopes.Has(ctx, Scope(project))
	if err != nil {
		h.Logger.ErrorContext(ctx, "read catalog for webhook", "err", err)
		return collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "Catalog unavailable, resend later."}
	}
	if !ok || !h.c.cfg.inGroups(project) {
		h.deliveries.WithLabelValues(kind, "ignored").Inc()
		return accepted("ignored_unmapped", map[string]any{"events": 0, "ignored": "project not in the catalog"})
	}
	events, err := h.c.hookEvents(ctx, project, kind, &p)
	if err != nil {
		return bad(err.Error())
	}
	if len(events) > 0 {
		if err := h.W.WriteEvents(ctx, events); err != nil {
			h.Logger.ErrorContext(ctx, "write webhook events", "kind", kind, "project", project, "err", err)
			return collectors.WebhookAnswer{Status: http.StatusServiceUnavailable, Outcome: collectors.OutcomeUnavailable, Reason: "Store unavailable, resend later."}
		}
	}
	h.deliveries.WithLabelValues(kind, "written").Inc()
	return accepted("stored", map[string]any{"events": len(events)})
}

func quoteKind(kind, header string) string {
	if kind == "" {
		kind = header
	}
	if len(kind) > 64 {
		kind = kind[:64]
	}
	return fmt.Sprintf("%q", kind)
}

// knownKinds are the object kinds the handler converts.
var knownKinds = map[string]bool{"merge_request": true, "note": true, "push": true, "pipeline": true, "deployment": true, "release": true}

// hookTime parses the timestamp formats GitLab hooks use: RFC 3339
// ("2013-12-03T17:23:34Z"), "2015-05-17 18:08:09 UTC" and
// "2021-04-28 21:50:00 +0200".
type hookTime struct{ time.Time }

func (t *hookTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil //nolint:nilerr // null and non-strings are no time
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q: unknown format", s)
}

func (t hookTime) ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// hookPayload holds the fields of the hook kinds the handler converts.
type hookPayload struct {
	ObjectKind string `json:"object_kind"`
	EventName  string `json:"event_name"`
	Project    struct {
		PathWithNamespace string `json:"path_with_namespace"`
		DefaultBranch     string `json:"default_branch"`
	} `json:"project"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectAttributes json.RawMessage `json:"object_attributes"`
	MergeRequest     *struct {
		IID int64 `json:"iid"`
	} `json:"merge_request"`
	// push
	Before  string       `json:"before"`
	After   string       `json:"after"`
	Ref     string       `json:"ref"`
	Commits []hookCommit `json:"commits"`
	// deployment
	DeploymentID int64  `json:"deployment_id"`
	Status       string `json:"status"`
	// release
	Tag        string   `json:"tag"`
	Name       string   `json:"name"`
	ReleasedAt hookTime `json:"released_at"`
	Commit     struct {
		ID string `json:"id"`
	} `json:"commit"`
}

type hookCommit struct {
	ID        string   `json:"id"`
	Timestamp hookTime `json:"timestamp"`
	Author    struct {
		Email string `json:"email"`
	} `json:"author"`
}

// hookMR is a merge request hook's object_attributes.
type hookMR struct {
	IID            int64    `json:"iid"`
	Title          string   `json:"title"`
	State          string   `json:"state"`
	TargetBranch   string   `json:"target_branch"`
	SourceBranch   string   `json:"source_branch"`
	CreatedAt      hookTime `json:"created_at"`
	UpdatedAt      hookTime `json:"updated_at"`
	MergeCommitSHA string   `json:"merge_commit_sha"`
	Draft          bool     `json:"draft"`
	URL            string   `json:"url"`
	Action         string   `json:"action"`
	LastCommit     struct {
		ID string `json:"id"`
	} `json:"last_commit"`
}

// hookPipeline is a pipeline hook's object_attributes.
type hookPipeline struct {
	ID         int64    `json:"id"`
	IID        int64    `json:"iid"`
	Name       string   `json:"name"`
	Ref        string   `json:"ref"`
	SHA        string   `json:"sha"`
	Source     string   `json:"source"`
	Status     string   `json:"status"`
	CreatedAt  hookTime `json:"created_at"`
	FinishedAt hookTime `json:"finished_at"`
	Duration   int64    `json:"duration"`
}

// kind is the object kind; system hooks for pushes name it in event_name.
func (p *hookPayload) kind() string {
	if p.ObjectKind != "" {
		return p.ObjectKind
	}
	return p.EventName
}

// hookEvents converts a delivery of kind for project. It returns an error only
// for a payload that lacks what its kind needs.
func (c *Collector) hookEvents(ctx context.Context, project, kind string, p *hookPayload) ([]yardstick.Event, error) {
	scope := Scope(project)
	log := c.logger.With("project", project, "kind", kind)
	switch kind {
	case "merge_request", "note":
		var attrs hookMR
		if kind == "merge_request" {
			if err := json.Unmarshal(p.ObjectAttributes, &attrs); err != nil {
				return nil, fmt.Errorf("merge_request payload: object_attributes: %w", err)
			}
		} else {
			if p.MergeRequest == nil {
				return nil, nil // a note on an issue, commit or snippet
			}
			if err := json.Unmarshal(p.ObjectAttributes, &struct{}{}); err != nil {
				return nil, fmt.Errorf("note payload: object_attributes: %w", err)
			}
			attrs.IID = p.MergeRequest.IID
		}
		if attrs.IID == 0 {
			return nil, fmt.Errorf("%s payload without a merge request iid", kind)
		}
		mr, resp, err := c.api.MergeRequests.GetMergeRequest(project, attrs.IID, nil, gl.WithContext(ctx))
		if err != nil {
			log.WarnContext(ctx, "read merge request for hook", "iid", attrs.IID, "err", apiError("get merge request", resp, err))
			if kind == "note" {
				return nil, nil
			}
			return mrEvents(scope, attrs.basic(p.User.Username), mrDetails{}), nil
		}
		events, err := c.mergeRequestEvents(ctx, project, scope, &mr.BasicMergeRequest)
		if err != nil {
			log.WarnContext(ctx, "read merge request details for hook", "iid", attrs.IID, "err", err)
			return mrEvents(scope, &mr.BasicMergeRequest, mrDetails{}), nil
		}
		return events, nil
	case "push":
		return c.pushEvents(ctx, project, p), nil
	case "pipeline":
		var attrs hookPipeline
		if err := json.Unmarshal(p.ObjectAttributes, &attrs); err != nil {
			return nil, fmt.Errorf("pipeline payload: object_attributes: %w", err)
		}
		if attrs.ID == 0 {
			return nil, errors.New("pipeline payload without object_attributes.id")
		}
		if _, done := conclusions[attrs.Status]; !done {
			return nil, nil
		}
		pl, err := c.pipeline(ctx, project, attrs.ID)
		if err != nil {
			log.WarnContext(ctx, "read pipeline for hook", "id", attrs.ID, "err", err)
			pl = attrs.pipeline(p.User.Username)
		}
		if e, ok := pipelineEvent(scope, pl); ok {
			return []yardstick.Event{e}, nil
		}
	case "deployment":
		if p.DeploymentID == 0 {
			return nil, errors.New("deployment payload without deployment_id")
		}
		d, resp, err := c.api.Deployments.GetProjectDeployment(project, p.DeploymentID, gl.WithContext(ctx))
		if err != nil {
			// The payload has neither the full sha nor the start time: the next
			// sync writes this deployment.
			log.WarnContext(ctx, "read deployment for hook", "id", p.DeploymentID, "err", apiError("get deployment", resp, err))
			return nil, nil
		}
		var ship shipment
		if d.Status == "success" {
			if ship, err = c.hookShipped(ctx, project, d); err != nil {
				log.WarnContext(ctx, "read shipped commits for hook", "id", d.ID, "err", err)
			}
		}
		return deploymentEvents(scope, d, ship), nil
	case "release":
		if p.Tag == "" {
			return nil, errors.New("release payload without tag")
		}
		r, resp, err := c.api.Releases.GetRelease(project, p.Tag, gl.WithContext(ctx))
		if err != nil {
			log.WarnContext(ctx, "read release for hook", "tag", p.Tag, "err", apiError("get release", resp, err))
			r = &gl.Release{TagName: p.Tag, Name: p.Name, ReleasedAt: p.ReleasedAt.ptr(), Commit: gl.Commit{ID: p.Commit.ID}}
		}
		if e, ok := releaseEvent(scope, r, c.now()); ok {
			return []yardstick.Event{e}, nil
		}
	}
	return nil, nil
}

// basic shapes a merge request hook's attributes like the REST API's merge
// request, for when the API cannot be read. The hook names no author login and
// no merge time: the actor of the hook stands in, and the update time is taken
// as the merge or close time.
func (a hookMR) basic(actor string) *gl.BasicMergeRequest {
	mr := &gl.BasicMergeRequest{
		IID: a.IID, Title: a.Title, State: a.State, TargetBranch: a.TargetBranch, SourceBranch: a.SourceBranch,
		CreatedAt: a.CreatedAt.ptr(), UpdatedAt: a.UpdatedAt.ptr(), SHA: a.LastCommit.ID, MergeCommitSHA: a.MergeCommitSHA,
		Draft: a.Draft, WebURL: a.URL,
	}
	if a.Action == "open" {
		mr.Author = &gl.BasicUser{Username: actor}
	}
	switch a.State {
	case "merged":
		mr.MergedAt = a.UpdatedAt.ptr()
		mr.MergedBy = &gl.BasicUser{Username: actor}
	case "closed":
		mr.ClosedAt = a.UpdatedAt.ptr()
		mr.ClosedBy = &gl.BasicUser{Username: actor}
	}
	return mr
}

func (a hookPipeline) pipeline(actor string) *gl.Pipeline {
	return &gl.Pipeline{
		ID: a.ID, IID: a.IID, Name: a.Name, Ref: a.Ref, SHA: a.SHA, Source: gl.PipelineSource(a.Source), Status: a.Status,
		CreatedAt: a.CreatedAt.ptr(), FinishedAt: a.FinishedAt.ptr(), UpdatedAt: a.FinishedAt.ptr(), Duration: a.Duration,
		User: &gl.BasicUser{Username: actor},
	}
}

// pushEvents converts a push to the default branch: the commits come from the
// compare API (as complete as the REST sync reads them) or, failing that and
// for a new branch, from the payload.
func (c *Collector) pushEvents(ctx context.Context, project string, p *hookPayload) []yardstick.Event {
	branch := p.Project.DefaultBranch
	if branch == "" || p.Ref != "refs/heads/"+branch || strings.Trim(p.After, "0") == "" {
		return nil
	}
	var commits []*gl.Commit
	if strings.Trim(p.Before, "0") != "" {
		cmp, resp, err := c.api.Repositories.Compare(project, &gl.CompareOptions{From: ptr(p.Before), To: ptr(p.After)}, gl.WithContext(ctx))
		if err != nil {
			c.logger.WarnContext(ctx, "read pushed commits for hook", "project", project, "err", apiError("compare", resp, err))
		} else {
			commits = cmp.Commits
		}
	}
	if commits == nil {
		for _, hc := range p.Commits {
			commits = append(commits, &gl.Commit{ID: hc.ID, AuthoredDate: hc.Timestamp.ptr(), CommittedDate: hc.Timestamp.ptr(), AuthorEmail: hc.Author.Email})
		}
	}
	var out []yardstick.Event
	for _, cm := range commits {
		if e, ok := commitEvent(Scope(project), branch, cm); ok {
			out = append(out, e)
		}
	}
	return out
}

// hookShipped computes a successful deployment's shipped commits from the
// project's saved successes and records the deployment among them.
func (c *Collector) hookShipped(ctx context.Context, project string, d *gl.Deployment) (shipment, error) {
	return c.states.Ship(ctx, project, c.deploy(project, d))
}
