package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
)

func mustRSAKey(t testing.TB) (*rsa.PrivateKey, yardstick.Secret) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, yardstick.Secret(pemKey)
}

func TestGitHubAppAuthentication(t *testing.T) {
	key, pemKey := mustRSAKey(t)
	e := newEnv(t, []string{"acme/payments"}, func(o *githubfake.Options, cfg *Config) {
		o.Token = ""
		o.App = &githubfake.App{ID: 42, InstallationID: 7, PublicKey: &key.PublicKey}
		cfg.Token = ""
		cfg.App = &AppConfig{AppID: 42, InstallationID: 7, PrivateKey: pemKey}
	})
	e.mustCollect(t, e.store)
	if count(e.store, yardstick.ChangeOpened, "github:acme/payments") == 0 {
		t.Error("no pull requests collected as a GitHub App")
	}
	// An hour and more later the installation token has expired and is renewed.
	e.clock.Advance(2 * time.Hour)
	e.mustCollect(t, e.store)

	_, otherKey := mustRSAKey(t)
	bad := mustCollector(t, Config{BaseURL: e.fake.URL, App: &AppConfig{AppID: 42, InstallationID: 7, PrivateKey: otherKey}}, e.fake, e.clock, newMemStore("acme/payments"), e.store, e.store)
	_, err := bad.Collect(context.Background(), time.Time{}, newMemStore())
	fs := collectors.Failures(err)
	if len(fs) != 1 || fs[0].Status != http.StatusUnauthorized || fs[0].Endpoint != "POST /app/installations/7/access_tokens" {
		t.Errorf("Collect with a wrong app key: failures %v, want one 401 at POST /app/installations/7/access_tokens", fs)
	}
}

func TestWrongTokenNamesTheFailure(t *testing.T) {
	e := newEnv(t, []string{"acme/payments"}, func(_ *githubfake.Options, cfg *Config) { cfg.Token = "wrong" })
	_, err := e.c.Collect(context.Background(), time.Time{}, e.store)
	fs := collectors.Failures(err)
	if len(fs) != 1 || fs[0].Status != http.StatusUnauthorized || fs[0].Endpoint != "GET /repos/acme/payments" {
		t.Fatalf("failures = %v, want one 401 at GET /repos/acme/payments", fs)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("unexpected cancellation")
	}
}

func TestParseGoMod(t *testing.T) {
	got, err := parseGoMod([]byte(`// a comment
module "example.com/svc"

go 1.22.3

toolchain go1.22.5

require example.com/a v1.2.3

require (
	example.com/b v0.1.0 // indirect
	"example.com/c" v2.0.0+incompatible
)

replace example.com/a => ../a
`))
	if err != nil {
		t.Fatal(err)
	}
	want := githost.GoMod{Present: true, Module: "example.com/svc", Go: "1.22.3", Toolchain: "go1.22.5",
		Requires: map[string]string{"example.com/a": "v1.2.3", "example.com/b": "v0.1.0", "example.com/c": "v2.0.0+incompatible"},
		Indirect: []string{"example.com/b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseGoMod (-want +got):\n%s", diff)
	}
	if _, err := parseGoMod([]byte("module x\ngo 1.21 1.22\n")); err == nil || err.Error() != "go.mod:2: go directive needs one version" {
		t.Errorf("parseGoMod(two versions) error = %v, want go.mod:2: go directive needs one version", err)
	}
}

func TestParsePackageJSON(t *testing.T) {
	p, err := githost.ParsePackageJSON([]byte(`{"name":"web","dependencies":{"react":"^18"},"devDependencies":{"vite":"5"},"engines":{"node":">=20"}}`))
	if err != nil || p.Name != "web" || p.Dependencies["react"] != "^18" || p.DevDependencies["vite"] != "5" || p.Engines["node"] != ">=20" {
		t.Errorf("parsePackageJSON = %+v, %v", p, err)
	}
	if _, err := githost.ParsePackageJSON([]byte(`{"name":`)); err == nil {
		t.Error("parsePackageJSON(truncated) = nil error")
	}
}

func TestMatchFact(t *testing.T) {
	for _, c := range []struct{ pattern, data, want string }{
		{`node (\d+)`, "FROM node 18\n", "18"},
		{`v\d+\.\d+`, "version v1.2.3", "v1.2"},
		{`(?m)^java=(.*)$`, "python=3\n", ""},
	} {
		if got := matchFact(regexp.MustCompile(c.pattern), []byte(c.data)); got != c.want {
			t.Errorf("matchFact(%q, %q) = %q, want %q", c.pattern, c.data, got, c.want)
		}
	}
}

func TestNextLink(t *testing.T) {
	h := `<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="prev", <https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel="next", <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last"`
	if got := nextLink(h); got != "https://api.github.com/repositories/1000/issues?per_page=3&page=3" {
		t.Errorf("nextLink = %q", got)
	}
	if got := nextLink(`<https://x/?page=1>; rel="first"`); got != "" {
		t.Errorf("nextLink(no next) = %q, want empty", got)
	}
}

func TestDeploymentOutcomeIgnoresLaterInactive(t *testing.T) {
	at := func(m int) *ghTimestamp { return tsAt(epoch.Add(time.Duration(m) * time.Minute)) }
	statuses := []*ghDeploymentStatus{
		{ID: ptr(int64(3)), State: ptr("inactive"), CreatedAt: at(30)},
		{ID: ptr(int64(2)), State: ptr("success"), CreatedAt: at(6)},
		{ID: ptr(int64(1)), State: ptr("in_progress"), CreatedAt: at(1)},
	}
	st, ok := deploymentOutcome(statuses)
	if !ok || st.GetState() != "success" {
		t.Errorf("deploymentOutcome = %v %v, want the success", st, ok)
	}
	if _, ok := deploymentOutcome(statuses[2:]); ok {
		t.Error("deploymentOutcome(in_progress only) settled")
	}
}

type (
	ghTimestamp        = gh.Timestamp
	ghDeploymentStatus = gh.DeploymentStatus
)

func tsAt(t time.Time) *gh.Timestamp { return &gh.Timestamp{Time: t} }

func ptr[T any](v T) *T { return &v }
