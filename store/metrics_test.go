package store_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/store"
)

// The hand-made organisation: tribe-x with squads alpha (alice, bob) and beta
// (carol); component api (alpha) has a repository, a PagerDuty service and a
// Jira project; component web (beta) has a repository only.
var (
	tribe = yardstick.NewEntityRef("group", "", "tribe-x")
	alpha = yardstick.NewEntityRef("group", "", "alpha")
	beta  = yardstick.NewEntityRef("group", "", "beta")
	api   = yardstick.NewEntityRef("component", "", "api")
	web   = yardstick.NewEntityRef("component", "", "web")
)

func metricCatalog() []yardstick.Entity {
	group := func(ref, parent yardstick.EntityRef, children, members []yardstick.EntityRef) yardstick.Entity {
		return yardstick.Entity{Ref: ref, Kind: "Group", Namespace: "default", Name: ref.Name(), Type: "team",
			Parent: parent, Children: children, Members: members, Spec: "{}"}
	}
	user := func(name string) yardstick.EntityRef { return yardstick.NewEntityRef("user", "", name) }
	comp := func(ref, owner yardstick.EntityRef, ann map[string]string) yardstick.Entity {
		return yardstick.Entity{Ref: ref, Kind: "Component", Namespace: "default", Name: ref.Name(), Type: "service",
			Lifecycle: "production", Owner: owner, Annotations: ann, Spec: "{}"}
	}
	return []yardstick.Entity{
		group(tribe, "", []yardstick.EntityRef{alpha, beta}, nil),
		group(alpha, tribe, nil, []yardstick.EntityRef{user("alice"), user("bob")}),
		group(beta, tribe, nil, []yardstick.EntityRef{user("carol")}),
		comp(api, alpha, map[string]string{
			github.AnnotationSlug:         "acme/api",
			pagerduty.AnnotationServiceID: "PAPI",
			jira.AnnotationProjectKey:     "API",
		}),
		comp(web, beta, map[string]string{github.AnnotationSlug: "acme/web"}),
	}
}

// at returns a time in March 2024; the window is the two weeks starting Monday 4 March.
func at(day, hour, minute int) time.Time {
	return time.Date(2024, time.March, day, hour, minute, 0, 0, time.UTC)
}

var metricWindow = yardstick.Window{From: at(4, 0, 0), To: at(18, 0, 0)}

const (
	apiRepo = yardstick.Scope("github:acme/api")
	webRepo = yardstick.Scope("github:acme/web")
	apiPD   = yardstick.Scope("pagerduty:PAPI")
	apiJira = yardstick.Scope("jira:API")
)

func deploy(scope yardstick.Scope, id, env string, t time.Time, shas ...string) yardstick.Event {
	return yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: scope, ID: id, Time: t,
		Str: map[string]string{"environment": env}, Related: shas}
}

func commit(sha string, t time.Time) yardstick.Event {
	return yardstick.Event{Source: "github", Type: yardstick.CommitPushed, Scope: apiRepo, ID: sha, Time: t,
		Str: map[string]string{"sha": sha, "branch": "main"}}
}

func incident(typ, id string, t time.Time, offHours float64) yardstick.Event {
	return yardstick.Event{Source: "pagerduty", Type: typ, Scope: apiPD, ID: id, Time: t,
		Num: map[string]float64{"off_hours": offHours}, Str: map[string]string{"urgency": "high"}}
}

func run(id, workflow, conclusion string, seconds float64, t time.Time) yardstick.Event {
	return yardstick.Event{Source: "github", Type: yardstick.PipelineFinished, Scope: apiRepo, ID: id, Time: t,
		Num: map[string]float64{"duration_seconds": seconds}, Str: map[string]string{"workflow": workflow, "conclusion": conclusion, "branch": "main"}}
}

func transition(key string, n int, t time.Time, toCategory string) yardstick.Event {
	return yardstick.Event{Source: "jira", Type: yardstick.TicketTransitioned, Scope: apiJira, ID: key + "/" + string(rune('0'+n)), Time: t,
		Str: map[string]string{"key": key, "to_category": toCategory}}
}

func created(key string, t time.Time) yardstick.Event {
	return yardstick.Event{Source: "jira", Type: yardstick.TicketCreated, Scope: apiJira, ID: key, Time: t, Str: map[string]string{"key": key}}
}

