package store

import (
	"context"
	"fmt"
	"time"
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

// WaitForMerges waits until the server (over all databases) has run no
// background merge for quiet, polling every 200 ms, or until timeout has
// passed; settled says which, waited how long it took.
func (db *DB) WaitForMerges(ctx context.Context, quiet, timeout time.Duration) (settled bool, waited time.Duration, err error) {
	start := time.Now()
	var since time.Time // when the server was last seen merging nothing, since then
	for time.Since(start) < timeout {
		var n uint64
		if err := db.conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&n); err != nil {
			return false, time.Since(start), fmt.Errorf("count merges: %w", err)
		}
		switch {
		case n > 0:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		}
		if !since.IsZero() && time.Since(since) >= quiet {
			return true, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return false, time.Since(start), ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false, time.Since(start), nil
}
