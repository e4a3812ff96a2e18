package store_test

import (
	"context"
	"testing"

	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestReadOnlyQuery(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	mustWrite(t, db.WriteEvents, sampleEvents())
	res, err := db.ReadOnlyQuery(ctx, "SELECT type, count() AS n FROM events FINAL GROUP BY type ORDER BY type", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Columns) != 2 || res.Columns[1] != "n" || len(res.Rows) != 3 || res.Rows[0][0] != "change.merged" || res.Rows[0][1] != "1" {
		t.Errorf("ReadOnlyQuery() = %+v", res)
	}
	if _, err := db.ReadOnlyQuery(ctx, "DROP TABLE events", 0); err == nil {
		t.Fatal("ReadOnlyQuery(DROP TABLE) = nil error, want refusal")
	}
	if _, err := db.ReadOnlyQuery(ctx, "SELECT count() FROM events", 0); err != nil {
		t.Errorf("events table gone after refused DROP: %v", err)
	}
}
