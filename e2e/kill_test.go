package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// TestCollectKilledMidRunRerunsToSameData: "a process killed mid-collect
// re-run gives the same data" (issue 10). `collect github` is SIGKILLed in
// the middle of a full sync, run again, and must store exactly what one
// uninterrupted run stores.
func TestCollectKilledMidRunRerunsToSameData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	var slugs []string
	var entities []yardstick.Entity
	for i := 0; i < 8; i++ {
		slug := fmt.Sprintf("acme/svc-%d", i)
		slugs = append(slugs, slug)
		entities = append(entities, yardstick.Entity{Ref: yardstick.NewEntityRef("component", "default", fmt.Sprintf("svc-%d", i)),
			Owner: "group:default/team", Annotations: map[string]string{github.AnnotationSlug: slug}})
	}
	// One fixed clock for the fake: both runs see the same history.
	epoch := time.Now().UTC().Truncate(time.Hour)
	fake := githubfake.New(githubfake.Options{Repos: slugs, Epoch: epoch, Now: func() time.Time { return epoch }, Token: "t", Days: 60})
	t.Cleanup(fake.Close)
	cfgPath := filepath.Join(dir, "yardstick.yaml")
	if err := os.WriteFile(cfgPath, []byte("github:\n  base_url: "+fake.URL+"\n  token_env: YS_TEST_GITHUB_TOKEN\n  backfill_days: 30\n  concurrency: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() *store.DB {
		db := storetest.NewDBMapping(t, github.Source().Scopes)
		if _, err := db.ReplaceCatalog(ctx, entities); err != nil {
			t.Fatal(err)
		}
		return db
	}
	collect := func(db *store.DB) *exec.Cmd {
		return killableCmd("--config", cfgPath, "--clickhouse", dsn(t, db), "--log-level", "warn", "collect", "github")
	}
	mustRun := func(db *store.DB) {
		t.Helper()
		if out, err := collect(db).CombinedOutput(); err != nil {
			t.Fatalf("collect github into %s: %v\n%s", db.Database(), err, out)
		}
	}

	clean := open()
	fake.ResetStats()
	mustRun(clean)
	full := fake.Stats().Requests
	if full < 20 {
		t.Fatalf("a full sync made %d requests: too few to kill one in the middle", full)
	}

	killed := open()
	fake.ResetStats()
	cmd := collect(killed)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); fake.Stats().Requests < full/2; {
		if time.Now().After(deadline) {
			t.Fatalf("the killed run made %d of %d requests in 5 minutes", fake.Stats().Requests, full)
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("killed after %d of %d requests", fake.Stats().Requests, full)
	mustRun(killed)

	want, got := mustAllEvents(t, clean), mustAllEvents(t, killed)
	if len(want) == 0 {
		t.Fatal("the clean run stored no events")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after kill and re-run (-uninterrupted +killed, re-run):\n%s", diff)
	}
	wantFacts, gotFacts := mustFactKeys(t, clean), mustFactKeys(t, killed)
	if diff := cmp.Diff(wantFacts, gotFacts); diff != "" {
		t.Errorf("facts after kill and re-run (-uninterrupted +killed, re-run):\n%s", diff)
	}
}

func mustAllEvents(t *testing.T, db *store.DB) []yardstick.Event {
	t.Helper()
	evs, err := db.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.ID < b.ID
	})
	return evs
}

// mustFactKeys lists the stored facts by scope, name and value (their
// observation time is when each run read them).
func mustFactKeys(t *testing.T, db *store.DB) []string {
	t.Helper()
	facts, err := db.FactsByScope(context.Background(), "github")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(facts))
	for _, f := range facts {
		out = append(out, string(f.Scope)+" "+f.Name+" "+string(f.Value))
	}
	sort.Strings(out)
	return out
}

// TestIngestKilledMidRunRerunsToSameData: "a process killed mid-ingest re-run
// gives the same data" (issue 10). `ingest` is SIGKILLed once its first rows
// are in ClickHouse, run again on the same file, and must store exactly what
// one uninterrupted run stores.
func TestIngestKilledMidRunRerunsToSameData(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := fixtures.Generate(fixtures.GenConfig{Components: 60, Days: 150}).WriteEvents(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ingest := func(db *store.DB) *exec.Cmd {
		return killableCmd("--clickhouse", dsn(t, db), "--log-level", "warn", "ingest", file)
	}
	clean := storetest.NewDB(t)
	if out, err := ingest(clean).CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	killed := storetest.NewDB(t)
	cmd := ingest(killed)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var stored uint64
	for deadline := time.Now().Add(5 * time.Minute); stored == 0; time.Sleep(5 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("ingest of %d events finished before any row showed: nothing to kill in the middle", n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no row stored within 5 minutes")
		}
		stored, _ = killed.CountEvents(ctx)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	t.Logf("killed with %d of %d events stored", stored, n)
	if out, err := ingest(killed).CombinedOutput(); err != nil {
		t.Fatalf("ingest again: %v\n%s", err, out)
	}
	want, got := mustAllEvents(t, clean), mustAllEvents(t, killed)
	if len(want) != n {
		t.Fatalf("the clean run stored %d events, want %d", len(want), n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events after kill and re-run (-uninterrupted +killed, re-run):\n%s", diff)
	}
}
