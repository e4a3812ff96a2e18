package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster mode. With Config.Cluster set, every table of the schema is two
// tables: NAME_local, a Replicated*MergeTree on every server of the cluster
// (created ON CLUSTER, its ZooKeeper path per shard and database, the replica
// name from each server's {replica} macro), and NAME, a Distributed table over
// it that every read and write of the store goes through. Tables with a scope
// column are sharded by cityHash64(scope), so the rows that FINAL deduplicates
// and the per-scope joins are on one shard; the other tables (catalog, cursors,
// scoring runs, refresh bookkeeping) are small and live on the first shard
// (a constant sharding key), so FINAL is exact for them too.
//
// The migrations are written once, for a single server; rewriteForCluster
// turns each statement into its cluster form, so the rest of the store keeps
// using the same table names.

var (
	createTableRE = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)(\s*\(([^)]*)\))?(.*)$`)
	alterTableRE  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$`)
	dropTableRE   = regexp.MustCompile(`(?is)^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$`)
	createViewRE  = regexp.MustCompile(`(?is)^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+TO\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(SELECT\s.*\sFROM)\s+([A-Za-z_][A-Za-z0-9_]*)(\s+ARRAY\s+JOIN\s.*)?\s*$`)
	scopeColumnRE = regexp.MustCompile(`(?i)(^|[(,\n])\s*scope\s+[A-Za-z]`)
)

// localSuffix names the replicated table under each Distributed one.
const localSuffix = "_local"

// clusterSettings are the query settings of a store in cluster mode:
//   - insert_distributed_sync: an insert returns once every shard has its rows,
//     so what was written is read back at once;
//   - prefer_localhost_replica = 0: ClickHouse 18.16 can lose the version
//     column of FINAL over a Distributed table when it reads its own shard
//     in-process ("Cannot find column version in source stream"); over the
//     network it is exact. The metric reads take the own shard where that is
//     safe (ownshard.go).
//
// The driver sends only numeric settings to 18.16; the string-valued one the
// store needs is checked by checkClusterProfile.
var clusterSettings = map[string]any{
	"insert_distributed_sync":  1,
	"prefer_localhost_replica": 0,
}

// clusterProfile is what cluster mode needs of the ClickHouse user's profile
// (clickhouse-go cannot send string-valued settings to 18.16):
//   - load_balancing = in_order: each shard is read on its first live replica,
//     the one inserts go to, so reads follow writes; the next replica takes
//     over when it is down;
//   - distributed_product_mode = global: a Distributed table in a JOIN or IN
//     subquery of a distributed query (the change failure rate joins failure
//     signals of any scope to deployments) is computed once over the whole
//     cluster and sent to the shards, so such joins are exact; ClickHouse's
//     default refuses them.
var clusterProfile = []struct{ name, want string }{
	{"load_balancing", "in_order"},
	{"distributed_product_mode", "global"},
}

// checkClusterProfile refuses a server whose user profile lacks clusterProfile.
func checkClusterProfile(ctx context.Context, conn driver.Conn, where string) error {
	for _, s := range clusterProfile {
		var v string
		if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = ?", s.name).Scan(&v); err != nil {
			return fmt.Errorf("read setting %s of ClickHouse at %s: %w", s.name, where, err)
		}
		if v != s.want {
			return fmt.Errorf("ClickHouse at %s: cluster mode needs <%s>%s</%s> in the user's profile (users.xml); it is %q (see docs/cluster.md): %w",
				where, s.name, s.want, s.name, v, errInvalidName)
		}
	}
	return nil
}

