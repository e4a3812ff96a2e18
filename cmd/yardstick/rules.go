package main

import (
	"cmp"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/scoring"
)

// rulesConfig is the `rules:` section of yardstick.yaml.
//
//	rules:
//	  dir: ./rules                  # scorecard and campaign files (*.yaml, *.yml, subfolders too); empty: the demo rules
//	  cost_limit: 1000000           # CEL cost one evaluation may spend (0: 1,000,000)
//	  run_cost_budget: 10000000000  # CEL cost one scoring run may spend (0: 10,000,000,000)
//	  metric_weeks: 4               # weeks of metrics rules see, ending at the run (0: 4)
//	  workers: 0                    # parallel evaluators (0: one per CPU)
type rulesConfig struct {
	Dir           string `yaml:"dir"`
	CostLimit     uint64 `yaml:"cost_limit"`
	RunCostBudget uint64 `yaml:"run_cost_budget"`
	MetricWeeks   int    `yaml:"metric_weeks"`
	Workers       int    `yaml:"workers"`
}

// loadRules compiles the rules of dir (a --rules flag), else of the
// configured dir (rules.dir), else the demo rules. It returns where they came from.
// Problems are printed one per line and end in an exitError, so a broken rule
// file fails the command with every error listed.
func (a *app) loadRules(dir string) (*checks.Env, *checks.RuleSet, string, error) {
	env, err := checks.NewEnv(checks.Options{CostLimit: a.cfg.Rules.CostLimit})
	if err != nil {
		return nil, nil, "", err
	}
	fsys, root, where := a.demoRules, ".", "the demo rules"
	if dir = cmp.Or(dir, a.cfg.Rules.Dir); dir != "" {
		fsys, root, where = os.DirFS(dir), ".", dir
	}
	if fsys == nil {
		return nil, nil, "", fmt.Errorf("no rules: set rules.dir in the config or pass --rules DIR")
	}
	set, err := env.LoadDir(fsys, root)
	if err != nil {
		return nil, nil, "", a.refused("rules in "+where, err)
	}
	return env, set, where, nil
}

// refused prints every problem err joins under "WHAT are refused:" and
// returns the error that fails the command with exit code 1.
func (a *app) refused(what string, err error) error {
	fmt.Fprintf(a.errOut, "%s are refused:\n", what)
	for _, line := range checks.ErrorLines(err) {
		fmt.Fprintf(a.errOut, "  %s\n", line)
	}
	return exitError{code: 1}
}

// newRulesCmd is `yardstick rules`: `rules test [DIR]` runs the test cases
// embedded in rule files and exits non-zero on a mismatch, so standards are
// unit-tested in CI like code.
func newRulesCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "rules", Short: "Check and test scorecard and campaign files"}
	var nowFlag string
	test := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Compile the rule files of DIR and run the tests they carry; exit 1 on any problem or mismatch",
		Long: `Compile every scorecard and campaign file under DIR (default: rules.dir, else the
demo rules), refusing the set with every problem listed (file:line:col), then run
the test cases embedded in the files: each gives an entity with its facts and
metrics, and the expected level, score, check states or campaign result.
Cases without a "now" run at --now (default: the current time).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			now := a.now().UTC()
			if nowFlag != "" {
				t, err := parseDay(nowFlag)
				if err != nil {
					return fmt.Errorf("--now: %w", err)
				}
				now = t
			}
			env, set, where, err := a.loadRules(dir)
			if err != nil {
				return err
			}
			results := scoring.RunTests(cmd.Context(), env, set, now)
			failed := scoring.WriteTestResults(a.out, results)
			fmt.Fprintf(a.out, "%s: %d scorecards, %d campaigns, %d tests, %d failed\n",
				where, len(set.Scorecards), len(set.Campaigns), len(results), failed)
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	test.Flags().StringVar(&nowFlag, "now", "", "time of test cases that do not set one (2025-06-30 or RFC 3339)")
	c.AddCommand(test)
	return c
}

// parseDay reads a date (00:00 UTC) or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2025-06-30) or an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
