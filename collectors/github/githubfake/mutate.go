package githubfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PullInfo describes one pull request of the fake organisation.
type PullInfo struct {
	Number         int
	Merged         bool
	Closed         bool
	Method         string // merge, squash or rebase
	MergeCommitSHA string
	HeadSHA        string
	Commits        []string // the pull request's own commits
	Reviews        int      // submitted reviews
	Approvals      int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	MergedAt       time.Time
	FirstCommitAt  time.Time // the earliest author date of its commits
}

// DeploymentInfo describes one deployment.
type DeploymentInfo struct {
	ID          int64
	Environment string
	SHA         string
	CreatedAt   time.Time
	State       string // success, failure, or "" while running
}

// RunInfo describes one workflow run (its latest attempt).
type RunInfo struct {
	ID         int64
	Attempt    int
	Conclusion string
	CreatedAt  time.Time
}

// mutated invalidates the cached answers; call it under s.mu.
func (s *Server) mutated() { s.version++ }

func (s *Server) repo(slug string) *repo {
	r := s.repos[strings.ToLower(slug)]
	if r == nil {
		panic("githubfake: no repository " + slug)
	}
	return r
}

// inRepo returns f of the repository slug, under the lock.
func inRepo[T any](s *Server, slug string, f func(*repo) T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.repo(slug))
}

// mapAll returns f of each of in, in order.
func mapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, x := range in {
		out = append(out, f(x))
	}
	return out
}

func shaOf(c *commit) string { return c.sha }

// Pulls returns the repository's pull requests, oldest first.
func (s *Server) Pulls(slug string) []PullInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(slug)
	out := make([]PullInfo, 0, len(r.pulls))
	for _, p := range r.pulls {
		pi := PullInfo{Number: p.number, Merged: !p.merged.IsZero(), Closed: !p.closed.IsZero(), Method: p.method,
			MergeCommitSHA: p.mergeSHA, HeadSHA: p.commits[len(p.commits)-1].sha, Reviews: len(p.reviews),
			CreatedAt: p.created, UpdatedAt: p.updated, MergedAt: p.merged}
		for _, c := range p.commits {
			pi.Commits = append(pi.Commits, c.sha)
			if pi.FirstCommitAt.IsZero() || c.authorDate.Before(pi.FirstCommitAt) {
				pi.FirstCommitAt = c.authorDate
			}
		}
		for _, rv := range p.reviews {
			if rv.state == "APPROVED" {
				pi.Approvals++
			}
		}
		out = append(out, pi)
	}
	return out
}

// Deployments returns the repository's deployments, oldest first.
func (s *Server) Deployments(slug string) []DeploymentInfo {
	return inRepo(s, slug, func(r *repo) []DeploymentInfo {
		return mapAll(r.deployments, func(d *deployment) DeploymentInfo {
			return DeploymentInfo{ID: d.id, Environment: d.env, SHA: d.sha, CreatedAt: d.created, State: d.final()}
		})
	})
}

// Runs returns the repository's workflow runs, oldest first.
func (s *Server) Runs(slug string) []RunInfo {
	return inRepo(s, slug, func(r *repo) []RunInfo {
		return mapAll(r.runs, func(ru *run) RunInfo {
			return RunInfo{ID: ru.id, Attempt: ru.attempt, Conclusion: ru.conclusion, CreatedAt: ru.created}
		})
	})
}

// Releases returns the number of published releases.
func (s *Server) Releases(slug string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.repo(slug).releases)
}

// Commits returns the shas on the default branch, newest first.
func (s *Server) Commits(slug string) []string {
	return inRepo(s, slug, func(r *repo) []string { return mapAll(r.history(r.head), shaOf) })
}

// CommitTime returns the committer date of sha.
func (s *Server) CommitTime(slug, sha string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.repo(slug).commits[sha]; c != nil {
		return c.commitDate
	}
	return time.Time{}
}

