package githubfake

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
)

// JSON shapes of GitHub's REST answers, trimmed to the fields of the examples in
// GitHub's OpenAPI description (examples kept in testdata/real) that matter here.
// Key names, nesting and null-ness follow those examples.

type obj = map[string]any

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) user(login string) obj {
	id := int64(9000)
	for i, p := range people {
		if p == login {
			id += int64(i)
		}
	}
	typ := "User"
	if strings.HasSuffix(login, "-bot") || strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return obj{
		"login": login, "id": id, "node_id": nodeID("U", id),
		"avatar_url": "https://avatars.example.com/u/" + login, "gravatar_id": "",
		"url": s.api("users/" + login), "html_url": s.web(login),
		"type": typ, "site_admin": false,
	}
}

func nodeID(prefix string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s_%d", prefix, id)))
}

func (s *Server) api(path string) string { return s.URL + "/" + path }
func (s *Server) web(path string) string { return s.URL + "/web/" + path }

func (s *Server) repoJSON(r *repo) obj {
	full := r.slug()
	visibility := "public"
	if r.private {
		visibility = "private"
	}
	var license any
	if r.license != "" {
		license = obj{"key": strings.ToLower(r.license), "name": r.license + " License", "spdx_id": r.license,
			"url": s.api("licenses/" + strings.ToLower(r.license)), "node_id": "MDc6TGljZW5zZW1pdA=="}
	}
	owner := s.user(r.owner)
	owner["type"] = "Organization"
	return obj{
		"id": r.id, "node_id": nodeID("R", r.id), "name": r.name, "full_name": full, "owner": owner,
		"private": r.private, "html_url": s.web(full), "description": "Service " + r.name + " of the demo organisation",
		"fork": false, "url": s.api("repos/" + full),
		"pulls_url":       s.api("repos/" + full + "/pulls{/number}"),
		"deployments_url": s.api("repos/" + full + "/deployments"),
		"languages_url":   s.api("repos/" + full + "/languages"),
		"created_at":      ts(r.created), "updated_at": ts(r.updated), "pushed_at": ts(r.pushed),
		"homepage": nil, "size": 1024 + r.index, "stargazers_count": r.index, "watchers_count": r.index,
		"language": r.language, "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
		"forks_count": 0, "archived": r.archived, "disabled": false, "open_issues_count": 0,
		"license": license, "topics": r.topics, "visibility": visibility, "default_branch": r.branch,
		"is_template": false, "allow_squash_merge": true, "allow_merge_commit": true, "allow_rebase_merge": true,
	}
}

// nestedRepoJSON is the repository inside a pull request's head and base.
func (s *Server) nestedRepoJSON(r *repo) obj {
	out := s.repoJSON(r)
	delete(out, "visibility")
	delete(out, "is_template")
	return out
}

func (s *Server) commitJSON(r *repo, c *commit) obj {
	full := r.slug()
	parents := make([]obj, 0, len(c.parents))
	for _, p := range c.parents {
		parents = append(parents, obj{"url": s.api("repos/" + full + "/commits/" + p), "sha": p})
	}
	email := c.author + "@example.com"
	return obj{
		"url": s.api("repos/" + full + "/commits/" + c.sha), "sha": c.sha, "node_id": nodeID("C", int64(len(c.sha))),
		"html_url": s.web(full + "/commit/" + c.sha), "comments_url": s.api("repos/" + full + "/commits/" + c.sha + "/comments"),
		"commit": obj{
			"url":       s.api("repos/" + full + "/git/commits/" + c.sha),
			"author":    obj{"name": c.author, "email": email, "date": ts(c.authorDate)},
			"committer": obj{"name": "GitHub", "email": "noreply@github.com", "date": ts(c.commitDate)},
			"message":   c.message, "tree": obj{"url": s.api("repos/" + full + "/tree/" + c.sha), "sha": c.sha},
			"comment_count": 0,
			"verification":  obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil},
		},
		"author": s.user(c.author), "committer": s.user("web-flow"), "parents": parents,
	}
}

