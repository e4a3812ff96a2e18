package jira

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// maxZoneOffset is added to the overlap when the API user's time zone is
// unknown: JQL dates are read in that zone, and no zone is further than this
// from UTC, so formatting in UTC and reaching back this far never misses an issue.
const maxZoneOffset = 14 * time.Hour

// The webhook handler's copy of the status list: trusted for statusTTL; after
// a failed refresh, not refreshed again for statusRetryAfter; a refresh gives
// up after statusFetchTimeout (retries included).
const (
	statusTTL          = 10 * time.Minute
	statusRetryAfter   = time.Minute
	statusFetchTimeout = 30 * time.Second
)

// Collector copies Jira issues of the catalog's Jira scopes into events and
// facts. Collect and the webhook handler are safe for concurrent use.
type Collector struct {
	cfg     Config
	api     *client
	catalog collectors.Catalog
	cursors collectors.CursorStore
	logger  *slog.Logger
	now     func() time.Time

	mu             sync.Mutex
	statuses       statusIndex
	statusAt       time.Time
	statusFailedAt time.Time     // last failed refresh; zero after a success
	statusRefresh  chan struct{} // closed when the refresh in flight ends; nil when none is
	zone           string        // the API user's time zone
	zoneAt         time.Time
}

// New builds a Jira collector. hc carries the retrying transport
// (collectors.NewTransport) every source client sits on; New adds Jira
// authentication on top of it. catalog gives the scopes to collect, cursors
// keeps one incremental cursor per project.
func New(cfg Config, hc *http.Client, catalog collectors.Catalog, cursors collectors.CursorStore, logger *slog.Logger) (*Collector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	api, err := newClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Collector{
		cfg: cfg, api: api, catalog: catalog, cursors: cursors,
		logger: logger.With("collector", "jira"), now: time.Now,
	}, nil
}

// WithClock replaces the clock that ages open bugs and stamps facts, for tests.
func (c *Collector) WithClock(now func() time.Time) *Collector {
	c.now = now
	return c
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Source }

// ConfigHash is the hash to give collectors.Runner.Run.
func (c *Collector) ConfigHash() string { return c.cfg.Hash() }

// runState is what one run learns before it searches.
type runState struct {
	conv  converter
	loc   *time.Location // zone JQL dates are read in
	slack time.Duration  // extra overlap when that zone is unknown
}

// projectResult is how one project fared in a run.
type projectResult struct {
	failure *collectors.Failure
	cursor  projectCursor        // where the last successful run left off
	bound   time.Time            // where this run's search starts (zero: all)
	stored  map[string]time.Time // issues stored in this run: id → updated
}

// Collect implements collectors.Collector. A zero since is a full sync (bounded
// by Config.Backfill); otherwise each project is read from its own cursor, and a
// project without one (new in the catalog, or newly narrowed) is read in full.
// Projects that fail are listed in a *collectors.PartialError while the others
// are stored and their cursors advanced.
func (c *Collector) Collect(ctx context.Context, since time.Time, w collectors.Writer) (time.Time, error) {
	mappings, err := c.catalog.ScopeMappings(ctx)
	if err != nil {
		return since, fmt.Errorf("jira: read scope mappings: %w", err)
	}
	projects := groupProjects(mappings)
	if len(projects) == 0 {
		return since, nil
	}
	rs, err := c.prepare(ctx)
	if err != nil {
		return since, fmt.Errorf("jira: %w", err)
	}
	results, err := c.startResults(ctx, projects, since, rs.slack)
	if err != nil {
		return since, err
	}
	for chunk := range slices.Chunk(projects, c.cfg.ProjectsPerQuery) {
		if err := c.syncChanged(ctx, rs, chunk, results, w); err != nil {
			return since, err
		}
	}
	var healthy []project
	for _, p := range projects {
		if results[p.Key].failure == nil {
			healthy = append(healthy, p)
		}
	}
	for chunk := range slices.Chunk(healthy, c.cfg.ProjectsPerQuery) {
		if err := c.syncBugs(ctx, chunk, results, w); err != nil {
			return since, err
		}
	}

	next := since
	var failures []collectors.Failure
	for _, p := range projects {
		r := results[p.Key]
		if r.failure != nil {
			failures = append(failures, *r.failure)
		}
		for _, u := range r.stored {
			if u.After(next) {
				next = u
			}
		}
	}
	if len(failures) > 0 {
		return next, &collectors.PartialError{Collector: Source, Failures: failures}
	}
	return next, nil
}

