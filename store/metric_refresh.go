package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"
)

// Metric queries read observations (metric_observations), not events: reading
// events with FINAL on every page view is too slow for dashboards, so a
// refresh turns events into observations, server-side (INSERT … SELECT).
//
// A full refresh computes every observation into a generation of its own. An
// incremental refresh recomputes only the keys (a pull request, a ticket, a
// commit, a deployment…) that events written since the previous refresh
// touch, in any version they had (keys.go: events.version is the unix
// nanosecond of the write, so a late event, a rewrite and a tombstone all
// touch their keys), into a generation of its own, and copies there each
// family's other current observations from its cut on, the earliest time a
// recomputed key's observation had or has: every family's current rows are a
// chain of time slices (slices.go). Failure attribution links signals and
// deployments across the scopes of an entity: it runs again for the scopes
// of every touched key, closed over shared entities, and the deployments
// whose links changed are recomputed too. Everything is rebuilt when the
// definitions or the configuration change (a new configuration key), when
// scope_mappings change (a re-homed repository moves failed-change
// attribution), and when too many generations pile up.
//
// Reads use the newest refresh of their configuration, and when there is none
// a read refreshes first. Nothing refreshes in the background: the one owner
// of refreshes is whoever calls Refresh (serve's metrics job; the demo before
// it scores).

// refreshFrom and refreshTo bound a refresh: all of DateTime's useful range.
var (
	refreshFrom = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)
	refreshTo   = time.Date(2105, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	// keepRefreshes is how many refreshes of each configuration keep their rows.
	keepRefreshes = 2
	// maxGenerations is how many generations the newest refresh may read
	// before the next refresh rebuilds everything into one.
	maxGenerations = 32
	// defaultWriteLag is how long a write may be in flight (its version taken,
	// its rows not yet visible): an incremental refresh re-reads that much
	// before the previous refresh started.
	defaultWriteLag = time.Minute
	// defaultRefreshTimeout: see MetricsConfig.RefreshTimeout.
	defaultRefreshTimeout = 30 * time.Minute
	// defaultRefreshParallelism: see MetricsConfig.RefreshParallelism.
	defaultRefreshParallelism = 4
)

// rebuildShare: when at least this share of the mapped scopes was written
// since the previous refresh, rebuilding everything costs no more than
// recomputing them, and leaves one generation to read.
var rebuildShare = 0.5

// coverageInsert records generation @gen's first observation of family
// @family in each scope (metric_coverage, what Metrics.Coverage reads). Each
// family's step runs it after its observations are in, side by side with the
// other steps: once for all families at the end, it read every observation
// of a full refresh after all else (0.7 s at 11M events). It groups by scope
// alone (gen and family are the query's own): 0.10 against 0.13 CPU-s a
// family at 11M events.
const coverageInsert = `INSERT INTO metric_coverage (gen, family, scope, first)
SELECT @gen, @family, scope, min(t) FROM metric_observations WHERE gen = @gen AND family = @family GROUP BY scope`

// observationsLayout names metric_observations' layout: a migration that
// creates the table again (1500_observations_by_family.sql) drops every
// generation, and naming it in definitionsHash makes the first refresh after
// it rebuild rather than read a refresh whose rows are gone.
const observationsLayout = "metric_observations: PARTITION BY (gen, family) ORDER BY t (migration 1500); metric_slices by family and time (2100)"

// definitionsHash changes whenever a family's SQL or columns change (and with
// what a refresh writes beside the observations, so that a new version's
// first refresh rebuilds them).
var definitionsHash = func() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", observationsLayout, coverageInsert)
	for _, s := range stages {
		fmt.Fprintf(h, "%s\n", s.insert(everything))
	}
	for _, f := range families {
		fmt.Fprintf(h, "%s|%s|%q|%s|%s\n", f.name, f.base(everything), f.cols, f.label, f.ref)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}()

// configKey identifies the configuration observations were computed with.
func (m *Metrics) configKey() string {
	envs := append([]string(nil), m.cfg.ProductionEnvironments...)
	sort.Strings(envs)
	sum := sha256.Sum256([]byte(strings.Join(envs, ",") + "|" + m.cfg.FailureWindow.String() + "|" + definitionsHash))
	return hex.EncodeToString(sum[:8])
}

