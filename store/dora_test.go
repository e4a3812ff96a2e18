package store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/ingest"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/store"
)

// doraExpect is one "# expect SUBJECT METRIC VALUE COUNT" line of a scenario.
type doraExpect struct {
	line    int
	subject yardstick.EntityRef
	metric  string
	value   float64 // NaN: absent
	count   int64
}

// readDORAScenario reads a scenario file: # comments (some of them expect
// lines) and `yardstick ingest` lines.
func readDORAScenario(t *testing.T, path string) ([]yardstick.Event, []doraExpect) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		events []yardstick.Event
		expect []doraExpect
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# expect "):
			f := strings.Fields(strings.TrimPrefix(line, "# expect "))
			if len(f) != 4 {
				t.Fatalf("%s:%d: want # expect SUBJECT METRIC VALUE COUNT", path, n)
			}
			e := doraExpect{line: n, subject: yardstick.EntityRef(f[0]), metric: f[1], value: math.NaN()}
			if f[2] != "absent" {
				if e.value, err = strconv.ParseFloat(f[2], 64); err != nil {
					t.Fatalf("%s:%d: value: %v", path, n, err)
				}
			}
			if e.count, err = strconv.ParseInt(f[3], 10, 64); err != nil {
				t.Fatalf("%s:%d: count: %v", path, n, err)
			}
			expect = append(expect, e)
		case strings.HasPrefix(line, "#"):
		default:
			ev, err := ingest.ParseLine([]byte(line))
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			events = append(events, ev)
		}
	}
	if len(expect) == 0 {
		t.Fatalf("%s: no # expect line", path)
	}
	return events, expect
}

func doraCatalog() []yardstick.Entity {
	comp := func(name, slug string, ann map[string]string) yardstick.Entity {
		if ann == nil {
			ann = map[string]string{}
		}
		ann[github.AnnotationSlug] = slug
		return yardstick.Entity{Ref: yardstick.NewEntityRef("component", "", name), Kind: "Component", Namespace: "default", Name: name,
			Type: "service", Lifecycle: "production", Owner: alpha, Annotations: ann, Spec: "{}"}
	}
	return []yardstick.Entity{
		{Ref: alpha, Kind: "Group", Namespace: "default", Name: "alpha", Type: "team", Spec: "{}"},
		comp("api", "acme/api", map[string]string{pagerduty.AnnotationServiceID: "PAPI"}),
		comp("web", "acme/web", nil),
	}
}

// TestDORAScenarios runs the acceptance scenarios of testdata/dora: hand-built
// histories whose figures are worked out by hand in each file.
func TestDORAScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "dora", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata/dora (%v)", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".jsonl"), func(t *testing.T) {
			m, expect := mustScenario(t, name)
			var subjects []yardstick.EntityRef
			var names []string
			for _, e := range expect {
				subjects = append(subjects, e.subject)
				names = append(names, e.metric)
			}
			got, err := m.Metrics(context.Background(), yardstick.MetricQuery{Names: names, Subjects: subjects, Window: metricWindow})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range expect {
				v, ok := got[e.subject].Values[e.metric]
				switch {
				case math.IsNaN(e.value) && ok && v.Count > 0:
					t.Errorf("%s:%d: %s %s = %v (count %d), want absent", path, e.line, e.subject, e.metric, v.Value, v.Count)
				case math.IsNaN(e.value):
				case !ok:
					t.Errorf("%s:%d: %s %s absent, want %v", path, e.line, e.subject, e.metric, e.value)
				case !approx(v.Value, e.value) || v.Count != e.count:
					t.Errorf("%s:%d: %s %s = %v (count %d), want %v (count %d)", path, e.line, e.subject, e.metric, v.Value, v.Count, e.value, e.count)
				}
			}
		})
	}
}

// mustScenario loads one scenario of testdata/dora into a fresh database and
// returns the database's metrics with the scenario's expectations.
func mustScenario(t *testing.T, name string) (*store.Metrics, []doraExpect) {
	t.Helper()
	events, expect := readDORAScenario(t, filepath.Join("testdata", "dora", name))
	db := newDB(t)
	mustCatalog(t, db, doraCatalog())
	mustWrite(t, db.WriteEvents, events)
	return store.NewMetrics(db, store.MetricsConfig{}), expect
}

