package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestLevelChangesFindEachChangeRun(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	sum := func(run string, day int, entity, level string, rank int) yardstick.ScoreSummary {
		return yardstick.ScoreSummary{RunID: run, RunAt: scoringDay(day), Scorecard: "prod", Entity: yardstick.EntityRef("component:default/" + entity),
			Owner: "group:default/alpha", Level: level, LevelRank: rank, Score: 50}
	}
	rows := []yardstick.ScoreSummary{
		sum("r1", 1, "api", "silver", 2), sum("r1", 1, "web", "gold", 3), sum("r1", 1, "db", "bronze", 1),
		sum("r2", 2, "api", "bronze", 1), sum("r2", 2, "web", "gold", 3), sum("r2", 2, "db", "bronze", 1), sum("r2", 2, "new", "gold", 3),
		sum("r3", 3, "api", "silver", 2), sum("r3", 3, "web", "gold", 3), sum("r3", 3, "db", "", 0), sum("r3", 3, "new", "", 0),
	}
	// A rewrite of a run repeats its rows; it must not invent changes.
	for range 2 {
		mustWrite(t, db.WriteScoreSummaries, rows)
	}
	got, err := db.LevelChanges(ctx, scoringDay(1), scoringDay(3))
	want := []yardstick.LevelChange{
		{Scorecard: "prod", Entity: "component:default/api", Owner: "group:default/alpha", From: "silver", To: "bronze", FromRank: 2, ToRank: 1, At: scoringDay(2)},
		{Scorecard: "prod", Entity: "component:default/api", Owner: "group:default/alpha", From: "bronze", To: "silver", FromRank: 1, ToRank: 2, At: scoringDay(3)},
		{Scorecard: "prod", Entity: "component:default/db", Owner: "group:default/alpha", From: "bronze", To: "", FromRank: 1, ToRank: 0, At: scoringDay(3)},
		// new has no run before the window: its first run is where it starts.
		{Scorecard: "prod", Entity: "component:default/new", Owner: "group:default/alpha", From: "gold", To: "", FromRank: 3, ToRank: 0, At: scoringDay(3)},
	}
	mustMatch(t, "LevelChanges()", want, got, err)
	// The window that starts after the drop of api sees only its rise.
	got, err = db.LevelChanges(ctx, scoringDay(2), scoringDay(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].At != scoringDay(3) || got[0].From != "bronze" {
		t.Errorf("LevelChanges(day 2, day 3) = %+v, want api bronze→silver, db and new dropping at day 3", got)
	}
	if _, err := db.LevelChanges(ctx, scoringDay(3), scoringDay(1)); err == nil {
		t.Error("LevelChanges(reversed) = nil error, want one")
	}
}

func TestCheckTransitions(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	rows := []yardstick.CheckResult{
		checkRow("r1", scoringDay(1), "api", "readme", yardstick.StatePass),
		checkRow("r1", scoringDay(1), "api", "owner", yardstick.StatePass),
		checkRow("r2", scoringDay(2), "api", "readme", yardstick.StateFail),
		checkRow("r2", scoringDay(2), "api", "owner", yardstick.StatePass),
		checkRow("r2", scoringDay(2), "web", "readme", yardstick.StateFail), // new: no earlier result
	}
	mustWrite(t, db.WriteCheckResults, rows)
	got, err := db.CheckTransitions(ctx, scoringDay(1), scoringDay(2))
	want := []yardstick.CheckTransition{{Scorecard: "prod", CheckID: "readme", Entity: "component:default/api", Owner: "group:default/alpha",
		From: yardstick.StatePass, To: yardstick.StateFail, Value: "facts.github.x = 1", At: scoringDay(2)}}
	mustMatch(t, "CheckTransitions()", want, got, err)
}

func TestCollectorRuns(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	for i, e := range []string{"", "timeout", "401"} {
		if err := db.RecordCollectorRun(ctx, yardstick.CollectorRun{Collector: "github", At: scoringDay(1 + i), Err: e}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.CollectorRuns(ctx, scoringDay(2))
	want := []yardstick.CollectorRun{{Collector: "github", At: scoringDay(2), Err: "timeout"}, {Collector: "github", At: scoringDay(3), Err: "401"}}
	mustMatch(t, "CollectorRuns()", want, got, err)
}

func TestLedgerUsesServerClock(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	recs := []yardstick.DeliveryRecord{
		{Delivery: "d1", Notification: "n1", Attempt: 1, Kind: yardstick.DeliveryClaim, Instance: "a", Token: "t1", LeaseSeconds: 60, Group: "group:default/alpha", Title: "x"},
		{Delivery: "d1", Notification: "n1", Attempt: 1, Kind: yardstick.DeliverySent, Instance: "a", Token: "t1", Group: "group:default/alpha", Title: "x", Body: "b"},
		{Delivery: "d2", Notification: "n2", Attempt: 1, Kind: yardstick.DeliveryFailed, Instance: "a", RetrySeconds: 30, Group: "group:default/beta", Error: "500"},
	}
	if err := db.AppendDeliveries(ctx, recs); err != nil {
		t.Fatalf("AppendDeliveries() = %v", err)
	}
	got, now, err := db.Deliveries(ctx, []string{"d1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Kind != yardstick.DeliveryClaim || got[1].Kind != yardstick.DeliverySent {
		t.Fatalf("Deliveries(d1) = %+v, want the claim and the send", got)
	}
	if d := now.Sub(got[0].At); d < 0 || d > time.Minute {
		t.Errorf("row time %v is not the server's clock %v", got[0].At, now)
	}
	recent, err := db.RecentDeliveries(ctx, "group:default/alpha", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 1 || recent[0].Kind != yardstick.DeliverySent || recent[0].Body != "b" {
		t.Errorf("RecentDeliveries(alpha) = %+v, want the one send, without claims", recent)
	}
}

func TestEntityScoreHistory(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	var rows []yardstick.ScoreSummary
	for d := 1; d <= 4; d++ {
		rows = append(rows, yardstick.ScoreSummary{RunID: "r", RunAt: scoringDay(d), Scorecard: "prod", Entity: "component:default/api", Owner: "group:default/a", Level: "bronze", LevelRank: 1, Score: float64(d * 10)},
			yardstick.ScoreSummary{RunID: "r", RunAt: scoringDay(d), Scorecard: "prod", Entity: "component:default/web", Owner: "group:default/a", Level: "gold", LevelRank: 3, Score: 99})
	}
	for range 2 { // a rewrite of the same runs
		mustWrite(t, db.WriteScoreSummaries, rows)
	}
	got, err := db.EntityScoreHistory(ctx, "component:default/api", scoringDay(2), scoringDay(3))
	if err != nil {
		t.Fatalf("EntityScoreHistory() = %v", err)
	}
	if len(got) != 2 || got[0].Score != 20 || got[1].Score != 30 || got[0].Entity != "component:default/api" {
		t.Errorf("EntityScoreHistory(api, day 2..3) = %+v, want the runs of days 2 and 3 once each", got)
	}
}
