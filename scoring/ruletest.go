package scoring

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// TestResult is the outcome of one test case embedded in a rule file.
type TestResult struct {
	Pos      checks.Pos
	Rule     string // "scorecard <id>" or "campaign <id>"
	Name     string
	Failures []string // empty when the case passed
}

// Passed reports whether the case passed.
func (r TestResult) Passed() bool { return len(r.Failures) == 0 }

// RunTests runs every test case of the rule set through the same code that
// scores the catalog. now is the time of cases that do not fix one.
func RunTests(ctx context.Context, env *checks.Env, set *checks.RuleSet, now time.Time) []TestResult {
	var out []TestResult
	// run runs the cases of one rule with mismatches, which scores a case's
	// entity and lists how the outcome differs from what the case expects.
	run := func(rule string, cases []checks.TestCase, mismatches func(tc checks.TestCase, in checks.Input) []string) {
		for _, tc := range cases {
			in := tc.Input
			if in.Now.IsZero() {
				in.Now = now
			}
			out = append(out, TestResult{Pos: tc.Pos, Rule: rule, Name: tc.Name, Failures: mismatches(tc, in)})
		}
	}
	for _, sc := range set.Scorecards {
		run("scorecard "+sc.ID, sc.Tests, func(tc checks.TestCase, in checks.Input) []string {
			got, ok, err := ScoreEntity(ctx, sc, &in.Entity, env.Activation(in), in.Now)
			return scorecardMismatches(tc.Expect, got, ok, err)
		})
	}
	for _, c := range set.Campaigns {
		run("campaign "+c.ID, c.Tests, func(tc checks.TestCase, in checks.Input) []string {
			got, ok, err := CampaignEntity(ctx, c, &in.Entity, env.Activation(in))
			return campaignMismatches(tc.Expect, got, ok, err)
		})
	}
	return out
}

func appliesMismatch(want, got bool, err error) []string {
	if err != nil {
		return []string{fmt.Sprintf("appliesTo: %v", err)}
	}
	if want != got {
		return []string{fmt.Sprintf("applies = %t, want %t", got, want)}
	}
	return nil
}

func scorecardMismatches(want checks.Expect, got EntityScore, applies bool, err error) []string {
	if f := appliesMismatch(want.Applies, applies, err); f != nil || !applies {
		return f
	}
	var f []string
	states := map[string]CheckOutcome{}
	for _, c := range got.Checks {
		states[c.Check.ID] = c
	}
	for _, c := range got.Scorecard.Checks {
		w, asserted := want.Checks[c.ID]
		if !asserted {
			continue
		}
		o, ran := states[c.ID]
		switch {
		case !ran:
			f = append(f, fmt.Sprintf("check %s does not apply, want %s", c.ID, w))
		case o.State != w:
			f = append(f, fmt.Sprintf("check %s = %s, want %s%s", c.ID, o.State, w, detail(o)))
		}
	}
	if want.Level != nil && got.Level.Name != *want.Level {
		f = append(f, fmt.Sprintf("level = %s, want %s", levelName(got.Level.Name), levelName(*want.Level)))
	}
	if want.Score != nil && math.Abs(got.Score-*want.Score) > 0.01 {
		f = append(f, fmt.Sprintf("score = %.2f, want %.2f", got.Score, *want.Score))
	}
	return f
}

func detail(o CheckOutcome) string {
	s := join(o.Message, o.Value)
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func levelName(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func campaignMismatches(want checks.Expect, got yardstick.CampaignResult, applies bool, err error) []string {
	if f := appliesMismatch(want.Applies, applies, err); f != nil || !applies {
		return f
	}
	if want.Done != nil && got.Done() != *want.Done {
		msg := fmt.Sprintf("done = %t, want %t (state %s", got.Done(), *want.Done, got.State)
		if got.Message != "" {
			msg += ": " + got.Message
		}
		return []string{msg + ")"}
	}
	return nil
}
