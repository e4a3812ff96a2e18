package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// openSet is one service's cursor: the incidents that were still open at the
// end of the last run, each with the updated_at it had then, so that an open
// incident that did not change is not read again.
type openSet map[string]string

// CursorKey is the cursor under which the open incidents of a service are kept.
func CursorKey(serviceID string) string { return "pagerduty/open/" + serviceID }

// parseOpen reads "ID=updated_at,ID=updated_at".
func parseOpen(v string) openSet {
	out := openSet{}
	for _, part := range strings.Split(v, ",") {
		id, updated, _ := strings.Cut(strings.TrimSpace(part), "=")
		if id != "" {
			out[id] = updated
		}
	}
	return out
}

func (o openSet) String() string {
	ids := slices.Sorted(maps.Keys(o))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + "=" + o[id]
	}
	return strings.Join(parts, ",")
}

// batchState is what one batch of services learns during a run.
type batchState struct {
	prev      map[string]openSet // cursors as saved by the last run
	next      map[string]openSet // incidents found open in this run
	seen      map[string]bool    // incidents handled in this run
	incFailed map[string]bool    // services whose incidents could not all be read
}

func (st *batchState) failInc(r *run, serviceID string, err error) {
	st.incFailed[serviceID] = true
	r.fail(serviceID, err)
}

// incidents lists the incidents of every service window by window, re-reads
// the ones still open at the last run, writes their events page by page, and
// saves each service's open incidents once its events are stored.
func (r *run) incidents(ctx context.Context, ids []string, wins [][2]time.Time) error {
	for _, batch := range batches(ids, r.c.cfg.BatchSize) {
		if err := r.incidentBatch(ctx, batch, wins); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) incidentBatch(ctx context.Context, batch []string, wins [][2]time.Time) error {
	st := &batchState{prev: map[string]openSet{}, next: map[string]openSet{}, seen: map[string]bool{}, incFailed: map[string]bool{}}
	for _, id := range batch {
		v, err := r.c.cursors.Cursor(ctx, CursorKey(id))
		if err != nil {
			return &storageError{fmt.Errorf("pagerduty: read cursor %s: %w", CursorKey(id), err)}
		}
		st.prev[id], st.next[id] = parseOpen(v), openSet{}
	}

	for _, win := range wins {
		active := make([]string, 0, len(batch))
		for _, id := range batch {
			if !st.incFailed[id] {
				active = append(active, id)
			}
		}
		list := func(ids []string) error {
			return r.listIncidents(ctx, ids, win[0], win[1], func(page []pd.Incident) error {
				items := make([]item, 0, len(page))
				for i := range page {
					inc := &page[i]
					if _, ours := st.next[inc.Service.ID]; !ours || st.seen[inc.ID] {
						continue
					}
					items = append(items, item{inc: inc, owner: inc.Service.ID})
				}
				return r.handle(ctx, st, items)
			})
		}
		if err := r.eachBatch(ctx, active, list, func(id string, err error) { st.failInc(r, id, err) }); err != nil {
			return err
		}
	}

	for _, id := range batch {
		if st.incFailed[id] {
			continue
		}
		if err := r.reread(ctx, st, id); err != nil {
			return err
		}
	}

	for _, id := range batch {
		if st.incFailed[id] {
			continue
		}
		v := st.next[id].String()
		if v == st.prev[id].String() {
			continue
		}
		if err := r.c.cursors.SaveCursor(ctx, CursorKey(id), v); err != nil {
			return &storageError{fmt.Errorf("pagerduty: save cursor %s: %w", CursorKey(id), err)}
		}
	}
	return nil
}

// reread reads again the incidents of a service that were open at the last run
// and that this run's listing did not return (they began before its window).
func (r *run) reread(ctx context.Context, st *batchState, serviceID string) error {
	var items []item
	for _, incID := range slices.Sorted(maps.Keys(st.prev[serviceID])) {
		if st.seen[incID] {
			continue
		}
		endpoint := "/incidents/" + url.PathEscape(incID)
		inc, err := r.api.GetIncidentWithContext(ctx, url.PathEscape(incID))
		if err != nil {
			err = apiError(ctx, endpoint, err)
			if ctx.Err() != nil || fatal(err) {
				return err
			}
			if notFound(err) {
				r.c.logger.InfoContext(ctx, "open incident is gone, dropping it", "scope", ServiceScope(serviceID), "incident", incID)
				continue
			}
			st.failInc(r, serviceID, err)
			return nil
		}
		items = append(items, item{inc: inc, owner: serviceID})
	}
	return r.handle(ctx, st, items)
}

// item is an incident to convert and the service whose cursor tracks it.
type item struct {
	inc   *pd.Incident
	owner string
}

// handle converts a page of incidents, reading their log entries a few at a
// time, and writes their events. On incremental runs an open incident whose
// updated_at matches the cursor has not changed and is not read again.
func (r *run) handle(ctx context.Context, st *batchState, items []item) error {
	todo := items[:0:0]
	for _, it := range items {
		if st.seen[it.inc.ID] {
			continue
		}
		st.seen[it.inc.ID] = true
		prev, tracked := st.prev[it.owner][it.inc.ID]
		if !r.full && tracked && it.inc.Status != "resolved" && it.inc.UpdatedAt != "" && prev == it.inc.UpdatedAt {
			st.next[it.owner][it.inc.ID] = prev
			continue
		}
		todo = append(todo, it)
	}
	if len(todo) == 0 {
		return nil
	}

	type result struct {
		events    []yardstick.Event
		tombstone bool
		err       error
	}
	results := make([]result, len(todo))
	sem := make(chan struct{}, r.c.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, it := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			entries, err := r.logEntries(ctx, it.inc.ID)
			if err != nil {
				results[i].err = err
				return
			}
			tl, err := timelineFromLog(it.inc, entries)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].events, results[i].err = incidentEvents(it.inc, tl, r.schedule(it.inc.Service.ID))
			results[i].tombstone = reopened(it.inc, entries)
		}()
	}
	wg.Wait()

	var events, tombstones []yardstick.Event
	for i, res := range results {
		it := todo[i]
		if res.err != nil {
			if ctx.Err() != nil || fatal(res.err) {
				return res.err
			}
			st.failInc(r, it.owner, fmt.Errorf("incident %s: %w", it.inc.ID, res.err))
			continue
		}
		events = append(events, res.events...)
		if res.tombstone {
			tombstones = append(tombstones, resolvedIdentity(it.inc.Service.ID, it.inc.ID))
		}
		if it.inc.Status != "resolved" {
			st.next[it.owner][it.inc.ID] = it.inc.UpdatedAt
		}
	}
	if err := r.writeEvents(ctx, events); err != nil {
		return err
	}
	if len(tombstones) > 0 && r.c.deleter != nil {
		if err := r.c.deleter.DeleteEvents(ctx, tombstones); err != nil {
			return &storageError{fmt.Errorf("pagerduty: withdraw %d resolutions of reopened incidents: %w", len(tombstones), err)}
		}
	}
	return nil
}