// obsGeneration is what reads need to find the current observations.
type obsGeneration struct {
	refresh uint64           // the newest refresh's id
	base    uint64           // the full refresh under it
	chains  map[string]chain // the families recomputed since base, by family (slices.go)
	at      time.Time
}

// mappings selects cols of every current scope mapping, for a filter or join
// of observations that runs on each shard (coSharded).
func (m *Metrics) mappings(cols string) string {
	return "SELECT " + cols + " FROM " + m.db.coSharded("scope_mappings") + " FINAL WHERE deleted = 0"
}

// mappedScopes selects every mapped scope (mappings).
func (m *Metrics) mappedScopes() string { return m.mappings("scope") }

func (g obsGeneration) args(config string) []any {
	return append([]any{
		clickhouse.Named("refresh", g.refresh),
		clickhouse.Named("base", g.base),
		clickhouse.Named("config", config),
	}, g.chainArgs("")...)
}

// generation returns the observations to read, refreshing first (in the
// caller's context) when there are none. Keeping them fresh is the caller's:
// serve's metrics job calls Refresh on its interval.
func (m *Metrics) generation(ctx context.Context) (obsGeneration, error) {
	g, _, err := m.latestRefresh(ctx)
	if err != nil {
		return g, err
	}
	if g.refresh == 0 {
		res, err := m.refresh(ctx, false)
		if err != nil {
			return g, err
		}
		return res.gen, nil
	}
	return g, nil
}

// latestRefresh returns the newest refresh of the configuration (refresh 0
// when there is none) and the hash of the scope mappings it used.
func (m *Metrics) latestRefresh(ctx context.Context) (obsGeneration, uint64, error) {
	var (
		g        obsGeneration
		mappings uint64
	)
	ctx = ownShardRead(ctx)
	err := m.db.queryEach(ctx, `SELECT gen, base, at, mappings FROM metric_refreshes WHERE config = @config ORDER BY gen DESC LIMIT 1`,
		[]any{clickhouse.Named("config", m.configKey())}, func(row scanner) error {
			return row.Scan(&g.refresh, &g.base, &g.at, &mappings)
		})
	if err != nil {
		return g, 0, fmt.Errorf("read metric refresh: %w", err)
	}
	if g.refresh == 0 {
		return g, 0, nil
	}
	if g.refresh == g.base {
		return g, mappings, nil // a full refresh: one generation
	}
	if g.chains, err = m.readChains(ctx, m.configKey(), g.refresh); err != nil {
		return g, 0, err
	}
	return g, mappings, nil
}

// RefreshResult says what a refresh did.
type RefreshResult struct {
	Full bool // everything was recomputed
	// TouchedKeys counts, by kind (keys.go), the keys an incremental refresh
	// recomputed: those events written since the previous refresh touch,
	// the commits of a scope whose baseline may have moved, and the
	// deployments whose failure links changed.
	TouchedKeys map[string]int
	// FailureScopes are the scopes whose failure signals an incremental
	// refresh read: the scopes of its touched keys, closed over shared
	// entities. FailureSignals are those of their signals whose links the
	// touched keys can move, which it attributed again (attribution_touched.go).
	FailureScopes  int
	FailureSignals int
	MappedScopes   int // scopes in scope_mappings
	FailurePasses  int // passes of failure attribution (failureChunkScopes)
	// Rows are the observations the refresh wrote, recomputed or copied.
	Rows     uint64
	Cuts     map[string]time.Time     // where each recomputed family's new slice starts
	Duration time.Duration            //
	Families map[string]time.Duration // time each step took: the stages, the failure links, each family; "touch" before them
	gen      obsGeneration
}

// Keys is how many keys the refresh recomputed, of every kind.
func (r RefreshResult) Keys() int {
	n := 0
	for _, c := range r.TouchedKeys {
		n += c
	}
	return n
}

// Refresh brings the observations up to date with events: incrementally when
// it can (the keys events written since the previous refresh touch), in full
// otherwise. serve's metrics job runs it on a schedule (scoring waits for the
// first). Concurrent calls run one after the other.
func (m *Metrics) Refresh(ctx context.Context) error {
	_, err := m.refresh(ctx, false)
	return err
}

