package scoring

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick/checks/checkstest"
)

// TestDemoRules loads the demo scorecards and campaigns (fixtures/rules) and
// runs the test cases they carry, as `yardstick rules test` does in CI.
func TestDemoRules(t *testing.T) {
	env := checkstest.MustEnv(t)
	set, err := env.LoadDir(os.DirFS("../fixtures"), "rules")
	if err != nil {
		t.Fatalf("LoadDir(fixtures/rules) = %v", err)
	}
	if len(set.Scorecards) < 3 || len(set.Campaigns) < 2 {
		t.Errorf("demo rules have %d scorecards and %d campaigns, want at least 3 and 2", len(set.Scorecards), len(set.Campaigns))
	}
	results := RunTests(context.Background(), env, set, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC))
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %s %q: %v", r.Pos, r.Rule, r.Name, r.Failures)
		}
	}
	if len(results) < 20 {
		t.Errorf("demo rules carry %d test cases, want at least 20", len(results))
	}
}
