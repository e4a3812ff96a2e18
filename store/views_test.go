package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// mustInsert writes rows the way scoring does: a native batch with a column list.
func mustInsert(t testing.TB, conn driver.Conn, query string, rows ...[]any) {
	t.Helper()
	ctx := context.Background()
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		t.Fatalf("prepare %s: %v", query, err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			t.Fatalf("append to %s: %v", query, err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("send %s: %v", query, err)
	}
}

func TestScoreViews(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	conn := db.Conn()
	r1, r2 := at(4, 0, 0), at(11, 0, 0)
	// Two runs: api goes from bronze to silver; web was scored in run 1 only.
	mustInsert(t, conn, `INSERT INTO score_summaries (run_id, run_at, scorecard, entity, owner, level, level_rank, score)`,
		[]any{"r1", r1, "prod", string(api), string(alpha), "bronze", uint8(1), 50.0},
		[]any{"r1", r1, "prod", string(web), string(beta), "", uint8(0), 10.0},
		[]any{"r2", r2, "prod", string(api), string(alpha), "silver", uint8(2), 80.0})
	mustInsert(t, conn, `INSERT INTO check_results (run_id, run_at, scorecard, check_id, entity, owner, level, state, value, message)`,
		[]any{"r1", r1, "prod", "owner", string(api), string(alpha), "bronze", "pass", "alpha", ""},
		[]any{"r1", r1, "prod", "readme", string(api), string(alpha), "silver", "fail", "false", ""},
		[]any{"r2", r2, "prod", "owner", string(api), string(alpha), "bronze", "pass", "alpha", ""},
		[]any{"r2", r2, "prod", "readme", string(api), string(alpha), "silver", "pass", "true", ""},
		[]any{"r1", r1, "prod", "readme", string(web), string(beta), "silver", "fail", "false", ""})
	mustInsert(t, conn, `INSERT INTO campaign_results (run_id, run_at, campaign, entity, owner, done, state, message)`,
		[]any{"r1", r1, "go122", string(api), string(alpha), uint8(0), "fail", ""},
		[]any{"r1", r1, "go122", string(web), string(beta), uint8(0), "fail", ""},
		[]any{"r2", r2, "go122", string(api), string(alpha), uint8(1), "pass", ""},
		[]any{"r2", r2, "go122", string(web), string(beta), uint8(0), "unknown", "no go.mod"})

	sums, err := db.ScoreSummaries(ctx, time.Time{})
	want := []yardstick.ScoreSummary{
		{RunID: "r2", RunAt: r2, Scorecard: "prod", Entity: api, Owner: alpha, Level: "silver", LevelRank: 2, Score: 80},
		{RunID: "r1", RunAt: r1, Scorecard: "prod", Entity: web, Owner: beta, Level: "", LevelRank: 0, Score: 10},
	}
	mustMatch(t, "ScoreSummaries(now)", want, sums, err)
	lastWeek, err := db.ScoreSummaries(ctx, at(8, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(lastWeek) != 2 || lastWeek[0].Level != "bronze" {
		t.Errorf("ScoreSummaries(8 Mar) = %+v, want api at bronze", lastWeek)
	}

	failing, err := db.LatestCheckResults(ctx, yardstick.CheckFilter{Scorecard: "prod", States: []yardstick.CheckState{yardstick.StateFail}})
	if err != nil {
		t.Fatalf("LatestCheckResults() = %v", err)
	}
	// api's readme failure was fixed in r2; web still fails it.
	if len(failing) != 1 || failing[0].Entity != web || failing[0].CheckID != "readme" {
		t.Errorf("LatestCheckResults(failing) = %+v, want web readme only", failing)
	}
	apiChecks, err := db.LatestCheckResults(ctx, yardstick.CheckFilter{Entities: []yardstick.EntityRef{api}})
	if err != nil {
		t.Fatal(err)
	}
	if len(apiChecks) != 2 || apiChecks[0].RunID != "r2" || apiChecks[1].State != yardstick.StatePass {
		t.Errorf("LatestCheckResults(api) = %+v, want r2's two passing checks", apiChecks)
	}

	st, err := db.CampaignStatuses(ctx, "go122")
	if err != nil {
		t.Fatalf("CampaignStatuses() = %v", err)
	}
	if len(st) != 2 || !st[0].Done || st[1].Done || st[1].Message != "no go.mod" {
		t.Errorf("CampaignStatuses() = %+v, want api done, web not", st)
	}
	hist, err := db.CampaignHistory(ctx, "go122")
	wantHist := []yardstick.CampaignRun{
		{RunID: "r1", RunAt: r1, Owner: alpha, Done: 0, Total: 1},
		{RunID: "r1", RunAt: r1, Owner: beta, Done: 0, Total: 1},
		{RunID: "r2", RunAt: r2, Owner: alpha, Done: 1, Total: 1},
		{RunID: "r2", RunAt: r2, Owner: beta, Done: 0, Total: 1},
	}
	mustMatch(t, "CampaignHistory()", wantHist, hist, err)
}

func TestRecentEvents(t *testing.T) {
	db := mustMetricDB(t)
	got, err := db.RecentEvents(context.Background(), []yardstick.Scope{apiPD}, 2)
	if err != nil {
		t.Fatalf("RecentEvents() = %v", err)
	}
	// Every event was written twice: each shows once.
	if len(got) != 2 || got[0].ID != "I3" || got[0].Type != yardstick.IncidentResolved || got[1].ID != "I3" || got[1].Type != yardstick.IncidentTriggered ||
		got[0].Num["off_hours"] != 0 || got[0].Str["urgency"] != "high" {
		t.Errorf("RecentEvents(pagerduty:PAPI, 2) = %+v, want I3 resolved then triggered", got)
	}
	// The tombstoned deployment "gone" (8 Mar 08:00) is not among the repository's events.
	all, err := db.RecentEvents(context.Background(), []yardstick.Scope{apiRepo}, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range all {
		if e.ID == "gone" {
			t.Errorf("RecentEvents returned the tombstoned deployment %+v", e)
		}
		if seen[e.Type+"/"+e.ID] {
			t.Errorf("RecentEvents returned %s %s twice", e.Type, e.ID)
		}
		seen[e.Type+"/"+e.ID] = true
	}
	if len(all) != 26 {
		t.Errorf("RecentEvents(github:acme/api, 100) = %d events, want the 26 live ones", len(all))
	}
}
