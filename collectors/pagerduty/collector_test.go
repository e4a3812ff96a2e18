package pagerduty

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty/pagerdutyfake"
)

const backfill = 120 * 24 * time.Hour

func TestCollectFullSync(t *testing.T) {
	e := newEnv(t, 12, pagerdutyfake.Config{Seed: 1}, Config{Backfill: backfill})
	rep := e.run(t)

	incs := e.fake.Incidents("")
	if len(incs) == 0 {
		t.Fatal("fake served no incidents")
	}
	if diff := cmp.Diff(wantEventKeys(incs), keysOf(e.store.snapshot())); diff != "" {
		t.Fatalf("event identities (-want +got):\n%s", diff)
	}
	for _, inc := range incs {
		scope := ServiceScope(inc.ServiceID)
		trig, _ := e.store.event(yardstick.IncidentTriggered, scope, inc.ID)
		if !trig.Time.Equal(inc.CreatedAt) {
			t.Errorf("incident %s: triggered at %v, want %v", inc.ID, trig.Time, inc.CreatedAt)
		}
		wantStr := map[string]string{"urgency": inc.Urgency, "priority": inc.Priority, "service": inc.ServiceID, "status": inc.Status, "title": inc.Title}
		for k, want := range wantStr {
			if got := trig.Str[k]; got != want {
				t.Errorf("incident %s: Str[%s] = %q, want %q", inc.ID, k, got, want)
			}
		}
		if got := trig.Num["escalations"]; got != float64(inc.Escalations) {
			t.Errorf("incident %s: escalations = %v, want %d", inc.ID, got, inc.Escalations)
		}
		if got := trig.Num["number"]; got != float64(inc.Number) {
			t.Errorf("incident %s: number = %v, want %d", inc.ID, got, inc.Number)
		}
		if !inc.AcknowledgedAt.IsZero() {
			ack, _ := e.store.event(yardstick.IncidentAcknowledged, scope, inc.ID)
			if !ack.Time.Equal(inc.AcknowledgedAt) || ack.Actor == "" {
				t.Errorf("incident %s: acknowledged at %v by %q, want %v by someone", inc.ID, ack.Time, ack.Actor, inc.AcknowledgedAt)
			}
			if got, want := ack.Num["seconds_to_acknowledge"], inc.AcknowledgedAt.Sub(inc.CreatedAt).Seconds(); got != want {
				t.Errorf("incident %s: seconds_to_acknowledge = %v, want %v", inc.ID, got, want)
			}
		}
		if !inc.ResolvedAt.IsZero() {
			res, _ := e.store.event(yardstick.IncidentResolved, scope, inc.ID)
			if !res.Time.Equal(inc.ResolvedAt) {
				t.Errorf("incident %s: resolved at %v, want %v", inc.ID, res.Time, inc.ResolvedAt)
			}
		}
	}

	for _, svc := range e.fake.Services() {
		scope := ServiceScope(svc.ID)
		want := map[string]any{
			"has_escalation_policy": svc.PolicyID != "",
			"oncall_levels":         float64(svc.Levels),
			"oncall_now":            svc.OnCallNow,
			"service_status":        svc.Status,
		}
		for name, w := range want {
			got, ok := e.store.fact(scope, name)
			if !ok || got != w {
				t.Errorf("fact %s %s = %v (present %v), want %v", scope, name, got, ok, w)
			}
		}
	}

	for _, id := range e.ids {
		var open []string
		for _, inc := range e.fake.Incidents(id) {
			if inc.Status != "resolved" {
				open = append(open, inc.ID+"="+inc.UpdatedAt.Format(time.RFC3339))
			}
		}
		if got, want := e.store.Cursors()[CursorKey(id)], strings.Join(open, ","); got != sortedCSV(want) {
			t.Errorf("cursor %s = %q, want %q", CursorKey(id), got, sortedCSV(want))
		}
	}
	if want := start.Add(-5 * time.Minute); !rep.Next.Equal(want) {
		t.Errorf("Run().Next = %v, want the fake's clock minus the overlap, %v", rep.Next, want)
	}
}

