package store

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// eventTypesTTL is how long the list of stored event types is reused.
const eventTypesTTL = time.Minute

// eventTypes are the event types the store holds. events is sorted by (type,
// scope, …): a read of a few scopes' events that names the types reads only
// those (type, scope) ranges of the primary key, where a read by scope alone
// goes through every row's scope (7× the time on 1.1M events). The list is
// read at most once a minute; types this process writes join it at once, so
// a type first written by another process (a `yardstick ingest`) is seen
// within a minute.
type eventTypes struct {
	mu    sync.Mutex
	types map[string]bool
	read  time.Time
}

// note adds the types of events written by this process.
func (t *eventTypes) note(events []yardstick.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.types == nil {
		t.types = map[string]bool{}
	}
	for i := range events {
		t.types[events[i].Type] = true
	}
}

// eventTypeList returns the stored event types, sorted, reading them when the last
// read is older than eventTypesTTL.
func (db *DB) eventTypeList(ctx context.Context) ([]string, error) {
	t := db.types
	t.mu.Lock()
	fresh := db.now().Sub(t.read) < eventTypesTTL
	t.mu.Unlock()
	if !fresh {
		read := db.now()
		stored, err := queryRows(ctx, db, "read event types", `SELECT DISTINCT type FROM events`, nil, scanOne[string])
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		if t.types == nil {
			t.types = map[string]bool{}
		}
		for _, typ := range stored {
			t.types[typ] = true
		}
		t.read = read
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.types)), nil
}

// typesArg is the stored event types as the bound set @types (false when
// there are none: no event to read).
func (db *DB) typesArg(ctx context.Context) (any, bool, error) {
	types, err := db.eventTypeList(ctx)
	if err != nil {
		return nil, false, err
	}
	return clickhouse.Named("types", clickhouse.GroupSet{Value: anySlice(types)}), len(types) > 0, nil
}