// prepare reads the status list (for status categories) and the zone JQL
// dates are read in, both kept for statusTTL: a status added in Jira meanwhile
// gets its category from the issue payload or from its neighbours.
func (c *Collector) prepare(ctx context.Context) (runState, error) {
	c.mu.Lock()
	idx, zone := c.statuses, c.zone
	statusesFresh := idx != nil && c.now().Sub(c.statusAt) < statusTTL
	zoneFresh := !c.zoneAt.IsZero() && c.now().Sub(c.zoneAt) < statusTTL
	c.mu.Unlock()
	if !statusesFresh {
		list, err := c.api.statuses(ctx)
		if err != nil {
			return runState{}, fmt.Errorf("list statuses: %w", err)
		}
		idx = newStatusIndex(list)
		c.mu.Lock()
		c.statuses, c.statusAt = idx, c.now()
		c.mu.Unlock()
	}
	if !zoneFresh {
		zone = c.cfg.TimeZone
		if zone == "" {
			me, err := c.api.myself(ctx)
			if err != nil {
				return runState{}, fmt.Errorf("read api user: %w", err)
			}
			zone = me.TimeZone
		}
		c.mu.Lock()
		c.zone, c.zoneAt = zone, c.now()
		c.mu.Unlock()
	}
	rs := runState{conv: converter{storyPoints: c.cfg.StoryPointsField, statuses: idx}, loc: time.UTC}
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		c.logger.WarnContext(ctx, "jira user time zone unknown, widening overlap", "zone", zone, "overlap", c.cfg.Overlap+maxZoneOffset)
		rs.slack = maxZoneOffset
	} else {
		rs.loc = loc
	}
	return rs, nil
}

// startResults reads each project's cursor and sets where its search starts:
// nowhere for a full sync (since is zero) or a project without a cursor (new in
// the catalog, or newly narrowed), else the cursor less the overlap.
func (c *Collector) startResults(ctx context.Context, projects []project, since time.Time, slack time.Duration) (map[string]*projectResult, error) {
	out := make(map[string]*projectResult, len(projects))
	floor := time.Time{}
	if c.cfg.Backfill > 0 {
		floor = c.now().Add(-c.cfg.Backfill)
	}
	for _, p := range projects {
		r := &projectResult{bound: floor, stored: map[string]time.Time{}}
		out[p.Key] = r
		if since.IsZero() {
			continue
		}
		v, err := c.cursors.Cursor(ctx, p.cursorKey())
		if err != nil {
			return nil, fmt.Errorf("jira: read cursor %s: %w", p.cursorKey(), err)
		}
		if v == "" {
			continue
		}
		cur, err := parseCursor(v)
		if err != nil {
			c.logger.WarnContext(ctx, "unreadable jira cursor, reading project in full", "project", p.Key, "err", err)
			continue
		}
		r.cursor = cur
		if b := cur.Updated.Add(-c.cfg.Overlap - slack); b.After(floor) {
			r.bound = b
		}
	}
	return out, nil
}

