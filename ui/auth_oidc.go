package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/yardstick-dev/yardstick"
)

// Sign-in: OpenID Connect (authorization code flow with PKCE), trusted
// reverse-proxy headers (the oauth2-proxy convention), and the token login.
// Every browser session is a signed, expiring cookie that names the user and
// role; it never carries a token. API clients keep sending tokens.

// AuthConfig configures browser sign-in.
type AuthConfig struct {
	OIDC  *OIDCConfig
	Proxy *ProxyAuthConfig
	// SessionKey signs session cookies (at least 32 bytes). Empty: a random
	// key per process, so sessions end at a restart and are not shared
	// between instances.
	SessionKey []byte
	SessionTTL time.Duration // default 8h
}

// OIDCConfig is an OpenID Connect client.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret yardstick.Secret
	RedirectURL  string   // https://yardstick.example.com/auth/callback
	Scopes       []string // default openid, profile, email, groups
	GroupsClaim  string   // default "groups"
	// AdminGroups get the admin role. ViewerGroups get the viewer role; when
	// empty, every user the provider signs in is a viewer.
	AdminGroups  []string
	ViewerGroups []string
	HTTPClient   *http.Client // for discovery, token exchange and keys; default a 30s client
}

// ProxyAuthConfig trusts identity headers set by a reverse proxy (for
// example oauth2-proxy) on requests from its addresses only.
type ProxyAuthConfig struct {
	Trusted      []netip.Prefix
	UserHeader   string // default X-Forwarded-User
	EmailHeader  string // default X-Forwarded-Email
	GroupsHeader string // default X-Forwarded-Groups (comma separated)
	AdminGroups  []string
	ViewerGroups []string
}

const (
	sessionCookie = "yardstick_session"
	oidcCookie    = "yardstick_oidc"
)

// session is what a session cookie holds.
type session struct {
	Name  string `json:"n"`
	Email string `json:"e,omitempty"`
	Role  Role   `json:"r"`
	Via   string `json:"v"` // oidc, token
	Exp   int64  `json:"x"`
}

// oidcFlow is the state of a sign-in between redirect and callback.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"t"`
	Exp      int64  `json:"x"`
}

// authState holds what sign-in needs at run time.
type authState struct {
	key []byte
	ttl time.Duration

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
	endURL   string
}

func newAuthState(cfg AuthConfig) (*authState, error) {
	a := &authState{key: cfg.SessionKey, ttl: cfg.SessionTTL}
	if a.ttl <= 0 {
		a.ttl = 8 * time.Hour
	}
	switch {
	case len(a.key) == 0:
		a.key = make([]byte, 32)
		if _, err := rand.Read(a.key); err != nil {
			return nil, fmt.Errorf("session key: %w", err)
		}
	case len(a.key) < 32:
		return nil, fmt.Errorf("auth session key: %d bytes, want at least 32: %w", len(a.key), yardstick.ErrInvalid)
	}
	if o := cfg.OIDC; o != nil {
		if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
			return nil, fmt.Errorf("auth oidc: issuer, client_id and redirect_url are required: %w", yardstick.ErrInvalid)
		}
		if u, err := url.Parse(o.RedirectURL); err != nil || u.Path != "/auth/callback" {
			return nil, fmt.Errorf("auth oidc redirect_url %q: must end in /auth/callback: %w", o.RedirectURL, yardstick.ErrInvalid)
		}
	}
	return a, nil
}

// sign returns base64(json).base64(hmac).
func (a *authState) sign(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// open checks a signed value in constant time and decodes it.
func (a *authState) open(s string, v any) bool {
	body, sig, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write(b)
	if !hmac.Equal(mac.Sum(nil), got) {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setSession issues the session cookie.
func (s *Server) setSession(c echo.Context, sess session) error {
	sess.Exp = s.now().Add(s.auth.ttl).Unix()
	v, err := s.auth.sign(sess)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secureCookies(c), Expires: time.Unix(sess.Exp, 0), MaxAge: int(s.auth.ttl.Seconds())})
	return nil
}

func (s *Server) secureCookies(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return s.cfg.Auth.OIDC != nil && strings.HasPrefix(s.cfg.Auth.OIDC.RedirectURL, "https://")
}

// sessionOf returns the request's valid, unexpired session.
func (s *Server) sessionOf(c echo.Context) (session, bool) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	var sess session
	if !s.auth.open(ck.Value, &sess) || s.now().Unix() >= sess.Exp || (sess.Role != RoleViewer && sess.Role != RoleAdmin) {
		return session{}, false
	}
	return sess, true
}

