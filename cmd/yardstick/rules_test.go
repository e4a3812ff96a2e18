package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

// TestRulesTestWithoutRules: with no DIR, no rules.dir and no demo rules,
// `rules test` fails (e2e runs the other cases through the binary, which
// always has the demo rules).
func TestRulesTestWithoutRules(t *testing.T) {
	var out, errOut bytes.Buffer
	// No demoRules: the binary always has them.
	a := &app{now: time.Now, out: &out, errOut: &errOut, logger: slog.New(slog.DiscardHandler)}
	c := newRulesCmd(a)
	c.SilenceUsage, c.SilenceErrors = true, true // as under the root command
	c.SetArgs([]string{"test"})
	c.SetOut(&out)
	c.SetErr(&errOut)
	if err := c.Execute(); err == nil {
		t.Fatalf("rules test without rules = nil, want an error\nout:\n%s\nerr:\n%s", &out, &errOut)
	}
}
