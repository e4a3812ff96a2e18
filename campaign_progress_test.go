package yardstick

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func campaignDay(d int) time.Time {
	return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
}

func burndown(remaining ...int) []BurndownPoint {
	out := make([]BurndownPoint, len(remaining))
	for i, r := range remaining {
		out[i] = BurndownPoint{At: campaignDay(7 * i), Applicable: 20, Done: 20 - r}
	}
	return out
}

func TestProjectBurndown(t *testing.T) {
	for _, tt := range []struct {
		name   string
		points []BurndownPoint
		want   time.Time
	}{
		{"no points", nil, time.Time{}},
		{"one point", burndown(10), time.Time{}},
		{"steady burn of 2 a week", burndown(16, 14, 12, 10), campaignDay(21 + 35)},
		{"flat", burndown(10, 10, 10), time.Time{}},
		{"going up", burndown(8, 9, 10), time.Time{}},
		{"done", burndown(4, 2, 0), campaignDay(14)},
		{"a line already past zero projects to the latest point", burndown(20, 1, 1), campaignDay(14)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProjectBurndown(tt.points); !got.Equal(tt.want) {
				t.Errorf("ProjectBurndown() = %v, want %v", got, tt.want)
			}
		})
	}
}

// campaignOrg: org > tribe > alpha, beta; components a1, a2 (alpha), b, b2 (beta).
func campaignOrg() *Organisation {
	return NewOrganisation([]Entity{
		{Ref: "group:default/org", Children: []EntityRef{"group:default/tribe"}},
		{Ref: "group:default/tribe", Parent: "group:default/org"},
		{Ref: "group:default/alpha", Parent: "group:default/tribe"},
		{Ref: "group:default/beta", Parent: "group:default/tribe"},
		{Ref: "component:default/a1", Owner: "group:default/alpha"},
		{Ref: "component:default/a2", Owner: "group:default/alpha"},
		{Ref: "component:default/b", Owner: "group:default/beta"},
		{Ref: "component:default/b2", Owner: "group:default/beta"},
	})
}

func campaignInputs() ([]CampaignStatus, []CampaignRun) {
	st := func(entity, owner, state string) CampaignStatus {
		return CampaignStatus{Campaign: "go122", Entity: EntityRef("component:default/" + entity), Owner: EntityRef("group:default/" + owner), State: state, Done: state == CampaignDone}
	}
	latest := []CampaignStatus{
		st("b", "beta", CampaignPending),
		st("a2", "alpha", CampaignDone),
		st("a1", "alpha", CampaignUnknown),
		st("b2", "beta", CampaignDone),
		st("gone", "beta", CampaignPending), // no longer in the catalog: left out
	}
	run := func(id string, at time.Time, owner string, done, total int) CampaignRun {
		return CampaignRun{RunID: id, RunAt: at, Owner: EntityRef("group:default/" + owner), Done: done, Total: total}
	}
	history := []CampaignRun{
		run("r1", campaignDay(0), "alpha", 0, 2), run("r1", campaignDay(0), "beta", 0, 2),
		run("r2", campaignDay(7), "alpha", 1, 2), run("r2", campaignDay(7), "beta", 0, 2),
		// Two runs on one day: the burndown keeps the later one.
		run("r3a", campaignDay(14), "alpha", 0, 2), run("r3a", campaignDay(14), "beta", 0, 2),
		run("r3b", campaignDay(14).Add(time.Hour), "alpha", 1, 2), run("r3b", campaignDay(14).Add(time.Hour), "beta", 1, 2),
	}
	return latest, history
}

var campaignWindow = CampaignWindow{Start: campaignDay(0), Deadline: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}

