package clustertest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/clustertest"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// sources map annotations to scopes as the binary does.
var sources = collectors.NewRegistry(github.Source(), jira.Source(), pagerduty.Source())

var (
	cluster    *clustertest.Cluster
	clusterSvc *storetest.Service
)

// TestMain starts the cluster, then storetest's single server (for the
// comparisons), and runs the tests.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	svc, stop, err := storetest.StartService("cluster", 3*time.Minute, func(ctx context.Context, dir string) (func(), error) {
		c, err := clustertest.Start(ctx, dir)
		if err != nil {
			return nil, err
		}
		cluster = c
		return c.Stop, nil
	}, clustertest.ErrNoZooKeeper, store.ErrNoClickHouse)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	defer stop()
	clusterSvc = svc
	return storetest.Main(m)
}

func requireCluster(t testing.TB) {
	t.Helper()
	clusterSvc.Require(t)
}

// warnings records the store's warnings, so a test fails on one (a refresh
// logs, rather than returns, a failure to drop old generations).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	w.mu.Lock()
	w.msgs = append(w.msgs, b.String())
	w.mu.Unlock()
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) check(t testing.TB) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		t.Errorf("store warned: %s", m)
	}
}

// newClusterDB opens a store in cluster mode on a fresh database of its own,
// dropped ON CLUSTER when the test ends.
func newClusterDB(t testing.TB, name string) (*store.DB, *warnings) {
	t.Helper()
	requireCluster(t)
	w := &warnings{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DSN: cluster.DSN("default"), Database: name, Cluster: clustertest.Name, Logger: slog.New(w), ScopesOf: sources.ScopesOf})
	if err != nil {
		t.Fatalf("open cluster database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rawConn(t, db).Exec(ctx, "DROP DATABASE IF EXISTS "+name+" ON CLUSTER "+clustertest.Name)
		_ = db.Close()
	})
	return db, w
}

// newDBPair opens a cluster database (see newClusterDB) and a database on
// storetest's single server, whose answers the cluster's must equal.
func newDBPair(t testing.TB, name string) (clustered, single *store.DB, w *warnings) {
	t.Helper()
	clustered, w = newClusterDB(t, name)
	return clustered, storetest.NewDBMapping(t, sources.ScopesOf), w
}

// org is a generated organisation's catalog and events.
type org struct {
	entities []yardstick.Entity
	events   []yardstick.Event
}

func mustOrg(t testing.TB, cfg fixtures.GenConfig) org {
	t.Helper()
	o := fixtures.Generate(cfg)
	return org{entities: storetest.MustCatalog(t, o), events: o.Events()}
}

// read is one read of the store that must answer the same on the cluster as
// on one server.
type read struct {
	name string
	fn   func(*store.DB) (any, error)
}

// compareReads runs each read on one server and on the cluster.
func compareReads(t *testing.T, single, clustered *store.DB, reads []read, opts ...cmp.Option) {
	t.Helper()
	for _, read := range reads {
		want, err := read.fn(single)
		if err != nil {
			t.Fatalf("%s on one server: %v", read.name, err)
		}
		got, err := read.fn(clustered)
		if err != nil {
			t.Fatalf("%s on the cluster: %v", read.name, err)
		}
		if diff := cmp.Diff(want, got, opts...); diff != "" {
			t.Errorf("%s on the cluster differs (-single +cluster):\n%s", read.name, diff)
		}
	}
}

func mustLoad(t testing.TB, db *store.DB, o org) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ReplaceCatalog(ctx, o.entities); err != nil {
		t.Fatalf("ReplaceCatalog() = %v", err)
	}
	for i := 0; i < len(o.events); i += 50_000 {
		if err := db.WriteEvents(ctx, o.events[i:min(i+50_000, len(o.events))]); err != nil {
			t.Fatalf("WriteEvents() = %v", err)
		}
	}
}

