package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Writes and history queries of scoring: check_results, score_summaries and
// campaign_results hold one row per run, so a run is never rewritten and
// history is a query. The dashboards' reads of the same tables are in views.go.

// scoringBatch bounds the rows sent in one batch: a run of 10,000 entities
// against 100 checks has a million check results.
const scoringBatch = 100_000

// insertChunks sends rows n at a time through query, appending row i with add.
func (db *DB) insertChunks(ctx context.Context, query string, n int, add func(b driver.Batch, i int) error) error {
	for start := 0; start < n; start += scoringBatch {
		end := min(start+scoringBatch, n)
		err := db.insert(ctx, query, func(b driver.Batch) error {
			for i := start; i < end; i++ {
				if err := add(b, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteCheckResults stores check results. Rows are keyed by run, so writing
// the same run twice keeps one copy.
func (db *DB) WriteCheckResults(ctx context.Context, results []yardstick.CheckResult) error {
	err := db.insertChunks(ctx, "INSERT INTO check_results (run_id, run_at, scorecard, check_id, entity, owner, level, state, value, message)", len(results),
		func(b driver.Batch, i int) error {
			r := results[i]
			return b.Append(r.RunID, r.RunAt.UTC(), r.Scorecard, r.CheckID, string(r.Entity), string(r.Owner), r.Level, string(r.State), r.Value, r.Message)
		})
	if err != nil {
		return fmt.Errorf("write %d check results: %w", len(results), err)
	}
	return nil
}

// WriteScoreSummaries stores the level and score of each entity per scorecard and run.
func (db *DB) WriteScoreSummaries(ctx context.Context, summaries []yardstick.ScoreSummary) error {
	for _, s := range summaries {
		if s.LevelRank < 0 || s.LevelRank > 255 {
			return fmt.Errorf("score summary %s of %s: level rank %d out of 0..255: %w", s.Scorecard, s.Entity, s.LevelRank, yardstick.ErrInvalid)
		}
	}
	err := db.insertChunks(ctx, "INSERT INTO score_summaries (run_id, run_at, scorecard, entity, owner, level, level_rank, score)", len(summaries),
		func(b driver.Batch, i int) error {
			s := summaries[i]
			return b.Append(s.RunID, s.RunAt.UTC(), s.Scorecard, string(s.Entity), string(s.Owner), s.Level, uint8(s.LevelRank), s.Score)
		})
	if err != nil {
		return fmt.Errorf("write %d score summaries: %w", len(summaries), err)
	}
	return nil
}

// WriteCampaignResults stores where each applicable entity stands in each campaign per run.
func (db *DB) WriteCampaignResults(ctx context.Context, results []yardstick.CampaignResult) error {
	err := db.insertChunks(ctx, "INSERT INTO campaign_results (run_id, run_at, campaign, entity, owner, done, state, message)", len(results),
		func(b driver.Batch, i int) error {
			r := results[i]
			var done uint8
			if r.Done() {
				done = 1
			}
			return b.Append(r.RunID, r.RunAt.UTC(), r.Campaign, string(r.Entity), string(r.Owner), done, string(r.State), r.Message)
		})
	if err != nil {
		return fmt.Errorf("write %d campaign results: %w", len(results), err)
	}
	return nil
}

// CheckChanges returns the checks whose latest state at until differs from
// their latest state at since, for results newer than since: "newly failing,
// newly passing since last week". Checks without a result at since are not
// changes. Ordered by scorecard, entity and check.
func (db *DB) CheckChanges(ctx context.Context, since, until time.Time) ([]yardstick.CheckChange, error) {
	if err := checkWindow("check changes", since, until); err != nil {
		return nil, err
	}
	return queryRows(ctx, db, fmt.Sprintf("read check changes since %s", since.Format(time.RFC3339)), `SELECT scorecard, check_id, entity, last_owner, prev_state, last_state, last_run_at FROM (
  SELECT scorecard, check_id, entity, argMax(owner, run_at) AS last_owner, argMax(state, run_at) AS last_state, max(run_at) AS last_run_at
  FROM check_results FINAL WHERE run_at > ? AND run_at <= ?
  GROUP BY scorecard, check_id, entity
) AS l ALL INNER JOIN (
  SELECT scorecard, check_id, entity, argMax(state, run_at) AS prev_state
  FROM check_results FINAL WHERE run_at <= ?
  GROUP BY scorecard, check_id, entity
) AS p USING (scorecard, check_id, entity)
WHERE prev_state != last_state
ORDER BY scorecard, entity, check_id`, []any{since.UTC(), until.UTC(), since.UTC()}, func(row scanner) (yardstick.CheckChange, error) {
		var (
			c                       yardstick.CheckChange
			entity, owner, from, to string
		)
		err := row.Scan(&c.Scorecard, &c.CheckID, &entity, &owner, &from, &to, &c.At)
		c.Entity, c.Owner, c.From, c.To, c.At = yardstick.EntityRef(entity), yardstick.EntityRef(owner), yardstick.CheckState(from), yardstick.CheckState(to), c.At.UTC()
		return c, err
	})
}
