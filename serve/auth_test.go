package serve

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestServeAuthConfig(t *testing.T) {
	env := map[string]string{"KEY": strings.Repeat("k", 32), "SHORT": "k", "OIDC_SECRET": "s"}
	for _, tt := range []struct {
		name, yaml, wantErr string
	}{
		{"oidc and proxy", "session_key_env: KEY\noidc: {issuer: https://idp.example.com, client_id: ys, client_secret_env: OIDC_SECRET, redirect_url: https://ys.example.com/auth/callback}\nproxy: {trusted: [10.0.0.0/8, 192.0.2.7]}\n", ""},
		{"short key", "session_key_env: SHORT\n", "at least 32"},
		{"bad cidr", "proxy: {trusted: [10.0.0.0/33]}\n", "serve.auth.proxy.trusted[0]"},
		{"no proxies", "proxy: {user_header: X-User}\n", "trusted must list"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a AuthConfig
			dec := yaml.NewDecoder(strings.NewReader(tt.yaml))
			dec.KnownFields(true)
			if err := dec.Decode(&a); err != nil {
				t.Fatal(err)
			}
			got, err := a.UIConfig(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("uiConfig() = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("uiConfig() = %v", err)
			}
			if got.OIDC == nil || got.OIDC.ClientSecret.Reveal() != "s" || len(got.Proxy.Trusted) != 2 || got.Proxy.Trusted[1].Bits() != 32 || len(got.SessionKey) != 32 {
				t.Errorf("uiConfig() = %+v, want OIDC with its secret, two trusted prefixes and the session key", got)
			}
		})
	}
}
