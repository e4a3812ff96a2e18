// Package jirafake is a fake Jira that speaks the REST API the Yardstick Jira
// collector uses, for tests and for `yardstick demo`, which runs it in-process.
//
// It serves a deterministic set of issues for a list of project keys, as Jira
// Cloud (POST /rest/api/3/search/jql with nextPageToken paging, paged
// /issue/{id}/changelog, 410 Gone on the retired /search) or as Jira Server /
// Data Center (/rest/api/2/search with startAt paging, full changelog on issue
// GET). Payloads are shaped like Atlassian's published examples (kept in
// collectors/jira/testdata). Search embeds only the most recent histories of a
// changelog, as Cloud does, so clients must page for the rest. Faults (429 with
// Retry-After, a 500 that succeeds on retry) can be injected, and every request
// is counted. Safe for concurrent use.
package jirafake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
)

// StoryPointsField is the custom field the fake keeps story points in, the id
// Jira Cloud gives "Story point estimate" on most sites.
const StoryPointsField = "customfield_10016"

// Options configure a fake. Zero values take the defaults noted.
type Options struct {
	Flavor   string   // "cloud" (default) or "server"
	Projects []string // project keys
	// Components and Labels, by project key, replace the built-in names the
	// generator draws an issue's components and labels from.
	Components, Labels map[string][]string
	IssuesPerProject   int       // default 24
	Start              time.Time // creation time of the first issues; default 2024-01-01T09:00:00Z
	// Spread is the time over which each project's issues are created, one
	// after the other; default 11h per issue.
	Spread   time.Duration
	TimeZone string // the API user's zone, in which JQL dates are read; default Europe/Berlin
	// MaxResults caps the page size of searches; default 50.
	MaxResults int
	// ChangelogInSearch is how many of the most recent histories expand=changelog
	// embeds in a search result; default 5.
	ChangelogInSearch int
	// ChangelogPageSize caps the page size of /issue/{id}/changelog; default 10.
	ChangelogPageSize int
	// BulkChangelogPageSize caps the histories per page of Cloud's
	// POST /rest/api/3/changelog/bulkfetch; default 10.
	BulkChangelogPageSize int
	// NoBulkChangelog answers 404 on the bulk changelog endpoint, as sites
	// without it do.
	NoBulkChangelog bool
	// Credentials the fake accepts; empty accepts any. Cloud: basic auth with
	// Email and APIToken; Server: "Authorization: Bearer Token".
	Email, APIToken, Token string
}

// Fault makes the fake answer matching requests with Status for Times requests.
type Fault struct {
	Method     string // "" matches any method
	Path       string // URL path; a trailing "*" matches a prefix
	Status     int
	RetryAfter string // Retry-After header, e.g. "7"
	Times      int    // default 1
}

// Server is the fake Jira. It is an http.Handler: mount it on an httptest
// server or any listener.
type Server struct {
	opts Options
	loc  *time.Location

	mu                         sync.Mutex
	projects                   []*project
	nextIssueID, nextHistoryID int
	faults                     []*Fault
	requests                   map[string]int
	total                      int
	queries                    []string
}

// New builds a fake serving opts.Projects.
func New(opts Options) *Server {
	if opts.Flavor == "" {
		opts.Flavor = "cloud"
	}
	if opts.IssuesPerProject <= 0 {
		opts.IssuesPerProject = 24
	}
	if opts.Spread <= 0 {
		opts.Spread = time.Duration(opts.IssuesPerProject) * 11 * time.Hour
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "Europe/Berlin"
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = 50
	}
	if opts.ChangelogInSearch <= 0 {
		opts.ChangelogInSearch = 5
	}
	if opts.ChangelogPageSize <= 0 {
		opts.ChangelogPageSize = 10
	}
	if opts.BulkChangelogPageSize <= 0 {
		opts.BulkChangelogPageSize = 10
	}
	loc, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	s := &Server{opts: opts, loc: loc, requests: map[string]int{}}
	s.generate()
	return s
}

