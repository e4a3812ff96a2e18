package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// MaxEvidenceRows bounds one evidence answer; Evidence.Truncated says when
// there were more.
const MaxEvidenceRows = 5000

// Evidence returns the observations behind metric for subject over w: the
// rows the figure was computed from, in time order, and for the change
// failure rate the failures attributed to each deployment. It returns an
// error wrapping yardstick.ErrNotFound for an unknown metric or subject.
func (m *Metrics) Evidence(ctx context.Context, metric string, subject yardstick.EntityRef, w yardstick.Window) (yardstick.Evidence, error) {
	ev := yardstick.Evidence{Metric: metric, Subject: subject, Window: w, Rows: []yardstick.EvidenceRow{}}
	if err := w.Validate(); err != nil {
		return ev, err
	}
	fi, oi, ok := metricFamily(metric)
	if !ok {
		return ev, fmt.Errorf("evidence of %s: unknown metric: %w", metric, yardstick.ErrNotFound)
	}
	f := families[fi]
	spec, where, failures := f.evidence, "", false
	if oe := f.outputs[oi].evidence; oe != nil {
		spec, where, failures = oe.spec, "WHERE "+oe.rows+"\n", oe.failures
	}
	ev.Unit = spec.unit
	ctx, gen, ok, err := m.subjectQuery(ctx, subject)
	if err != nil || !ok {
		return ev, err
	}
	read := familyRead{f}
	args := append(m.familyArgs(gen, read, w), clickhouse.Named("limit", uint64(MaxEvidenceRows+1)))
	rows, err := queryRows(ctx, m.db, fmt.Sprintf("evidence of %s for %s", metric, subject), `SELECT scope, t, ref, toFloat64(`+spec.value+`), toString(`+spec.detail+`) FROM (
  `+read.observations(m.currentObs(gen, read), []string{"scope", "t", "ref", "label"}, "SELECT scope FROM metric_keys")+`
) AS o
`+where+`ORDER BY t, scope, ref
LIMIT @limit`, args, func(row scanner) (yardstick.EvidenceRow, error) {
		var r yardstick.EvidenceRow
		var scope string
		err := row.Scan(&scope, &r.Time, &r.Ref, &r.Value, &r.Detail)
		r.Scope = yardstick.Scope(scope)
		return r, err
	})
	if err != nil {
		return ev, err
	}
	ev.Rows = append(ev.Rows, rows...)
	if len(ev.Rows) > MaxEvidenceRows {
		ev.Rows, ev.Truncated = ev.Rows[:MaxEvidenceRows], true
	}
	if failures {
		if err := m.attachFailures(ctx, gen, w, &ev); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// attachFailures adds to each deployment row the failures attributed to it.
func (m *Metrics) attachFailures(ctx context.Context, gen obsGeneration, w yardstick.Window, ev *yardstick.Evidence) error {
	byDeploy := map[[2]string][]yardstick.FailureLink{}
	err := m.db.queryEach(ctx, `SELECT deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis
FROM deployment_failures
WHERE deploy_time >= @from AND deploy_time < @to AND deploy_scope IN (SELECT scope FROM metric_keys) AND `+gen.currentFailureLinks()+`
ORDER BY signal_time`, append(gen.args(m.configKey()), clickhouse.Named("from", w.From.UTC()), clickhouse.Named("to", w.To.UTC())), func(row scanner) error {
		var l yardstick.FailureLink
		var ds, ss string
		if err := row.Scan(&ds, &l.DeployID, &l.DeployTime, &ss, &l.SignalType, &l.SignalID, &l.SignalTime, &l.Basis); err != nil {
			return err
		}
		l.DeployScope, l.SignalScope = yardstick.Scope(ds), yardstick.Scope(ss)
		k := [2]string{ds, l.DeployID}
		byDeploy[k] = append(byDeploy[k], l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("failures of %s: %w", ev.Subject, err)
	}
	for i := range ev.Rows {
		ev.Rows[i].Failures = byDeploy[[2]string{string(ev.Rows[i].Scope), ev.Rows[i].Ref}]
	}
	return nil
}

// Coverage returns, for each named metric, when the subject's data for it
// starts: the earliest observation of the metric's family over the subject's
// scopes. Metrics without observations are absent. Comparisons with an
// earlier period are honest only when that period is covered.
func (m *Metrics) Coverage(ctx context.Context, subject yardstick.EntityRef, names []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	qctx, gen, ok, err := m.subjectQuery(ctx, subject)
	if err != nil || !ok {
		return out, err
	}
	key := fmt.Sprintf("%d|%s", gen.refresh, subject)
	m.cacheMu.Lock()
	starts, cached := m.coverage[key]
	m.cacheMu.Unlock()
	if !cached {
		starts = map[string]time.Time{}
		err := m.db.queryEach(qctx, `SELECT family, min(first) FROM metric_coverage
WHERE scope IN (SELECT scope FROM metric_keys) AND `+m.currentCoverage(gen)+`
GROUP BY family`, gen.args(m.configKey()), func(row scanner) error {
			var fam string
			var t time.Time
			err := row.Scan(&fam, &t)
			starts[fam] = t.UTC()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("coverage of %s: %w", subject, err)
		}
		m.cacheMu.Lock()
		if m.coverage == nil || len(m.coverage) >= maxCachedResults {
			m.coverage = map[string]map[string]time.Time{}
		}
		m.coverage[key] = starts
		m.cacheMu.Unlock()
	}
	for _, n := range names {
		if fi, _, ok := metricFamily(n); ok {
			if t, ok := starts[families[fi].name]; ok {
				out[n] = t
			}
		}
	}
	return out, nil
}

// subjectQuery prepares a query over one subject's observations: the newest
// generation, and the subject's scopes sent along as the external table
// metric_keys. ok is false when the subject has no scope (nothing to read).
func (m *Metrics) subjectQuery(ctx context.Context, subject yardstick.EntityRef) (_ context.Context, gen obsGeneration, ok bool, err error) {
	cat, err := m.readCatalog(ctx)
	if err != nil {
		return ctx, gen, false, err
	}
	scopes, _, err := cat.resolve(subject)
	if err != nil || len(scopes) == 0 {
		return ctx, gen, false, err
	}
	if gen, err = m.generation(ctx); err != nil {
		return ctx, gen, false, err
	}
	g := &groupKeys{}
	for _, sc := range scopes {
		g.add(sc, string(subject))
	}
	tbl, err := keysTable(g)
	if err != nil {
		return ctx, gen, false, fmt.Errorf("keys of %s: %w", subject, err)
	}
	// Its reads hold no FINAL over a Distributed table: they may take the
	// own shard in-process (ownshard.go).
	return ownShardRead(withExternalTables(ctx, tbl)), gen, true, nil
}
