package spool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/spool"
)

// memStore is an in-memory store that fails while down.
type memStore struct {
	mu     sync.Mutex
	down   bool
	fails  int
	events []yardstick.Event
	facts  []yardstick.Fact
	got    chan struct{}
}

func newMemStore() *memStore { return &memStore{got: make(chan struct{}, 1000)} }

// apply makes a change under the lock, unless the store is down, and
// signals it on got.
func (m *memStore) apply(change func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		m.fails++
		return fmt.Errorf("clickhouse: %w", yardstick.ErrUnavailable)
	}
	if err := change(); err != nil {
		return err
	}
	m.got <- struct{}{}
	return nil
}

func (m *memStore) WriteEvents(_ context.Context, events []yardstick.Event) error {
	return m.apply(func() error {
		for _, e := range events {
			if e.ID == "invalid" {
				return fmt.Errorf("event %s: %w", e.ID, yardstick.ErrInvalid)
			}
		}
		m.events = append(m.events, events...)
		return nil
	})
}

func (m *memStore) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	return m.apply(func() error {
		m.facts = append(m.facts, facts...)
		return nil
	})
}

func (m *memStore) DeleteEvents(_ context.Context, events []yardstick.Event) error {
	return m.apply(func() error {
		gone := map[string]bool{}
		for _, e := range events {
			gone[e.ID] = true
		}
		m.events = slices.DeleteFunc(m.events, func(e yardstick.Event) bool { return gone[e.ID] })
		return nil
	})
}

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func (m *memStore) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.events {
		out = append(out, e.ID)
	}
	return out
}

func event(id string) yardstick.Event {
	return yardstick.Event{Source: "github", Type: yardstick.ChangeMerged, Scope: "github:acme/api", ID: id,
		Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Actor: "octocat",
		Num: map[string]float64{"additions": 12.5}, Str: map[string]string{"sha": "abc"}, Related: []string{"c1", "c2"}}
}

func fast() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = time.Millisecond, 20*time.Millisecond, 0
	return b
}

