// Package github collects code review, commit, CI (Actions), deployment and
// release events and repository facts from GitHub or GitHub Enterprise Server
// for every repository the catalog names with a github.com/project-slug
// annotation. Polling (Collector.Collect) and webhooks (WebhookHandler) share
// one conversion, so both give identical rows.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// EventStore is what the reconcile pass needs from the store: the events it
// holds for a scope, and tombstones for those that vanished upstream.
// ScopeEvents returns the live events of source in scope of the given types
// (all types when empty) at or after since. Both are safe for concurrent use.
type EventStore interface {
	ScopeEvents(ctx context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error)
	DeleteEvents(ctx context.Context, events []yardstick.Event) error
}

// Deps are the collector's collaborators besides the HTTP client.
type Deps struct {
	Cursors collectors.CursorStore // required: per-repository cursors and ETags
	Catalog collectors.Catalog     // required: which repositories to collect
	Events  EventStore             // needed by Reconcile only
	Now     func() time.Time       // default time.Now
}

// Collector copies GitHub data into a collectors.Writer. Safe for concurrent use;
// Collect and Reconcile runs should not overlap (the Runner serialises Collect).
type Collector struct {
	cfg       Config
	api       *client
	cursors   collectors.CursorStore
	catalog   collectors.Catalog
	events    EventStore
	logger    *slog.Logger
	now       func() time.Time
	fileFacts []fileFactRE
	hash      string
	forceFull bool
	states    *githost.States[repoState]
}

