// Package gitlabfake is an in-memory GitLab REST API v4 for tests and the
// demo: the routes the collector reads, offset pagination with GitLab's
// headers (X-Page, X-Next-Page, X-Total, Link), PRIVATE-TOKEN checks,
// RateLimit-* headers, 429 "Retry later" with Retry-After, and injected 5xx
// answers. Every object is rendered from a real GitLab payload (payloads/,
// see payloads/SOURCES.md) with the fake's own values set over it.
package gitlabfake

import (
	"bytes"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed payloads/*.json payloads/*.jsonc
var payloads embed.FS

// Options configure a fake.
type Options struct {
	// Projects are the project paths ("group/sub/project") the fake serves.
	Projects []string
	// Epoch ends the generated history (default: 2024-06-03 12:00 UTC).
	Epoch time.Time
	// Token is the PRIVATE-TOKEN the fake accepts; empty accepts any.
	Token string
}

// Commit, MergeRequest, Note, Pipeline, Deployment and Release are the fake's
// objects; the JSON it serves is a real payload with these values set.
type (
	Commit struct {
		SHA         string
		Parents     []string
		Authored    time.Time
		Committed   time.Time
		AuthorEmail string
		Title       string
	}
	MergeRequest struct {
		IID, ID        int64
		Title, State   string
		Author, Merger string
		Source, Target string
		SHA, MergeSHA  string
		Created        time.Time
		Updated        time.Time
		Merged, Closed time.Time
		Commits        []*Commit
		Notes          []*Note
		Diff           string
	}
	Note struct {
		ID      int64
		Author  string
		Body    string
		System  bool
		Created time.Time
	}
	Pipeline struct {
		ID, IID           int64
		Status, Ref, SHA  string
		Source, User      string
		Created, Started  time.Time
		Finished, Updated time.Time
	}
	Deployment struct {
		ID, IID          int64
		Status, Ref, SHA string
		Environment      string
		User             string
		Created, Updated time.Time
	}
	Release struct {
		Tag, Name, SHA, Author string
		Created, Released      time.Time
	}
)

// Project is one fake project with its history.
type Project struct {
	ID                int64
	Path              string
	DefaultBranch     string
	Protected         bool
	ApprovalsRequired int
	Files             map[string]string
	Commits           []*Commit // default branch, newest first
	MRs               []*MergeRequest
	Pipelines         []*Pipeline
	Deployments       []*Deployment
	Releases          []*Release
	Created           time.Time
	failStatus        int
}

// Stats count the requests the fake answered.
type Stats struct {
	Requests  int
	ByProject map[string]int
	Statuses  map[int]int
}

// Server is a running fake. Safe for concurrent use.
type Server struct {
	URL string
	srv *httptest.Server

	token string
	mu    sync.Mutex
	byKey map[string]*Project // id and lower-cased path → project
	list  []*Project
	stats Stats
	// faults
	rateLimited int // answer the next n requests 429
	serverErrs  int // answer the next n requests 5xx
	serverCode  int
	ids         int64
}

// New starts a fake serving opts.Projects with a generated history.
func New(opts Options) *Server {
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)
	}
	s := &Server{token: opts.Token, byKey: map[string]*Project{}, ids: 5000}
	s.stats = Stats{ByProject: map[string]int{}, Statuses: map[int]int{}}
	for i, p := range opts.Projects {
		s.addProject(generate(i, strings.ToLower(p), opts.Epoch.UTC(), &s.ids))
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) addProject(p *Project) {
	s.byKey[strconv.FormatInt(p.ID, 10)] = p
	s.byKey[p.Path] = p
	s.list = append(s.list, p)
}

// Project returns the project at path (nil when unknown). Callers must not
// mutate it while requests run; use the mutators.
func (s *Server) Project(path string) *Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKey[strings.ToLower(path)]
}

// Stats returns a copy of the request counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Requests: s.stats.Requests, ByProject: maps.Clone(s.stats.ByProject), Statuses: maps.Clone(s.stats.Statuses)}
}

// ResetStats zeroes the request counts.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{ByProject: map[string]int{}, Statuses: map[int]int{}}
}

// RateLimitNext answers the next n requests 429 "Retry later" with
// Retry-After, as GitLab's throttles do.
func (s *Server) RateLimitNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited = n
}

// FailNext answers the next n requests with status (a 5xx).
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serverErrs, s.serverCode = n, status
}

// FailProject answers every request about path with status (0 heals it).
func (s *Server) FailProject(path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.byKey[strings.ToLower(path)]; p != nil {
		p.failStatus = status
	}
}

// AddChange adds to path's history, at at: a feature commit and its merge
// commit on the default branch, the merged merge request, its pipeline and a
// successful production deployment of the merge commit (deployed 30 minutes
// after the merge). It returns the merge request.
func (s *Server) AddChange(path string, at time.Time) *MergeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byKey[strings.ToLower(path)]
	if p == nil {
		return nil
	}
	mr := p.addChange(at.Add(-30*time.Minute), &s.ids)
	p.addDeployment("production", mr.MergeSHA, at, "success", &s.ids)
	return mr
}

func sha(parts ...any) string {
	h := sha1.Sum([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:])
}

// generate builds project i's history: 24 merged merge requests over the 48
// days before epoch (a feature commit and a merge commit each), one open and
// one closed merge request, a pipeline per merge (every fifth failed) and one
// still running, a production deployment after every second merge (the
// seventh failed) plus staging ones, and a release for every fourth
// production deployment.
func generate(i int, path string, epoch time.Time, ids *int64) *Project {
	p := &Project{
		ID: int64(1000 + i), Path: path, DefaultBranch: "main", Protected: i%2 == 0, Created: epoch.AddDate(-1, 0, 0),
		Files: map[string]string{
			"README.md":      "# " + path + "\n",
			".gitlab-ci.yml": "test:\n  script: go test ./...\n",
			"go.mod":         fmt.Sprintf("module example.com/%s\n\ngo 1.%d\n\nrequire github.com/google/go-cmp v0.6.0\n", path, 20+i%4),
		},
	}
	if i%2 == 1 {
		p.Files["Dockerfile"] = "ARG GO=1.22\nFROM golang:${GO} AS build\nRUN go build -o /app .\n\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /app /app\n"
	}
	if p.Protected {
		p.ApprovalsRequired = 1 + i%2
		p.Files["CODEOWNERS"] = "* @" + strings.SplitN(path, "/", 2)[0] + "\n"
	}
	root := &Commit{SHA: sha(path, "root"), Authored: epoch.AddDate(0, 0, -60), Committed: epoch.AddDate(0, 0, -60), AuthorEmail: "dev0@example.com", Title: "Initial commit"}
	p.Commits = []*Commit{root}
	start := epoch.AddDate(0, 0, -48)
	deploys := 0
	for k := range 24 {
		merged := start.Add(time.Duration(k*48+i%5) * time.Hour)
		mr := p.addChange(merged, ids)
		if k%5 == 4 {
			p.Pipelines[len(p.Pipelines)-1].Status = "failed"
		}
		if k%2 == 1 {
			deploys++
			status := "success"
			if deploys == 7 {
				status = "failed"
			}
			p.addDeployment("production", mr.MergeSHA, merged.Add(90*time.Minute), status, ids)
			p.addDeployment("staging", mr.MergeSHA, merged.Add(30*time.Minute), "success", ids)
			if deploys%4 == 0 {
				d := p.Deployments[len(p.Deployments)-2]
				p.Releases = append(p.Releases, &Release{
					Tag: fmt.Sprintf("v1.%d.0", deploys/4), Name: fmt.Sprintf("Release 1.%d", deploys/4), SHA: d.SHA, Author: "release-bot",
					Created: d.Updated, Released: d.Updated,
				})
			}
		}
	}
	head := p.Commits[0].SHA
	open := &MergeRequest{IID: int64(len(p.MRs) + 1), Title: "Work in progress", State: "opened", Author: "dev1", Source: "feature-open", Target: "main",
		SHA: sha(path, "open"), Created: epoch.Add(-20 * time.Hour), Updated: epoch.Add(-2 * time.Hour)}
	open.Notes = []*Note{{ID: nextID(ids), Author: "dev2", Body: "Looks good so far.", Created: epoch.Add(-3 * time.Hour)}}
	closed := &MergeRequest{IID: int64(len(p.MRs) + 2), Title: "Abandoned idea", State: "closed", Author: "dev2", Source: "feature-closed", Target: "main",
		SHA: sha(path, "closed"), Created: epoch.AddDate(0, 0, -10), Updated: epoch.AddDate(0, 0, -9), Closed: epoch.AddDate(0, 0, -9)}
	for _, mr := range []*MergeRequest{open, closed} {
		mr.ID = nextID(ids)
		p.MRs = append(p.MRs, mr)
	}
	p.Pipelines = append(p.Pipelines, &Pipeline{ID: nextID(ids), IID: int64(len(p.Pipelines) + 1), Status: "running", Ref: "main", SHA: head,
		Source: "push", User: "dev1", Created: epoch.Add(-10 * time.Minute), Started: epoch.Add(-9 * time.Minute), Updated: epoch.Add(-5 * time.Minute)})
	return p
}

func nextID(ids *int64) int64 { *ids++; return *ids }

// addChange adds a feature commit, its merge commit and the merged merge
// request (opened a day before merged, commented on and approved), and a
// pipeline on the merge commit.
func (p *Project) addChange(merged time.Time, ids *int64) *MergeRequest {
	k := len(p.MRs) + 1
	author := fmt.Sprintf("dev%d", k%3+1)
	reviewer := fmt.Sprintf("dev%d", (k+1)%3+1)
	parent := p.Commits[0]
	feature := &Commit{SHA: sha(p.Path, "feature", k), Parents: []string{parent.SHA}, Authored: merged.Add(-30 * time.Hour),
		Committed: merged.Add(-26 * time.Hour), AuthorEmail: author + "@example.com", Title: fmt.Sprintf("Change %d", k)}
	merge := &Commit{SHA: sha(p.Path, "merge", k), Parents: []string{parent.SHA, feature.SHA}, Authored: merged, Committed: merged,
		AuthorEmail: reviewer + "@example.com", Title: fmt.Sprintf("Merge branch 'change-%d' into 'main'", k)}
	p.Commits = append([]*Commit{merge, feature}, p.Commits...)
	created := merged.Add(-24 * time.Hour)
	mr := &MergeRequest{
		ID: nextID(ids), IID: int64(k), Title: fmt.Sprintf("Change %d", k), State: "merged", Author: author, Merger: reviewer,
		Source: fmt.Sprintf("change-%d", k), Target: p.DefaultBranch, SHA: feature.SHA, MergeSHA: merge.SHA,
		Created: created, Updated: merged, Merged: merged, Commits: []*Commit{feature},
		Diff: fmt.Sprintf("@@ -1,2 +1,%d @@\n line\n-old line\n+new line\n+another line\n", 2+k%3),
	}
	mr.Notes = []*Note{
		{ID: nextID(ids), Author: author, Body: "Ready for review.", Created: created.Add(time.Hour)},
		{ID: nextID(ids), Author: reviewer, Body: "Please rename this.", Created: created.Add(3 * time.Hour)},
		{ID: nextID(ids), Author: reviewer, Body: "approved this merge request", System: true, Created: created.Add(5 * time.Hour)},
	}
	p.MRs = append(p.MRs, mr)
	p.Pipelines = append(p.Pipelines, &Pipeline{ID: nextID(ids), IID: int64(len(p.Pipelines) + 1), Status: "success", Ref: p.DefaultBranch,
		SHA: merge.SHA, Source: "push", User: reviewer, Created: merged.Add(time.Minute), Started: merged.Add(2 * time.Minute),
		Finished: merged.Add(14 * time.Minute), Updated: merged.Add(14 * time.Minute)})
	return mr
}

func (p *Project) addDeployment(env, sha string, at time.Time, status string, ids *int64) {
	p.Deployments = append(p.Deployments, &Deployment{ID: nextID(ids), IID: int64(len(p.Deployments) + 1), Status: status, Ref: p.DefaultBranch,
		SHA: sha, Environment: env, User: "deployer", Created: at, Updated: at.Add(4 * time.Minute)})
}

// serve routes /api/v4/... requests.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/projects/")
	var p *Project
	if ok {
		id, tail, _ := strings.Cut(rest, "/")
		key, _ := url.PathUnescape(id)
		p = s.byKey[strings.ToLower(key)]
		if p != nil {
			s.stats.ByProject[p.Path]++
		}
		rest = tail
	}
	h := w.Header()
	h.Set("RateLimit-Limit", "2000")
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
	status := s.route(w, r, ok, p, rest)
	s.stats.Statuses[status]++
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, isProject bool, p *Project, rest string) int {
	switch {
	case s.token != "" && r.Header.Get("PRIVATE-TOKEN") != s.token:
		return message(w, http.StatusUnauthorized, "401 Unauthorized")
	case s.rateLimited > 0:
		s.rateLimited--
		w.Header().Set("Retry-After", "1")
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
		w.Header().Set("RateLimit-ResetTime", time.Now().Add(time.Second).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
		return http.StatusTooManyRequests
	case s.serverErrs > 0:
		s.serverErrs--
		return message(w, s.serverCode, fmt.Sprintf("%d Internal Server Error", s.serverCode))
	case r.Method != http.MethodGet:
		return message(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
	case !isProject || p == nil:
		return message(w, http.StatusNotFound, "404 Project Not Found")
	case p.failStatus != 0:
		return message(w, p.failStatus, fmt.Sprintf("%d error", p.failStatus))
	}
	w.Header().Set("RateLimit-Remaining", "1999")
	q := r.URL.Query()
	parts := strings.Split(rest, "/")
	switch {
	case rest == "":
		return writeJSON(w, s.renderProject(p))
	case rest == "repository/commits":
		var items []any
		since := parseTime(q.Get("since"))
		for _, c := range p.Commits {
			if since.IsZero() || !c.Committed.Before(since) {
				items = append(items, renderCommit(p, c))
			}
		}
		return paginate(w, r, items)
	case rest == "repository/compare":
		return s.compare(w, p, q.Get("from"), q.Get("to"))
	case rest == "repository/tree":
		return s.tree(w, r, p, q.Get("path"))
	case len(parts) == 4 && parts[0] == "repository" && parts[1] == "files" && parts[3] == "raw":
		name, _ := url.PathUnescape(parts[2])
		content, ok := p.Files[name]
		if !ok {
			return message(w, http.StatusNotFound, "404 File Not Found")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(content))
		return http.StatusOK
	case rest == "protected_branches":
		var items []any
		if p.Protected {
			b := template("protected-branches-list.json", 0)
			b["name"] = p.DefaultBranch
			items = append(items, b, template("protected-branches-list.json", 1))
		}
		return paginate(w, r, items)
	case len(parts) == 2 && parts[0] == "protected_branches":
		name, _ := url.PathUnescape(parts[1])
		if !p.Protected || name != p.DefaultBranch {
			return message(w, http.StatusNotFound, "404 Not found")
		}
		b := template("protected-branches-list.json", 0)
		b["name"] = name
		return writeJSON(w, b)
	case rest == "approval_rules":
		if p.ApprovalsRequired == 0 {
			return paginate(w, r, nil)
		}
		return paginate(w, r, []any{map[string]any{
			"id": p.ID, "name": "All Members", "rule_type": "any_approver", "eligible_approvers": []any{}, "approvals_required": p.ApprovalsRequired,
			"users": []any{}, "groups": []any{}, "contains_hidden_groups": false, "protected_branches": []any{}, "applies_to_all_protected_branches": false,
		}})
	case rest == "merge_requests":
		mrs := filterUpdated(p.MRs, q.Get("updated_after"), func(m *MergeRequest) time.Time { return m.Updated })
		items := make([]any, 0, len(mrs))
		for _, m := range mrs {
			items = append(items, renderMR(p, m))
		}
		return paginate(w, r, items)
	case len(parts) >= 2 && parts[0] == "merge_requests":
		iid, _ := strconv.ParseInt(parts[1], 10, 64)
		var mr *MergeRequest
		for _, m := range p.MRs {
			if m.IID == iid {
				mr = m
			}
		}
		if mr == nil {
			return message(w, http.StatusNotFound, "404 Not found")
		}
		switch strings.Join(parts[2:], "/") {
		case "":
			return writeJSON(w, renderMR(p, mr))
		case "notes":
			items := make([]any, 0, len(mr.Notes))
			for _, n := range mr.Notes {
				items = append(items, renderNote(p, mr, n))
			}
			return paginate(w, r, items)
		case "commits":
			items := make([]any, 0, len(mr.Commits))
			for _, c := range mr.Commits {
				items = append(items, renderCommit(p, c))
			}
			return paginate(w, r, items)
		case "diffs":
			return paginate(w, r, []any{map[string]any{
				"old_path": "main.go", "new_path": "main.go", "a_mode": "100644", "b_mode": "100644", "diff": mr.Diff,
				"new_file": false, "renamed_file": false, "deleted_file": false, "generated_file": false, "collapsed": false, "too_large": false,
			}})
		}
	case rest == "pipelines":
		pls := filterUpdated(p.Pipelines, q.Get("updated_after"), func(x *Pipeline) time.Time { return x.Updated })
		items := make([]any, 0, len(pls))
		for _, x := range pls {
			full := renderPipeline(p, x)
			info := template("pipelines-list.json", 0)
			for k := range info {
				info[k] = full[k]
			}
			items = append(items, info)
		}
		return paginate(w, r, items)
	case len(parts) == 2 && parts[0] == "pipelines":
		return answerByID(w, p.Pipelines, parts[1], func(x *Pipeline) int64 { return x.ID }, func(x *Pipeline) any { return renderPipeline(p, x) })
	case rest == "deployments":
		ds := filterUpdated(p.Deployments, q.Get("updated_after"), func(d *Deployment) time.Time { return d.Updated })
		if env := q.Get("environment"); env != "" {
			ds = filter(ds, func(d *Deployment) bool { return d.Environment == env })
		}
		if st := q.Get("status"); st != "" {
			ds = filter(ds, func(d *Deployment) bool { return d.Status == st })
		}
		if q.Get("order_by") == "id" || q.Get("order_by") == "" {
			sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
		}
		if q.Get("sort") == "desc" {
			for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
		items := make([]any, 0, len(ds))
		for _, d := range ds {
			items = append(items, renderDeployment(p, d))
		}
		return paginate(w, r, items)
	case len(parts) == 2 && parts[0] == "deployments":
		return answerByID(w, p.Deployments, parts[1], func(d *Deployment) int64 { return d.ID }, func(d *Deployment) any { return renderDeployment(p, d) })
	case rest == "releases":
		rs := append([]*Release(nil), p.Releases...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].Released.After(rs[j].Released) })
		items := make([]any, 0, len(rs))
		for _, x := range rs {
			items = append(items, renderRelease(p, x))
		}
		return paginate(w, r, items)
	case len(parts) == 2 && parts[0] == "releases":
		tag, _ := url.PathUnescape(parts[1])
		for _, x := range p.Releases {
			if x.Tag == tag {
				return writeJSON(w, renderRelease(p, x))
			}
		}
		return message(w, http.StatusNotFound, "404 Not found")
	}
	return message(w, http.StatusNotFound, "404 Not Found")
}

func filter[T any](in []T, keep func(T) bool) []T {
	var out []T
	for _, x := range in {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// filterUpdated keeps the items updated at or after the updated_after
// parameter, ordered by update, oldest first.
func filterUpdated[T any](in []T, after string, updated func(T) time.Time) []T {
	t := parseTime(after)
	out := filter(in, func(x T) bool { return t.IsZero() || !updated(x).Before(t) })
	sort.SliceStable(out, func(i, j int) bool { return updated(out[i]).Before(updated(out[j])) })
	return out
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func (s *Server) compare(w http.ResponseWriter, p *Project, from, to string) int {
	idx := map[string]int{}
	for i, c := range p.Commits {
		idx[c.SHA] = i
	}
	fi, ok1 := idx[from]
	ti, ok2 := idx[to]
	if !ok1 || !ok2 {
		return message(w, http.StatusNotFound, "404 Ref Not Found")
	}
	cmp := template("repository-compare.json", -1)
	commits := []any{}
	// Newest first in p.Commits; GitLab lists a compare's commits oldest first.
	for i := fi - 1; i >= ti; i-- {
		commits = append(commits, renderCommit(p, p.Commits[i]))
	}
	cmp["commits"] = commits
	if len(commits) > 0 {
		cmp["commit"] = commits[len(commits)-1]
	} else {
		cmp["commit"] = nil
	}
	cmp["diffs"] = []any{}
	cmp["compare_same_ref"] = from == to
	return writeJSON(w, cmp)
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request, p *Project, dir string) int {
	seen := map[string]bool{}
	var items []any
	names := make([]string, 0, len(p.Files))
	for name := range p.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d, base, nested := "", name, strings.Contains(name, "/")
		if nested {
			i := strings.LastIndex(name, "/")
			d, base = name[:i], name[i+1:]
		}
		node := template("repository-tree.json", 0)
		switch {
		case d == dir:
			node["name"], node["path"], node["type"], node["mode"], node["id"] = base, name, "blob", "100644", sha(name)
		case dir == "" && nested && !seen[strings.SplitN(name, "/", 2)[0]]:
			top := strings.SplitN(name, "/", 2)[0]
			seen[top] = true
			node["name"], node["path"], node["type"], node["mode"], node["id"] = top, top, "tree", "040000", sha(top)
		default:
			continue
		}
		items = append(items, node)
	}
	if dir != "" && len(items) == 0 {
		return message(w, http.StatusNotFound, "404 Tree Not Found")
	}
	return paginate(w, r, items)
}

// paginate serves one page of items with GitLab's offset pagination headers.
func paginate(w http.ResponseWriter, r *http.Request, items []any) int {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 20
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	total := len(items)
	pages := max((total+per-1)/per, 1)
	lo, hi := min((page-1)*per, total), min(page*per, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	link := func(n int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		v := u.Query()
		v.Set("page", strconv.Itoa(n))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		links = append(links, link(page-1, "prev"))
	} else {
		h.Set("X-Prev-Page", "")
	}
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	} else {
		h.Set("X-Next-Page", "")
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	out := items[lo:hi]
	if out == nil {
		out = []any{}
	}
	return writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
	return http.StatusOK
}

// message answers GitLab's error shape, {"message": "..."}.
func message(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	return status
}

var (
	templatesMu sync.Mutex
	templates   = map[string]any{}
	lineComment = regexp.MustCompile(`(?m)\s*//[^"\n]*$`)
	trailing    = regexp.MustCompile(`,(\s*[}\]])`)
)

// template returns a fresh copy of a real payload: element i of a list
// payload, or the whole object when i is -1. .jsonc payloads (GitLab's docs
// blocks) lose their // comments and trailing commas first.
func template(name string, i int) map[string]any {
	templatesMu.Lock()
	v, ok := templates[name]
	if !ok {
		raw, err := payloads.ReadFile("payloads/" + name)
		if err != nil {
			panic("gitlabfake: " + err.Error())
		}
		if strings.HasSuffix(name, ".jsonc") {
			raw = trailing.ReplaceAll(lineComment.ReplaceAll(raw, nil), []byte("$1"))
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			panic("gitlabfake: " + name + ": " + err.Error())
		}
		templates[name] = v
	}
	templatesMu.Unlock()
	if i >= 0 {
		v = v.([]any)[i]
	}
	return deepCopy(v).(map[string]any)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for k, e := range x {
			l[k] = deepCopy(e)
		}
		return l
	}
	return v
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func user(name string) map[string]any {
	return map[string]any{"id": len(name), "name": name, "username": name, "state": "active", "avatar_url": nil, "web_url": "https://gitlab.example.com/" + name}
}

func (s *Server) renderProject(p *Project) map[string]any {
	m := template("project-get.jsonc", -1)
	i := strings.LastIndex(p.Path, "/")
	m["id"], m["path_with_namespace"], m["path"], m["name"] = p.ID, p.Path, p.Path[i+1:], p.Path[i+1:]
	m["default_branch"], m["visibility"], m["archived"] = p.DefaultBranch, "internal", false
	m["created_at"], m["last_activity_at"] = ts(p.Created), ts(p.Commits[0].Committed)
	m["web_url"] = s.URL + "/" + p.Path
	m["only_allow_merge_if_pipeline_succeeds"] = p.Protected
	m["only_allow_merge_if_all_discussions_are_resolved"] = p.Protected
	m["merge_method"] = "merge"
	delete(m, "forked_from_project")
	return m
}

func renderCommit(p *Project, c *Commit) map[string]any {
	m := template("commits-list.json", 0)
	m["id"], m["short_id"], m["title"], m["message"] = c.SHA, c.SHA[:11], c.Title, c.Title
	m["author_email"], m["author_name"] = c.AuthorEmail, strings.TrimSuffix(c.AuthorEmail, "@example.com")
	m["committer_email"], m["committer_name"] = c.AuthorEmail, strings.TrimSuffix(c.AuthorEmail, "@example.com")
	m["authored_date"], m["committed_date"], m["created_at"] = ts(c.Authored), ts(c.Committed), ts(c.Committed)
	parents := []any{}
	for _, x := range c.Parents {
		parents = append(parents, x)
	}
	m["parent_ids"] = parents
	m["web_url"] = "https://gitlab.example.com/" + p.Path + "/-/commit/" + c.SHA
	return m
}

func renderMR(p *Project, mr *MergeRequest) map[string]any {
	m := template("merge-request-get--go-gitlab.json", -1)
	m["id"], m["iid"], m["project_id"], m["title"], m["state"] = mr.ID, mr.IID, p.ID, mr.Title, mr.State
	m["source_project_id"], m["target_project_id"] = p.ID, p.ID
	m["created_at"], m["updated_at"], m["merged_at"], m["closed_at"] = ts(mr.Created), ts(mr.Updated), ts(mr.Merged), ts(mr.Closed)
	m["author"], m["assignee"], m["assignees"], m["reviewers"] = user(mr.Author), nil, []any{}, []any{}
	m["merged_by"], m["merge_user"], m["closed_by"] = nil, nil, nil
	if mr.State == "merged" {
		m["merged_by"], m["merge_user"] = user(mr.Merger), user(mr.Merger)
	}
	if mr.State == "closed" {
		m["closed_by"] = user(mr.Author)
	}
	m["source_branch"], m["target_branch"], m["sha"] = mr.Source, mr.Target, mr.SHA
	m["merge_commit_sha"], m["squash_commit_sha"], m["squash"] = nil, nil, false
	if mr.MergeSHA != "" {
		m["merge_commit_sha"] = mr.MergeSHA
	}
	m["draft"], m["work_in_progress"] = false, false
	m["web_url"] = fmt.Sprintf("https://gitlab.example.com/%s/-/merge_requests/%d", p.Path, mr.IID)
	m["reference"] = fmt.Sprintf("!%d", mr.IID)
	m["labels"], m["milestone"] = []any{}, nil
	return m
}

func renderNote(p *Project, mr *MergeRequest, n *Note) map[string]any {
	note := template("merge-request-discussions-list.json", 0)["notes"].([]any)[0].(map[string]any)
	note["id"], note["body"], note["author"], note["system"] = n.ID, n.Body, user(n.Author), n.System
	note["type"] = nil
	note["created_at"], note["updated_at"] = ts(n.Created), ts(n.Created)
	note["noteable_id"], note["noteable_iid"], note["project_id"] = mr.ID, mr.IID, p.ID
	return note
}

func renderPipeline(p *Project, x *Pipeline) map[string]any {
	m := template("pipeline-get.json", -1)
	m["id"], m["iid"], m["project_id"], m["status"], m["ref"], m["sha"], m["source"] = x.ID, x.IID, p.ID, x.Status, x.Ref, x.SHA, x.Source
	m["name"] = "Build pipeline"
	m["created_at"], m["updated_at"], m["started_at"], m["finished_at"] = ts(x.Created), ts(x.Updated), ts(x.Started), ts(x.Finished)
	m["duration"] = nil
	if !x.Finished.IsZero() {
		m["duration"] = int(x.Finished.Sub(x.Started).Seconds())
	}
	m["user"] = user(x.User)
	m["web_url"] = fmt.Sprintf("https://gitlab.example.com/%s/-/pipelines/%d", p.Path, x.ID)
	return m
}

func renderDeployment(p *Project, d *Deployment) map[string]any {
	m := template("deployment-get.json", -1)
	m["id"], m["iid"], m["status"], m["ref"], m["sha"] = d.ID, d.IID, d.Status, d.Ref, d.SHA
	m["created_at"], m["updated_at"] = ts(d.Created), ts(d.Updated)
	m["user"] = user(d.User)
	env := m["environment"].(map[string]any)
	env["name"], env["id"] = d.Environment, len(d.Environment)
	env["external_url"] = "https://" + d.Environment + ".example.com"
	dep := m["deployable"].(map[string]any)
	dep["status"], dep["ref"] = d.Status, d.Ref
	dep["commit"].(map[string]any)["id"] = d.SHA
	dep["pipeline"].(map[string]any)["sha"] = d.SHA
	return m
}

func renderRelease(p *Project, r *Release) map[string]any {
	m := template("releases-list.json", 0)
	m["tag_name"], m["name"], m["created_at"], m["released_at"] = r.Tag, r.Name, ts(r.Created), ts(r.Released)
	m["author"] = user(r.Author)
	m["upcoming_release"] = false
	c := m["commit"].(map[string]any)
	c["id"], c["short_id"] = r.SHA, r.SHA[:8]
	m["tag_path"] = "/" + p.Path + "/-/tags/" + r.Tag
	return m
}

// answerByID answers the item of list whose id is idText, 404 when there is
// none, and returns the status.
func answerByID[T any](w http.ResponseWriter, list []T, idText string, id func(T) int64, render func(T) any) int {
	want, _ := strconv.ParseInt(idText, 10, 64)
	for _, x := range list {
		if id(x) == want {
			return writeJSON(w, render(x))
		}
	}
	return message(w, http.StatusNotFound, "404 Not found")
}
