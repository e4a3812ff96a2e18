package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

// manySquads serves a tribe of n squads, each owning one component scored
// (n-i)*10, so sorting by score reverses the name order.
func manySquads(t *testing.T, n int) (harness, []yardstick.EntityRef) {
	t.Helper()
	tribe := yardstick.NewEntityRef("group", "", "tribe")
	entities := []yardstick.Entity{{Ref: tribe, Kind: "Group", Name: "tribe", Type: "tribe"}}
	scores := &fakeScores{}
	var squads []yardstick.EntityRef
	for i := range n {
		sq := yardstick.NewEntityRef("group", "", fmt.Sprintf("squad-%02d", i))
		comp := yardstick.NewEntityRef("component", "", fmt.Sprintf("comp-%02d", i))
		squads = append(squads, sq)
		entities = append(entities,
			yardstick.Entity{Ref: sq, Kind: "Group", Name: sq.Name(), Type: "team", Parent: tribe},
			yardstick.Entity{Ref: comp, Kind: "Component", Name: comp.Name(), Type: "service", Owner: sq})
		scores.summaries = append(scores.summaries, yardstick.ScoreSummary{RunID: "r", RunAt: now, Scorecard: "production-readiness",
			Entity: comp, Owner: sq, Level: "bronze", LevelRank: 1, Score: float64((n - i) * 10)})
		scores.results = append(scores.results, yardstick.CheckResult{RunID: "r", RunAt: now, Scorecard: "production-readiness", CheckID: "oncall",
			Entity: comp, Owner: sq, State: yardstick.StateFail})
	}
	h := mustServer(t, func(c *ui.Config) {
		c.Catalog = &fakeCatalog{entities: entities}
		c.Scores = scores
	})
	return h, squads
}

type squadsPage struct {
	Sort   string `json:"sort"`
	Squads []struct {
		Ref      yardstick.EntityRef `json:"ref"`
		AvgScore float64             `json:"avg_score"`
		Failing  int                 `json:"failing_checks"`
	} `json:"squads"`
	Paging struct {
		Limit      int    `json:"limit"`
		Total      int    `json:"total"`
		First      int    `json:"first"`
		Last       int    `json:"last"`
		NextCursor string `json:"next_cursor"`
	} `json:"paging"`
}

// walk follows next_cursor from the first page and returns the squads in
// the order served and the number of pages.
func walk(t *testing.T, h http.Handler, query string) ([]yardstick.EntityRef, []float64, int) {
	t.Helper()
	var refs []yardstick.EntityRef
	var avgs []float64
	cursor, pages := "", 0
	for {
		path := "/api/v1/squads?" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		rec := get(t, h, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body)
		}
		var p squadsPage
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Squads) > p.Paging.Limit || p.Paging.Total != 7 || p.Paging.First != len(refs)+1 || p.Paging.Last != len(refs)+len(p.Squads) {
			t.Fatalf("GET %s: %d squads, paging %+v after %d squads", path, len(p.Squads), p.Paging, len(refs))
		}
		for _, s := range p.Squads {
			refs = append(refs, s.Ref)
			avgs = append(avgs, s.AvgScore)
			if s.Failing != 1 {
				t.Errorf("squad %s: %d failing checks, want 1", s.Ref, s.Failing)
			}
		}
		if p.Paging.NextCursor == "" {
			return refs, avgs, pages
		}
		if pages > 10 {
			t.Fatal("the cursor never ends")
		}
		cursor = p.Paging.NextCursor
	}
}

func TestSquadsPaginated(t *testing.T) {
	hs, squads := manySquads(t, 7)
	h := hs.srv.Handler()

	got, _, pages := walk(t, h, "limit=3")
	if pages != 3 || fmt.Sprint(got) != fmt.Sprint(squads) {
		t.Errorf("walking pages of 3 = %v in %d pages, want %v in 3", got, pages, squads)
	}
	// Metrics are computed for the squads of each page only.
	hs.metrics.mu.Lock()
	for _, q := range hs.metrics.queries {
		if len(q.Subjects) > 3 {
			t.Errorf("metric query for %d subjects, want at most a page (3)", len(q.Subjects))
		}
	}
	hs.metrics.mu.Unlock()

	byScore, avgs, _ := walk(t, h, "limit=2&sort=score")
	for i := 1; i < len(avgs); i++ {
		if avgs[i] < avgs[i-1] {
			t.Errorf("sort=score: %v, want lowest average first", avgs)
			break
		}
	}
	if len(byScore) != 7 || byScore[0] != squads[6] || byScore[6] != squads[0] {
		t.Errorf("sort=score = %v, want squad-06 (score 10) first and squad-00 (70) last", byScore)
	}

	for _, tt := range []struct{ query, want string }{
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=x", "limit"},
		{"cursor=not*base64", "cursor"},
		{"cursor=Z3JvdXA6ZGVmYXVsdC9nb25l", "Bad request"}, // group:default/gone: not in the list
		{"sort=size", "sort"},
	} {
		rec := get(t, h, "/api/v1/squads?"+tt.query)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("GET /api/v1/squads?%s = %d %s, want 400 naming %s", tt.query, rec.Code, rec.Body, tt.want)
		}
	}

	// The page links to the next page and says where it is, even when its
	// API twin built the cached view first.
	get(t, h, "/api/v1/squads?limit=3")
	rec := get(t, h, "/squads?limit=3")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "Squads 1–3 of 7") || !strings.Contains(body, `rel="next"`) || !strings.Contains(body, "cursor=") || strings.Contains(body, `href="/api/v1/squads`) {
		t.Errorf("GET /squads?limit=3 = %d, want a page saying 1–3 of 7 with a next link; body:\n%s", rec.Code, body)
	}
}

func TestCampaignRemainingPaginated(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	type page struct {
		Remaining []struct {
			Entity yardstick.EntityRef `json:"entity"`
		} `json:"remaining"`
		Paging struct {
			Total      int    `json:"total"`
			NextCursor string `json:"next_cursor"`
		} `json:"remaining_paging"`
	}
	var got []yardstick.EntityRef
	cursor := ""
	for range 3 {
		rec := get(t, h, "/api/v1/campaigns/go122?limit=1&cursor="+url.QueryEscape(cursor))
		var p page
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil || len(p.Remaining) != 1 || p.Paging.Total != 2 {
			t.Fatalf("GET campaign page after %q = %d %s, want one of 2 remaining", cursor, rec.Code, rec.Body)
		}
		got = append(got, p.Remaining[0].Entity)
		if cursor = p.Paging.NextCursor; cursor == "" {
			break
		}
	}
	// Both remaining entities once, and the CSV still lists them all.
	if len(got) != 2 || got[0] == got[1] {
		t.Errorf("remaining walked = %v, want web and books once each", got)
	}
	if csv := get(t, h, "/campaigns/go122/remaining.csv").Body.String(); strings.Count(csv, "\n") != 3 {
		t.Errorf("remaining.csv = %q, want a header and 2 rows", csv)
	}
}
