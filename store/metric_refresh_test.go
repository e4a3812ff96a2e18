package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/jira"
	"github.com/yardstick-dev/yardstick/collectors/pagerduty"
	"github.com/yardstick-dev/yardstick/store"
)

// randomHistory writes random batches of events — new ones, late ones,
// rewrites of earlier ones with another time or other attributes, and
// tombstones — and now and then re-homes a repository in the catalog.
type randomHistory struct {
	r       *rand.Rand
	written map[string]yardstick.Event // identity → the event as last written
	ids     []string                   // identities in order of first write
	seq     int
	deploys []yardstick.Event // the deployments made
	merges  []yardstick.Event // the merged changes made
	rehomed bool
}

var (
	refreshStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rhRepos      = []string{"acme/r1", "acme/r2", "acme/r4"}
	rhServices   = []string{"P1", "P2", "P3"}
)

// randomCatalog: c1 has r1 and P1; c2 and c3 share r2 (P2 and P3 each, c2 has
// Jira project K2); c4 has r4, or r1 once re-homed.
func randomCatalog(rehomed bool) []yardstick.Entity {
	squad := yardstick.NewEntityRef("group", "", "squad")
	comp := func(name string, ann map[string]string) yardstick.Entity {
		ref := yardstick.NewEntityRef("component", "", name)
		return yardstick.Entity{Ref: ref, Kind: "Component", Namespace: "default", Name: name, Type: "service",
			Lifecycle: "production", Owner: squad, Annotations: ann, Spec: "{}"}
	}
	r4 := "acme/r4"
	if rehomed {
		r4 = "acme/r1"
	}
	return []yardstick.Entity{
		{Ref: squad, Kind: "Group", Namespace: "default", Name: "squad", Type: "team", Spec: "{}",
			Members: []yardstick.EntityRef{yardstick.NewEntityRef("user", "", "ann")}},
		comp("c1", map[string]string{github.AnnotationSlug: "acme/r1", pagerduty.AnnotationServiceID: "P1"}),
		comp("c2", map[string]string{github.AnnotationSlug: "acme/r2", pagerduty.AnnotationServiceID: "P2", jira.AnnotationProjectKey: "K2"}),
		comp("c3", map[string]string{github.AnnotationSlug: "acme/r2", pagerduty.AnnotationServiceID: "P3"}),
		comp("c4", map[string]string{github.AnnotationSlug: r4}),
	}
}

func identity(e yardstick.Event) string {
	return e.Source + "|" + e.Type + "|" + string(e.Scope) + "|" + e.ID
}

func (h *randomHistory) when(late bool) time.Time {
	days := 70
	if late {
		days = 20 // late events land in the oldest weeks
	}
	return refreshStart.Add(time.Duration(h.r.IntN(days*24*60)) * time.Minute)
}

func (h *randomHistory) sha() string { return fmt.Sprintf("sha%d", h.r.IntN(25)) }

// earlier returns a random deployment made before (of any scope or
// environment), or a made-up one when there is none.
func (h *randomHistory) earlier() yardstick.Event {
	if len(h.deploys) == 0 {
		return yardstick.Event{ID: "0", Time: h.when(false), Related: []string{h.sha()}}
	}
	return h.deploys[h.r.IntN(len(h.deploys))]
}

