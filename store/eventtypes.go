package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// recordedTypes are the event types this process has recorded in event_types
// (migration 1200): a write records each type once per process, before the
// first of its events.
type recordedTypes struct {
	mu    sync.Mutex
	types map[string]bool
}

// recordTypes records in event_types the types of events this process has
// not recorded yet. Writes call it before they write the events, so that
// event_types always lists every stored event's type.
func (db *DB) recordTypes(ctx context.Context, events []yardstick.Event) error {
	t := db.types
	var fresh []string
	t.mu.Lock()
	for i := range events {
		if typ := events[i].Type; !t.types[typ] && !slices.Contains(fresh, typ) {
			fresh = append(fresh, typ)
		}
	}
	t.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	// Two writers may both record a new type: event_types is read with
	// DISTINCT (and merges keep one row), so that costs nothing.
	err := db.insert(ctx, "INSERT INTO event_types (type, version)", func(b driver.Batch) error {
		for _, typ := range fresh {
			if err := b.Append(typ, db.version()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record event types: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.types == nil {
		t.types = map[string]bool{}
	}
	for _, typ := range fresh {
		t.types[typ] = true
	}
	return nil
}

// typesArg is the stored event types as the bound set @types (false when
// there are none: no event to read). event_types holds a few rows.
func (db *DB) typesArg(ctx context.Context) (any, bool, error) {
	types, err := queryRows(ctx, db, "read event types", `SELECT DISTINCT type FROM event_types ORDER BY type`, nil, scanOne[string])
	if err != nil {
		return nil, false, err
	}
	return clickhouse.Named("types", clickhouse.GroupSet{Value: anySlice(types)}), len(types) > 0, nil
}