// TestEvidenceOfChangeFailureRate: the evidence of the change failure rate
// lists every deployment behind it and what made each fail (scenario 03).
func TestEvidenceOfChangeFailureRate(t *testing.T) {
	m, _ := mustScenario(t, "03-explicit-links.jsonl")
	api := yardstick.EntityRef("component:default/api")
	ev, err := m.Evidence(context.Background(), yardstick.MetricChangeFailureRate, api, metricWindow)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ref, detail string
		value       float64
		failedBy    []string
	}
	var got []row
	for _, r := range ev.Rows {
		x := row{ref: r.Ref, detail: r.Detail, value: r.Value}
		for _, f := range r.Failures {
			x.failedBy = append(x.failedBy, f.SignalID+" by "+f.Basis)
		}
		got = append(got, x)
	}
	want := []row{
		{ref: "d1", detail: "failed", value: 1, failedBy: []string{"P1 by deployment_id"}},
		{ref: "d2", detail: "failed", value: 1, failedBy: []string{"P2 by sha"}},
		{ref: "d3", detail: "failed", value: 1, failedBy: []string{"r1 by deployment_id"}},
		{ref: "r1", detail: "", value: 0},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("Evidence(change_failure_rate) (-want +got):\n%s", diff)
	}
	if ev.Unit == "" || ev.Truncated {
		t.Errorf("Evidence unit %q truncated %v", ev.Unit, ev.Truncated)
	}
}

// TestEvidenceOfShippedCommits: every lead-time row says where its clock
// started, and rows left out say why; merge to deploy shares the lead-time
// family's rows, and its evidence lists only the merged commits, with their
// own span (scenarios 04 and 07: in 07, c2 was never merged and c1 shipped
// before its merge).
func TestEvidenceOfShippedCommits(t *testing.T) {
	api := yardstick.EntityRef("component:default/api")
	type row struct {
		Hours  float64
		Detail string
	}
	for _, tc := range []struct {
		metric, file string
		want         map[string]row
	}{
		{yardstick.MetricLeadTimeP50Hours, "04-ingest-without-commits.jsonl", map[string]row{"m1": {26, "from first_commit"}, "m2": {6, "from merge"}}},
		{yardstick.MetricLeadTimeP50Hours, "07-clock-skew.jsonl", map[string]row{"c1": {2, "from commit"}, "c2": {-1, "from commit; left out: starts after its deployment (clock skew)"}}},
		{yardstick.MetricMergeToDeployP50Hours, "04-ingest-without-commits.jsonl", map[string]row{"m1": {2, ""}, "m2": {6, ""}}},
		{yardstick.MetricMergeToDeployP50Hours, "07-clock-skew.jsonl", map[string]row{"c1": {-2, "left out: shipped before the merge"}}},
	} {
		m, _ := mustScenario(t, tc.file)
		ev, err := m.Evidence(context.Background(), tc.metric, api, metricWindow)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]row{}
		for _, r := range ev.Rows {
			got[r.Ref] = row{r.Value, r.Detail}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s, %s: evidence (-want +got):\n%s", tc.metric, tc.file, diff)
		}
		if ev.Unit != "hours" {
			t.Errorf("%s, %s: unit %q, want hours", tc.metric, tc.file, ev.Unit)
		}
	}
}

// TestEvidenceOfDeployments: deployment frequency, attempts and the change
// failure rate read one family's rows; the evidence of each lists its own
// (scenario 09: f1 is a failed attempt, P1 blames d2).
func TestEvidenceOfDeployments(t *testing.T) {
	m, _ := mustScenario(t, "09-failed-and-staging.jsonl")
	api := yardstick.EntityRef("component:default/api")
	for metric, want := range map[string][]string{
		yardstick.MetricDeploysPerWeek:           {"d1 1 ", "d2 1 "},
		yardstick.MetricDeployAttemptFailureRate: {"d1 0 succeeded", "f1 1 failed attempt", "d2 0 succeeded"},
		yardstick.MetricChangeFailureRate:        {"d1 0 ", "d2 1 failed P1"},
	} {
		ev, err := m.Evidence(context.Background(), metric, api, metricWindow)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range ev.Rows {
			line := fmt.Sprintf("%s %v %s", r.Ref, r.Value, r.Detail)
			for _, f := range r.Failures {
				line += " " + f.SignalID
			}
			got = append(got, line)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Evidence(%s) (-want +got):\n%s", metric, diff)
		}
	}
}

// TestCoverageSaysWhereDataStarts: deployments of scenario 01 start on
// 1 March (the baseline deployments), incidents on 5 March.
func TestCoverageSaysWhereDataStarts(t *testing.T) {
	m, _ := mustScenario(t, "01-multi-repo-component.jsonl")
	got, err := m.Coverage(context.Background(), "component:default/api", []string{yardstick.MetricDeploysPerWeek, yardstick.MetricIncidentsPerWeek, yardstick.MetricCISuccessRate})
	want := map[string]time.Time{
		yardstick.MetricDeploysPerWeek:   at(1, 10, 0),
		yardstick.MetricIncidentsPerWeek: at(5, 13, 0),
	}
	mustMatch(t, "Coverage()", want, got, err)
}