// metricEvents is the event set; the expected answers in TestMetrics are worked
// out from it in comments.
func metricEvents() []yardstick.Event {
	return []yardstick.Event{
		// Production deployments of api: d1 ships c1, c2; d2 ships c3; d3 ships c4.
		deploy(apiRepo, "d0", "production", at(1, 10, 0), "c0"), // before the window
		deploy(apiRepo, "d1", "production", at(5, 10, 0), "c1", "c2"),
		deploy(apiRepo, "d2", "Production", at(6, 12, 0), "c3"),
		deploy(apiRepo, "d3", "prod", at(12, 9, 0), "c4"),
		deploy(apiRepo, "d1-redeploy", "production", at(16, 9, 0), "c1"), // counts as a deploy; c1 keeps its first deploy
		deploy(apiRepo, "s1", "staging", at(7, 10, 0), "c5"),             // not production
		deploy(webRepo, "w1", "production", at(6, 12, 30)),
		commit("c0", at(1, 9, 0)),
		commit("c1", at(5, 8, 0)),  // lead 2h
		commit("c2", at(4, 10, 0)), // lead 24h
		commit("c3", at(6, 11, 0)), // lead 1h
		commit("c4", at(10, 9, 0)), // lead 48h
		commit("c5", at(7, 9, 0)),  // staging only
		// Pull requests: #1 opened (attribute) 4 Mar 06:00, merged 5 Mar 06:00 (24h), merge sha c2 → d1 (4h);
		// #2 opened (event) 9 Mar 09:00, merged 11 Mar 09:00 (48h), merge sha c4 → d3 (24h);
		// #3 opened 13 Mar 09:00, merged 10:00 (1h), never deployed.
		{Source: "github", Type: yardstick.ChangeMerged, Scope: apiRepo, ID: "1", Time: at(5, 6, 0),
			Num: map[string]float64{"number": 1, "additions": 10, "deletions": 5, "opened_at": float64(at(4, 6, 0).Unix())},
			Str: map[string]string{"merge_commit_sha": "c2"}},
		{Source: "github", Type: yardstick.ChangeOpened, Scope: apiRepo, ID: "2", Time: at(9, 9, 0), Num: map[string]float64{"number": 2}},
		{Source: "github", Type: yardstick.ChangeMerged, Scope: apiRepo, ID: "2", Time: at(11, 9, 0),
			Num: map[string]float64{"number": 2, "additions": 100, "deletions": 20}, Str: map[string]string{"merge_commit_sha": "c4"}},
		{Source: "github", Type: yardstick.ChangeMerged, Scope: apiRepo, ID: "3", Time: at(13, 10, 0),
			Num: map[string]float64{"number": 3, "additions": 1, "opened_at": float64(at(13, 9, 0).Unix())},
			Str: map[string]string{"merge_commit_sha": "zz"}},
		// Reviews: #1 first reviewed 2h after opening (its author's own earlier comment does not
		// count), #2 3h after (a later review does not count).
		{Source: "github", Type: yardstick.ChangeReviewed, Scope: apiRepo, ID: "r0", Time: at(4, 7, 0), Actor: "ann",
			Num: map[string]float64{"number": 1}, Str: map[string]string{"author": "ann", "state": "commented"}},
		{Source: "github", Type: yardstick.ChangeReviewed, Scope: apiRepo, ID: "r1", Time: at(4, 8, 0), Num: map[string]float64{"number": 1}},
		{Source: "github", Type: yardstick.ChangeReviewed, Scope: apiRepo, ID: "r2", Time: at(9, 12, 0), Num: map[string]float64{"number": 2}},
		{Source: "github", Type: yardstick.ChangeReviewed, Scope: apiRepo, ID: "r3", Time: at(10, 12, 0), Num: map[string]float64{"number": 2}},
		// Incidents of api: I1 follows d2 by one hour (d1 is 27h before it: outside the 24h window);
		// a failed production deployment follows d3; so 2 of api's 3 deploys failed.
		incident(yardstick.IncidentTriggered, "I1", at(6, 13, 0), 0),
		incident(yardstick.IncidentAcknowledged, "I1", at(6, 13, 10), 0),
		incident(yardstick.IncidentResolved, "I1", at(6, 15, 0), 0), // restored in 2h, acked in 10m
		incident(yardstick.IncidentTriggered, "I2", at(14, 2, 0), 1),
		incident(yardstick.IncidentAcknowledged, "I2", at(14, 2, 30), 1),
		incident(yardstick.IncidentResolved, "I2", at(14, 6, 0), 1), // 4h, acked in 30m, off hours
		incident(yardstick.IncidentTriggered, "I3", at(15, 10, 0), 0),
		incident(yardstick.IncidentResolved, "I3", at(15, 11, 0), 0), // 1h, never acked
		{Source: "github", Type: yardstick.DeploymentFailed, Scope: apiRepo, ID: "f1", Time: at(12, 15, 0), Str: map[string]string{"environment": "production"}},
		// CI of api: build ×3 (2 ok), test ×1, one cancelled run that does not count.
		run("b1", "build", "success", 300, at(5, 1, 0)),
		run("b2", "build", "failure", 600, at(6, 1, 0)),
		run("b3", "build", "success", 120, at(12, 1, 0)),
		run("b4", "build", "cancelled", 5, at(12, 2, 0)),
		run("t1", "test", "success", 60, at(12, 3, 0)),
		// Tickets: API-1 in progress 4 Mar, done 6 Mar (cycle 2d), created 1 Mar (lead 5d);
		// API-2 in progress 6 Mar, done 7 Mar, reopened, done again 10 Mar (cycle 4d, lead 5d);
		// API-3 still in progress; API-4 done 11 Mar without going through in progress (lead 1d).
		created("API-1", at(1, 9, 0)),
		transition("API-1", 1, at(4, 9, 0), "indeterminate"),
		transition("API-1", 2, at(5, 9, 0), "indeterminate"),
		transition("API-1", 3, at(6, 9, 0), "done"),
		created("API-2", at(5, 0, 0)),
		transition("API-2", 1, at(6, 0, 0), "indeterminate"),
		transition("API-2", 2, at(7, 0, 0), "done"),
		transition("API-2", 3, at(8, 0, 0), "new"),
		transition("API-2", 4, at(9, 0, 0), "indeterminate"),
		transition("API-2", 5, at(10, 0, 0), "done"),
		created("API-3", at(12, 0, 0)),
		transition("API-3", 1, at(13, 0, 0), "indeterminate"),
		created("API-4", at(10, 0, 0)),
		transition("API-4", 1, at(11, 0, 0), "done"),
	}
}