func sortedCSV(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func TestCollectOffHoursByOwnerGroup(t *testing.T) {
	hours := Hours{
		Default: WorkingHours{TimeZone: "UTC", Start: "08:00", End: "20:00", Days: []time.Weekday{1, 2, 3, 4, 5, 6, 0}},
		Groups: map[yardstick.EntityRef]WorkingHours{
			"group:default/squad-0": {TimeZone: "America/New_York", Start: "09:00", End: "17:00"},
			"tribe-1":               {TimeZone: "Asia/Tokyo", Start: "10:00", End: "19:00"}, // squad-1 inherits it
		},
	}
	e := newEnv(t, 15, pagerdutyfake.Config{Seed: 3, IncidentsPerService: 12}, Config{Backfill: backfill, Hours: hours})
	e.run(t)

	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	inHours := func(serviceIndex int, at time.Time) bool {
		switch serviceIndex / 5 { // squad
		case 0:
			l := at.In(ny)
			return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday && l.Hour() >= 9 && l.Hour() < 17
		case 1:
			l := at.In(tokyo)
			return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday && l.Hour() >= 10 && l.Hour() < 19
		default: // squad-2 under tribe-0: the default
			return at.UTC().Hour() >= 8 && at.UTC().Hour() < 20
		}
	}
	counts := map[float64]int{}
	for i, id := range e.ids {
		for _, inc := range e.fake.Incidents(id) {
			want := 1.0
			if inHours(i, inc.CreatedAt) {
				want = 0
			}
			for _, typ := range []string{yardstick.IncidentTriggered, yardstick.IncidentAcknowledged, yardstick.IncidentResolved} {
				ev, ok := e.store.event(typ, ServiceScope(id), inc.ID)
				if !ok {
					continue
				}
				if got := ev.Num["off_hours"]; got != want {
					t.Errorf("%s of %s (service %d, triggered %v) off_hours = %v, want %v", typ, inc.ID, i, inc.CreatedAt, got, want)
				}
			}
			counts[want]++
		}
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("test data has in-hours %d and off-hours %d incidents; want both", counts[0], counts[1])
	}
}

func TestCollectIdempotentRerun(t *testing.T) {
	e := newEnv(t, 8, pagerdutyfake.Config{Seed: 4}, Config{Backfill: backfill})
	e.run(t)
	first := e.store.snapshot()
	e.store.ClearEvents() // what the second full run writes must stand alone
	if _, err := e.coll.Collect(context.Background(), time.Time{}, e.store); err != nil {
		t.Fatalf("Collect() second full sync error: %v", err)
	}
	if diff := cmp.Diff(first, e.store.snapshot()); diff != "" {
		t.Errorf("second full sync wrote different events (-first +second):\n%s", diff)
	}
}

func TestCollectIncrementalReadsOnlyChanges(t *testing.T) {
	e := newEnv(t, 10, pagerdutyfake.Config{Seed: 5}, Config{Backfill: backfill})
	// Open incidents from well before the next run's window, one acknowledged.
	e.clock.Advance(-3 * time.Hour)
	oldA, _ := e.fake.Trigger(e.ids[0], "Old and open")
	oldB, _ := e.fake.Trigger(e.ids[1], "Old and acknowledged")
	oldC, _ := e.fake.Trigger(e.ids[2], "Old and quiet")
	if err := e.fake.Acknowledge(oldB); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Hour)
	e.run(t)

	var open []pagerdutyfake.Incident
	for _, inc := range e.fake.Incidents("") {
		if inc.Status != "resolved" {
			open = append(open, inc)
		}
	}
	if len(open) < 3 {
		t.Fatalf("want at least 3 open incidents, have %d", len(open))
	}

	// An hour later: one new incident, one resolved, one escalated; oldC unchanged.
	e.clock.Advance(time.Hour)
	newID, _ := e.fake.Trigger(e.ids[3], "New")
	if err := e.fake.Resolve(oldA); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Escalate(oldB); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.fake.ResetCounts()
	rep := e.run(t)
	if rep.Since.IsZero() {
		t.Fatal("second run was a full sync, want incremental")
	}

	if got := e.fake.RequestsTo("log_entries"); got != 3 {
		t.Errorf("incremental run read %d incident logs, want 3 (new, resolved, escalated)", got)
	}
	if got := e.fake.RequestsTo("incident"); got != len(open) {
		t.Errorf("incremental run re-read %d incidents, want the %d open ones", got, len(open))
	}
	if got := e.fake.RequestsTo("incidents"); got != 1 {
		t.Errorf("incremental run listed incidents %d times, want 1 (one batch, one window)", got)
	}
	if _, ok := e.store.event(yardstick.IncidentResolved, ServiceScope(e.ids[0]), oldA); !ok {
		t.Errorf("resolution of %s not stored", oldA)
	}
	if ev, _ := e.store.event(yardstick.IncidentTriggered, ServiceScope(e.ids[1]), oldB); ev.Num["escalations"] != 1 {
		t.Errorf("escalations of %s = %v, want 1", oldB, ev.Num["escalations"])
	}
	if _, ok := e.store.event(yardstick.IncidentTriggered, ServiceScope(e.ids[3]), newID); !ok {
		t.Errorf("new incident %s not stored", newID)
	}
	if c := e.store.Cursors()[CursorKey(e.ids[0])]; strings.Contains(c, oldA) {
		t.Errorf("cursor %s = %q still holds resolved %s", CursorKey(e.ids[0]), c, oldA)
	}
	if c := e.store.Cursors()[CursorKey(e.ids[3])]; !strings.Contains(c, newID) {
		t.Errorf("cursor %s = %q lacks new open %s", CursorKey(e.ids[3]), c, newID)
	}

	// Nothing changes: no log is read again.
	e.clock.Advance(time.Hour)
	e.fake.ResetCounts()
	e.run(t)
	if got := e.fake.RequestsTo("log_entries"); got != 0 {
		t.Errorf("quiet incremental run read %d incident logs, want 0", got)
	}
	if _, ok := e.store.event(yardstick.IncidentTriggered, ServiceScope(e.ids[2]), oldC); !ok {
		t.Errorf("quiet open incident %s lost", oldC)
	}
}

