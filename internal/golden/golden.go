// Package golden compares what a test produced with a golden file kept in
// testdata, so every change to an output shows in review.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// MustMatch compares got with the golden file at path. With update (each
// test package's -update flag) it writes got to path instead, creating the
// folder. A missing golden file fails the test.
func MustMatch(tb testing.TB, path string, got []byte, update bool) {
	tb.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden file: %v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