func mustMetricDB(t testing.TB) *store.DB {
	t.Helper()
	db := newDB(t)
	ctx := context.Background()
	mustCatalog(t, db, metricCatalog())
	// Written twice: re-collecting must not double-count.
	for i := 0; i < 2; i++ {
		mustWrite(t, db.WriteEvents, metricEvents())
	}
	// A deployment that vanished upstream is tombstoned and must not count.
	gone := deploy(apiRepo, "gone", "production", at(8, 8, 0), "c5")
	mustWrite(t, db.WriteEvents, []yardstick.Event{gone})
	if err := db.DeleteEvents(ctx, []yardstick.Event{gone}); err != nil {
		t.Fatal(err)
	}
	return db
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetrics(t *testing.T) {
	db := mustMetricDB(t)
	m := store.NewMetrics(db, store.MetricsConfig{})
	ctx := context.Background()
	got, err := m.Metrics(ctx, yardstick.MetricQuery{
		Names:    yardstick.MetricNames(),
		Subjects: []yardstick.EntityRef{api, web, alpha, beta, tribe, yardstick.OrgRef},
		Window:   metricWindow,
		Weekly:   true,
	})
	if err != nil {
		t.Fatalf("Metrics() = %v", err)
	}
	// Percentiles are ClickHouse's exact quantiles (quantilesExact): the value at 0-based position
	// floor(q*n) of the sorted observations.
	for _, tt := range []struct {
		subject yardstick.EntityRef
		name    string
		want    float64 // NaN: absent
		count   int64
	}{
		// d1, d2, d3, d1-redeploy over two weeks; staging, the tombstoned and the earlier deploy do not count.
		{api, yardstick.MetricDeploysPerWeek, 2, 4},
		{web, yardstick.MetricDeploysPerWeek, 0.5, 1},
		{alpha, yardstick.MetricDeploysTotal, 4, 4},
		{tribe, yardstick.MetricDeploysTotal, 5, 5},
		{yardstick.OrgRef, yardstick.MetricDeploysPerWeek, 2.5, 5},
		// Lead times [1 2 24 48] h: p50 = sorted[2], p90 = sorted[3].
		{api, yardstick.MetricLeadTimeP50Hours, 24, 4},
		{api, yardstick.MetricLeadTimeP90Hours, 48, 4},
		{api, yardstick.MetricLeadTimeCommits, 4, 4},
		{web, yardstick.MetricLeadTimeP50Hours, math.NaN(), 0},
		{tribe, yardstick.MetricLeadTimeP50Hours, 24, 4},
		// Merge to deploy [4 24] h.
		{api, yardstick.MetricMergeToDeployP50Hours, 24, 2},
		{api, yardstick.MetricMergeToDeployChanges, 2, 2},
		// Change failure: I1 is attributed to d2, the latest deployment before it
		// (d1 is also within 24 h but only the latest takes the blame); I2 and I3
		// come 41 h and 73 h after d3, outside the window; f1 is a failed
		// deployment attempt, not a failure of d3. So 1 of api's 4; web's did not fail.
		{api, yardstick.MetricChangeFailureRate, 0.25, 4},
		{api, yardstick.MetricChangeFailureDeploys, 1, 1},
		{web, yardstick.MetricChangeFailureRate, 0, 1},
		{yardstick.OrgRef, yardstick.MetricChangeFailureRate, 0.2, 5},
		// Deployment attempts of api in production: d1, d2, d3, d1-redeploy succeeded, f1 failed.
		{api, yardstick.MetricDeployAttemptFailureRate, 0.2, 5},
		{api, yardstick.MetricFailedDeployAttempts, 1, 1},
		// Restore [1 2 4] h, mean 7/3; acknowledge [10 30] min.
		{api, yardstick.MetricTimeToRestoreP50Hours, 2, 3},
		{api, yardstick.MetricTimeToRestoreP90Hours, 4, 3},
		{api, yardstick.MetricMTTRHours, 7.0 / 3, 3},
		{api, yardstick.MetricMTTAMinutes, 20, 2},
		{api, yardstick.MetricMTTAP50Minutes, 30, 2},
		{api, yardstick.MetricIncidentsPerWeek, 1.5, 3},
		{api, yardstick.MetricIncidentsTotal, 3, 3},
		{web, yardstick.MetricIncidentsPerWeek, 0, 0},
		// One off-hours page; alpha has two members, the tribe three.
		{api, yardstick.MetricOffHoursPagesTotal, 1, 1},
		{api, yardstick.MetricOffHoursPagesPerMember, 0.5, 1},
		{alpha, yardstick.MetricOffHoursPagesPerMember, 0.5, 1},
		{tribe, yardstick.MetricOffHoursPagesPerMember, 1.0 / 3, 1},
		// PR cycle [1 24 48] h, sizes [1 15 120], first review [2 3] h.
		{api, yardstick.MetricPRCycleTimeP50Hours, 24, 3},
		{api, yardstick.MetricPRCycleTimeP90Hours, 48, 3},
		{api, yardstick.MetricPRSizeP50Lines, 15, 3},
		{api, yardstick.MetricPRsMergedPerWeek, 1.5, 3},
		{api, yardstick.MetricPRFirstReviewP50Hours, 3, 2},
		{api, yardstick.MetricPRFirstReviewed, 2, 2},
		// CI: 3 of 4 counted runs succeeded; durations [60 120 300 600] s.
		{api, yardstick.MetricCISuccessRate, 0.75, 4},
		{api, yardstick.MetricCIFailedRuns, 1, 1},
		{api, yardstick.MetricCIDurationP50Minutes, 5, 4},
		{api, yardstick.MetricCIDurationP90Minutes, 10, 4},
		// Tickets: cycle [2 4] d, lead [1 5 5] d, three done.
		{api, yardstick.MetricTicketCycleTimeP50Days, 4, 2},
		{api, yardstick.MetricTicketCycleTimeP90Days, 4, 2},
		{api, yardstick.MetricTicketLeadTimeP50Days, 5, 3},
		{api, yardstick.MetricTicketsDone, 3, 3},
		{yardstick.OrgRef, yardstick.MetricTicketsResolvedPerWeek, 1.5, 3},
	} {
		v, ok := got[tt.subject].Values[tt.name]
		switch {
		case math.IsNaN(tt.want) && ok:
			t.Errorf("%s %s = %v, want absent", tt.subject, tt.name, v)
		case math.IsNaN(tt.want):
		case !ok:
			t.Errorf("%s %s absent, want %v", tt.subject, tt.name, tt.want)
		case !approx(v.Value, tt.want) || v.Count != tt.count:
			t.Errorf("%s %s = %v (count %d), want %v (count %d)", tt.subject, tt.name, v.Value, v.Count, tt.want, tt.count)
		}
	}

	// One subject with series takes the window's values from the series query's
	// totals: they must be the same as computed on their own.
	alone, err := m.Metrics(ctx, yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: []yardstick.EntityRef{api}, Window: metricWindow, Weekly: true})
	if err != nil {
		t.Fatalf("Metrics(api alone) = %v", err)
	}
	if diff := cmp.Diff(got[api], alone[api], cmp.Comparer(approx)); diff != "" {
		t.Errorf("Metrics(api alone) differs from Metrics(all subjects) (-all +alone):\n%s", diff)
	}

	// Weekly series: week of 4 March has d1, d2; week of 11 March has d3 and the redeploy.
	wantDeploys := []yardstick.MetricPoint{{Week: at(4, 0, 0), Value: 2, Count: 2}, {Week: at(11, 0, 0), Value: 2, Count: 2}}
	if diff := cmp.Diff(wantDeploys, got[api].Series[yardstick.MetricDeploysPerWeek]); diff != "" {
		t.Errorf("api deploys_per_week series (-want +got):\n%s", diff)
	}
	// Lead time per week: [2 24 1] → sorted[1] = 2; [48] → 48.
	wantLead := []yardstick.MetricPoint{{Week: at(4, 0, 0), Value: 2, Count: 3}, {Week: at(11, 0, 0), Value: 48, Count: 1}}
	if diff := cmp.Diff(wantLead, got[api].Series[yardstick.MetricLeadTimeP50Hours]); diff != "" {
		t.Errorf("api lead_time_p50_hours series (-want +got):\n%s", diff)
	}
}

