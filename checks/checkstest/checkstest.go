// Package checkstest compiles rules for the tests of the packages that
// evaluate them.
package checkstest

import (
	"testing"

	"github.com/yardstick-dev/yardstick/checks"
)

// MustEnv returns a CEL environment with the default options.
func MustEnv(tb testing.TB) *checks.Env {
	tb.Helper()
	env, err := checks.NewEnv(checks.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// MustLoad compiles the rule file text (scorecards and campaigns) in env, as
// rules.yaml. A load error fails the test.
func MustLoad(tb testing.TB, env *checks.Env, text string) *checks.RuleSet {
	tb.Helper()
	set, err := env.LoadFile("rules.yaml", []byte(text))
	if err != nil {
		tb.Fatalf("LoadFile() = %v", err)
	}
	return set
}