// Compare returns the commits head has and base has not.
func (s *Server) Compare(slug, base, head string) []string {
	return inRepo(s, slug, func(r *repo) []string {
		commits, _ := r.compare(base, head)
		return mapAll(commits, shaOf)
	})
}

// Protected reports whether the default branch is protected.
func (s *Server) Protected(slug string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repo(slug).protection != nil
}

// MergePull opens a pull request with two commits, approves it and merges it
// now by method (merge, squash or rebase). It returns the new pull request.
func (s *Server) MergePull(slug, method string) PullInfo {
	s.mu.Lock()
	s.mutated()
	r := s.repo(slug)
	now := s.opts.Now().UTC().Truncate(time.Second)
	number := 1
	for _, p := range r.pulls {
		number = max(number, p.number+1)
	}
	p := &pull{number: number, id: r.nextID(), user: people[number%len(people)], branch: fmt.Sprintf("feature/%d", number),
		title: fmt.Sprintf("Change %d of %s", number, r.name), created: now.Add(-3 * time.Hour), method: method,
		additions: 42, deletions: 7, files: 3}
	r.pulls = append(r.pulls, p)
	r.open(p, p.created)
	for len(p.commits) < 2 {
		c := &commit{sha: r.newSHA(), parents: []string{p.commits[len(p.commits)-1].sha}, author: p.user,
			authorDate: p.created, commitDate: p.created, message: p.title + ": follow-up"}
		r.commits[c.sha] = c
		p.commits = append(p.commits, c)
	}
	for _, rv := range p.reviews {
		rv.at = p.created.Add(time.Hour)
	}
	p.reviews[0].state = "APPROVED"
	p.updated = p.created.Add(time.Hour)
	r.merge(p, now, people[(number+1)%len(people)])
	s.mu.Unlock()
	for _, pi := range s.Pulls(slug) {
		if pi.Number == number {
			return pi
		}
	}
	panic("githubfake: merged pull request vanished")
}

// Push adds a commit to the default branch now and returns its sha.
func (s *Server) Push(slug, message string) string {
	s.mu.Lock()
	s.mutated()
	defer s.mu.Unlock()
	return s.repo(slug).push(people[0], s.opts.Now().UTC().Truncate(time.Second), message)
}

// Deploy deploys the default branch's head to env now; ok decides success or failure.
func (s *Server) Deploy(slug, env string, ok bool) DeploymentInfo {
	s.mu.Lock()
	s.mutated()
	defer s.mu.Unlock()
	r := s.repo(slug)
	d := r.deploy(env, s.opts.Now().UTC().Truncate(time.Second).Add(-10*time.Minute), ok)
	return DeploymentInfo{ID: d.id, Environment: d.env, SHA: d.sha, CreatedAt: d.created, State: d.final()}
}

// DeleteDeployment removes a deployment, as DELETE /repos/{o}/{r}/deployments/{id} does.
func (s *Server) DeleteDeployment(slug string, id int64) {
	s.mu.Lock()
	s.mutated()
	defer s.mu.Unlock()
	r := s.repo(slug)
	for i, d := range r.deployments {
		if d.id == id {
			r.deployments = append(r.deployments[:i:i], r.deployments[i+1:]...)
			return
		}
	}
}

// SetFile commits content at path on the default branch now ("" deletes it).
func (s *Server) SetFile(slug, path, content string) string {
	s.mu.Lock()
	s.mutated()
	defer s.mu.Unlock()
	r := s.repo(slug)
	if content == "" {
		delete(r.files, path)
	} else {
		r.files[path] = content
	}
	return r.push(people[1], s.opts.Now().UTC().Truncate(time.Second), "Update "+path)
}

// SetProtected protects the default branch (one required review, the "ci"
// check) or removes its protection.
func (s *Server) SetProtected(slug string, on bool) {
	s.mu.Lock()
	s.mutated()
	defer s.mu.Unlock()
	r := s.repo(slug)
	if on {
		r.protection = &protection{reviews: 1, checks: []string{"ci"}, strict: true}
	} else {
		r.protection = nil
	}
}