func TestMetricsFailureWindowAndEnvironments(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	// With a 48h window I2 (41h after d3) makes d3 fail too (2 of 4); I1 still
	// blames only d2, the latest deployment before it. With staging as
	// production only s1 counts.
	m := store.NewMetrics(db, store.MetricsConfig{FailureWindow: 48 * time.Hour})
	got, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricChangeFailureRate}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[api].Values[yardstick.MetricChangeFailureRate]; !approx(v.Value, 0.5) {
		t.Errorf("change_failure_rate with 48h window = %v, want 0.5", v.Value)
	}
	m = store.NewMetrics(db, store.MetricsConfig{ProductionEnvironments: []string{"Staging"}})
	got, err = m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal, yardstick.MetricLeadTimeP50Hours}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[api].Values[yardstick.MetricDeploysTotal]; v.Value != 1 {
		t.Errorf("deploys with staging as production = %v, want 1", v.Value)
	}
	// s1 is the first (staging) deployment of api: a baseline, so c5 is not measured.
	if v, ok := got[api].Values[yardstick.MetricLeadTimeP50Hours]; ok {
		t.Errorf("lead time with staging as production = %v, want absent (the first deployment is a baseline)", v.Value)
	}
}

func TestMetricsByEntity(t *testing.T) {
	db := mustMetricDB(t)
	m := store.NewMetrics(db, store.MetricsConfig{})
	got, err := m.MetricsByEntity(context.Background(), []string{
		yardstick.MetricDeploysPerWeek, yardstick.MetricLeadTimeP50Hours, yardstick.MetricIncidentsPerWeek, yardstick.MetricOffHoursPagesPerMember,
	}, metricWindow)
	if err != nil {
		t.Fatalf("MetricsByEntity() = %v", err)
	}
	want := map[yardstick.EntityRef]map[string]float64{
		api: {yardstick.MetricDeploysPerWeek: 2, yardstick.MetricLeadTimeP50Hours: 24, yardstick.MetricIncidentsPerWeek: 1.5, yardstick.MetricOffHoursPagesPerMember: 0.5},
		// web: no commits, so no lead time; counting metrics are zero.
		web: {yardstick.MetricDeploysPerWeek: 0.5, yardstick.MetricIncidentsPerWeek: 0, yardstick.MetricOffHoursPagesPerMember: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MetricsByEntity() (-want +got):\n%s", diff)
	}
}

func TestMetricsRehomedRepository(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	// Move acme/api to web's owner squad beta by re-pointing web at it: its history moves along.
	cat := metricCatalog()
	cat[4].Annotations[github.AnnotationSlug] = "acme/api"
	delete(cat[3].Annotations, github.AnnotationSlug)
	mustCatalog(t, db, cat)
	m := store.NewMetrics(db, store.MetricsConfig{})
	got, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{api, beta}, Window: metricWindow})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[beta].Values[yardstick.MetricDeploysTotal]; v.Value != 4 {
		t.Errorf("beta deploys after re-homing acme/api = %v, want 4", v.Value)
	}
	if v, ok := got[api].Values[yardstick.MetricDeploysTotal]; !ok || v.Value != 0 {
		t.Errorf("api deploys after losing its repository = %v (present %v), want 0", v.Value, ok)
	}
}