// roleFor maps groups to a role; ok is false when none applies.
func roleFor(groups, admin, viewer []string) (Role, bool) {
	for _, g := range groups {
		if slices.Contains(admin, g) {
			return RoleAdmin, true
		}
	}
	if len(viewer) == 0 {
		return RoleViewer, true
	}
	for _, g := range groups {
		if slices.Contains(viewer, g) {
			return RoleViewer, true
		}
	}
	return "", false
}

// proxyIdentity returns the identity a trusted proxy asserts.
func (s *Server) proxyIdentity(c echo.Context) (session, bool) {
	p := s.cfg.Auth.Proxy
	if p == nil {
		return session{}, false
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		host = c.Request().RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return session{}, false
	}
	addr = addr.Unmap()
	if !slices.ContainsFunc(p.Trusted, func(pr netip.Prefix) bool { return pr.Contains(addr) }) {
		return session{}, false
	}
	h := c.Request().Header
	user, email := h.Get(cmpOrStr(p.UserHeader, "X-Forwarded-User")), h.Get(cmpOrStr(p.EmailHeader, "X-Forwarded-Email"))
	if user == "" && email == "" {
		return session{}, false
	}
	var groups []string
	for _, g := range strings.Split(h.Get(cmpOrStr(p.GroupsHeader, "X-Forwarded-Groups")), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	role, ok := roleFor(groups, p.AdminGroups, p.ViewerGroups)
	if !ok {
		return session{}, false
	}
	return session{Name: cmpOrStr(user, email), Email: email, Role: role, Via: "proxy"}, true
}

func cmpOrStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sameOrigin reports whether a browser says the request comes from this site.
func sameOrigin(c echo.Context) bool {
	r := c.Request()
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// oidcClient discovers the provider once (and again after a failure).
func (s *Server) oidcClient(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	a, o := s.auth, s.cfg.Auth.OIDC
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.provider != nil {
		return a.oauth, a.verifier, nil
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc discovery %s: %w", o.Issuer, err)
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups"}
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	a.provider, a.endURL = p, meta.EndSession
	a.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), hc), &oidc.Config{ClientID: o.ClientID, Now: s.now})
	a.oauth = &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), RedirectURL: o.RedirectURL, Endpoint: p.Endpoint(), Scopes: scopes}
	return a.oauth, a.verifier, nil
}

func (s *Server) authRoutes(e *echo.Echo, auth *echo.Group) {
	if s.cfg.Auth.OIDC != nil {
		e.GET("/auth/login", s.oidcLogin)
		e.GET("/auth/callback", s.oidcCallback)
	}
	e.POST("/auth/logout", s.logout)
	auth.GET("/me/squad", s.mine("squad"))
	auth.GET("/me/components", s.mine("components"))
	auth.GET("/me/campaigns", s.mine("campaigns"))
}

func (s *Server) oidcLogin(c echo.Context) error {
	cfg, _, err := s.oidcClient(c.Request().Context())
	if err != nil {
		s.logger.ErrorContext(c.Request().Context(), "oidc unavailable", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "The identity provider cannot be reached. Try again, or sign in with a token at /login.")
	}
	flow := oidcFlow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: safeNextOrEmpty(c.QueryParam("next")),
		Exp: s.now().Add(10 * time.Minute).Unix()}
	v, err := s.auth.sign(flow)
	if err != nil {
		return err
	}
	// Lax: the provider's redirect back is a top-level navigation from its site.
	c.SetCookie(&http.Cookie{Name: oidcCookie, Value: v, Path: "/auth/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(c), MaxAge: 600})
	return c.Redirect(http.StatusFound, cfg.AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier)))
}

func safeNextOrEmpty(next string) string {
	if next == "" {
		return ""
	}
	return safeNext(next)
}