// event makes a new random event.
func (h *randomHistory) event(late bool) yardstick.Event {
	h.seq++
	id := fmt.Sprint(h.seq)
	repo := github.RepoScope(rhRepos[h.r.IntN(len(rhRepos))])
	pd := pagerduty.ServiceScope(rhServices[h.r.IntN(len(rhServices))])
	jiraScope := jira.ProjectScope("K2", "", "")
	t := h.when(late)
	env := []string{"production", "production", "prod", "staging"}[h.r.IntN(4)]
	pr := float64(1 + h.r.IntN(12))
	inc := fmt.Sprintf("I%d", h.r.IntN(10))
	key := fmt.Sprintf("K2-%d", h.r.IntN(10))
	cat := []string{"indeterminate", "done", "In Progress", "new"}[h.r.IntN(4)]
	switch h.r.IntN(12) {
	case 0:
		e := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: repo, ID: id, Time: t,
			Str: map[string]string{"environment": env}, Related: []string{h.sha(), h.sha()}}
		if len(h.merges) > 0 { // ships the merge commit of a change merged before
			e.Related[1] = h.merges[h.r.IntN(len(h.merges))].Str["merge_commit_sha"]
		}
		h.deploys = append(h.deploys, e)
		return e
	case 1:
		e := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: repo, ID: id, Time: t,
			Str: map[string]string{"environment": env, "rollback": "true"}, Related: []string{h.sha()}}
		switch h.r.IntN(3) { // a rollback that names what it rolls back: a deployment, or a commit
		case 0:
			e.Str["reverts"] = h.earlier().ID
		case 1:
			e.Str["reverts"] = h.sha()
		}
		return e
	case 2:
		return yardstick.Event{Source: "github", Type: yardstick.DeploymentFailed, Scope: repo, ID: id, Time: t, Str: map[string]string{"environment": env}}
	case 3:
		s := h.sha()
		return yardstick.Event{Source: "github", Type: yardstick.CommitPushed, Scope: repo, ID: s + "-" + id, Time: t, Str: map[string]string{"sha": s}}
	case 4:
		return yardstick.Event{Source: "github", Type: yardstick.ChangeOpened, Scope: repo, ID: id, Time: t, Actor: "ann", Num: map[string]float64{"number": pr}}
	case 5:
		return yardstick.Event{Source: "github", Type: yardstick.ChangeReviewed, Scope: repo, ID: id, Time: t, Actor: []string{"ann", "bob"}[h.r.IntN(2)],
			Num: map[string]float64{"number": pr}, Str: map[string]string{"author": "ann"}}
	case 6:
		e := yardstick.Event{Source: "github", Type: yardstick.ChangeMerged, Scope: repo, ID: id, Time: t, Actor: "ann",
			Num: map[string]float64{"number": pr, "additions": float64(h.r.IntN(300)), "deletions": float64(h.r.IntN(50)), "opened_at": float64(t.Add(-time.Hour).Unix())},
			Str: map[string]string{"merge_commit_sha": h.sha()}}
		if h.r.IntN(3) == 0 { // a revert: a failure signal naming a commit
			e.Str["reverts"] = h.sha()
		}
		h.merges = append(h.merges, e)
		return e
	case 7:
		return yardstick.Event{Source: "github", Type: yardstick.PipelineFinished, Scope: repo, ID: id, Time: t,
			Num: map[string]float64{"duration_seconds": float64(60 + h.r.IntN(600))},
			Str: map[string]string{"workflow": []string{"ci", "lint"}[h.r.IntN(2)], "conclusion": []string{"success", "failure", "cancelled"}[h.r.IntN(3)]}}
	case 8:
		e := yardstick.Event{Source: "pagerduty", Type: yardstick.IncidentTriggered, Scope: pd, ID: id, Time: t,
			Num: map[string]float64{"off_hours": float64(h.r.IntN(2))}, Str: map[string]string{"incident_id": inc}}
		// Half of them within a day or so of a deployment (which may be of
		// another scope, or not in production), a quarter naming it.
		d := h.earlier()
		if h.r.IntN(2) == 0 {
			e.Time = d.Time.Add(time.Duration(h.r.IntN(30*60)) * time.Minute)
		}
		switch h.r.IntN(4) { // an incident that names its cause: a deployment, a commit it shipped, a change
		case 0:
			e.Str["deployment_id"] = d.ID
		case 1:
			e.Str["sha"] = d.Related[0]
		case 2:
			e.Str["change"] = fmt.Sprint(1 + h.r.IntN(12))
			if len(h.merges) > 0 {
				e.Str["change"] = fmt.Sprint(h.merges[h.r.IntN(len(h.merges))].Num["number"])
			}
		}
		return e
	case 9:
		typ := []string{yardstick.IncidentAcknowledged, yardstick.IncidentResolved}[h.r.IntN(2)]
		return yardstick.Event{Source: "pagerduty", Type: typ, Scope: pd, ID: id, Time: t, Str: map[string]string{"incident_id": inc}}
	case 10:
		return yardstick.Event{Source: "jira", Type: yardstick.TicketCreated, Scope: jiraScope, ID: id, Time: t, Str: map[string]string{"key": key}}
	default:
		typ := []string{yardstick.TicketTransitioned, yardstick.TicketResolved}[h.r.IntN(2)]
		return yardstick.Event{Source: "jira", Type: typ, Scope: jiraScope, ID: id, Time: t, Str: map[string]string{"key": key, "to_category": cat}}
	}
}

