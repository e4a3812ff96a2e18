package store

import (
	"context"
	"fmt"
	"time"
)

// ObservationRow is one current row of metric_observations, for tests that
// compare refreshes.
type ObservationRow struct {
	Family, Scope  string
	T              time.Time
	V1, V2, V3, V4 float64
	Label          string
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
	rows, err := m.db.conn.Query(ctx, `SELECT family, scope, t, v1, v2, v3, v4, label FROM metric_observations WHERE `+currentObs+`
ORDER BY family, scope, t, v1, v2, v3, v4, label`, g.args(m.configKey())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ObservationRow
	for rows.Next() {
		var r ObservationRow
		if err := rows.Scan(&r.Family, &r.Scope, &r.T, &r.V1, &r.V2, &r.V3, &r.V4, &r.Label); err != nil {
			return nil, err
		}
		r.T = r.T.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetRebuildShare sets the share of written scopes from which a refresh
// rebuilds everything, for the test's run; it returns the previous value.
func SetRebuildShare(share float64) float64 {
	prev := rebuildShare
	rebuildShare = share
	return prev
}
