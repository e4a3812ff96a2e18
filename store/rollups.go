package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// Aggregates of what scoring wrote, computed in ClickHouse so pages read a
// row per owner (or per mover) rather than a row per entity. Owners travel
// as an external table; an empty list means every owner. Entities no longer
// in the catalog are left out, as the pages leave them out.

const inCatalog = "entity IN (SELECT ref FROM entities FINAL WHERE deleted = 0)"

// ownerFilter returns the condition on column col for owners ("1" for all)
// and ctx carrying the owners' key set.
func ownerFilter(ctx context.Context, col string, owners []yardstick.EntityRef) (context.Context, string, error) {
	if len(owners) == 0 {
		return ctx, "1", nil
	}
	set := refKeys("rollup_owners", owners)
	ctx, err := withKeySets(ctx, set)
	if err != nil {
		return nil, "", err
	}
	return ctx, set.in(col), nil
}

// ScoreRollups returns, per scorecard, owner and level rank, how many
// entities the owner has there and the sum of their scores, from each
// entity's latest score summary. Ordered by scorecard, owner and rank.
func (db *DB) ScoreRollups(ctx context.Context, owners []yardstick.EntityRef) ([]yardstick.ScoreRollup, error) {
	ctx, cond, err := ownerFilter(ctx, "o", owners)
	if err != nil {
		return nil, fmt.Errorf("read score rollups: %w", err)
	}
	return queryRows(ctx, db, "read score rollups", `SELECT scorecard, o, r, count(), sum(s) FROM (
  SELECT scorecard, entity, argMax(owner, run_at) AS o, argMax(level_rank, run_at) AS r, argMax(score, run_at) AS s
  FROM score_summaries WHERE `+inCatalog+`
  GROUP BY scorecard, entity
) WHERE `+cond+`
GROUP BY scorecard, o, r ORDER BY scorecard, o, r`, nil, func(row scanner) (yardstick.ScoreRollup, error) {
		var (
			r     yardstick.ScoreRollup
			owner string
			rank  uint8
			n     uint64
		)
		err := row.Scan(&r.Scorecard, &owner, &rank, &n, &r.ScoreSum)
		r.Owner, r.LevelRank, r.Entities = yardstick.EntityRef(owner), int(rank), int(n)
		return r, err
	})
}

