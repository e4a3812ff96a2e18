package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// TestRecentEventsOfTypesWrittenElsewhere: RecentEvents names the stored event
// types (event_types) so that the primary key prunes (events is sorted by type,
// then scope). A type first written by another process is read at once.
func TestRecentEventsOfTypesWrittenElsewhere(t *testing.T) {
	ctx := context.Background()
	reader := storetest.NewDB(t)
	writer, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + storetest.Addr(t) + "/default", Database: reader.Database()})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	scope := yardstick.Scope("github:acme/api")
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ev := func(typ, id string, t time.Time) yardstick.Event {
		return yardstick.Event{Source: "github", Type: typ, Scope: scope, ID: id, Time: t}
	}
	recent := func() []string {
		t.Helper()
		got, err := reader.RecentEvents(ctx, []yardstick.Scope{scope}, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.Type+"/"+e.ID)
		}
		return ids
	}
	if got := recent(); len(got) != 0 {
		t.Fatalf("RecentEvents() of an empty store = %v", got)
	}
	// Written by the reader itself: seen at once.
	if err := reader.WriteEvents(ctx, []yardstick.Event{ev(yardstick.DeploymentSucceeded, "d1", at)}); err != nil {
		t.Fatal(err)
	}
	if got := recent(); len(got) != 1 || got[0] != yardstick.DeploymentSucceeded+"/d1" {
		t.Fatalf("RecentEvents() after the reader's write = %v, want the deployment", got)
	}
	// A new type written by another process (a stream, as `yardstick ingest`
	// writes): seen at once.
	s, err := writer.StreamEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]yardstick.Event{ev("custom.audit", "a1", at.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := recent(); len(got) != 2 || got[0] != "custom.audit/a1" {
		t.Fatalf("RecentEvents() after another process wrote a new type = %v, want custom.audit/a1 first", got)
	}
}
