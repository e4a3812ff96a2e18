// Package jira collects tickets from Jira Cloud and Jira Server / Data Center:
// one event per created, transitioned, resolved and reopened issue, taken from each
// issue and its complete changelog, and per-scope facts about open bugs. It polls
// incrementally with JQL on `updated` and accepts Jira webhooks, converting both
// with the same code.
//
// Scopes come from the catalog: an entity annotated with jira/project-key (and
// optionally jira/component or jira/label) maps to ProjectScope(key,
// component, label), and the collector narrows its JQL to what is mapped.
package jira

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Flavor says which kind of Jira deployment the collector talks to.
type Flavor string

const (
	// Cloud is Atlassian's Jira Cloud: e-mail plus API token (basic auth), searched
	// with the token-paginated POST /rest/api/3/search/jql.
	Cloud Flavor = "cloud"
	// Server is Jira Server or Data Center: a personal access token (bearer),
	// searched with the offset-paginated /rest/api/2/search.
	Server Flavor = "server"
)

// Config configures the Jira collector. Zero values take the defaults noted.
type Config struct {
	BaseURL string // https://acme.atlassian.net or https://jira.example.com
	Flavor  Flavor // cloud or server

	Email               string           // Cloud: the API user's e-mail
	APIToken            yardstick.Secret // Cloud: the API token of that user
	PersonalAccessToken yardstick.Secret // Server / Data Center

	// StoryPointsField is the id of the story points custom field
	// ("customfield_10016"); empty leaves story points out.
	StoryPointsField string
	// BugTypes are the issue type names counted as bugs; default ["Bug"].
	BugTypes []string
	// PageSize is the maxResults asked of each search page; default 100.
	PageSize int
	// ProjectsPerQuery is how many projects share one JQL search; default 20.
	// A search that Jira rejects (400) is retried project by project so that one
	// bad project key does not stop the others.
	ProjectsPerQuery int
	// Overlap is subtracted from each cursor before it goes into JQL, which
	// only has minute precision; default 2m. Writes are idempotent, so overlap
	// costs a few repeated rows, never double counts.
	Overlap time.Duration
	// Backfill bounds a full sync to issues updated within it; 0 reads everything.
	Backfill time.Duration
	// TimeZone is the time zone Jira reads JQL dates in (the API user's profile
	// zone). Empty asks GET /rest/api/2/myself once per run.
	TimeZone string
}

func (c Config) withDefaults() Config {
	if len(c.BugTypes) == 0 {
		c.BugTypes = []string{"Bug"}
	}
	if c.PageSize <= 0 {
		c.PageSize = 100
	}
	if c.ProjectsPerQuery <= 0 {
		c.ProjectsPerQuery = 20
	}
	if c.Overlap <= 0 {
		c.Overlap = 2 * time.Minute
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Validate reports the first thing wrong with c, wrapping yardstick.ErrInvalid.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("jira base url %q: want http(s)://host: %w", c.BaseURL, yardstick.ErrInvalid)
	}
	switch c.Flavor {
	case Cloud:
		if c.Email == "" || c.APIToken == "" {
			return fmt.Errorf("jira cloud needs email and api token: %w", yardstick.ErrInvalid)
		}
	case Server:
		if c.PersonalAccessToken == "" {
			return fmt.Errorf("jira server needs a personal access token: %w", yardstick.ErrInvalid)
		}
	default:
		return fmt.Errorf("jira flavor %q: want cloud or server: %w", c.Flavor, yardstick.ErrInvalid)
	}
	if c.StoryPointsField != "" && !strings.HasPrefix(c.StoryPointsField, "customfield_") {
		return fmt.Errorf("jira story points field %q: want customfield_NNNNN: %w", c.StoryPointsField, yardstick.ErrInvalid)
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return fmt.Errorf("jira time zone %q: %w", c.TimeZone, yardstick.ErrInvalid)
		}
	}
	return nil
}

// Hash identifies the parts of the configuration that change what is collected,
// for collectors.Runner: a new hash resets the watermark and forces a full sync.
// Credentials are left out, so rotating a token does not re-collect.
func (c Config) Hash() string {
	c = c.withDefaults()
	bugs := slices.Clone(c.BugTypes)
	slices.Sort(bugs)
	h := sha256.Sum256([]byte(strings.Join([]string{
		"v1", c.BaseURL, string(c.Flavor), c.StoryPointsField, strings.Join(bugs, "\x00"), c.Backfill.String(),
	}, "\x01")))
	return hex.EncodeToString(h[:8])
}
