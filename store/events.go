package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

const insertEvents = "INSERT INTO events (source, type, scope, id, time, actor, num_keys, num_values, str_keys, str_values, related, version, deleted)"

// maxBatch bounds rows per native block so memory stays flat on big ingests.
const maxBatch = 100_000

// WriteEvents stores events. Writing the same (source, type, scope, id) again
// replaces the row, so re-collecting never double-counts.
func (db *DB) WriteEvents(ctx context.Context, events []yardstick.Event) error {
	return db.writeEvents(ctx, events, 0)
}

// DeleteEvents tombstones events by identity (source, type, scope, id); only
// those fields of each event are read. Reads stop seeing them at once.
func (db *DB) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	return db.writeEvents(ctx, events, 1)
}

func (db *DB) writeEvents(ctx context.Context, events []yardstick.Event, deleted uint8) error {
	if err := db.recordTypes(ctx, events); err != nil {
		return err
	}
	for start := 0; start < len(events); start += maxBatch {
		chunk := events[start:min(start+maxBatch, len(events))]
		err := db.insert(ctx, insertEvents, func(b driver.Batch) error {
			return appendEvents(b, chunk, db.version(), deleted)
		})
		if err != nil {
			return fmt.Errorf("write %d events: %w", len(chunk), err)
		}
	}
	return nil
}

// appendEvents adds events to an insertEvents batch. Scalar columns go in as
// whole slices; array columns row by row with concrete slice types, which is
// clickhouse-go's reflection-free path (a [][]string goes through reflection
// per element, and cost most of the ingest time).
func appendEvents(b driver.Batch, events []yardstick.Event, ver uint64, deleted uint8) error {
	n := len(events)
	source, typ, scope, id, actor := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, versions, deletedCol := make([]time.Time, n), make([]uint64, n), make([]uint8, n)
	numKeys, numVals, strKeys, strVals, related := b.Column(6), b.Column(7), b.Column(8), b.Column(9), b.Column(10)
	var (
		nk, sk, sv []string
		nv         []float64
	)
	for i := range events {
		e := &events[i]
		if err := validateEvent(e); err != nil {
			return err
		}
		if deleted == 0 { // a tombstone is read by its identity only
			if err := yardstick.CheckEventTime(e.Time); err != nil {
				return fmt.Errorf("event %s %s %s: %w", e.Type, e.Scope, e.ID, err)
			}
		}
		source[i], typ[i], scope[i], id[i], actor[i] = e.Source, e.Type, string(e.Scope), e.ID, e.Actor
		times[i], versions[i], deletedCol[i] = e.Time.UTC(), ver, deleted
		nk, nv = nk[:0], nv[:0]
		for k, v := range e.Num {
			nk, nv = append(nk, k), append(nv, v)
		}
		sk, sv = sk[:0], sv[:0]
		for k, v := range e.Str {
			sk, sv = append(sk, k), append(sv, v)
		}
		var rel any = noStrings // most events relate to nothing: box the empty slice once
		if len(e.Related) > 0 {
			rel = e.Related
		}
		for _, c := range []struct {
			col driver.BatchColumn
			v   any
		}{{numKeys, nk}, {numVals, nv}, {strKeys, sk}, {strVals, sv}, {related, rel}} {
			if err := c.col.AppendRow(c.v); err != nil {
				return fmt.Errorf("append event %s %s %s: %w", e.Type, e.Scope, e.ID, err)
			}
		}
	}
	for i, col := range []any{source, typ, scope, id, times, actor} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	if err := b.Column(11).Append(versions); err != nil {
		return err
	}
	return b.Column(12).Append(deletedCol)
}

var noStrings any = []string{}

// EventStream is one long INSERT that events are written to in pieces: the
// stream sends a block whenever it holds blockRows rows, and the server
// squashes the blocks into large parts (min_insert_block_size_rows), so a big
// ingest makes few parts and few merges while the client holds one block in
// memory. Not safe for concurrent use.
type EventStream struct {
	db        *DB
	batch     driver.Batch
	ver       uint64
	rows      int // written in all
	pending   int // appended since the last block was sent
	blockRows int
	ctx       context.Context // the stream's, for recording event types
}

// StreamEvents opens an EventStream sending blocks of blockRows rows
// (20,000 when 0). Close it to commit what was written.
func (db *DB) StreamEvents(ctx context.Context, blockRows int) (*EventStream, error) {
	if blockRows <= 0 {
		blockRows = 20_000
	}
	// A stream outlives any one write deadline: it runs on the driver's own
	// connection, bounded by ctx and the socket's read timeout.
	b, err := db.raw.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return nil, fmt.Errorf("open event stream: %w", err)
	}
	return &EventStream{db: db, batch: b, ver: db.version(), blockRows: blockRows, ctx: ctx}, nil
}

// Write adds events to the stream, sending a block when enough rows are held.
// Each call takes a new version: rewrites within one stream keep the last,
// and an incremental metric refresh sees rows by when they were written, not
// when the stream opened.
func (s *EventStream) Write(events []yardstick.Event) error {
	if v := s.db.version(); v > s.ver {
		s.ver = v
	}
	if err := s.db.recordTypes(s.ctx, events); err != nil {
		return err
	}
	if err := appendEvents(s.batch, events, s.ver, 0); err != nil {
		return err
	}
	s.rows += len(events)
	s.pending += len(events)
	if s.pending < s.blockRows {
		return nil
	}
	if err := s.batch.Flush(); err != nil {
		return fmt.Errorf("send %d events: %w", s.pending, err)
	}
	s.pending = 0
	return nil
}

