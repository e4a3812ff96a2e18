package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Metric queries read observations (metric_observations), not events: reading
// events with FINAL on every page view is too slow for dashboards, so Refresh
// turns events into observations once, server-side (INSERT … SELECT), into a new
// generation. Reads use the newest generation of their configuration; when it
// is older than MetricsConfig.MaxAge a refresh starts in the background, and
// when there is none a read refreshes first.

// refreshFrom and refreshTo bound a refresh: all of DateTime's useful range.
var (
	refreshFrom = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)
	refreshTo   = time.Date(2105, 1, 1, 0, 0, 0, 0, time.UTC)
)

// keepGenerations is how many generations of each configuration stay.
const keepGenerations = 2

// configKey identifies the configuration observations were computed with.
func (m *Metrics) configKey() string {
	envs := append([]string(nil), m.cfg.ProductionEnvironments...)
	sort.Strings(envs)
	sum := sha256.Sum256([]byte(strings.Join(envs, ",") + "|" + m.cfg.FailureWindow.String() + "|v2"))
	return hex.EncodeToString(sum[:8])
}

// generation returns the newest generation to read, refreshing first when
// there is none and in the background when it is stale.
func (m *Metrics) generation(ctx context.Context) (uint64, error) {
	gen, at, err := m.latestGeneration(ctx)
	if err != nil {
		return 0, err
	}
	if gen == 0 {
		return m.refresh(ctx)
	}
	if m.db.now().Sub(at) > m.cfg.MaxAge && m.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer m.refreshing.Store(false)
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			if _, err := m.refresh(rctx); err != nil {
				m.db.logger.Warn("metric refresh failed", "err", err)
			}
		}()
	}
	return gen, nil
}

func (m *Metrics) latestGeneration(ctx context.Context) (uint64, time.Time, error) {
	rows, err := m.db.conn.Query(ctx, `SELECT gen, at FROM metric_generations WHERE config = @config ORDER BY gen DESC LIMIT 1`,
		clickhouse.Named("config", m.configKey()))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read metric generation: %w", err)
	}
	defer rows.Close()
	var (
		gen uint64
		at  time.Time
	)
	if rows.Next() {
		if err := rows.Scan(&gen, &at); err != nil {
			return 0, time.Time{}, fmt.Errorf("read metric generation: %w", err)
		}
	}
	return gen, at, rows.Err()
}

// Refresh recomputes every metric family's observations from events into a
// new generation, which reads use from then on. serve runs it on a schedule
// and before scoring; reads also start it when the newest generation is older
// than MaxAge. Concurrent calls run one after the other.
func (m *Metrics) Refresh(ctx context.Context) error {
	_, err := m.refresh(ctx)
	return err
}

func (m *Metrics) refresh(ctx context.Context) (uint64, error) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	start := m.db.now()
	gen := uint64(start.UnixNano())
	args := []any{
		clickhouse.Named("gen", gen),
		clickhouse.Named("from", refreshFrom),
		clickhouse.Named("to", refreshTo),
		clickhouse.Named("prod", clickhouse.GroupSet{Value: anySlice(m.cfg.ProductionEnvironments)}),
		clickhouse.Named("fail", uint32(m.cfg.FailureWindow/time.Second)),
	}
	if err := m.refreshFailures(ctx, gen); err != nil {
		return 0, err
	}
	for _, f := range families {
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
		q := `INSERT INTO metric_observations (gen, family, scope, t, v1, v2, v3, v4, label, ref)
SELECT @gen, @family, scope, t, ` + strings.Join(vals, ", ") + `, ` + label + `, ` + ref + ` FROM (
` + f.base("1") + `
)`
		if err := m.db.conn.Exec(ctx, q, append(args, clickhouse.Named("family", f.name))...); err != nil {
			return 0, fmt.Errorf("refresh metric family %s: %w", f.name, err)
		}
	}
	var rowsN uint64
	if err := m.db.conn.QueryRow(ctx, `SELECT count() FROM metric_observations WHERE gen = @gen`, clickhouse.Named("gen", gen)).Scan(&rowsN); err != nil {
		return 0, fmt.Errorf("count metric observations: %w", err)
	}
	err := m.db.insert(ctx, "INSERT INTO metric_generations (config, gen, at, rows)", func(b driver.Batch) error {
		return b.Append(m.configKey(), gen, start.UTC(), rowsN)
	})
	if err != nil {
		return 0, fmt.Errorf("record metric generation: %w", err)
	}
	if err := m.dropOldGenerations(ctx); err != nil {
		m.db.logger.Warn("drop old metric generations", "err", err)
	}
	m.db.logger.Info("metrics refreshed", "observations", rowsN, "duration", m.db.now().Sub(start))
	return gen, nil
}

// dropOldGenerations drops the partitions of generations that are not among
// the newest keepGenerations of any configuration, once they are ten minutes
// old (so a refresh in progress elsewhere keeps its rows).
func (m *Metrics) dropOldGenerations(ctx context.Context) error {
	keep := map[uint64]bool{}
	rows, err := m.db.conn.Query(ctx, `SELECT config, gen FROM metric_generations ORDER BY config, gen DESC`)
	if err != nil {
		return err
	}
	perConfig := map[string]int{}
	for rows.Next() {
		var (
			config string
			gen    uint64
		)
		if err := rows.Scan(&config, &gen); err != nil {
			rows.Close()
			return err
		}
		if perConfig[config] < keepGenerations {
			keep[gen] = true
		}
		perConfig[config]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	prows, err := m.db.conn.Query(ctx, `SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = 'metric_observations' AND active`)
	if err != nil {
		return err
	}
	var drop []uint64
	cutoff := uint64(m.db.now().Add(-10 * time.Minute).UnixNano())
	for prows.Next() {
		var p string
		if err := prows.Scan(&p); err != nil {
			prows.Close()
			return err
		}
		gen, err := strconv.ParseUint(strings.Trim(p, "'"), 10, 64)
		if err != nil {
			continue
		}
		if !keep[gen] && gen < cutoff {
			drop = append(drop, gen)
		}
	}
	prows.Close()
	for _, gen := range drop {
		if err := m.db.conn.Exec(ctx, `ALTER TABLE metric_observations DROP PARTITION ?`, gen); err != nil {
			return fmt.Errorf("drop metric generation %d: %w", gen, err)
		}
		// The failure links of a generation go with its observations.
		if err := m.db.conn.Exec(ctx, `ALTER TABLE deployment_failures DROP PARTITION ?`, gen); err != nil {
			return fmt.Errorf("drop failure links of generation %d: %w", gen, err)
		}
	}
	return nil
}
