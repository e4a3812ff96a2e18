// Package githubfake is an in-process fake of GitHub's REST API serving a
// deterministic organisation, for the GitHub collector's tests and benchmarks
// and for `yardstick demo`. It speaks like api.github.com: Link-header
// pagination, ETags and 304 Not Modified, X-RateLimit-* headers with a 403 and a
// reset time when the window is spent, 404 "Branch not protected", token and
// GitHub App (JWT → installation token) authentication, and faults injected on
// demand (500 once, 429 with Retry-After, 403 rate limit). It counts requests.
package githubfake

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Options configure a fake.
type Options struct {
	// Repos are the organisation's repository slugs ("acme/payments").
	Repos []string
	// Epoch ends the generated history (default: Now() at start); Days is its
	// length (default 120).
	Epoch time.Time
	Days  int
	Seed  uint64
	// Now is the fake's clock: new data and rate-limit windows (default time.Now).
	Now func() time.Time
	// Token, when set, is required as "Authorization: Bearer <Token>" (or "token <Token>").
	Token string
	// App, when set, lets a GitHub App exchange a JWT for an installation token.
	App *App
	// RateLimit is the number of requests per hour-long window (default 1,000,000);
	// 304 answers do not count, as on GitHub.
	RateLimit int
}

// App is a GitHub App the fake accepts: JWTs must be RS256-signed by the key
// whose public half is PublicKey, with iss = ID.
type App struct {
	ID             int64
	InstallationID int64
	PublicKey      *rsa.PublicKey
}

// Fault makes matching requests fail.
type Fault struct {
	Method string // default GET
	Path   string // URL path prefix, e.g. "/repos/acme/api/pulls"
	// Status is the answer: 500/502/503 (server error), 429 (secondary rate limit
	// with Retry-After) or 403 (primary rate limit: X-RateLimit-Remaining 0 and a reset time).
	Status int
	// Wait is the Retry-After of a 429, or the time to the reset of a 403 (default 30s).
	Wait time.Duration
	// Times is how many matching requests fail; 0 means all of them.
	Times int
}

// Stats counts the requests the fake answered.
type Stats struct {
	Requests    int
	NotModified int
	ByRepo      map[string]RepoStats // by "org/repo"
}

// RepoStats counts the requests about one repository.
type RepoStats struct {
	Requests    int
	NotModified int
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	URL string

	opts   Options
	srv    *httptest.Server
	mux    *http.ServeMux
	mu     sync.Mutex
	repos  map[string]*repo
	order  []string
	faults []*Fault
	stats  Stats
	tokens map[string]time.Time // installation tokens → expiry

	window    time.Time
	remaining int

	// Answers of GET requests by URL, valid while version is unchanged; every
	// mutation bumps version. Building big pages is what the fake spends its time on.
	version int
	cache   map[string]cachedAnswer
}

type cachedAnswer struct {
	version int
	status  int
	header  http.Header
	body    []byte
}

// New starts a fake on a loopback port. Close it when done.
func New(opts Options) *Server {
	s := NewUnstarted(opts)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// NewUnstarted builds a fake without starting a listener; serve it with your own
// server and set URL to where it is reachable (payload URLs use it).
func NewUnstarted(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = opts.Now()
	}
	if opts.Days <= 0 {
		opts.Days = 120
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 1_000_000
	}
	s := &Server{opts: opts, repos: map[string]*repo{}, tokens: map[string]time.Time{}, stats: Stats{ByRepo: map[string]RepoStats{}}, cache: map[string]cachedAnswer{}}
	for i, slug := range opts.Repos {
		r := newRepo(i, slug, opts.Epoch.UTC(), opts.Days, opts.Seed)
		s.repos[r.slug()] = r
		s.order = append(s.order, r.slug())
	}
	s.routes()
	return s
}

// Close stops the listener.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// Client returns an HTTP client for the fake's listener.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Method == "" {
		f.Method = http.MethodGet
	}
	if f.Wait == 0 {
		f.Wait = 30 * time.Second
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Stats returns a copy of the request counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.ByRepo = maps.Clone(s.stats.ByRepo)
	return out
}

// ResetStats zeroes the request counts.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{ByRepo: map[string]RepoStats{}}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rw := &recorder{ResponseWriter: w}
	s.serve(rw, r)
	s.stats.Requests++
	slug := repoOf(r.URL.Path)
	rs := s.stats.ByRepo[slug]
	rs.Requests++
	if rw.status == http.StatusNotModified {
		s.stats.NotModified++
		rs.NotModified++
	}
	if slug != "" {
		s.stats.ByRepo[slug] = rs
	}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func repoOf(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) >= 3 && parts[0] == "repos" {
		return strings.ToLower(parts[1] + "/" + parts[2])
	}
	return ""
}