func TestSchemaIsReplicatedAndDistributed(t *testing.T) {
	db, _ := newClusterDB(t, "cl_schema")
	ctx := context.Background()
	var addrs []string
	for _, n := range cluster.Nodes {
		addrs = append(addrs, n.Addr)
	}
	// remote() over every server's address reads each once (cluster() reads one replica per shard).
	rows, err := rawConn(t, db).Query(ctx, `SELECT name, engine, count() FROM remote('`+strings.Join(addrs, ",")+`', system.tables)
		WHERE database = ? GROUP BY name, engine ORDER BY name`, db.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var (
			name, engine string
			n            uint64
		)
		if err := rows.Scan(&name, &engine, &n); err != nil {
			t.Fatal(err)
		}
		got[name] = fmt.Sprintf("%s×%d", engine, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]string{
		"events":                    "Distributed×3",
		"events_local":              "ReplicatedReplacingMergeTree×3",
		"metric_observations":       "Distributed×3",
		"metric_observations_local": "ReplicatedMergeTree×3",
		"entity_history_local":      "ReplicatedMergeTree×3",
		"schema_migrations":         "Distributed×3",
		"schema_migrations_local":   "ReplicatedReplacingMergeTree×3",
	} {
		if got[table] != want {
			t.Errorf("table %s on the cluster = %q, want %q (all: %v)", table, got[table], want, got)
		}
	}
	// Columns added by ALTER migrations reach the Distributed tables.
	var n uint64
	if err := rawConn(t, db).QueryRow(ctx, `SELECT count() FROM system.columns WHERE database = ? AND table = 'entities' AND name = 'source'`, db.Database()).Scan(&n); err != nil || n != 1 {
		t.Errorf("entities.source on the Distributed table: %d columns, %v; want 1", n, err)
	}
	// A second open finds everything migrated and runs no DDL.
	ctx2, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	db2, err := store.Open(ctx2, store.Config{DSN: cluster.DSN("default"), Database: db.Database(), Cluster: clustertest.Name})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	applied, err := db2.MigrateVerbose(ctx2)
	_ = db2.Close()
	if err != nil || len(applied) != 0 {
		t.Errorf("MigrateVerbose() on a migrated cluster = %v, %v; want nothing applied", applied, err)
	}
}

// perNode counts table's rows on each server (replicas hold copies).
func perNode(t testing.TB, db *store.DB, table string) []uint64 {
	t.Helper()
	var out []uint64
	for _, n := range cluster.Nodes {
		var c uint64
		q := fmt.Sprintf("SELECT count() FROM remote('%s', %s, %s)", n.Addr, db.Database(), table)
		if err := rawConn(t, db).QueryRow(context.Background(), q).Scan(&c); err != nil {
			t.Fatalf("count %s on %s: %v", table, n.Addr, err)
		}
		out = append(out, c)
	}
	return out
}

func TestWritesShardByScopeAndDeduplicate(t *testing.T) {
	db, single, w := newDBPair(t, "cl_writes")
	ctx := context.Background()
	o := mustOrg(t, fixtures.GenConfig{Components: 12, Days: 21, Seed: 3})
	for _, d := range []*store.DB{db, single} {
		mustLoad(t, d, o)
		// Collecting again writes the same identities again: they count once.
		if err := d.WriteEvents(ctx, o.events[:len(o.events)/2]); err != nil {
			t.Fatal(err)
		}
		if err := d.DeleteEvents(ctx, o.events[:10]); err != nil {
			t.Fatal(err)
		}
	}
	filter := store.EventFilter{Scopes: []yardstick.Scope{o.events[20].Scope}}
	if evs, err := single.Events(ctx, filter); err != nil || len(evs) == 0 {
		t.Fatalf("Events(%s) on one server = %d events, %v; want some", filter.Scopes[0], len(evs), err)
	}
	sortEvents := cmpopts.SortSlices(func(a, b yardstick.Event) bool { return a.Type+a.ID < b.Type+b.ID })
	compareReads(t, single, db, []read{{"EventCounts()", func(d *store.DB) (any, error) { return d.EventCounts(ctx) }}})
	compareReads(t, single, db, []read{
		{fmt.Sprintf("Events(%s)", filter.Scopes[0]), func(d *store.DB) (any, error) { return d.Events(ctx, filter) }},
	}, sortEvents, cmpopts.EquateEmpty())

	// Both shards hold events, each scope on one shard only, and the replicas
	// of shard 1 hold the same rows once replication has caught up.
	var counts []uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts = perNode(t, db, "events_local")
		if counts[0] == counts[1] || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if counts[0] != counts[1] {
		t.Errorf("events_local rows on shard 1's replicas = %d and %d, want equal", counts[0], counts[1])
	}
	if counts[0] == 0 || counts[2] == 0 {
		t.Errorf("events_local rows per server = %v, want rows on both shards", counts)
	}
	var split uint64
	q := fmt.Sprintf(`SELECT count() FROM (
		SELECT scope FROM remote('%s', %s, events_local) GROUP BY scope) AS a
		ANY INNER JOIN (SELECT scope FROM remote('%s', %s, events_local) GROUP BY scope) AS b USING scope`,
		cluster.Nodes[0].Addr, db.Database(), cluster.Nodes[2].Addr, db.Database())
	if err := rawConn(t, db).QueryRow(ctx, q).Scan(&split); err != nil {
		t.Fatal(err)
	}
	if split != 0 {
		t.Errorf("%d scopes have events on both shards, want 0", split)
	}

	// event_keys (migration 1800) holds every version written, each once:
	// the view runs where an insert lands, and shard 1's second replica
	// fetches its parts rather than running the view again.
	written := uint64(len(o.events) + len(o.events)/2 + 10)
	deadline = time.Now().Add(30 * time.Second)
	for {
		counts = perNode(t, db, "event_keys_local")
		if counts[0] == counts[1] || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if counts[0] != counts[1] || counts[0]+counts[2] != written || counts[2] == 0 {
		t.Errorf("event_keys_local rows per server = %v, want shard 1's replicas alike and %d versions on the two shards", counts, written)
	}
	w.check(t)
}

func TestCatalogOnCluster(t *testing.T) {
	db, single, w := newDBPair(t, "cl_catalog")
	ctx := context.Background()
	o := mustOrg(t, fixtures.GenConfig{Components: 20, Days: 1, Seed: 4})
	for _, d := range []*store.DB{db, single} {
		if _, err := d.ReplaceCatalog(ctx, o.entities); err != nil {
			t.Fatal(err)
		}
		// Removing an entity and importing again is exact on both.
		if _, err := d.ReplaceCatalog(ctx, o.entities[1:]); err != nil {
			t.Fatal(err)
		}
	}
	compareReads(t, single, db, []read{
		{"Entities()", func(d *store.DB) (any, error) { return d.Entities(ctx) }},
		{"ScopeMappings()", func(d *store.DB) (any, error) {
			m, err := d.ScopeMappings(ctx)
			sort.Slice(m, func(i, j int) bool { return fmt.Sprint(m[i]) < fmt.Sprint(m[j]) })
			return m, err
		}},
		{"EntityHistory()", func(d *store.DB) (any, error) {
			h, err := d.EntityHistory(ctx, o.entities[0].Ref)
			for i := range h {
				h[i].At = time.Time{} // written at each store's own clock
			}
			return h, err
		}},
	}, cmpopts.EquateEmpty())
	w.check(t)
}

// metricQueries are every metric for the org, each group and each component,
// over the generated history, with weekly series.
func metricQueries(o org) []yardstick.MetricQuery {
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // the generator's fixed end
	w := yardstick.Window{From: end.AddDate(0, 0, -56), To: end}
	subjects := []yardstick.EntityRef{yardstick.OrgRef}
	for _, e := range o.entities {
		if e.Kind == "Group" || e.Kind == "Component" {
			subjects = append(subjects, e.Ref)
		}
	}
	qs := []yardstick.MetricQuery{{Names: yardstick.MetricNames(), Subjects: subjects, Window: w}}
	for _, s := range subjects[:8] {
		qs = append(qs, yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{s}, Window: w, Weekly: true})
	}
	return qs
}

func mustMetrics(t testing.TB, m *store.Metrics, qs []yardstick.MetricQuery) []map[yardstick.EntityRef]yardstick.MetricReport {
	t.Helper()
	var out []map[yardstick.EntityRef]yardstick.MetricReport
	for _, q := range qs {
		r, err := m.Metrics(context.Background(), q)
		if err != nil {
			t.Fatalf("Metrics(%d subjects) = %v", len(q.Subjects), err)
		}
		out = append(out, r)
	}
	return out
}

// figures compares metric values to nine digits: sums over shards add up in
// another order than on one server.
var figures = cmpopts.EquateApprox(0, 1e-9)

func TestMetricsEqualOneServer(t *testing.T) {
	db, single, w := newDBPair(t, "cl_metrics")
	ctx := context.Background()
	o := mustOrg(t, fixtures.GenConfig{Components: 30, Days: 70, Seed: 7})
	// The last tenth of the events arrives after a first refresh, so the
	// second refresh is an incremental one.
	late := o.events[len(o.events)*9/10:]
	early := org{entities: o.entities, events: o.events[:len(o.events)*9/10]}
	mustLoad(t, db, early)
	mustLoad(t, single, early)
	cfg := store.MetricsConfig{}
	mc, ms := store.NewMetrics(db, cfg), store.NewMetrics(single, cfg)
	for _, m := range []*store.Metrics{mc, ms} {
		if err := m.Refresh(ctx); err != nil {
			t.Fatalf("first Refresh() = %v", err)
		}
	}
	for _, d := range []*store.DB{db, single} {
		if err := d.WriteEvents(ctx, late); err != nil {
			t.Fatal(err)
		}
	}
	// A stale generation (gen 1, long gone) of two families on both shards:
	// the refresh drops both partitions in one ALTER ON CLUSTER.
	b, err := rawConn(t, db).PrepareBatch(ctx, "INSERT INTO metric_observations (gen, family, scope, t)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := b.Append(uint64(1), fmt.Sprint("stale", i%2), fmt.Sprintf("github:stale/%d", i), time.Unix(0, 0).UTC()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*store.Metrics{mc, ms} {
		if err := m.Refresh(ctx); err != nil {
			t.Fatalf("Refresh() = %v", err)
		}
	}
	var stale uint64
	if err := rawConn(t, db).QueryRow(ctx, "SELECT count() FROM metric_observations WHERE gen = 1").Scan(&stale); err != nil || stale != 0 {
		t.Errorf("rows of the stale generation after a refresh = %d, %v; want its partition dropped", stale, err)
	}
	// The cluster's reads take shard 1 in-process on the server the DSN names
	// first, its first replica: the figures below are those reads'.
	if got, want := db.OwnShardServer(), cluster.Nodes[0].Addr; got != want {
		t.Errorf("OwnShardServer() = %q; want %q, shard 1's first replica", got, want)
	}
	qs := metricQueries(o)
	want, got := mustMetrics(t, ms, qs), mustMetrics(t, mc, qs)
	nonZero := 0
	for _, r := range want[0] {
		nonZero += len(r.Values)
	}
	if nonZero < len(yardstick.MetricNames()) {
		t.Fatalf("one server computed only %d metric values; the generated org should give every metric", nonZero)
	}
	if diff := cmp.Diff(want, got, figures); diff != "" {
		t.Errorf("metrics on the cluster differ from one server's (-single +cluster):\n%s", diff)
	}
	// The evidence behind figures and their coverage read the observations
	// (and the failure links) as the figures do, after the incremental refresh.
	var component yardstick.EntityRef
	for _, e := range o.entities {
		if e.Kind == "Component" && component == "" {
			component = e.Ref
		}
	}
	evidenceRows := 0
	for _, subject := range []yardstick.EntityRef{yardstick.OrgRef, component} {
		for _, metric := range []string{yardstick.MetricChangeFailureRate, yardstick.MetricLeadTimeP50Hours, yardstick.MetricPRCycleTimeP50Hours, yardstick.MetricCIRuns} {
			se, err := ms.Evidence(ctx, metric, subject, qs[0].Window)
			if err != nil {
				t.Fatal(err)
			}
			ce, err := mc.Evidence(ctx, metric, subject, qs[0].Window)
			if err != nil {
				t.Fatal(err)
			}
			evidenceRows += len(se.Rows)
			if diff := cmp.Diff(se, ce, figures, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Evidence(%s, %s) on the cluster differs (-single +cluster):\n%s", metric, subject, diff)
			}
		}
		sc, err := ms.Coverage(ctx, subject, yardstick.MetricNames())
		if err != nil {
			t.Fatal(err)
		}
		cc, err := mc.Coverage(ctx, subject, yardstick.MetricNames())
		if err != nil {
			t.Fatal(err)
		}
		if len(sc) == 0 {
			t.Errorf("Coverage(%s) on one server is empty; the generated org covers every metric", subject)
		}
		if diff := cmp.Diff(sc, cc); diff != "" {
			t.Errorf("Coverage(%s) on the cluster differs (-single +cluster):\n%s", subject, diff)
		}
	}
	// Every entity's figures (scoring's read) join each shard's own scope
	// mappings on the shard.
	sb, err := ms.MetricsByEntity(ctx, yardstick.MetricNames(), qs[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := mc.MetricsByEntity(ctx, yardstick.MetricNames(), qs[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	if len(sb) < 10 {
		t.Errorf("MetricsByEntity on one server has figures for %d entities; the generated org has more", len(sb))
	}
	if diff := cmp.Diff(sb, cb, figures); diff != "" {
		t.Errorf("MetricsByEntity on the cluster differs (-single +cluster):\n%s", diff)
	}
	if evidenceRows == 0 {
		t.Error("one server gave no evidence rows; the generated org has rows behind every figure compared")
	}
	for _, subject := range []yardstick.EntityRef{yardstick.OrgRef, o.entities[len(o.entities)-1].Ref} {
		sw, err := ms.WorkflowStats(ctx, subject, qs[0].Window)
		if err != nil {
			t.Fatal(err)
		}
		cw, err := mc.WorkflowStats(ctx, subject, qs[0].Window)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sw, cw, figures, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("WorkflowStats(%s) on the cluster differs (-single +cluster):\n%s", subject, diff)
		}
	}
	w.check(t)
}

// TestOwnShardServerIsAFirstReplica checks which DSN server the metric reads
// take their shard in-process on: the first that is its shard's first replica
// in the cluster's config, found by port and by host name or address (the
// config names 127.0.0.1; a DSN may say localhost), and none when the DSN
// names only a second replica.
func TestOwnShardServerIsAFirstReplica(t *testing.T) {
	requireCluster(t)
	ctx := context.Background()
	db, _ := newClusterDB(t, "cl_ownshard")
	localhost := func(n *clustertest.Node) string {
		_, port, err := net.SplitHostPort(n.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return "localhost:" + port
	}
	second, first2 := cluster.Nodes[1], cluster.Nodes[2] // shard 1 replica 2, shard 2 replica 1
	for _, tc := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"a second replica named first", []string{second.Addr, first2.Addr}, first2.Addr},
		{"by host name", []string{localhost(first2)}, localhost(first2)},
		{"only a second replica", []string{second.Addr}, ""},
	} {
		s, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + strings.Join(tc.addrs, ",") + "/default", Database: db.Database(), Cluster: clustertest.Name})
		if err != nil {
			t.Fatalf("%s: open: %v", tc.name, err)
		}
		if got := s.OwnShardServer(); got != tc.want {
			t.Errorf("%s: OwnShardServer() = %q; want %q", tc.name, got, tc.want)
		}
		s.Close()
	}
}

// TestReadsGoOnWithoutAReplica stops the first replica of shard 1 (the server
// the DSN names first) and reads again through a store opened afterwards, as
// a restarted serve would. It runs last: the server is started again after.
func TestReadsGoOnWithoutAReplica(t *testing.T) {
	db, w := newClusterDB(t, "cl_failover")
	ctx := context.Background()
	o := mustOrg(t, fixtures.GenConfig{Components: 10, Days: 28, Seed: 9})
	mustLoad(t, db, o)
	cfg := store.MetricsConfig{}
	if err := store.NewMetrics(db, cfg).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	qs := metricQueries(o)[:2]
	before := mustMetrics(t, store.NewMetrics(db, cfg), qs)
	if got, want := db.OwnShardServer(), cluster.Nodes[0].Addr; got != want {
		t.Fatalf("OwnShardServer() = %q; want %q: the reads after the stop would not fall back", got, want)
	}
	counts, err := db.EventCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Replication of shard 1 must have caught up before its first replica goes.
	deadline := time.Now().Add(30 * time.Second)
	for _, table := range []string{"events_local", "metric_observations_local", "entities_local", "scope_mappings_local", "metric_refreshes_local"} {
		for {
			n := perNode(t, db, table)
			if n[0] == n[1] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: shard 1's replicas hold %d and %d rows after 30s", table, n[0], n[1])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	down := cluster.Nodes[0]
	down.Stop()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := down.Start(ctx); err != nil {
			t.Errorf("restart shard 1 replica 1: %v", err)
		}
	})
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	after, err := store.Open(octx, store.Config{DSN: cluster.DSN("default"), Database: db.Database(), Cluster: clustertest.Name})
	if err != nil {
		t.Fatalf("open the store with shard 1 replica 1 down: %v", err)
	}
	defer after.Close()
	gotCounts, err := after.EventCounts(ctx)
	if err != nil {
		t.Fatalf("EventCounts() with a replica down: %v", err)
	}
	if diff := cmp.Diff(counts, gotCounts); diff != "" {
		t.Errorf("EventCounts() with a replica down (-before +after):\n%s", diff)
	}
	got := mustMetrics(t, store.NewMetrics(after, cfg), qs)
	if diff := cmp.Diff(before, got, figures); diff != "" {
		t.Errorf("metrics with a replica down (-before +after):\n%s", diff)
	}
	// Shard 1's other replica is not its first: the new store reads shard 2
	// in-process on its first replica.
	if got, want := after.OwnShardServer(), cluster.Nodes[2].Addr; got != want {
		t.Errorf("OwnShardServer() with shard 1 replica 1 down = %q; want %q, shard 2's first replica", got, want)
	}
	// The store opened before the stop read shard 1 in-process on the server
	// that went; its reads go on through the DSN's other servers.
	got = mustMetrics(t, store.NewMetrics(db, cfg), qs)
	if diff := cmp.Diff(before, got, figures); diff != "" {
		t.Errorf("metrics through a store whose own-shard server stopped (-before +after):\n%s", diff)
	}
	w.mu.Lock()
	paused := slices.ContainsFunc(w.msgs, func(m string) bool { return strings.HasPrefix(m, "own-shard reads paused") })
	w.mu.Unlock()
	if !paused {
		t.Errorf("the store whose own-shard server stopped logged %q; want it to say own-shard reads paused", w.msgs)
	}
	ents, err := after.Entities(ctx)
	if err != nil || len(ents) != len(o.entities) {
		t.Errorf("Entities() with a replica down = %d entities, %v; want %d", len(ents), err, len(o.entities))
	}
}

// rawConn is a driver connection to the cluster's first server on db's
// database, for the checks that look beneath the store (engines, shards).
// The store exposes no connection of its own.
func rawConn(t testing.TB, db *store.DB) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(cluster.DSN(db.Database()))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