func (s *Server) pullJSON(r *repo, p *pull, full bool) obj {
	fullName := r.slug()
	head := p.commits[len(p.commits)-1].sha
	state := "open"
	if !p.closed.IsZero() {
		state = "closed"
	}
	var mergeSHA any
	if p.mergeSHA != "" {
		mergeSHA = p.mergeSHA
	}
	base := fmt.Sprintf("repos/%s/pulls/%d", fullName, p.number)
	out := obj{
		"url": s.api(base), "id": p.id, "node_id": nodeID("PR", p.id),
		"html_url":    s.web(fmt.Sprintf("%s/pull/%d", fullName, p.number)),
		"diff_url":    s.web(fmt.Sprintf("%s/pull/%d.diff", fullName, p.number)),
		"commits_url": s.api(base + "/commits"), "comments_url": s.api(fmt.Sprintf("repos/%s/issues/%d/comments", fullName, p.number)),
		"statuses_url": s.api("repos/" + fullName + "/statuses/" + head),
		"number":       p.number, "state": state, "locked": false, "title": p.title, "user": s.user(p.user),
		"body": "Generated change.", "labels": []obj{}, "milestone": nil,
		"created_at": ts(p.created), "updated_at": ts(p.updated), "closed_at": ts(p.closed), "merged_at": ts(p.merged),
		"merge_commit_sha": mergeSHA, "assignee": nil, "assignees": []obj{}, "requested_reviewers": []obj{}, "requested_teams": []obj{},
		"head":               obj{"label": r.owner + ":" + p.branch, "ref": p.branch, "sha": head, "user": s.user(r.owner), "repo": s.nestedRepoJSON(r)},
		"base":               obj{"label": r.owner + ":" + r.branch, "ref": r.branch, "sha": p.baseSHA, "user": s.user(r.owner), "repo": s.nestedRepoJSON(r)},
		"author_association": "MEMBER", "auto_merge": nil, "draft": p.draft,
	}
	if full {
		var mergedBy any
		if p.mergedBy != "" {
			mergedBy = s.user(p.mergedBy)
		}
		out["merged"] = !p.merged.IsZero()
		out["mergeable"] = nil
		out["rebaseable"] = nil
		out["mergeable_state"] = "unknown"
		out["merged_by"] = mergedBy
		out["comments"] = 0
		out["review_comments"] = 0
		out["maintainer_can_modify"] = false
		out["commits"] = len(p.commits)
		out["additions"] = p.additions
		out["deletions"] = p.deletions
		out["changed_files"] = p.files
	}
	return out
}

func (s *Server) reviewJSON(r *repo, p *pull, rv *review) obj {
	return obj{
		"id": rv.id, "node_id": nodeID("PRR", rv.id), "user": s.user(rv.user), "body": "",
		"state": rv.state, "html_url": s.web(fmt.Sprintf("%s/pull/%d#pullrequestreview-%d", r.slug(), p.number, rv.id)),
		"pull_request_url": s.api(fmt.Sprintf("repos/%s/pulls/%d", r.slug(), p.number)),
		"submitted_at":     ts(rv.at), "commit_id": rv.commit, "author_association": "MEMBER",
	}
}

func (s *Server) deploymentJSON(r *repo, d *deployment) obj {
	full := r.slug()
	return obj{
		"url": s.api(fmt.Sprintf("repos/%s/deployments/%d", full, d.id)), "id": d.id, "node_id": nodeID("DE", d.id),
		"sha": d.sha, "ref": r.branch, "task": "deploy", "payload": obj{}, "original_environment": d.env,
		"environment": d.env, "description": "Deploy " + d.sha[:7] + " to " + d.env, "creator": s.user(d.creator),
		"created_at": ts(d.created), "updated_at": ts(d.updated()),
		"statuses_url":          s.api(fmt.Sprintf("repos/%s/deployments/%d/statuses", full, d.id)),
		"repository_url":        s.api("repos/" + full),
		"transient_environment": false, "production_environment": d.env == "production",
	}
}

func (s *Server) statusJSON(r *repo, d *deployment, st *status) obj {
	full := r.slug()
	return obj{
		"url": s.api(fmt.Sprintf("repos/%s/deployments/%d/statuses/%d", full, d.id, st.id)), "id": st.id,
		"node_id": nodeID("DES", st.id), "state": st.state, "creator": s.user(d.creator),
		"description": "Deployment " + st.state + ".", "environment": d.env,
		"target_url": "", "log_url": "", "environment_url": "",
		"created_at": ts(st.at), "updated_at": ts(st.at),
		"deployment_url": s.api(fmt.Sprintf("repos/%s/deployments/%d", full, d.id)), "repository_url": s.api("repos/" + full),
	}
}

