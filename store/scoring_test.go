package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func scoringDay(d int) time.Time { return time.Date(2025, 3, d, 6, 0, 0, 0, time.UTC) }

func checkRow(run string, at time.Time, entity, check string, state yardstick.CheckState) yardstick.CheckResult {
	return yardstick.CheckResult{
		RunID: run, RunAt: at, Scorecard: "prod", CheckID: check,
		Entity: yardstick.EntityRef("component:default/" + entity), Owner: "group:default/alpha",
		Level: "bronze", State: state, Value: "facts.github.x = 1", Message: "m",
	}
}

func TestWriteCheckResultsRoundTrip(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	want := []yardstick.CheckResult{
		checkRow("r1", scoringDay(3), "api", "owner", yardstick.StatePass),
		checkRow("r1", scoringDay(3), "api", "readme", yardstick.StateUnknown),
	}
	// Writing the same run twice keeps one copy.
	for range 2 {
		mustWrite(t, db.WriteCheckResults, want)
	}
	got, err := db.LatestCheckResults(ctx, yardstick.CheckFilter{Scorecard: "prod"})
	mustMatch(t, "LatestCheckResults() after WriteCheckResults", want, got, err)
}

func TestCheckChanges(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	rows := []yardstick.CheckResult{
		// Week 1.
		checkRow("w1", scoringDay(3), "api", "owner", yardstick.StatePass),
		checkRow("w1", scoringDay(3), "api", "readme", yardstick.StateFail),
		checkRow("w1", scoringDay(3), "web", "readme", yardstick.StatePass),
		checkRow("w1", scoringDay(3), "db", "readme", yardstick.StatePass),
		// Week 2: api's readme passes, web's fails, db's stays, and db's
		// owner check is new (no change).
		checkRow("w2", scoringDay(10), "api", "owner", yardstick.StatePass),
		checkRow("w2", scoringDay(10), "api", "readme", yardstick.StatePass),
		checkRow("w2", scoringDay(10), "web", "readme", yardstick.StateFail),
		checkRow("w2", scoringDay(10), "db", "readme", yardstick.StatePass),
		checkRow("w2", scoringDay(10), "db", "owner", yardstick.StateFail),
		// Week 3: web's readme goes unknown.
		checkRow("w3", scoringDay(17), "web", "readme", yardstick.StateUnknown),
	}
	mustWrite(t, db.WriteCheckResults, rows)
	change := func(entity string, from, to yardstick.CheckState, at time.Time) yardstick.CheckChange {
		return yardstick.CheckChange{Scorecard: "prod", CheckID: "readme", Entity: yardstick.EntityRef("component:default/" + entity),
			Owner: "group:default/alpha", From: from, To: to, At: at}
	}
	for _, tt := range []struct {
		name         string
		since, until time.Time
		want         []yardstick.CheckChange
	}{
		{"week 1 to 2", scoringDay(3), scoringDay(10), []yardstick.CheckChange{
			change("api", yardstick.StateFail, yardstick.StatePass, scoringDay(10)),
			change("web", yardstick.StatePass, yardstick.StateFail, scoringDay(10)),
		}},
		{"week 2 to 3", scoringDay(10), scoringDay(17), []yardstick.CheckChange{
			change("web", yardstick.StateFail, yardstick.StateUnknown, scoringDay(17)),
		}},
		{"week 1 to 3", scoringDay(4), scoringDay(20), []yardstick.CheckChange{
			change("api", yardstick.StateFail, yardstick.StatePass, scoringDay(10)),
			change("web", yardstick.StatePass, yardstick.StateUnknown, scoringDay(17)),
		}},
		{"before any run", scoringDay(1), scoringDay(2), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.CheckChanges(ctx, tt.since, tt.until)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckChanges(%s, %s) (-want +got):\n%s", tt.since, tt.until, diff)
			}
		})
	}
	if _, err := db.CheckChanges(ctx, scoringDay(10), scoringDay(3)); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("CheckChanges(reversed) = %v, want ErrInvalid", err)
	}
}

func TestWriteScoreSummariesAndCampaignResults(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	sums := []yardstick.ScoreSummary{
		{RunID: "r1", RunAt: scoringDay(3), Scorecard: "prod", Entity: "component:default/api", Owner: "group:default/alpha", Level: "silver", LevelRank: 2, Score: 87.5},
	}
	mustWrite(t, db.WriteScoreSummaries, sums)
	var got yardstick.ScoreSummary
	var entity, owner string
	var rank uint8
	err := db.Conn().QueryRow(ctx, "SELECT run_id, run_at, scorecard, entity, owner, level, level_rank, score FROM score_summaries FINAL").
		Scan(&got.RunID, &got.RunAt, &got.Scorecard, &entity, &owner, &got.Level, &rank, &got.Score)
	if err != nil {
		t.Fatal(err)
	}
	got.Entity, got.Owner, got.LevelRank, got.RunAt = yardstick.EntityRef(entity), yardstick.EntityRef(owner), int(rank), got.RunAt.UTC()
	if diff := cmp.Diff(sums[0], got); diff != "" {
		t.Errorf("score_summaries row after WriteScoreSummaries (-want +got):\n%s", diff)
	}
	bad := []yardstick.ScoreSummary{{RunID: "r", Scorecard: "prod", Entity: "component:default/x", LevelRank: 300}}
	if err := db.WriteScoreSummaries(ctx, bad); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("WriteScoreSummaries(rank 300) = %v, want ErrInvalid", err)
	}

	res := func(run string, at time.Time, entity, owner string, state yardstick.CampaignState) yardstick.CampaignResult {
		return yardstick.CampaignResult{RunID: run, RunAt: at, Campaign: "go122", Entity: yardstick.EntityRef("component:default/" + entity),
			Owner: yardstick.EntityRef("group:default/" + owner), State: state}
	}
	camp := []yardstick.CampaignResult{
		res("r1", scoringDay(3), "api", "alpha", yardstick.CampaignPending),
		res("r1", scoringDay(3), "web", "alpha", yardstick.CampaignDone),
		res("r1", scoringDay(3), "db", "beta", yardstick.CampaignUnknown),
		res("r2", scoringDay(10), "api", "alpha", yardstick.CampaignDone),
		res("r2", scoringDay(10), "web", "alpha", yardstick.CampaignDone),
		res("r2", scoringDay(10), "db", "beta", yardstick.CampaignPending),
	}
	mustWrite(t, db.WriteCampaignResults, camp)
	hist, err := db.CampaignHistory(ctx, "go122")
	wantHist := []yardstick.CampaignRun{
		{RunID: "r1", RunAt: scoringDay(3), Owner: "group:default/alpha", Done: 1, Total: 2},
		{RunID: "r1", RunAt: scoringDay(3), Owner: "group:default/beta", Done: 0, Total: 1},
		{RunID: "r2", RunAt: scoringDay(10), Owner: "group:default/alpha", Done: 2, Total: 2},
		{RunID: "r2", RunAt: scoringDay(10), Owner: "group:default/beta", Done: 0, Total: 1},
	}
	mustMatch(t, "CampaignHistory() after WriteCampaignResults", wantHist, hist, err)
}