// New builds a Collector. hc's transport should be a *collectors.Transport so that
// rate limits are waited out and faults retried; nil gets a default one.
func New(cfg Config, hc *http.Client, deps Deps, logger *slog.Logger) (*Collector, error) {
	cfg, base, facts, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Cursors == nil || deps.Catalog == nil {
		return nil, fmt.Errorf("github collector: cursor store and catalog are required: %w", yardstick.ErrInvalid)
	}
	if hc == nil {
		hc = &http.Client{Transport: collectors.NewTransport(nil, "github", RetryConfig(), nil)}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	c := &Collector{
		cfg: cfg, cursors: deps.Cursors, catalog: deps.Catalog, events: deps.Events,
		logger: logger.With("collector", "github"), now: deps.Now, fileFacts: facts,
		states: newStates(deps.Cursors),
	}
	c.hash = cfg.hash()
	if cfg.App != nil {
		app, err := newAppAuth(*cfg.App, deps.Now)
		if err != nil {
			return nil, err
		}
		app.tokens = newClient(base, hc, func(next http.RoundTripper) http.RoundTripper { return jwtTransport{app: app, next: next} })
		c.api = newClient(base, hc, func(next http.RoundTripper) http.RoundTripper { return installationTransport{app: app, next: next} })
	} else {
		tok := cfg.Token.Reveal()
		c.api = newClient(base, hc, func(next http.RoundTripper) http.RoundTripper { return tokenAuth{token: tok, next: next} })
	}
	return c, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return "github" }

// ConfigHash identifies the parts of the configuration that change what is
// collected; pass it to collectors.Runner.Run so a change resets the watermark.
func (c *Collector) ConfigHash() string { return c.hash }

// ForceFull makes the next runs ignore saved cursors and ETags and re-read the
// whole backfill window (yardstick collect github --full).
func (c *Collector) ForceFull(on bool) { c.forceFull = on }

func (cfg Config) hash() string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(struct {
		BaseURL   string
		Backfill  time.Duration
		MaxCommit int
		FileFacts []FileFact
	}{cfg.BaseURL, cfg.Backfill, cfg.MaxShippedCommits, cfg.FileFacts})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// repos returns the repository slugs the catalog maps, sorted and deduplicated.
func (c *Collector) repos(ctx context.Context) ([]string, error) {
	return githost.Repos(ctx, c.catalog, SlugOf)
}

// SlugOf returns "org/repo" of a "github:org/repo" scope; ok is false for other scopes.
func SlugOf(s yardstick.Scope) (string, bool) {
	slug, ok := strings.CutPrefix(string(s), "github:")
	if !ok || strings.Count(slug, "/") != 1 || strings.HasPrefix(slug, "/") || strings.HasSuffix(slug, "/") {
		return "", false
	}
	return slug, true
}

// Collect implements collectors.Collector. Each catalog repository is synced
// from its own saved cursor (a repository never collected, or collected under
// another configuration, gets a full sync of the backfill window), so since only
// bounds the returned watermark. A repository that fails is named in the returned
// *collectors.PartialError and does not stop the others.
func (c *Collector) Collect(ctx context.Context, since time.Time, w collectors.Writer) (time.Time, error) {
	slugs, err := c.repos(ctx)
	if err != nil {
		return since, fmt.Errorf("list github repositories from the catalog: %w", err)
	}
	type result struct {
		slug     string
		max      time.Time
		failures []collectors.Failure
	}
	jobs := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrency, max(len(slugs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slug := range jobs {
				max, failures := c.syncRepo(ctx, slug, w)
				results <- result{slug: slug, max: max, failures: failures}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, s := range slugs {
			select {
			case jobs <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	next := since
	var failures []collectors.Failure
	var collected []string
	for r := range results {
		if r.max.After(next) {
			next = r.max
		}
		failures = append(failures, r.failures...)
		collected = append(collected, r.slug)
	}
	if err := ctx.Err(); err != nil {
		return since, fmt.Errorf("collect github: %w", err)
	}
	if err := c.rememberRepos(ctx, collected); err != nil {
		return since, err
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return failures[i].Scope < failures[j].Scope })
		return next, &collectors.PartialError{Collector: c.Name(), Failures: failures}
	}
	return next, nil
}

// knownRepos returns the repositories collected so far, for the reconcile pass.
func (c *Collector) knownRepos(ctx context.Context) ([]string, error) {
	v, err := c.cursors.Cursor(ctx, reposKey)
	if err != nil {
		return nil, fmt.Errorf("read github cursor %s: %w", reposKey, err)
	}
	var out []string
	if v != "" {
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("parse github cursor %s: %w", reposKey, err)
		}
	}
	return out, nil
}

func (c *Collector) saveKnownRepos(ctx context.Context, slugs []string) error {
	sort.Strings(slugs)
	b, _ := json.Marshal(slices.Compact(slugs))
	if err := c.cursors.SaveCursor(ctx, reposKey, string(b)); err != nil {
		return fmt.Errorf("save github cursor %s: %w", reposKey, err)
	}
	return nil
}

func (c *Collector) rememberRepos(ctx context.Context, slugs []string) error {
	known, err := c.knownRepos(ctx)
	if err != nil {
		return err
	}
	all := append(slices.Clone(known), slugs...)
	sort.Strings(all)
	all = slices.Compact(all)
	if slices.Equal(all, known) {
		return nil
	}
	return c.saveKnownRepos(ctx, all)
}

// failureOf turns a section error into a run-summary failure naming the
// repository, endpoint and status.
func failureOf(scope yardstick.Scope, err error) collectors.Failure {
	return collectors.FailureFrom(scope, "", err)
}

// fatal reports whether a section error should stop the repository's sync
// (githost.Fatal), and also on a 403 that is a spent rate limit the transport
// could not wait out.
func fatal(ctx context.Context, err error) bool {
	var he *collectors.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusForbidden {
		return strings.Contains(strings.ToLower(he.Body), "rate limit")
	}
	return githost.Fatal(ctx, err)
}

// RetryConfig is the retry policy GitHub needs from collectors.Transport: a
// primary rate-limit window resets up to an hour after it is spent, so waits up
// to that long are waited out rather than failed.
func RetryConfig() collectors.RetryConfig {
	return collectors.RetryConfig{MaxWait: 61 * time.Minute}
}
