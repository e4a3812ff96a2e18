package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one embedded schema file.
type Migration struct {
	Version uint32
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: uint32(v), Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// backfills are the data steps of migrations, run after their statements and
// before the migration is recorded (so a failed one runs again; each is safe to
// repeat). Migration files hold schema only: in cluster mode every statement of
// them is rewritten ON CLUSTER.
var backfills = map[uint32]func(ctx context.Context, db *DB) error{
	// event_types lists the types of the events already stored.
	1200: func(ctx context.Context, db *DB) error {
		return db.conn.Exec(ctx, `INSERT INTO event_types (type, version) SELECT DISTINCT type, toUInt64(0) FROM events`)
	},
	// event_keys holds every version of the events already stored that
	// merges have not dropped. Run again, it copies them again: the table is
	// a set of versions, and a version listed twice says nothing more.
	1800: func(ctx context.Context, db *DB) error {
		return db.conn.Exec(ctx, `INSERT INTO event_keys (idh, `+eventKeyColumns+`) SELECT cityHash64(type, scope, source, id), `+eventKeyColumns+` FROM events`)
	},
	// event_key_hashes holds the keys of the versions event_keys holds, by
	// keySources themselves (the view that writes new events' keys says
	// the same in SQL). Run again, it hashes them again: the table is a set.
	2300: func(ctx context.Context, db *DB) error {
		for _, src := range keySources {
			if err := db.conn.Exec(ctx, "INSERT INTO event_key_hashes (kind, kh, idh)\n"+src.keyHashes("1")); err != nil {
				return fmt.Errorf("the %s keys of %s events: %w", src.kind, strings.Join(src.types, ", "), err)
			}
		}
		return nil
	},
}

// eventKeyColumns are the columns of event_keys (migration 1800) named alike
// in events (beside them, idh hashes the identity).
const eventKeyColumns = "type, scope, source, id, time, version, deleted, num_number, str_key, str_incident_id, str_sha, str_merge_commit_sha, related"

// Migrate applies the embedded migrations that have not run yet, recording each in
// schema_migrations. Statements use IF NOT EXISTS, so re-running is harmless.
// It returns the names of the migrations it applied.
func (db *DB) Migrate(ctx context.Context) error {
	_, err := db.MigrateVerbose(ctx)
	return err
}

// MigrateVerbose is Migrate returning what it applied.
func (db *DB) MigrateVerbose(ctx context.Context) ([]string, error) {
	exists, err := db.tableExists(ctx, "schema_migrations")
	if err != nil {
		return nil, err
	}
	// Distributed DDL waits for every server of a cluster: an existing table
	// is not created again, so a store opens while a server is down.
	if !exists {
		if err := db.execDDL(withSchemaStep(ctx, "0000"), `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
			return nil, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	done := map[uint32]bool{}
	versions, err := queryRows(ctx, db, "read schema_migrations", "SELECT version FROM schema_migrations FINAL", nil, scanOne[uint32])
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		done[v] = true
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		for i, stmt := range splitStatements(m.SQL) {
			if err := db.execDDL(withSchemaStep(ctx, fmt.Sprintf("%010d/%04d", m.Version, i+1)), stmt); err != nil && !columnsAlreadyAdded(stmt, err) {
				return applied, fmt.Errorf("migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if fill := backfills[m.Version]; fill != nil {
			if err := fill(ctx, db); err != nil {
				return applied, fmt.Errorf("migration %s backfill: %w", m.Name, err)
			}
		}
		if err := db.insert(ctx, "INSERT INTO schema_migrations (version, name, applied_at)", func(b driver.Batch) error {
			return b.Append(m.Version, m.Name, time.Now().UTC())
		}); err != nil {
			return applied, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// columnsAlreadyAdded says whether err is an ADD COLUMN statement failing
// because its column exists: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS,
// and an ALTER is applied as a whole, so this is a migration that ran before
// it could be recorded.
func columnsAlreadyAdded(stmt string, err error) bool {
	var ex *clickhouse.Exception
	return strings.Contains(strings.ToUpper(stmt), "ADD COLUMN") && errors.As(err, &ex) &&
		(ex.Code == 44 || ex.Code == 15) && strings.Contains(ex.Message, "already exists")
}

func (db *DB) tableExists(ctx context.Context, table string) (bool, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db.database, table).Scan(&n); err != nil {
		return false, fmt.Errorf("look up table %s: %w", table, err)
	}
	return n > 0, nil
}

// execDDL runs a schema statement, rewritten for the cluster in cluster mode.
func (db *DB) execDDL(ctx context.Context, stmt string) error {
	if db.cluster == "" {
		return db.conn.Exec(ctx, stmt)
	}
	stmts, err := rewriteForCluster(stmt, db.cluster, db.database, func(table string) (string, error) {
		var create string
		// Identifiers cannot be bound; table comes from the embedded migrations.
		if err := db.conn.QueryRow(ctx, "SHOW CREATE TABLE "+db.database+"."+table).Scan(&create); err != nil {
			return "", err
		}
		return distributedEngine(create)
	})
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := db.conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

// splitStatements splits a migration file on semicolons that end a line,
// dropping comment-only lines.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, s)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
