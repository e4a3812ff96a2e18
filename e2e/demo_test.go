package e2e

import (
	"strings"
	"testing"
)

// TestDemoOnce runs `yardstick demo --once` (make demo-once) on the test
// ClickHouse: the demo organisation imported, collected from every source's
// fake, scored week by week and summarised.
func TestDemoOnce(t *testing.T) {
	cli := mustCLI(t, "data_dir: "+t.TempDir()+"\n")
	code, out, errOut := cli("demo", "--once")
	if code != 0 {
		t.Fatalf("demo --once = exit %d\nout:\n%s\nerr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"catalog: ", " entities from ", "history: ", "metrics: refreshed", "scoring: 13 weekly runs", "SUMMARY", "  total "} {
		if !strings.Contains(out, want) {
			t.Errorf("demo --once output lacks %q:\n%s", want, out)
		}
	}
}
