package ui_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/internal/golden"
	"github.com/yardstick-dev/yardstick/ui"
)

// do sends h one request, with body ("" for none) and the header given as
// name, value pairs, and returns the recorded answer.
func do(t testing.TB, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// get sends a GET as a browser does (Accept: text/html), with more header.
func get(t testing.TB, h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, http.MethodGet, path, "", append([]string{"Accept", "text/html"}, header...)...)
}

// postLogin posts the login form.
func postLogin(t testing.TB, h http.Handler, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, http.MethodPost, "/login", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

func TestPages(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", []string{"DORA four keys", "Deployment frequency", "elite", "Level distribution per scorecard", "Go 1.22 migration", "Top movers", "Checkout API", "<svg"}},
		{"/?range=4w&group=group:default/payments", []string{"Payments tribe", `<option value="group:default/payments" selected>`}},
		{"/squads", []string{"Checkout", "Ledger", "Average scorecard score per squad", "10 per week"}},
		{"/squads/default/checkout", []string{"Checkout API", "Has on-call", "Add a PagerDuty service", "Go 1.22 migration", "CI by workflow", "build"}},
		{"/entities/component/default/checkout-api", []string{"Production readiness", "Has on-call", "Add a PagerDuty service", "github:acme/checkout-api", "deployment.succeeded", "environment=production", "octocat"}},
		{"/scorecards", []string{"Production readiness", "bronze", "Entities per level and scorecard"}},
		{"/scorecards/production-readiness", []string{"facts.pagerduty.oncall_rotations &gt; 0", "What changed since last week", "1 improved", "1 regressed", "Check results"}},
		{"/campaigns", []string{"Go 1.22 migration", "1 / 3", "30 Apr 2024"}},
		{"/campaigns/go122", []string{"Burndown", "deadline 30 Apr", "Ledger", "go 1.21 in go.mod", "Download CSV", "remaining.csv"}},
		{"/search?q=checkout", []string{"Checkout API", "checkout-web", "component:default/checkout-api"}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, tt.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200; body:\n%s", tt.path, rec.Code, rec.Body)
			}
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tt.path, w)
				}
			}
			if strings.Contains(body, "http://") && strings.Contains(body, "<script") {
				t.Errorf("GET %s: page loads scripts", tt.path)
			}
		})
	}
}