// batch returns events to write and events to tombstone.
func (h *randomHistory) batch() (write, del []yardstick.Event) {
	for n := 1 + h.r.IntN(25); n > 0; n-- {
		switch k := h.r.IntN(10); {
		case k < 6 || len(h.ids) == 0:
			write = append(write, h.event(k == 0))
		case k < 8: // a rewrite: same identity, another time and attributes
			old := h.written[h.ids[h.r.IntN(len(h.ids))]]
			e := h.event(false)
			e.Source, e.Type, e.Scope, e.ID = old.Source, old.Type, old.Scope, old.ID
			if h.r.IntN(2) == 0 {
				e = old
				e.Time = h.when(true)
			}
			write = append(write, e)
		case k < 9: // the same again: must not double-count
			write = append(write, h.written[h.ids[h.r.IntN(len(h.ids))]])
		default:
			del = append(del, h.written[h.ids[h.r.IntN(len(h.ids))]])
		}
	}
	for _, e := range write {
		id := identity(e)
		if _, ok := h.written[id]; !ok {
			h.ids = append(h.ids, id)
		}
		h.written[id] = e
	}
	return write, del
}

// TestIncrementalRefreshEqualsRebuild applies the same random histories to
// two stores: one refreshes incrementally after each batch, the other
// rebuilds everything; their observations must be the same rows.
// mustCurrent returns the observations and failure links m's latest refresh
// stored.
func mustCurrent(t testing.TB, m *store.Metrics) ([]store.ObservationRow, []string) {
	t.Helper()
	obs, err := store.CurrentObservations(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	links, err := store.CurrentFailureLinks(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return obs, links
}

func TestIncrementalRefreshEqualsRebuild(t *testing.T) {
	relinked, bases := 0, map[string]int{} // over every seed
	defer func() {
		t.Logf("failure links by basis, over every step: %v; signals attributed again by incremental refreshes: %d", bases, relinked)
		for _, b := range []string{"deployment_id", "sha", "change", "window"} {
			if bases[b] == 0 {
				t.Errorf("no failure link by %s in any step: that basis was not compared", b)
			}
		}
		if relinked == 0 {
			t.Errorf("no incremental refresh attributed a failure signal again: attribution by key was not exercised")
		}
	}()
	for _, seed := range []uint64{1, 2, 4} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ctx := context.Background()
			h := &randomHistory{r: rand.New(rand.NewPCG(seed, 7)), written: map[string]yardstick.Event{}}
			inc, full := newDB(t), newDB(t)
			cfg := store.MetricsConfig{WriteLag: time.Nanosecond}
			mi, mf := store.NewMetrics(inc, cfg), store.NewMetrics(full, cfg)
			partial, links, covered, sliced := 0, 0, 0, 0
			for step := 0; step < 12; step++ {
				rehome := step > 0 && h.r.IntN(6) == 0
				if step == 0 || rehome {
					h.rehomed = rehome && !h.rehomed
					for _, db := range []*store.DB{inc, full} {
						if _, err := db.ReplaceCatalog(ctx, randomCatalog(h.rehomed)); err != nil {
							t.Fatal(err)
						}
					}
				}
				write, del := h.batch()
				for _, db := range []*store.DB{inc, full} {
					if err := db.WriteEvents(ctx, write); err != nil {
						t.Fatal(err)
					}
					if err := db.DeleteEvents(ctx, del); err != nil {
						t.Fatal(err)
					}
				}
				res, err := mi.RefreshStats(ctx)
				if err != nil {
					t.Fatalf("step %d: incremental refresh: %v", step, err)
				}
				if err := mf.Rebuild(ctx); err != nil {
					t.Fatalf("step %d: rebuild: %v", step, err)
				}
				switch {
				case step == 0 && !res.Full:
					t.Errorf("step 0: first refresh was incremental, want full")
				case rehome && !res.Full:
					t.Errorf("step %d: refresh after re-homing a repository was incremental, want full", step)
				case !rehome && step > 0 && res.Full:
					t.Errorf("step %d: refresh was full, want incremental", step)
				}
				for _, cut := range res.Cuts {
					if !cut.IsZero() {
						sliced++ // a family's new slice starts after the beginning: its chain has two slices or more
					}
				}
				if !res.Full && res.FailureScopes > 0 && res.FailureScopes < res.MappedScopes {
					partial++ // failure signals attributed again in some scopes, not all
				}
				got, gotLinks := mustCurrent(t, mi)
				want, wantLinks := mustCurrent(t, mf)
				if len(want) == 0 {
					t.Fatalf("step %d: rebuild has no observations", step)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
					t.Fatalf("step %d (wrote %d, deleted %d, refresh %+v): incremental observations differ from a rebuild (-rebuild +incremental):\n%s",
						step, len(write), len(del), res, diff)
				}
				links = max(links, len(wantLinks))
				for _, l := range wantLinks {
					bases[l[strings.LastIndexByte(l, '(')+1:len(l)-1]]++
				}
				if !res.Full {
					relinked += res.FailureSignals
				}
				if diff := cmp.Diff(wantLinks, gotLinks); diff != "" {
					t.Fatalf("step %d: incremental failure links differ from a rebuild (-rebuild +incremental):\n%s", step, diff)
				}
				// The figures read over the slices: one family per query, and
				// several (as in cluster mode).
				var subjects []yardstick.EntityRef
				for _, e := range randomCatalog(h.rehomed) {
					subjects = append(subjects, e.Ref)
				}
				q := yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: append(subjects, yardstick.OrgRef),
					Window: yardstick.Window{From: refreshStart, To: refreshStart.AddDate(0, 0, 84)}, Weekly: true}
				for _, grouped := range []bool{false, true} {
					ri, rf := store.NewMetrics(inc, cfg), store.NewMetrics(full, cfg) // nothing cached
					store.SetGroupReads(ri, grouped)
					store.SetGroupReads(rf, grouped)
					gotM, err := ri.Metrics(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					wantM, err := rf.Metrics(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(wantM, gotM, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
						t.Fatalf("step %d: figures read after an incremental refresh differ from a rebuild's (grouped reads %v; -rebuild +incremental):\n%s", step, grouped, diff)
					}
				}
				// Coverage too through new instances: each caches the catalog
				// for catalogTTL, and after a re-homing step that outlived it
				// one of mi and mf resolved subjects with the new catalog and
				// the other with the old (this failed once, on a busy machine).
				ci, cf := store.NewMetrics(inc, cfg), store.NewMetrics(full, cfg)
				for _, e := range randomCatalog(h.rehomed) {
					gotCov, err := ci.Coverage(ctx, e.Ref, yardstick.MetricNames())
					if err != nil {
						t.Fatal(err)
					}
					wantCov, err := cf.Coverage(ctx, e.Ref, yardstick.MetricNames())
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(wantCov, gotCov); diff != "" {
						t.Fatalf("step %d: coverage of %s differs from a rebuild's (-rebuild +incremental):\n%s", step, e.Ref, diff)
					}
					covered += len(wantCov)
				}
			}
			if links == 0 {
				t.Errorf("no failure links in any step: change failure attribution was not exercised")
			}
			if covered == 0 {
				t.Errorf("no entity had coverage in any step: Coverage was not compared")
			}
			if sliced == 0 {
				t.Errorf("no family was cut after the beginning: reading a chain of slices was not exercised")
			}
			if partial == 0 {
				t.Errorf("no refresh attributed failures again in fewer scopes than all: keeping the others' links was not exercised")
			}
		})
	}
}