// syncChanged reads the issues of chunk updated since their bounds, with
// complete changelogs, writes their events page by page and then advances the
// cursors of the projects that succeeded. It returns only storage errors; API
// errors mark projects failed in results.
func (c *Collector) syncChanged(ctx context.Context, rs runState, chunk []project, results map[string]*projectResult, w collectors.Writer) error {
	byKey := projectsByKey(chunk)
	fields := searchFields(c.cfg.StoryPointsField)
	onPage := func(issues []apiIssue) error {
		type pending struct {
			is     *apiIssue
			p      project
			scopes []yardstick.Scope
		}
		var todo []pending
		var short []string // ids of issues whose embedded changelog is incomplete
		for i := range issues {
			is := &issues[i]
			p, ok := byKey[is.projectKey()]
			if !ok || results[p.Key].failure != nil {
				continue
			}
			scopes := p.scopesOf(is)
			if len(scopes) == 0 || results[p.Key].cursor.unchanged(is.ID, time.Time(is.Fields.Updated)) {
				continue
			}
			todo = append(todo, pending{is, p, scopes})
			if is.Changelog == nil || !is.Changelog.complete() {
				short = append(short, is.ID)
			}
		}
		full, errs := c.api.changelogs(ctx, short)
		var events []yardstick.Event
		for _, t := range todo {
			if results[t.p.Key].failure != nil {
				continue
			}
			if err := errs[t.is.ID]; err != nil {
				fail(results, t.p, fmt.Errorf("issue %s: %w", t.is.Key, err))
				continue
			}
			histories, ok := full[t.is.ID]
			if !ok && t.is.Changelog != nil {
				histories = t.is.Changelog.Histories
			}
			evs, err := rs.conv.events(t.is, histories, t.scopes, true)
			if err != nil {
				fail(results, t.p, err)
				continue
			}
			events = append(events, evs...)
			results[t.p.Key].stored[t.is.ID] = time.Time(t.is.Fields.Updated).UTC()
		}
		if len(events) == 0 {
			return nil
		}
		if err := w.WriteEvents(ctx, events); err != nil {
			return fmt.Errorf("jira: write %d events: %w", len(events), err)
		}
		return nil
	}
	jql := func(ps []project) string {
		bounds := make(map[string]time.Time, len(ps))
		for _, p := range ps {
			bounds[p.Key] = results[p.Key].bound
		}
		return changedJQL(ps, bounds, rs.loc)
	}
	if err := c.search(ctx, chunk, jql, fields, true, onPage, results); err != nil {
		return err
	}
	for _, p := range chunk {
		r := results[p.Key]
		if r.failure != nil || len(r.stored) == 0 {
			continue
		}
		next := r.cursor.advance(r.stored, c.cfg.Overlap+rs.slack+time.Minute)
		if next.equal(r.cursor) {
			continue
		}
		if err := c.cursors.SaveCursor(ctx, p.cursorKey(), next.String()); err != nil {
			return fmt.Errorf("jira: save cursor %s: %w", p.cursorKey(), err)
		}
	}
	return nil
}

