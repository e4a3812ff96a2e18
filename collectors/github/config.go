package github

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// Config is the GitHub collector's configuration. cmd/yardstick fills it from the
// config file and the environment; New applies defaults and validates it.
type Config struct {
	// BaseURL is the REST API root: https://api.github.com/ (default), or
	// https://ghe.example.com/api/v3/ for GitHub Enterprise Server.
	BaseURL string
	// Token is a personal access or fine-grained token. Set Token or App, not both.
	Token yardstick.Secret
	// App authenticates as a GitHub App installation.
	App *AppConfig
	// Backfill is how far back a full sync reads (default 90 days).
	Backfill time.Duration
	// RunLookback is how far before the newest collected run an incremental sync
	// looks again for workflow runs that were still going or were re-run (default 24h).
	RunLookback time.Duration
	// Concurrency is how many repositories are collected at once (default 4).
	Concurrency int
	// PerPage is the page size of list requests (default 100, GitHub's maximum).
	PerPage int
	// MaxShippedCommits caps the commits one deployment records as shipped (default 2500).
	MaxShippedCommits int
	// FileFacts are extra facts read from repository files by regular expression.
	FileFacts []FileFact
}

// AppConfig authenticates as a GitHub App: a JWT signed with the app's private key
// is exchanged for an installation token, renewed before it expires.
type AppConfig struct {
	AppID          int64
	InstallationID int64
	PrivateKey     yardstick.Secret // PEM-encoded RSA key
}

// FileFact is a (path, regular expression) fact: the fact Name holds the first
// capture group of Pattern in the file at Path on the default branch (the whole
// match when the pattern has no group), or "" when the file or the match is missing.
type FileFact struct {
	Name    string
	Path    string
	Pattern string
}

// Defaults.
const (
	DefaultBaseURL           = "https://api.github.com/"
	DefaultBackfill          = 90 * 24 * time.Hour
	DefaultRunLookback       = 24 * time.Hour
	DefaultConcurrency       = 4
	DefaultPerPage           = 100
	DefaultMaxShippedCommits = 2500
)

var factNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// builtinFacts are the fact names the collector itself writes; file facts may not reuse them.
var builtinFacts = map[string]bool{
	githost.FactRepository: true, githost.FactBranchProtection: true, githost.FactFiles: true, githost.FactGoMod: true,
	githost.FactGoVersion: true, githost.FactPackageJSON: true, githost.FactDockerfile: true,
}

type fileFactRE struct {
	FileFact
	re *regexp.Regexp
}

// withDefaults returns cfg with defaults applied, its base URL parsed and its
// file facts compiled, or an error wrapping yardstick.ErrInvalid naming the key.
func (cfg Config) withDefaults() (Config, *url.URL, []fileFactRE, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if !strings.HasSuffix(cfg.BaseURL, "/") {
		cfg.BaseURL += "/"
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return cfg, nil, nil, fmt.Errorf("github base_url %q: not an absolute URL: %w", cfg.BaseURL, yardstick.ErrInvalid)
	}
	switch {
	case cfg.Token == "" && cfg.App == nil:
		return cfg, nil, nil, fmt.Errorf("github: set a token or an app: %w", yardstick.ErrInvalid)
	case cfg.Token != "" && cfg.App != nil:
		return cfg, nil, nil, fmt.Errorf("github: set a token or an app, not both: %w", yardstick.ErrInvalid)
	case cfg.App != nil && (cfg.App.AppID <= 0 || cfg.App.InstallationID <= 0 || cfg.App.PrivateKey == ""):
		return cfg, nil, nil, fmt.Errorf("github app: app_id, installation_id and private_key are all required: %w", yardstick.ErrInvalid)
	}
	if cfg.Backfill <= 0 {
		cfg.Backfill = DefaultBackfill
	}
	if cfg.RunLookback <= 0 {
		cfg.RunLookback = DefaultRunLookback
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PerPage <= 0 || cfg.PerPage > 100 {
		cfg.PerPage = DefaultPerPage
	}
	if cfg.MaxShippedCommits <= 0 {
		cfg.MaxShippedCommits = DefaultMaxShippedCommits
	}
	facts := make([]fileFactRE, 0, len(cfg.FileFacts))
	seen := map[string]bool{}
	for i, ff := range cfg.FileFacts {
		where := fmt.Sprintf("github file_facts[%d]", i)
		switch {
		case !factNameRE.MatchString(ff.Name):
			return cfg, nil, nil, fmt.Errorf("%s: name %q: lower-case letters, digits and _ only: %w", where, ff.Name, yardstick.ErrInvalid)
		case builtinFacts[ff.Name] || seen[ff.Name]:
			return cfg, nil, nil, fmt.Errorf("%s: name %q is already used: %w", where, ff.Name, yardstick.ErrInvalid)
		case ff.Path == "" || strings.HasPrefix(ff.Path, "/") || strings.Contains(ff.Path, ".."):
			return cfg, nil, nil, fmt.Errorf("%s: path %q: a relative path inside the repository is required: %w", where, ff.Path, yardstick.ErrInvalid)
		}
		re, err := regexp.Compile(ff.Pattern)
		if err != nil {
			return cfg, nil, nil, fmt.Errorf("%s: pattern: %w: %w", where, err, yardstick.ErrInvalid)
		}
		seen[ff.Name] = true
		facts = append(facts, fileFactRE{FileFact: ff, re: re})
	}
	return cfg, base, facts, nil
}
