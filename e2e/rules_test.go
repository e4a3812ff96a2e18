package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mustRead returns the content of the file at path.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustRuleDir writes files (name → body) to a new folder and returns it.
func mustRuleDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		mustWriteFile(t, filepath.Join(dir, name), body)
	}
	return dir
}

func TestRulesTestCommand(t *testing.T) {
	prodRules := mustRead(t, "testdata/rules/a.yaml") // a scorecard with one passing test case
	wrong := prodRules + `  - name: wrong
    entity: {owner: alpha}
    expect: {level: silver}
`
	for _, tt := range []struct {
		name       string
		args       []string
		wantExit   int
		wantOut    []string
		wantErrOut []string
	}{
		{"the demo rules pass", nil, 0, []string{"the demo rules: 3 scorecards, 2 campaigns", " 0 failed"}, nil},
		{"passing dir", []string{"testdata/rules"}, 0,
			[]string{"ok    ", "a.yaml:15:5  scorecard prod: right", "1 tests, 0 failed"}, nil},
		{"a mismatch exits 1", []string{mustRuleDir(t, map[string]string{"a.yaml": wrong})}, 1,
			[]string{"FAIL  a.yaml:19:5  scorecard prod: wrong", "level = bronze, want silver", "2 tests, 1 failed"}, nil},
		{"a broken file is refused with every problem", []string{mustRuleDir(t, map[string]string{
			"a.yaml": strings.Replace(prodRules, "entity.owner", "entity.ownr", 1),
			"b.yaml": strings.Replace(strings.Replace(prodRules, "id: prod", "id: other", 1), "level: silver\n    expr", "level: gold\n    expr", 1),
		})}, 1, nil, []string{"are refused", "a.yaml:9:17: check \"owner\": undefined field 'ownr'", "b.yaml:12:12: check \"readme\": unknown level \"gold\""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", mustWriteFile(t, filepath.Join(t.TempDir(), "yardstick.yaml"), ""), "rules", "test", "--now", "2026-11-16"}, tt.args...)
			code, out, errOut := runYardstick(t, args...)
			if code != tt.wantExit {
				t.Fatalf("yardstick %v = exit %d, want %d\nout:\n%s\nerr:\n%s", args, code, tt.wantExit, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErrOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}