func TestCollectRetriesRateLimitsAndServerErrors(t *testing.T) {
	e := newEnv(t, 4, pagerdutyfake.Config{Seed: 6}, Config{Backfill: backfill})
	e.fake.RateLimit(2, 7*time.Second)
	e.fake.FailNext(1)
	e.run(t)
	if diff := cmp.Diff(wantEventKeys(e.fake.Incidents("")), keysOf(e.store.snapshot())); diff != "" {
		t.Fatalf("event identities after retries (-want +got):\n%s", diff)
	}
	waits := e.sleeps.list()
	if n := slices.Index(waits, 7*time.Second); n < 0 || len(waits) < 3 {
		t.Errorf("transport waits = %v, want two Retry-After waits of 7s and a backoff", waits)
	}
}

func TestCollectOneFailingServiceDoesNotStopTheOthers(t *testing.T) {
	e := newEnv(t, 6, pagerdutyfake.Config{Seed: 7}, Config{Backfill: backfill})
	broken := e.ids[2]
	e.fake.Break(broken, http.StatusForbidden)
	rep, err := e.runner.Run(context.Background(), e.coll, "config-1")
	fails := collectors.Failures(err)
	if len(fails) != 1 {
		t.Fatalf("Run() error = %v, want one failure", err)
	}
	f := fails[0]
	if f.Scope != ServiceScope(broken) || f.Status != http.StatusForbidden || !strings.Contains(f.Endpoint, "/incidents?service_ids[]="+broken) {
		t.Errorf("failure = %+v, want scope %s, status 403 and the incidents endpoint", f, ServiceScope(broken))
	}
	if !rep.Next.IsZero() {
		t.Errorf("Run().Next = %v after a failure, want the watermark kept", rep.Next)
	}
	var others []pagerdutyfake.Incident
	for _, inc := range e.fake.Incidents("") {
		if inc.ServiceID != broken {
			others = append(others, inc)
		}
	}
	if diff := cmp.Diff(wantEventKeys(others), keysOf(e.store.snapshot())); diff != "" {
		t.Errorf("events of the healthy services (-want +got):\n%s", diff)
	}
	if _, ok := e.store.Cursors()[CursorKey(broken)]; ok {
		t.Errorf("cursor of failed service %s saved", broken)
	}

	e.fake.Break(broken, 0)
	e.run(t)
	if diff := cmp.Diff(wantEventKeys(e.fake.Incidents("")), keysOf(e.store.snapshot())); diff != "" {
		t.Errorf("events after the service recovered (-want +got):\n%s", diff)
	}
}

func TestCollectSplitsLongRanges(t *testing.T) {
	e := newEnv(t, 3, pagerdutyfake.Config{Seed: 8, Days: 400, IncidentsPerService: 10}, Config{Backfill: 420 * 24 * time.Hour})
	e.run(t)
	incs := e.fake.Incidents("")
	if incs[0].CreatedAt.After(start.Add(-200 * 24 * time.Hour)) {
		t.Fatalf("oldest incident %v is not older than one window", incs[0].CreatedAt)
	}
	if diff := cmp.Diff(wantEventKeys(incs), keysOf(e.store.snapshot())); diff != "" {
		t.Errorf("event identities (-want +got):\n%s", diff)
	}
	if got := e.fake.RequestsTo("incidents"); got < 3 {
		t.Errorf("listed incidents %d times, want one per 179-day window (3)", got)
	}

	// The control: windows longer than PagerDuty allows fail with its 400.
	bad := newEnv(t, 3, pagerdutyfake.Config{Seed: 8, Days: 400}, Config{Backfill: 420 * 24 * time.Hour, MaxWindow: 200 * 24 * time.Hour})
	_, err := bad.runner.Run(context.Background(), bad.coll, "config-1")
	if fails := collectors.Failures(err); len(fails) != 3 || fails[0].Status != http.StatusBadRequest {
		t.Errorf("Run() with 200-day windows error = %v, want three 400 failures", err)
	}
}