func TestWorkflowStats(t *testing.T) {
	db := mustMetricDB(t)
	m := store.NewMetrics(db, store.MetricsConfig{})
	got, err := m.WorkflowStats(context.Background(), alpha, metricWindow)
	// build: [120 300 600] s → p50 sorted[1] = 5 min, p90 sorted[2] = 10 min.
	want := []yardstick.WorkflowStat{
		{Workflow: "build", Runs: 3, SuccessRate: 2.0 / 3, P50Minutes: 5, P90Minutes: 10},
		{Workflow: "test", Runs: 1, SuccessRate: 1, P50Minutes: 1, P90Minutes: 1},
	}
	mustMatch(t, "WorkflowStats()", want, got, err, cmp.Comparer(approx))
}

func TestMetricsErrors(t *testing.T) {
	db := mustMetricDB(t)
	m := store.NewMetrics(db, store.MetricsConfig{})
	ctx := context.Background()
	if _, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{"nope"}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow}); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("Metrics(unknown name) = %v, want ErrNotFound", err)
	}
	if _, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{"component:default/ghost"}, Window: metricWindow}); !errors.Is(err, yardstick.ErrNotFound) {
		t.Errorf("Metrics(unknown subject) = %v, want ErrNotFound", err)
	}
	if _, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{api}, Window: yardstick.Window{From: at(5, 0, 0), To: at(4, 0, 0)}}); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("Metrics(reversed window) = %v, want ErrInvalid", err)
	}
}