// RefreshStats is Refresh returning what it did.
func (m *Metrics) RefreshStats(ctx context.Context) (RefreshResult, error) {
	return m.refresh(ctx, false)
}

// Rebuild recomputes every observation from all events.
func (m *Metrics) Rebuild(ctx context.Context) error {
	_, err := m.refresh(ctx, true)
	return err
}

// keyedRefresh is what an incremental refresh recomputes: the keys in
// generation gen's refresh_keys (and their events' identities in
// refresh_ids), and the failure links of failScopes, over the chains of prev.
type keyedRefresh struct {
	prev       obsGeneration
	failScopes []string
	relinked   int // failure signals attributed again
}

func (m *Metrics) refresh(ctx context.Context, full bool) (RefreshResult, error) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	ctx = withCallTimeout(ctx, m.cfg.RefreshTimeout)
	start := m.db.now()
	gen := uint64(start.UnixNano())
	config := m.configKey()
	res := RefreshResult{}

	mappings, err := m.readMappings(ctx)
	if err != nil {
		return res, err
	}
	res.MappedScopes = len(mappings.entities)
	prev, prevHash, err := m.latestRefresh(ctx)
	if err != nil {
		return res, err
	}
	switch {
	case full:
	case prev.refresh == 0:
		full = true
	case prevHash != mappings.hash:
		m.db.logger.Info("scope mappings changed: rebuilding metric observations")
		full = true
	case len(prev.generations()) >= maxGenerations:
		full = true
	}
	res.Full = full
	args := m.refreshArgs(gen, config)
	// refresh_keys and refresh_ids are read only by this refresh.
	defer m.dropRefreshPartitions(ctx, gen, "refresh_keys", "refresh_ids")
	base, chains := gen, map[string]chain(nil)
	var (
		keyed   *keyedRefresh
		touched time.Duration
	)
	if !full {
		base, chains = prev.base, prev.chains
		since := prev.refresh - min(prev.refresh, uint64(m.cfg.WriteLag))
		if keyed, res.TouchedKeys, err = m.touch(ctx, gen, since, prev, args, mappings); err != nil {
			return res, err
		}
		res.FailureScopes = len(keyed.failScopes)
		touched = m.db.now().Sub(start)
	}
	if full || res.Keys() > 0 {
		var cuts map[string]time.Time
		if res.Families, res.FailurePasses, cuts, err = m.computeFamilies(ctx, gen, keyed, args, mappings); err != nil {
			return res, err
		}
		if keyed != nil {
			res.Families[touchStep] = touched
			res.Cuts, res.FailureSignals = cuts, keyed.relinked
			chains = maps.Clone(chains)
			if chains == nil {
				chains = map[string]chain{}
			}
			for f, cut := range cuts {
				chains[f] = prev.chainOf(f).cutAt(gen, cut)
			}
		}
		if err := m.db.conn.QueryRow(ctx, `SELECT count() FROM metric_observations WHERE gen = @gen`, clickhouse.Named("gen", gen)).Scan(&res.Rows); err != nil {
			return res, fmt.Errorf("count metric observations: %w", err)
		}
	}
	if err := m.writeChains(ctx, config, gen, chains); err != nil {
		return res, err
	}
	err = m.db.insert(ctx, "INSERT INTO metric_refreshes (config, gen, base, at, mappings, rows, scopes)", func(b driver.Batch) error {
		return b.Append(config, gen, base, start.UTC(), mappings.hash, res.Rows, uint64(res.FailureScopes))
	})
	if err != nil {
		return res, fmt.Errorf("record metric refresh: %w", err)
	}
	if res.gen, _, err = m.latestRefresh(ctx); err != nil {
		return res, err
	}
	if err := m.dropOldGenerations(ctx); err != nil {
		m.db.logger.Warn("drop old metric generations", "err", err)
	}
	res.Duration = m.db.now().Sub(start)
	m.db.logger.Info("metrics refreshed", "full", full, "keys", res.Keys(), "observations", res.Rows, "duration", res.Duration)
	return res, nil
}

