package store

import (
	"context"
	"fmt"
)

// The operations below serve tests and the ingest benchmark, which reset and
// count what they wrote; nothing else needs them.

// Drop removes the store's database and everything in it.
func (db *DB) Drop(ctx context.Context) error {
	// Identifiers cannot be bound; the name was checked against identRE at Open.
	if err := db.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db.database); err != nil {
		return fmt.Errorf("drop database %s: %w", db.database, err)
	}
	return nil
}

// TruncateEvents removes every event row.
func (db *DB) TruncateEvents(ctx context.Context) error {
	if err := db.conn.Exec(ctx, "TRUNCATE TABLE events"); err != nil {
		return fmt.Errorf("truncate events: %w", err)
	}
	return nil
}

// CountEvents returns the number of live (not deleted) events.
func (db *DB) CountEvents(ctx context.Context) (uint64, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM events FINAL WHERE deleted = 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// RunningMerges returns the number of background merges the server is
// running, over all databases.
func (db *DB) RunningMerges(ctx context.Context) (uint64, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&n); err != nil {
		return 0, fmt.Errorf("count merges: %w", err)
	}
	return n, nil
}
