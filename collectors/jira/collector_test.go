package jira

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
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/jira/jirafake"
)

// threeProjects pages everything: 20 issues a search page, 5 histories
// embedded, 10 per changelog page, 4 per bulk changelog page.
var threeProjects = jirafake.Options{Projects: []string{"AAA", "BBB", "CCC"}, MaxResults: 20, BulkChangelogPageSize: 4}

// narrowedCatalog maps AAA whole, BBB by its first component and CCC by a label.
func narrowedCatalog(fake *jirafake.Server) (*collectortest.Store, yardstick.Scope, string) {
	comp := fake.Components("BBB")[0]
	bbb := ProjectScope("BBB", comp, "")
	return catalogOf(ProjectScope("AAA", "", ""), bbb, ProjectScope("CCC", "", "backend")), bbb, comp
}

func TestCollectFullSync(t *testing.T) {
	for _, tt := range []struct {
		name      string
		flavor    string
		noBulk    bool
		changelog string // the endpoint that must have read long changelogs
	}{
		{"cloud", "cloud", false, "POST /rest/api/3/changelog/bulkfetch"},
		{"cloud without bulk changelog", "cloud", true, "GET /rest/api/3/issue/{id}/changelog"},
		{"server", "server", false, "GET /rest/api/2/issue/{id}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := threeProjects
			opts.Flavor, opts.NoBulkChangelog = tt.flavor, tt.noBulk
			testFullSync(t, opts, tt.changelog)
		})
	}
}

