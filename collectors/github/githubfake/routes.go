package githubfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /repos/{owner}/{repo}", s.withRepo(s.getRepo))
	m.HandleFunc("GET /repos/{owner}/{repo}/languages", s.withRepo(func(w http.ResponseWriter, r *http.Request, rp *repo) {
		writeJSON(w, r, http.StatusOK, rp.languageBytes())
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/branches/{branch}/protection", s.withRepo(s.getProtection))
	m.HandleFunc("GET /repos/{owner}/{repo}/commits", s.withRepo(s.listCommits))
	m.HandleFunc("GET /repos/{owner}/{repo}/compare/{basehead}", s.withRepo(s.compare))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.withRepo(s.listPulls))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.withPull(func(w http.ResponseWriter, r *http.Request, rp *repo, p *pull) {
		writeJSON(w, r, http.StatusOK, s.pullJSON(rp, p, true))
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", s.withPull(func(w http.ResponseWriter, r *http.Request, rp *repo, p *pull) {
		items := make([]any, 0, len(p.reviews))
		for _, rv := range p.reviews {
			items = append(items, s.reviewJSON(rp, p, rv))
		}
		s.page(w, r, items, nil)
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/commits", s.withPull(func(w http.ResponseWriter, r *http.Request, rp *repo, p *pull) {
		items := make([]any, 0, len(p.commits))
		for _, c := range p.commits {
			items = append(items, s.commitJSON(rp, c))
		}
		s.page(w, r, items, nil)
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/deployments", s.withRepo(s.listDeployments))
	m.HandleFunc("GET /repos/{owner}/{repo}/deployments/{id}", s.withDeployment(func(w http.ResponseWriter, r *http.Request, rp *repo, d *deployment) {
		writeJSON(w, r, http.StatusOK, s.deploymentJSON(rp, d))
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/deployments/{id}/statuses", s.withDeployment(func(w http.ResponseWriter, r *http.Request, rp *repo, d *deployment) {
		items := make([]any, 0, len(d.statuses))
		for i := len(d.statuses) - 1; i >= 0; i-- {
			items = append(items, s.statusJSON(rp, d, d.statuses[i]))
		}
		s.page(w, r, items, nil)
	}))
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/runs", s.withRepo(s.listRuns))
	m.HandleFunc("GET /repos/{owner}/{repo}/releases", s.withRepo(s.listReleases))
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.withRepo(s.getContents))
	m.HandleFunc("GET /repos/{owner}/{repo}/contents", s.withRepo(s.getContents))
	m.HandleFunc("POST /app/installations/{id}/access_tokens", s.createToken)
	m.HandleFunc("GET /rate_limit", func(w http.ResponseWriter, r *http.Request) {
		core := map[string]any{"limit": s.opts.RateLimit, "remaining": s.remaining, "reset": s.window.Add(time.Hour).Unix(), "used": s.opts.RateLimit - s.remaining}
		writeJSON(w, r, http.StatusOK, map[string]any{"resources": map[string]any{"core": core}, "rate": core})
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	})
	s.mux = m
}

func (s *Server) withRepo(h func(http.ResponseWriter, *http.Request, *repo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rp := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		if rp == nil {
			writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
			return
		}
		h(w, r, rp)
	}
}

func (s *Server) withPull(h func(http.ResponseWriter, *http.Request, *repo, *pull)) http.HandlerFunc {
	return s.withRepo(func(w http.ResponseWriter, r *http.Request, rp *repo) {
		n, _ := strconv.Atoi(r.PathValue("number"))
		p := rp.pull(n)
		if p == nil {
			writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
			return
		}
		h(w, r, rp, p)
	})
}

func (s *Server) withDeployment(h func(http.ResponseWriter, *http.Request, *repo, *deployment)) http.HandlerFunc {
	return s.withRepo(func(w http.ResponseWriter, r *http.Request, rp *repo) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		d := rp.deployment(id)
		if d == nil {
			writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/deployments/deployments#get-a-deployment")
			return
		}
		h(w, r, rp, d)
	})
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, rp *repo) {
	writeJSON(w, r, http.StatusOK, s.repoJSON(rp))
}

func (s *Server) getProtection(w http.ResponseWriter, r *http.Request, rp *repo) {
	if r.PathValue("branch") != rp.branch {
		writeError(w, http.StatusNotFound, "Branch not found", "https://docs.github.com/rest/branches/branch-protection#get-branch-protection")
		return
	}
	if rp.protection == nil {
		writeError(w, http.StatusNotFound, "Branch not protected", "https://docs.github.com/rest/branches/branch-protection#get-branch-protection")
		return
	}
	writeJSON(w, r, http.StatusOK, s.protectionJSON(rp))
}

// resolve turns a branch name or sha into a commit sha.
func (rp *repo) resolve(ref string) string {
	if ref == "" || ref == rp.branch || ref == "HEAD" {
		return rp.head
	}
	if _, ok := rp.commits[ref]; ok {
		return ref
	}
	for sha := range rp.commits {
		if len(ref) >= 7 && strings.HasPrefix(sha, ref) {
			return sha
		}
	}
	return ""
}

func (s *Server) listCommits(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	sha := rp.resolve(q.Get("sha"))
	if sha == "" {
		writeError(w, http.StatusNotFound, "No commit found for SHA: "+q.Get("sha"), "https://docs.github.com/rest/commits/commits#list-commits")
		return
	}
	since, _ := time.Parse(time.RFC3339, q.Get("since"))
	var list []*commit
	for _, c := range rp.history(sha) {
		if since.IsZero() || !c.commitDate.Before(since) {
			list = append(list, c)
		}
	}
	s.pageOf(w, r, len(list), func(i int) any { return s.commitJSON(rp, list[i]) }, nil)
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request, rp *repo) {
	base, head, ok := strings.Cut(r.PathValue("basehead"), "...")
	b, h := rp.resolve(base), rp.resolve(head)
	if !ok || b == "" || h == "" {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")
		return
	}
	commits, status := rp.compare(b, h)
	behind := len(rp.reachable(b)) - (len(rp.reachable(h)) - len(commits))
	full := rp.slug()
	s.pageOf(w, r, len(commits), func(i int) any { return s.commitJSON(rp, commits[i]) }, func(page []any) any {
		return obj{
			"url":               s.api("repos/" + full + "/compare/" + base + "..." + head),
			"html_url":          s.web(full + "/compare/" + base + "..." + head),
			"permalink_url":     s.web(full + "/compare/" + full + ":" + b[:7] + "..." + full + ":" + h[:7]),
			"base_commit":       s.commitJSON(rp, rp.commits[b]),
			"merge_base_commit": s.commitJSON(rp, rp.commits[b]),
			"status":            status, "ahead_by": len(commits), "behind_by": max(behind, 0),
			"total_commits": len(commits), "commits": page, "files": []obj{},
		}
	})
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	pulls := make([]*pull, 0, len(rp.pulls))
	for _, p := range rp.pulls {
		open := p.closed.IsZero()
		if state == "all" || state == "open" && open || state == "closed" && !open {
			pulls = append(pulls, p)
		}
	}
	key := func(p *pull) time.Time { return p.created }
	if q.Get("sort") == "updated" {
		key = func(p *pull) time.Time { return p.updated }
	}
	asc := q.Get("direction") == "asc" || q.Get("direction") == "" && q.Get("sort") == ""
	if q.Get("sort") == "" {
		asc = false
	}
	sort.SliceStable(pulls, func(i, j int) bool {
		a, b := key(pulls[i]), key(pulls[j])
		if a.Equal(b) {
			return pulls[i].number > pulls[j].number
		}
		if asc {
			return a.Before(b)
		}
		return a.After(b)
	})
	s.pageOf(w, r, len(pulls), func(i int) any { return s.pullJSON(rp, pulls[i], false) }, nil)
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	var list []*deployment
	for i := len(rp.deployments) - 1; i >= 0; i-- {
		d := rp.deployments[i]
		if env := q.Get("environment"); env != "" && d.env != env {
			continue
		}
		if sha := q.Get("sha"); sha != "" && d.sha != sha {
			continue
		}
		list = append(list, d)
	}
	s.pageOf(w, r, len(list), func(i int) any { return s.deploymentJSON(rp, list[i]) }, nil)
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	var list []*run
	for i := len(rp.runs) - 1; i >= 0; i-- {
		ru := rp.runs[i]
		if st := q.Get("status"); st != "" && ru.status != st && ru.conclusion != st {
			continue
		}
		if b := q.Get("branch"); b != "" && ru.branch != b {
			continue
		}
		list = append(list, ru)
	}
	total := len(list)
	s.pageOf(w, r, total, func(i int) any { return s.runJSON(rp, list[i]) }, func(page []any) any { return obj{"total_count": total, "workflow_runs": page} })
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request, rp *repo) {
	var items []any
	for i := len(rp.releases) - 1; i >= 0; i-- {
		items = append(items, s.releaseJSON(rp, rp.releases[i]))
	}
	s.page(w, r, items, nil)
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request, rp *repo) {
	p := strings.Trim(r.PathValue("path"), "/")
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.branch
	}
	if rp.resolve(ref) == "" {
		writeError(w, http.StatusNotFound, "No commit found for the ref "+ref, "https://docs.github.com/rest/repos/contents#get-repository-content")
		return
	}
	if _, ok := rp.files[p]; ok {
		writeJSON(w, r, http.StatusOK, s.contentJSON(rp, p, ref))
		return
	}
	list := s.listing(rp, p, ref)
	if len(list) == 0 && p != "" {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/repos/contents#get-repository-content")
		return
	}
	writeJSON(w, r, http.StatusOK, list)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if s.opts.App == nil || id != s.opts.App.InstallationID {
		writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	exp := s.opts.Now().Add(time.Hour).UTC().Truncate(time.Second)
	s.tokens[tok] = exp
	writeJSON(w, r, http.StatusCreated, obj{
		"token": tok, "expires_at": ts(exp), "permissions": obj{"contents": "read", "pull_requests": "read", "deployments": "read", "actions": "read", "administration": "read", "metadata": "read"},
		"repository_selection": "all",
	})
}
