package store_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

// TestEventKeysKeepEveryVersion: a rewrite that moves an event to another key
// (a Jira issue moved to another project, a deployment's shipped commits
// recomputed) and a tombstone leave event_keys holding every version, with
// what each had, after events has merged them away: what an incremental
// refresh needs to recompute the keys they left.
func TestEventKeysKeepEveryVersion(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ticket := yardstick.Event{Source: "jira", Type: yardstick.TicketCreated, Scope: "jira:OPS", ID: "10042", Time: at,
		Str: map[string]string{"key": "OPS-7"}}
	deploy := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: "github:acme/api", ID: "d1", Time: at,
		Str: map[string]string{"sha": "c3", "environment": "production"}, Related: []string{"c1", "c2", "c3"}}
	if err := db.WriteEvents(ctx, []yardstick.Event{ticket, deploy}); err != nil {
		t.Fatal(err)
	}
	// The issue moves to another project; the deployment's shipped commits
	// are recomputed, through the streaming writer that ingest uses.
	moved := ticket
	moved.Str = map[string]string{"key": "PLAT-3"}
	moved.Time = at.Add(time.Hour)
	if err := db.WriteEvents(ctx, []yardstick.Event{moved}); err != nil {
		t.Fatal(err)
	}
	recomputed := deploy
	recomputed.Related = []string{"c3"}
	s, err := db.StreamEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]yardstick.Event{recomputed}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	gone := yardstick.Event{Source: moved.Source, Type: moved.Type, Scope: moved.Scope, ID: moved.ID} // its identity alone
	if err := db.DeleteEvents(ctx, []yardstick.Event{gone}); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn().Exec(ctx, "OPTIMIZE TABLE events FINAL"); err != nil {
		t.Fatal(err)
	}
	var stored uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2 {
		t.Fatalf("events holds %d rows after OPTIMIZE … FINAL, want 2 (the merge keeps each event's newest version)", stored)
	}

	type version struct {
		Type, ID, Key, Sha string
		Time               time.Time
		Deleted            uint8
		Related            []string
	}
	var got []version
	rows, err := db.Conn().Query(ctx, "SELECT type, id, str_key, str_sha, time, deleted, related FROM event_keys ORDER BY type, version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v version
		if err := rows.Scan(&v.Type, &v.ID, &v.Key, &v.Sha, &v.Time, &v.Deleted, &v.Related); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []version{
		{Type: yardstick.DeploymentSucceeded, ID: "d1", Sha: "c3", Time: at, Related: []string{"c1", "c2", "c3"}},
		{Type: yardstick.DeploymentSucceeded, ID: "d1", Sha: "c3", Time: at, Related: []string{"c3"}},
		{Type: yardstick.TicketCreated, ID: "10042", Key: "OPS-7", Time: at, Related: []string{}},
		{Type: yardstick.TicketCreated, ID: "10042", Key: "PLAT-3", Time: at.Add(time.Hour), Related: []string{}},
		// A tombstone carries the identity alone.
		{Type: yardstick.TicketCreated, ID: "10042", Time: time.Unix(0, 0).UTC(), Deleted: 1, Related: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event_keys (-want +got):\n%s", diff)
	}
}

// TestEventKeysBackfill: the versions stored before migration 1800 (here
// written while its view was away) are copied into event_keys by its backfill.
func TestEventKeysBackfill(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	if err := db.Conn().Exec(ctx, "DROP TABLE event_keys_writer"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	pr := yardstick.Event{Source: "github", Type: yardstick.ChangeOpened, Scope: "github:acme/api", ID: "12", Time: at,
		Num: map[string]float64{"number": 12}}
	if err := db.WriteEvents(ctx, []yardstick.Event{pr}); err != nil {
		t.Fatal(err)
	}
	pr.Num = map[string]float64{"number": 13}
	if err := db.WriteEvents(ctx, []yardstick.Event{pr}); err != nil {
		t.Fatal(err)
	}
	if err := db.Backfill(ctx, 1800); err != nil {
		t.Fatal(err)
	}
	// The backfill copies the versions events holds when it runs: both, or
	// the newer alone when a merge came first.
	var numbers []float64
	if err := db.Conn().QueryRow(ctx, "SELECT groupArray(num_number) FROM (SELECT num_number FROM event_keys ORDER BY version)").Scan(&numbers); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(numbers, []float64{12, 13}) && !slices.Equal(numbers, []float64{13}) {
		t.Errorf("event_keys' numbers after the backfill = %v, want [12 13] (or [13] after a merge)", numbers)
	}
}

// TestTouchedKeys: the keys an incremental refresh recomputes are those of
// every version of every event written since the previous refresh, the
// versions before included: a moved ticket touches its old key and its new
// one, a deployment whose shipped commits were recomputed touches the
// commits it no longer names, a tombstone the key its event had.
func TestTouchedKeys(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	repo := yardstick.Scope("github:acme/api")
	ticket := yardstick.Event{Source: "jira", Type: yardstick.TicketCreated, Scope: "jira:OPS", ID: "10042", Time: at, Str: map[string]string{"key": "OPS-7"}}
	other := yardstick.Event{Source: "jira", Type: yardstick.TicketCreated, Scope: "jira:OPS", ID: "10043", Time: at, Str: map[string]string{"key": "OPS-8"}}
	deploy := yardstick.Event{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: repo, ID: "d1", Time: at,
		Str: map[string]string{"sha": "c3", "environment": "production"}, Related: []string{"c1", "c2", "c3"}}
	opened := yardstick.Event{Source: "github", Type: yardstick.ChangeOpened, Scope: repo, ID: "12", Time: at, Num: map[string]float64{"number": 12}}
	run := yardstick.Event{Source: "github", Type: yardstick.PipelineFinished, Scope: repo, ID: "5", Time: at}
	if err := db.WriteEvents(ctx, []yardstick.Event{ticket, other, deploy, opened, run}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	since := uint64(time.Now().UnixNano())
	time.Sleep(2 * time.Millisecond)

	moved := ticket
	moved.Str = map[string]string{"key": "PLAT-3"}
	recomputed := deploy
	recomputed.Related = []string{"c3"}
	review := yardstick.Event{Source: "github", Type: yardstick.ChangeReviewed, Scope: repo, ID: "12-r1", Time: at.Add(time.Hour), Num: map[string]float64{"number": 12}}
	if err := db.WriteEvents(ctx, []yardstick.Event{moved, recomputed, review}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteEvents(ctx, []yardstick.Event{{Source: run.Source, Type: run.Type, Scope: run.Scope, ID: run.ID}}); err != nil {
		t.Fatal(err)
	}
	// What a merge of events would keep is not what the keys come from.
	if err := db.Conn().Exec(ctx, "OPTIMIZE TABLE events FINAL"); err != nil {
		t.Fatal(err)
	}
	got, err := store.TouchedKeys(ctx, store.NewMetrics(db, store.MetricsConfig{}), 7, since)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"commit":       {"github:acme/api c1", "github:acme/api c2", "github:acme/api c3"},
		"deployment":   {"github:acme/api d1"},
		"pipeline":     {"github:acme/api 5"},
		"pull_request": {"github:acme/api 12"},
		"ticket":       {"jira:OPS OPS-7", "jira:OPS PLAT-3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("touched keys (-want +got):\n%s", diff)
	}
}

// TestEventKeyHashesMatchKeySources: the view that writes event_key_hashes
// (migration 2300, in SQL) and keySources (store/keys.go, in Go) give every
// version of every event the same keys, on edge cases — a pull request
// without a number, a ticket without a key, an incident without an
// incident_id, a push without a sha, a merge without a merge commit, a
// deployment that names an empty commit or none, a failed deployment that
// names commits (it shipped none), an event of no key's type — and on a
// random history's events, rewrites and tombstones. The backfill, which
// indexes what was stored before the migration, writes the same rows.
func TestEventKeyHashesMatchKeySources(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	repo := yardstick.Scope("github:acme/api")
	mustWrite(t, db.WriteEvents, []yardstick.Event{
		{Source: "github", Type: yardstick.ChangeOpened, Scope: repo, ID: "pr-no-number", Time: at},
		{Source: "github", Type: yardstick.ChangeMerged, Scope: repo, ID: "m1", Time: at, Num: map[string]float64{"number": 4}},
		{Source: "github", Type: yardstick.ChangeMerged, Scope: repo, ID: "m2", Time: at, Num: map[string]float64{"number": 5}, Str: map[string]string{"merge_commit_sha": "c9"}},
		{Source: "jira", Type: yardstick.TicketCreated, Scope: "jira:OPS", ID: "10042", Time: at},
		{Source: "pagerduty", Type: yardstick.IncidentTriggered, Scope: "pagerduty:P1", ID: "inc-no-id", Time: at},
		{Source: "github", Type: yardstick.CommitPushed, Scope: repo, ID: "push-no-sha", Time: at},
		{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: repo, ID: "d1", Time: at, Related: []string{"c1", "", "c2"}, Str: map[string]string{"sha": "c2"}},
		{Source: "github", Type: yardstick.DeploymentSucceeded, Scope: repo, ID: "d2", Time: at},
		{Source: "github", Type: yardstick.DeploymentFailed, Scope: repo, ID: "d3", Time: at, Related: []string{"c3"}, Str: map[string]string{"sha": "c3"}},
		{Source: "github", Type: "change.closed", Scope: repo, ID: "x1", Time: at, Num: map[string]float64{"number": 6}},
	})
	h := &randomHistory{r: rand.New(rand.NewPCG(23, 5)), written: map[string]yardstick.Event{}}
	for range 30 {
		write, del := h.batch()
		mustWrite(t, db.WriteEvents, write)
		if len(del) > 0 {
			mustWrite(t, db.DeleteEvents, del)
		}
	}
	want, err := store.KeyHashes(ctx, db, true)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, row := range want {
		kinds[strings.Fields(row)[0]] = true
	}
	if len(kinds) != 6 {
		t.Fatalf("keySources give keys of %d kinds (%v), want all 6", len(kinds), kinds)
	}
	got, err := store.KeyHashes(ctx, db, false)
	mustMatch(t, "event_key_hashes as its view wrote it", want, got, err)

	if err := db.Conn().Exec(ctx, "TRUNCATE TABLE event_key_hashes"); err != nil {
		t.Fatal(err)
	}
	if err := db.Backfill(ctx, 2300); err != nil {
		t.Fatal(err)
	}
	got, err = store.KeyHashes(ctx, db, false)
	mustMatch(t, "event_key_hashes as its backfill wrote it", want, got, err)
}