func testFullSync(t *testing.T, opts jirafake.Options, changelogEndpoint string) {
	probe := jirafake.New(opts)
	cat, bbbScope, comp := narrowedCatalog(probe)
	h := mustHarness(t, opts, cat, nil)
	next := h.mustCollect(t, time.Time{})
	if next.IsZero() || next.After(testNow) {
		t.Errorf("Collect next = %v, want the latest updated time of the data", next)
	}

	aaa := ProjectScope("AAA", "", "")
	created := h.w.list(func(e yardstick.Event) bool { return e.Scope == aaa && e.Type == yardstick.TicketCreated })
	if len(created) != 24 {
		t.Errorf("ticket.created events in %s = %d, want 24", aaa, len(created))
	}

	// Every issue's transitions form one chain from To Do to its current
	// status: a history missed on any changelog page breaks it. AAA-7, AAA-14
	// and AAA-21 have changelogs longer than search embeds and than one
	// changelog page.
	for _, key := range h.fake.Keys() {
		trs := h.eventsOf(key, yardstick.TicketTransitioned)
		if len(trs) == 0 {
			if s := h.fake.Status(key); s != "To Do" && h.eventsOf(key, "") != nil {
				t.Errorf("%s: no transitions, but it is in %s now", key, s)
			}
			continue
		}
		slices.SortFunc(trs, func(a, b yardstick.Event) int { return a.Time.Compare(b.Time) })
		prev := "To Do"
		for _, e := range trs {
			if e.Str["from"] != prev {
				t.Errorf("%s: transition %s from %q, want from %q (a history is missing)", key, e.ID, e.Str["from"], prev)
			}
			prev = e.Str["to"]
		}
		if now := h.fake.Status(key); prev != now {
			t.Errorf("%s: transitions end in %q, want its current status %q (a history is missing)", key, prev, now)
		}
	}
	if n := len(h.eventsOf("AAA-7", yardstick.TicketTransitioned)); n == 0 {
		t.Errorf("AAA-7 has no transitions, want its early ones from the paged changelog")
	}

	// AAA-9 is resolved, reopened and resolved again.
	if n := len(h.eventsOf("AAA-9", yardstick.TicketResolved)); n != 2 {
		t.Errorf("AAA-9 ticket.resolved events = %d, want 2", n)
	}
	reopened := h.eventsOf("AAA-9", yardstick.TicketReopened)
	if len(reopened) != 1 {
		t.Fatalf("AAA-9 ticket.reopened events = %d, want 1", len(reopened))
	}
	wantStr := map[string]string{"from": "Done", "to": "To Do", "from_category": "done", "to_category": "new"}
	for k, v := range wantStr {
		if got := reopened[0].Str[k]; got != v {
			t.Errorf("AAA-9 reopened Str[%q] = %q, want %q", k, got, v)
		}
	}
	for _, e := range h.eventsOf("AAA-9", yardstick.TicketResolved) {
		if e.Num["lead_time_seconds"] <= 0 {
			t.Errorf("AAA-9 resolved %s lead_time_seconds = %v, want > 0", e.ID, e.Num["lead_time_seconds"])
		}
	}

	// Stories carry story points; every event carries type and priority.
	for _, e := range h.w.list(nil) {
		if e.Str["issue_type"] == "" || e.Str["priority"] == "" || e.Str["key"] == "" || e.Time.IsZero() {
			t.Errorf("event %s %s %s lacks attributes: %v at %v", e.Scope, e.Type, e.ID, e.Str, e.Time)
		}
		if _, ok := e.Num["story_points"]; ok != (e.Str["issue_type"] == "Story") {
			t.Errorf("event %s %s of a %s: story points present = %v", e.Type, e.Str["key"], e.Str["issue_type"], ok)
		}
	}

	// Narrowed scopes hold exactly the issues with their component or label.
	for _, e := range h.w.list(nil) {
		switch e.Scope {
		case bbbScope:
			if !slices.Contains(strings.Split(e.Str["components"], ","), comp) {
				t.Errorf("%s in %s has components %q", e.Str["key"], e.Scope, e.Str["components"])
			}
		case ProjectScope("CCC", "", "backend"):
			if !slices.Contains(strings.Split(e.Str["labels"], ","), "backend") {
				t.Errorf("%s in %s has labels %q", e.Str["key"], e.Scope, e.Str["labels"])
			}
		case aaa:
		default:
			t.Errorf("event in unmapped scope %s", e.Scope)
		}
	}
	if n := len(h.w.list(func(e yardstick.Event) bool { return e.Scope == bbbScope })); n == 0 {
		t.Errorf("no events in %s", bbbScope)
	}
	whole := mustHarness(t, opts, catalogOf(ProjectScope("BBB", "", "")), nil)
	whole.mustCollect(t, time.Time{})
	want := whole.w.list(func(e yardstick.Event) bool {
		return slices.Contains(strings.Split(e.Str["components"], ","), comp)
	})
	for i := range want {
		want[i].Scope = bbbScope
	}
	collectortest.SortEvents(want)
	if diff := cmp.Diff(want, h.w.list(func(e yardstick.Event) bool { return e.Scope == bbbScope })); diff != "" {
		t.Errorf("events of %s differ from the project's events with component %s (-want +got):\n%s", bbbScope, comp, diff)
	}

	assertBugFacts(t, h, []yardstick.Scope{aaa, bbbScope, ProjectScope("CCC", "", "backend")})

	for _, q := range h.fake.Queries() {
		if strings.Contains(q, `project = "BBB"`) && !strings.Contains(q, `project = "BBB" AND (component = "`+comp+`")`) {
			t.Errorf("query for BBB not narrowed to component %s: %s", comp, q)
		}
	}
	counts := h.fake.RequestCounts()
	if n := counts["POST /rest/api/3/search"]; n != 0 {
		t.Errorf("requests to the retired /rest/api/3/search = %d, want 0", n)
	}
	if n := counts["POST /rest/api/3/search/jql"] + counts["POST /rest/api/2/search"]; n < 3 {
		t.Errorf("search requests = %d, want at least 3: two pages of changes, then open bugs (all: %v)", n, counts)
	}
	if n := counts[changelogEndpoint]; n < 2 {
		t.Errorf("requests to %s = %d, want at least 2 for long changelogs (all: %v)", changelogEndpoint, n, counts)
	}
}

