package githost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// flushEvery is how many events a repository's sync buffers before it writes them.
const flushEvery = 500

// Sync is what one sync of one repository does the same way on every host:
// the backfill window, the events written page by page, the sections run in
// order. A host's per-repository sync embeds it.
type Sync struct {
	W           collectors.Writer
	Source      string // the host's source name, for errors
	Repo        string // "org/repo" or "group/sub/project"
	Scope       yardstick.Scope
	Full        bool // ignore old cursors (and ETags)
	WindowStart time.Time
	Now         time.Time
	buf         []yardstick.Event
}

// Since returns the cursor to read back to: the saved one, or the start of
// the backfill window when there is none (or the sync is full).
func (s *Sync) Since(saved time.Time) time.Time {
	if s.Full || saved.IsZero() || saved.Before(s.WindowStart) {
		return s.WindowStart
	}
	return saved
}

// Emit buffers events and writes them once enough are buffered.
func (s *Sync) Emit(ctx context.Context, events ...yardstick.Event) error {
	s.buf = append(s.buf, events...)
	if len(s.buf) >= flushEvery {
		return s.Flush(ctx)
	}
	return nil
}

// Flush writes the buffered events.
func (s *Sync) Flush(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	if err := s.W.WriteEvents(ctx, s.buf); err != nil {
		return fmt.Errorf("write %s events of %s: %w", s.Source, s.Repo, err)
	}
	s.buf = s.buf[:0]
	return nil
}

// FilesDue reports whether the file facts are to be read at head (the head
// collected, with its commit time headAt), given the head they were last read
// at; at is when they are observed: the head's time, else now.
func (s *Sync) FilesDue(head, filesAt string, headAt time.Time) (at time.Time, due bool) {
	if head == "" || !s.Full && head == filesAt {
		return time.Time{}, false
	}
	if headAt.IsZero() {
		return s.Now, true
	}
	return headAt, true
}

// Section is one part of a repository's sync (the repository, its branch
// protection, its pull requests, …).
type Section struct {
	Name string
	Run  func(context.Context) error
}

// RunSections runs sections in order and returns their failures. The first
// section reads the repository itself (its default branch): when it fails,
// or a section fails in a way fatal says stops the sync, the rest are skipped.
func (s *Sync) RunSections(ctx context.Context, log *slog.Logger, fatal func(context.Context, error) bool, sections ...Section) []collectors.Failure {
	var failures []collectors.Failure
	for i, sec := range sections {
		err := sec.Run(ctx)
		if err == nil {
			continue
		}
		failures = append(failures, collectors.FailureFrom(s.Scope, "", err))
		log.WarnContext(ctx, "section failed", "section", sec.Name, "err", err)
		if i == 0 || fatal(ctx, err) {
			break
		}
	}
	return failures
}

// StatusOf returns the HTTP status inside err, 0 when the host did not answer.
func StatusOf(err error) int {
	var he *collectors.HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// IsNotFound reports a 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// Fatal reports whether a section error should stop a repository's sync:
// cancellations, no answer, server trouble, bad credentials and spent rate
// limits (429) do; answers about one endpoint (403, 404, 422) do not.
func Fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch s := StatusOf(err); {
	case s == 0, s >= 500, s == http.StatusUnauthorized, s == http.StatusTooManyRequests:
		return true
	}
	return false
}

