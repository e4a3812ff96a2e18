package ui_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

// clock is a settable time source for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// mustOIDC starts a real OIDC provider on loopback and a Yardstick server
// (not open: it listens on all interfaces) that signs in through it.
func mustOIDC(t *testing.T, mod func(*ui.OIDCConfig)) (*mockoidc.MockOIDC, *httptest.Server, *clock) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	clk := &clock{t: time.Now()}
	var srv *ui.Server
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.Handler().ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	oc := &ui.OIDCConfig{Issuer: m.Issuer(), ClientID: m.Config().ClientID, ClientSecret: yardstick.Secret(m.Config().ClientSecret),
		RedirectURL: ts.URL + "/auth/callback", AdminGroups: []string{"yardstick-admins"}}
	if mod != nil {
		mod(oc)
	}
	srv = mustServer(t, func(c *ui.Config) {
		c.Addr = "0.0.0.0:8080"
		c.Tokens = []ui.Token{{Name: "ci", SHA256: ui.HashToken("ci-token"), Role: ui.RoleAdmin}}
		c.Auth = ui.AuthConfig{OIDC: oc, SessionTTL: time.Hour}
		c.Now = clk.now
	}).srv
	return m, ts, clk
}

func browserClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func getHTML(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func TestOIDCSignIn(t *testing.T) {
	m, ts, clk := mustOIDC(t, nil)
	m.QueueUser(&mockoidc.MockUser{Subject: "u1", Email: "ann@example.com", PreferredUsername: "ann", Groups: []string{"engineering", "yardstick-admins"}})
	c := browserClient(t)
	// A page asks for sign-in, goes through the provider (PKCE) and comes back to it.
	resp, body := getHTML(t, c, ts.URL+"/campaigns")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/campaigns" || !strings.Contains(body, "Go 1.22 migration") {
		t.Fatalf("GET /campaigns through sign-in = %d at %s, want the campaigns page", resp.StatusCode, resp.Request.URL)
	}
	if !strings.Contains(body, "My squad") || !strings.Contains(body, "Sign out") || !strings.Contains(body, ">ann<") {
		t.Error("signed-in page lacks the user, the my-squad links or sign out")
	}
	u, _ := url.Parse(ts.URL)
	var sess *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "yardstick_session" {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatal("no session cookie after sign-in")
	}
	// My squad: ann is a member of checkout.
	resp, body = getHTML(t, c, ts.URL+"/me/squad")
	if resp.Request.URL.Path != "/squads/default/checkout" || !strings.Contains(body, "Checkout") {
		t.Errorf("/me/squad landed on %s, want /squads/default/checkout", resp.Request.URL.Path)
	}
	if resp, _ = getHTML(t, c, ts.URL+"/me/campaigns"); resp.Request.URL.RawQuery != "group=group%3Adefault%2Fcheckout" {
		t.Errorf("/me/campaigns landed on %s, want the campaigns of checkout", resp.Request.URL)
	}
	// The admin group's session may run a job from this site, never cross-site.
	for _, tt := range []struct {
		origin string
		want   int
	}{{ts.URL, http.StatusAccepted}, {"https://evil.example", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/jobs/github/run", nil)
		req.Header.Set("Origin", tt.origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("run job with Origin %s = %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
	}
	// A tampered cookie is refused.
	bad := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/overview", nil)
	req.AddCookie(&http.Cookie{Name: "yardstick_session", Value: strings.Replace(sess.Value, "\"r\":\"admin\"", "\"r\":\"root\"", 1) + "x"})
	if resp, err := bad.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered cookie = %v %v, want 401", resp.StatusCode, err)
	}
	// Sessions expire.
	clk.add(2 * time.Hour)
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/api/v1/overview", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session = %v %v, want 401", resp.StatusCode, err)
	}
	clk.add(-2 * time.Hour)
	// Logout ends the session.
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/auth/logout", nil)
	if _, err := bad.Do(withJar(req, c, u)); err != nil {
		t.Fatal(err)
	}
	resp2, err := bad.Do(withJar(mustReq(http.MethodPost, ts.URL+"/auth/logout"), c, u))
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range resp2.Cookies() {
		if ck.Name == "yardstick_session" && ck.MaxAge >= 0 {
			t.Errorf("logout cookie %+v, want it deleted", ck)
		}
	}
	c.Jar.SetCookies(u, resp2.Cookies())
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/api/v1/overview", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout = %v %v, want 401", resp.StatusCode, err)
	}
}