// syncBugs reads the open bugs of chunk and writes the bug facts of every
// scope of its projects that succeeded.
func (c *Collector) syncBugs(ctx context.Context, chunk []project, results map[string]*projectResult, w collectors.Writer) error {
	byKey := projectsByKey(chunk)
	bugs := map[yardstick.Scope][]*apiIssue{}
	onPage := func(issues []apiIssue) error {
		for i := range issues {
			is := &issues[i]
			if p, ok := byKey[is.projectKey()]; ok {
				for _, sc := range p.scopesOf(is) {
					bugs[sc] = append(bugs[sc], is)
				}
			}
		}
		return nil
	}
	if err := c.search(ctx, chunk, func(ps []project) string { return openBugsJQL(ps, c.cfg.BugTypes) }, bugFields, false, onPage, results); err != nil {
		return err
	}
	var scopes []yardstick.Scope
	for _, p := range chunk {
		if results[p.Key].failure != nil {
			continue
		}
		for _, s := range p.Scopes {
			scopes = append(scopes, s.Scope)
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	facts := bugFacts(scopes, bugs, c.now().UTC())
	if err := w.WriteFacts(ctx, facts); err != nil {
		return fmt.Errorf("jira: write %d facts: %w", len(facts), err)
	}
	return nil
}

// search runs the query jql(chunk) through all its pages. When Jira rejects a
// query that spans several projects (400: typically a project key or component
// that does not exist), it runs the query again for each project alone, so the
// failure stays with the project that caused it. Other API errors fail every
// project of the query. It returns only what must stop the run: an error of
// onPage (storage) or the context's.
func (c *Collector) search(ctx context.Context, chunk []project, jql func([]project) string, fields []string, changelog bool, onPage func([]apiIssue) error, results map[string]*projectResult) error {
	live := make([]project, 0, len(chunk))
	for _, p := range chunk {
		if results[p.Key].failure == nil {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return nil
	}
	var pageErr error
	err := c.eachPage(ctx, jql(live), fields, changelog, func(issues []apiIssue) error {
		pageErr = onPage(issues)
		return pageErr
	})
	switch {
	case err == nil:
		return nil
	case pageErr != nil:
		return pageErr
	case ctx.Err() != nil:
		return fmt.Errorf("jira: search: %w", ctx.Err())
	case httpStatus(err) == http.StatusBadRequest && len(live) > 1:
		for _, p := range live {
			if err := c.search(ctx, []project{p}, jql, fields, changelog, onPage, results); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range live {
		fail(results, p, err)
	}
	return nil
}

// eachPage hands every page of jql to onPage.
func (c *Collector) eachPage(ctx context.Context, jql string, fields []string, changelog bool, onPage func([]apiIssue) error) error {
	page := ""
	for {
		p, err := c.api.search(ctx, jql, fields, changelog, page)
		if err != nil {
			return err
		}
		if err := onPage(p.Issues); err != nil {
			return err
		}
		if p.Next == "" || len(p.Issues) == 0 {
			return nil
		}
		if p.Next == page {
			return fmt.Errorf("search %q: page %q points to itself", jql, page)
		}
		page = p.Next
	}
}

func fail(results map[string]*projectResult, p project, err error) {
	if results[p.Key].failure != nil {
		return
	}
	f := collectors.FailureFrom(yardstick.JiraScope(p.Key, "", ""), "", err)
	results[p.Key].failure = &f
}

func projectsByKey(ps []project) map[string]project {
	m := make(map[string]project, len(ps))
	for _, p := range ps {
		m[p.Key] = p
	}
	return m
}

// statusIndex returns the status list for a webhook delivery, waiting at
// most wait for it. The list is cached for statusTTL. A refresh runs in the
// background, one at a time, under its own deadline (statusFetchTimeout), so
// a Jira REST API that is down or slow never holds a delivery longer than
// wait: the delivery goes on with the stale copy, or with none (nil: the
// webhook then falls back to the categories the payload itself carries). A
// failed refresh is not tried again for statusRetryAfter.
func (c *Collector) statusIndex(ctx context.Context, wait time.Duration) statusIndex {
	c.mu.Lock()
	idx, now := c.statuses, c.now()
	fresh := idx != nil && now.Sub(c.statusAt) < statusTTL
	failedLately := !c.statusFailedAt.IsZero() && now.Sub(c.statusFailedAt) < statusRetryAfter
	if fresh || failedLately {
		c.mu.Unlock()
		return idx
	}
	done := c.statusRefresh
	if done == nil {
		done = make(chan struct{})
		c.statusRefresh = done
		go c.refreshStatuses(context.WithoutCancel(ctx), done)
	}
	c.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses
}

// refreshStatuses reads the status list into the cache, or notes the failure,
// and closes done.
func (c *Collector) refreshStatuses(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, statusFetchTimeout)
	defer cancel()
	list, err := c.api.statuses(ctx)
	c.mu.Lock()
	if err != nil {
		c.statusFailedAt = c.now()
	} else {
		c.statuses, c.statusAt, c.statusFailedAt = newStatusIndex(list), c.now(), time.Time{}
	}
	c.statusRefresh = nil
	c.mu.Unlock()
	close(done)
	if err != nil {
		c.logger.WarnContext(ctx, "refresh jira statuses; webhooks go on without them", "retry_after", statusRetryAfter, "err", err)
	}
}
