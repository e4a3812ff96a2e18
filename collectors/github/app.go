package github

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
)

// appAuth authenticates requests as a GitHub App installation: it signs a JWT
// with the app's key, exchanges it for an installation token at
// POST /app/installations/{id}/access_tokens, and renews the token a few minutes
// before it expires. Safe for concurrent use.
type appAuth struct {
	cfg     AppConfig
	tokens  *client // signs with the app JWT; used only for the token exchange
	now     func() time.Time
	signKey any

	mu      sync.Mutex
	token   string
	expires time.Time
}

// renewBefore is how long before expiry an installation token is replaced.
const renewBefore = 5 * time.Minute

func newAppAuth(cfg AppConfig, now func() time.Time) (*appAuth, error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(cfg.PrivateKey.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("github app %d: private key: %w: %w", cfg.AppID, err, yardstick.ErrInvalid)
	}
	return &appAuth{cfg: cfg, now: now, signKey: key}, nil
}

// jwt returns a fresh app JWT: issued a minute in the past against clock drift,
// valid for nine minutes (GitHub accepts at most ten).
func (a *appAuth) jwt() (string, error) {
	now := a.now()
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.cfg.AppID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.signKey)
	if err != nil {
		return "", fmt.Errorf("sign github app %d jwt: %w", a.cfg.AppID, err)
	}
	return s, nil
}

// installationToken returns a valid installation token, exchanging a new JWT when
// the cached one is missing or about to expire.
func (a *appAuth) installationToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.now().Before(a.expires.Add(-renewBefore)) {
		return a.token, nil
	}
	var tok gh.InstallationToken
	path := fmt.Sprintf("app/installations/%d/access_tokens", a.cfg.InstallationID)
	if err := a.tokens.post(ctx, path, nil, &tok); err != nil {
		return "", fmt.Errorf("github app %d: installation token: %w", a.cfg.AppID, err)
	}
	if tok.GetToken() == "" {
		return "", fmt.Errorf("github app %d: installation token: empty token in answer", a.cfg.AppID)
	}
	a.token = tok.GetToken()
	a.expires = tok.GetExpiresAt().Time
	if a.expires.IsZero() {
		a.expires = a.now().Add(time.Hour)
	}
	return a.token, nil
}

// jwtTransport signs the token exchange itself with the app JWT.
type jwtTransport struct {
	app  *appAuth
	next http.RoundTripper
}

func (t jwtTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s, err := t.app.jwt()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+s)
	return t.next.RoundTrip(r)
}

// installationTransport adds the installation token to API requests.
type installationTransport struct {
	app  *appAuth
	next http.RoundTripper
}

func (t installationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.app.installationToken(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.next.RoundTrip(r)
}
