package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testApp() (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &app{
		now:    func() time.Time { return time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) },
		out:    &out,
		errOut: &errOut,
		logger: slog.New(slog.DiscardHandler),
	}, &out, &errOut
}

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const cmdRules = `kind: Scorecard
id: prod
title: Prod
levels: [bronze, silver]
checks:
  - id: owner
    title: Owner
    level: bronze
    expr: entity.owner != ""
  - id: readme
    title: README
    level: silver
    expr: facts.github.files.readme == true
tests:
  - name: right
    entity: {owner: alpha}
    facts: {github: {files: {readme: true}}}
    expect: {level: silver}
`

func TestRulesTestCommand(t *testing.T) {
	wrong := cmdRules + `  - name: wrong
    entity: {owner: alpha}
    expect: {level: silver}
`
	for _, tt := range []struct {
		name       string
		args       []string
		demo       bool
		wantExit   bool
		wantOut    []string
		wantErrOut []string
	}{
		{"the demo rules pass", []string{"test"}, true, false, []string{"the demo rules: 3 scorecards, 2 campaigns", " 0 failed"}, nil},
		{"passing dir", []string{"test", writeRules(t, map[string]string{"a.yaml": cmdRules})}, false, false,
			[]string{"ok    ", "a.yaml:15:5  scorecard prod: right", "1 tests, 0 failed"}, nil},
		{"a mismatch exits 1", []string{"test", writeRules(t, map[string]string{"a.yaml": wrong})}, false, true,
			[]string{"FAIL  a.yaml:19:5  scorecard prod: wrong", "level = bronze, want silver", "2 tests, 1 failed"}, nil},
		{"a broken file is refused with every problem", []string{"test", writeRules(t, map[string]string{
			"a.yaml": strings.Replace(cmdRules, "entity.owner", "entity.ownr", 1),
			"b.yaml": strings.Replace(strings.Replace(cmdRules, "id: prod", "id: other", 1), "level: silver\n    expr", "level: gold\n    expr", 1),
		})}, false, true, nil, []string{"are refused", "a.yaml:9:17: check \"owner\": undefined field 'ownr'", "b.yaml:12:12: check \"readme\": unknown level \"gold\""}},
		{"no rules anywhere", []string{"test"}, false, true, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, out, errOut := testApp()
			var demo = os.DirFS("../../fixtures/rules")
			if !tt.demo {
				demo = nil
			}
			c := newRulesCmd(a, &rulesConfig{}, demo)
			c.SilenceUsage, c.SilenceErrors = true, true // as under the root command
			c.SetArgs(tt.args)
			c.SetOut(out)
			c.SetErr(errOut)
			err := c.Execute()
			if gotExit := err != nil; gotExit != tt.wantExit {
				t.Fatalf("rules %v = %v, want failure %t\nout:\n%s\nerr:\n%s", tt.args, err, tt.wantExit, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErrOut {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}