func mustReq(method, u string) *http.Request {
	req, _ := http.NewRequest(method, u, nil)
	return req
}

func withJar(req *http.Request, c *http.Client, u *url.URL) *http.Request {
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	return req
}

func TestOIDCGroupsDecideAccess(t *testing.T) {
	m, ts, _ := mustOIDC(t, func(o *ui.OIDCConfig) { o.ViewerGroups = []string{"engineering"} })
	m.QueueUser(&mockoidc.MockUser{Subject: "u2", Email: "guest@example.com", PreferredUsername: "guest", Groups: []string{"sales"}})
	resp, body := getHTML(t, browserClient(t), ts.URL+"/squads")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your groups do not give access") {
		t.Errorf("sign-in of a user outside the viewer groups = %d, want 403", resp.StatusCode)
	}
	// A callback without the sign-in's state cookie is refused.
	resp, _ = getHTML(t, browserClient(t), ts.URL+"/auth/callback?code=x&state=y")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without a sign-in = %d, want 400", resp.StatusCode)
	}
}

func TestTokenLoginCookieHoldsNoToken(t *testing.T) {
	h := mustServer(t, func(c *ui.Config) {
		c.Addr = "0.0.0.0:8080"
		c.Tokens = []ui.Token{{Name: "ops", SHA256: ui.HashToken("s3cret-token"), Role: ui.RoleViewer}}
	}).srv.Handler()
	cks := postLogin(t, h, url.Values{"token": {"s3cret-token"}, "next": {"/squads"}}).Result().Cookies()
	if len(cks) != 1 || strings.Contains(cks[0].Value, "s3cret") || !cks[0].HttpOnly || cks[0].Expires.IsZero() {
		t.Fatalf("login cookies = %+v, want one HttpOnly expiring session without the token", cks)
	}
}

func TestTrustedProxyHeaders(t *testing.T) {
	h := mustServer(t, func(c *ui.Config) {
		c.Addr = "0.0.0.0:8080"
		c.Auth.Proxy = &ui.ProxyAuthConfig{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ViewerGroups: []string{"eng"}}
	}).srv.Handler()
	for _, tt := range []struct {
		remote, groups string
		want           int
	}{
		{"10.1.2.3:5555", "eng,ops", http.StatusOK},
		{"10.1.2.3:5555", "sales", http.StatusUnauthorized},
		{"192.0.2.7:5555", "eng", http.StatusUnauthorized}, // not a configured proxy: headers ignored
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/overview", nil)
		req.RemoteAddr = tt.remote
		req.Header.Set("X-Forwarded-User", "ann")
		req.Header.Set("X-Forwarded-Email", "ann@example.com")
		req.Header.Set("X-Forwarded-Groups", tt.groups)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("request from %s with groups %s = %d, want %d", tt.remote, tt.groups, rec.Code, tt.want)
		}
	}
}

// TestBrowserSignIn signs in through the OIDC provider in headless Chromium
// and lands on the user's squad.
func TestBrowserSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not in -short mode")
	}
	chrome := chromiumPath(t)
	m, ts, _ := mustOIDC(t, nil)
	m.QueueUser(&mockoidc.MockUser{Subject: "u1", Email: "ann@example.com", PreferredUsername: "ann", Groups: []string{"engineering"}})
	profile, err := os.MkdirTemp("", "yardstick-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(profile), chromedp.Flag("disable-background-networking", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	defer cancelTimeout()
	var (
		loc, h1, nav string
	)
	// The root with no page asked for: sign-in lands on the user's squad.
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/auth/login"),
		chromedp.WaitVisible("h1", chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Text("h1", &h1, chromedp.ByQuery),
		chromedp.Text("header nav", &nav, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	if !strings.HasSuffix(loc, "/squads/default/checkout") || !strings.Contains(h1, "Checkout") || !strings.Contains(nav, "My squad") {
		t.Errorf("after sign-in: at %s, h1 %q, nav %q; want the checkout squad page with My squad", loc, h1, nav)
	}
}