// serve runs under s.mu: faults, authentication, rate limit, then the route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	if f := s.fault(r); f != nil {
		s.writeFault(w, f, now)
		return
	}
	if !s.authorized(w, r, now) {
		return
	}
	if now.Sub(s.window) >= time.Hour || s.window.IsZero() {
		s.window, s.remaining = now.Truncate(time.Second), s.opts.RateLimit
	}
	reset := s.window.Add(time.Hour)
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
	if s.remaining <= 0 {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", strconv.Itoa(s.opts.RateLimit))
		writeError(w, http.StatusForbidden, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.", "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting")
		return
	}
	cw := &countingWriter{ResponseWriter: w, s: s}
	if r.Method != http.MethodGet {
		s.mux.ServeHTTP(cw, r)
		return
	}
	key := r.URL.RequestURI()
	a, ok := s.cache[key]
	if !ok || a.version != s.version {
		rec := httptest.NewRecorder()
		plain := r.Clone(r.Context())
		plain.Header.Del("If-None-Match")
		s.mux.ServeHTTP(rec, plain)
		a = cachedAnswer{version: s.version, status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		s.cache[key] = a
	}
	for k, v := range a.header {
		cw.Header()[k] = v
	}
	etag := a.header.Get("ETag")
	if match := r.Header.Get("If-None-Match"); a.status == http.StatusOK && etag != "" && match != "" &&
		strings.TrimPrefix(match, "W/") == strings.TrimPrefix(etag, "W/") {
		cw.Header().Del("Content-Type")
		cw.Header().Del("Link")
		cw.WriteHeader(http.StatusNotModified)
		return
	}
	cw.WriteHeader(a.status)
	_, _ = cw.Write(a.body)
}

// countingWriter spends one request of the window unless the answer is a 304,
// and sets the remaining-count header accordingly.
type countingWriter struct {
	http.ResponseWriter
	s *Server
}

func (c *countingWriter) WriteHeader(code int) {
	if code != http.StatusNotModified {
		c.s.remaining--
	}
	c.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(c.s.remaining, 0)))
	c.Header().Set("X-RateLimit-Used", strconv.Itoa(c.s.opts.RateLimit-max(c.s.remaining, 0)))
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) { return c.ResponseWriter.Write(b) }

func (s *Server) fault(r *http.Request) *Fault {
	for i, f := range s.faults {
		if f.Method != r.Method || !strings.HasPrefix(r.URL.Path, f.Path) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

func (s *Server) writeFault(w http.ResponseWriter, f *Fault, now time.Time) {
	switch f.Status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(int(f.Wait.Seconds())))
		writeError(w, f.Status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
	case http.StatusForbidden:
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", strconv.Itoa(s.opts.RateLimit))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(f.Wait).Unix(), 10))
		w.Header().Set("X-RateLimit-Resource", "core")
		writeError(w, f.Status, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.", "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting")
	default:
		writeError(w, f.Status, http.StatusText(f.Status), "")
	}
}

// authorized checks the Authorization header against the token, the app's JWT
// (token exchange only) or an installation token.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	if s.opts.Token == "" && s.opts.App == nil {
		return true
	}
	h := r.Header.Get("Authorization")
	cred, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		cred, ok = strings.CutPrefix(h, "token ")
	}
	if !ok || cred == "" {
		writeError(w, http.StatusUnauthorized, "Requires authentication", "https://docs.github.com/rest")
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/app/") && s.opts.App != nil {
		if err := s.checkJWT(cred, now); err != nil {
			writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded: "+err.Error(), "https://docs.github.com/rest")
			return false
		}
		return true
	}
	if s.opts.Token != "" && cred == s.opts.Token {
		return true
	}
	if exp, ok := s.tokens[cred]; ok && now.Before(exp) {
		return true
	}
	writeError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
	return false
}

func (s *Server) checkJWT(tok string, now time.Time) error {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return s.opts.App.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithIssuer(strconv.FormatInt(s.opts.App.ID, 10)), jwt.WithExpirationRequired())
	return err
}

func writeError(w http.ResponseWriter, status int, msg, doc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	body := map[string]string{"message": msg}
	if doc != "" {
		body["documentation_url"] = doc
	}
	_ = json.NewEncoder(w).Encode(body)
}

// writeJSON answers v with an ETag, or 304 when If-None-Match holds it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
	w.Header().Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.TrimPrefix(match, "W/") == strings.TrimPrefix(etag, "W/") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// page answers one page of items with GitHub's Link header.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any, wrap func(page []any) any) {
	s.pageOf(w, r, len(items), func(i int) any { return items[i] }, wrap)
}

// pageOf answers one page of n items, building only the items on the page.
func (s *Server) pageOf(w http.ResponseWriter, r *http.Request, n int, item func(i int) any, wrap func(page []any) any) {
	items := n
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	n, _ = strconv.Atoi(q.Get("page"))
	if n <= 0 {
		n = 1
	}
	last := max((items+per-1)/per, 1)
	from := min((n-1)*per, items)
	to := min(from+per, items)
	link := func(p int) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("page", strconv.Itoa(p))
		q2.Set("per_page", strconv.Itoa(per))
		return s.URL + r.URL.Path + "?" + q2.Encode()
	}
	var links []string
	if n > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, link(n-1)))
	}
	if n < last {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, link(n+1)), fmt.Sprintf(`<%s>; rel="last"`, link(last)))
	}
	if n > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="first"`, link(1)))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	pageItems := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		pageItems = append(pageItems, item(i))
	}
	if wrap != nil {
		writeJSON(w, r, http.StatusOK, wrap(pageItems))
		return
	}
	writeJSON(w, r, http.StatusOK, pageItems)
}

func toAny[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// Repos returns the organisation's slugs in the order given.
func (s *Server) Repos() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.order...)
	sort.Strings(out)
	return out
}
