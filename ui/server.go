// Package ui is Yardstick's web server: server-rendered pages with inline SVG
// charts, the JSON API under /api/v1 with its OpenAPI document, webhook
// endpoints, Prometheus /metrics, health checks and token auth. It is the only
// importer of echo.
package ui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/yardstick-dev/yardstick"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Role is what a token may do: viewers read, admins also trigger jobs.
type Role string

// Roles.
const (
	RoleViewer Role = "viewer"
	RoleAdmin  Role = "admin"
)

// Token is one API/UI token, stored as the hex SHA-256 of its value.
type Token struct {
	Name   string
	SHA256 string // hex of sha256(token)
	Role   Role
}

// HashToken returns the hex SHA-256 of a token, the form Config.Tokens holds.
func HashToken(token yardstick.Secret) string {
	sum := sha256.Sum256([]byte(token.Reveal()))
	return hex.EncodeToString(sum[:])
}

// Config wires the server. Catalog, Metrics, Scores, Campaigns, Events and
// Rules are required.
type Config struct {
	// Addr is the address the server listens on. On a loopback address the UI
	// is open; on any other, every page and API call needs a token.
	Addr   string
	Tokens []Token

	Catalog   Catalog
	Metrics   MetricSource
	Scores    ScoreSource
	Campaigns CampaignSource
	Events    EventSource
	Rules     RuleSource
	Health    Pinger    // /readyz; nil means always ready
	Jobs      JobRunner // optional: admin "run now" and job status
	// Notifications is optional: what the notifier sent, per squad.
	Notifications NotificationSource
	// ScoreHistory is optional: the Tech Insights range query reads it.
	ScoreHistory ScoreHistory
	// Embed configures the embeddable views and badges.
	Embed EmbedConfig
	// Auth configures browser sign-in (OIDC, trusted proxy headers, sessions).
	Auth AuthConfig

	// Dashboards holds the dashboard YAML files (the dashboards package's FS).
	Dashboards fs.FS
	// Benchmark classifies the four keys into DORA buckets.
	Benchmark yardstick.DORABenchmark
	// Webhooks are mounted at /webhooks/{source}; they check their own secrets.
	Webhooks map[string]http.Handler

	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	Logger     *slog.Logger
	Now        func() time.Time
	CatalogTTL time.Duration // how long the catalog is cached; default 15s
	// ScoreCacheTTL is how long score aggregates (rollups, movers, failing
	// checks) are kept at most; RefreshGauges, which serve calls after each
	// scoring run, drops them at once. Default 5 minutes (runs written by another process, such as `yardstick score`, show within it).
	ScoreCacheTTL time.Duration

	// RequestTimeout is every request's deadline (DefaultRequestTimeout when
	// 0); a request past it is answered 503 with Retry-After.
	RequestTimeout time.Duration
	// RetryAfter is what a 503 asks clients to wait (DefaultRetryAfter when 0).
	RetryAfter time.Duration
	// PageCacheTTL bounds how long a page's data is served from the page
	// cache (DefaultPageCacheTTL when 0, negative: no cache). Invalidate drops
	// the cache sooner, when the data under it changes.
	PageCacheTTL time.Duration
}

// Defaults of Config.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultRetryAfter     = 10 * time.Second
	DefaultPageCacheTTL   = time.Minute
	readyTimeout          = 2 * time.Second
)

// Server is the web server. Safe for concurrent use.
type Server struct {
	cfg        Config
	e          *echo.Echo
	open       bool
	tokens     []Token
	pages      map[string]*template.Template
	embedViews map[string]*template.Template
	auth       *authState
	dashboards map[string]Dashboard
	catalog    *catalogCache
	scores     *cachedScores
	pageData   *pageCache
	benchmark  yardstick.DORABenchmark
	metrics    *serverMetrics
	logger     *slog.Logger
	now        func() time.Time
}