// resolvedIdentity is the identity of an incident's resolved event.
func resolvedIdentity(serviceID, incidentID string) yardstick.Event {
	return yardstick.Event{Source: SourceName, Type: yardstick.IncidentResolved, Scope: ServiceScope(serviceID), ID: incidentID}
}

func (r *run) schedule(serviceID string) *schedule {
	if s, ok := r.hours[serviceID]; ok {
		return s
	}
	return r.c.hours.def
}

// listIncidents pages through the incidents of services created in
// [since, until), oldest first. When the window holds more incidents than
// offset pagination can reach, it is halved and each half listed on its own.
func (r *run) listIncidents(ctx context.Context, ids []string, since, until time.Time, handle func([]pd.Incident) error) error {
	for offset := uint(0); ; {
		if offset > 0 && offset+r.c.pageSize > r.c.maxOffset {
			if until.Sub(since) < 2*time.Second {
				return fmt.Errorf("list incidents of %s: more than %d created between %s and %s", strings.Join(ids, ","), r.c.maxOffset, formatTime(since), formatTime(until))
			}
			mid := since.Add(until.Sub(since) / 2).Truncate(time.Second)
			if err := r.listIncidents(ctx, ids, since, mid, handle); err != nil {
				return err
			}
			return r.listIncidents(ctx, ids, mid, until, handle)
		}
		endpoint := fmt.Sprintf("/incidents?service_ids[]=%s&since=%s&until=%s&limit=%d&offset=%d",
			strings.Join(ids, ","), formatTime(since), formatTime(until), r.c.pageSize, offset)
		resp, err := r.api.ListIncidentsWithContext(ctx, pd.ListIncidentsOptions{
			ServiceIDs: ids, Since: formatTime(since), Until: formatTime(until),
			SortBy: "created_at:asc", Limit: r.c.pageSize, Offset: offset,
		})
		if err != nil {
			return apiError(ctx, endpoint, err)
		}
		if err := handle(resp.Incidents); err != nil {
			return err
		}
		offset += uint(len(resp.Incidents))
		if !resp.More || len(resp.Incidents) == 0 {
			return nil
		}
	}
}

// logEntries reads the whole log of one incident.
func (r *run) logEntries(ctx context.Context, incidentID string) ([]pd.LogEntry, error) {
	var out []pd.LogEntry
	for offset := uint(0); ; {
		endpoint := fmt.Sprintf("/incidents/%s/log_entries?limit=%d&offset=%d", url.PathEscape(incidentID), r.c.pageSize, offset)
		if offset > 0 && offset+r.c.pageSize > r.c.maxOffset {
			return nil, fmt.Errorf("GET %s: log longer than offset pagination reaches", endpoint)
		}
		resp, err := r.api.ListIncidentLogEntriesWithContext(ctx, url.PathEscape(incidentID), pd.ListIncidentLogEntriesOptions{Limit: r.c.pageSize, Offset: offset})
		if err != nil {
			return nil, apiError(ctx, endpoint, err)
		}
		out = append(out, resp.LogEntries...)
		offset += uint(len(resp.LogEntries))
		if !resp.More || len(resp.LogEntries) == 0 {
			return out, nil
		}
	}
}

// fatal reports errors that stop the whole run rather than one service: a
// failed write, and a 401, which no other request of the run would escape.
func fatal(err error) bool {
	var se *storageError
	var he *collectors.HTTPError
	return errors.As(err, &se) || (errors.As(err, &he) && he.Status == http.StatusUnauthorized)
}
