package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Conn gives the store's own tests the driver, to insert rows no method
// writes. Other packages go through the store's methods.
func (db *DB) Conn() driver.Conn { return db.conn }

// ObservationRow is one current row of metric_observations, for tests that
// compare refreshes.
type ObservationRow struct {
	Family, Scope  string
	T              time.Time
	V1, V2, V3, V4 float64
	Label, Ref     string
}

// CurrentObservations returns the observations m's reads see, ordered.
func CurrentObservations(ctx context.Context, m *Metrics) ([]ObservationRow, error) {
	g, _, err := m.latestRefresh(ctx)
	if err != nil {
		return nil, err
	}
	if g.refresh == 0 {
		return nil, fmt.Errorf("no metric refresh yet")
	}
	return queryRows(ctx, m.db, "read observations", `SELECT family, scope, t, v1, v2, v3, v4, label, ref FROM metric_observations WHERE `+g.currentRows("t", nil)+`
ORDER BY family, scope, t, ref, v1, v2, v3, v4, label`, g.args(m.configKey()), func(row scanner) (ObservationRow, error) {
		var r ObservationRow
		err := row.Scan(&r.Family, &r.Scope, &r.T, &r.V1, &r.V2, &r.V3, &r.V4, &r.Label, &r.Ref)
		r.T = r.T.UTC()
		return r, err
	})
}

// CurrentFailureLinks returns the failure links m's reads see, ordered, one
// line each.
func CurrentFailureLinks(ctx context.Context, m *Metrics) ([]string, error) {
	g, _, err := m.latestRefresh(ctx)
	if err != nil {
		return nil, err
	}
	return queryRows(ctx, m.db, "read failure links", `SELECT deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis
FROM deployment_failures WHERE `+g.currentFailureLinks()+`
ORDER BY deploy_scope, deploy_id, signal_scope, signal_type, signal_id`, g.args(m.configKey()), func(row scanner) (string, error) {
		var ds, di, ss, st, si, basis string
		var dt, stt time.Time
		err := row.Scan(&ds, &di, &dt, &ss, &st, &si, &stt, &basis)
		return fmt.Sprintf("%s %s %s <- %s %s %s %s (%s)", ds, di, dt.UTC().Format(time.RFC3339), ss, st, si, stt.UTC().Format(time.RFC3339), basis), err
	})
}

// EventAttrs are the attributes events store as columns, by kind.
var EventAttrs = eventAttrs

// ColumnsAlreadyAdded is columnsAlreadyAdded, for the re-run test.
var ColumnsAlreadyAdded = columnsAlreadyAdded

// NotRecorded marks ctx's statements as not the store's own, so the
// statement recorder leaves them out (a test's deliberately failing DDL).
func NotRecorded(ctx context.Context) context.Context { return withAdhoc(ctx) }

// SetGroupReads makes m read several metric families per query (as in
// cluster mode) or one family per query (as on one server).
func SetGroupReads(m *Metrics, on bool) { m.groupReads = on }

// SetClock makes db read the time from now, for tests that need refreshes
// older than the store keeps.
func SetClock(db *DB, now func() time.Time) { db.now = now }

// SetFailureChunkScopes sets failureChunkScopes for the test's run; it
// returns the previous value.
func SetFailureChunkScopes(n int) int {
	prev := failureChunkScopes
	failureChunkScopes = n
	return prev
}

// RebuildStats is Rebuild returning what it did.
func RebuildStats(ctx context.Context, m *Metrics) (RefreshResult, error) {
	return m.refresh(ctx, true)
}

// OnLoopback is onLoopback, for its table test.
var OnLoopback = onLoopback

// Backfill runs migration version's data step again, as an upgrade runs it.
func (db *DB) Backfill(ctx context.Context, version uint32) error {
	fill := backfills[version]
	if fill == nil {
		return fmt.Errorf("migration %d has no backfill", version)
	}
	return fill(ctx, db)
}

// TouchedKeys writes refresh_keys for generation gen as an incremental
// refresh does (the keys events written after since touch) and returns them
// by kind, each "scope key", sorted.
func TouchedKeys(ctx context.Context, m *Metrics, gen, since uint64) (map[string][]string, error) {
	if err := m.touchKeys(ctx, since, 0, m.refreshArgs(gen, m.configKey())); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	err := m.db.queryEach(ctx, "SELECT DISTINCT kind, concat(scope, ' ', key) AS k FROM refresh_keys WHERE gen = ? AND kind != '"+baselineScopeKind+"' ORDER BY kind, k", []any{gen}, func(row scanner) error {
		var kind, key string
		if err := row.Scan(&kind, &key); err != nil {
			return err
		}
		out[kind] = append(out[kind], key)
		return nil
	})
	return out, err
}

// KeyHashes returns the rows of event_key_hashes (migration 2300), or with
// bySources what keySources say they are for the versions event_keys holds,
// each "kind kh idh", sorted, a row as often as it is there.
func KeyHashes(ctx context.Context, db *DB, bySources bool) ([]string, error) {
	q := "SELECT kind, kh, idh FROM event_key_hashes"
	if bySources {
		var parts []string
		for _, src := range keySources {
			parts = append(parts, src.keyHashes("1"))
		}
		q = strings.Join(parts, "\nUNION ALL\n")
	}
	rows, err := queryRows(ctx, db, "read key hashes", q, nil, func(row scanner) (string, error) {
		var (
			kind    string
			kh, idh uint64
		)
		err := row.Scan(&kind, &kh, &idh)
		return fmt.Sprintf("%s %d %d", kind, kh, idh), err
	})
	slices.Sort(rows)
	return rows, err
}
