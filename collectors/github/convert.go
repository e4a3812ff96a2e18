package github

import (
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// This file turns go-github values into events of the shared vocabulary. The REST
// sync and the webhook handler both call these functions, so a pull request read
// by polling and the same pull request pushed by a webhook give identical rows.

// SourceName is the events' and facts' source name.
const SourceName = "github"

func newEvent(typ string, scope yardstick.Scope, id string, at time.Time, actor string) yardstick.Event {
	return yardstick.Event{
		Source: SourceName, Type: typ, Scope: scope, ID: id, Time: at.UTC().Truncate(time.Second), Actor: actor,
		Num: map[string]float64{}, Str: map[string]string{},
	}
}

func boolStr(b bool) string { return strconv.FormatBool(b) }

func unix(t time.Time) float64 { return float64(t.Unix()) }

// pullEvents converts one pull request, as GET /pulls/{n} or a pull_request
// webhook shows it, into change.opened and, once it is closed, change.merged or
// change.closed. commits are the pull request's own commits (empty when not
// read); a merged pull request carries their shas in Related besides its head
// sha, so rebase merges can be joined by the original commits too, and the
// earliest author date as first_commit_at.
func pullEvents(scope yardstick.Scope, pr *gh.PullRequest, commits prCommits) []yardstick.Event {
	if pr == nil || pr.Number == nil || pr.CreatedAt == nil {
		return nil
	}
	id := strconv.Itoa(pr.GetNumber())
	author := pr.GetUser().GetLogin()
	attrs := func(e *yardstick.Event) {
		e.Num["number"] = float64(pr.GetNumber())
		e.Num["additions"] = float64(pr.GetAdditions())
		e.Num["deletions"] = float64(pr.GetDeletions())
		e.Num["changed_files"] = float64(pr.GetChangedFiles())
		e.Num["commits"] = float64(pr.GetCommits())
		e.Num["opened_at"] = unix(pr.GetCreatedAt().Time)
		e.Str["base"] = pr.GetBase().GetRef()
		e.Str["head"] = pr.GetHead().GetRef()
		e.Str["head_sha"] = pr.GetHead().GetSHA()
		e.Str["author"] = author
		e.Str["draft"] = boolStr(pr.GetDraft())
		e.Str["title"] = pr.GetTitle()
		e.Str["url"] = pr.GetHTMLURL()
	}
	opened := newEvent(yardstick.ChangeOpened, scope, id, pr.GetCreatedAt().Time, author)
	attrs(&opened)
	out := []yardstick.Event{opened}
	switch {
	case pr.MergedAt != nil && !pr.GetMergedAt().IsZero():
		e := newEvent(yardstick.ChangeMerged, scope, id, pr.GetMergedAt().Time, pr.GetMergedBy().GetLogin())
		attrs(&e)
		e.Str["merge_commit_sha"] = pr.GetMergeCommitSHA()
		e.Str["merged_by"] = pr.GetMergedBy().GetLogin()
		e.Num["open_seconds"] = pr.GetMergedAt().Sub(pr.GetCreatedAt().Time).Seconds()
		e.Related = uniqueSHAs(append([]string{pr.GetHead().GetSHA()}, commits.shas...))
		if !commits.first.IsZero() {
			e.Num["first_commit_at"] = unix(commits.first)
		}
		out = append(out, e)
	case pr.GetState() == "closed" && pr.ClosedAt != nil:
		e := newEvent(yardstick.ChangeClosed, scope, id, pr.GetClosedAt().Time, author)
		attrs(&e)
		e.Num["open_seconds"] = pr.GetClosedAt().Sub(pr.GetCreatedAt().Time).Seconds()
		out = append(out, e)
	}
	return out
}

// reviewEvent converts one submitted review of pull request pr. Pending reviews
// (not submitted yet) give no event. First review time and approvals of a pull
// request are the earliest and the approved change.reviewed events with its number.
func reviewEvent(scope yardstick.Scope, pr *gh.PullRequest, r *gh.PullRequestReview) (yardstick.Event, bool) {
	if r == nil || r.ID == nil || r.SubmittedAt == nil || strings.EqualFold(r.GetState(), "pending") {
		return yardstick.Event{}, false
	}
	e := newEvent(yardstick.ChangeReviewed, scope, strconv.FormatInt(r.GetID(), 10), r.GetSubmittedAt().Time, r.GetUser().GetLogin())
	e.Num["number"] = float64(pr.GetNumber())
	e.Num["opened_at"] = unix(pr.GetCreatedAt().Time)
	e.Str["state"] = strings.ToLower(r.GetState())
	e.Str["author"] = pr.GetUser().GetLogin()
	e.Str["commit_sha"] = r.GetCommitID()
	return e, true
}

// commitEvent converts one commit on branch into commit.pushed, timed by its
// author date (when the work was done); committed_at is the committer date.
func commitEvent(scope yardstick.Scope, branch string, c *gh.RepositoryCommit) (yardstick.Event, bool) {
	if c == nil || c.SHA == nil || c.GetCommit().GetAuthor().Date == nil {
		return yardstick.Event{}, false
	}
	author := c.GetAuthor().GetLogin()
	e := newEvent(yardstick.CommitPushed, scope, c.GetSHA(), c.GetCommit().GetAuthor().GetDate().Time, author)
	e.Str["sha"] = c.GetSHA()
	e.Str["branch"] = branch
	committed := c.GetCommit().GetCommitter().GetDate().Time
	if committed.IsZero() {
		committed = c.GetCommit().GetAuthor().GetDate().Time
	}
	e.Str["committed_at"] = committed.UTC().Format(time.RFC3339)
	e.Num["committed_at"] = unix(committed)
	e.Num["parents"] = float64(len(c.Parents))
	return e, true
}

// deploymentOutcome returns the status that settled a deployment: the latest
// success, failure or error (later "inactive" statuses only mean a newer
// deployment replaced it). ok is false while the deployment is still going.
func deploymentOutcome(statuses []*gh.DeploymentStatus) (*gh.DeploymentStatus, bool) {
	var best *gh.DeploymentStatus
	for _, s := range statuses {
		switch s.GetState() {
		case "success", "failure", "error":
			if best == nil || s.GetCreatedAt().After(best.GetCreatedAt().Time) ||
				s.GetCreatedAt().Time.Equal(best.GetCreatedAt().Time) && s.GetID() > best.GetID() {
				best = s
			}
		}
	}
	return best, best != nil
}

// shipment is what a successful deployment shipped: the commits between the
// previous successful deployment of its environment (base) and its own sha.
type shipment = githost.Shipment

// deploymentEvents converts a deployment and the statuses known for it into
// deployment.started and, once settled, deployment.succeeded or deployment.failed.
// shipped is used for a success only.
func deploymentEvents(scope yardstick.Scope, d *gh.Deployment, statuses []*gh.DeploymentStatus, shipped shipment) []yardstick.Event {
	if d == nil || d.ID == nil || d.CreatedAt == nil {
		return nil
	}
	id := strconv.FormatInt(d.GetID(), 10)
	actor := d.GetCreator().GetLogin()
	attrs := func(e *yardstick.Event) {
		e.Str["environment"] = d.GetEnvironment()
		e.Str["sha"] = d.GetSHA()
		e.Str["ref"] = d.GetRef()
		e.Str["task"] = d.GetTask()
	}
	started := newEvent(yardstick.DeploymentStarted, scope, id, d.GetCreatedAt().Time, actor)
	attrs(&started)
	out := []yardstick.Event{started}
	st, ok := deploymentOutcome(statuses)
	if !ok {
		return out
	}
	typ := yardstick.DeploymentFailed
	if st.GetState() == "success" {
		typ = yardstick.DeploymentSucceeded
	}
	e := newEvent(typ, scope, id, st.GetCreatedAt().Time, actor)
	attrs(&e)
	e.Str["state"] = st.GetState()
	e.Num["duration_seconds"] = st.GetCreatedAt().Sub(d.GetCreatedAt().Time).Seconds()
	e.Num["started_at"] = unix(d.GetCreatedAt().Time)
	if typ == yardstick.DeploymentSucceeded {
		e.Str["base_sha"] = shipped.BaseSHA
		e.Related = uniqueSHAs(shipped.SHAs)
		if len(e.Related) == 0 && shipped.BaseSHA == "" {
			e.Related = []string{d.GetSHA()}
		}
		e.Num["commits"] = float64(len(e.Related))
	}
	return append(out, e)
}

// runEvent converts a completed workflow run (one attempt of it) into
// pipeline.finished. Runs still queued or in progress give no event.
func runEvent(scope yardstick.Scope, r *gh.WorkflowRun) (yardstick.Event, bool) {
	if r == nil || r.ID == nil || r.GetStatus() != "completed" || r.UpdatedAt == nil {
		return yardstick.Event{}, false
	}
	attempt := r.GetRunAttempt()
	if attempt == 0 {
		attempt = 1
	}
	actor := r.GetTriggeringActor().GetLogin()
	if actor == "" {
		actor = r.GetActor().GetLogin()
	}
	end := r.GetUpdatedAt().Time
	start := r.GetRunStartedAt().Time
	if start.IsZero() {
		start = r.GetCreatedAt().Time
	}
	e := newEvent(yardstick.PipelineFinished, scope, strconv.FormatInt(r.GetID(), 10)+"/"+strconv.Itoa(attempt), end, actor)
	e.Str["workflow"] = r.GetName()
	e.Num["workflow_id"] = float64(r.GetWorkflowID())
	e.Str["event"] = r.GetEvent()
	e.Str["branch"] = r.GetHeadBranch()
	e.Str["sha"] = r.GetHeadSHA()
	e.Str["conclusion"] = r.GetConclusion()
	e.Num["run_id"] = float64(r.GetID())
	e.Num["run_number"] = float64(r.GetRunNumber())
	e.Num["run_attempt"] = float64(attempt)
	e.Num["started_at"] = unix(start)
	e.Num["duration_seconds"] = end.Sub(start).Seconds()
	return e, true
}

// releaseEvent converts a published release. Drafts give no event.
func releaseEvent(scope yardstick.Scope, r *gh.RepositoryRelease) (yardstick.Event, bool) {
	if r == nil || r.ID == nil || r.GetDraft() || r.PublishedAt == nil {
		return yardstick.Event{}, false
	}
	e := newEvent(yardstick.ReleasePublished, scope, strconv.FormatInt(r.GetID(), 10), r.GetPublishedAt().Time, r.GetAuthor().GetLogin())
	e.Str["tag"] = r.GetTagName()
	e.Str["name"] = r.GetName()
	e.Str["target"] = r.GetTargetCommitish()
	e.Str["prerelease"] = boolStr(r.GetPrerelease())
	return e, true
}

func uniqueSHAs(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