// Start serves the fake on a loopback port, for `yardstick demo`. stop shuts
// it down.
func (s *Server) Start() (baseURL string, stop func(), err error) {
	baseURL, stop, err = collectors.ServeLoopback(s)
	if err != nil {
		return "", nil, fmt.Errorf("jirafake: %w", err)
	}
	return baseURL, stop, nil
}

// AddFault queues a fault; faults are matched in the order they were added.
func (s *Server) AddFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns how many requests the fake has received, faults included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestCounts returns the requests by endpoint, e.g.
// "POST /rest/api/3/search/jql" or "GET /rest/api/3/issue/{id}/changelog".
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// Queries returns every JQL the fake was asked, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// ResetRequests zeroes the request counts and the query log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total, s.requests, s.queries = 0, map[string]int{}, nil
}

// Keys returns the keys of all issues, project by project.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.projects {
		for _, is := range p.issues {
			out = append(out, is.key)
		}
	}
	return out
}

// Components returns the component names of a project.
func (s *Server) Components(projectKey string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectByName(projectKey); p != nil {
		return slices.Clone(p.components)
	}
	return nil
}

// Status returns the name of an issue's current status, "" for no such issue.
func (s *Server) Status(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.issueByKey(key); is != nil {
		return statusByID(is.status).name
	}
	return ""
}

// Transition moves an issue to the named status at the given time, recording
// the history as Jira does (status item, plus resolution when entering or
// leaving a done status).
func (s *Server) Transition(key, statusName string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueByKey(key)
	if is == nil {
		return fmt.Errorf("jirafake: no issue %s", key)
	}
	st, ok := statusByName(statusName)
	if !ok {
		return fmt.Errorf("jirafake: no status %q", statusName)
	}
	s.move(is, &s.nextHistoryID, st, at.UTC(), users[0])
	return nil
}

// CreateIssue adds an issue to a project and returns its key. typeName is
// Story, Task or Bug; priorityName one of Highest, High, Medium, Low, Lowest.
func (s *Server) CreateIssue(projectKey, typeName, priorityName, component string, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectByName(projectKey)
	if p == nil {
		return "", fmt.Errorf("jirafake: no project %s", projectKey)
	}
	var typ issueType
	switch strings.ToLower(typeName) {
	case "story":
		typ = typeStory
	case "task":
		typ = typeTask
	case "bug":
		typ = typeBug
	default:
		return "", fmt.Errorf("jirafake: no issue type %q", typeName)
	}
	i := slices.IndexFunc(priorities, func(p priority) bool { return strings.EqualFold(p.name, priorityName) })
	if i < 0 {
		return "", fmt.Errorf("jirafake: no priority %q", priorityName)
	}
	n := len(p.issues) + 1
	is := &issue{
		id: s.nextIssueID, num: n, key: fmt.Sprintf("%s-%d", p.key, n), project: p, typ: typ,
		priority: priorities[i], creator: users[1], created: at.UTC(), updated: at.UTC(), status: statusToDo.id,
		summary: fmt.Sprintf("New %s in %s", typ.name, p.name),
	}
	if component != "" {
		is.components = []string{component}
	}
	s.nextIssueID++
	p.issues = append(p.issues, is)
	return is.key, nil
}

// WebhookPayload returns the body Jira would post for event
// ("jira:issue_created" or "jira:issue_updated") about the issue's current
// state; an update carries the issue's latest history as its changelog.
func (s *Server) WebhookPayload(baseURL, event, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueByKey(key)
	if is == nil {
		return nil, fmt.Errorf("jirafake: no issue %s", key)
	}
	api := strings.TrimRight(baseURL, "/") + "/rest/api/2"
	body := map[string]any{
		"timestamp":    is.created.UnixMilli(),
		"webhookEvent": event,
		"user":         s.userJSON(api, is.creator, false),
		"issue": map[string]any{
			"id": fmt.Sprint(is.id), "self": api + "/issue/" + fmt.Sprint(is.id), "key": is.key,
			"fields": s.fieldsOf(strings.TrimRight(baseURL, "/"), is, false),
		},
	}
	switch event {
	case "jira:issue_created":
		body["issue_event_type_name"] = "issue_created"
	case "jira:issue_updated":
		body["issue_event_type_name"] = "issue_generic"
		if n := len(is.histories); n > 0 {
			h := s.historyJSON(api, is.histories[n-1], false)
			body["timestamp"] = is.histories[n-1].created.UnixMilli()
			body["user"] = h["author"]
			body["changelog"] = map[string]any{"id": h["id"], "items": h["items"]}
		}
	}
	return json.Marshal(body)
}

