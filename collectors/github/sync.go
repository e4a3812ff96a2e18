package github

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// repoSync is one sync of one repository. Sections read their own lists; each
// writes its rows page by page and only then moves its cursor in st, so a section
// that fails is read again from its old cursor next time.
type repoSync struct {
	githost.Sync
	c    *Collector
	slug string
	old  repoState // as saved by the previous sync
	st   repoState // being built; saved at the end
}

// syncRepo syncs one repository and saves its cursor. It returns the largest
// source timestamp seen and the failures of its sections.
func (c *Collector) syncRepo(ctx context.Context, slug string, w collectors.Writer) (time.Time, []collectors.Failure) {
	scope := RepoScope(slug)
	return githost.SyncRepo(ctx, c.states, slug, scope, c.logger.With("repo", slug), fatal, func(old repoState) (*repoState, githost.Sections) {
		now := c.now().UTC()
		s := &repoSync{c: c, slug: slug, old: old, Sync: githost.Sync{
			W: w, Source: SourceName, Repo: slug, Scope: scope,
			Full: c.forceFull || old.Config != c.hash, WindowStart: now.Add(-c.cfg.Backfill), Now: now,
		}}
		if s.Full {
			s.old = repoState{}
		}
		s.st = cloneState(s.old)
		s.st.Config = c.hash
		return &s.st, githost.Sections{Repository: s.repository, Protection: s.protection, Commits: s.commits, Files: s.files,
			Changes: s.pulls, Deployments: s.deployments, Pipelines: s.runs, Releases: s.releases}
	})
}

func cloneState(st repoState) repoState {
	out := st
	out.ETags = make(map[string]string, len(st.ETags))
	for k, v := range st.ETags {
		out.ETags[k] = v
	}
	out.Pending = slices.Clone(st.Pending)
	out.Successes = st.Successes.Clone()
	return out
}

// etag returns the ETag to send for key, none in a full sync.
func (s *repoSync) etag(key string) string {
	if s.Full {
		return ""
	}
	return s.old.etag(key)
}

func (s *repoSync) writeFacts(ctx context.Context, facts ...yardstick.Fact) error {
	if err := s.W.WriteFacts(ctx, facts); err != nil {
		return fmt.Errorf("write github facts of %s: %w", s.slug, err)
	}
	return nil
}

func (s *repoSync) path(format string, args ...any) string {
	return "repos/" + s.slug + "/" + fmt.Sprintf(format, args...)
}

// readList pages through a newest-first list. The first page is asked with etag:
// a 304 means nothing changed, and it returns notModified. page gets each page's
// body and says whether the rest is older than wanted; the section's events are
// flushed after every page. It returns the first page's ETag.
func readList[P any](ctx context.Context, s *repoSync, path, etag string, page func(p *P) (stop bool, err error)) (newETag string, notModified bool, err error) {
	for first := true; path != ""; first = false {
		var p P
		resp, err := s.c.api.get(ctx, path, etag, &p)
		if err != nil {
			return "", false, err
		}
		if resp.notModified() {
			return "", true, nil
		}
		etag = ""
		if first {
			newETag = resp.etag
		}
		stop, err := page(&p)
		if err != nil {
			return "", false, err
		}
		if err := s.Flush(ctx); err != nil {
			return "", false, err
		}
		if stop {
			break
		}
		path = resp.next
	}
	return newETag, false, nil
}

