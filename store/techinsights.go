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
	return queryRows(ctx, db, fmt.Sprintf("read score history of %s", entity), `SELECT run_id, run_at, scorecard, entity, owner, level, level_rank, score FROM score_summaries
WHERE entity = @entity AND run_at >= @from AND run_at <= @to
ORDER BY scorecard, run_at, run_id LIMIT 1 BY scorecard, run_at`,
		[]any{clickhouse.Named("entity", string(entity)), clickhouse.Named("from", from.UTC()), clickhouse.Named("to", to.UTC())}, scanScoreSummary)
}