// TestRefreshNothingWritten: a refresh with nothing written recomputes no
// key, one late event recomputes its keys only, and a refresh under another
// configuration (here: production environments) finds no refresh of its own
// and rebuilds.
func TestRefreshNothingWritten(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	m := store.NewMetrics(db, store.MetricsConfig{WriteLag: time.Nanosecond})
	first, err := m.RefreshStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Full || first.Rows == 0 {
		t.Fatalf("first refresh = %+v, want a full one with rows", first)
	}
	again, err := m.RefreshStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Full || again.Keys() != 0 || again.Rows != 0 {
		t.Errorf("refresh with nothing written = %+v, want incremental over no key", again)
	}
	before, _ := mustCurrent(t, m)
	if err := db.WriteEvents(ctx, []yardstick.Event{deploy(webRepo, "late", "production", at(1, 9, 0))}); err != nil {
		t.Fatal(err)
	}
	late, err := m.RefreshStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// web's entity has its repository and its own entity: scope; failure
	// signals are attributed again in both.
	if late.Full || late.TouchedKeys["deployment"] == 0 || late.FailureScopes != 2 {
		t.Errorf("refresh after one late event in %s = %+v, want the deployment recomputed and the failure links of web's scopes", webRepo, late)
	}
	after, _ := mustCurrent(t, m)
	// The late production deployment is one more deployment (one row of the
	// deployments family); nothing else changes.
	added := map[string]int{}
	for _, r := range after {
		added[r.Family+" "+r.Scope]++
	}
	for _, r := range before {
		added[r.Family+" "+r.Scope]--
	}
	want := map[string]int{"deployments " + string(webRepo): 1}
	for k, n := range added {
		if n != want[k] {
			t.Errorf("observations of %s: %+d after a late deployment, want %+d", k, n, want[k])
		}
	}
	other := store.NewMetrics(db, store.MetricsConfig{ProductionEnvironments: []string{"staging"}, WriteLag: time.Nanosecond})
	if res, err := other.RefreshStats(ctx); err != nil || !res.Full {
		t.Errorf("first refresh of another configuration = %+v, %v; want a full one", res, err)
	}
}

