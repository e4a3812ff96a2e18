package ui_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

// TestEveryFigureOpensItsEvidence: each figure of the overview, a squad and a
// component links to /evidence for its metric and subject, and that page
// lists the rows behind it with a CSV download.
func TestEveryFigureOpensItsEvidence(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for path, subject := range map[string]string{
		"/api/v1/overview":                                "org",
		"/api/v1/squads/default/checkout":                 "group:default/checkout",
		"/api/v1/entities/component/default/checkout-api": "component:default/checkout-api",
	} {
		rec := get(t, h, path)
		var v struct {
			Panels []ui.Panel `json:"panels"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		n := 0
		for _, p := range v.Panels {
			for _, st := range p.Stats {
				n++
				if !strings.Contains(st.Evidence, "metric="+st.Metric) || !strings.Contains(st.Evidence, "subject="+strings.ReplaceAll(strings.ReplaceAll(subject, ":", "%3A"), "/", "%2F")) {
					t.Errorf("GET %s: figure %s links to %q, want its evidence for %s", path, st.Metric, st.Evidence, subject)
				}
			}
		}
		if n == 0 {
			t.Errorf("GET %s: no figures", path)
		}
	}

	rec := get(t, h, "/evidence?metric=change_failure_rate&subject=component:default/checkout-api&range=4w")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /evidence = %d:\n%s", rec.Code, rec.Body)
	}
	for _, w := range []string{"Change failure rate", "Checkout API", "d1", "incident.triggered P1", "(window)", "Download CSV", "/evidence.csv?"} {
		if !strings.Contains(rec.Body.String(), w) {
			t.Errorf("GET /evidence: body lacks %q", w)
		}
	}
	rec = get(t, h, "/evidence.csv?metric=change_failure_rate&subject=component:default/checkout-api")
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][4] != "d1" || !strings.Contains(rows[1][8], "P1") {
		t.Errorf("GET /evidence.csv = %v (%v), want a header and d1 failed by P1", rows, err)
	}
	if rec := get(t, h, "/api/v1/evidence?metric=nonsense"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "nonsense") {
		t.Errorf("GET /api/v1/evidence?metric=nonsense = %d %s, want 400 naming the metric", rec.Code, rec.Body)
	}
}

// TestComparisonsNeedCoveredPeriods: "vs previous period" is given only when
// the subject's data covers the previous period; otherwise the figure says why.
func TestComparisonsNeedCoveredPeriods(t *testing.T) {
	stats := func(coverFrom time.Time) map[string]ui.Stat {
		h := mustServer(t, func(c *ui.Config) { c.Metrics = &fakeMetrics{coverFrom: coverFrom} }).srv.Handler()
		var v struct {
			Panels []ui.Panel `json:"panels"`
		}
		if err := json.Unmarshal(get(t, h, "/api/v1/overview?range=4w").Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out := map[string]ui.Stat{}
		for _, p := range v.Panels {
			for _, st := range p.Stats {
				out[st.Metric] = st
			}
		}
		return out
	}
	covered := stats(now.AddDate(-1, 0, 0))[yardstick.MetricDeploysPerWeek]
	if covered.Change == "" || covered.ChangeNote != "" {
		t.Errorf("covered: change %q note %q, want a change and no note", covered.Change, covered.ChangeNote)
	}
	partial := stats(now.AddDate(0, 0, -14))[yardstick.MetricDeploysPerWeek]
	if partial.Change != "" || partial.Previous != nil || !strings.Contains(partial.ChangeNote, "data starts") {
		t.Errorf("data starting inside the window: change %q previous %v note %q, want no comparison and a note", partial.Change, partial.Previous, partial.ChangeNote)
	}
}

// TestCurrentWeekIsPartial: the last weekly point, a week not over yet, is
// marked partial and drawn apart rather than as a drop.
func TestCurrentWeekIsPartial(t *testing.T) {
	pts := []ui.Point{{X: now.AddDate(0, 0, -14), Y: 5}, {X: now.AddDate(0, 0, -7), Y: 5}, {X: now.AddDate(0, 0, -1), Y: 1, Partial: true}}
	svg := string(ui.LineChart("Deploys", "per week", []ui.Series{{Name: "deploys", Points: pts}}))
	if !strings.Contains(svg, `class="line partial`) || !strings.Contains(svg, "(week so far)") {
		t.Errorf("LineChart with a partial week lacks the partial segment:\n%s", svg)
	}
	bars := string(ui.BarChart("Deploys", "per week", []ui.Series{{Name: "deploys", Points: pts}}))
	if strings.Count(bars, `class="bar partial`) != 1 {
		t.Errorf("BarChart draws %d partial bars, want 1", strings.Count(bars, `class="bar partial`))
	}

	h := mustServer(t, nil).srv.Handler()
	var v struct {
		Panels []ui.Panel `json:"panels"`
	}
	if err := json.Unmarshal(get(t, h, "/api/v1/overview?range=4w").Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Panels {
		for _, s := range p.Series {
			for _, pt := range s.Points {
				if want := pt.X.AddDate(0, 0, 7).After(now); pt.Partial != want {
					t.Errorf("panel %s week %s partial = %v, want %v", p.ID, pt.X.Format(time.DateOnly), pt.Partial, want)
				}
			}
		}
	}
}

// TestScorecardFiguresOpenTheirCheckResults: a pass rate or a count on the
// scorecard page opens the check results behind it.
func TestScorecardFiguresOpenTheirCheckResults(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	page := get(t, h, "/scorecards/production-readiness").Body.String()
	if !strings.Contains(page, "/evidence?check=oncall&amp;scorecard=production-readiness&amp;state=fail") {
		t.Fatalf("scorecard page has no link from its fail count to the failing results")
	}
	rec := get(t, h, "/api/v1/evidence?scorecard=production-readiness&check=oncall&state=fail")
	var v ui.EvidenceView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("GET evidence: %v\n%s", err, rec.Body)
	}
	if len(v.Checks) == 0 {
		t.Fatal("no failing oncall results behind the scorecard's fail count")
	}
	for _, r := range v.Checks {
		if r.CheckID != "oncall" || r.State != yardstick.StateFail {
			t.Errorf("evidence row %+v, want only failing oncall results", r)
		}
	}
}
