package scoring

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks/checkstest"
)

func orgCatalog() []yardstick.Entity {
	return []yardstick.Entity{
		{Ref: "group:default/org", Kind: "Group", Name: "org", Children: []yardstick.EntityRef{"group:default/tribe"}},
		{Ref: "group:default/tribe", Kind: "Group", Name: "tribe"}, // parent only from org's children
		{Ref: "group:default/alpha", Kind: "Group", Name: "alpha", Parent: "group:default/tribe"},
		{Ref: "group:default/beta", Kind: "Group", Name: "beta", Parent: "group:default/tribe"},
		{Ref: "group:default/loop-a", Kind: "Group", Parent: "group:default/loop-b"},
		{Ref: "group:default/loop-b", Kind: "Group", Parent: "group:default/loop-a"},
		{Ref: "domain:default/payments", Kind: "Domain", Name: "payments"},
		{Ref: "system:default/checkout", Kind: "System", Name: "checkout", Domain: "domain:default/payments"},
		{Ref: "component:default/api", Kind: "Component", Name: "api", Type: "service", Owner: "group:default/alpha", System: "system:default/checkout"},
		{Ref: "component:default/web", Kind: "Component", Name: "web", Type: "website", Owner: "group:default/beta", System: "system:default/checkout"},
		{Ref: "component:default/lib", Kind: "Component", Name: "lib", Type: "library", Owner: "group:default/beta"},
	}
}

func TestRollups(t *testing.T) {
	env := checkstest.MustEnv(t)
	set := checkstest.MustLoad(t, env, prodRules)
	catalog := orgCatalog()
	facts := map[yardstick.EntityRef]yardstick.Facts{
		"component:default/api": goodFacts(),
		"component:default/web": {"github": {"files": map[string]any{"readme": false}}},
		"component:default/lib": goodFacts(),
	}
	metrics := map[yardstick.EntityRef]map[string]float64{"component:default/api": {"deploys_per_week": 5}}
	run, err := NewEngine(env, set, EngineConfig{}).Evaluate(context.Background(), Input{RunID: "r", At: scoreNow, Entities: catalog, Facts: facts, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	// api: gold, 100. web (no on-call check): owner passes, readme fails, reviews and deploys unknown: none, 2/7.
	// lib: silver (deploys unknown), 4/7.
	byKey := map[yardstick.EntityRef]Rollup{}
	for _, r := range Rollups(yardstick.NewOrganisation(catalog), run.Scores) {
		byKey[r.Subject] = r
	}
	levels := func(r Rollup) map[string]int {
		out := map[string]int{}
		for _, l := range r.Levels {
			out[l.Level] = l.Entities
		}
		return out
	}
	for _, tt := range []struct {
		subject  yardstick.EntityRef
		entities int
		levels   map[string]int
		mean     float64
	}{
		{yardstick.OrgRef, 3, map[string]int{"": 1, "bronze": 0, "silver": 1, "gold": 1}, (100 + 100*2.0/7 + 100*4.0/7) / 3},
		{"group:default/tribe", 3, map[string]int{"": 1, "bronze": 0, "silver": 1, "gold": 1}, (100 + 100*2.0/7 + 100*4.0/7) / 3},
		{"group:default/beta", 2, map[string]int{"": 1, "bronze": 0, "silver": 1, "gold": 0}, (100*2.0/7 + 100*4.0/7) / 2},
		{"group:default/alpha", 1, map[string]int{"": 0, "bronze": 0, "silver": 0, "gold": 1}, 100},
		{"system:default/checkout", 2, map[string]int{"": 1, "bronze": 0, "silver": 0, "gold": 1}, (100 + 100*2.0/7) / 2},
		{"domain:default/payments", 2, map[string]int{"": 1, "bronze": 0, "silver": 0, "gold": 1}, (100 + 100*2.0/7) / 2},
	} {
		r, ok := byKey[tt.subject]
		if !ok {
			t.Errorf("no rollup for %s", tt.subject)
			continue
		}
		if r.Entities != tt.entities || r.MeanScore-tt.mean > 1e-9 || tt.mean-r.MeanScore > 1e-9 {
			t.Errorf("rollup %s: %d entities mean %.3f, want %d and %.3f", tt.subject, r.Entities, r.MeanScore, tt.entities, tt.mean)
		}
		if diff := cmp.Diff(tt.levels, levels(r)); diff != "" {
			t.Errorf("rollup %s levels (-want +got):\n%s", tt.subject, diff)
		}
	}
	var readme CheckRate
	for _, c := range byKey[yardstick.OrgRef].Checks {
		if c.CheckID == "readme" {
			readme = c
		}
	}
	if readme != (CheckRate{CheckID: "readme", Pass: 2, Fail: 1}) || readme.PassRate() != 2.0/3 {
		t.Errorf("org readme rate = %+v (%.2f), want 2 pass 1 fail", readme, readme.PassRate())
	}
	if got := (CheckRate{Exempt: 3}).PassRate(); got != 1 {
		t.Errorf("PassRate(all exempt) = %v, want 1", got)
	}
}

func TestSummarizeChanges(t *testing.T) {
	h := yardstick.NewOrganisation(orgCatalog())
	ch := func(owner string, from, to yardstick.CheckState) yardstick.CheckChange {
		return yardstick.CheckChange{Owner: yardstick.EntityRef("group:default/" + owner), From: from, To: to}
	}
	got := SummarizeChanges(h, []yardstick.CheckChange{
		ch("alpha", yardstick.StatePass, yardstick.StateFail),
		ch("alpha", yardstick.StateUnknown, yardstick.StatePass),
		ch("beta", yardstick.StateFail, yardstick.StatePass),
		ch("beta", yardstick.StatePass, yardstick.StateUnknown), // neither
	})
	want := []SquadChanges{
		{Subject: "group:default/alpha", NewlyFailing: 1, NewlyPassing: 1},
		{Subject: "group:default/beta", NewlyFailing: 0, NewlyPassing: 1},
		{Subject: "group:default/org", NewlyFailing: 1, NewlyPassing: 2},
		{Subject: "group:default/tribe", NewlyFailing: 1, NewlyPassing: 2},
		{Subject: yardstick.OrgRef, NewlyFailing: 1, NewlyPassing: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SummarizeChanges() (-want +got):\n%s", diff)
	}
}
