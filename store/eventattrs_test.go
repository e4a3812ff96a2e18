package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// The attributes the refresh reads as columns are the columns migration 1300
// adds, each computed from its own attribute, and the migration's statement
// run again (a migration applied but not recorded) is taken as applied. (idh,
// the identity's hash of migration 2000, is the one other computed column.)
func TestEventAttributeColumns(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	var want []string
	for kind, names := range store.EventAttrs {
		for _, n := range names {
			want = append(want, kind+"_"+n)
		}
	}
	slices.Sort(want)
	rows, err := db.Conn().Query(ctx, `SELECT name, default_expression FROM system.columns
WHERE database = currentDatabase() AND table = 'events' AND default_kind = 'DEFAULT' AND name != 'idh' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, expr string
		if err := rows.Scan(&name, &expr); err != nil {
			t.Fatal(err)
		}
		kind, attr, _ := strings.Cut(name, "_")
		if !strings.Contains(expr, kind+"_values") || !strings.Contains(expr, "'"+attr+"'") {
			t.Errorf("column %s = %s: want the %s attribute %q", name, expr, kind, attr)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("attribute columns of events = %v, want %v (store/metrics.go eventAttrs and migration 1300 differ)", got, want)
	}

	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	err = db.WriteEvents(ctx, []yardstick.Event{{Source: "ingest", Type: yardstick.ChangeMerged, Scope: "github:acme/api", ID: "pr-7", Time: at,
		Num: map[string]float64{"number": 7, "additions": 12}, Str: map[string]string{"merge_commit_sha": "abc123", "author": "ana"}}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		number, additions, deletions float64
		sha, author, env             string
	)
	err = db.Conn().QueryRow(ctx, `SELECT num_number, num_additions, num_deletions, str_merge_commit_sha, str_author, str_environment FROM events WHERE id = 'pr-7'`).
		Scan(&number, &additions, &deletions, &sha, &author, &env)
	if err != nil {
		t.Fatal(err)
	}
	if number != 7 || additions != 12 || deletions != 0 || sha != "abc123" || author != "ana" || env != "" {
		t.Errorf("attribute columns = %v %v %v %q %q %q, want 7 12 0 abc123 ana and empty", number, additions, deletions, sha, author, env)
	}

	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version != 1300 {
			continue
		}
		// Not recorded: the statement check would run it twice on current ClickHouse.
		err := db.Conn().Exec(store.NotRecorded(ctx), m.SQL)
		if err == nil || !store.ColumnsAlreadyAdded(m.SQL, err) {
			t.Errorf("migration 1300 run again: %v; want an error taken as already applied", err)
		}
		return
	}
	t.Fatal("no migration 1300")
}