// New builds the server and checks its configuration: dashboards, templates
// and tokens. It does not listen; use Handler with an http.Server.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil || cfg.Metrics == nil || cfg.Scores == nil || cfg.Campaigns == nil || cfg.Events == nil || cfg.Rules == nil {
		return nil, fmt.Errorf("ui config: catalog, metrics, scores, campaigns, events and rules are required: %w", yardstick.ErrInvalid)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CatalogTTL <= 0 {
		cfg.CatalogTTL = 15 * time.Second
	}
	if cfg.ScoreCacheTTL <= 0 {
		cfg.ScoreCacheTTL = 5 * time.Minute
	}
	scores := newCachedScores(cfg.Scores, cfg.ScoreCacheTTL, cfg.Now)
	cfg.Scores = scores
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.PageCacheTTL == 0 {
		cfg.PageCacheTTL = DefaultPageCacheTTL
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	if cfg.Benchmark.Name == "" {
		cfg.Benchmark = yardstick.DORABenchmarks[yardstick.DefaultDORABenchmark]
	}
	if err := cfg.Benchmark.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, now: cfg.Now, benchmark: cfg.Benchmark, scores: scores,
		catalog:  &catalogCache{src: cfg.Catalog, ttl: cfg.CatalogTTL, now: cfg.Now},
		pageData: newPageCache(cfg.PageCacheTTL, cfg.Now)}
	open, err := isLoopback(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s.open = open
	for _, t := range cfg.Tokens {
		if t.Role != RoleViewer && t.Role != RoleAdmin {
			return nil, fmt.Errorf("token %q: role %q must be viewer or admin: %w", t.Name, t.Role, yardstick.ErrInvalid)
		}
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("token %q: sha256 must be 64 hex digits: %w", t.Name, yardstick.ErrInvalid)
		}
		s.tokens = append(s.tokens, Token{Name: t.Name, SHA256: strings.ToLower(t.SHA256), Role: t.Role})
	}
	if s.auth, err = newAuthState(cfg.Auth); err != nil {
		return nil, err
	}
	if !s.open && len(s.tokens) == 0 && cfg.Auth.OIDC == nil && cfg.Auth.Proxy == nil {
		return nil, fmt.Errorf("ui listens on %s, not loopback: configure at least one token: %w", cfg.Addr, yardstick.ErrInvalid)
	}
	if cfg.Dashboards != nil {
		if s.dashboards, err = LoadDashboards(cfg.Dashboards); err != nil {
			return nil, err
		}
	}
	for _, id := range []string{"overview", "squad", "component"} {
		if _, ok := s.dashboards[id]; !ok {
			return nil, fmt.Errorf("dashboards: built-in dashboard %q missing: %w", id, yardstick.ErrInvalid)
		}
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if err := cfg.Embed.validate(); err != nil {
		return nil, fmt.Errorf("ui config: %w: %w", err, yardstick.ErrInvalid)
	}
	if s.embedViews, err = parseEmbedViews(); err != nil {
		return nil, err
	}
	s.metrics = newServerMetrics(cfg.Registerer)
	s.e = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.e }

// Open reports whether the UI is reachable without a token.
func (s *Server) Open() bool { return s.open }

func isLoopback(addr string) (bool, error) {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true, nil
	}
	if host == "" {
		return false, nil // all interfaces
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false, fmt.Errorf("listen address %q: host must be an IP address or localhost: %w", addr, yardstick.ErrInvalid)
	}
	return ip.IsLoopback(), nil
}

func (s *Server) rules() Rules { return s.cfg.Rules.Rules() }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.instrument, s.securityHeaders, s.deadline)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServer(http.FS(mustSub(assets, "static"))))))
	e.GET("/favicon.ico", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=86400")
		return c.Blob(http.StatusOK, "image/svg+xml", favicon)
	})
	e.GET("/login", s.loginPage)
	e.POST("/login", s.login)
	e.POST("/webhooks/:source", s.webhook)

	auth := e.Group("", s.authenticate)
	auth.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})))
	for _, p := range s.pageRoutes() {
		auth.GET(p.path, s.page(p))
		auth.GET("/api/v1"+p.apiPath(), s.api(p))
	}
	for _, x := range []struct {
		path string
		h    echo.HandlerFunc
	}{{"/campaigns/:id/remaining.csv", s.campaignCSV}, {"/evidence.csv", s.evidenceCSV}} {
		auth.GET(x.path, x.h) // a CSV export answers at its page's path and under the API
		auth.GET("/api/v1"+x.path, x.h)
	}
	auth.GET("/api/v1/metrics", s.apiMetrics)
	auth.GET("/api/v1/dashboards", s.apiDashboards)
	auth.GET("/api/v1/jobs", s.apiJobs)
	auth.POST("/api/v1/jobs/:name/run", s.apiRunJob, s.requireAdmin)
	s.techInsightsRoutes(auth)
	s.embedRoutes(e, auth)
	s.badgeRoutes(e, auth)
	s.authRoutes(e, auth)
	auth.GET("/api/v1/openapi.json", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/json", openAPIDocument)
	})
	return e
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("ui: embedded " + dir + ": " + err.Error()) // the embed directive guarantees it
	}
	return sub
}

