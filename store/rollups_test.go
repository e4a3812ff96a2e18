package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestScoreRollupsFailingChecksAndMoves(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	worker := yardstick.NewEntityRef("component", "", "worker")
	gone := yardstick.NewEntityRef("component", "", "gone") // scored, then removed from the catalog
	if _, err := db.ReplaceCatalog(ctx, []yardstick.Entity{
		entity("Component", "api", string(alpha), nil), entity("Component", "web", string(beta), nil), entity("Component", "worker", string(alpha), nil),
	}); err != nil {
		t.Fatal(err)
	}
	conn := db.Conn()
	r1, r2 := at(4, 0, 0), at(11, 0, 0)
	mustInsert(t, conn, `INSERT INTO score_summaries (run_id, run_at, scorecard, entity, owner, level, level_rank, score)`,
		[]any{"r1", r1, "prod", string(api), string(alpha), "bronze", uint8(1), 50.0},
		[]any{"r1", r1, "prod", string(web), string(beta), "", uint8(0), 10.0},
		[]any{"r1", r1, "prod", string(worker), string(alpha), "silver", uint8(2), 90.0},
		[]any{"r1", r1, "prod", string(gone), string(alpha), "silver", uint8(2), 100.0},
		[]any{"r2", r2, "prod", string(api), string(alpha), "silver", uint8(2), 80.0},
		[]any{"r2", r2, "prod", string(api), string(alpha), "silver", uint8(2), 80.0}, // a rewritten run
		[]any{"r2", r2, "prod", string(worker), string(alpha), "silver", uint8(2), 85.0},
		[]any{"r2", r2, "ops", string(web), string(beta), "bronze", uint8(1), 60.0})
	mustInsert(t, conn, `INSERT INTO check_results (run_id, run_at, scorecard, check_id, entity, owner, level, state, value, message)`,
		[]any{"r1", r1, "prod", "readme", string(api), string(alpha), "silver", "fail", "false", ""},
		[]any{"r2", r2, "prod", "readme", string(api), string(alpha), "silver", "pass", "true", ""},
		[]any{"r1", r1, "prod", "readme", string(web), string(beta), "silver", "fail", "false", ""},
		[]any{"r1", r1, "prod", "owner", string(web), string(beta), "bronze", "fail", "", ""},
		[]any{"r2", r2, "prod", "deploys", string(worker), string(alpha), "silver", "fail", "0", ""},
		[]any{"r2", r2, "prod", "deploys", string(worker), string(alpha), "silver", "fail", "0", ""}, // a rewritten run
		[]any{"r1", r1, "prod", "readme", string(gone), string(alpha), "silver", "fail", "false", ""})

	mustInsert(t, conn, `INSERT INTO campaign_results (run_id, run_at, campaign, entity, owner, done, state, message)`,
		[]any{"r1", r1, "go122", string(api), string(alpha), uint8(0), "pending", "1.21"},
		[]any{"r2", r2, "go122", string(api), string(alpha), uint8(1), "done", ""},
		[]any{"r1", r1, "go122", string(web), string(beta), uint8(0), "pending", "1.20"})

	of, err := db.ScoreSummariesOf(ctx, []yardstick.EntityRef{api, web})
	wantOf := []yardstick.ScoreSummary{
		{RunID: "r2", RunAt: r2, Scorecard: "ops", Entity: web, Owner: beta, Level: "bronze", LevelRank: 1, Score: 60},
		{RunID: "r2", RunAt: r2, Scorecard: "prod", Entity: api, Owner: alpha, Level: "silver", LevelRank: 2, Score: 80},
		{RunID: "r1", RunAt: r1, Scorecard: "prod", Entity: web, Owner: beta, Level: "", LevelRank: 0, Score: 10},
	}
	mustMatch(t, "ScoreSummariesOf(api, web)", wantOf, of, err)
	counts, err := db.CheckStateCounts(ctx, "prod", nil)
	wantCounts := map[string]map[yardstick.CheckState]int{
		"readme":  {yardstick.StatePass: 1, yardstick.StateFail: 1}, // api fixed it in r2; web's latest run is r1
		"owner":   {yardstick.StateFail: 1},
		"deploys": {yardstick.StateFail: 1}, // written twice, counted once; gone is out of the catalog
	}
	mustMatch(t, "CheckStateCounts(prod)", wantCounts, counts, err)
	if c, err := db.CheckStateCounts(ctx, "prod", []yardstick.EntityRef{beta}); err != nil || len(c) != 2 || c["readme"][yardstick.StateFail] != 1 {
		t.Errorf("CheckStateCounts(prod, beta) = %v, %v; want web's readme and owner failures", c, err)
	}
	st, err := db.CampaignStatusesOf(ctx, "go122", []yardstick.EntityRef{api})
	if err != nil {
		t.Fatalf("CampaignStatusesOf() = %v", err)
	}
	if len(st) != 1 || st[0].Entity != api || !st[0].Done || st[0].State != "done" || !st[0].RunAt.Equal(r2) {
		t.Errorf("CampaignStatusesOf(go122, api) = %+v, want api done in r2", st)
	}

	rollups, err := db.ScoreRollups(ctx, nil)
	want := []yardstick.ScoreRollup{
		{Scorecard: "ops", Owner: beta, LevelRank: 1, Entities: 1, ScoreSum: 60},
		{Scorecard: "prod", Owner: alpha, LevelRank: 2, Entities: 2, ScoreSum: 165}, // api 80 + worker 85; gone is out of the catalog
		{Scorecard: "prod", Owner: beta, LevelRank: 0, Entities: 1, ScoreSum: 10},
	}
	mustMatch(t, "ScoreRollups()", want, rollups, err)
	onlyBeta, err := db.ScoreRollups(ctx, []yardstick.EntityRef{beta})
	if err != nil {
		t.Fatal(err)
	}
	if len(onlyBeta) != 2 || onlyBeta[0].Owner != beta || onlyBeta[1].Owner != beta {
		t.Errorf("ScoreRollups(beta) = %+v, want beta's two rows", onlyBeta)
	}

	failing, err := db.FailingChecksByOwner(ctx, nil)
	if err != nil {
		t.Fatalf("FailingChecksByOwner() = %v", err)
	}
	// api fixed readme in r2; worker fails deploys (once, though written twice); web's r1 is its latest run.
	if diff := cmp.Diff(map[yardstick.EntityRef]int{alpha: 1, beta: 2}, failing); diff != "" {
		t.Errorf("FailingChecksByOwner() (-want +got):\n%s", diff)
	}
	if f, err := db.FailingChecksByOwner(ctx, []yardstick.EntityRef{alpha}); err != nil || len(f) != 1 || f[alpha] != 1 {
		t.Errorf("FailingChecksByOwner(alpha) = %v, %v; want alpha 1", f, err)
	}

	moves, err := db.ScoreMoves(ctx, at(8, 0, 0), nil, 10)
	wantMoves := []yardstick.ScoreMove{
		{Scorecard: "prod", Entity: api, Owner: alpha, FromLevel: "bronze", ToLevel: "silver", From: 50, To: 80},
		{Scorecard: "prod", Entity: worker, Owner: alpha, FromLevel: "silver", ToLevel: "silver", From: 90, To: 85},
	}
	mustMatch(t, "ScoreMoves()", wantMoves, moves, err)
	if m, err := db.ScoreMoves(ctx, at(8, 0, 0), []yardstick.EntityRef{beta}, 10); err != nil || len(m) != 0 {
		t.Errorf("ScoreMoves(beta) = %v, %v; want none", m, err)
	}
	if m, err := db.ScoreMoves(ctx, at(8, 0, 0), nil, 1); err != nil || len(m) != 1 || m[0].Entity != api {
		t.Errorf("ScoreMoves(n=1) = %v, %v; want api", m, err)
	}
}