// TestOldGenerationsDropped: once a refresh is older than the newest
// keepRefreshes (2) and ten minutes old, its partitions go — every family's
// partition of metric_observations, and its coverage and failure links —
// and what reads see does not change.
func TestOldGenerationsDropped(t *testing.T) {
	db := mustMetricDB(t)
	ctx := context.Background()
	clock := time.Now()
	store.SetClock(db, func() time.Time { return clock })
	m := store.NewMetrics(db, store.MetricsConfig{})
	gens := map[string][]uint64{} // table → generations with active parts
	readGens := func() {
		t.Helper()
		clear(gens)
		rows, err := db.Conn().Query(ctx, `SELECT DISTINCT table, partition FROM system.parts WHERE database = currentDatabase() AND active
  AND table IN ('metric_observations', 'metric_coverage', 'deployment_failures')`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var table, partition string
			if err := rows.Scan(&table, &partition); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(partition, "("), ",")
			gen, err := strconv.ParseUint(first, 10, 64)
			if err != nil {
				t.Fatalf("partition %s of %s: %v", partition, table, err)
			}
			if !slices.Contains(gens[table], gen) {
				gens[table] = append(gens[table], gen)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var refreshes []uint64
	for i := 0; i < 3; i++ {
		if err := m.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		refreshes = append(refreshes, uint64(clock.UnixNano()))
		clock = clock.Add(11 * time.Minute)
	}
	want, _ := mustCurrent(t, m)
	readGens()
	for _, table := range []string{"metric_observations", "metric_coverage", "deployment_failures"} {
		got := slices.Sorted(slices.Values(gens[table]))
		if !slices.Equal(got, refreshes[1:]) {
			t.Errorf("%s holds generations %v after three refreshes %v, want the newest two", table, got, refreshes)
		}
	}
	var parts uint64
	if err := db.Conn().QueryRow(ctx, `SELECT count(DISTINCT partition) FROM system.parts WHERE database = currentDatabase() AND active AND table = 'metric_observations'`).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts < 2*4 {
		t.Errorf("metric_observations has %d partitions for two generations, want one per family of each", parts)
	}
	got, _ := mustCurrent(t, m)
	if diff := cmp.Diff(want, got); diff != "" || len(got) == 0 {
		t.Errorf("observations changed when old generations were dropped (%d rows):\n%s", len(got), diff)
	}
}

// TestFailureAttributionInChunks: attributing failures a chunk of scope
// groups at a time links what one pass over every scope links — an incident in a service to a deployment of its
// component's repository included, and a rollback in a repository no entity
// maps.
func TestFailureAttributionInChunks(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	if _, err := db.ReplaceCatalog(ctx, randomCatalog(false)); err != nil {
		t.Fatal(err)
	}
	h := &randomHistory{r: rand.New(rand.NewPCG(4, 7)), written: map[string]yardstick.Event{}}
	for i := 0; i < 10; i++ {
		write, del := h.batch()
		mustWrite(t, db.WriteEvents, write)
		if err := db.DeleteEvents(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
	unmapped := github.RepoScope("acme/unmapped")
	shipped := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: unmapped, ID: "u1", Time: refreshStart,
		Str: map[string]string{"environment": "production"}}
	rollback := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: unmapped, ID: "u2", Time: refreshStart.Add(time.Hour),
		Str: map[string]string{"environment": "production", "rollback": "true"}}
	// An incident in c2's service, an hour after a deployment of its repository.
	r2 := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: github.RepoScope("acme/r2"), ID: "r2-late", Time: refreshStart.AddDate(0, 3, 0),
		Str: map[string]string{"environment": "production"}}
	page := yardstick.Event{Source: "pagerduty", Type: yardstick.IncidentTriggered, Scope: pagerduty.ServiceScope("P2"), ID: "p2-late", Time: r2.Time.Add(time.Hour)}
	mustWrite(t, db.WriteEvents, []yardstick.Event{shipped, rollback, r2, page})

	m := store.NewMetrics(db, store.MetricsConfig{})
	whole, err := store.RebuildStats(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	_, want := mustCurrent(t, m)
	prev := store.SetFailureChunkScopes(1)
	t.Cleanup(func() { store.SetFailureChunkScopes(prev) })
	chunked, err := store.RebuildStats(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	_, got := mustCurrent(t, m)
	// Groups: c1's scopes; c2's and c3's (they share acme/r2); c4's; acme/unmapped.
	if whole.FailurePasses != 1 || chunked.FailurePasses != 4 {
		t.Errorf("failure attribution passes: %d with the default chunk, %d with chunks of one scope; want 1, and one per group of scopes (4)", whole.FailurePasses, chunked.FailurePasses)
	}
	across, inUnmapped := false, false
	for _, l := range want {
		f := strings.Fields(l) // deploy scope, id, time, "<-", signal scope, …
		across = across || f[0] != f[4]
		inUnmapped = inUnmapped || f[0] == string(unmapped)
	}
	if !across || !inUnmapped {
		t.Fatalf("failure links %q: want one across an entity's scopes (%v) and one in a scope no entity maps (%v)", want, across, inUnmapped)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failure links attributed in chunks differ from one pass (-one pass +chunks):\n%s", diff)
	}
}

// TestIncrementalRefreshEdges: edits whose effects reach keys they do not
// touch, each refreshed incrementally on one store and rebuilt on another,
// must leave the same observations, failure links and coverage:
//   - api's first production deployment (lead time's baseline) tombstoned:
//     the commits its successor shipped no longer count, though nothing
//     touched them;
//   - an earlier production deployment arrives late: they count again;
//   - a deployment of web alone: failure signals are attributed again in
//     web's scopes only, and api's links from web's cut on are carried over;
//   - a revert, and the same change rewritten as a plain merge (its versions
//     unmerged): d3's failure comes and goes.
func TestIncrementalRefreshEdges(t *testing.T) {
	ctx := context.Background()
	inc, full := mustMetricDB(t), mustMetricDB(t)
	cfg := store.MetricsConfig{WriteLag: time.Nanosecond}
	mi, mf := store.NewMetrics(inc, cfg), store.NewMetrics(full, cfg)
	if _, err := mi.RefreshStats(ctx); err != nil {
		t.Fatal(err)
	}
	// Versions stay unmerged, as on a busy server: a read that filtered them
	// by an attribute before FINAL would take an older version for the newest.
	for _, db := range []*store.DB{inc, full} {
		if err := db.Conn().Exec(store.NotRecorded(ctx), "SYSTEM STOP MERGES events"); err != nil {
			t.Fatal(err)
		}
	}
	first := deploy(apiRepo, "d0", "production", at(1, 10, 0), "c0")
	// A change that reverts c4 (shipped by d3) a day after, then the same
	// change as a plain merge: its link comes and goes.
	revert := yardstick.Event{Source: "github", Type: yardstick.ChangeMerged, Scope: apiRepo, ID: "9", Time: at(13, 9, 0),
		Num: map[string]float64{"number": 9}, Str: map[string]string{"merge_commit_sha": "c9", "reverts": "c4"}}
	plain := revert
	plain.Str = map[string]string{"merge_commit_sha": "c9"}
	// Incidents that name their cause, days after it (out of the failure
	// window): d1 by id, then d1 moved out of production; change 2 (merged as
	// c4, which d3 shipped), then change 2 merged as another commit. Each link
	// goes with what it names, though neither incident changed.
	byID := incident(yardstick.IncidentTriggered, "I9", at(9, 0, 0), 0)
	byID.Str = map[string]string{"incident_id": "I9", "deployment_id": "d1"}
	byChange := incident(yardstick.IncidentTriggered, "I10", at(14, 12, 0), 0)
	byChange.Str = map[string]string{"incident_id": "I10", "change": "2"}
	change2 := yardstick.Event{Source: "github", Type: yardstick.ChangeMerged, Scope: apiRepo, ID: "2", Time: at(11, 9, 0),
		Num: map[string]float64{"number": 2, "additions": 100, "deletions": 20}, Str: map[string]string{"merge_commit_sha": "c9"}}
	const (
		linkByID     = "github:acme/api d1 2024-03-05T10:00:00Z <- pagerduty:PAPI incident.triggered I9 2024-03-09T00:00:00Z (deployment_id)"
		linkByChange = "github:acme/api d3 2024-03-12T09:00:00Z <- pagerduty:PAPI incident.triggered I10 2024-03-14T12:00:00Z (change)"
	)
	for _, edit := range []struct {
		name       string
		write, del []yardstick.Event
		failScopes int  // api's four (repository, PagerDuty, Jira, entity), web's two
		revert     bool // change 9 reverts c4: a failure of d3
		links      map[string]bool
	}{
		{name: "first deployment tombstoned", del: []yardstick.Event{first}, failScopes: 4},
		{name: "an earlier deployment late", write: []yardstick.Event{deploy(apiRepo, "d-early", "production", at(1, 9, 30), "cx")}, failScopes: 4},
		{name: "web alone", write: []yardstick.Event{deploy(webRepo, "w0", "production", at(3, 0, 0))}, failScopes: 2},
		{name: "a revert", write: []yardstick.Event{revert}, failScopes: 4, revert: true},
		{name: "the revert rewritten as a plain merge", write: []yardstick.Event{plain}, failScopes: 4},
		{name: "an incident naming d1", write: []yardstick.Event{byID}, failScopes: 4, links: map[string]bool{linkByID: true}},
		{name: "d1 moved to staging", write: []yardstick.Event{deploy(apiRepo, "d1", "staging", at(5, 10, 0), "c1", "c2")}, failScopes: 4, links: map[string]bool{linkByID: false}},
		{name: "an incident naming change 2", write: []yardstick.Event{byChange}, failScopes: 4, links: map[string]bool{linkByChange: true}},
		{name: "change 2 merged as another commit", write: []yardstick.Event{change2}, failScopes: 4, links: map[string]bool{linkByChange: false}},
	} {
		for _, db := range []*store.DB{inc, full} {
			mustWrite(t, db.WriteEvents, edit.write)
			if err := db.DeleteEvents(ctx, edit.del); err != nil {
				t.Fatal(err)
			}
		}
		res, err := mi.RefreshStats(ctx)
		if err != nil {
			t.Fatalf("%s: incremental refresh: %v", edit.name, err)
		}
		if res.Full || res.FailureScopes != edit.failScopes {
			t.Errorf("%s: refresh %+v, want incremental with failure signals attributed again in %d scopes", edit.name, res, edit.failScopes)
		}
		if err := mf.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		got, gotLinks := mustCurrent(t, mi)
		want, wantLinks := mustCurrent(t, mf)
		if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("%s: incremental observations differ from a rebuild (-rebuild +incremental):\n%s", edit.name, diff)
		}
		if len(wantLinks) == 0 {
			t.Fatalf("%s: no failure links: carrying them over is not exercised", edit.name)
		}
		if diff := cmp.Diff(wantLinks, gotLinks); diff != "" {
			t.Errorf("%s: incremental failure links differ from a rebuild (-rebuild +incremental):\n%s", edit.name, diff)
		}
		reverted := false
		for _, l := range wantLinks {
			reverted = reverted || strings.Contains(l, "d3 2024-03-12T09:00:00Z <- "+string(apiRepo)+" change.merged 9 ")
		}
		if reverted != edit.revert {
			t.Errorf("%s: links %q: d3 failed through change 9 %v, want %v", edit.name, wantLinks, reverted, edit.revert)
		}
		for link, want := range edit.links {
			if slices.Contains(wantLinks, link) != want {
				t.Errorf("%s: rebuild's links %q: has %q %v, want %v", edit.name, wantLinks, link, !want, want)
			}
		}
		for _, ref := range []yardstick.EntityRef{api, web, alpha, tribe} {
			gotCov, err := mi.Coverage(ctx, ref, yardstick.MetricNames())
			if err != nil {
				t.Fatal(err)
			}
			wantCov, err := mf.Coverage(ctx, ref, yardstick.MetricNames())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantCov, gotCov); diff != "" {
				t.Errorf("%s: coverage of %s differs from a rebuild's (-rebuild +incremental):\n%s", edit.name, ref, diff)
			}
		}
	}
}

// TestSlicedGenerationsKept: a generation that only an older refresh wrote
// stays while a newer refresh's chains read it. Three incremental refreshes
// eleven minutes apart each recompute one family (tickets, then CI, then
// incidents); after the third, the refresh that recomputed tickets is older
// than the two kept, but its generation holds the tickets' current slice.
func TestSlicedGenerationsKept(t *testing.T) {
	ctx := context.Background()
	db, twin := mustMetricDB(t), mustMetricDB(t)
	clock := time.Now()
	store.SetClock(db, func() time.Time { return clock })
	m := store.NewMetrics(db, store.MetricsConfig{WriteLag: time.Nanosecond})
	if _, err := m.RefreshStats(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range []yardstick.Event{
		transition("API-3", 2, at(14, 0, 0), "done"),
		run("b5", "build", "failure", 200, at(13, 1, 0)),
		incident(yardstick.IncidentTriggered, "I4", at(16, 3, 0), 0),
	} {
		clock = clock.Add(11 * time.Minute)
		mustWrite(t, db.WriteEvents, []yardstick.Event{e})
		mustWrite(t, twin.WriteEvents, []yardstick.Event{e})
		clock = clock.Add(time.Minute) // the next refresh reads writes after this one's start
		res, err := m.RefreshStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Full || len(res.Cuts) == 0 || res.Keys() != 1 {
			t.Fatalf("refresh after %s %s = %+v, want an incremental one that recomputed its key alone", e.Type, e.ID, res)
		}
	}
	rebuilt := store.NewMetrics(twin, store.MetricsConfig{})
	if err := rebuilt.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	got, gotLinks := mustCurrent(t, m)
	want, wantLinks := mustCurrent(t, rebuilt)
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("observations after old generations were dropped differ from a rebuild (-rebuild +incremental):\n%s", diff)
	}
	if diff := cmp.Diff(wantLinks, gotLinks); diff != "" {
		t.Errorf("failure links after old generations were dropped differ from a rebuild (-rebuild +incremental):\n%s", diff)
	}
}
