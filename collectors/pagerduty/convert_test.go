package pagerduty

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
)

func mustDecode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

// TestConvertRealExamples converts PagerDuty's own examples: the acknowledged
// incident of "Get an incident" with the log of "List log entries".
func TestConvertRealExamples(t *testing.T) {
	get := mustDecode[struct{ Incident pd.Incident }](t, realFixture(t, "incident-get.json"))
	log := mustDecode[pd.ListIncidentLogEntriesResponse](t, realFixture(t, "incident-log-entries-list.json"))
	inc := &get.Incident
	tl, err := timelineFromLog(inc, log.LogEntries)
	if err != nil {
		t.Fatalf("timelineFromLog() error: %v", err)
	}
	sched, _ := WorkingHours{TimeZone: "America/Los_Angeles", Start: "09:00", End: "17:00"}.compile()
	got, err := incidentEvents(inc, tl, sched)
	if err != nil {
		t.Fatalf("incidentEvents() error: %v", err)
	}
	str := map[string]string{
		"service": "PIJ90N7", "urgency": "high", "priority": "P2", "status": "acknowledged",
		"escalation_policy": "PT20YPA", "title": "The server is on fire.",
	}
	created := time.Date(2015, 10, 6, 21, 30, 42, 0, time.UTC) // 14:30 in Los Angeles, a Tuesday
	acked := time.Date(2015, 11, 10, 0, 32, 52, 0, time.UTC)
	want := []yardstick.Event{
		{Source: SourceName, Type: yardstick.IncidentTriggered, Scope: "pagerduty:PIJ90N7", ID: "PT4KHLK", Time: created, Actor: "PIJ90N7",
			Num: map[string]float64{"number": 1234, "off_hours": 0, "escalations": 0}, Str: str},
		{Source: SourceName, Type: yardstick.IncidentAcknowledged, Scope: "pagerduty:PIJ90N7", ID: "PT4KHLK", Time: acked, Actor: "PXPGF42",
			Num: map[string]float64{"number": 1234, "off_hours": 0, "escalations": 0, "seconds_to_acknowledge": acked.Sub(created).Seconds()}, Str: str},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidentEvents() (-want +got):\n%s", diff)
	}

	// The listed example is resolved and has no log here: resolved_at decides.
	list := mustDecode[pd.ListIncidentsResponse](t, realFixture(t, "incidents-list.json"))
	tl, err = timelineFromLog(&list.Incidents[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := incidentEvents(&list.Incidents[0], tl, sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Type != yardstick.IncidentResolved || !evs[1].Time.Equal(time.Date(2015, 10, 6, 21, 38, 23, 0, time.UTC)) {
		t.Errorf("incidentEvents(resolved example) = %+v, want triggered and resolved at 21:38:23", evs)
	}
}

func TestTimelineUsesFirstAckLastResolveAndCurrentStatus(t *testing.T) {
	entry := func(typ, at, agent string) pd.LogEntry {
		var e pd.LogEntry
		e.Type, e.CreatedAt, e.Agent.ID = typ, at, agent
		return e
	}
	// Newest first, as PagerDuty lists them.
	log := []pd.LogEntry{
		entry(logResolve, "2024-03-04T12:00:00Z", "U2"),
		entry(logAcknowledge, "2024-03-04T11:30:00Z", "U2"),
		entry(logEscalate, "2024-03-04T11:20:00Z", "S"),
		entry(logResolve, "2024-03-04T11:00:00Z", "U1"),
		entry(logAcknowledge, "2024-03-04T10:10:00-00:00", "U1"),
		entry(logEscalate, "2024-03-04T10:05:00Z", "S"),
		entry("notify_log_entry", "2024-03-04T10:01:00Z", "U1"),
		entry(logTrigger, "2024-03-04T10:00:00Z", "S"),
	}
	inc := &pd.Incident{Status: "resolved"}
	tl, err := timelineFromLog(inc, log)
	if err != nil {
		t.Fatal(err)
	}
	if tl.escalations != 2 || tl.ackActor != "U1" || tl.acknowledged.Hour() != 10 || tl.resolveActor != "U2" || tl.resolved.Hour() != 12 {
		t.Errorf("timelineFromLog() = %+v, want 2 escalations, first ack by U1 at 10:10, last resolve by U2 at 12:00", tl)
	}
	inc.Status = "triggered"
	tl, _ = timelineFromLog(inc, log)
	if !tl.resolved.IsZero() || !reopened(inc, log) {
		t.Errorf("open incident with a resolve in its log: resolved %v reopened %v, want none and true", tl.resolved, reopened(inc, log))
	}
	if _, err := timelineFromLog(inc, []pd.LogEntry{entry(logTrigger, "yesterday", "S")}); err == nil {
		t.Error("timelineFromLog(bad created_at) error = nil")
	}
}

// TestFakeSpeaksLikePagerDuty checks that every field of PagerDuty's own
// examples is in the fake's answers, with the same JSON type, so production
// code that reads a field of the real API finds it in the fake too.
func TestFakeSpeaksLikePagerDuty(t *testing.T) {
	clock := &testClock{t: start}
	fake := pagerdutyfake.New(pagerdutyfake.Config{ServiceIDs: serviceIDs(8), Seed: 30, Now: clock.Now})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	incID, err := fake.Trigger(serviceIDs(8)[0], "The server is on fire.")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := fake.Acknowledge(incID); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct{ fixture, path string }{
		{"services-list.json", "/services?include[]=escalation_policies"},
		{"escalation-policies-list.json", "/escalation_policies"},
		{"oncalls-list.json", "/oncalls"},
		{"incidents-list.json", "/incidents?date_range=all&statuses[]=acknowledged&statuses[]=resolved"},
		{"incident-get.json", "/incidents/" + incID},
		{"incident-log-entries-list.json", "/incidents/" + incID + "/log_entries"},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			want := shapeOf(mustDecode[any](t, realFixture(t, tt.fixture)), "")
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, %v", tt.path, resp.StatusCode, err)
			}
			got := shapeOf(body, "")
			var missing []string
			for field, typ := range want {
				if optionalField(field) {
					continue
				}
				if g, ok := got[field]; !ok || (g != typ && g != "null" && typ != "null") {
					missing = append(missing, field+" ("+typ+", fake has "+g+")")
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("GET %s lacks fields of the real example:\n  %s", tt.path, strings.Join(missing, "\n  "))
			}
		})
	}

	u, _ := url.Parse(srv.URL + "/incidents?since=2023-01-01T00:00:00Z&until=2024-01-01T00:00:00Z")
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /incidents with a one-year range = %d, want 400 as PagerDuty", resp.StatusCode)
	}
}

// shapeOf flattens a JSON value to field path -> JSON type; array elements share "[]".
func shapeOf(v any, prefix string) map[string]string {
	out := map[string]string{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			if path != "" {
				out[path] = "object"
			}
			for k, c := range x {
				walk(c, strings.TrimPrefix(path+"."+k, "."))
			}
		case []any:
			out[path] = "array"
			for _, c := range x {
				walk(c, path+"[]")
			}
		case string:
			out[path] = "string"
		case float64:
			out[path] = "number"
		case bool:
			out[path] = "bool"
		case nil:
			if _, ok := out[path]; !ok {
				out[path] = "null"
			}
		}
	}
	walk(v, prefix)
	return out
}

// optionalField reports fields of the examples the fake leaves out: features
// the collector does not read, and the insides of lists the fake keeps empty.
func optionalField(field string) bool {
	parts := strings.Split(field, ".")
	for i, p := range parts {
		switch strings.TrimSuffix(p, "[]") {
		case "conference_bridge", "alert_grouping", "custom_fields", "total":
			return true
		case "incidents_responders", "responder_requests", "pending_actions":
			if i < len(parts)-1 || strings.HasSuffix(p, "[]") {
				return true
			}
		}
	}
	return false
}
