package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// runOrgFamily is runFamily for the whole organisation (yardstick.OrgRef):
// every mapped scope counts once, so the observations are filtered by the
// stored scope mappings and aggregated under one key, with no join and no
// key set sent along. The overview reads it after every refresh.
func (m *Metrics) runOrgFamily(ctx context.Context, gen obsGeneration, f family, w yardstick.Window, weekly, totals bool) (familyResult, error) {
	res := familyResult{values: map[string][]yardstick.MetricValue{}, series: map[string]map[time.Time][]yardstick.MetricValue{}}
	var sel []string
	for _, o := range f.outputs {
		sel = append(sel, o.value, "toUInt64("+o.count+")")
	}
	week, group := "toMonday(min(t))", ""
	if weekly {
		week, group = "toMonday(t)", " GROUP BY w"
	}
	query := "SELECT " + week + " AS w, " + strings.Join(sel, ", ") + `
FROM (
  SELECT ` + strings.Join(append([]string{"scope", "t"}, f.reads()...), ", ") + ` FROM metric_observations
  WHERE family = @family AND t >= @from AND t < @to
    AND scope IN (SELECT scope FROM scope_mappings FINAL WHERE deleted = 0)
    AND ` + currentObs + `
) AS o` + group
	if weekly && totals {
		query += " WITH TOTALS"
	}
	rows, err := m.db.conn.Query(ctx, query, append(gen.args(m.configKey()), clickhouse.Named("family", f.name),
		clickhouse.Named("from", w.From.UTC()), clickhouse.Named("to", w.To.UTC()))...)
	if err != nil {
		return res, fmt.Errorf("metric query %s of the organisation: %w", f.name, err)
	}
	defer rows.Close()
	key := string(yardstick.OrgRef)
	scan := func(next func(dest ...any) error) ([]yardstick.MetricValue, time.Time, error) {
		var week time.Time
		vals := make([]float64, len(f.outputs))
		counts := make([]uint64, len(f.outputs))
		dest := []any{&week}
		for i := range f.outputs {
			dest = append(dest, &vals[i], &counts[i])
		}
		if err := next(dest...); err != nil {
			return nil, week, err
		}
		return metricValues(vals, counts), week, nil
	}
	for rows.Next() {
		out, week, err := scan(rows.Scan)
		if err != nil {
			return res, fmt.Errorf("metric query %s of the organisation: scan: %w", f.name, err)
		}
		if !weekly {
			res.values[key] = out
			continue
		}
		wk := time.Date(week.Year(), week.Month(), week.Day(), 0, 0, 0, 0, time.UTC)
		if res.series[key] == nil {
			res.series[key] = map[time.Time][]yardstick.MetricValue{}
		}
		res.series[key][wk] = out
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("metric query %s of the organisation: %w", f.name, err)
	}
	if weekly && totals && len(res.series) > 0 {
		out, _, err := scan(rows.Totals)
		if err != nil {
			return res, fmt.Errorf("metric query %s of the organisation: totals: %w", f.name, err)
		}
		res.values[key] = out
	}
	return res, nil
}

// fingerprint hashes what metric subjects resolve through (the group tree,
// what each group owns, its members, and every entity's scopes), so that
// re-reading an unchanged catalog keeps the results cached for it.
func (c *metricCatalog) fingerprint() uint64 {
	h := fnv.New64a()
	put := func(ss ...yardstick.EntityRef) {
		for _, s := range ss {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	for _, g := range c.org.Groups() {
		put(g, c.org.Parent(g))
		put(c.org.Children(g)...)
		put(c.org.Owned(g)...)
		put(c.org.Members(g)...)
	}
	refs := make([]yardstick.EntityRef, 0, len(c.scopes))
	for r := range c.scopes {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	for _, r := range refs {
		put(r)
		for _, sc := range c.scopes[r] {
			h.Write([]byte(sc))
			h.Write([]byte{0})
		}
	}
	return h.Sum64()
}