func TestAPIMirrorsPages(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for _, path := range []string{"/overview", "/squads", "/squads/default/checkout", "/entities/component/default/checkout-api",
		"/scorecards", "/scorecards/production-readiness", "/campaigns", "/campaigns/go122", "/search?q=books", "/metrics?subject=group:default/checkout&names=deploys_per_week", "/dashboards", "/jobs"} {
		rec := get(t, h, "/api/v1"+path, "Accept", "application/json")
		if rec.Code != http.StatusOK {
			t.Errorf("GET /api/v1%s = %d, want 200: %s", path, rec.Code, rec.Body)
			continue
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Errorf("GET /api/v1%s: not JSON: %v", path, err)
		}
	}
	var camp ui.CampaignView
	rec := get(t, h, "/api/v1/campaigns/go122")
	if err := json.Unmarshal(rec.Body.Bytes(), &camp); err != nil {
		t.Fatal(err)
	}
	// Remaining 3 → 2 → 2 over 1, 10, 19 March: the pace is downward, the projection after the last point.
	if camp.Summary.Done != 1 || camp.Summary.Total != 3 || len(camp.Remaining) != 2 || len(camp.Burndown) != 3 {
		t.Errorf("campaign go122 = done %d/%d, %d remaining, %d burndown points; want 1/3, 2, 3", camp.Summary.Done, camp.Summary.Total, len(camp.Remaining), len(camp.Burndown))
	}
	if camp.Summary.Projected.IsZero() || !camp.Summary.Projected.After(time.Date(2024, 3, 19, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("campaign go122 projected = %v, want a date after the last run", camp.Summary.Projected)
	}
	var met struct {
		Values  map[string]yardstick.MetricValue `json:"values"`
		Buckets map[string]yardstick.DORABucket  `json:"buckets"`
	}
	rec = get(t, h, "/api/v1/metrics?subject=group:default/checkout&names=deploys_per_week,change_failure_rate")
	if err := json.Unmarshal(rec.Body.Bytes(), &met); err != nil {
		t.Fatal(err)
	}
	if met.Buckets[yardstick.MetricDeploysPerWeek] != yardstick.BucketElite || met.Buckets[yardstick.MetricChangeFailureRate] != yardstick.BucketLow {
		t.Errorf("metrics buckets = %v, want deploys elite and CFR low", met.Buckets)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestOpenAPIGolden keeps the OpenAPI document in testdata/openapi.golden, so
// every change to the API shows in review; go test -update rewrites it.
func TestOpenAPIGolden(t *testing.T) {
	rec := get(t, mustServer(t, nil).srv.Handler(), "/api/v1/openapi.json")
	var b bytes.Buffer
	if err := json.Indent(&b, rec.Body.Bytes(), "", "  "); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	b.WriteByte('\n')
	golden.MustMatch(t, filepath.Join("testdata", "openapi.golden"), b.Bytes(), *update)
}

func TestOpenAPIListsEveryAPIRoute(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	rec := get(t, h, "/api/v1/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI == "" {
		t.Fatal("openapi.json has no openapi version")
	}
	for _, p := range []string{"/overview", "/squads", "/squads/{namespace}/{name}", "/entities/{kind}/{namespace}/{name}", "/scorecards", "/scorecards/{id}",
		"/campaigns", "/campaigns/{id}", "/campaigns/{id}/remaining.csv", "/search", "/metrics", "/dashboards", "/jobs", "/jobs/{name}/run"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi.json lacks path %s", p)
		}
	}
	// The squad schema is derived from SquadView: its JSON fields must be there.
	props := doc.Paths["/squads/{namespace}/{name}"]["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"components", "failing_checks", "campaigns", "panels"} {
		if _, ok := props[f]; !ok {
			t.Errorf("squad schema lacks %q (has %v)", f, sortedStrings(props))
		}
	}
}

func TestCampaignCSV(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	rec := get(t, h, "/campaigns/go122/remaining.csv")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("GET remaining.csv = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"campaign", "entity", "title", "owner", "owner_title", "state", "message", "deadline"},
		{"go122", "component:default/checkout-web", "checkout-web", "group:default/checkout", "Checkout", "fail", "go 1.21 in go.mod", "2024-04-30"},
		{"go122", "component:default/books", "books", "group:default/ledger", "Ledger", "fail", "'=cmd()", "2024-04-30"},
	}
	if len(rows) != len(want) {
		t.Fatalf("CSV rows = %q, want %q", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("CSV row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	// The group filter narrows the export to the squad.
	rec = get(t, h, "/campaigns/go122/remaining.csv?group=group:default/ledger")
	if strings.Contains(rec.Body.String(), "checkout-web") || !strings.Contains(rec.Body.String(), "books") {
		t.Errorf("CSV with group=ledger = %s, want books only", rec.Body)
	}
}

func TestErrors(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for _, tt := range []struct {
		path, accept string
		code         int
		want         string
	}{
		{"/api/v1/scorecards/nope", "application/json", 404, `{"error":"Not found."}`},
		{"/scorecards/nope", "text/html", 404, "Not found."},
		{"/api/v1/squads/default/nobody", "", 404, `"Not found."`},
		{"/api/v1/overview?range=forever", "", 400, "range"},
		{"/api/v1/overview?group=group:default/ghost", "", 404, "not in the catalog"},
		{"/api/v1/metrics?names=bogus", "", 400, `unknown metric \"bogus\"`},
	} {
		rec := get(t, h, tt.path, "Accept", tt.accept)
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, rec.Code, rec.Body, tt.code, tt.want)
		}
	}
	// Internal failures are logged, never shown.
	hs := mustServer(t, func(c *ui.Config) { c.Metrics = &fakeMetrics{err: errors.New("clickhouse exploded at 10.0.0.7")} })
	rec := get(t, hs.srv.Handler(), "/api/v1/overview")
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "10.0.0.7") || !strings.Contains(rec.Body.String(), "Internal error.") {
		t.Errorf("GET /api/v1/overview with a failing store = %d %s, want 500 Internal error.", rec.Code, rec.Body)
	}
}

func TestHealth(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	if rec := get(t, h, "/healthz"); rec.Code != 200 {
		t.Errorf("/healthz = %d", rec.Code)
	}
	if rec := get(t, h, "/readyz"); rec.Code != 200 {
		t.Errorf("/readyz = %d", rec.Code)
	}
	down := mustServer(t, func(c *ui.Config) { c.Health = fakePinger{err: errors.New("connection refused")} }).srv.Handler()
	if rec := get(t, down, "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down = %d, want 503", rec.Code)
	}
}

const (
	viewerToken = "v-secret-token"
	adminToken  = "a-secret-token"
)

func TestAuth(t *testing.T) {
	hs := mustServer(t, func(c *ui.Config) {
		c.Addr = "0.0.0.0:8080"
		c.Tokens = []ui.Token{
			{Name: "dash", SHA256: ui.HashToken(viewerToken), Role: ui.RoleViewer},
			{Name: "ops", SHA256: ui.HashToken(adminToken), Role: ui.RoleAdmin},
		}
	})
	h := hs.srv.Handler()
	if hs.srv.Open() {
		t.Fatal("server on 0.0.0.0 is open")
	}
	if rec := get(t, h, "/api/v1/overview"); rec.Code != http.StatusUnauthorized {
		t.Errorf("API without token = %d, want 401", rec.Code)
	}
	if rec := get(t, h, "/squads"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?next=%2Fsquads") {
		t.Errorf("page without token = %d to %q, want redirect to /login", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, h, "/metrics"); rec.Code != http.StatusUnauthorized {
		t.Errorf("/metrics without token = %d, want 401", rec.Code)
	}
	if rec := get(t, h, "/api/v1/overview", "Authorization", "Bearer wrong"); rec.Code != http.StatusUnauthorized {
		t.Errorf("API with a wrong token = %d, want 401", rec.Code)
	}
	if rec := get(t, h, "/api/v1/overview", "Authorization", "Bearer "+viewerToken); rec.Code != http.StatusOK {
		t.Errorf("API with viewer token = %d, want 200", rec.Code)
	}
	if rec := get(t, h, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz without token = %d, want 200", rec.Code)
	}
	post := func(path, token string) int {
		var header []string
		if token != "" {
			header = []string{"Authorization", "Bearer " + token}
		}
		return do(t, h, http.MethodPost, path, "", header...).Code
	}
	if code := post("/api/v1/jobs/github/run", viewerToken); code != http.StatusForbidden {
		t.Errorf("run job as viewer = %d, want 403", code)
	}
	if code := post("/api/v1/jobs/github/run", adminToken); code != http.StatusAccepted || len(hs.jobs.ran) != 1 {
		t.Errorf("run job as admin = %d (ran %v), want 202", code, hs.jobs.ran)
	}
	if code := post("/api/v1/jobs/nope/run", adminToken); code != http.StatusNotFound {
		t.Errorf("run unknown job = %d, want 404", code)
	}
	// Webhooks check their own secrets, not UI tokens.
	if code := post("/webhooks/github", ""); code != http.StatusAccepted {
		t.Errorf("webhook without token = %d, want the handler's 202", code)
	}
	if code := post("/webhooks/gitlab", ""); code != http.StatusNotFound {
		t.Errorf("unknown webhook source = %d, want 404", code)
	}
	// Login with a token sets an HttpOnly cookie that opens pages.
	rec := postLogin(t, h, url.Values{"token": {viewerToken}, "next": {"/campaigns"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/campaigns" {
		t.Fatalf("login = %d to %q, want 303 to /campaigns", rec.Code, rec.Header().Get("Location"))
	}
	ck := rec.Result().Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly {
		t.Fatalf("login cookies = %v, want one HttpOnly cookie", ck)
	}
	if rec := get(t, h, "/campaigns", "Cookie", ck[0].Name+"="+ck[0].Value); rec.Code != http.StatusOK {
		t.Errorf("page with login cookie = %d, want 200", rec.Code)
	}
	// A cookie session cannot trigger jobs (no CSRF surface).
	rec = do(t, h, http.MethodPost, "/api/v1/jobs/github/run", "", "Cookie", ck[0].Name+"="+adminCookie(t, h))
	if rec.Code != http.StatusForbidden {
		t.Errorf("run job with an admin cookie = %d, want 403", rec.Code)
	}
	// Off-site redirects after login are refused.
	rec = postLogin(t, h, url.Values{"token": {viewerToken}, "next": {"//evil.example/"}})
	if rec.Header().Get("Location") != "/" {
		t.Errorf("login with next=//evil.example/ redirects to %q, want /", rec.Header().Get("Location"))
	}
}

func adminCookie(t testing.TB, h http.Handler) string {
	t.Helper()
	return postLogin(t, h, url.Values{"token": {adminToken}}).Result().Cookies()[0].Value
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*ui.Config)
	}{
		{"public without tokens", func(c *ui.Config) { c.Addr = ":8080" }},
		{"bad role", func(c *ui.Config) {
			c.Tokens = []ui.Token{{Name: "x", SHA256: ui.HashToken("t"), Role: "root"}}
		}},
		{"plain token instead of hash", func(c *ui.Config) {
			c.Addr = "10.1.2.3:80"
			c.Tokens = []ui.Token{{Name: "x", SHA256: "hunter2", Role: ui.RoleViewer}}
		}},
		{"bad dashboard", func(c *ui.Config) {
			c.Dashboards = fstest.MapFS{"overview.yaml": {Data: []byte("id: overview\npanels:\n  - id: x\n    query: nope\n")}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ui.Config{Addr: "127.0.0.1:0", Catalog: &fakeCatalog{}, Metrics: &fakeMetrics{}, Scores: &fakeScores{}, Campaigns: &fakeCampaigns{},
				Events: fakeEvents{}, Rules: fakeRules{}, Dashboards: fstest.MapFS{}}
			tt.mod(&cfg)
			if _, err := ui.New(cfg); !errors.Is(err, yardstick.ErrInvalid) {
				t.Errorf("ui.New(%s) = %v, want ErrInvalid", tt.name, err)
			}
		})
	}
}

func TestLoadDashboardsNamesFileAndLine(t *testing.T) {
	fsys := fstest.MapFS{"team.yaml": {Data: []byte("id: team\npanels:\n  - id: ok\n    query: dora\n  - id: bad\n    query: metric_series\n    metrics: [no_such_metric]\n    chart: pie\n")}}
	_, err := ui.LoadDashboards(fsys)
	if err == nil {
		t.Fatal("LoadDashboards(bad) = nil error")
	}
	for _, want := range []string{`team.yaml:5: panel "bad": query metric_series cannot be drawn as "pie"`, `team.yaml:5: panel "bad": unknown metric "no_such_metric"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LoadDashboards error = %v, want it to contain %q", err, want)
		}
	}
}

func TestGauges(t *testing.T) {
	hs := mustServer(t, nil)
	if err := hs.srv.RefreshGauges(t.Context()); err != nil {
		t.Fatalf("RefreshGauges() = %v", err)
	}
	want := `
# HELP yardstick_campaign_done_entities Entities done with a campaign, per owning squad.
# TYPE yardstick_campaign_done_entities gauge
yardstick_campaign_done_entities{campaign="go122",squad="group:default/checkout"} 1
yardstick_campaign_done_entities{campaign="go122",squad="group:default/ledger"} 0
# HELP yardstick_scorecard_entities Entities at each level of each scorecard, per the latest scoring.
# TYPE yardstick_scorecard_entities gauge
yardstick_scorecard_entities{level="bronze",scorecard="production-readiness"} 1
yardstick_scorecard_entities{level="gold",scorecard="production-readiness"} 0
yardstick_scorecard_entities{level="none",scorecard="production-readiness"} 1
yardstick_scorecard_entities{level="silver",scorecard="production-readiness"} 1
`
	if err := testutil.GatherAndCompare(hs.reg, strings.NewReader(want), "yardstick_scorecard_entities", "yardstick_campaign_done_entities"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.GatherAndLint(hs.reg); err != nil || len(probs) > 0 {
		t.Errorf("metrics lint: %v %v", probs, err)
	}
	// Requests are counted by route template, not path.
	get(t, hs.srv.Handler(), "/squads/default/checkout")
	if n := testutil.CollectAndCount(hs.reg, "yardstick_http_request_duration_seconds"); n != 1 {
		t.Errorf("request histogram series = %d, want 1", n)
	}
}

func TestWarm(t *testing.T) {
	hs := mustServer(t, nil)
	if err := hs.srv.Warm(t.Context()); err != nil {
		t.Fatalf("Warm() = %v", err)
	}
	hs.metrics.mu.Lock()
	defer hs.metrics.mu.Unlock()
	// The overview (range and previous range) over each of the 4 offered
	// ranges (4w, 12w, 26w, 52w), and the squads list over the default one.
	if len(hs.metrics.queries) != 9 {
		t.Errorf("Warm() ran %d metric queries, want 9", len(hs.metrics.queries))
	}
}

// hangingMetrics answers only when the request's context ends, like a
// ClickHouse that was SIGSTOPped.
type hangingMetrics struct{ fakeMetrics }

func (h *hangingMetrics) Metrics(ctx context.Context, _ yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStoppedDatabaseAnswers503: with ClickHouse stopped, pages and the API
// hung up to the driver's 300s default (issue 10). Every request has a
// deadline, and an outage is a 503 with Retry-After.
func TestStoppedDatabaseAnswers503(t *testing.T) {
	for name, mod := range map[string]func(*ui.Config){
		"store unavailable": func(c *ui.Config) {
			c.Metrics = &fakeMetrics{err: fmt.Errorf("clickhouse at 127.0.0.1:9000: %w: i/o timeout", yardstick.ErrUnavailable)}
		},
		"store hangs": func(c *ui.Config) { c.Metrics = &hangingMetrics{}; c.RequestTimeout = 50 * time.Millisecond },
	} {
		t.Run(name, func(t *testing.T) {
			hs := mustServer(t, func(c *ui.Config) { mod(c); c.RetryAfter = 7 * time.Second })
			for _, path := range []string{"/", "/api/v1/overview"} {
				rec := get(t, hs.srv.Handler(), path)
				if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "7" {
					t.Errorf("GET %s = %d Retry-After %q, want 503 Retry-After 7", path, rec.Code, rec.Header().Get("Retry-After"))
				}
				if strings.Contains(rec.Body.String(), "127.0.0.1") {
					t.Errorf("GET %s shows internals: %s", path, rec.Body)
				}
			}
			// The request metric records the code sent, not a 500.
			mfs, err := hs.reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var n503 uint64
			for _, mf := range mfs {
				if mf.GetName() != "yardstick_http_request_duration_seconds" {
					continue
				}
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "code" && l.GetValue() == "503" {
							n503 += m.GetHistogram().GetSampleCount()
						}
					}
				}
			}
			if n503 != 2 {
				t.Errorf("requests recorded with code 503 = %d, want 2", n503)
			}
		})
	}
}