func (s *Server) runJSON(r *repo, ru *run) obj {
	full := r.slug()
	base := fmt.Sprintf("repos/%s/actions/runs/%d", full, ru.id)
	var conclusion any
	if ru.status == "completed" {
		conclusion = ru.conclusion
	}
	return obj{
		"id": ru.id, "name": "CI", "node_id": nodeID("WFR", ru.id), "check_suite_id": ru.id, "head_branch": ru.branch,
		"head_sha": ru.sha, "path": ".github/workflows/ci.yml", "run_number": ru.number, "event": ru.event,
		"display_title": "CI", "status": ru.status, "conclusion": conclusion, "workflow_id": r.id*10 + 1,
		"url": s.api(base), "html_url": s.web(fmt.Sprintf("%s/actions/runs/%d", full, ru.id)), "pull_requests": []obj{},
		"created_at": ts(ru.created), "updated_at": ts(ru.updated), "actor": s.user(ru.actor), "run_attempt": ru.attempt,
		"run_started_at": ts(ru.started), "triggering_actor": s.user(ru.actor),
		"jobs_url": s.api(base + "/jobs"), "logs_url": s.api(base + "/logs"),
		"workflow_url": s.api(fmt.Sprintf("repos/%s/actions/workflows/%d", full, r.id*10+1)),
		"head_commit":  obj{"id": ru.sha, "tree_id": ru.sha, "message": "CI", "timestamp": ts(ru.created)},
		"repository":   obj{"id": r.id, "name": r.name, "full_name": full, "private": r.private, "owner": s.user(r.owner)},
	}
}

func (s *Server) releaseJSON(r *repo, rl *release) obj {
	full := r.slug()
	return obj{
		"url": s.api(fmt.Sprintf("repos/%s/releases/%d", full, rl.id)), "html_url": s.web(full + "/releases/" + rl.tag),
		"id": rl.id, "node_id": nodeID("RE", rl.id), "tag_name": rl.tag, "target_commitish": rl.target, "name": rl.tag,
		"body": "Release " + rl.tag, "draft": rl.draft, "prerelease": false,
		"created_at": ts(rl.created), "published_at": ts(rl.published), "author": s.user(rl.author), "assets": []obj{},
	}
}

func (s *Server) protectionJSON(r *repo) obj {
	p := r.protection
	base := s.api("repos/" + r.slug() + "/branches/" + r.branch + "/protection")
	checks := make([]obj, 0, len(p.checks))
	for _, c := range p.checks {
		checks = append(checks, obj{"context": c, "app_id": nil})
	}
	return obj{
		"url": base,
		"required_status_checks": obj{"url": base + "/required_status_checks", "strict": p.strict, "contexts": p.checks,
			"contexts_url": base + "/required_status_checks/contexts", "checks": checks},
		"required_pull_request_reviews": obj{"url": base + "/required_pull_request_reviews", "dismiss_stale_reviews": p.dismissStale,
			"require_code_owner_reviews": p.codeOwnerCheck, "required_approving_review_count": p.reviews, "require_last_push_approval": false},
		"enforce_admins":                   obj{"url": base + "/enforce_admins", "enabled": p.enforceAdmins},
		"required_linear_history":          obj{"enabled": p.linearHistory},
		"allow_force_pushes":               obj{"enabled": false},
		"allow_deletions":                  obj{"enabled": false},
		"required_conversation_resolution": obj{"enabled": false},
		"required_signatures":              obj{"url": base + "/required_signatures", "enabled": false},
	}
}

func (s *Server) contentJSON(r *repo, path, ref string) obj {
	data := r.files[path]
	enc := base64.StdEncoding.EncodeToString([]byte(data))
	var lines []string
	for len(enc) > 60 {
		lines = append(lines, enc[:60])
		enc = enc[60:]
	}
	lines = append(lines, enc)
	out := s.entryJSON(r, path, "file", ref)
	out["encoding"] = "base64"
	out["content"] = strings.Join(lines, "\n") + "\n"
	return out
}

func (s *Server) entryJSON(r *repo, path, typ, ref string) obj {
	full := r.slug()
	name := path[strings.LastIndex(path, "/")+1:]
	size := 0
	if typ == "file" {
		size = len(r.files[path])
	}
	sha := fmt.Sprintf("%040x", len(r.files[path])*7919+len(path))
	self := s.api("repos/" + full + "/contents/" + path + "?ref=" + ref)
	var download any
	if typ == "file" {
		download = s.web(full + "/raw/" + ref + "/" + path)
	}
	return obj{
		"type": typ, "size": size, "name": name, "path": path, "sha": sha, "url": self,
		"git_url": s.api("repos/" + full + "/git/blobs/" + sha), "html_url": s.web(full + "/blob/" + ref + "/" + path),
		"download_url": download, "_links": obj{"self": self, "git": s.api("repos/" + full + "/git/blobs/" + sha), "html": s.web(full + "/blob/" + ref + "/" + path)},
	}
}

// listing returns the entries of directory dir ("" for the root).
func (s *Server) listing(r *repo, dir, ref string) []obj {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	entries := map[string]string{} // name → type
	for p := range r.files {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			entries[rest[:i]] = "dir"
		} else {
			entries[rest] = "file"
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, s.entryJSON(r, prefix+n, entries[n], ref))
	}
	return out
}