// touch writes generation gen's touched keys (keys.go) and the scopes whose
// failure links it attributes again, and counts the keys by kind.
func (m *Metrics) touch(ctx context.Context, gen, since uint64, prev obsGeneration, args []any, sm scopeMappings) (*keyedRefresh, map[string]int, error) {
	if err := m.touchKeys(ctx, since, prev.refresh, args); err != nil {
		return nil, nil, err
	}
	counts := map[string]int{}
	var scopes []string
	err := m.db.queryEach(ctx, `SELECT kind, scope, uniqExact(key) FROM refresh_keys WHERE gen = @gen AND kind NOT IN ('`+failureScopeKind+`', '`+baselineScopeKind+`') GROUP BY kind, scope`, []any{clickhouse.Named("gen", gen)}, func(row scanner) error {
		var (
			kind, scope string
			n           uint64
		)
		if err := row.Scan(&kind, &scope, &n); err != nil {
			return err
		}
		counts[kind] += int(n)
		scopes = append(scopes, scope)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the keys touched since %d: %w", since, err)
	}
	slices.Sort(scopes)
	k := &keyedRefresh{prev: prev, failScopes: sm.closure(map[string]bool{}, slices.Compact(scopes)...)}
	slices.Sort(k.failScopes)
	if len(k.failScopes) > 0 {
		err := m.db.insert(ctx, "INSERT INTO refresh_keys (gen, kind, scope, key)", func(b driver.Batch) error {
			for _, s := range k.failScopes {
				if err := b.Append(gen, failureScopeKind, s, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("record the scopes of the keys touched since %d: %w", since, err)
		}
	}
	return k, counts, nil
}

// dropRefreshPartitions drops generation gen's rows of tables that only its
// refresh reads, whether it succeeded or not.
func (m *Metrics) dropRefreshPartitions(ctx context.Context, gen uint64, tables ...string) {
	for _, t := range tables {
		if err := m.db.conn.Exec(context.WithoutCancel(ctx), m.db.alterTable(t)+` DROP PARTITION ?`, gen); err != nil {
			m.db.logger.Warn("drop a metric refresh's working rows", "table", t, "err", err)
		}
	}
}

// refreshArgs are the bound parameters of generation gen's refresh queries.
func (m *Metrics) refreshArgs(gen uint64, config string) []any {
	return []any{
		clickhouse.Named("gen", gen),
		clickhouse.Named("config", config),
		clickhouse.Named("from", refreshFrom),
		clickhouse.Named("to", refreshTo),
		clickhouse.Named("prod", clickhouse.GroupSet{Value: anySlice(m.cfg.ProductionEnvironments)}),
		clickhouse.Named("fail", uint32(m.cfg.FailureWindow/time.Second)),
	}
}

// failureLinks names the refresh step that writes deployment_failures.
const failureLinks = "failure_links"

// touchStep names, in RefreshResult.Families, an incremental refresh's
// finding of its touched keys, before every other step.
const touchStep = "touch"

// computeFamilies writes generation gen's observations: every one, or with
// keyed those of the touched keys, with each family's other current
// observations from its cut on (returned by family). First what families read
// (the failure links, the stages), then every family, up to
// RefreshParallelism queries at a time. ClickHouse reads a FINAL query in one
// thread, so one query at a time would use one core of the server. It
// returns each step's duration.
func (m *Metrics) computeFamilies(ctx context.Context, gen uint64, keyed *keyedRefresh, args []any, sm scopeMappings) (map[string]time.Duration, int, map[string]time.Time, error) {
	type step struct {
		name  string
		after []string
		first bool // keeps its place before the steps that wait for none
		run   func(ctx context.Context) error
	}
	filter := everything
	if keyed != nil {
		filter = readFilter{keyed: true}
	}
	exec := func(what, q string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if err := m.db.conn.Exec(withRefreshSettings(ctx), q, args...); err != nil {
				return fmt.Errorf("refresh %s: %w", what, err)
			}
			return nil
		}
	}
	// Steps others wait for come first, the stages (the longest) first of
	// all, after the first deployments that one of them reads: a step starts
	// only once every step before it has started, so one waiting for another
	// never holds the slot that step needs.
	steps := []step{{name: firstDeploymentsStep, first: true, run: func(ctx context.Context) error {
		if keyed == nil {
			return exec("first deployments", fillFirstDeployments("1"))(ctx)
		}
		// The previous refresh's, but where the baseline may have moved.
		if err := m.db.conn.Exec(ctx, keptFirstDeployments, append(slices.Clip(args), clickhouse.Named("prev", keyed.prev.refresh))...); err != nil {
			return fmt.Errorf("refresh: keep the first deployments: %w", err)
		}
		return exec("first deployments", fillFirstDeployments(touchedScope(baselineScopeKind)))(ctx)
	}}}
	for _, st := range stages {
		steps = append(steps, step{name: st.name, after: st.after, first: true, run: exec("stage "+st.name, st.insert(filter))})
	}
	var passes int
	steps = append(steps, step{name: failureLinks, run: func(ctx context.Context) (err error) {
		if keyed == nil {
			passes, err = m.refreshFailures(ctx, gen, args, sm)
			return err
		}
		if len(keyed.failScopes) > 0 {
			if keyed.relinked, err = m.refreshTouchedFailures(ctx, gen, keyed, args, sm); err != nil {
				return err
			}
		}
		if err := m.touchChangedDeployments(ctx, keyed, args); err != nil {
			return err
		}
		return m.keepFailureLinks(ctx, keyed, args)
	}})
	var (
		mu   sync.Mutex
		cuts = map[string]time.Time{}
	)
	for _, f := range families {
		fargs := append(slices.Clip(args), clickhouse.Named("family", f.name))
		run := func(ctx context.Context) error {
			if err := m.db.conn.Exec(withRefreshSettings(ctx), familyInsert(f, filter), fargs...); err != nil {
				return fmt.Errorf("refresh metric family %s: %w", f.name, err)
			}
			if keyed != nil {
				cut, ok, err := m.sliceFamily(ctx, f, keyed, fargs)
				if err != nil || !ok {
					return err
				}
				mu.Lock()
				cuts[f.name] = cut
				mu.Unlock()
			}
			if err := m.db.conn.Exec(ctx, coverageInsert, fargs...); err != nil {
				return fmt.Errorf("record metric coverage of %s: %w", f.name, err)
			}
			return nil
		}
		steps = append(steps, step{name: f.name, after: f.after, run: run})
	}
	// Then the steps that wait for none, and last those that wait: while the
	// stages run, the families that read events take the other slots, rather
	// than families waiting for a stage holding them (11M events, 2 cores: ci
	// and tickets waited behind the pull request families until the pull
	// request stage ended, and ran in the refresh's last seconds).
	waits := func(s step) int {
		if s.first {
			return 0
		}
		return min(len(s.after), 1)
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(waits(a), waits(b)) })

	var (
		durations = map[string]time.Duration{}
		done      = map[string]chan struct{}{}
	)
	for _, s := range steps {
		done[s.name] = make(chan struct{})
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(m.cfg.RefreshParallelism)
	for _, s := range steps {
		g.Go(func() error {
			for _, dep := range s.after {
				select {
				case <-done[dep]:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			start := m.db.now()
			if err := s.run(ctx); err != nil {
				return err
			}
			mu.Lock()
			durations[s.name] = m.db.now().Sub(start)
			mu.Unlock()
			close(done[s.name])
			return nil
		})
	}
	err := g.Wait()
	// The stages are read only by this refresh.
	m.dropRefreshPartitions(ctx, gen, "refresh_stages")
	if err != nil {
		return nil, 0, nil, err
	}
	return durations, passes, cuts, nil
}

// sliceFamily takes family f's cut in generation @gen, where the observations
// of the keys it recomputed start (the earliest time any of them had or has),
// and copies f's other current observations from the cut on into @gen, with,
// for the deployments family, the failure links of the scopes not attributed
// again. ok is false when f recomputed no key that has or had an observation:
// its chain stays as it was.
func (m *Metrics) sliceFamily(ctx context.Context, f family, k *keyedRefresh, args []any) (cut time.Time, ok bool, err error) {
	prev, name := k.prev.chainOf(f.name), chainName("p", f.name)
	args = append(slices.Clip(args), prev.args(name)...)
	// The key hashes go in PREWHERE, so that of the family's current rows
	// only the touched keys' times are read (10M events, pipelines, by hand:
	// 21 MiB read against 40 with the condition in WHERE, which read every
	// row's time too). The new rows are the touched keys' as well, but are
	// taken by generation rather than trusted to hash alike.
	var n uint64
	err = m.db.conn.QueryRow(ctx, `SELECT count(), min(t) FROM metric_observations
PREWHERE gen = @gen OR `+touchedKeyHash(f.kind, "kh")+`
WHERE family = @family AND (gen = @gen OR `+prev.cond("t", name)+`)`, args...).Scan(&n, &cut)
	if err != nil {
		return cut, false, fmt.Errorf("refresh metric family %s: find its cut: %w", f.name, err)
	}
	if n == 0 {
		return cut, false, nil
	}
	if cut.Unix() <= 0 {
		cut = time.Time{}
	}
	cut = cut.UTC()
	args = append(args, clickhouse.Named("cut", cut))
	err = m.db.conn.Exec(withRefreshSettings(ctx), `INSERT INTO metric_observations (gen, family, scope, t, v1, v2, v3, v4, label, ref, kh)
SELECT @gen, family, scope, t, v1, v2, v3, v4, label, ref, kh FROM metric_observations
WHERE family = @family AND `+prev.cond("t", name)+` AND t >= @cut AND NOT (`+touchedKeyHash(f.kind, "kh")+`)`, args...)
	if err != nil {
		return cut, false, fmt.Errorf("refresh metric family %s: copy its observations from %s on: %w", f.name, cut.Format(time.RFC3339), err)
	}
	return cut, true, nil
}

// keepFailureLinks copies into generation @gen the current failure links of
// the signals it did not attribute again, all of them: the deployments family
// recomputes a touched deployment from @gen's links, and its links may be of
// any signal. (Links are few beside observations: 41,000 at 10M events.)
func (m *Metrics) keepFailureLinks(ctx context.Context, k *keyedRefresh, args []any) error {
	prev, name := k.prev.chainOf(deployments), chainName("p", deployments)
	args = append(slices.Clip(args), prev.args(name)...)
	err := m.db.conn.Exec(withRefreshSettings(ctx), `INSERT INTO deployment_failures (gen, deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis)
SELECT @gen, deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis FROM deployment_failures
WHERE `+prev.cond("deploy_time", name)+` AND NOT `+inFailureSignals, args...)
	if err != nil {
		return fmt.Errorf("refresh: keep the failure links of the signals not attributed again: %w", err)
	}
	return nil
}

// touchChangedDeployments touches, in generation @gen, the deployments whose
// failure links (attributed again for the failure scopes) differ from their
// current ones, and their events' identities: their observations change
// though their events did not.
func (m *Metrics) touchChangedDeployments(ctx context.Context, k *keyedRefresh, args []any) error {
	prev, name := k.prev.chainOf(deployments), chainName("p", deployments)
	args = append(slices.Clip(args), prev.args(name)...)
	err := m.db.conn.Exec(withRefreshSettings(ctx), `INSERT INTO refresh_keys (gen, kind, scope, key)
SELECT DISTINCT @gen, '`+deploymentKind+`', deploy_scope, deploy_id FROM (
  SELECT deploy_scope, deploy_id, sum(if(gen = @gen, 1, -1)) AS d FROM deployment_failures
  WHERE `+inFailureSignals+` AND (gen = @gen OR `+prev.cond("deploy_time", name)+`)
  GROUP BY deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis
  HAVING d != 0
)`, args...)
	if err != nil {
		return fmt.Errorf("refresh: find the deployments whose failure links changed: %w", err)
	}
	if err := m.db.conn.Exec(withRefreshSettings(ctx), touchedIDs(deploymentKind), args...); err != nil {
		return fmt.Errorf("refresh: the events of the deployments whose failure links changed: %w", err)
	}
	return nil
}

// refreshGroupByMemory is how much memory a refresh query's GROUP BY may
// hold before it spills to disk. Stages group every pull request and commit
// of the history at once: at 100M events they passed the 4 GB a query may
// use on the server Yardstick starts (max_memory_usage, users.xml).
const refreshGroupByMemory = 1 << 30

// refreshInsertBlockRows is the rows a refresh's INSERT … SELECT gathers into
// one block, and so one part, before it sorts and writes them (ClickHouse's
// default is 1,048,576). ClickHouse 18.16 allocates 64 MiB and more outside
// its allocator, fault by fault in 4 KiB pages, and a sort of a million rows
// no longer fits a cache: at 11M events a full refresh took 19.8–21.3 CPU-s
// with blocks of 262,144 rows against 24.8–29.1 with the default (three runs
// each, interleaved; 131,072: 19.6–21.7, 524,288: 23.1–23.6), and 14.9–15.7 s
// against 16.5–18.8 s (query CPU, system.query_log). A family's rows land in
// a few parts, merged in the background; the server's own CPU over a refresh
// and its merges (/proc) was 27.2–32.5 s against 29.8–31.3, medians 27.8 and
// 29.8, in three more pairs (wall 14.4–17.8 s against 16.4–17.9 s).
const refreshInsertBlockRows = 262144

// withRefreshSettings sets a refresh query's settings.
func withRefreshSettings(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_bytes_before_external_group_by": refreshGroupByMemory,
		"min_insert_block_size_rows":         refreshInsertBlockRows,
	}))
}

// familyInsert is the INSERT … SELECT that stores a family's observations of
// what rf selects.
func familyInsert(f family, rf readFilter) string {
	var vals []string
	for i := 0; i < 4; i++ {
		if i < len(f.cols) {
			vals = append(vals, "toFloat64("+f.cols[i]+")")
		} else {
			vals = append(vals, "toFloat64(0)")
		}
	}
	label, ref := "''", "''"
	if f.label != "" {
		label = f.label
	}
	if f.ref != "" {
		ref = "toString(" + f.ref + ")"
	}
	return `INSERT INTO metric_observations (gen, family, scope, t, v1, v2, v3, v4, label, ref)
SELECT @gen, @family, scope, t, ` + strings.Join(vals, ", ") + `, ` + label + `, ` + ref + ` FROM (
` + f.base(rf) + `
)`
}

// scopeMappings is scope_mappings as the refresh needs it.
type scopeMappings struct {
	entities map[string][]string // scope → entities
	scopes   map[string][]string // entity → scopes
	hash     uint64
}

// sameEntity returns the scopes mapped to an entity scope is mapped to
// (scope among them), sorted.
func (sm scopeMappings) sameEntity(scope string) []string {
	var out []string
	for _, e := range sm.entities[scope] {
		out = append(out, sm.scopes[e]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// closure returns from, with every scope linked to one of them through shared
// entities (and to those in turn) that seen does not hold yet, and adds them
// to seen.
func (sm scopeMappings) closure(seen map[string]bool, from ...string) []string {
	var out []string
	for _, s := range from {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, e := range sm.entities[out[i]] {
			for _, s := range sm.scopes[e] {
				if !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// chunks splits scopes, closed over shared entities, into chunks of whole
// groups (scopes linked through shared entities, and theirs in turn) of about
// n scopes each: a group larger than n is a chunk of its own.
func (sm scopeMappings) chunks(scopes []string, n int) [][]string {
	scopes = slices.Sorted(slices.Values(scopes))
	seen := make(map[string]bool, len(scopes))
	var (
		out   [][]string
		chunk []string
	)
	for _, start := range scopes {
		if seen[start] {
			continue
		}
		group := sm.closure(seen, start)
		if len(chunk) > 0 && len(chunk)+len(group) > n {
			out, chunk = append(out, chunk), nil
		}
		chunk = append(chunk, group...)
	}
	if len(chunk) > 0 {
		out = append(out, chunk)
	}
	return out
}

func (m *Metrics) readMappings(ctx context.Context) (scopeMappings, error) {
	sm := scopeMappings{entities: map[string][]string{}, scopes: map[string][]string{}}
	h := sha256.New()
	err := m.db.queryEach(ctx, `SELECT scope, entity FROM scope_mappings FINAL WHERE deleted = 0 ORDER BY scope, entity`, nil, func(row scanner) error {
		var scope, entity string
		if err := row.Scan(&scope, &entity); err != nil {
			return err
		}
		sm.entities[scope] = append(sm.entities[scope], entity)
		sm.scopes[entity] = append(sm.scopes[entity], scope)
		fmt.Fprintf(h, "%q %q\n", scope, entity)
		return nil
	})
	if err != nil {
		return sm, fmt.Errorf("read scope mappings for refresh: %w", err)
	}
	sum := h.Sum(nil)
	for _, b := range sum[:8] {
		sm.hash = sm.hash<<8 | uint64(b)
	}
	return sm, nil
}

// dropOldGenerations drops the observations and slice chains that none of
// the newest keepRefreshes refreshes of any configuration reads, once they
// are ten minutes old (so a refresh in progress elsewhere keeps its rows).
func (m *Metrics) dropOldGenerations(ctx context.Context) error {
	keepObs, keepMaps := map[uint64]bool{}, map[uint64]bool{}
	perConfig := map[string]int{}
	var kept []any
	err := m.db.queryEach(ctx, `SELECT config, gen, base FROM metric_refreshes ORDER BY config, gen DESC`, nil, func(row scanner) error {
		var (
			config    string
			gen, base uint64
		)
		if err := row.Scan(&config, &gen, &base); err != nil {
			return err
		}
		if perConfig[config] < keepRefreshes {
			keepObs[gen], keepObs[base], keepMaps[gen] = true, true, true
			kept = append(kept, gen)
		}
		perConfig[config]++
		return nil
	})
	if err != nil {
		return err
	}
	if len(kept) > 0 {
		err := m.db.queryEach(ctx, `SELECT DISTINCT sgen FROM metric_slices WHERE gen IN @kept`, []any{clickhouse.Named("kept", clickhouse.GroupSet{Value: kept})}, func(row scanner) error {
			g, err := scanOne[uint64](row)
			keepObs[g] = true
			return err
		})
		if err != nil {
			return err
		}
	}
	cutoff := uint64(m.db.now().Add(-10 * time.Minute).UnixNano())
	for _, t := range []struct {
		table string
		keep  map[uint64]bool
	}{{"metric_observations", keepObs}, {"deployment_failures", keepObs}, {"metric_coverage", keepObs}, {"metric_slices", keepMaps}, {"first_deployments", keepMaps},
		// An interrupted refresh's working rows; a finished one drops its own.
		{"refresh_stages", nil}, {"refresh_keys", nil}, {"refresh_ids", nil}} {
		drop, err := m.partitionsToDrop(ctx, t.table, t.keep, cutoff)
		if err != nil {
			return err
		}
		if len(drop) == 0 {
			continue
		}
		// One ALTER drops them all: metric_observations has a partition per
		// family of each generation, and in cluster mode each ALTER is one
		// distributed DDL. Table names are the constants above; the
		// partitions are bound.
		drops, ids := make([]string, len(drop)), make([]any, len(drop))
		for i, p := range drop {
			drops[i], ids[i] = "DROP PARTITION ID ?", p.id
		}
		if err := m.db.conn.Exec(ctx, m.db.alterTable(t.table)+" "+strings.Join(drops, ", "), ids...); err != nil {
			return fmt.Errorf("drop %d old generations of %s (oldest %d): %w", len(drop), t.table, drop[0].gen, err)
		}
	}
	return nil
}

// genPartition is a partition of a table partitioned by generation: by gen
// alone, or by (gen, family) (metric_observations), whose partition reads
// "(gen,'family')".
type genPartition struct {
	id  string // system.parts' partition_id, what DROP PARTITION ID takes
	gen uint64
}

func (m *Metrics) partitionsToDrop(ctx context.Context, table string, keep map[uint64]bool, cutoff uint64) ([]genPartition, error) {
	parts, err := queryRows(ctx, m.db, "read partitions of "+table, `SELECT DISTINCT partition_id, partition FROM `+m.db.partsTable()+` WHERE database = @db AND table = @table AND active`,
		[]any{clickhouse.Named("db", m.db.database), clickhouse.Named("table", m.db.localTable(table))}, func(row scanner) (genPartition, error) {
			var (
				p         genPartition
				partition string
			)
			if err := row.Scan(&p.id, &partition); err != nil {
				return p, err
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(partition, "("), ",")
			p.gen, _ = strconv.ParseUint(strings.Trim(first, "'"), 10, 64)
			return p, nil
		})
	if err != nil {
		return nil, err
	}
	var drop []genPartition
	for _, p := range parts {
		if p.gen != 0 && !keep[p.gen] && p.gen < cutoff {
			drop = append(drop, p)
		}
	}
	return drop, nil
}