func TestComputeCampaignProgress(t *testing.T) {
	latest, history := campaignInputs()
	got := ComputeCampaignProgress("go122", campaignWindow, campaignOrg(), OrgRef, latest, history, campaignDay(15))
	if got.Applicable != 4 || got.Done != 2 || got.Unknown != 1 {
		t.Errorf("counts = %d applicable, %d done, %d unknown; want 4, 2, 1", got.Applicable, got.Done, got.Unknown)
	}
	var gotRemaining []EntityRef
	for _, r := range got.Remaining {
		gotRemaining = append(gotRemaining, r.Entity)
	}
	if diff := cmp.Diff([]EntityRef{"component:default/a1", "component:default/b"}, gotRemaining); diff != "" {
		t.Errorf("remaining, by owner then entity (-want +got):\n%s", diff)
	}
	wantBurndown := []BurndownPoint{{campaignDay(0), 4, 0}, {campaignDay(7), 4, 1}, {campaignDay(14).Add(time.Hour), 4, 2}}
	if diff := cmp.Diff(wantBurndown, got.Burndown); diff != "" {
		t.Errorf("burndown, last run of each day (-want +got):\n%s", diff)
	}
	// Remaining 4, 3, 2 about a week apart: zero about two weeks after the last point.
	if got.Projected.IsZero() || got.Projected.Before(campaignDay(27)) || got.Projected.After(campaignDay(29)) || got.Health != CampaignOnTrack {
		t.Errorf("projected %v health %s, want about %v and on-track", got.Projected, got.Health, campaignDay(28))
	}
	bySubject := map[EntityRef]SquadProgress{}
	for _, s := range got.Squads {
		bySubject[s.Subject] = s
	}
	for ref, w := range map[EntityRef][2]int{
		"group:default/alpha": {2, 1}, "group:default/beta": {2, 1}, "group:default/tribe": {4, 2}, "group:default/org": {4, 2},
	} {
		if s := bySubject[ref]; s.Applicable != w[0] || s.Done != w[1] {
			t.Errorf("squad %s = %d/%d, want %d/%d", ref, s.Done, s.Applicable, w[1], w[0])
		}
	}
	if diff := cmp.Diff([]BurndownPoint{{campaignDay(0), 2, 0}, {campaignDay(7), 2, 0}, {campaignDay(14).Add(time.Hour), 2, 1}}, bySubject["group:default/beta"].Burndown); diff != "" {
		t.Errorf("beta burndown (-want +got):\n%s", diff)
	}
}

// TestCampaignProgressOfASquadAgreesWithTheWhole: the progress of one squad
// is the same whether computed for the squad or read from the whole
// organisation's squad list (the campaign page and the squad page agree).
func TestCampaignProgressOfASquadAgreesWithTheWhole(t *testing.T) {
	latest, history := campaignInputs()
	org := campaignOrg()
	whole := ComputeCampaignProgress("go122", campaignWindow, org, OrgRef, latest, history, campaignDay(15))
	beta := ComputeCampaignProgress("go122", campaignWindow, org, "group:default/beta", latest, history, campaignDay(15))
	for _, s := range whole.Squads {
		if s.Subject != "group:default/beta" {
			continue
		}
		if s.Applicable != beta.Applicable || s.Done != beta.Done {
			t.Errorf("beta = %d/%d alone, %d/%d in the whole", beta.Done, beta.Applicable, s.Done, s.Applicable)
		}
		if diff := cmp.Diff(s.Burndown, beta.Burndown); diff != "" {
			t.Errorf("beta burndown alone vs in the whole (-whole +alone):\n%s", diff)
		}
	}
	if len(beta.Squads) != 1 || beta.Squads[0].Subject != "group:default/beta" {
		t.Errorf("squads of beta's progress = %+v, want beta only (nothing above the subject)", beta.Squads)
	}
}

func TestCampaignHealth(t *testing.T) {
	deadline := campaignWindow.Deadline
	for _, tt := range []struct {
		name                  string
		applicable, remaining int
		projected, now        time.Time
		want                  CampaignHealth
	}{
		{"nothing applies", 0, 0, time.Time{}, campaignDay(10), CampaignEmpty},
		{"complete", 5, 0, campaignDay(10), deadline.AddDate(0, 1, 0), CampaignComplete},
		{"before the start", 5, 5, time.Time{}, campaignDay(-3), CampaignNotStarted},
		{"projected before the deadline", 5, 5, deadline.AddDate(0, 0, -1), campaignDay(10), CampaignOnTrack},
		{"projected after the deadline", 5, 5, deadline.AddDate(0, 0, 1), campaignDay(10), CampaignAtRisk},
		{"no downward trend", 5, 5, time.Time{}, campaignDay(10), CampaignAtRisk},
		{"deadline passed", 5, 1, deadline.AddDate(0, 0, -10), deadline, CampaignOverdue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaignHealth(campaignWindow, tt.applicable, tt.remaining, tt.projected, tt.now); got != tt.want {
				t.Errorf("campaignHealth() = %s, want %s", got, tt.want)
			}
		})
	}
	if got := campaignHealth(CampaignWindow{Start: campaignDay(0)}, 5, 5, campaignDay(400), campaignDay(10)); got != CampaignOnTrack {
		t.Errorf("campaignHealth(no deadline, a downward trend) = %s, want on-track", got)
	}
}
