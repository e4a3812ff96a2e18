package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Reads and writes of the notifier: the change points it notifies about, the
// collector run log, and the ledger that makes each delivery happen once.

// transitionHistory bounds how far before a window the state a change starts
// from is looked for: a check whose last result is older than this before the
// window is not a transition.
const transitionHistory = 8 * 24 * time.Hour

// LevelChanges returns each change of an entity's level on a scorecard at a
// run in (since, until], with the run of the change. The level before the
// first run of the window is the latest one at or before since (within eight
// days); for a (scorecard, entity) pair without one, its first run in the
// window is where it starts, not a change. Ordered by scorecard, entity and
// time.
func (db *DB) LevelChanges(ctx context.Context, since, until time.Time) ([]yardstick.LevelChange, error) {
	if !since.Before(until) {
		return nil, fmt.Errorf("level changes %s..%s: since must be before until: %w", since.Format(time.RFC3339), until.Format(time.RFC3339), yardstick.ErrInvalid)
	}
	// One scan, no join: the window's points and the state before it are
	// conditional aggregates of the same group.
	rows, err := db.conn.Query(ctx, `SELECT scorecard, entity, owners, ats, ranks, levels, prev_rank, prev_level, has_prev FROM (
SELECT scorecard, entity,
  groupArrayIf(owner, run_at > @since) AS owners, groupArrayIf(run_at, run_at > @since) AS ats,
  groupArrayIf(level_rank, run_at > @since) AS ranks, groupArrayIf(level, run_at > @since) AS levels,
  argMaxIf(level_rank, run_at, run_at <= @since) AS prev_rank, argMaxIf(level, run_at, run_at <= @since) AS prev_level,
  max(run_at <= @since) AS has_prev,
  minIf(level_rank, run_at > @since) AS lo, maxIf(level_rank, run_at > @since) AS hi, countIf(run_at > @since) AS inwin
FROM score_summaries WHERE run_at > @horizon AND run_at <= @until
GROUP BY scorecard, entity
HAVING inwin > 0 AND (lo != hi OR (has_prev = 1 AND lo != prev_rank))
)
ORDER BY scorecard, entity`,
		clickhouse.Named("since", since.UTC()), clickhouse.Named("until", until.UTC()), clickhouse.Named("horizon", since.Add(-transitionHistory).UTC()))
	if err != nil {
		return nil, fmt.Errorf("read level changes since %s: %w", since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []yardstick.LevelChange
	for rows.Next() {
		var (
			scorecard, entity, prevLevel string
			owners, levels               []string
			ats                          []time.Time
			ranks                        []uint8
			prevRank, hasPrev            uint8
		)
		if err := rows.Scan(&scorecard, &entity, &owners, &ats, &ranks, &levels, &prevRank, &prevLevel, &hasPrev); err != nil {
			return nil, fmt.Errorf("read level changes: %w", err)
		}
		type point struct {
			at           time.Time
			owner, level string
			rank         int
		}
		pts := make([]point, len(ats))
		for i := range ats {
			pts[i] = point{ats[i].UTC(), owners[i], levels[i], int(ranks[i])}
		}
		slices.SortStableFunc(pts, func(a, b point) int { return a.at.Compare(b.at) })
		rank, level := int(prevRank), prevLevel
		if hasPrev == 0 { // new in the window: its first run is where it starts
			rank, level = pts[0].rank, pts[0].level
		}
		for _, p := range pts {
			if p.rank == rank {
				continue
			}
			out = append(out, yardstick.LevelChange{Scorecard: scorecard, Entity: yardstick.EntityRef(entity), Owner: yardstick.EntityRef(p.owner),
				From: level, To: p.level, FromRank: rank, ToRank: p.rank, At: p.at})
			rank, level = p.rank, p.level
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read level changes: %w", err)
	}
	return out, nil
}

// CheckTransitions returns each change of a check's state for an entity at a
// run in (since, until], with the run of the change, on the same terms as
// LevelChanges. Ordered by scorecard, entity, check and time.
func (db *DB) CheckTransitions(ctx context.Context, since, until time.Time) ([]yardstick.CheckTransition, error) {
	if !since.Before(until) {
		return nil, fmt.Errorf("check transitions %s..%s: since must be before until: %w", since.Format(time.RFC3339), until.Format(time.RFC3339), yardstick.ErrInvalid)
	}
	rows, err := db.conn.Query(ctx, `SELECT scorecard, check_id, entity, owners, ats, states, vals, prev_state, has_prev FROM (
SELECT scorecard, check_id, entity,
  groupArrayIf(owner, run_at > @since) AS owners, groupArrayIf(run_at, run_at > @since) AS ats,
  groupArrayIf(state, run_at > @since) AS states, groupArrayIf(value, run_at > @since) AS vals,
  argMaxIf(state, run_at, run_at <= @since) AS prev_state, max(run_at <= @since) AS has_prev,
  uniqExactIf(state, run_at > @since) AS n, anyIf(state, run_at > @since) AS one, countIf(run_at > @since) AS inwin
FROM check_results WHERE run_at > @horizon AND run_at <= @until
GROUP BY scorecard, check_id, entity
HAVING inwin > 0 AND (n > 1 OR (has_prev = 1 AND one != prev_state))
)
ORDER BY scorecard, entity, check_id`,
		clickhouse.Named("since", since.UTC()), clickhouse.Named("until", until.UTC()), clickhouse.Named("horizon", since.Add(-transitionHistory).UTC()))
	if err != nil {
		return nil, fmt.Errorf("read check transitions since %s: %w", since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []yardstick.CheckTransition
	for rows.Next() {
		var (
			scorecard, check, entity, prev string
			owners, states, vals           []string
			ats                            []time.Time
			hasPrev                        uint8
		)
		if err := rows.Scan(&scorecard, &check, &entity, &owners, &ats, &states, &vals, &prev, &hasPrev); err != nil {
			return nil, fmt.Errorf("read check transitions: %w", err)
		}
		type point struct {
			at                  time.Time
			owner, state, value string
		}
		pts := make([]point, len(ats))
		for i := range ats {
			pts[i] = point{ats[i].UTC(), owners[i], states[i], vals[i]}
		}
		slices.SortStableFunc(pts, func(a, b point) int { return a.at.Compare(b.at) })
		state := prev
		if hasPrev == 0 {
			state = pts[0].state
		}
		for _, p := range pts {
			if p.state == state {
				continue
			}
			out = append(out, yardstick.CheckTransition{Scorecard: scorecard, CheckID: check, Entity: yardstick.EntityRef(entity), Owner: yardstick.EntityRef(p.owner),
				From: yardstick.CheckState(state), To: yardstick.CheckState(p.state), Value: p.value, At: p.at})
			state = p.state
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read check transitions: %w", err)
	}
	return out, nil
}

// RecordCollectorRun stores the outcome of one collector run.
func (db *DB) RecordCollectorRun(ctx context.Context, r yardstick.CollectorRun) error {
	err := db.insert(ctx, "INSERT INTO collector_runs (collector, at, error)", func(b driver.Batch) error {
		return b.Append(r.Collector, r.At.UTC(), r.Err)
	})
	if err != nil {
		return fmt.Errorf("record run of collector %s: %w", r.Collector, err)
	}
	return nil
}

// CollectorRuns returns each collector's runs at or after since, oldest first.
func (db *DB) CollectorRuns(ctx context.Context, since time.Time) ([]yardstick.CollectorRun, error) {
	rows, err := db.conn.Query(ctx, `SELECT collector, at, error FROM collector_runs WHERE at >= @since ORDER BY collector, at`,
		clickhouse.Named("since", since.UTC()))
	if err != nil {
		return nil, fmt.Errorf("read collector runs: %w", err)
	}
	defer rows.Close()
	var out []yardstick.CollectorRun
	for rows.Next() {
		var r yardstick.CollectorRun
		if err := rows.Scan(&r.Collector, &r.At, &r.Err); err != nil {
			return nil, fmt.Errorf("read collector runs: %w", err)
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collector runs: %w", err)
	}
	return out, nil
}

const ledgerColumns = "delivery, notification, attempt, kind, instance, token, lease_seconds, retry_seconds, trigger, subject, group_ref, channel, target, title, body, error"

// AppendDeliveries writes ledger rows. The time of each row is the server's
// clock at the insert (the At of the records is ignored), so that claims of
// instances with skewed clocks are ordered by one clock.
func (db *DB) AppendDeliveries(ctx context.Context, recs []yardstick.DeliveryRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := db.insert(ctx, "INSERT INTO notification_ledger ("+ledgerColumns+")", func(b driver.Batch) error {
		for _, r := range recs {
			if r.Attempt < 0 || r.LeaseSeconds < 0 || r.RetrySeconds < 0 {
				return fmt.Errorf("delivery %s: negative attempt, lease or retry: %w", r.Delivery, yardstick.ErrInvalid)
			}
			if err := b.Append(r.Delivery, r.Notification, uint32(r.Attempt), r.Kind, r.Instance, r.Token, uint32(r.LeaseSeconds), uint32(r.RetrySeconds),
				r.Trigger, r.Subject, string(r.Group), r.Channel, r.Target, r.Title, r.Body, r.Error); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %d notification ledger rows: %w", len(recs), err)
	}
	return nil
}

// Deliveries returns every ledger row of the deliveries, ordered by delivery,
// attempt, time and token, with the server's clock now.
func (db *DB) Deliveries(ctx context.Context, deliveries []string) ([]yardstick.DeliveryRecord, time.Time, error) {
	var now time.Time
	if err := db.conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return nil, time.Time{}, fmt.Errorf("read server clock: %w", err)
	}
	if len(deliveries) == 0 {
		return nil, now.UTC(), nil
	}
	out, err := db.queryLedger(ctx, `WHERE delivery IN @deliveries ORDER BY delivery, attempt, at, token`,
		clickhouse.Named("deliveries", inSet(deliveries)))
	return out, now.UTC(), err
}

// RecentDeliveries returns the newest sent, failed and abandoned ledger rows
// routed for the group, newest first, at most limit.
func (db *DB) RecentDeliveries(ctx context.Context, group yardstick.EntityRef, limit int) ([]yardstick.DeliveryRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	return db.queryLedger(ctx, `WHERE group_ref = @group AND kind != 'claim' ORDER BY at DESC, delivery LIMIT @limit`,
		clickhouse.Named("group", string(group)), clickhouse.Named("limit", uint64(limit)))
}

func (db *DB) queryLedger(ctx context.Context, where string, args ...any) ([]yardstick.DeliveryRecord, error) {
	rows, err := db.conn.Query(ctx, "SELECT "+ledgerColumns+", at FROM notification_ledger "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read notification ledger: %w", err)
	}
	defer rows.Close()
	var out []yardstick.DeliveryRecord
	for rows.Next() {
		var (
			r                    yardstick.DeliveryRecord
			attempt, lease, wait uint32
			subject, group       string
		)
		if err := rows.Scan(&r.Delivery, &r.Notification, &attempt, &r.Kind, &r.Instance, &r.Token, &lease, &wait,
			&r.Trigger, &subject, &group, &r.Channel, &r.Target, &r.Title, &r.Body, &r.Error, &r.At); err != nil {
			return nil, fmt.Errorf("read notification ledger: %w", err)
		}
		r.Attempt, r.LeaseSeconds, r.RetrySeconds = int(attempt), int(lease), int(wait)
		r.Subject, r.Group, r.At = subject, yardstick.EntityRef(group), r.At.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notification ledger: %w", err)
	}
	return out, nil
}