// commits reads the default branch newest first, back to the last collected head
// (or the start of the window), as commit.pushed events.
func (s *repoSync) commits(ctx context.Context) error {
	branch := s.st.DefaultBranch
	if branch == "" {
		return nil
	}
	stopAt := s.old.Head
	var head string
	var headAt, maxAt time.Time
	path := s.path("commits?sha=%s&per_page=%d", url.QueryEscape(branch), s.c.cfg.PerPage)
	etag, unchanged, err := readList(ctx, s, path, s.etag("commits"), func(list *[]*gh.RepositoryCommit) (bool, error) {
		if head == "" && len(*list) > 0 {
			head, headAt = (*list)[0].GetSHA(), (*list)[0].GetCommit().GetCommitter().GetDate().Time
		}
		for _, rc := range *list {
			committed := rc.GetCommit().GetCommitter().GetDate().Time
			if rc.GetSHA() == stopAt || committed.Before(s.WindowStart) {
				return true, nil
			}
			if e, ok := commitEvent(s.Scope, branch, rc); ok {
				if err := s.Emit(ctx, e); err != nil {
					return false, err
				}
			}
			if committed.After(maxAt) {
				maxAt = committed
			}
		}
		return false, nil
	})
	switch {
	case isConflictEmpty(err): // an empty repository has no commits to list
		return nil
	case err != nil:
		return fmt.Errorf("list commits of %s: %w", s.slug, err)
	case unchanged:
		return nil
	}
	s.st.Head, s.st.HeadAt = head, headAt
	s.st.setETag("commits", etag)
	s.st.seen(maxAt)
	return nil
}

// isConflictEmpty reports GitHub's 409 "Git Repository is empty".
func isConflictEmpty(err error) bool { return statusOf(err) == 409 }

