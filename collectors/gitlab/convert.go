package gitlab

import (
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// This file turns client-go values into events of the shared vocabulary, with
// the attribute names of the GitHub collector. The REST sync and the webhook
// handler both call these functions, so a merge request read by polling and
// the same merge request announced by a hook give identical rows.

func newEvent(typ string, scope yardstick.Scope, id string, at time.Time, actor string) yardstick.Event {
	return yardstick.Event{
		Source: SourceName, Type: typ, Scope: scope, ID: id, Time: at.UTC().Truncate(time.Second), Actor: actor,
		Num: map[string]float64{}, Str: map[string]string{},
	}
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func tm(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func username(u *gl.BasicUser) string {
	if u == nil {
		return ""
	}
	return u.Username
}

// mrDetails is what the sync reads about a merge request besides the merge
// request itself: its commits (when merged) and its diff size.
type mrDetails struct {
	shas          []string  // the merge request's commits, newest first
	firstCommitAt time.Time // earliest authored date of its commits
	additions     int
	deletions     int
	files         int
}

// mergeSHA is the commit a merged merge request put on its target branch: the
// merge commit, else the squash commit, else (fast-forward merge) its head.
func mergeSHA(mr *gl.BasicMergeRequest) string {
	switch {
	case mr.MergeCommitSHA != "":
		return mr.MergeCommitSHA
	case mr.SquashCommitSHA != "":
		return mr.SquashCommitSHA
	}
	return mr.SHA
}

// mrEvents converts one merge request into change.opened and, once it is
// closed, change.merged or change.closed.
func mrEvents(scope yardstick.Scope, mr *gl.BasicMergeRequest, d mrDetails) []yardstick.Event {
	if mr == nil || mr.IID == 0 || mr.CreatedAt == nil {
		return nil
	}
	id := strconv.FormatInt(mr.IID, 10)
	author := username(mr.Author)
	created := *mr.CreatedAt
	attrs := func(e *yardstick.Event) {
		e.Num["number"] = float64(mr.IID)
		e.Num["additions"] = float64(d.additions)
		e.Num["deletions"] = float64(d.deletions)
		e.Num["changed_files"] = float64(d.files)
		e.Num["commits"] = float64(len(d.shas))
		e.Num["opened_at"] = unix(created)
		e.Str["base"] = mr.TargetBranch
		e.Str["head"] = mr.SourceBranch
		e.Str["head_sha"] = mr.SHA
		e.Str["author"] = author
		e.Str["draft"] = strconv.FormatBool(mr.Draft)
		e.Str["title"] = mr.Title
		e.Str["url"] = mr.WebURL
	}
	opened := newEvent(yardstick.ChangeOpened, scope, id, created, author)
	attrs(&opened)
	out := []yardstick.Event{opened}
	switch {
	case mr.State == "merged" && mr.MergedAt != nil:
		mergedBy := username(mr.MergedBy)
		if mergedBy == "" {
			mergedBy = username(mr.MergeUser)
		}
		e := newEvent(yardstick.ChangeMerged, scope, id, *mr.MergedAt, mergedBy)
		attrs(&e)
		e.Str["merge_commit_sha"] = mergeSHA(mr)
		e.Str["squash_commit_sha"] = mr.SquashCommitSHA
		e.Str["merged_by"] = mergedBy
		e.Num["open_seconds"] = mr.MergedAt.Sub(created).Seconds()
		if !d.firstCommitAt.IsZero() {
			e.Num["first_commit_at"] = unix(d.firstCommitAt)
		}
		e.Related = uniqueSHAs(append([]string{mr.SHA}, d.shas...))
		out = append(out, e)
	case mr.State == "closed" && mr.ClosedAt != nil:
		e := newEvent(yardstick.ChangeClosed, scope, id, *mr.ClosedAt, username(mr.ClosedBy))
		attrs(&e)
		e.Num["open_seconds"] = mr.ClosedAt.Sub(created).Seconds()
		out = append(out, e)
	}
	return out
}

// System note bodies GitLab writes for approvals and change requests.
const (
	noteApproved         = "approved this merge request"
	noteRequestedChanges = "requested changes"
)

// reviewState returns the GitHub review state a merge request note stands for:
// "approved" for an approval, "changes_requested" for a change request,
// "commented" for a comment by someone other than the author; ok is false for
// other notes (system notes, the author's own comments).
func reviewState(mrAuthor string, n *gl.Note) (string, bool) {
	body := strings.TrimSpace(strings.ToLower(n.Body))
	switch {
	case n.System && body == noteApproved:
		return "approved", true
	case n.System && strings.HasPrefix(body, noteRequestedChanges):
		return "changes_requested", true
	case !n.System && n.Author.Username != "" && n.Author.Username != mrAuthor:
		return "commented", true
	}
	return "", false
}

// reviewEvent converts one note of merge request mr into change.reviewed: the
// first review time and the approvals of a merge request are the earliest and
// the approved change.reviewed events with its number.
func reviewEvent(scope yardstick.Scope, mr *gl.BasicMergeRequest, n *gl.Note) (yardstick.Event, bool) {
	if mr == nil || n == nil || n.ID == 0 || n.CreatedAt == nil || mr.CreatedAt == nil {
		return yardstick.Event{}, false
	}
	author := username(mr.Author)
	state, ok := reviewState(author, n)
	if !ok {
		return yardstick.Event{}, false
	}
	e := newEvent(yardstick.ChangeReviewed, scope, strconv.FormatInt(n.ID, 10), *n.CreatedAt, n.Author.Username)
	e.Num["number"] = float64(mr.IID)
	e.Num["opened_at"] = unix(*mr.CreatedAt)
	e.Str["state"] = state
	e.Str["author"] = author
	e.Str["commit_sha"] = n.CommitID
	return e, true
}

// commitEvent converts one commit on branch into commit.pushed, timed by its
// author date; committed_at is the committer date.
func commitEvent(scope yardstick.Scope, branch string, c *gl.Commit) (yardstick.Event, bool) {
	if c == nil || c.ID == "" {
		return yardstick.Event{}, false
	}
	authored := tm(c.AuthoredDate)
	if authored.IsZero() {
		authored = tm(c.CreatedAt)
	}
	if authored.IsZero() {
		return yardstick.Event{}, false
	}
	committed := tm(c.CommittedDate)
	if committed.IsZero() {
		committed = authored
	}
	e := newEvent(yardstick.CommitPushed, scope, c.ID, authored, c.AuthorEmail)
	e.Str["sha"] = c.ID
	e.Str["branch"] = branch
	e.Str["committed_at"] = committed.UTC().Format(time.RFC3339)
	e.Num["committed_at"] = unix(committed)
	e.Num["parents"] = float64(len(c.ParentIDs))
	return e, true
}

// conclusions maps GitLab's finished pipeline statuses to GitHub's conclusions.
var conclusions = map[string]string{
	"success": "success", "failed": "failure", "canceled": "cancelled", "skipped": "skipped",
}

// pipelineEvent converts a finished pipeline into pipeline.finished. Pipelines
// still created, pending, running or waiting give no event.
func pipelineEvent(scope yardstick.Scope, p *gl.Pipeline) (yardstick.Event, bool) {
	if p == nil || p.ID == 0 {
		return yardstick.Event{}, false
	}
	conclusion, done := conclusions[p.Status]
	if !done {
		return yardstick.Event{}, false
	}
	end := tm(p.FinishedAt)
	if end.IsZero() {
		end = tm(p.UpdatedAt)
	}
	start := tm(p.StartedAt)
	if start.IsZero() {
		start = tm(p.CreatedAt)
	}
	if end.IsZero() {
		return yardstick.Event{}, false
	}
	workflow := p.Name
	if workflow == "" {
		workflow = "gitlab-ci"
	}
	e := newEvent(yardstick.PipelineFinished, scope, strconv.FormatInt(p.ID, 10), end, username(p.User))
	e.Str["workflow"] = workflow
	e.Str["event"] = string(p.Source)
	e.Str["branch"] = p.Ref
	e.Str["sha"] = p.SHA
	e.Str["conclusion"] = conclusion
	e.Num["run_id"] = float64(p.ID)
	e.Num["run_number"] = float64(p.IID)
	e.Num["run_attempt"] = 1
	e.Num["started_at"] = unix(start)
	dur := float64(p.Duration)
	if dur <= 0 && !start.IsZero() {
		dur = end.Sub(start).Seconds()
	}
	e.Num["duration_seconds"] = dur
	return e, true
}

// shipment is what a successful deployment shipped: the commits between the
// previous successful deployment of its environment (base) and its own sha.
type shipment = githost.Shipment

func envName(d *gl.Deployment) string {
	if d.Environment == nil {
		return ""
	}
	return d.Environment.Name
}

// deploymentEvents converts a deployment into deployment.started and, once it
// succeeded or failed, deployment.succeeded or deployment.failed (timed by its
// last update, when GitLab set the final status). A canceled or skipped
// deployment shipped nothing and failed nothing: it stays started only.
func deploymentEvents(scope yardstick.Scope, d *gl.Deployment, ship shipment) []yardstick.Event {
	if d == nil || d.ID == 0 || d.CreatedAt == nil {
		return nil
	}
	id := strconv.FormatInt(d.ID, 10)
	actor := ""
	if d.User != nil {
		actor = d.User.Username
	}
	attrs := func(e *yardstick.Event) {
		e.Str["environment"] = envName(d)
		e.Str["sha"] = d.SHA
		e.Str["ref"] = d.Ref
		e.Str["task"] = "deploy"
	}
	started := newEvent(yardstick.DeploymentStarted, scope, id, *d.CreatedAt, actor)
	attrs(&started)
	out := []yardstick.Event{started}
	var typ string
	switch d.Status {
	case "success":
		typ = yardstick.DeploymentSucceeded
	case "failed":
		typ = yardstick.DeploymentFailed
	default:
		return out
	}
	end := tm(d.UpdatedAt)
	if end.IsZero() {
		end = *d.CreatedAt
	}
	e := newEvent(typ, scope, id, end, actor)
	attrs(&e)
	e.Str["state"] = d.Status
	e.Num["duration_seconds"] = end.Sub(*d.CreatedAt).Seconds()
	e.Num["started_at"] = unix(*d.CreatedAt)
	if typ == yardstick.DeploymentSucceeded {
		e.Str["base_sha"] = ship.BaseSHA
		e.Related = uniqueSHAs(ship.SHAs)
		if len(e.Related) == 0 && ship.BaseSHA == "" {
			e.Related = []string{d.SHA}
		}
		e.Num["commits"] = float64(len(e.Related))
	}
	return append(out, e)
}

// releaseEvent converts a release into release.published. GitLab releases have
// no id of their own: the tag names them. Upcoming releases give no event.
func releaseEvent(scope yardstick.Scope, r *gl.Release, now time.Time) (yardstick.Event, bool) {
	if r == nil || r.TagName == "" || r.UpcomingRelease || r.ReleasedAt == nil || r.ReleasedAt.After(now) {
		return yardstick.Event{}, false
	}
	e := newEvent(yardstick.ReleasePublished, scope, r.TagName, *r.ReleasedAt, r.Author.Username)
	e.Str["tag"] = r.TagName
	e.Str["name"] = r.Name
	e.Str["target"] = r.Commit.ID
	e.Str["prerelease"] = "false"
	return e, true
}

// uniqueSHAs returns the non-empty shas of in, sorted, once each.
func uniqueSHAs(in []string) []string {
	out := slices.DeleteFunc(slices.Clone(in), func(s string) bool { return s == "" })
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}