func (s *Server) issueByKey(key string) *issue {
	for _, p := range s.projects {
		for _, is := range p.issues {
			if strings.EqualFold(is.key, key) || fmt.Sprint(is.id) == key {
				return is
			}
		}
	}
	return nil
}

func (s *Server) projectByName(v string) *project {
	for _, p := range s.projects {
		if strings.EqualFold(p.key, v) || p.id == v || strings.EqualFold(p.name, v) {
			return p
		}
	}
	return nil
}

func (s *Server) componentExists(name string) bool {
	for _, p := range s.projects {
		if slices.ContainsFunc(p.components, func(c string) bool { return strings.EqualFold(c, name) }) {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.requests[r.Method+" "+endpointName(r.URL.Path)]++
	if f := s.takeFault(r); f != nil {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		msg := http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded."
		}
		writeError(w, f.Status, msg)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		writeError(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
		return
	}
	version, rest, ok := splitAPI(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "null for uri: "+r.URL.Path)
		return
	}
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	api := base + "/rest/api/" + version
	cloud := s.opts.Flavor == "cloud"
	switch {
	case rest == "myself" && r.Method == http.MethodGet:
		writeJSON(w, s.myselfJSON(api, version == "3"))
	case rest == "status" && r.Method == http.MethodGet:
		list := make([]map[string]any, 0, len(statuses))
		for _, st := range statuses {
			list = append(list, s.statusJSON(api, st))
		}
		writeJSON(w, list)
	case rest == "serverInfo" && r.Method == http.MethodGet:
		writeJSON(w, s.serverInfo(base))
	case rest == "search/jql" && cloud:
		s.search(w, r, base, version, true)
	case rest == "search" && cloud:
		writeError(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
	case rest == "search" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.search(w, r, base, version, false)
	case rest == "changelog/bulkfetch" && cloud && !s.opts.NoBulkChangelog && r.Method == http.MethodPost:
		s.bulkChangelog(w, r, api, version)
	case strings.HasPrefix(rest, "issue/") && r.Method == http.MethodGet:
		parts := strings.Split(strings.TrimPrefix(rest, "issue/"), "/")
		switch {
		case len(parts) == 1:
			s.getIssue(w, r, base, version, parts[0])
		case len(parts) == 2 && parts[1] == "changelog" && cloud:
			s.changelog(w, r, api, version, parts[0])
		default:
			writeError(w, http.StatusNotFound, "null for uri: "+r.URL.Path)
		}
	default:
		writeError(w, http.StatusNotFound, "null for uri: "+r.URL.Path)
	}
}

func (s *Server) takeFault(r *http.Request) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if p, prefix := strings.CutSuffix(f.Path, "*"); !(prefix && strings.HasPrefix(r.URL.Path, p)) && f.Path != r.URL.Path {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Flavor == "cloud" {
		if s.opts.Email == "" && s.opts.APIToken == "" {
			return true
		}
		u, p, ok := r.BasicAuth()
		return ok && u == s.opts.Email && p == s.opts.APIToken
	}
	if s.opts.Token == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Bearer "+s.opts.Token
}

// splitAPI splits /rest/api/{2,3}/rest.
func splitAPI(path string) (version, rest string, ok bool) {
	tail, found := strings.CutPrefix(path, "/rest/api/")
	if !found {
		return "", "", false
	}
	version, rest, _ = strings.Cut(tail, "/")
	if version != "2" && version != "3" {
		return "", "", false
	}
	return version, rest, true
}

// endpointName replaces issue ids and keys in a path by {id}.
func endpointName(path string) string {
	if v, rest, ok := splitAPI(path); ok && strings.HasPrefix(rest, "issue/") {
		parts := strings.Split(rest, "/")
		parts[1] = "{id}"
		return "/rest/api/" + v + "/" + strings.Join(parts, "/")
	}
	return path
}

// searchRequest is a search's parameters, from the query string (GET) or the body (POST).
type searchRequest struct {
	JQL           string          `json:"jql"`
	StartAt       int             `json:"startAt"`
	MaxResults    *int            `json:"maxResults"`
	Fields        []string        `json:"fields"`
	Expand        json.RawMessage `json:"expand"` // a comma string (enhanced search) or a list (v2)
	NextPageToken string          `json:"nextPageToken"`
	expand        []string
}

func readSearch(r *http.Request) (searchRequest, error) {
	var req searchRequest
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return req, fmt.Errorf("Unexpected character in request body: %v", err)
		}
		if len(req.Expand) > 0 {
			var one string
			if json.Unmarshal(req.Expand, &one) == nil {
				req.expand = strings.Split(one, ",")
			} else if err := json.Unmarshal(req.Expand, &req.expand); err != nil {
				return req, fmt.Errorf("expand: %v", err)
			}
		}
		return req, nil
	}
	q := r.URL.Query()
	req.JQL, req.NextPageToken = q.Get("jql"), q.Get("nextPageToken")
	if v := q.Get("startAt"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, fmt.Errorf("startAt %q is not a number", v)
		}
		req.StartAt = n
	}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, fmt.Errorf("maxResults %q is not a number", v)
		}
		req.MaxResults = &n
	}
	for _, f := range q["fields"] {
		req.Fields = append(req.Fields, strings.Split(f, ",")...)
	}
	if v := q.Get("expand"); v != "" {
		req.expand = strings.Split(v, ",")
	}
	return req, nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, base, version string, enhanced bool) {
	req, err := readSearch(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.queries = append(s.queries, req.JQL)
	q, err := parseJQL(req.JQL)
	if err == nil {
		err = s.validate(q.where, s.loc)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var hits []*issue
	for _, p := range s.projects {
		for _, is := range p.issues {
			if q.where == nil || s.match(q.where, is, s.loc) {
				hits = append(hits, is)
			}
		}
	}
	sortIssues(hits, q.order)
	size := s.opts.MaxResults
	if req.MaxResults != nil && *req.MaxResults >= 0 && *req.MaxResults < size {
		size = *req.MaxResults
	}
	start := req.StartAt
	if enhanced {
		start = 0
		if req.NextPageToken != "" {
			n, ok := decodeToken(req.NextPageToken, req.JQL)
			if !ok {
				writeError(w, http.StatusBadRequest, "The provided next page token is invalid or expired.")
				return
			}
			start = n
		}
	}
	start = min(max(start, 0), len(hits))
	end := min(start+size, len(hits))
	changelog := slices.Contains(req.expand, "changelog")
	fields := req.Fields
	if !enhanced && len(fields) == 0 {
		fields = []string{"*navigable"}
	}
	out := make([]map[string]any, 0, end-start)
	for _, is := range hits[start:end] {
		out = append(out, s.issueJSON(base, version, is, fields, changelog, s.opts.ChangelogInSearch))
	}
	if enhanced {
		body := map[string]any{"issues": out, "isLast": end >= len(hits)}
		if end < len(hits) {
			body["nextPageToken"] = encodeToken(end, req.JQL)
		}
		writeJSON(w, body)
		return
	}
	writeJSON(w, map[string]any{"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(hits), "issues": out})
}

func tokenHash(jql string) string {
	h := sha256.Sum256([]byte(jql))
	return hex.EncodeToString(h[:4])
}

func encodeToken(offset int, jql string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + tokenHash(jql)))
}

func decodeToken(tok, jql string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	off, h, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	return n, ok && err == nil && h == tokenHash(jql)
}

// issueJSON renders an issue with the requested fields. keepHistories caps the
// embedded changelog to the most recent ones (0: all).
func (s *Server) issueJSON(base, version string, is *issue, fields []string, changelog bool, keepHistories int) map[string]any {
	api := base + "/rest/api/" + version
	m := map[string]any{
		"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
		"id":     fmt.Sprint(is.id), "self": api + "/issue/" + fmt.Sprint(is.id), "key": is.key,
	}
	if len(fields) > 0 {
		m["fields"] = selectFields(s.fieldsOf(base, is, version == "3"), fields)
	}
	if changelog {
		hs := is.histories
		if keepHistories > 0 && len(hs) > keepHistories {
			hs = hs[len(hs)-keepHistories:]
		}
		list := make([]map[string]any, 0, len(hs))
		for i := len(hs) - 1; i >= 0; i-- { // most recent first, as Cloud does
			list = append(list, s.historyJSON(api, hs[i], version == "3"))
		}
		m["changelog"] = map[string]any{"startAt": 0, "maxResults": len(list), "total": len(is.histories), "histories": list}
	}
	return m
}

// selectFields keeps the requested fields: names, *all, *navigable, -name.
func selectFields(all map[string]any, want []string) map[string]any {
	out := map[string]any{}
	every := slices.ContainsFunc(want, func(f string) bool { return f == "*all" || f == "*navigable" })
	for k, v := range all {
		if (every || slices.Contains(want, k)) && !slices.Contains(want, "-"+k) {
			out[k] = v
		}
	}
	return out
}

// issueOr404 returns the issue with id or key idOrKey, or answers 404.
func (s *Server) issueOr404(w http.ResponseWriter, idOrKey string) (*issue, bool) {
	is := s.issueByKey(idOrKey)
	if is == nil {
		writeError(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
	}
	return is, is != nil
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, base, version, idOrKey string) {
	is, ok := s.issueOr404(w, idOrKey)
	if !ok {
		return
	}
	q := r.URL.Query()
	fields := []string{"*all"}
	if v := q.Get("fields"); v != "" {
		fields = strings.Split(v, ",")
	}
	changelog := slices.Contains(strings.Split(q.Get("expand"), ","), "changelog")
	keep := 0 // Server returns the whole changelog on issue GET
	if s.opts.Flavor == "cloud" {
		keep = 100
	}
	writeJSON(w, s.issueJSON(base, version, is, fields, changelog, keep))
}

func (s *Server) changelog(w http.ResponseWriter, r *http.Request, api, version, idOrKey string) {
	is, ok := s.issueOr404(w, idOrKey)
	if !ok {
		return
	}
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("startAt"))
	size := s.opts.ChangelogPageSize
	if v, err := strconv.Atoi(q.Get("maxResults")); err == nil && v > 0 && v < size {
		size = v
	}
	start = min(max(start, 0), len(is.histories))
	end := min(start+size, len(is.histories))
	values := make([]map[string]any, 0, end-start)
	for _, h := range is.histories[start:end] {
		values = append(values, s.historyJSON(api, h, version == "3"))
	}
	self := fmt.Sprintf("%s/issue/%s/changelog?startAt=%d&maxResults=%d", api, url.PathEscape(is.key), start, size)
	body := map[string]any{
		"self": self, "maxResults": size, "startAt": start, "total": len(is.histories),
		"isLast": end >= len(is.histories), "values": values,
	}
	if end < len(is.histories) {
		body["nextPage"] = fmt.Sprintf("%s/issue/%s/changelog?&startAt=%d&maxResults=%d", api, url.PathEscape(is.key), end, size)
	}
	writeJSON(w, body)
}

// bulkChangelog serves POST /rest/api/3/changelog/bulkfetch: the histories of
// up to 1000 issues, items filtered to fieldIds, oldest first (then by issue
// id), paged by history count.
func (s *Server) bulkChangelog(w http.ResponseWriter, r *http.Request, api, version string) {
	var req struct {
		IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
		FieldIDs       []string `json:"fieldIds"`
		MaxResults     int      `json:"maxResults"`
		NextPageToken  string   `json:"nextPageToken"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Unexpected character in request body: "+err.Error())
		return
	}
	if len(req.IssueIDsOrKeys) == 0 || len(req.IssueIDsOrKeys) > 1000 {
		writeError(w, http.StatusBadRequest, "issueIdsOrKeys must contain between 1 and 1000 issues.")
		return
	}
	if len(req.FieldIDs) > 10 {
		writeError(w, http.StatusBadRequest, "fieldIds must contain at most 10 fields.")
		return
	}
	type entry struct {
		is *issue
		h  history
	}
	var all []entry
	for _, idOrKey := range req.IssueIDsOrKeys {
		is := s.issueByKey(idOrKey)
		if is == nil {
			writeError(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
			return
		}
		for _, h := range is.histories {
			if len(req.FieldIDs) > 0 {
				kept := slices.DeleteFunc(slices.Clone(h.items), func(it item) bool { return !slices.Contains(req.FieldIDs, it.field) })
				if len(kept) == 0 {
					continue
				}
				h.items = kept
			}
			all = append(all, entry{is, h})
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int {
		if c := a.h.created.Compare(b.h.created); c != 0 {
			return c
		}
		return a.is.id - b.is.id
	})
	key := strings.Join(req.IssueIDsOrKeys, ",") + "|" + strings.Join(req.FieldIDs, ",")
	start := 0
	if req.NextPageToken != "" {
		n, ok := decodeToken(req.NextPageToken, key)
		if !ok {
			writeError(w, http.StatusBadRequest, "The provided next page token is invalid or expired.")
			return
		}
		start = min(n, len(all))
	}
	size := s.opts.BulkChangelogPageSize
	if req.MaxResults > 0 && req.MaxResults < size {
		size = req.MaxResults
	}
	end := min(start+size, len(all))
	var logs []map[string]any
	for _, e := range all[start:end] {
		hj := s.historyJSON(api, e.h, version == "3")
		id := fmt.Sprint(e.is.id)
		if n := len(logs); n > 0 && logs[n-1]["issueId"] == id {
			logs[n-1]["changeHistories"] = append(logs[n-1]["changeHistories"].([]map[string]any), hj)
			continue
		}
		logs = append(logs, map[string]any{"issueId": id, "changeHistories": []map[string]any{hj}})
	}
	body := map[string]any{"issueChangeLogs": logs}
	if logs == nil {
		body["issueChangeLogs"] = []any{}
	}
	if end < len(all) {
		body["nextPageToken"] = encodeToken(end, key)
	}
	writeJSON(w, body)
}

func (s *Server) myselfJSON(api string, v3 bool) map[string]any {
	m := s.userJSON(api, users[0], v3)
	m["emailAddress"] = users[0].email
	m["locale"] = "en_US"
	m["groups"] = map[string]any{"size": 3, "items": []any{}}
	m["applicationRoles"] = map[string]any{"size": 1, "items": []any{}}
	m["expand"] = "groups,applicationRoles"
	return m
}

func (s *Server) serverInfo(base string) map[string]any {
	m := map[string]any{
		"baseUrl": base, "buildDate": "2024-11-19T00:00:00.000+0000", "serverTime": jiraTime(s.opts.Start),
		"scmInfo": "1f51473f5c7b75c1a69a0090f4832cdc5053702a", "serverTitle": "Jira",
	}
	if s.opts.Flavor == "cloud" {
		m["version"], m["versionNumbers"], m["buildNumber"], m["deploymentType"] = "1001.0.0-SNAPSHOT", []int{1001, 0, 0}, 100273, "Cloud"
	} else {
		m["version"], m["versionNumbers"], m["buildNumber"], m["deploymentType"] = "9.12.15", []int{9, 12, 15}, 9120015, "Server"
	}
	return m
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorMessages": []string{msg}, "errors": map[string]string{}})
}
