package gitlab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// Collector copies GitLab data into a collectors.Writer. Safe for concurrent
// use; the Runner serialises Collect runs.
type Collector struct {
	cfg     Config
	api     *gl.Client
	cursors collectors.CursorStore
	catalog collectors.Catalog
	logger  *slog.Logger
	now     func() time.Time
	hash    string
	states  *githost.States[projectState]
}

// New builds a Collector from an enabled config. deps.Cursors and deps.Catalog
// are required. deps.HTTPClient is put under collectors.Transport unless its
// transport already is one.
func New(cfg Config, deps collectors.Deps) (*Collector, error) {
	if deps.Cursors == nil || deps.Catalog == nil {
		return nil, fmt.Errorf("gitlab collector: cursor store and catalog are required: %w", yardstick.ErrInvalid)
	}
	token := cfg.token(deps.Getenv)
	if token == "" {
		return nil, fmt.Errorf("gitlab token_env: environment variable %s is empty: %w", cfg.tokenEnv(), yardstick.ErrInvalid)
	}
	retry := RetryConfig()
	if cfg.Retry != (collectors.RetryConfig{}) {
		retry = cfg.Retry
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	api, err := newAPI(cfg.baseURL(), token.Reveal(), httpClient(deps.HTTPClient, retry), logger)
	if err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PerPage <= 0 || cfg.PerPage > 100 {
		cfg.PerPage = DefaultPerPage
	}
	cfg.MaxShippedCommits = cfg.maxShipped()
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Collector{
		cfg: cfg, api: api, cursors: deps.Cursors, catalog: deps.Catalog,
		logger: logger.With("collector", SourceName), now: now, hash: cfg.Hash(),
		states: &githost.States[projectState]{
			Cursors: deps.Cursors, Source: SourceName, Key: stateKey,
			Successes:  func(st *projectState) *successMap { return &st.Successes },
			Config:     func(st *projectState) string { return st.Config },
			MaxUpdated: func(st *projectState) time.Time { return st.MaxUpdated },
		},
	}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return SourceName }

// ConfigHash identifies the settings that change what is collected.
func (c *Collector) ConfigHash() string { return c.hash }

// projects returns the project paths the catalog maps (inside the configured
// groups), sorted and deduplicated.
func (c *Collector) projects(ctx context.Context) ([]string, error) {
	return githost.Repos(ctx, c.catalog, func(s yardstick.Scope) (string, bool) {
		p, ok := ProjectOf(s)
		return p, ok && c.cfg.inGroups(p)
	})
}

// Collect implements collectors.Collector. Each catalog project is synced from
// its own saved cursors (a project never collected, or collected under another
// configuration, gets a full sync of the backfill window), so since only bounds
// the returned watermark. A project that fails is named in the returned
// *collectors.PartialError and does not stop the others.
func (c *Collector) Collect(ctx context.Context, since time.Time, w collectors.Writer) (time.Time, error) {
	projects, err := c.projects(ctx)
	if err != nil {
		return since, fmt.Errorf("list gitlab projects from the catalog: %w", err)
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		next     = since
		failures []collectors.Failure
	)
	slots := make(chan struct{}, c.cfg.Concurrency)
	for _, p := range projects {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			m, f := c.syncProject(ctx, p, w)
			mu.Lock()
			defer mu.Unlock()
			if m.After(next) {
				next = m
			}
			failures = append(failures, f...)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return since, fmt.Errorf("collect gitlab: %w", err)
	}
	if len(failures) > 0 {
		sort.SliceStable(failures, func(i, j int) bool { return failures[i].Scope < failures[j].Scope })
		return next, &collectors.PartialError{Collector: c.Name(), Failures: failures}
	}
	return next, nil
}

// projectState is what the collector remembers of one project between runs,
// saved as one JSON cursor ("gitlab/project/<path>") after the data it covers
// is stored.
type projectState struct {
	// Config is the hash of the configuration the state was built under.
	Config        string `json:"config,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
	// Head is the newest default-branch commit collected; FilesAt the head the
	// file facts were read at.
	Head    string    `json:"head,omitempty"`
	HeadAt  time.Time `json:"head_at,omitempty"`
	FilesAt string    `json:"files_at,omitempty"`
	// Facts holds a digest of each fact last written, so unchanged facts are
	// not written again.
	Facts map[string]string `json:"facts,omitempty"`
	// MRsSince, PipelinesSince and DeploysSince are the largest updated_at
	// collected of each list; ReleasesSince the largest released_at.
	MRsSince time.Time `json:"mrs_since,omitempty"`
	// MRsAt, PipelinesAt and DeploysAt are the ids updated exactly at the
	// cursor: updated_after includes the cursor, so these are skipped when
	// listed again unchanged.
	MRsAt          []int64   `json:"mrs_at,omitempty"`
	PipelinesAt    []int64   `json:"pipelines_at,omitempty"`
	DeploysAt      []int64   `json:"deploys_at,omitempty"`
	PipelinesSince time.Time `json:"pipelines_since,omitempty"`
	DeploysSince   time.Time `json:"deploys_since,omitempty"`
	ReleasesSince  time.Time `json:"releases_since,omitempty"`
	// Successes are the latest successful deployments per environment,
	// ascending by id: the base of the next deployment's shipped commits.
	Successes successMap `json:"successes,omitempty"`
	// MaxUpdated is the largest source timestamp seen in the project.
	MaxUpdated time.Time `json:"max_updated,omitempty"`
}

type success = collectors.DeploySuccess

// successMap is the latest successful deployments per environment.
type successMap = collectors.DeploySuccesses

func (st *projectState) seen(t time.Time) {
	if t.After(st.MaxUpdated) {
		st.MaxUpdated = t
	}
}

// boundary tracks the largest update time of a list and the ids updated at it.
type boundary struct {
	at  time.Time
	ids []int64
}

func newBoundary(at time.Time, ids []int64) boundary {
	return boundary{at: at, ids: slices.Clone(ids)}
}

// seenBefore reports whether an item was collected at the old cursor and has
// not changed since.
func (b boundary) seenBefore(old boundary, id int64, updated time.Time) bool {
	return updated.Equal(old.at) && slices.Contains(old.ids, id)
}

func (b *boundary) add(id int64, updated time.Time) {
	switch {
	case updated.After(b.at):
		b.at, b.ids = updated, []int64{id}
	case updated.Equal(b.at) && !slices.Contains(b.ids, id):
		b.ids = append(b.ids, id)
	}
}

func stateKey(project string) string { return "gitlab/project/" + project }

// projectSync is one sync of one project. Sections read their own lists; each
// writes its rows page by page and only then moves its cursor in st, so a
// section that fails is read again from its old cursor next time.
type projectSync struct {
	githost.Sync
	c        *Collector
	project  string
	old      projectState
	st       projectState
	settings *gl.Project // the project as read this sync
}

// syncProject syncs one project and saves its cursor. It returns the largest
// source timestamp seen and the failures of its sections.
func (c *Collector) syncProject(ctx context.Context, project string, w collectors.Writer) (time.Time, []collectors.Failure) {
	scope := Scope(project)
	return githost.SyncRepo(ctx, c.states, project, scope, c.logger.With("project", project), githost.Fatal, func(old projectState) (*projectState, githost.Sections) {
		now := c.now().UTC()
		s := &projectSync{c: c, project: project, old: old, Sync: githost.Sync{
			W: w, Source: SourceName, Repo: project, Scope: scope, Full: old.Config != c.hash,
			WindowStart: now.AddDate(0, 0, -c.cfg.backfillDays()), Now: now,
		}}
		if s.Full {
			s.old = projectState{}
		}
		s.st = s.old
		s.st.Facts = maps.Clone(s.old.Facts)
		if s.st.Facts == nil {
			s.st.Facts = map[string]string{}
		}
		s.st.Successes = s.old.Successes.Clone()
		s.st.Config = c.hash
		return &s.st, githost.Sections{Repository: s.repository, Protection: s.protection, Commits: s.commits, Files: s.files,
			Changes: s.mergeRequests, Deployments: s.deployments, Pipelines: s.pipelines, Releases: s.releases}
	})
}

// writeFacts writes the facts whose value changed since they were last written.
func (s *projectSync) writeFacts(ctx context.Context, facts ...yardstick.Fact) error {
	var out []yardstick.Fact
	for _, f := range facts {
		digest := digestOf(f.Value)
		if !s.Full && s.old.Facts[f.Name] == digest {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil
	}
	if err := s.W.WriteFacts(ctx, out); err != nil {
		return fmt.Errorf("write gitlab facts of %s: %w", s.project, err)
	}
	for _, f := range out {
		s.st.Facts[f.Name] = digestOf(f.Value)
	}
	return nil
}

func (s *projectSync) opts(ctx context.Context) []gl.RequestOptionFunc {
	return []gl.RequestOptionFunc{gl.WithContext(ctx)}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
