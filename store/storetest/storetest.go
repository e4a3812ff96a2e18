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
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

var (
	server  *store.Server
	skipMsg string
)

// Main starts a ClickHouse server for the test package, runs the tests and stops
// it. Use it as: func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }.
// Without a ClickHouse binary, tests that need one fail under CI=true (with the
// install command) and are skipped elsewhere.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "yardstick-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := store.Launch(ctx, dir, slog.New(slog.DiscardHandler))
	cancel()
	switch {
	case errors.Is(err, store.ErrNoClickHouse):
		skipMsg = err.Error()
	case err != nil:
		fmt.Fprintln(os.Stderr, "storetest: start clickhouse:", err)
		return 1
	default:
		server = s
		defer func() { _ = s.Stop(context.Background()) }()
	}
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
	if server != nil {
		return
	}
	if skipMsg == "" {
		t.Fatal("storetest: call os.Exit(storetest.Main(m)) from TestMain")
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(skipMsg)
	}
	t.Skip(skipMsg)
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
