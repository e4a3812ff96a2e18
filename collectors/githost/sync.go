package githost

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
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

// Sections are the parts of a repository's sync, run in this order. Each
// reads its own lists, writes its rows page by page and only then moves its
// cursor in the state being built, so a section that fails is read again
// from its old cursor next time.
type Sections struct {
	Repository  func(context.Context) error // the repository: its default branch, the repository fact
	Protection  func(context.Context) error // the default branch's protection
	Commits     func(context.Context) error // pushes to the default branch
	Files       func(context.Context) error // the file facts
	Changes     func(context.Context) error // pull or merge requests
	Deployments func(context.Context) error
	Pipelines   func(context.Context) error // workflow runs or pipelines
	Releases    func(context.Context) error
}

// run runs the sections in order and returns their failures. When the
// repository itself cannot be read, or a section fails in a way fatal says
// stops the sync, the rest are skipped.
func (ss Sections) run(ctx context.Context, scope yardstick.Scope, log *slog.Logger, fatal func(context.Context, error) bool) []collectors.Failure {
	var failures []collectors.Failure
	for i, sec := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"repository", ss.Repository}, {"branch protection", ss.Protection}, {"commits", ss.Commits}, {"files", ss.Files},
		{"changes", ss.Changes}, {"deployments", ss.Deployments}, {"pipelines", ss.Pipelines}, {"releases", ss.Releases},
	} {
		err := sec.run(ctx)
		if err == nil {
			continue
		}
		failures = append(failures, collectors.FailureFrom(scope, "", err))
		log.WarnContext(ctx, "section failed", "section", sec.name, "err", err)
		if i == 0 || fatal(ctx, err) {
			break
		}
	}
	return failures
}

// SyncRepo runs one sync of repo: it loads the saved state, lets begin set
// up the host's sync from it (its Sync, the state it builds and its
// sections), runs the sections and saves the state they built. It returns
// the largest source timestamp the sync saw and the sections' failures.
func SyncRepo[S any](ctx context.Context, states *States[S], repo string, scope yardstick.Scope, log *slog.Logger,
	fatal func(context.Context, error) bool, begin func(old S) (*S, Sections)) (time.Time, []collectors.Failure) {
	old, err := states.Load(ctx, repo)
	if err != nil {
		return time.Time{}, []collectors.Failure{collectors.FailureFrom(scope, "", err)}
	}
	st, sections := begin(old)
	failures := sections.run(ctx, scope, log, fatal)
	if ctx.Err() != nil {
		return time.Time{}, failures
	}
	if err := states.SaveSync(ctx, repo, *st); err != nil {
		failures = append(failures, collectors.FailureFrom(scope, "", err))
	}
	return states.MaxUpdated(st), failures
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
