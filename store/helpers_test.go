package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

// mustWrite writes rows with write (a store method such as db.WriteEvents),
// failing the test on an error.
func mustWrite[T any](t testing.TB, write func(context.Context, []T) error, rows []T) {
	t.Helper()
	if err := write(context.Background(), rows); err != nil {
		t.Fatalf("write %d %T: %v", len(rows), rows, err)
	}
}

// mustCatalog makes entities db's catalog and returns what changed.
func mustCatalog(t testing.TB, db *store.DB, entities []yardstick.Entity) store.CatalogChanges {
	t.Helper()
	ch, err := db.ReplaceCatalog(context.Background(), entities)
	if err != nil {
		t.Fatalf("ReplaceCatalog(%d entities) = %v", len(entities), err)
	}
	return ch
}

// mustMatch fails the test when the read call returned an error, and reports
// how its answer got differs from want.
func mustMatch[T any](t testing.TB, call string, want, got T, err error, opts ...cmp.Option) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v", call, err)
	}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("%s (-want +got):\n%s", call, diff)
	}
}