// rewriteForCluster returns the statements that apply stmt on cluster for
// database db. CREATE TABLE … ENGINE = XMergeTree becomes the replicated local
// table and its Distributed table; CREATE MATERIALIZED VIEW name TO target AS
// SELECT … FROM source [ARRAY JOIN …] runs on every server, from source's
// local table to target's; ALTER TABLE applies to the local table and
// recreates the Distributed one (ClickHouse 18.16 cannot ALTER a Distributed
// table ON CLUSTER when shards are replicated; a Distributed table holds no
// data of its own with synchronous inserts); DROP TABLE drops both. Any other
// statement is returned unchanged. distEngine returns the ENGINE clause of an
// existing Distributed table (for ALTER).
func rewriteForCluster(stmt, cluster, db string, distEngine func(table string) (string, error)) ([]string, error) {
	on := " ON CLUSTER " + cluster
	if m := createTableRE.FindStringSubmatch(stmt); m != nil {
		ifNot, name, cols, engine, args, rest := m[1], m[2], m[3], m[4], strings.TrimSpace(m[6]), m[7]
		zkPath := "'/clickhouse/tables/{shard}/" + db + "/" + name + "'"
		replArgs := zkPath + ", '{replica}'"
		if args != "" {
			replArgs += ", " + args
		}
		local := fmt.Sprintf("CREATE TABLE %s%s.%s%s%s (%s) ENGINE = Replicated%s(%s)%s",
			ifNot, db, name, localSuffix, on, cols, engine, replArgs, rest)
		return []string{local, distributedTable(ifNot, name, cluster, db, shardingKey(cols))}, nil
	}
	if m := alterTableRE.FindStringSubmatch(stmt); m != nil {
		name, rest := m[1], m[2]
		engine, err := distEngine(name)
		if err != nil {
			return nil, fmt.Errorf("cluster mode: alter %s: %w", name, err)
		}
		return []string{
			fmt.Sprintf("ALTER TABLE %s.%s%s%s %s", db, name, localSuffix, on, rest),
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, name, on),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s%s ENGINE = %s", db, name, on, db, name, localSuffix, engine),
		}, nil
	}
	if m := createViewRE.FindStringSubmatch(stmt); m != nil {
		// A view writing one table from another's inserts: on every server,
		// from the local table the insert lands in to the local table beside
		// it (the rows stay on their shard, and each replica's parts
		// replicate as the target's own).
		ifNot, name, to, sel, from, arrayJoin := m[1], m[2], m[3], m[4], m[5], m[6]
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW %s%s.%s%s TO %s.%s%s AS %s %s.%s%s%s",
			ifNot, db, name, on, db, to, localSuffix, sel, db, from, localSuffix, arrayJoin)}, nil
	}
	if m := dropTableRE.FindStringSubmatch(stmt); m != nil {
		ifExists, name := m[1], m[2]
		return []string{
			fmt.Sprintf("DROP TABLE %s%s.%s%s", ifExists, db, name, on),
			fmt.Sprintf("DROP TABLE %s%s.%s%s%s", ifExists, db, name, localSuffix, on),
		}, nil
	}
	if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(stmt)), "CREATE TABLE") {
		return nil, fmt.Errorf("cluster mode: cannot rewrite %q: only CREATE TABLE (columns) ENGINE = …MergeTree is supported", firstLine(stmt))
	}
	return []string{stmt}, nil
}

// distributedTable is the CREATE statement of table's Distributed table.
func distributedTable(ifNot, table, cluster, db, key string) string {
	return fmt.Sprintf("CREATE TABLE %s%s.%s ON CLUSTER %s AS %s.%s%s ENGINE = Distributed(%s, %s, %s%s, %s)",
		ifNot, db, table, cluster, db, table, localSuffix, cluster, db, table, localSuffix, key)
}

// shardingKey shards tables with a scope column by it; the rest go to the first shard.
func shardingKey(cols string) string {
	if scopeColumnRE.MatchString(cols) {
		return "cityHash64(scope)"
	}
	return "0"
}

var distEngineRE = regexp.MustCompile(`(?s)ENGINE\s*=\s*(Distributed\(.*\))`)

// distributedEngine reads the ENGINE clause of an existing Distributed table
// from its SHOW CREATE TABLE text.
func distributedEngine(create string) (string, error) {
	m := distEngineRE.FindStringSubmatch(create)
	if m == nil {
		return "", fmt.Errorf("not a Distributed table: %s", firstLine(create))
	}
	return m[1], nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// onCluster is " ON CLUSTER name" in cluster mode, else "".
func (db *DB) onCluster() string {
	if db.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + db.cluster
}

// localTable names the table that holds table's rows on each server: table
// itself on a single server, table_local in cluster mode. Statements that work
// on parts and partitions (ALTER TABLE … DROP PARTITION, system.parts) use it;
// reads and writes use the Distributed table.
func (db *DB) localTable(table string) string {
	if db.cluster == "" {
		return table
	}
	return table + localSuffix
}

// coSharded names table in a subquery that filters a distributed read of
// another table sharded by scope (metric_observations by scope_mappings or
// metric_overrides): table_local in cluster mode, so each shard filters its
// rows by its own rows of table. That is exact, because both tables put a
// scope's rows on the shard cityHash64(scope) names, and it spares the read
// the distributed query that distributed_product_mode = global would run
// first to send all of table to every shard. table itself on a single server.
// Only for subqueries that run on the shards: a join in the outer query of a
// subquery over a Distributed table runs where the query is sent, and must
// read the Distributed table. The name is qualified: the shards run the
// query in their connection's default database.
func (db *DB) coSharded(table string) string {
	if db.cluster == "" {
		return table
	}
	return db.database + "." + table + localSuffix
}

// alterTable is the head of an ALTER TABLE statement on table's rows:
// "ALTER TABLE table" on a single server, "ALTER TABLE db.table_local ON
// CLUSTER name" in cluster mode (replicated tables carry out partition
// operations on every replica).
func (db *DB) alterTable(table string) string {
	if db.cluster == "" {
		return "ALTER TABLE " + table
	}
	return "ALTER TABLE " + db.database + "." + table + localSuffix + db.onCluster()
}

// partsTable is system.parts on a single server and the parts of every server
// of the cluster in cluster mode.
func (db *DB) partsTable() string {
	if db.cluster == "" {
		return "system.parts"
	}
	return "cluster('" + db.cluster + "', system.parts)"
}

// OwnShardServer returns the server (host:port of the DSN) whose shard the
// metric reads take in-process, "" when they read every shard over the
// network (ownshard.go).
func (db *DB) OwnShardServer() string {
	if c, ok := db.conn.(*ownShardConn); ok {
		return c.addr
	}
	return ""
}

// Cluster returns the ClickHouse cluster the store runs on, "" on a single server.
func (db *DB) Cluster() string { return db.cluster }