var favicon = []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f4e79"/><rect x="3" y="9" width="2" height="4" fill="#fff"/><rect x="7" y="6" width="2" height="7" fill="#fff"/><rect x="11" y="3" width="2" height="10" fill="#fff"/></svg>`)

// handleError maps errors to answers in one place (STYLE.md section 6): JSON
// for the API and webhooks, an HTML page for browsers.
func (s *Server) handleError(err error, c echo.Context) {
	code, msg := http.StatusInternalServerError, "Internal error."
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, yardstick.ErrNotFound):
		code, msg = http.StatusNotFound, "Not found."
	case errors.Is(err, yardstick.ErrInvalid):
		code, msg = http.StatusBadRequest, "Bad request."
	case errors.Is(err, yardstick.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// An outage (ClickHouse stopped, restarting or too slow): a fast, clear
		// answer the client can retry, never a hang.
		code, msg = http.StatusServiceUnavailable, "The database is unavailable; try again shortly."
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds())))
		s.logger.WarnContext(c.Request().Context(), "request failed: unavailable", "path", c.Path(), "err", err)
	case errors.Is(err, context.Canceled):
		code, msg = 499, "Request cancelled."
	default:
		s.logger.ErrorContext(c.Request().Context(), "request failed", "path", c.Path(), "err", err)
	}
	if c.Response().Committed {
		return
	}
	if wantsHTML(c) {
		_ = s.render(c, code, "error", errorView{Code: code, Message: msg})
		return
	}
	_ = c.JSON(code, map[string]string{"error": msg})
}

type errorView struct {
	Code    int
	Message string
}

func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/") || p == "/metrics" {
		return false
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html")
}

func (s *Server) readyz(c echo.Context) error {
	if s.cfg.Health == nil {
		return c.String(http.StatusOK, "ready\n")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.cfg.Health.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "not ready: database does not answer", "err", err)
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds())))
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// deadline gives every request a deadline (Config.RequestTimeout): the store's
// calls inherit it, and handleError answers a request past it with 503.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		return next(c)
	}
}

// --- auth ---------------------------------------------------------------

type roleKey struct{}

// tokenRole returns the role of a presented token, comparing its hash with
// every configured hash in constant time.
func (s *Server) tokenRole(presented string) (Role, bool) {
	if presented == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(presented))
	got := []byte(hex.EncodeToString(sum[:]))
	var role Role
	found := false
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(got, []byte(t.SHA256)) == 1 && !found {
			role, found = t.Role, true
		}
	}
	return role, found
}

// presentedToken returns a bearer token. Browsers hold a session cookie
// instead (auth_oidc.go), which never carries a token.
func presentedToken(c echo.Context) (string, bool) {
	if h := c.Request().Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")), true
	}
	return "", false
}

func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.open {
			c.Set("role", RoleAdmin)
			c.Set("bearer", true)
			return next(c)
		}
		tok, bearer := presentedToken(c)
		role, ok := s.tokenRole(tok)
		if !ok && !bearer {
			// Browsers: a session cookie, or a trusted proxy's identity headers.
			sess, found := s.sessionOf(c)
			if !found {
				sess, found = s.proxyIdentity(c)
			}
			if found {
				c.Set("session", sess)
				role, ok = sess.Role, true
			}
		}
		if !ok {
			if wantsHTML(c) && c.Request().Method == http.MethodGet {
				login := "/login?next="
				if s.cfg.Auth.OIDC != nil {
					login = "/auth/login?next="
				}
				return c.Redirect(http.StatusSeeOther, login+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="yardstick"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "A valid token is required.")
		}
		c.Set("role", role)
		c.Set("bearer", bearer)
		return next(c)
	}
}

// requireAdmin lets admin tokens through. Cookie sessions cannot make changes,
// which keeps cross-site requests harmless.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		role, _ := c.Get("role").(Role)
		bearer, _ := c.Get("bearer").(bool)
		// A signed-in admin may act from this site's own pages, never cross-site.
		if _, isSession := c.Get("session").(session); isSession && role == RoleAdmin && sameOrigin(c) {
			bearer = true
		}
		if role != RoleAdmin || !bearer {
			return echo.NewHTTPError(http.StatusForbidden, "An admin token (Authorization: Bearer) is required.")
		}
		return next(c)
	}
}

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", loginView{Next: safeNext(c.QueryParam("next"))})
}

type loginView struct {
	Next  string
	Error string
}