func TestMetricsRefresh(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	m := store.NewMetrics(db, store.MetricsConfig{})
	deploys := func() float64 {
		t.Helper()
		got, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow})
		if err != nil {
			t.Fatal(err)
		}
		return got[api].Values[yardstick.MetricDeploysTotal].Value
	}
	if got := deploys(); got != 4 {
		t.Fatalf("deploys = %v, want 4", got)
	}
	mustWrite(t, db.WriteEvents, []yardstick.Event{deploy(apiRepo, "d9", "production", at(15, 9, 0))})
	// Reads use the observations of the last refresh until the next one.
	if got := deploys(); got != 4 {
		t.Errorf("deploys before Refresh = %v, want 4", got)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	if got := deploys(); got != 5 {
		t.Errorf("deploys after Refresh = %v, want 5", got)
	}
	// Another configuration keeps observations of its own.
	staging := store.NewMetrics(db, store.MetricsConfig{ProductionEnvironments: []string{"staging"}})
	got, err := staging.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[api].Values[yardstick.MetricDeploysTotal].Value; v != 1 {
		t.Errorf("staging deploys = %v, want 1", v)
	}
}

// TestRefreshParallelismDefault: a refresh runs as many queries at once as a
// server on this machine has cores (2 to 4), and 4 on any other server; a
// configured value stands.
func TestRefreshParallelismDefault(t *testing.T) {
	for _, c := range []struct {
		addrs []string
		local bool
	}{
		{[]string{"127.0.0.1:9000"}, true},
		{[]string{"localhost:9000", "[::1]:9001"}, true},
		{[]string{"127.0.0.1:9000", "ch-2.internal:9000"}, false},
		{[]string{"10.0.0.7:9000"}, false},
		{nil, false},
	} {
		if got := store.OnLoopback(c.addrs); got != c.local {
			t.Errorf("onLoopback(%q) = %v, want %v", c.addrs, got, c.local)
		}
	}
	db := newDB(t)
	if got, want := store.NewMetrics(db, store.MetricsConfig{}).Config().RefreshParallelism, min(4, max(2, runtime.NumCPU())); got != want {
		t.Errorf("default refresh parallelism on a server on this machine (%d cores) = %d, want %d", runtime.NumCPU(), got, want)
	}
	if got := store.NewMetrics(db, store.MetricsConfig{RefreshParallelism: 7}).Config().RefreshParallelism; got != 7 {
		t.Errorf("configured refresh parallelism 7 became %d", got)
	}
}