func TestCollectHalvesWindowsPastTheOffsetCap(t *testing.T) {
	e := newEnv(t, 2, pagerdutyfake.Config{Seed: 9, IncidentsPerService: 30, MaxOffset: 40}, Config{Backfill: backfill})
	e.coll.pageSize, e.coll.maxOffset = 4, 40
	e.run(t)
	incs := e.fake.Incidents("")
	if len(incs) < 60 {
		t.Fatalf("fake has %d incidents, want more than the offset cap reaches", len(incs))
	}
	if diff := cmp.Diff(wantEventKeys(incs), keysOf(e.store.snapshot())); diff != "" {
		t.Errorf("event identities (-want +got):\n%s", diff)
	}
}

func TestCollectStopsWhenTheStoreFails(t *testing.T) {
	e := newEnv(t, 3, pagerdutyfake.Config{Seed: 10}, Config{Backfill: backfill})
	e.store.FailWrites(errStoreDown)
	rep, err := e.runner.Run(context.Background(), e.coll, "config-1")
	if !errors.Is(err, errStoreDown) {
		t.Fatalf("Run() error = %v, want %v", err, errStoreDown)
	}
	if len(rep.Failures) != 0 {
		t.Errorf("Run() failures = %v, want a run error, not per-service failures", rep.Failures)
	}
	for k := range e.store.Cursors() {
		if strings.HasPrefix(k, "pagerduty/") {
			t.Errorf("cursor %s saved although nothing was stored", k)
		}
	}
}

func TestCollectStopsOnABadToken(t *testing.T) {
	e := newEnv(t, 5, pagerdutyfake.Config{Seed: 13}, Config{Backfill: backfill})
	e.coll.cfg.Token = "revoked"
	_, err := e.runner.Run(context.Background(), e.coll, "config-1")
	var he *collectors.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || len(collectors.Failures(err)) != 0 {
		t.Fatalf("Run() error = %v, want the 401 as the run's error", err)
	}
	if n := e.fake.Requests(); n != 1 {
		t.Errorf("requests after a 401 = %d, want 1", n)
	}
}

func TestCollectReportsMissingService(t *testing.T) {
	e := newEnv(t, 2, pagerdutyfake.Config{Seed: 11}, Config{Backfill: backfill})
	e.store.SetEntities(append(e.store.entities(), yardstick.Entity{
		Ref: "component:default/ghost", Kind: "Component", Name: "ghost", Owner: "group:default/squad-0",
		Annotations: map[string]string{AnnotationServiceID: "PGHOST1"},
	}), ScopesOf)
	_, err := e.runner.Run(context.Background(), e.coll, "config-1")
	fails := collectors.Failures(err)
	if len(fails) != 1 || fails[0].Scope != "pagerduty:PGHOST1" || fails[0].Status != http.StatusNotFound || !strings.HasPrefix(fails[0].Endpoint, "GET /services/PGHOST1") {
		t.Errorf("Run() failures = %v, want one 404 on GET /services/PGHOST1", fails)
	}
	if _, ok := e.store.fact(ServiceScope(e.ids[0]), "oncall_levels"); !ok {
		t.Errorf("facts of healthy service %s missing", e.ids[0])
	}
}

func TestWindows(t *testing.T) {
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	got := windows(from, from.Add(10*24*time.Hour), 4*24*time.Hour)
	want := [][2]time.Time{
		{from, from.Add(4 * 24 * time.Hour)},
		{from.Add(4 * 24 * time.Hour), from.Add(8 * 24 * time.Hour)},
		{from.Add(8 * 24 * time.Hour), from.Add(10 * 24 * time.Hour)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windows() (-want +got):\n%s", diff)
	}
	if got := windows(from, from, time.Hour); len(got) != 0 {
		t.Errorf("windows(empty range) = %v, want none", got)
	}
}