func (s *Server) login(c echo.Context) error {
	next := safeNext(c.FormValue("next"))
	tok := c.FormValue("token")
	role, ok := s.tokenRole(tok)
	if !ok {
		return s.render(c, http.StatusUnauthorized, "login", loginView{Next: next, Error: "That token is not valid."})
	}
	// The cookie names the token's role in a signed, expiring session; it never carries the token.
	if err := s.setSession(c, session{Name: s.tokenName(tok), Role: role, Via: "token"}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

func (s *Server) webhook(c echo.Context) error {
	h, ok := s.cfg.Webhooks[c.Param("source")]
	if !ok {
		return fmt.Errorf("webhook source %q: %w", c.Param("source"), yardstick.ErrNotFound)
	}
	h.ServeHTTP(c.Response(), c.Request())
	return nil
}

// --- jobs -------------------------------------------------------------------

func (s *Server) apiJobs(c echo.Context) error {
	if s.cfg.Jobs == nil {
		return c.JSON(http.StatusOK, []JobStatus{})
	}
	return c.JSON(http.StatusOK, s.cfg.Jobs.Jobs())
}

func (s *Server) apiRunJob(c echo.Context) error {
	if s.cfg.Jobs == nil {
		return fmt.Errorf("job %q: no scheduler: %w", c.Param("name"), yardstick.ErrNotFound)
	}
	if err := s.cfg.Jobs.RunNow(c.Param("name")); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "started", "job": c.Param("name")})
}

// --- parameters -------------------------------------------------------------

// filter is the time range and group filter every page takes.
type filter struct {
	Range  string              `json:"range"`
	Weeks  int                 `json:"weeks"`
	Group  yardstick.EntityRef `json:"group,omitempty"`
	Window yardstick.Window    `json:"window"`
}

var ranges = []struct {
	Key   string
	Label string
	Weeks int
}{{"4w", "4 weeks", 4}, {"12w", "12 weeks", 12}, {"26w", "26 weeks", 26}, {"52w", "52 weeks", 52}}

func (s *Server) filterOf(c echo.Context, cat *catalogView) (filter, error) {
	f := filter{Range: c.QueryParam("range"), Weeks: 12}
	if f.Range == "" {
		f.Range = "12w"
	}
	found := false
	for _, r := range ranges {
		if r.Key == f.Range {
			f.Weeks, found = r.Weeks, true
		}
	}
	if !found {
		n, err := strconv.Atoi(strings.TrimSuffix(f.Range, "w"))
		if err != nil || n < 1 || n > 520 {
			return f, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("range %q: use 4w, 12w, 26w, 52w or Nw up to 520w", f.Range))
		}
		f.Weeks = n
	}
	f.Window = yardstick.LastWeeks(s.now(), f.Weeks)
	if g := c.QueryParam("group"); g != "" {
		ref, err := yardstick.ParseEntityRef(g, "group")
		if err != nil {
			return f, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("group %q: not an entity ref", g))
		}
		if e, ok := cat.byRef[ref]; !ok || e.Ref.Kind() != "group" {
			return f, echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("group %s: not in the catalog", ref))
		}
		f.Group = ref
	}
	return f, nil
}

// Invalidate drops the cached page data: serve calls it when a metric refresh
// or a scoring run completes, so the next request of each page reads the new
// data. Safe for concurrent use.
func (s *Server) Invalidate() { s.pageData.invalidate() }

// Warm computes the default views (the organisation's overview over every
// offered range, the default first, and the squads list over the default
// range) so that the first visitor after a metrics refresh does not wait for
// them; serve calls it after each refresh. Over years of history the
// organisation's overview reads every observation of the range, which is what
// a visitor would otherwise wait for.
func (s *Server) Warm(ctx context.Context) error {
	cat, err := s.catalog.get(ctx)
	if err != nil {
		return err
	}
	overview := func(weeks int) error {
		_, err := s.renderDashboard(ctx, s.dashboards["overview"], panelScope{subject: yardstick.OrgRef, window: yardstick.LastWeeks(s.now(), weeks), cat: cat})
		return err
	}
	const defaultWeeks = 12
	if err := overview(defaultWeeks); err != nil {
		return err
	}
	if squads := cat.squads(""); len(squads) > 0 { // the first page of the squads list
		squads = squads[:min(len(squads), defaultPageSize)]
		if _, err := s.cfg.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: squadListMetrics, Subjects: squads, Window: yardstick.LastWeeks(s.now(), defaultWeeks)}); err != nil {
			return err
		}
	}
	for _, r := range ranges {
		if r.Weeks == defaultWeeks {
			continue
		}
		if err := overview(r.Weeks); err != nil {
			return err
		}
	}
	return nil
}
