package gitlab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// commits reads the default branch newest first, back to the last collected
// head (or the start of the window), as commit.pushed events.
func (s *projectSync) commits(ctx context.Context) error {
	branch := s.st.DefaultBranch
	if branch == "" {
		return nil
	}
	// Newest first back to the window start; paging stops at the old head, so
	// an unchanged branch costs one request. (since is not moved up to the old
	// head's date: a fast-forward merge can bring older-dated commits.)
	stopAt := s.old.Head
	since := s.WindowStart
	var head string
	var headAt, maxAt time.Time
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.Commits.ListCommits(s.project, &gl.ListCommitsOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
			RefName:     ptr(branch), Since: ptr(since),
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError(fmt.Sprintf("list commits of %s@%s", s.project, branch), resp, err)
		}
		if head == "" && len(list) > 0 {
			head, headAt = list[0].ID, tm(list[0].CommittedDate)
		}
		for _, c := range list {
			if c.ID == stopAt {
				return resp, true, s.Flush(ctx)
			}
			if e, ok := commitEvent(s.Scope, branch, c); ok {
				if err := s.Emit(ctx, e); err != nil {
					return nil, false, err
				}
			}
			if t := tm(c.CommittedDate); t.After(maxAt) {
				maxAt = t
			}
		}
		return resp, false, s.Flush(ctx)
	})
	if err != nil {
		return err
	}
	if head != "" {
		s.st.Head, s.st.HeadAt = head, headAt
	}
	s.st.seen(maxAt)
	return nil
}

// mergeRequests reads the merge requests updated since the saved cursor,
// oldest update first, and for each its notes (reviews) and, when merged, its
// commits and diff size.
func (s *projectSync) mergeRequests(ctx context.Context) error {
	cutoff := s.Since(s.old.MRsSince)
	old := newBoundary(s.old.MRsSince, s.old.MRsAt)
	b := newBoundary(s.st.MRsSince, s.st.MRsAt)
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.MergeRequests.ListProjectMergeRequests(s.project, &gl.ListProjectMergeRequestsOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
			State:       ptr("all"), OrderBy: ptr("updated_at"), Sort: ptr("asc"), UpdatedAfter: ptr(cutoff),
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError("list merge requests of "+s.project, resp, err)
		}
		for _, mr := range list {
			if !s.Full && b.seenBefore(old, mr.IID, tm(mr.UpdatedAt)) {
				continue
			}
			events, err := s.c.mergeRequestEvents(ctx, s.project, s.Scope, mr)
			if err != nil {
				return nil, false, err
			}
			if err := s.Emit(ctx, events...); err != nil {
				return nil, false, err
			}
			b.add(mr.IID, tm(mr.UpdatedAt))
		}
		return resp, false, s.Flush(ctx)
	})
	if err != nil {
		return err
	}
	s.st.MRsSince, s.st.MRsAt = b.at, b.ids
	s.st.seen(b.at)
	return nil
}

// mergeRequestEvents returns the change events of one merge request: its
// details read through the API, then the shared conversion. The webhook
// handler calls it too.
func (c *Collector) mergeRequestEvents(ctx context.Context, project string, scope yardstick.Scope, mr *gl.BasicMergeRequest) ([]yardstick.Event, error) {
	var d mrDetails
	if mr.State == "merged" {
		var err error
		if d, err = c.mrDetails(ctx, project, mr.IID); isNotFound(err) {
			return nil, nil // deleted since it was listed
		} else if err != nil {
			return nil, err
		}
	}
	events := mrEvents(scope, mr, d)
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		notes, resp, err := c.api.Notes.ListMergeRequestNotes(project, mr.IID, &gl.ListMergeRequestNotesOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(c.cfg.PerPage)},
			OrderBy:     ptr("created_at"), Sort: ptr("asc"),
		}, gl.WithContext(ctx))
		if err != nil {
			return nil, false, apiError(fmt.Sprintf("list notes of %s!%d", project, mr.IID), resp, err)
		}
		for _, n := range notes {
			if e, ok := reviewEvent(scope, mr, n); ok {
				events = append(events, e)
			}
		}
		return resp, false, nil
	})
	if isNotFound(err) {
		return events, nil // deleted since it was listed
	}
	return events, err
}