// assertBugFacts checks each scope's open_bugs and oldest age against the
// bugs the stored events describe.
func assertBugFacts(t *testing.T, h *harness, scopes []yardstick.Scope) {
	t.Helper()
	for _, sc := range scopes {
		want := openBugs{ByPriority: map[string]int{}}
		var oldest time.Time
		for _, c := range h.w.list(func(e yardstick.Event) bool { return e.Scope == sc && e.Type == yardstick.TicketCreated }) {
			if c.Str["issue_type"] != "Bug" {
				continue
			}
			cat := c.Str["status_category"]
			trs := h.eventsOf(c.Str["key"], yardstick.TicketTransitioned)
			if len(trs) > 0 {
				slices.SortFunc(trs, func(a, b yardstick.Event) int { return a.Time.Compare(b.Time) })
				cat = trs[len(trs)-1].Str["to_category"]
			}
			if cat == "done" {
				continue
			}
			want.Total++
			want.ByPriority[c.Str["priority"]]++
			if oldest.IsZero() || c.Time.Before(oldest) {
				oldest, want.OldestKey = c.Time, c.Str["key"]
			}
		}
		f, ok := h.w.Fact(SourceName, sc, "open_bugs")
		if !ok {
			t.Errorf("no open_bugs fact for %s", sc)
			continue
		}
		var got openBugs
		mustUnmarshal(t, f.Value, &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("open_bugs of %s (-want +got):\n%s", sc, diff)
		}
		age := h.w.fact(sc, "oldest_open_bug_age_days")
		var days float64
		mustUnmarshal(t, age.Value, &days)
		if wantDays := testNow.Sub(oldest).Hours() / 24; want.Total > 0 && (days < wantDays-0.1 || days > wantDays+0.1) {
			t.Errorf("oldest_open_bug_age_days of %s = %v, want %.1f", sc, days, wantDays)
		}
	}
}

func TestServerAndCloudAgree(t *testing.T) {
	probe := jirafake.New(threeProjects)
	cat, _, _ := narrowedCatalog(probe)
	cloud := mustHarness(t, threeProjects, cat, nil)
	cloud.mustCollect(t, time.Time{})
	serverOpts := threeProjects
	serverOpts.Flavor = "server"
	server := mustHarness(t, serverOpts, cat, nil)
	server.mustCollect(t, time.Time{})

	noActor := func(es []yardstick.Event) []yardstick.Event {
		for i := range es {
			if es[i].Actor == "" && es[i].Type != yardstick.TicketCreated {
				t.Errorf("%s %s has no actor", es[i].Type, es[i].ID)
			}
			es[i].Actor = ""
		}
		return es
	}
	if diff := cmp.Diff(noActor(cloud.w.list(nil)), noActor(server.w.list(nil))); diff != "" {
		t.Errorf("Server events differ from Cloud's (-cloud +server):\n%s", diff)
	}
	counts := server.fake.RequestCounts()
	if counts["POST /rest/api/2/search"] == 0 || counts["GET /rest/api/2/issue/{id}"] == 0 {
		t.Errorf("server requests = %v, want /rest/api/2/search and issue GETs for long changelogs", counts)
	}
}

func TestRetriesRateLimitsAndServerErrors(t *testing.T) {
	clean := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", "")), nil)
	clean.mustCollect(t, time.Time{})

	h := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", "")), nil)
	h.fake.AddFault(jirafake.Fault{Method: http.MethodPost, Path: "/rest/api/3/search/jql", Status: http.StatusTooManyRequests, RetryAfter: "7"})
	h.fake.AddFault(jirafake.Fault{Path: "/rest/api/3/changelog/bulkfetch", Status: http.StatusInternalServerError})
	h.mustCollect(t, time.Time{})

	if !slices.Contains(*h.sleeps, 7*time.Second) {
		t.Errorf("transport waits = %v, want the 7s Retry-After honoured", *h.sleeps)
	}
	if got, want := h.fake.Requests(), clean.fake.Requests()+2; got != want {
		t.Errorf("requests with a 429 and a 500 = %d, want %d (clean run + 2 retries)", got, want)
	}
	if diff := cmp.Diff(clean.w.list(nil), h.w.list(nil)); diff != "" {
		t.Errorf("events after retries differ from a clean run (-clean +retried):\n%s", diff)
	}
}

func TestIdempotentRerun(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", ""), ProjectScope("CCC", "", "")), nil)
	h.mustCollect(t, time.Time{})
	first := h.w.list(nil)
	h.mustCollect(t, time.Time{})
	if diff := cmp.Diff(first, h.w.list(nil)); diff != "" {
		t.Errorf("second full sync changed the stored events (-first +second):\n%s", diff)
	}
	if h.w.writtenCount() != 2*len(first) {
		t.Errorf("events handed to the writer = %d, want %d (every event twice, stored once)", h.w.writtenCount(), 2*len(first))
	}
}

