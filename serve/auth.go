package serve

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

// EmbedConfig is serve.embed: who may frame /embed pages, and whether embeds
// and badges need a token.
type EmbedConfig struct {
	FrameAncestors []string `yaml:"frame_ancestors"`
	Public         bool     `yaml:"public"`
	PublicBadges   bool     `yaml:"public_badges"`
}

// AuthConfig is serve.auth: browser sign-in (README, "Sign-in").
type AuthConfig struct {
	SessionKeyEnv string        `yaml:"session_key_env"`
	SessionTTL    time.Duration `yaml:"session_ttl"`
	OIDC          *struct {
		Issuer          string   `yaml:"issuer"`
		ClientID        string   `yaml:"client_id"`
		ClientSecretEnv string   `yaml:"client_secret_env"`
		RedirectURL     string   `yaml:"redirect_url"`
		Scopes          []string `yaml:"scopes"`
		GroupsClaim     string   `yaml:"groups_claim"`
		AdminGroups     []string `yaml:"admin_groups"`
		ViewerGroups    []string `yaml:"viewer_groups"`
	} `yaml:"oidc"`
	Proxy *struct {
		Trusted      []string `yaml:"trusted"`
		UserHeader   string   `yaml:"user_header"`
		EmailHeader  string   `yaml:"email_header"`
		GroupsHeader string   `yaml:"groups_header"`
		AdminGroups  []string `yaml:"admin_groups"`
		ViewerGroups []string `yaml:"viewer_groups"`
	} `yaml:"proxy"`
}

// UIConfig turns serve.auth into the ui's sign-in config, reading secrets
// from the environment.
func (a AuthConfig) UIConfig(getenv func(string) string) (ui.AuthConfig, error) {
	out := ui.AuthConfig{SessionTTL: a.SessionTTL}
	if a.SessionKeyEnv != "" {
		k := getenv(a.SessionKeyEnv)
		if len(k) < 32 {
			return out, fmt.Errorf("serve.auth.session_key_env: $%s must hold at least 32 characters", a.SessionKeyEnv)
		}
		out.SessionKey = []byte(k)
	}
	if o := a.OIDC; o != nil {
		out.OIDC = &ui.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, RedirectURL: o.RedirectURL, Scopes: o.Scopes,
			GroupsClaim: o.GroupsClaim, AdminGroups: o.AdminGroups, ViewerGroups: o.ViewerGroups}
		if o.ClientSecretEnv != "" {
			out.OIDC.ClientSecret = yardstick.Secret(getenv(o.ClientSecretEnv))
		}
	}
	if p := a.Proxy; p != nil {
		pc := &ui.ProxyAuthConfig{UserHeader: p.UserHeader, EmailHeader: p.EmailHeader, GroupsHeader: p.GroupsHeader,
			AdminGroups: p.AdminGroups, ViewerGroups: p.ViewerGroups}
		for i, s := range p.Trusted {
			if !strings.Contains(s, "/") {
				addr, err := netip.ParseAddr(s)
				if err != nil {
					return out, fmt.Errorf("serve.auth.proxy.trusted[%d] %q: want an address or CIDR", i, s)
				}
				pc.Trusted = append(pc.Trusted, netip.PrefixFrom(addr, addr.BitLen()))
				continue
			}
			pr, err := netip.ParsePrefix(s)
			if err != nil {
				return out, fmt.Errorf("serve.auth.proxy.trusted[%d] %q: want an address or CIDR", i, s)
			}
			pc.Trusted = append(pc.Trusted, pr.Masked())
		}
		if len(pc.Trusted) == 0 {
			return out, fmt.Errorf("serve.auth.proxy: trusted must list the proxy's addresses")
		}
		out.Proxy = pc
	}
	return out, nil
}