// mrDetails reads a merged merge request's commits and diffs.
func (c *Collector) mrDetails(ctx context.Context, project string, iid int64) (mrDetails, error) {
	var d mrDetails
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		commits, resp, err := c.api.MergeRequests.GetMergeRequestCommits(project, iid, &gl.GetMergeRequestCommitsOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(c.cfg.PerPage)},
		}, gl.WithContext(ctx))
		if err != nil {
			return nil, false, apiError(fmt.Sprintf("list commits of %s!%d", project, iid), resp, err)
		}
		for _, cm := range commits {
			d.shas = append(d.shas, cm.ID)
			at := tm(cm.AuthoredDate)
			if at.IsZero() {
				at = tm(cm.CreatedAt)
			}
			if !at.IsZero() && (d.firstCommitAt.IsZero() || at.Before(d.firstCommitAt)) {
				d.firstCommitAt = at
			}
		}
		return resp, false, nil
	})
	if err != nil {
		return d, err
	}
	err = eachPage(func(page int64) (*gl.Response, bool, error) {
		diffs, resp, err := c.api.MergeRequests.ListMergeRequestDiffs(project, iid, &gl.ListMergeRequestDiffsOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(c.cfg.PerPage)},
		}, gl.WithContext(ctx))
		if err != nil {
			return nil, false, apiError(fmt.Sprintf("list diffs of %s!%d", project, iid), resp, err)
		}
		for _, df := range diffs {
			d.files++
			add, del := diffLines(df.Diff)
			d.additions += add
			d.deletions += del
		}
		return resp, false, nil
	})
	return d, err
}

// diffLines counts the added and deleted lines of a unified diff hunk list.
// GitLab's diffs start at the first "@@" without ---/+++ file headers, so a
// line "---x" is a deleted "--x", not a header.
func diffLines(diff string) (add, del int) {
	for line := range strings.SplitSeq(diff, "\n") {
		switch {
		case strings.HasPrefix(line, "+"):
			add++
		case strings.HasPrefix(line, "-"):
			del++
		}
	}
	return add, del
}

// pipelines reads the pipelines updated since the saved cursor and, for each
// finished one, its details (timing), as pipeline.finished events. A pipeline
// still running is listed again once it finishes, since that updates it.
func (s *projectSync) pipelines(ctx context.Context) error {
	cutoff := s.Since(s.old.PipelinesSince)
	old := newBoundary(s.old.PipelinesSince, s.old.PipelinesAt)
	b := newBoundary(s.st.PipelinesSince, s.st.PipelinesAt)
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.Pipelines.ListProjectPipelines(s.project, &gl.ListProjectPipelinesOptions{
			ListOptions:  gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
			UpdatedAfter: ptr(cutoff), OrderBy: ptr("updated_at"), Sort: ptr("asc"),
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError("list pipelines of "+s.project, resp, err)
		}
		for _, pi := range list {
			if !s.Full && b.seenBefore(old, pi.ID, tm(pi.UpdatedAt)) {
				continue
			}
			b.add(pi.ID, tm(pi.UpdatedAt))
			if _, done := conclusions[pi.Status]; !done {
				continue
			}
			p, err := s.c.pipeline(ctx, s.project, pi.ID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			if e, ok := pipelineEvent(s.Scope, p); ok {
				if err := s.Emit(ctx, e); err != nil {
					return nil, false, err
				}
			}
		}
		return resp, false, s.Flush(ctx)
	})
	if err != nil {
		return err
	}
	s.st.PipelinesSince, s.st.PipelinesAt = b.at, b.ids
	s.st.seen(b.at)
	return nil
}

func (c *Collector) pipeline(ctx context.Context, project string, id int64) (*gl.Pipeline, error) {
	p, resp, err := c.api.Pipelines.GetPipeline(project, id, gl.WithContext(ctx))
	return p, apiError(fmt.Sprintf("get pipeline %s/%d", project, id), resp, err)
}

// releases reads releases newest first back to the saved cursor, as
// release.published events.
func (s *projectSync) releases(ctx context.Context) error {
	cutoff := s.Since(s.old.ReleasesSince)
	newest := s.st.ReleasesSince
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.Releases.ListReleases(s.project, &gl.ListReleasesOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
			OrderBy:     ptr("released_at"), Sort: ptr("desc"),
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError("list releases of "+s.project, resp, err)
		}
		for _, r := range list {
			at := tm(r.ReleasedAt)
			if !at.IsZero() && at.Before(cutoff) {
				return resp, true, s.Flush(ctx)
			}
			if !s.Full && !at.After(s.old.ReleasesSince) {
				continue // collected by the previous run
			}
			e, ok := releaseEvent(s.Scope, r, s.Now)
			if !ok {
				continue
			}
			if at.After(newest) {
				newest = at
			}
			if err := s.Emit(ctx, e); err != nil {
				return nil, false, err
			}
		}
		return resp, false, s.Flush(ctx)
	})
	if err != nil {
		return err
	}
	s.st.ReleasesSince = newest
	s.st.seen(newest)
	return nil
}

