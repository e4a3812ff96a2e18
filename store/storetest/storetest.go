// Package storetest gives tests a real ClickHouse: one server per test package,
// started by the store's own launcher, and a fresh migrated database per test.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

var (
	server     *store.Server
	clickhouse *Service
)

// Main starts a ClickHouse server for the test package, runs the tests and stops
// it. Use it as: func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }.
// Without a ClickHouse binary, tests that need one fail under CI=true (with the
// install command) and are skipped elsewhere.
func Main(m *testing.M) int {
	svc, stop, err := StartService("clickhouse", 2*time.Minute, func(ctx context.Context, dir string) (func(), error) {
		s, err := store.Launch(ctx, dir, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		server = s
		return func() { _ = s.Stop(context.Background()) }, nil
	}, store.ErrNoClickHouse)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer stop()
	clickhouse = svc
	return m.Run()
}

// Addr returns the native address of the package's server, for tests that
// need to open their own store (e.g. with a second process).
func Addr(t testing.TB) string {
	t.Helper()
	requireServer(t)
	return server.Addr
}

func requireServer(t testing.TB) {
	t.Helper()
	if clickhouse == nil {
		t.Fatal("storetest: call os.Exit(storetest.Main(m)) from TestMain")
	}
	clickhouse.Require(t)
}

// A Service is what a test package starts once, in TestMain, for its tests:
// a ClickHouse server, a cluster, ZooKeeper.
type Service struct {
	skipMsg string // why it is not running; "" when it is
}

// StartService runs start in a fresh temporary folder within timeout, and
// returns the stop to defer (it stops what start started, then removes the
// folder). When start fails with one of missing (a program that is not
// installed), the service is not running and Require skips the tests; any
// other error is returned.
func StartService(name string, timeout time.Duration, start func(ctx context.Context, dir string) (stop func(), err error), missing ...error) (*Service, func(), error) {
	dir, err := os.MkdirTemp("", "yardstick-"+name+"-*")
	if err != nil {
		return nil, nil, err
	}
	removeDir := func() { _ = os.RemoveAll(dir) }
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	stop, err := start(ctx, dir)
	cancel()
	if err == nil {
		return &Service{}, func() { stop(); removeDir() }, nil
	}
	for _, m := range missing {
		if errors.Is(err, m) {
			return &Service{skipMsg: err.Error()}, removeDir, nil
		}
	}
	removeDir()
	return nil, nil, fmt.Errorf("start %s: %w", name, err)
}

// Require returns when the service runs. Otherwise it fails t under CI=true,
// where every service must run, and skips it elsewhere, with the message
// that names what to install.
func (s *Service) Require(t testing.TB) {
	t.Helper()
	switch {
	case s.skipMsg == "":
	case os.Getenv("CI") == "true":
		t.Fatal(s.skipMsg)
	default:
		t.Skip(s.skipMsg)
	}
}

// NewDB returns a store on a fresh, migrated database of its own, dropped when
// the test ends.
func NewDB(t testing.TB) *store.DB {
	t.Helper()
	return NewDBMapping(t, nil)
}

// NewDBMapping is NewDB with the catalog mapping entities to the scopes
// scopesOf returns (a source registry's ScopesOf), as the binary does.
func NewDBMapping(t testing.TB, scopesOf func(yardstick.Entity) []yardstick.Scope) *store.DB {
	t.Helper()
	requireServer(t)
	name := "t_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + server.Addr + "/default", Database: name, ScopesOf: scopesOf})
	if err != nil {
		t.Fatalf("storetest: open database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
		_ = db.Close()
	})
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MustCatalog writes org's catalog to a file and imports it as the catalog
// source does, returning its entities.
func MustCatalog(t testing.TB, org *fixtures.Org) []yardstick.Entity {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog-info.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := org.WriteCatalog(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res := (&catalog.Importer{}).ImportPaths(context.Background(), []string{filepath.Dir(path)})
	if err := res.Err(); err != nil {
		t.Fatalf("import generated catalog: %v", err)
	}
	return res.Entities
}

// MustImportOrg makes org's catalog db's catalog and returns its entities.
func MustImportOrg(t testing.TB, db *store.DB, org *fixtures.Org) []yardstick.Entity {
	t.Helper()
	entities := MustCatalog(t, org)
	if _, err := db.ReplaceCatalog(context.Background(), entities); err != nil {
		t.Fatalf("ReplaceCatalog() = %v", err)
	}
	return entities
}

// MustStreamOrg streams the organisation's events that keep selects (every
// one when keep is nil) into db, and returns how many it wrote and skipped.
func MustStreamOrg(t testing.TB, db *store.DB, org *fixtures.Org, keep func(yardstick.Event) bool) (wrote, skipped int) {
	t.Helper()
	s, err := db.StreamEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]yardstick.Event, 0, 10_000)
	err = org.EachEvent(func(e yardstick.Event) error {
		if keep != nil && !keep(e) {
			skipped++
			return nil
		}
		wrote++
		if batch = append(batch, e); len(batch) < cap(batch) {
			return nil
		}
		err := s.Write(batch)
		batch = batch[:0]
		return err
	})
	if err == nil {
		err = s.Write(batch)
	}
	if err != nil {
		s.Abort()
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return wrote, skipped
}

// MustSettle waits until db's server has run no background merge for two
// seconds: what a benchmark measures on a history written just before then
// reads it as a production history, whose parts are merged. A server still
// merging after 20 minutes (100M events just written) is logged and left to
// it.
func MustSettle(t testing.TB, db *store.DB) {
	t.Helper()
	settled, waited, err := db.WaitForMerges(context.Background(), 2*time.Second, 20*time.Minute)
	switch {
	case err != nil:
		t.Fatal(err)
	case settled:
		t.Logf("server settled: merges done after %s", waited.Round(time.Second))
	default:
		t.Logf("server still merging after %s; going on", waited.Round(time.Second))
	}
}
