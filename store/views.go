package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/yardstick-dev/yardstick"
)

// Reads of what scoring wrote (check_results, score_summaries,
// campaign_results) for the dashboards. "Latest" always means the latest run
// that covered the (scorecard or campaign, entity) pair, at or before asOf.
// These tables are written once per run and a rewrite of a run repeats the
// same rows, so reads skip FINAL (which on ClickHouse 18.16 cannot use the
// index) and drop duplicates with LIMIT 1 BY.

// asOfTime turns a zero asOf into "no bound".
func asOfTime(asOf time.Time) time.Time {
	if asOf.IsZero() {
		return time.Date(2105, 1, 1, 0, 0, 0, 0, time.UTC) // DateTime's range ends in 2106
	}
	return asOf.UTC()
}

// ScoreSummaries returns, for every (scorecard, entity) scored at or before
// asOf (zero: ever), the summary of the latest run that scored it.
func (db *DB) ScoreSummaries(ctx context.Context, asOf time.Time) ([]yardstick.ScoreSummary, error) {
	return queryRows(ctx, db, "read score summaries", `SELECT run_id, run_at, scorecard, entity, owner, level, level_rank, score FROM (
  SELECT run_id, run_at, scorecard, entity, owner, level, level_rank, score FROM score_summaries WHERE run_at <= @asof
) AS s ALL INNER JOIN (
  SELECT scorecard, entity, last_run AS run_at FROM (SELECT scorecard, entity, max(run_at) AS last_run FROM score_summaries WHERE run_at <= @asof GROUP BY scorecard, entity)
) AS l USING (scorecard, entity, run_at)
ORDER BY scorecard, entity, run_id DESC
LIMIT 1 BY scorecard, entity`, []any{clickhouse.Named("asof", asOfTime(asOf))}, scanScoreSummary)
}

// scanScoreSummary reads a row of (run_id, run_at, scorecard, entity, owner,
// level, level_rank, score).
func scanScoreSummary(row scanner) (yardstick.ScoreSummary, error) {
	var (
		s             yardstick.ScoreSummary
		entity, owner string
		rank          uint8
	)
	err := row.Scan(&s.RunID, &s.RunAt, &s.Scorecard, &entity, &owner, &s.Level, &rank, &s.Score)
	s.Entity, s.Owner, s.LevelRank, s.RunAt = yardstick.EntityRef(entity), yardstick.EntityRef(owner), int(rank), s.RunAt.UTC()
	return s, err
}

// LatestCheckResults returns the check results of the latest run of each
// (scorecard, entity) that f selects, ordered by scorecard, entity and check.
func (db *DB) LatestCheckResults(ctx context.Context, f yardstick.CheckFilter) ([]yardstick.CheckResult, error) {
	var (
		where []string
		args  []any
	)
	if f.Scorecard != "" {
		where = append(where, "scorecard = @scorecard")
		args = append(args, clickhouse.Named("scorecard", f.Scorecard))
	}
	if len(f.Entities) > 0 {
		set := refKeys("result_entities", f.Entities) // an external table: the statement stays small
		var err error
		if ctx, err = withKeySets(ctx, set); err != nil {
			return nil, fmt.Errorf("read check results: %w", err)
		}
		where = append(where, set.in("entity"))
	}
	cond := "1"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	outer := ""
	if len(f.States) > 0 {
		set := make([]any, len(f.States))
		for i, s := range f.States {
			set[i] = string(s)
		}
		outer = "WHERE state IN @states"
		args = append(args, clickhouse.Named("states", clickhouse.GroupSet{Value: set}))
	}
	return queryRows(ctx, db, "read check results", `SELECT run_id, run_at, scorecard, check_id, entity, owner, level, state, value, message FROM (
  SELECT run_id, run_at, scorecard, check_id, entity, owner, level, state, value, message FROM check_results WHERE `+cond+`
) AS r ALL INNER JOIN (
  SELECT scorecard, entity, last_run AS run_at FROM (SELECT scorecard, entity, max(run_at) AS last_run FROM check_results WHERE `+cond+` GROUP BY scorecard, entity)
) AS l USING (scorecard, entity, run_at)
`+outer+`
ORDER BY scorecard, entity, check_id, run_id DESC
LIMIT 1 BY scorecard, entity, check_id`, args, func(row scanner) (yardstick.CheckResult, error) {
		var (
			r                    yardstick.CheckResult
			entity, owner, state string
		)
		err := row.Scan(&r.RunID, &r.RunAt, &r.Scorecard, &r.CheckID, &entity, &owner, &r.Level, &state, &r.Value, &r.Message)
		r.Entity, r.Owner, r.State, r.RunAt = yardstick.EntityRef(entity), yardstick.EntityRef(owner), yardstick.CheckState(state), r.RunAt.UTC()
		return r, err
	})
}

