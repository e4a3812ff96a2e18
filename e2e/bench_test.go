package e2e

import (
	"regexp"
	"strconv"
	"testing"
)

// TestBenchOutage runs `yardstick bench outage` (make bench) with a short
// stop: signed GitHub webhooks while the binary's own ClickHouse is
// SIGSTOPped. Every acknowledged delivery must be stored afterwards, and
// some must have waited in the spool, or the stop tested nothing. It guards
// the benchmark as much as the spool: once, its store mapped no repository,
// so every delivery was answered 202 "ignored" and counted as acknowledged.
func TestBenchOutage(t *testing.T) {
	code, out, errOut := runYardstick(t, "--data-dir", t.TempDir(), "--log-level", "error", "bench", "outage", "--stop", "2s", "--rate", "10")
	if code != 0 {
		t.Fatalf("bench outage = exit %d\nout:\n%s\nerr:\n%s", code, out, errOut)
	}
	stored := regexp.MustCompile(`acknowledged deliveries stored afterwards: (\d+)/(\d+) \(100\.0%\)`).FindStringSubmatch(out)
	if stored == nil || stored[1] != stored[2] || stored[1] == "0" {
		t.Fatalf("bench outage did not store every acknowledged delivery:\n%s", out)
	}
	spooled := regexp.MustCompile(`spool at SIGCONT: (\d+) records`).FindStringSubmatch(out)
	if spooled == nil {
		t.Fatalf("bench outage printed no spool depth:\n%s", out)
	}
	if n, _ := strconv.Atoi(spooled[1]); n == 0 {
		t.Errorf("no delivery waited in the spool while ClickHouse was stopped:\n%s", out)
	}
}