// deployments reads the deployments updated since the saved cursor and writes
// their events, oldest id first so that each success finds the one before it.
// A success carries in Related the commits it shipped: the compare of the
// previous successful deployment of the same environment with its own sha.
func (s *projectSync) deployments(ctx context.Context) error {
	cutoff := s.Since(s.old.DeploysSince)
	old := newBoundary(s.old.DeploysSince, s.old.DeploysAt)
	b := newBoundary(s.st.DeploysSince, s.st.DeploysAt)
	var fresh []*gl.Deployment
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.Deployments.ListProjectDeployments(s.project, &gl.ListProjectDeploymentsOptions{
			ListOptions:  gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
			UpdatedAfter: ptr(cutoff), OrderBy: ptr("updated_at"), Sort: ptr("asc"),
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError("list deployments of "+s.project, resp, err)
		}
		for _, d := range list {
			if s.Full || !b.seenBefore(old, d.ID, tm(d.UpdatedAt)) {
				fresh = append(fresh, d)
			}
		}
		return resp, false, nil
	})
	if err != nil {
		return err
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].ID < fresh[j].ID })
	succ := s.st.Successes
	if succ == nil {
		succ = successMap{}
	}
	for _, d := range fresh {
		var ship shipment
		if d.Status == "success" {
			if ship, err = s.c.shipped(ctx, s.project, succ, d); err != nil {
				return err
			}
			succ.Add(envName(d), success{ID: d.ID, SHA: d.SHA})
		}
		if err := s.Emit(ctx, deploymentEvents(s.Scope, d, ship)...); err != nil {
			return err
		}
		b.add(d.ID, tm(d.UpdatedAt))
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	s.st.Successes = succ
	s.st.DeploysSince, s.st.DeploysAt = b.at, b.ids
	s.st.seen(b.at)
	return nil
}

// shipped returns what the successful deployment d shipped: the commits
// between the previous successful deployment of its environment (from succ,
// or else asked of GitLab) and its sha.
func (c *Collector) shipped(ctx context.Context, project string, succ successMap, d *gl.Deployment) (shipment, error) {
	return githost.Shipped(ctx, succ, c.deploy(project, d))
}

// deploy describes the successful deployment d to githost.Shipped.
func (c *Collector) deploy(project string, d *gl.Deployment) githost.Deploy {
	env := envName(d)
	return githost.Deploy{
		Env: env, Success: success{ID: d.ID, SHA: d.SHA},
		Older: func(ctx context.Context) (success, bool, error) { return c.olderSuccess(ctx, project, env, d.ID) },
		Compare: func(ctx context.Context, base, head string) ([]string, error) {
			return c.compare(ctx, project, base, head)
		},
	}
}

// olderSuccess finds the latest successful deployment of env with an id below
// before.
func (c *Collector) olderSuccess(ctx context.Context, project, env string, before int64) (success, bool, error) {
	list, resp, err := c.api.Deployments.ListProjectDeployments(project, &gl.ListProjectDeploymentsOptions{
		ListOptions: gl.ListOptions{PerPage: 20},
		Environment: ptr(env), Status: ptr("success"), OrderBy: ptr("id"), Sort: ptr("desc"),
	}, gl.WithContext(ctx))
	if err != nil {
		return success{}, false, apiError(fmt.Sprintf("list successful deployments of %s to %s", project, env), resp, err)
	}
	for _, d := range list {
		if d.ID < before && d.Status == "success" {
			return success{ID: d.ID, SHA: d.SHA}, true, nil
		}
	}
	return success{}, false, nil
}

// compare returns the shas of the commits head has and base has not, at most
// MaxShippedCommits of them.
func (c *Collector) compare(ctx context.Context, project, base, head string) ([]string, error) {
	cmp, resp, err := c.api.Repositories.Compare(project, &gl.CompareOptions{From: ptr(base), To: ptr(head)}, gl.WithContext(ctx))
	if err != nil {
		return nil, apiError(fmt.Sprintf("compare %s %s...%s", project, base, head), resp, err)
	}
	shas := make([]string, 0, len(cmp.Commits))
	for _, cm := range cmp.Commits {
		shas = append(shas, cm.ID)
	}
	if len(shas) > c.cfg.MaxShippedCommits {
		shas = shas[len(shas)-c.cfg.MaxShippedCommits:]
	}
	return shas, nil
}