// FailingChecksByOwner counts, per owner, the checks that fail in the latest
// run of each (scorecard, entity).
func (db *DB) FailingChecksByOwner(ctx context.Context, owners []yardstick.EntityRef) (map[yardstick.EntityRef]int, error) {
	ctx, cond, err := ownerFilter(ctx, "owner", owners)
	if err != nil {
		return nil, fmt.Errorf("count failing checks: %w", err)
	}
	out := map[yardstick.EntityRef]int{}
	err = db.queryEach(ctx, `SELECT owner, uniqExact(scorecard, entity, check_id) FROM (
  SELECT scorecard, entity, check_id, owner, run_at FROM check_results WHERE state = 'fail' AND `+cond+` AND `+inCatalog+`
) AS c ALL INNER JOIN (
  SELECT scorecard, entity, max(run_at) AS run_at FROM check_results WHERE `+inCatalog+` GROUP BY scorecard, entity
) AS l USING (scorecard, entity, run_at)
GROUP BY owner`, nil, func(row scanner) error {
		var (
			owner string
			n     uint64
		)
		if err := row.Scan(&owner, &n); err != nil {
			return err
		}
		out[yardstick.EntityRef(owner)] = int(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count failing checks: %w", err)
	}
	return out, nil
}

// ScoreMoves returns at most n entities whose latest score or level on a
// scorecard differs from the one they had at since, biggest change first
// (then by entity), for owners (every owner when empty).
func (db *DB) ScoreMoves(ctx context.Context, since time.Time, owners []yardstick.EntityRef, n int) ([]yardstick.ScoreMove, error) {
	if n <= 0 {
		return nil, nil
	}
	ctx, cond, err := ownerFilter(ctx, "o", owners)
	if err != nil {
		return nil, fmt.Errorf("read score moves: %w", err)
	}
	return queryRows(ctx, db, "read score moves", `SELECT scorecard, entity, o, l_then, l_now, s_then, s_now FROM (
  SELECT scorecard, entity, argMax(owner, run_at) AS o, argMax(level, run_at) AS l_now, argMax(level_rank, run_at) AS r_now, argMax(score, run_at) AS s_now
  FROM score_summaries WHERE `+inCatalog+` GROUP BY scorecard, entity
) AS cur ALL INNER JOIN (
  SELECT scorecard, entity, argMax(level, run_at) AS l_then, argMax(level_rank, run_at) AS r_then, argMax(score, run_at) AS s_then
  FROM score_summaries WHERE run_at <= @since GROUP BY scorecard, entity
) AS old USING (scorecard, entity)
WHERE (s_now != s_then OR r_now != r_then) AND `+cond+`
ORDER BY abs(s_now - s_then) DESC, entity, scorecard LIMIT @n`, []any{clickhouse.Named("since", since.UTC()), clickhouse.Named("n", uint64(n))},
		func(row scanner) (yardstick.ScoreMove, error) {
			var (
				m             yardstick.ScoreMove
				entity, owner string
			)
			err := row.Scan(&m.Scorecard, &entity, &owner, &m.FromLevel, &m.ToLevel, &m.From, &m.To)
			m.Entity, m.Owner = yardstick.EntityRef(entity), yardstick.EntityRef(owner)
			return m, err
		})
}

// ScoreSummariesOf is ScoreSummaries (latest, for every scorecard) of the
// given entities only, which travel as an external table.
func (db *DB) ScoreSummariesOf(ctx context.Context, entities []yardstick.EntityRef) ([]yardstick.ScoreSummary, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	set := refKeys("summary_entities", entities)
	ctx, err := withKeySets(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("read score summaries: %w", err)
	}
	return queryRows(ctx, db, "read score summaries", `SELECT argMax(run_id, run_at), max(run_at), scorecard, entity, argMax(owner, run_at), argMax(level, run_at), argMax(level_rank, run_at), argMax(score, run_at)
FROM score_summaries WHERE `+set.in("entity")+`
GROUP BY scorecard, entity ORDER BY scorecard, entity`, nil, scanScoreSummary)
}

// CheckStateCounts counts, per check of a scorecard, the entities in each
// state by the latest run of each entity, for owners (all when empty).
func (db *DB) CheckStateCounts(ctx context.Context, scorecard string, owners []yardstick.EntityRef) (map[string]map[yardstick.CheckState]int, error) {
	ctx, cond, err := ownerFilter(ctx, "owner", owners)
	if err != nil {
		return nil, fmt.Errorf("count check states of %s: %w", scorecard, err)
	}
	out := map[string]map[yardstick.CheckState]int{}
	err = db.queryEach(ctx, `SELECT check_id, state, uniqExact(entity) FROM (
  SELECT entity, check_id, state, run_at FROM check_results WHERE scorecard = @sc AND `+cond+` AND `+inCatalog+`
) AS c ALL INNER JOIN (
  SELECT entity, max(run_at) AS run_at FROM check_results WHERE scorecard = @sc AND `+inCatalog+` GROUP BY entity
) AS l USING (entity, run_at)
GROUP BY check_id, state`, []any{clickhouse.Named("sc", scorecard)}, func(row scanner) error {
		var (
			check, state string
			n            uint64
		)
		if err := row.Scan(&check, &state, &n); err != nil {
			return err
		}
		if out[check] == nil {
			out[check] = map[yardstick.CheckState]int{}
		}
		out[check][yardstick.CheckState(state)] = int(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count check states of %s: %w", scorecard, err)
	}
	return out, nil
}

// CampaignStatusesOf is CampaignStatuses of the given entities only.
func (db *DB) CampaignStatusesOf(ctx context.Context, campaign string, entities []yardstick.EntityRef) ([]yardstick.CampaignStatus, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	set := refKeys("campaign_entities", entities)
	ctx, err := withKeySets(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("read campaign %s: %w", campaign, err)
	}
	return db.campaignStatuses(ctx, campaign, `SELECT entity, argMax(owner, run_at), argMax(done, run_at), argMax(state, run_at), argMax(message, run_at), max(run_at)
FROM campaign_results WHERE campaign = @campaign AND `+set.in("entity")+`
GROUP BY entity ORDER BY entity`)
}
