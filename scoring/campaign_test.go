package scoring

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

func TestScoreAllExempt(t *testing.T) {
	env := mustEnv(t)
	sc := mustRules(t, env, `kind: Scorecard
id: s
title: S
levels: [bronze]
checks:
  - id: c
    title: C
    level: bronze
    expr: facts.github.x == true
exemptions:
  - entity: api
    check: c
    reason: r
    expires: 2030-01-01
`).Scorecards[0]
	in := entityCase{name: "api"}.input(t, scoreNow)
	got, _, err := ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), scoreNow)
	if err != nil || got.Score != 100 || got.Level.Name != "bronze" {
		t.Errorf("ScoreEntity(all exempt) = score %v level %q err %v; want 100 and bronze", got.Score, got.Level.Name, err)
	}
}

func day(d int) time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }

func points(remaining ...int) []BurndownPoint {
	out := make([]BurndownPoint, len(remaining))
	for i, r := range remaining {
		out[i] = BurndownPoint{At: day(7 * i), Applicable: 20, Done: 20 - r}
	}
	return out
}

func TestProject(t *testing.T) {
	for _, tt := range []struct {
		name   string
		points []BurndownPoint
		window time.Duration
		want   time.Time
	}{
		{"no points", nil, TrendWindow, time.Time{}},
		{"one point", points(10), TrendWindow, time.Time{}},
		{"steady burn of 2 a week", points(16, 14, 12, 10), TrendWindow, day(21 + 35)},
		{"flat", points(10, 10, 10), TrendWindow, time.Time{}},
		{"going up", points(8, 9, 10), TrendWindow, time.Time{}},
		{"done", points(4, 2, 0), TrendWindow, day(14)},
		{"only the recent trend counts", points(20, 20, 20, 20, 16, 12), 14 * 24 * time.Hour, day(35 + 21)},
		{"a line already past zero projects to the latest point", points(20, 1, 1), TrendWindow, day(14)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Project(tt.points, tt.window); !got.Equal(tt.want) {
				t.Errorf("Project() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	env := mustEnv(t)
	c := mustRules(t, env, campaignRules).Campaigns[0] // start 2025-03-01, deadline 2025-06-30
	h := NewHierarchy([]yardstick.Entity{
		{Ref: "group:default/org", Kind: "Group", Children: []yardstick.EntityRef{"group:default/tribe"}},
		{Ref: "group:default/tribe", Kind: "Group", Parent: "group:default/org"},
		{Ref: "group:default/alpha", Kind: "Group", Parent: "group:default/tribe"},
		{Ref: "group:default/beta", Kind: "Group", Parent: "group:default/tribe"},
	})
	res := func(entity, owner, state yardstick.CampaignState) yardstick.CampaignResult {
		return yardstick.CampaignResult{Campaign: "go122", Entity: yardstick.EntityRef("component:default/" + entity), Owner: yardstick.EntityRef("group:default/" + owner), State: state}
	}
	latest := []yardstick.CampaignResult{
		res("b", "beta", yardstick.CampaignPending),
		res("a2", "alpha", yardstick.CampaignDone),
		res("a1", "alpha", yardstick.CampaignUnknown),
		res("b2", "beta", yardstick.CampaignDone),
	}
	run := func(id string, at time.Time, owner string, done, total int) yardstick.CampaignRun {
		return yardstick.CampaignRun{RunID: id, RunAt: at, Owner: yardstick.EntityRef("group:default/" + owner), Done: done, Total: total}
	}
	history := []yardstick.CampaignRun{
		run("r1", day(0), "alpha", 0, 2), run("r1", day(0), "beta", 0, 2),
		run("r2", day(7), "alpha", 1, 2), run("r2", day(7), "beta", 0, 2),
		run("r3", day(14), "alpha", 1, 2), run("r3", day(14), "beta", 1, 2),
	}
	got := Progress(c, h, latest, history, day(15))
	if got.Applicable != 4 || got.Done != 2 || got.Unknown != 1 {
		t.Errorf("counts = %d applicable, %d done, %d unknown; want 4, 2, 1", got.Applicable, got.Done, got.Unknown)
	}
	wantRemaining := []yardstick.EntityRef{"component:default/a1", "component:default/b"}
	var gotRemaining []yardstick.EntityRef
	for _, r := range got.Remaining {
		gotRemaining = append(gotRemaining, r.Entity)
	}
	if diff := cmp.Diff(wantRemaining, gotRemaining); diff != "" {
		t.Errorf("remaining, by owner then entity (-want +got):\n%s", diff)
	}
	wantBurndown := []BurndownPoint{{day(0), 4, 0}, {day(7), 4, 1}, {day(14), 4, 2}}
	if diff := cmp.Diff(wantBurndown, got.Burndown); diff != "" {
		t.Errorf("burndown (-want +got):\n%s", diff)
	}
	// Remaining 4, 3, 2 a week apart: zero two weeks after the last point.
	if want := day(28); !got.Projected.Equal(want) || got.Status != StatusOnTrack {
		t.Errorf("projected %v status %s, want %v on-track", got.Projected, got.Status, want)
	}
	bySubject := map[yardstick.EntityRef]SquadProgress{}
	for _, s := range got.Squads {
		bySubject[s.Subject] = s
	}
	wantSquads := map[yardstick.EntityRef][2]int{
		"group:default/alpha": {2, 1}, "group:default/beta": {2, 1}, "group:default/tribe": {4, 2}, "group:default/org": {4, 2},
	}
	for ref, w := range wantSquads {
		if s := bySubject[ref]; s.Applicable != w[0] || s.Done != w[1] {
			t.Errorf("squad %s = %d/%d, want %d/%d", ref, s.Done, s.Applicable, w[1], w[0])
		}
	}
	if diff := cmp.Diff([]BurndownPoint{{day(0), 2, 0}, {day(7), 2, 0}, {day(14), 2, 1}}, bySubject["group:default/beta"].Burndown); diff != "" {
		t.Errorf("beta burndown (-want +got):\n%s", diff)
	}
}

func TestCampaignStatus(t *testing.T) {
	env := mustEnv(t)
	c := mustRules(t, env, campaignRules).Campaigns[0] // start 2025-03-01, deadline 2025-06-30
	deadline := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		remaining int
		projected time.Time
		now       time.Time
		want      CampaignStatus
	}{
		{"complete", 0, day(10), deadline.AddDate(0, 1, 0), StatusComplete},
		{"before the start", 5, time.Time{}, day(-3), StatusNotStarted},
		{"projected before the deadline", 5, deadline.AddDate(0, 0, -1), day(10), StatusOnTrack},
		{"projected after the deadline", 5, deadline.AddDate(0, 0, 1), day(10), StatusAtRisk},
		{"no downward trend", 5, time.Time{}, day(10), StatusAtRisk},
		{"deadline passed", 1, deadline.AddDate(0, 0, -10), deadline, StatusOverdue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := status(c, tt.remaining, tt.projected, tt.now); got != tt.want {
				t.Errorf("status() = %s, want %s", got, tt.want)
			}
		})
	}
}
