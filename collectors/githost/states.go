package githost

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
)

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
	// MaxUpdated returns the largest source timestamp a state has seen.
	MaxUpdated func(*S) time.Time

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
