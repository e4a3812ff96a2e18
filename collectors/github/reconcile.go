package github

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// ReconcileReport is what one reconcile pass removed.
type ReconcileReport struct {
	ReposRemoved       []string // repositories gone from the catalog whose events were tombstoned
	DeploymentsDeleted int      // deployments gone upstream
	EventsDeleted      int
}

// deleteBatch bounds one DeleteEvents call.
const deleteBatch = 5000

// Reconcile removes what vanished upstream, so counts do not drift: the events
// of repositories no longer in the catalog (and their cursors), and the events of
// deployments deleted on GitHub within the backfill window. Incremental syncs
// cannot see deletions; run this periodically (yardstick collect github
// --reconcile, or serve's schedule). A repository that fails is named in the
// returned *collectors.PartialError.
func (c *Collector) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	if c.events == nil {
		return rep, fmt.Errorf("github reconcile: no event store configured: %w", yardstick.ErrInvalid)
	}
	slugs, err := c.repos(ctx)
	if err != nil {
		return rep, fmt.Errorf("list github repositories from the catalog: %w", err)
	}
	known, err := c.knownRepos(ctx)
	if err != nil {
		return rep, err
	}
	var failures []collectors.Failure
	kept := make([]string, 0, len(known))
	for _, slug := range known {
		if _, found := slices.BinarySearch(slugs, slug); found {
			kept = append(kept, slug)
			continue
		}
		scope := RepoScope(slug)
		n, err := c.deleteScope(ctx, scope)
		if err != nil {
			failures = append(failures, failureOf(scope, err))
			kept = append(kept, slug)
			continue
		}
		if err := c.cursors.SaveCursor(ctx, stateKey(slug), ""); err != nil {
			failures = append(failures, failureOf(scope, fmt.Errorf("clear github cursor of %s: %w", slug, err)))
		}
		rep.ReposRemoved = append(rep.ReposRemoved, slug)
		rep.EventsDeleted += n
	}
	if len(kept) != len(known) {
		if err := c.saveKnownRepos(ctx, kept); err != nil {
			return rep, err
		}
	}
	for _, slug := range slugs {
		if _, found := slices.BinarySearch(known, slug); !found {
			continue // never collected: nothing stored to reconcile
		}
		deps, events, err := c.reconcileDeployments(ctx, slug)
		if err != nil {
			failures = append(failures, failureOf(RepoScope(slug), err))
			continue
		}
		rep.DeploymentsDeleted += deps
		rep.EventsDeleted += events
	}
	if len(failures) > 0 {
		return rep, &collectors.PartialError{Collector: c.Name() + " reconcile", Failures: failures}
	}
	return rep, nil
}

// deleteScope tombstones every event of scope.
func (c *Collector) deleteScope(ctx context.Context, scope yardstick.Scope) (int, error) {
	events, err := c.events.ScopeEvents(ctx, SourceName, scope, nil, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("read stored events of %s: %w", scope, err)
	}
	return len(events), c.deleteEvents(ctx, scope, events)
}

func (c *Collector) deleteEvents(ctx context.Context, scope yardstick.Scope, events []yardstick.Event) error {
	for len(events) > 0 {
		n := min(len(events), deleteBatch)
		if err := c.events.DeleteEvents(ctx, events[:n]); err != nil {
			return fmt.Errorf("delete events of %s: %w", scope, err)
		}
		events = events[n:]
	}
	return nil
}

// reconcileDeployments lists the repository's deployments of the backfill window
// and tombstones the stored deployment events whose deployment is gone.
func (c *Collector) reconcileDeployments(ctx context.Context, slug string) (deployments, events int, err error) {
	scope := RepoScope(slug)
	windowStart := c.now().UTC().Add(-c.cfg.Backfill)
	upstream := map[string]bool{}
	err = c.eachPage(ctx, fmt.Sprintf("repos/%s/deployments?per_page=%d", slug, c.cfg.PerPage), func(ctx context.Context, path string) (string, error) {
		var list []*gh.Deployment
		resp, err := c.api.get(ctx, path, "", &list)
		if err != nil {
			return "", fmt.Errorf("list deployments of %s: %w", slug, err)
		}
		for _, d := range list {
			if d.GetCreatedAt().Before(windowStart) {
				return "", nil
			}
			upstream[strconv.FormatInt(d.GetID(), 10)] = true
		}
		return resp.next, nil
	})
	if err != nil {
		return 0, 0, err
	}
	types := []string{yardstick.DeploymentStarted, yardstick.DeploymentSucceeded, yardstick.DeploymentFailed}
	stored, err := c.events.ScopeEvents(ctx, SourceName, scope, types, windowStart)
	if err != nil {
		return 0, 0, fmt.Errorf("read stored deployments of %s: %w", scope, err)
	}
	var gone []yardstick.Event
	goneIDs := map[int64]bool{}
	for _, e := range stored {
		if upstream[e.ID] {
			continue
		}
		gone = append(gone, e)
		if id, err := strconv.ParseInt(e.ID, 10, 64); err == nil {
			goneIDs[id] = true
		}
	}
	if len(gone) == 0 {
		return 0, 0, nil
	}
	if err := c.deleteEvents(ctx, scope, gone); err != nil {
		return 0, 0, err
	}
	// A deleted deployment is no longer the base of the next one's shipped commits.
	err = c.states.Update(ctx, slug, func(st *repoState) {
		for env, list := range st.Successes {
			st.Successes[env] = slices.DeleteFunc(list, func(s success) bool { return goneIDs[s.ID] })
		}
		st.Pending = slices.DeleteFunc(st.Pending, func(p pendingDeploy) bool { return goneIDs[p.ID] })
	})
	return len(goneIDs), len(gone), err
}
