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

// transitionWindow checks that (since, until] is a window and returns the
// bound parameters of a transition query over it: @since, @until and
// @horizon (transitionHistory before since).
func transitionWindow(what string, since, until time.Time) ([]any, error) {
	if err := checkWindow(what, since, until); err != nil {
		return nil, err
	}
	return []any{clickhouse.Named("since", since.UTC()), clickhouse.Named("until", until.UTC()), clickhouse.Named("horizon", since.Add(-transitionHistory).UTC())}, nil
}

// checkWindow returns ErrInvalid unless since is before until.
func checkWindow(what string, since, until time.Time) error {
	if !since.Before(until) {
		return fmt.Errorf("%s %s..%s: since must be before until: %w", what, since.Format(time.RFC3339), until.Format(time.RFC3339), yardstick.ErrInvalid)
	}
	return nil
}

// groupRuns are the runs of one (scorecard, entity[, check]) group that a
// transition query reads: those in the window as parallel arrays (the
// state's order is not the runs'), and the group's latest state before the
// window when it has one (hasPrev = 1).
type groupRuns[S comparable] struct {
	ats            []time.Time
	owners, values []string
	states         []S
	prev           S
	prevValue      string
	hasPrev        uint8
}

// timePoint is one run of a group.
type timePoint[S comparable] struct {
	at           time.Time
	owner, value string
	state        S
}

// eachChange calls change, in time order, for each run whose state differs
// from the one before it. A group without a run before the window is new in
// it: its first run is where it starts, not a change.
func (g groupRuns[S]) eachChange(change func(from, to timePoint[S])) {
	if len(g.ats) == 0 {
		return
	}
	pts := make([]timePoint[S], len(g.ats))
	for i := range g.ats {
		pts[i] = timePoint[S]{at: g.ats[i].UTC(), owner: g.owners[i], value: g.values[i], state: g.states[i]}
	}
	slices.SortStableFunc(pts, func(a, b timePoint[S]) int { return a.at.Compare(b.at) })
	from := pts[0]
	if g.hasPrev == 1 {
		from = timePoint[S]{value: g.prevValue, state: g.prev}
	}
	for _, p := range pts {
		if p.state != from.state {
			change(from, p)
			from = p
		}
	}
}

// queryTransitions runs the transition query q over (since, until] (see
// transitionWindow), reads each group's runs with scan and calls change for
// each change of state in it. what names the changes in errors.
func queryTransitions[S comparable](ctx context.Context, db *DB, what string, since, until time.Time, q string,
	scan func(row scanner, g *groupRuns[S]) error, change func(from, to timePoint[S])) error {
	window, err := transitionWindow(what, since, until)
	if err != nil {
		return err
	}
	err = db.queryEach(ctx, q, window, func(row scanner) error {
		var g groupRuns[S]
		if err := scan(row, &g); err != nil {
			return err
		}
		g.eachChange(change)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s since %s: %w", what, since.Format(time.RFC3339), err)
	}
	return nil
}

// LevelChanges returns each change of an entity's level on a scorecard at a
// run in (since, until], with the run of the change. The level before the
// first run of the window is the latest one at or before since (within eight
// days); for a (scorecard, entity) pair without one, its first run in the
// window is where it starts, not a change. Ordered by scorecard, entity and
// time.
func (db *DB) LevelChanges(ctx context.Context, since, until time.Time) ([]yardstick.LevelChange, error) {
	var (
		out               []yardstick.LevelChange
		scorecard, entity string
	)
	// One scan, no join: the window's points and the state before it are
	// conditional aggregates of the same group. The state is the level's
	// rank, the value its name.
	err := queryTransitions(ctx, db, "level changes", since, until, `SELECT scorecard, entity, owners, ats, ranks, levels, prev_rank, prev_level, has_prev FROM (
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
		func(row scanner, g *groupRuns[uint8]) error {
			return row.Scan(&scorecard, &entity, &g.owners, &g.ats, &g.states, &g.values, &g.prev, &g.prevValue, &g.hasPrev)
		},
		func(from, to timePoint[uint8]) {
			out = append(out, yardstick.LevelChange{Scorecard: scorecard, Entity: yardstick.EntityRef(entity), Owner: yardstick.EntityRef(to.owner),
				From: from.value, To: to.value, FromRank: int(from.state), ToRank: int(to.state), At: to.at})
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CheckTransitions returns each change of a check's state for an entity at a
// run in (since, until], with the run of the change, on the same terms as
// LevelChanges. Ordered by scorecard, entity, check and time.
func (db *DB) CheckTransitions(ctx context.Context, since, until time.Time) ([]yardstick.CheckTransition, error) {
	var (
		out                      []yardstick.CheckTransition
		scorecard, check, entity string
	)
	err := queryTransitions(ctx, db, "check transitions", since, until, `SELECT scorecard, check_id, entity, owners, ats, states, vals, prev_state, has_prev FROM (
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
		func(row scanner, g *groupRuns[string]) error {
			return row.Scan(&scorecard, &check, &entity, &g.owners, &g.ats, &g.states, &g.values, &g.prev, &g.hasPrev)
		},
		func(from, to timePoint[string]) {
			out = append(out, yardstick.CheckTransition{Scorecard: scorecard, CheckID: check, Entity: yardstick.EntityRef(entity), Owner: yardstick.EntityRef(to.owner),
				From: yardstick.CheckState(from.state), To: yardstick.CheckState(to.state), Value: to.value, At: to.at})
		})
	if err != nil {
		return nil, err
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
	return queryRows(ctx, db, "read collector runs", `SELECT collector, at, error FROM collector_runs WHERE at >= @since ORDER BY collector, at`,
		[]any{clickhouse.Named("since", since.UTC())}, func(row scanner) (yardstick.CollectorRun, error) {
			var r yardstick.CollectorRun
			err := row.Scan(&r.Collector, &r.At, &r.Err)
			r.At = r.At.UTC()
			return r, err
		})
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
	return queryRows(ctx, db, "read notification ledger", "SELECT "+ledgerColumns+", at FROM notification_ledger "+where, args, func(row scanner) (yardstick.DeliveryRecord, error) {
		var (
			r                    yardstick.DeliveryRecord
			attempt, lease, wait uint32
			subject, group       string
		)
		err := row.Scan(&r.Delivery, &r.Notification, &attempt, &r.Kind, &r.Instance, &r.Token, &lease, &wait,
			&r.Trigger, &subject, &group, &r.Channel, &r.Target, &r.Title, &r.Body, &r.Error, &r.At)
		r.Attempt, r.LeaseSeconds, r.RetrySeconds = int(attempt), int(lease), int(wait)
		r.Subject, r.Group, r.At = subject, yardstick.EntityRef(group), r.At.UTC()
		return r, err
	})
}