// Repos returns the repositories of the catalog's scope mappings that
// repoOf accepts (the host's scopes), sorted and deduplicated.
func Repos(ctx context.Context, catalog collectors.Catalog, repoOf func(yardstick.Scope) (string, bool)) ([]string, error) {
	maps, err := catalog.ScopeMappings(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range maps {
		if r, ok := repoOf(m.Scope); ok {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// States keeps a host's state of each repository as one JSON cursor, and
// serialises its updates per repository, so webhook deliveries and a running
// sync do not lose each other's updates. Safe for concurrent use; not to be
// copied.
type States[S any] struct {
	Cursors collectors.CursorStore
	Source  string                   // the host's source name, for errors
	Key     func(repo string) string // the cursor key of a repository
	// Successes returns the deployment successes of a state, which Ship
	// and SaveSync keep.
	Successes func(*S) *collectors.DeploySuccesses
	// Config returns the config hash a state was built under.
	Config func(*S) string

	locks sync.Map // repo → *sync.Mutex
}

func (s *States[S]) lock(repo string) *sync.Mutex {
	mu, _ := s.locks.LoadOrStore(repo, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// Load returns the saved state of repo, the zero state when none is saved.
func (s *States[S]) Load(ctx context.Context, repo string) (S, error) {
	var st S
	v, err := s.Cursors.Cursor(ctx, s.Key(repo))
	if err != nil {
		return st, fmt.Errorf("read %s cursor of %s: %w", s.Source, repo, err)
	}
	if v == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		var zero S
		return zero, fmt.Errorf("parse %s cursor of %s: %w", s.Source, repo, err)
	}
	return st, nil
}

// Save replaces the saved state of repo. Callers that read before they write
// use Update.
func (s *States[S]) Save(ctx context.Context, repo string, st S) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode %s cursor of %s: %w", s.Source, repo, err)
	}
	if err := s.Cursors.SaveCursor(ctx, s.Key(repo), string(b)); err != nil {
		return fmt.Errorf("save %s cursor of %s: %w", s.Source, repo, err)
	}
	return nil
}

// Update applies f to the saved state of repo under the repository's lock.
func (s *States[S]) Update(ctx context.Context, repo string, f func(*S)) error {
	mu := s.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	st, err := s.Load(ctx, repo)
	if err != nil {
		return err
	}
	f(&st)
	return s.Save(ctx, repo, st)
}

// SaveSync saves the state a sync built. Webhook deliveries may have added
// deployment successes while the sync ran: under the same config they are
// kept.
func (s *States[S]) SaveSync(ctx context.Context, repo string, st S) error {
	return s.Update(ctx, repo, func(cur *S) {
		merged := st
		if s.Config(cur) == s.Config(&st) {
			*s.Successes(&merged) = s.Successes(&st).Merge(*s.Successes(cur))
		}
		*cur = merged
	})
}

// Shipment is what a successful deployment shipped.
type Shipment struct {
	BaseSHA string   // "" for the first known deployment of the environment
	SHAs    []string // the deployed sha included
}

// Deploy is a successful deployment whose shipped commits are wanted.
type Deploy struct {
	Env     string
	Success collectors.DeploySuccess
	// Older finds the latest successful deployment of Env before this one
	// when the saved successes know none.
	Older func(ctx context.Context) (collectors.DeploySuccess, bool, error)
	// Compare returns the shas of the commits head has and base has not.
	Compare func(ctx context.Context, base, head string) ([]string, error)
}

// Shipped returns what d shipped: the commits between the previous
// successful deployment of its environment (from succ, or else d.Older) and
// its sha. A base that is gone (force push) gives an empty Shipment.
func Shipped(ctx context.Context, succ collectors.DeploySuccesses, d Deploy) (Shipment, error) {
	prev, ok := succ.Previous(d.Env, d.Success.ID)
	if !ok {
		var err error
		if prev, ok, err = d.Older(ctx); err != nil {
			return Shipment{}, err
		}
	}
	if !ok {
		return Shipment{}, nil
	}
	if prev.SHA == d.Success.SHA {
		return Shipment{BaseSHA: prev.SHA}, nil
	}
	shas, err := d.Compare(ctx, prev.SHA, d.Success.SHA)
	if IsNotFound(err) {
		// The base is gone (force push): the deployment is known, its range is not.
		return Shipment{}, nil
	}
	if err != nil {
		return Shipment{}, err
	}
	return Shipment{BaseSHA: prev.SHA, SHAs: shas}, nil
}

// Ship is Shipped for a webhook delivery: it reads the repository's saved
// successes and then records d among them.
func (s *States[S]) Ship(ctx context.Context, repo string, d Deploy) (Shipment, error) {
	saved, err := s.Load(ctx, repo)
	if err != nil {
		return Shipment{}, err
	}
	ship, err := Shipped(ctx, s.Successes(&saved).Clone(), d)
	if err != nil {
		return Shipment{}, err
	}
	err = s.Update(ctx, repo, func(cur *S) {
		succ := s.Successes(cur)
		if *succ == nil {
			*succ = collectors.DeploySuccesses{}
		}
		succ.Add(d.Env, d.Success)
	})
	return ship, err
}