// CampaignStatuses returns where each entity stands in the campaign according
// to the latest run that covered it.
func (db *DB) CampaignStatuses(ctx context.Context, campaign string) ([]yardstick.CampaignStatus, error) {
	return db.campaignStatuses(ctx, campaign, `SELECT entity, owner, done, state, message, run_at FROM (
  SELECT entity, owner, done, state, message, run_at FROM campaign_results WHERE campaign = @campaign
) AS r ALL INNER JOIN (
  SELECT entity, last_run AS run_at FROM (SELECT entity, max(run_at) AS last_run FROM campaign_results WHERE campaign = @campaign GROUP BY entity)
) AS l USING (entity, run_at)
ORDER BY entity
LIMIT 1 BY entity`)
}

// CampaignHistory returns the campaign's progress per scoring run and owner,
// oldest run first: the data of its burndown.
func (db *DB) CampaignHistory(ctx context.Context, campaign string) ([]yardstick.CampaignRun, error) {
	return queryRows(ctx, db, fmt.Sprintf("read campaign history %s", campaign), `SELECT run_id, run_at, owner, toUInt64(sum(done)), count() FROM (
  SELECT run_id, run_at, owner, entity, done FROM campaign_results WHERE campaign = @campaign LIMIT 1 BY run_id, entity
)
GROUP BY run_id, run_at, owner ORDER BY run_at, run_id, owner`, []any{clickhouse.Named("campaign", campaign)},
		func(row scanner) (yardstick.CampaignRun, error) {
			var (
				r           yardstick.CampaignRun
				owner       string
				done, total uint64
			)
			err := row.Scan(&r.RunID, &r.RunAt, &owner, &done, &total)
			r.Owner, r.Done, r.Total, r.RunAt = yardstick.EntityRef(owner), int(done), int(total), r.RunAt.UTC()
			return r, err
		})
}

// RecentEvents returns the newest events of the scopes, newest first, at most
// limit. It reads without FINAL (which on ClickHouse 18.16 reads the whole
// table) and resolves rewrites and tombstones itself: for each identity the
// row with the highest version wins, and a winning tombstone hides it. It
// names the stored event types (event_types), so that only the scopes' ranges
// of the primary key are read.
func (db *DB) RecentEvents(ctx context.Context, scopes []yardstick.Scope, limit int) ([]yardstick.Event, error) {
	if len(scopes) == 0 || limit <= 0 {
		return nil, nil
	}
	set := scopeKeys("recent_scopes", scopes) // an external table: the statement stays small
	ctx, err := withKeySets(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	types, stored, err := db.typesArg(ctx)
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	if !stored {
		return nil, nil
	}
	type identity struct{ source, typ, scope, id string }
	tombs := map[identity]uint64{}
	err = db.queryEach(ctx, `SELECT source, type, scope, id, max(version) FROM events
WHERE type IN @types AND `+set.in("scope")+` AND deleted = 1 GROUP BY source, type, scope, id`, []any{types}, func(row scanner) error {
		var (
			k identity
			v uint64
		)
		if err := row.Scan(&k.source, &k.typ, &k.scope, &k.id, &v); err != nil {
			return err
		}
		tombs[k] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	// Rewrites of one identity are few; read enough rows to fill limit after dropping them.
	type versioned struct {
		e       yardstick.Event
		version uint64
	}
	best := map[identity]int{}
	var all []versioned
	err = db.queryEach(ctx, `SELECT `+eventColumns+`, version
FROM events WHERE type IN @types AND `+set.in("scope")+` AND deleted = 0
ORDER BY time DESC, version DESC LIMIT @limit`, []any{types, clickhouse.Named("limit", uint64(limit*4+len(tombs)))}, func(row scanner) error {
		var (
			r   versioned
			err error
		)
		if r.e, err = scanEvent(row, &r.version); err != nil {
			return err
		}
		k := identity{r.e.Source, r.e.Type, string(r.e.Scope), r.e.ID}
		if tv, dead := tombs[k]; dead && tv >= r.version {
			return nil
		}
		if j, seen := best[k]; seen {
			if all[j].version >= r.version {
				return nil
			}
			all[j].version = 0 // superseded: dropped below
		}
		best[k] = len(all)
		all = append(all, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	var out []yardstick.Event
	for i, r := range all {
		if best[identity{r.e.Source, r.e.Type, string(r.e.Scope), r.e.ID}] != i {
			continue
		}
		out = append(out, r.e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// campaignStatuses runs q, which selects (entity, owner, done, state,
// message, run_at) one row per entity with campaign bound as @campaign, and
// reads the rows as campaign statuses.
func (db *DB) campaignStatuses(ctx context.Context, campaign, q string) ([]yardstick.CampaignStatus, error) {
	return queryRows(ctx, db, fmt.Sprintf("read campaign %s", campaign), q, []any{clickhouse.Named("campaign", campaign)}, func(row scanner) (yardstick.CampaignStatus, error) {
		var (
			s                    yardstick.CampaignStatus
			entity, owner, state string
			done                 uint8
		)
		err := row.Scan(&entity, &owner, &done, &state, &s.Message, &s.RunAt)
		s.Campaign, s.Entity, s.Owner, s.Done, s.RunAt = campaign, yardstick.EntityRef(entity), yardstick.EntityRef(owner), done == 1, s.RunAt.UTC()
		s.State = yardstick.CampaignState(state)
		return s, err
	})
}