func mustOpen(t *testing.T, cfg spool.Config, w spool.Writer) *spool.Spool {
	t.Helper()
	if cfg.Backoff == nil {
		cfg.Backoff = fast
	}
	s, err := spool.Open(cfg, w)
	if err != nil {
		t.Fatalf("Open(%s) = %v", cfg.Dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// run drains s until it is empty, then stops Run.
func mustDrain(t *testing.T, s *spool.Spool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Records > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// mustWriteIDs writes one event per id, each a delivery of its own.
func mustWriteIDs(t *testing.T, s *spool.Spool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.WriteEvents(context.Background(), []yardstick.Event{event(id)}); err != nil {
			t.Fatalf("WriteEvents(%s) = %v", id, err)
		}
	}
}

// mustDrainTo drains s and checks that st received the events of want, in
// that order.
func mustDrainTo(t *testing.T, s *spool.Spool, st *memStore, want ...string) {
	t.Helper()
	mustDrain(t, s)
	if diff := cmp.Diff(want, st.ids()); diff != "" {
		t.Errorf("stored ids (-want +got):\n%s", diff)
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

// TestSpoolKeepsAcknowledgedDeliveriesAcrossRestart: deliveries accepted while
// ClickHouse was stopped were refused, not kept (issue 10). What the spool
// acknowledged survives a restart and reaches the store in order, with the
// same values.
func TestSpoolKeepsAcknowledgedDeliveriesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first := mustOpen(t, spool.Config{Dir: dir, SegmentBytes: 2048}, newMemStore())
	want := ids("e", 40)
	mustWriteIDs(t, first, want...)
	fact := yardstick.NewFact("github", "github:acme/api", "branch_protection", map[string]int{"required_reviews": 2}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err := first.WriteFacts(ctx, []yardstick.Fact{fact}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil { // a crash: nothing drained
		t.Fatal(err)
	}
	st := newMemStore()
	second := mustOpen(t, spool.Config{Dir: dir, SegmentBytes: 2048}, st)
	if got := second.Stats().Records; got != 41 {
		t.Fatalf("Stats().Records after reopen = %d, want 41", got)
	}
	mustDrainTo(t, second, st, want...)
	if diff := cmp.Diff(event("e007"), st.events[7]); diff != "" {
		t.Errorf("replayed event (-want +got):\n%s", diff)
	}
	if len(st.facts) != 1 || string(st.facts[0].Value) != string(fact.Value) {
		t.Errorf("stored facts = %+v, want %+v", st.facts, fact)
	}
	// Drained segments are deleted; a third open replays nothing.
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 1 {
		t.Errorf("segments left after drain: %v", segs)
	}
	third := mustOpen(t, spool.Config{Dir: dir}, newMemStore())
	if got := third.Stats().Records; got != 0 {
		t.Errorf("Stats().Records after a full drain and reopen = %d, want 0", got)
	}
}

// TestSpoolRetriesWhileStoreDown: the drain waits out an outage and then
// writes everything, in order.
func TestSpoolRetriesWhileStoreDown(t *testing.T) {
	st := newMemStore()
	st.setDown(true)
	reg := prometheus.NewRegistry()
	s := mustOpen(t, spool.Config{Dir: t.TempDir(), Registerer: reg}, st)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	want := ids("d", 25)
	mustWriteIDs(t, s, want...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mu.Lock()
		fails := st.fails
		st.mu.Unlock()
		if fails >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("drain did not retry")
		}
		time.Sleep(time.Millisecond)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP yardstick_spool_records Webhook deliveries in the spool not yet written to the store.
# TYPE yardstick_spool_records gauge
yardstick_spool_records 25
`), "yardstick_spool_records"); err != nil {
		t.Errorf("while the store is down: %v", err)
	}
	st.setDown(false)
	for s.Stats().Records > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not drained after the store came back: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, st.ids()); diff != "" {
		t.Errorf("stored ids (-want +got):\n%s", diff)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("metrics lint: %v %v", err, probs)
	}
}

// TestSpoolFullAnswersUnavailable: a full spool refuses with an error that the
// handlers answer 503 + Retry-After, and accepts again once drained.
func TestSpoolFullAnswersUnavailable(t *testing.T) {
	st := newMemStore()
	s := mustOpen(t, spool.Config{Dir: t.TempDir(), MaxBytes: 1500}, st)
	ctx := context.Background()
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		err = s.WriteEvents(ctx, []yardstick.Event{event(fmt.Sprint(n))})
	}
	if !errors.Is(err, spool.ErrFull) || !errors.Is(err, yardstick.ErrUnavailable) {
		t.Fatalf("WriteEvents() on a full spool = %v, want ErrFull wrapping ErrUnavailable", err)
	}
	if n < 2 {
		t.Fatalf("spool full after %d writes", n)
	}
	mustDrain(t, s)
	if err := s.WriteEvents(ctx, []yardstick.Event{event("after")}); err != nil {
		t.Errorf("WriteEvents() after drain = %v", err)
	}
	if got := len(st.ids()); got != n-1 {
		t.Errorf("stored %d events, want the %d accepted", got, n-1)
	}
}

// TestSpoolCutsTornTail: a crash mid-append leaves half a record, never
// acknowledged; the records before it are kept and new appends follow them.
func TestSpoolCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, spool.Config{Dir: dir}, newMemStore())
	mustWriteIDs(t, s, "a", "b")
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'}) // header of 200 bytes, 2 written
	f.Close()
	st := newMemStore()
	s = mustOpen(t, spool.Config{Dir: dir}, st)
	if got := s.Stats().Records; got != 2 {
		t.Fatalf("Stats().Records with a torn tail = %d, want 2", got)
	}
	mustWriteIDs(t, s, "c")
	mustDrainTo(t, s, st, "a", "b", "c")
}

// TestSpoolDropsWhatTheStoreRefuses: a record the store refuses as invalid can
// never be written; it must not block the records after it.
func TestSpoolDropsWhatTheStoreRefuses(t *testing.T) {
	st := newMemStore()
	s := mustOpen(t, spool.Config{Dir: t.TempDir()}, st)
	mustWriteIDs(t, s, "a", "invalid", "b")
	mustDrainTo(t, s, st, "a", "b")
	mustWriteIDs(t, s, "c")
	mustDrainTo(t, s, st, "a", "b", "c")
}

// TestSpoolKeepsWritesAndDeletesInOrder: a withdrawal (a reopened incident's
// resolution) reaches the store after the write it withdraws, never before.
func TestSpoolKeepsWritesAndDeletesInOrder(t *testing.T) {
	st := newMemStore()
	s := mustOpen(t, spool.Config{Dir: t.TempDir()}, st)
	ctx := context.Background()
	steps := []func() error{
		func() error { return s.WriteEvents(ctx, []yardstick.Event{event("a")}) },
		func() error { return s.WriteEvents(ctx, []yardstick.Event{event("resolved")}) },
		func() error { return s.DeleteEvents(ctx, []yardstick.Event{event("resolved")}) },
		func() error { return s.WriteEvents(ctx, []yardstick.Event{event("b")}) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	mustDrainTo(t, s, st, "a", "b")
}

// TestSpoolRefusesASecondProcess: two processes appending to one spool would
// interleave their records; the second Open is refused with a clear error.
func TestSpoolRefusesASecondProcess(t *testing.T) {
	dir := t.TempDir()
	first := mustOpen(t, spool.Config{Dir: dir}, newMemStore())
	if _, err := spool.Open(spool.Config{Dir: dir}, newMemStore()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open(%s) = %v, want in use", dir, err)
	}
	first.Close()
	again, err := spool.Open(spool.Config{Dir: dir}, newMemStore())
	if err != nil {
		t.Fatalf("Open() after Close = %v", err)
	}
	again.Close()
}

// TestSpoolConcurrentAppendsShareFsyncs: concurrent deliveries (20 clients in
// the mixed-load benchmark) are each acknowledged only once on disk, across
// segment rotations; after a crash every acknowledged one is replayed.
func TestSpoolConcurrentAppendsShareFsyncs(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, spool.Config{Dir: dir, SegmentBytes: 4096}, newMemStore())
	var wg sync.WaitGroup
	for c := 0; c < 20; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := s.WriteEvents(context.Background(), []yardstick.Event{event(fmt.Sprintf("c%02d-%02d", c, i))}); err != nil {
					t.Errorf("WriteEvents() = %v", err)
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	st := newMemStore()
	again := mustOpen(t, spool.Config{Dir: dir, SegmentBytes: 4096}, st)
	if got := again.Stats().Records; got != 500 {
		t.Fatalf("Stats().Records after reopen = %d, want 500", got)
	}
	mustDrain(t, again)
	got := st.ids()
	sort.Strings(got)
	var want []string
	for c := 0; c < 20; c++ {
		for i := 0; i < 25; i++ {
			want = append(want, fmt.Sprintf("c%02d-%02d", c, i))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored ids (-want +got):\n%s", diff)
	}
}
