package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// EntityScoreHistory returns the entity's summaries of every run in
// [from, to], by scorecard and time: the facts of a Tech Insights range query.
func (db *DB) EntityScoreHistory(ctx context.Context, entity yardstick.EntityRef, from, to time.Time) ([]yardstick.ScoreSummary, error) {
	rows, err := db.conn.Query(ctx, `SELECT run_id, run_at, scorecard, owner, level, level_rank, score FROM score_summaries
WHERE entity = @entity AND run_at >= @from AND run_at <= @to
ORDER BY scorecard, run_at, run_id LIMIT 1 BY scorecard, run_at`,
		clickhouse.Named("entity", string(entity)), clickhouse.Named("from", from.UTC()), clickhouse.Named("to", to.UTC()))
	if err != nil {
		return nil, fmt.Errorf("read score history of %s: %w", entity, err)
	}
	defer rows.Close()
	var out []yardstick.ScoreSummary
	for rows.Next() {
		var (
			s     yardstick.ScoreSummary
			owner string
			rank  uint8
		)
		if err := rows.Scan(&s.RunID, &s.RunAt, &s.Scorecard, &owner, &s.Level, &rank, &s.Score); err != nil {
			return nil, fmt.Errorf("read score history of %s: %w", entity, err)
		}
		s.Entity, s.Owner, s.LevelRank, s.RunAt = entity, yardstick.EntityRef(owner), int(rank), s.RunAt.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read score history of %s: %w", entity, err)
	}
	return out, nil
}
