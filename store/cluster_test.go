package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRewriteForCluster(t *testing.T) {
	noAlter := func(string) (string, error) { return "", errors.New("unexpected") }
	for _, tt := range []struct {
		name, stmt string
		engine     func(string) (string, error)
		want       []string
	}{
		{
			name: "scoped table is sharded by scope",
			stmt: "CREATE TABLE IF NOT EXISTS facts (\n    scope String,\n    value Array(String),\n    version UInt64\n) ENGINE = ReplacingMergeTree(version)\nORDER BY (scope, value)",
			want: []string{
				"CREATE TABLE IF NOT EXISTS ys.facts_local ON CLUSTER c (\n    scope String,\n    value Array(String),\n    version UInt64\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ys/facts', '{replica}', version)\nORDER BY (scope, value)",
				"CREATE TABLE IF NOT EXISTS ys.facts ON CLUSTER c AS ys.facts_local ENGINE = Distributed(c, ys, facts_local, cityHash64(scope))",
			},
		},
		{
			name: "unscoped table lives on the first shard",
			stmt: "CREATE TABLE cursors (key String, deploy_scope String) ENGINE = MergeTree PARTITION BY key ORDER BY key",
			want: []string{
				"CREATE TABLE ys.cursors_local ON CLUSTER c (key String, deploy_scope String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/ys/cursors', '{replica}') PARTITION BY key ORDER BY key",
				"CREATE TABLE ys.cursors ON CLUSTER c AS ys.cursors_local ENGINE = Distributed(c, ys, cursors_local, 0)",
			},
		},
		{
			name:   "alter applies to the local table and recreates the distributed one",
			stmt:   "ALTER TABLE entities ADD COLUMN source String DEFAULT ''",
			engine: func(string) (string, error) { return "Distributed(c, ys, entities_local, 0)", nil },
			want: []string{
				"ALTER TABLE ys.entities_local ON CLUSTER c ADD COLUMN source String DEFAULT ''",
				"DROP TABLE IF EXISTS ys.entities ON CLUSTER c",
				"CREATE TABLE IF NOT EXISTS ys.entities ON CLUSTER c AS ys.entities_local ENGINE = Distributed(c, ys, entities_local, 0)",
			},
		},
		{
			name: "a materialized view runs on every server, local table to local table",
			stmt: "CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_writer TO event_keys AS\nSELECT type, scope, related\nFROM events",
			want: []string{
				"CREATE MATERIALIZED VIEW IF NOT EXISTS ys.event_keys_writer ON CLUSTER c TO ys.event_keys_local AS SELECT type, scope, related\nFROM ys.events_local",
			},
		},
		{
			name: "a materialized view may array-join what it reads",
			stmt: "CREATE MATERIALIZED VIEW key_writer TO keys AS\nSELECT k.1 AS kind, idh FROM events\nARRAY JOIN arrayFilter(k -> k.1 != '', [(type, idh)]) AS k",
			want: []string{
				"CREATE MATERIALIZED VIEW ys.key_writer ON CLUSTER c TO ys.keys_local AS SELECT k.1 AS kind, idh FROM ys.events_local\nARRAY JOIN arrayFilter(k -> k.1 != '', [(type, idh)]) AS k",
			},
		},
		{
			name: "drop drops both",
			stmt: "DROP TABLE IF EXISTS metric_generations",
			want: []string{
				"DROP TABLE IF EXISTS ys.metric_generations ON CLUSTER c",
				"DROP TABLE IF EXISTS ys.metric_generations_local ON CLUSTER c",
			},
		},
		{
			name: "other statements pass",
			stmt: "INSERT INTO cursors (key) SELECT 'a'",
			want: []string{"INSERT INTO cursors (key) SELECT 'a'"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			engine := tt.engine
			if engine == nil {
				engine = noAlter
			}
			got, err := rewriteForCluster(tt.stmt, "c", "ys", engine)
			if err != nil {
				t.Fatalf("rewriteForCluster() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rewriteForCluster() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewriteForClusterRefusesWhatItCannotRewrite(t *testing.T) {
	_, err := rewriteForCluster("CREATE TABLE v (a String) ENGINE = Log", "c", "ys", nil)
	if err == nil || !strings.Contains(err.Error(), "CREATE TABLE v") {
		t.Errorf("rewriteForCluster(Log table) error = %v, want one naming the statement", err)
	}
}

func TestEveryMigrationRewrites(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	engine := func(table string) (string, error) { return "Distributed(c, ys, " + table + "_local, 0)", nil }
	for _, m := range ms {
		for i, stmt := range splitStatements(m.SQL) {
			out, err := rewriteForCluster(stmt, "c", "ys", engine)
			if err != nil {
				t.Errorf("migration %s statement %d: %v", m.Name, i+1, err)
				continue
			}
			for _, s := range out {
				if !strings.Contains(s, "ON CLUSTER c") {
					t.Errorf("migration %s statement %d rewrites to %q, not ON CLUSTER", m.Name, i+1, s)
				}
			}
		}
	}
}

func TestDistributedEngine(t *testing.T) {
	create := "CREATE TABLE ys.events ( scope String) ENGINE = Distributed(yardstick, ys, events_local, cityHash64(scope))"
	got, err := distributedEngine(create)
	if want := "Distributed(yardstick, ys, events_local, cityHash64(scope))"; err != nil || got != want {
		t.Errorf("distributedEngine() = %q, %v, want %q", got, err, want)
	}
}