// Close ends the INSERT; the rows are stored when it returns nil.
func (s *EventStream) Close() error {
	if err := s.batch.Send(); err != nil {
		return fmt.Errorf("commit %d events: %w", s.rows, err)
	}
	return nil
}

// Abort drops the stream; blocks already flushed may have been stored.
func (s *EventStream) Abort() { _ = s.batch.Abort() }

func validateEvent(e *yardstick.Event) error {
	switch {
	case e.Source == "":
		return fmt.Errorf("event %s %s: empty source: %w", e.Type, e.ID, yardstick.ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("event %s: empty type: %w", e.ID, yardstick.ErrInvalid)
	case e.Scope == "":
		return fmt.Errorf("event %s %s: empty scope: %w", e.Type, e.ID, yardstick.ErrInvalid)
	case e.ID == "":
		return fmt.Errorf("event %s %s: empty id: %w", e.Type, e.Scope, yardstick.ErrInvalid)
	}
	return nil
}

func sortedStrs(m map[string]string) ([]string, []string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return keys, vals
}

// eventColumns are the columns queryEvents decodes, in order.
const eventColumns = "source, type, scope, id, time, actor, num_keys, num_values, str_keys, str_values, related"

// EventFilter selects events. Empty fields match everything.
type EventFilter struct {
	Source   string
	Types    []string
	Scopes   []yardstick.Scope
	Entities []yardstick.EntityRef // events whose scope maps to one of these entities
	Since    time.Time             // inclusive
	Until    time.Time             // exclusive
	Limit    int                   // 0: no limit
}

// Events returns the live events matching f, oldest first.
func (db *DB) Events(ctx context.Context, f EventFilter) ([]yardstick.Event, error) {
	return db.events(ctx, f)
}

// ScopeEvents returns the live events of source in scope of the given types
// (all when empty) at or after since: what a source's reconcile pass compares
// with upstream (collectors.EventStore).
func (db *DB) ScopeEvents(ctx context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error) {
	return db.events(ctx, EventFilter{Source: source, Types: types, Scopes: []yardstick.Scope{scope}, Since: since})
}

func (db *DB) events(ctx context.Context, f EventFilter) ([]yardstick.Event, error) {
	var where []string
	var args []any
	if f.Source != "" {
		where, args = append(where, "source = ?"), append(args, f.Source)
	}
	if len(f.Types) > 0 {
		where, args = append(where, "type IN ?"), append(args, inSet(f.Types))
	}
	// Scope and entity lists travel as external tables (keyset.go), so the
	// statement's size does not grow with them.
	var sets []keySet
	if len(f.Scopes) > 0 {
		set := scopeKeys("event_scopes", f.Scopes)
		where, sets = append(where, set.in("scope")), append(sets, set)
	}
	if len(f.Entities) > 0 {
		set := refKeys("event_entities", f.Entities)
		where = append(where, "scope IN (SELECT scope FROM scope_mappings FINAL WHERE deleted = 0 AND "+set.in("entity")+")")
		sets = append(sets, set)
	}
	if len(sets) > 0 {
		var err error
		if ctx, err = withKeySets(ctx, sets...); err != nil {
			return nil, fmt.Errorf("query events: %w", err)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, f.Until.UTC())
	}
	q := "SELECT " + eventColumns + " FROM events FINAL WHERE deleted = 0"
	for _, w := range where {
		q += " AND " + w
	}
	q += " ORDER BY time, type, scope, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return db.queryEvents(ctx, q, args...)
}

// queryEvents runs q, which selects the columns of eventColumns, and decodes the rows.
func (db *DB) queryEvents(ctx context.Context, q string, args ...any) ([]yardstick.Event, error) {
	return queryRows(ctx, db, "query events", q, args, func(row scanner) (yardstick.Event, error) {
		e, err := scanEvent(row)
		if len(e.Related) == 0 {
			e.Related = nil
		}
		return e, err
	})
}

// scanEvent reads a row of eventColumns, followed by the columns more
// points to.
func scanEvent(row scanner, more ...any) (yardstick.Event, error) {
	var (
		e          yardstick.Event
		scope      string
		nk, sk, sv []string
		nv         []float64
	)
	if err := row.Scan(append([]any{&e.Source, &e.Type, &scope, &e.ID, &e.Time, &e.Actor, &nk, &nv, &sk, &sv, &e.Related}, more...)...); err != nil {
		return e, err
	}
	e.Scope, e.Time, e.Num, e.Str = yardstick.Scope(scope), e.Time.UTC(), zipMap(nk, nv), zipMap(sk, sv)
	return e, nil
}

// EventCounts returns the number of live events per type.
func (db *DB) EventCounts(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := db.queryEach(ctx, "SELECT type, count() FROM events FINAL WHERE deleted = 0 GROUP BY type", nil, func(row scanner) error {
		var t string
		var n uint64
		err := row.Scan(&t, &n)
		out[t] = n
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	return out, nil
}

// EventIDs returns the ids of live events of one source, type and scope; the
// reconcile passes of collectors compare them with what the source still has.
func (db *DB) EventIDs(ctx context.Context, source, typ string, scope yardstick.Scope) ([]string, error) {
	return queryRows(ctx, db, fmt.Sprintf("list event ids %s %s", typ, scope), "SELECT id FROM events FINAL WHERE deleted = 0 AND source = ? AND type = ? AND scope = ? ORDER BY id",
		[]any{source, typ, string(scope)}, scanOne[string])
}

func scopeStrings(ss []yardstick.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func refStrings(rs []yardstick.EntityRef) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}
