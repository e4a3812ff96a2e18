package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(launchHelperEnv); dir != "" {
		os.Exit(launchHelper(dir))
	}
	os.Exit(storetest.Main(m))
}

func TestMigrateRerunnable(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	applied, err := db.MigrateVerbose(ctx)
	if err != nil {
		t.Fatalf("second Migrate() = %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate() applied %v, want nothing", applied)
	}
	var n uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("schema_migrations has no rows after Migrate")
	}
}