func (s *Server) oidcCallback(c echo.Context) error {
	ctx := c.Request().Context()
	ck, err := c.Cookie(oidcCookie)
	var flow oidcFlow
	if err != nil || !s.auth.open(ck.Value, &flow) || s.now().Unix() >= flow.Exp {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in expired or was started elsewhere. Sign in again.")
	}
	c.SetCookie(&http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/", MaxAge: -1, HttpOnly: true})
	if e := c.QueryParam("error"); e != "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "The identity provider refused the sign-in: "+e+".")
	}
	if subtle.ConstantTimeCompare([]byte(c.QueryParam("state")), []byte(flow.State)) != 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in state does not match. Sign in again.")
	}
	cfg, verifier, err := s.oidcClient(ctx)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "The identity provider cannot be reached.")
	}
	hc := s.cfg.Auth.OIDC.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	tok, err := cfg.Exchange(oidc.ClientContext(ctx, hc), c.QueryParam("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		s.logger.WarnContext(ctx, "oidc code exchange failed", "err", err)
		return echo.NewHTTPError(http.StatusUnauthorized, "The identity provider did not accept the sign-in code.")
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return echo.NewHTTPError(http.StatusUnauthorized, "The identity provider sent no ID token.")
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		s.logger.WarnContext(ctx, "oidc id token refused", "err", err)
		return echo.NewHTTPError(http.StatusUnauthorized, "The ID token is not valid.")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return echo.NewHTTPError(http.StatusUnauthorized, "The ID token does not answer this sign-in.")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return fmt.Errorf("oidc claims: %w", err)
	}
	email, _ := claims["email"].(string)
	name, _ := claims["preferred_username"].(string)
	groups := claimStrings(claims[cmpOrStr(s.cfg.Auth.OIDC.GroupsClaim, "groups")])
	role, ok := roleFor(groups, s.cfg.Auth.OIDC.AdminGroups, s.cfg.Auth.OIDC.ViewerGroups)
	if !ok {
		return echo.NewHTTPError(http.StatusForbidden, "Your groups do not give access to Yardstick.")
	}
	sess := session{Name: cmpOrStr(name, cmpOrStr(email, idt.Subject)), Email: email, Role: role, Via: "oidc"}
	if err := s.setSession(c, sess); err != nil {
		return err
	}
	next := flow.Next
	if next == "" || next == "/" {
		next = "/"
		if squad, ok := s.squadOfUser(ctx, sess); ok {
			next = squadPath(squad)
		}
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// claimStrings reads a claim that is a list of strings or one string.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (s *Server) logout(c echo.Context) error {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.auth.mu.Lock()
	end := s.auth.endURL
	s.auth.mu.Unlock()
	if end != "" && s.cfg.Auth.OIDC != nil {
		u, err := url.Parse(end)
		if err == nil {
			q := u.Query()
			q.Set("client_id", s.cfg.Auth.OIDC.ClientID)
			u.RawQuery = q.Encode()
			return c.Redirect(http.StatusSeeOther, u.String())
		}
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// squadOfUser finds the user's catalog User (by e-mail in spec.profile.email,
// else by name) and returns the first group it is a member of.
func (s *Server) squadOfUser(ctx context.Context, sess session) (yardstick.EntityRef, bool) {
	cat, err := s.catalog.get(ctx)
	if err != nil {
		return "", false
	}
	local, _, _ := strings.Cut(sess.Email, "@")
	var user *yardstick.Entity
	for i := range cat.all {
		e := &cat.all[i]
		if e.Ref.Kind() != "user" {
			continue
		}
		var spec struct {
			Profile struct {
				Email string `json:"email"`
			} `json:"profile"`
		}
		_ = json.Unmarshal([]byte(e.Spec), &spec)
		if sess.Email != "" && strings.EqualFold(spec.Profile.Email, sess.Email) {
			user = e
			break
		}
		if user == nil && (strings.EqualFold(e.Name, sess.Name) || (local != "" && strings.EqualFold(e.Name, local))) {
			user = e
		}
	}
	if user == nil {
		return "", false
	}
	// The organisation's members hold spec.members and spec.memberOf alike.
	var groups []yardstick.EntityRef
	for _, g := range cat.org.Groups() {
		if slices.Contains(cat.org.Members(g), user.Ref) {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	if len(groups) == 0 {
		return "", false
	}
	return groups[0], true
}

// mine redirects "my squad", "my components" and "my campaigns".
func (s *Server) mine(what string) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, ok := c.Get("session").(session)
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, "Sign in to see your squad.")
		}
		squad, ok := s.squadOfUser(c.Request().Context(), sess)
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, "No catalog user or group matches "+sess.Name+".")
		}
		switch what {
		case "components":
			return c.Redirect(http.StatusSeeOther, squadPath(squad)+"#components")
		case "campaigns":
			return c.Redirect(http.StatusSeeOther, "/campaigns?group="+url.QueryEscape(string(squad)))
		}
		return c.Redirect(http.StatusSeeOther, squadPath(squad))
	}
}

// tokenName returns the configured name of a valid token.
func (s *Server) tokenName(presented string) string {
	sum := sha256.Sum256([]byte(presented))
	got := hex.EncodeToString(sum[:])
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t.SHA256)) == 1 {
			return t.Name
		}
	}
	return "token"
}