func TestIncrementalFetchesOnlyChanges(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", ""), ProjectScope("BBB", "", "")), nil)
	next := h.mustCollect(t, time.Time{})
	before := h.w.writtenCount()

	// Nothing changed: one search, no changelog, nothing but the overlap re-read.
	h.fake.ResetRequests()
	next2 := h.mustCollect(t, next)
	if !next2.Equal(next) {
		t.Errorf("Collect with no changes: next = %v, want %v", next2, next)
	}
	counts := h.fake.RequestCounts()
	if counts["POST /rest/api/3/changelog/bulkfetch"] != 0 {
		t.Errorf("unchanged incremental run read changelogs: %v", counts)
	}
	if got := counts["POST /rest/api/3/search/jql"]; got != 2 {
		t.Errorf("search requests of an unchanged incremental run = %d, want 2 (changes, open bugs)", got)
	}
	if reread := h.w.writtenSince(before); len(reread) != 0 {
		t.Errorf("unchanged incremental run wrote %d events, want none (overlap re-reads are skipped)", len(reread))
	}
	// The cursor went into JQL in the API user's zone (Europe/Berlin), less the overlap.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	wantBound := `updated >= "` + next.Add(-2*time.Minute).In(berlin).Format("2006-01-02 15:04") + `"`
	if qs := h.fake.Queries(); len(qs) == 0 || !strings.Contains(qs[0], wantBound) {
		t.Errorf("incremental query = %q, want it to contain %s", qs, wantBound)
	}

	// One transition and one new bug: only those two issues come back.
	later := next.Add(3 * time.Hour)
	mustDo(t, h.fake.Transition("AAA-2", "Done", later))
	key, err := h.fake.CreateIssue("BBB", "Bug", "Highest", "", later.Add(time.Minute))
	mustDo(t, err)
	before = h.w.writtenCount()
	h.fake.ResetRequests()
	next3 := h.mustCollect(t, next)
	if want := later.Add(time.Minute); !next3.Equal(want) {
		t.Errorf("Collect next = %v, want %v", next3, want)
	}
	var keys []string
	for _, e := range h.w.list(nil) {
		if e.Time.After(next) {
			keys = append(keys, e.Str["key"])
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if diff := cmp.Diff([]string{"AAA-2", key}, keys); diff != "" {
		t.Errorf("issues with new events (-want +got):\n%s", diff)
	}
	for _, e := range h.w.writtenSince(before) {
		if k := e.Str["key"]; k != "AAA-2" && k != key {
			t.Errorf("incremental run wrote an event of unchanged issue %s", k)
		}
	}
	if n := len(h.eventsOf(key, yardstick.TicketCreated)); n != 1 {
		t.Errorf("created events of new issue %s = %d, want 1", key, n)
	}
	resolved := h.eventsOf("AAA-2", yardstick.TicketResolved)
	if !slices.ContainsFunc(resolved, func(e yardstick.Event) bool { return e.Time.Equal(later) }) {
		t.Errorf("AAA-2 resolved events = %v, want one at %v", resolved, later)
	}
	assertBugFacts(t, h, []yardstick.Scope{ProjectScope("AAA", "", ""), ProjectScope("BBB", "", "")})
	var ob openBugs
	mustUnmarshal(t, h.w.fact("jira:BBB", "open_bugs").Value, &ob)
	if ob.ByPriority["Highest"] == 0 {
		t.Errorf("BBB open bugs = %+v, want the new Highest bug counted", ob)
	}
}

func TestNewProjectInCatalogIsReadInFull(t *testing.T) {
	cat := catalogOf(ProjectScope("AAA", "", ""))
	h := mustHarness(t, threeProjects, cat, nil)
	next := h.mustCollect(t, time.Time{})
	h.c.catalog = catalogOf(ProjectScope("AAA", "", ""), ProjectScope("CCC", "", ""))
	h.mustCollect(t, next)
	created := h.w.list(func(e yardstick.Event) bool { return e.Scope == "jira:CCC" && e.Type == yardstick.TicketCreated })
	if len(created) != 24 {
		t.Errorf("created events of CCC, added to the catalog after the first sync = %d, want 24", len(created))
	}
}

func TestOneBadProjectDoesNotStopOthers(t *testing.T) {
	cat := catalogOf(ProjectScope("AAA", "", ""), ProjectScope("NOPE", "", ""), ProjectScope("CCC", "", ""))
	h := mustHarness(t, threeProjects, cat, nil)
	_, err := h.c.Collect(context.Background(), time.Time{}, h.w)
	var pe *collectors.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Collect = %v, want a *collectors.PartialError", err)
	}
	want := []collectors.Failure{{Scope: "jira:NOPE", Endpoint: "POST /rest/api/3/search/jql", Status: http.StatusBadRequest}}
	if diff := cmp.Diff(want, pe.Failures, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Err" }, cmp.Ignore())); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "The value 'NOPE' does not exist") {
		t.Errorf("error %q does not carry Jira's message", err)
	}
	for _, sc := range []yardstick.Scope{"jira:AAA", "jira:CCC"} {
		if n := len(h.w.list(func(e yardstick.Event) bool { return e.Scope == sc })); n == 0 {
			t.Errorf("no events for %s next to a failing project", sc)
		}
		if _, ok := h.w.Fact(SourceName, sc, "open_bugs"); !ok {
			t.Errorf("no open_bugs fact for %s next to a failing project", sc)
		}
	}
	if _, ok := h.w.Fact(SourceName, "jira:NOPE", "open_bugs"); ok {
		t.Errorf("open_bugs fact written for the failing project")
	}
	saved := 0
	for k := range h.cursors.Cursors() {
		if strings.Contains(k, "/NOPE/") {
			t.Errorf("cursor %s saved for the failing project", k)
		}
		saved++
	}
	if saved != 2 {
		t.Errorf("cursors saved = %d (%v), want 2", saved, h.cursors.Cursors())
	}
}

func TestPersistentServerErrorFailsWithEndpoint(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", "")), nil)
	h.fake.AddFault(jirafake.Fault{Path: "/rest/api/3/search/jql", Status: http.StatusServiceUnavailable, Times: 100})
	_, err := h.c.Collect(context.Background(), time.Time{}, h.w)
	fs := collectors.Failures(err)
	if len(fs) != 1 || fs[0].Status != http.StatusServiceUnavailable || fs[0].Endpoint != "POST /rest/api/3/search/jql" {
		t.Fatalf("Collect failures = %v, want one 503 on POST /rest/api/3/search/jql", fs)
	}
	if len(h.cursors.Cursors()) != 0 {
		t.Errorf("cursors saved after a failed run: %v", h.cursors.Cursors())
	}
}

func TestStorageErrorStopsTheRun(t *testing.T) {
	h := mustHarness(t, threeProjects, catalogOf(ProjectScope("AAA", "", "")), nil)
	h.w.FailWrites(errors.New("disk full"))
	_, err := h.c.Collect(context.Background(), time.Time{}, h.w)
	if err == nil || !strings.Contains(err.Error(), "disk full") || collectors.Failures(err) != nil {
		t.Fatalf("Collect with a failing writer = %v, want the storage error itself", err)
	}
	if len(h.cursors.Cursors()) != 0 {
		t.Errorf("cursors saved although nothing was stored: %v", h.cursors.Cursors())
	}
}

func TestJQLDatesInUserZone(t *testing.T) {
	h := mustHarness(t, jirafake.Options{Projects: []string{"AAA"}, TimeZone: "Pacific/Kiritimati"}, catalogOf("jira:AAA"), func(c *Config) {
		c.TimeZone = "" // ask /myself
	})
	next := h.mustCollect(t, time.Time{})
	kiri, _ := time.LoadLocation("Pacific/Kiritimati")
	h.fake.ResetRequests()
	h.mustCollect(t, next)
	want := `updated >= "` + next.Add(-2*time.Minute).In(kiri).Format("2006-01-02 15:04") + `"`
	if qs := h.fake.Queries(); !strings.Contains(qs[0], want) {
		t.Errorf("query = %q, want the bound in the user's zone: %s", qs[0], want)
	}
}

func TestUnknownTimeZoneWidensOverlap(t *testing.T) {
	h := mustHarness(t, jirafake.Options{Projects: []string{"AAA"}, TimeZone: "Mars/Olympus_Mons"}, catalogOf("jira:AAA"), nil)
	next := h.mustCollect(t, time.Time{})
	h.fake.ResetRequests()
	h.mustCollect(t, next)
	want := `updated >= "` + next.Add(-2*time.Minute-14*time.Hour).UTC().Format("2006-01-02 15:04") + `"`
	if qs := h.fake.Queries(); !strings.Contains(qs[0], want) {
		t.Errorf("query = %q, want the bound in UTC less 14h: %s", qs[0], want)
	}
	if n := h.fake.RequestCounts()["POST /rest/api/3/changelog/bulkfetch"]; n != 0 {
		t.Errorf("changelog requests of the widened re-read = %d, want 0 (unchanged issues skipped)", n)
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
