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

// TestBenchIngest runs `yardstick bench ingest` (make bench) on a small
// generated organisation: both methods must load every event (the harness
// counts them) and the ratio be printed.
func TestBenchIngest(t *testing.T) {
	code, out, errOut := runYardstick(t, "--data-dir", t.TempDir(), "--log-level", "error", "bench", "ingest", "--components", "20", "--days", "10", "--rounds", "1")
	if code != 0 {
		t.Fatalf("bench ingest = exit %d\nout:\n%s\nerr:\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`ratio \(yardstick / clickhouse-client\) \d+\.\d\d`).MatchString(out) {
		t.Fatalf("bench ingest printed no ratio:\n%s", out)
	}
}

// TestBenchLoad runs `yardstick bench load` (make bench) briefly: the demo
// organisation under mixed load, no request failing and every acknowledged
// webhook delivery stored.
func TestBenchLoad(t *testing.T) {
	code, out, errOut := runYardstick(t, "--data-dir", t.TempDir(), "--log-level", "error", "bench", "load", "--clients", "2", "--duration", "2s")
	if code != 0 {
		t.Fatalf("bench load = exit %d\nout:\n%s\nerr:\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`webhook deliveries acknowledged: (\d+), stored after the spool drained: (\d+) \(100\.0%\)`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Fatalf("bench load did not store every acknowledged delivery:\n%s", out)
	}
}

// TestBenchOrg runs `yardstick bench org` (make bench) on a small
// organisation: score, then a real serve crawled cold and warm, with its peak
// memory read.
func TestBenchOrg(t *testing.T) {
	code, out, errOut := runYardstick(t, "--data-dir", t.TempDir(), "--log-level", "error", "bench", "org", "--components", "30", "--days", "3", "--cold-rounds", "1", "--warm-rounds", "1")
	if code != 0 {
		t.Fatalf("bench org = exit %d\nout:\n%s\nerr:\n%s", code, out, errOut)
	}
	for _, re := range []string{`organisation: 30 components, \d+ entities, \d+ events`, `serve: peak RSS \(VmHWM\) after the crawl +\d+ MB`, `(?m)^/squads +\d+ms +\d+ms`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("bench org output lacks %s:\n%s", re, out)
		}
	}
}