// pulls reads pull requests by last update, newest first, back to the saved
// cursor, and for each changed one its details, reviews and (when merged) commits.
func (s *repoSync) pulls(ctx context.Context) error {
	cutoff := s.Since(s.old.PullsSince)
	maxUpdated := s.st.PullsSince
	path := s.path("pulls?state=all&sort=updated&direction=desc&per_page=%d", s.c.cfg.PerPage)
	etag, unchanged, err := readList(ctx, s, path, s.etag("pulls"), func(list *[]*gh.PullRequest) (bool, error) {
		for _, pr := range *list {
			updated := pr.GetUpdatedAt().Time
			if updated.Before(cutoff) {
				return true, nil
			}
			if err := s.pull(ctx, pr.GetNumber()); err != nil {
				return false, err
			}
			if updated.After(maxUpdated) {
				maxUpdated = updated
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("list pull requests of %s: %w", s.slug, err)
	}
	if unchanged {
		return nil
	}
	s.st.PullsSince = maxUpdated
	s.st.setETag("pulls", etag)
	s.st.seen(maxUpdated)
	return nil
}

// pull reads one pull request in full (the list omits additions, deletions and
// merged_by), its reviews and, when merged with several commits, its commits.
func (s *repoSync) pull(ctx context.Context, number int) error {
	var pr gh.PullRequest
	if _, err := s.c.api.get(ctx, s.path("pulls/%d", number), "", &pr); err != nil {
		if isNotFound(err) {
			return nil // deleted or transferred since it was listed
		}
		return fmt.Errorf("get pull request %s#%d: %w", s.slug, number, err)
	}
	commits, err := s.c.pullCommits(ctx, s.slug, &pr)
	if err != nil {
		return err
	}
	if err := s.Emit(ctx, pullEvents(s.Scope, &pr, commits)...); err != nil {
		return err
	}
	return s.c.eachPage(ctx, s.path("pulls/%d/reviews?per_page=%d", number, s.c.cfg.PerPage), func(ctx context.Context, path string) (string, error) {
		var reviews []*gh.PullRequestReview
		resp, err := s.c.api.get(ctx, path, "", &reviews)
		if err != nil {
			return "", fmt.Errorf("list reviews of %s#%d: %w", s.slug, number, err)
		}
		for _, r := range reviews {
			if e, ok := reviewEvent(s.Scope, &pr, r); ok {
				if err := s.Emit(ctx, e); err != nil {
					return "", err
				}
			}
		}
		return resp.next, nil
	})
}

// prCommits are a merged pull request's own commits: their shas and the
// earliest author date (the pull request's first commit, where lead time
// starts when no commit.pushed event has the merge commit).
type prCommits struct {
	shas  []string
	first time.Time
}

// pullCommits returns a merged pull request's own commits when it has more
// than one (a rebase merge rewrites them; the head sha covers the others).
func (c *Collector) pullCommits(ctx context.Context, slug string, pr *gh.PullRequest) (prCommits, error) {
	var out prCommits
	if pr.MergedAt == nil || pr.GetCommits() <= 1 {
		return out, nil
	}
	err := c.eachPage(ctx, fmt.Sprintf("repos/%s/pulls/%d/commits?per_page=%d", slug, pr.GetNumber(), c.cfg.PerPage), func(ctx context.Context, path string) (string, error) {
		var list []*gh.RepositoryCommit
		resp, err := c.api.get(ctx, path, "", &list)
		if err != nil {
			return "", fmt.Errorf("list commits of %s#%d: %w", slug, pr.GetNumber(), err)
		}
		for _, rc := range list {
			out.shas = append(out.shas, rc.GetSHA())
			if d := rc.GetCommit().GetAuthor().GetDate(); !d.IsZero() && (out.first.IsZero() || d.Before(out.first)) {
				out.first = d.Time
			}
		}
		return resp.next, nil
	})
	return out, err
}

// eachPage calls page with path and then with each next-page URL it returns.
func (c *Collector) eachPage(ctx context.Context, path string, page func(ctx context.Context, path string) (string, error)) error {
	for path != "" {
		next, err := page(ctx, path)
		if err != nil {
			return err
		}
		path = next
	}
	return nil
}

// runs reads Actions workflow runs newest first, back to the saved cursor less
// the re-run lookback, as pipeline.finished events of the completed ones.
func (s *repoSync) runs(ctx context.Context) error {
	cutoff := s.WindowStart
	if !s.Full && !s.old.RunsSince.IsZero() {
		cutoff = s.Since(s.old.RunsSince.Add(-s.c.cfg.RunLookback))
	}
	var newest, oldestRunning, maxUpdated time.Time
	path := s.path("actions/runs?per_page=%d", s.c.cfg.PerPage)
	etag, unchanged, err := readList(ctx, s, path, s.etag("runs"), func(page *gh.WorkflowRuns) (bool, error) {
		for _, r := range page.WorkflowRuns {
			created := r.GetCreatedAt().Time
			if created.Before(cutoff) {
				return true, nil
			}
			newest = later(newest, created)
			maxUpdated = later(maxUpdated, r.GetUpdatedAt().Time)
			e, ok := runEvent(s.Scope, r)
			if !ok {
				oldestRunning = earlier(oldestRunning, created)
				continue
			}
			if err := s.Emit(ctx, e); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("list workflow runs of %s: %w", s.slug, err)
	}
	if unchanged {
		return nil
	}
	if t := earlier(oldestRunning, newest); !t.IsZero() {
		s.st.RunsSince = t
	}
	s.st.setETag("runs", etag)
	s.st.seen(maxUpdated)
	return nil
}

// releases reads releases newest first back to the saved cursor, as
// release.published events. A draft keeps the cursor at its creation until it
// is published.
func (s *repoSync) releases(ctx context.Context) error {
	cutoff := s.Since(s.old.ReleasesSince)
	var newest, oldestDraft time.Time
	etag, unchanged, err := readList(ctx, s, s.path("releases?per_page=%d", s.c.cfg.PerPage), s.etag("releases"), func(list *[]*gh.RepositoryRelease) (bool, error) {
		for _, r := range *list {
			created := r.GetCreatedAt().Time
			if created.Before(cutoff) {
				return true, nil
			}
			newest = later(newest, created)
			e, ok := releaseEvent(s.Scope, r)
			if !ok {
				if r.GetDraft() {
					oldestDraft = earlier(oldestDraft, created)
				}
				continue
			}
			s.st.seen(e.Time)
			if err := s.Emit(ctx, e); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("list releases of %s: %w", s.slug, err)
	}
	if unchanged {
		return nil
	}
	if t := earlier(oldestDraft, newest); !t.IsZero() {
		s.st.ReleasesSince = t
	}
	s.st.setETag("releases", etag)
	return nil
}

// later returns the later of two times; earlier the earlier one, a zero time
// counting as unset in both.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// sortDeployments orders deployments by id, oldest first.
func sortDeployments(ds []*gh.Deployment) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].GetID() < ds[j].GetID() })
}
