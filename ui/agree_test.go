package ui_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

// TestSquadFiguresAgreeAcrossPages: a squad's figures are the same on the
// squads list, on its own page, in the metrics API, and its campaign progress
// is the same on its page and on the campaign's page — one organisation
// model and one campaign computation behind all of them, on a real store.
func TestSquadFiguresAgreeAcrossPages(t *testing.T) {
	d := mustDemo(t, 40, 28)
	h := d.srv.Handler()
	decode := func(path string, v any) {
		t.Helper()
		rec := get(t, h, path, "Accept", "application/json")
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d:\n%s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var list ui.SquadsView
	decode("/api/v1/squads?range=4w", &list)
	if len(list.Squads) < 3 {
		t.Fatalf("squads list has %d squads, want at least 3", len(list.Squads))
	}
	campaignSquads := map[string]map[yardstick.EntityRef][2]int{}
	for _, def := range d.defs.Campaigns {
		var cv ui.CampaignView
		decode("/api/v1/campaigns/"+url.PathEscape(def.ID)+"?range=4w", &cv)
		campaignSquads[def.ID] = map[yardstick.EntityRef][2]int{}
		for _, sq := range cv.Squads {
			campaignSquads[def.ID][sq.Squad] = [2]int{sq.Summary.Done, sq.Summary.Total}
		}
	}
	compared := 0
	for _, row := range list.Squads[:3] {
		var page ui.SquadView
		decode("/api/v1/squads/"+url.PathEscape(row.Ref.Namespace())+"/"+url.PathEscape(row.Ref.Name())+"?range=4w", &page)
		var api struct {
			Values map[string]yardstick.MetricValue `json:"values"`
		}
		decode("/api/v1/metrics?range=4w&weekly=false&subject="+url.QueryEscape(string(row.Ref)), &api)
		onPage := map[string]ui.Stat{}
		for _, p := range page.Panels {
			for _, st := range p.Stats {
				onPage[st.Metric] = st
			}
		}
		for _, st := range row.Values {
			av, inAPI := api.Values[st.Metric]
			if st.Has != inAPI || (inAPI && av.Value != st.Value) {
				t.Errorf("%s %s: squads list %v (has %v), metrics API %v (has %v)", row.Ref, st.Metric, st.Value, st.Has, av.Value, inAPI)
			}
			if ps, ok := onPage[st.Metric]; ok {
				compared++
				if ps.Has != st.Has || ps.Value != st.Value {
					t.Errorf("%s %s: squads list %v (has %v), squad page %v (has %v)", row.Ref, st.Metric, st.Value, st.Has, ps.Value, ps.Has)
				}
			}
		}
		if len(page.Components) != row.Components {
			t.Errorf("%s: %d components on the squads list, %d on its page", row.Ref, row.Components, len(page.Components))
		}
		for _, share := range page.Campaigns {
			if got, ok := campaignSquads[share.ID][row.Ref]; ok && got != [2]int{share.Done, share.Total} {
				t.Errorf("%s campaign %s: %d/%d on the squad page, %d/%d on the campaign page", row.Ref, share.ID, share.Done, share.Total, got[0], got[1])
			}
		}
	}
	if compared == 0 {
		t.Fatal("no figure shown on both the squads list and a squad page")
	}
}