// Webhook payloads, built from the same JSON the REST endpoints serve, with the
// envelope (action, repository, sender) GitHub wraps around them.

func (s *Server) envelope(r *repo, action string, fields obj) []byte {
	body := obj{"repository": s.repoJSON(r), "sender": s.user(people[0]), "organization": obj{"login": r.owner, "id": r.id}}
	if action != "" {
		body["action"] = action
	}
	for k, v := range fields {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic("githubfake: " + err.Error())
	}
	return b
}

// PullRequestEvent returns a pull_request delivery for pull request number,
// with action "opened" while open and "closed" once closed or merged.
func (s *Server) PullRequestEvent(slug string, number int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(slug)
	p := r.pull(number)
	action := "opened"
	if !p.closed.IsZero() {
		action = "closed"
	}
	return s.envelope(r, action, obj{"number": number, "pull_request": s.pullJSON(r, p, true)})
}

// ReviewEvents returns one pull_request_review delivery per submitted review.
func (s *Server) ReviewEvents(slug string, number int) [][]byte {
	return inRepo(s, slug, func(r *repo) [][]byte {
		p := r.pull(number)
		return mapAll(p.reviews, func(rv *review) []byte {
			review := s.reviewJSON(r, p, rv)
			review["state"] = strings.ToLower(rv.state) // webhooks spell states in lower case
			return s.envelope(r, "submitted", obj{"review": review, "pull_request": s.pullJSON(r, p, false)})
		})
	})
}

// DeploymentStatusEvents returns one deployment_status delivery per status of a
// deployment, oldest first.
func (s *Server) DeploymentStatusEvents(slug string, id int64) [][]byte {
	return inRepo(s, slug, func(r *repo) [][]byte {
		d := r.deployment(id)
		return mapAll(d.statuses, func(st *status) []byte {
			return s.envelope(r, "created", obj{"deployment": s.deploymentJSON(r, d), "deployment_status": s.statusJSON(r, d, st)})
		})
	})
}

// WorkflowRunEvent returns the workflow_run "completed" delivery of a run.
func (s *Server) WorkflowRunEvent(slug string, id int64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(slug)
	for _, ru := range r.runs {
		if ru.id == id {
			return s.envelope(r, "completed", obj{"workflow_run": s.runJSON(r, ru), "workflow": obj{"id": r.id*10 + 1, "name": "CI", "path": ".github/workflows/ci.yml"}})
		}
	}
	panic(fmt.Sprintf("githubfake: no run %d in %s", id, slug))
}

// PushEvent returns the push delivery that moved the default branch from before
// to after (at most 20 commits in the payload, as GitHub sends).
func (s *Server) PushEvent(slug, before, after string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(slug)
	commits, _ := r.compare(before, after)
	var list []obj
	for _, c := range commits {
		list = append(list, obj{
			"id": c.sha, "tree_id": c.sha, "distinct": true, "message": c.message, "timestamp": ts(c.authorDate),
			"url":       s.web(r.slug() + "/commit/" + c.sha),
			"author":    obj{"name": c.author, "email": c.author + "@example.com", "username": c.author},
			"committer": obj{"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
			"added":     []string{}, "removed": []string{}, "modified": []string{"README.md"},
		})
	}
	if len(list) > 20 {
		list = list[len(list)-20:]
	}
	var head any
	if len(list) > 0 {
		head = list[len(list)-1]
	}
	return s.envelope(r, "", obj{"ref": "refs/heads/" + r.branch, "before": before, "after": after, "created": false, "deleted": false,
		"forced": false, "base_ref": nil, "compare": s.web(r.slug() + "/compare/" + before[:12] + "..." + after[:12]),
		"commits": list, "head_commit": head, "pusher": obj{"name": people[0], "email": people[0] + "@example.com"}})
}
