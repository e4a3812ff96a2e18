package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/yardstick-dev/yardstick"
)

func TestPastValue(t *testing.T) {
	for _, tt := range []struct {
		name, fact, value, want string
	}{
		{"go at target", "go_version", `"1.22"`, `"1.21"`},
		{"go past target", "go_version", `"1.23.4"`, `"1.21"`},
		// "1.3" sorts after "1.22" as a string; as a version it is older.
		{"old go compared as a version", "go_version", `"1.3"`, `"1.3"`},
		{"go before target", "go_version", `"1.21"`, `"1.21"`},
		{"not a version", "go_version", `"tip"`, `"tip"`},
		{"workflows", "files", `{"workflows":true}`, `{"workflows":false}`},
		{"no workflows", "files", `{"workflows":false}`, `{"workflows":false}`},
		{"required checks", "branch_protection", `{"required_status_checks":["ci"]}`, `{"required_status_checks":["continuous-integration/jenkins"]}`},
		{"no checks", "branch_protection", `{"required_status_checks":[]}`, `{"required_status_checks":[]}`},
		{"other fact", "repository", `{"x":1}`, `{"x":1}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pastValue(tt.fact, json.RawMessage(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("pastValue(%s, %s) = %s, want %s", tt.fact, tt.value, got, tt.want)
			}
		})
	}
}

type memFacts struct{ facts, written []yardstick.Fact }

func (m *memFacts) FactsByScope(_ context.Context, source string) ([]yardstick.Fact, error) {
	var out []yardstick.Fact
	for _, f := range m.facts {
		if f.Source == source {
			out = append(out, f)
		}
	}
	return out, nil
}

func (m *memFacts) WriteFacts(_ context.Context, facts []yardstick.Fact) error {
	m.written = append(m.written, facts...)
	return nil
}

func TestSeedFactHistory(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db := &memFacts{facts: []yardstick.Fact{
		{Source: "github", Scope: "github:acme/api", Name: "go_version", Value: json.RawMessage(`"1.22"`)},
		{Source: "github", Scope: "github:acme/old", Name: "go_version", Value: json.RawMessage(`"1.3"`)},
		{Source: "jira", Scope: "jira:API", Name: "open_bugs", Value: json.RawMessage(`{}`)},
	}}
	const weeks = 4
	n, err := SeedFactHistory(context.Background(), db, now, weeks)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*weeks || len(db.written) != n {
		t.Fatalf("SeedFactHistory() = %d (%d written), want %d: one per week per GitHub fact", n, len(db.written), 2*weeks)
	}
	migrated := 0
	for _, f := range db.written {
		if !f.ObservedAt.Before(now) {
			t.Errorf("observation at %s is not in the past", f.ObservedAt)
		}
		switch {
		case f.Scope == "github:acme/old" && string(f.Value) != `"1.3"`:
			t.Errorf("acme/old on Go 1.3 was rewritten to %s", f.Value)
		case f.Scope == "github:acme/api" && string(f.Value) == `"1.21"`:
			migrated++
		}
	}
	if migrated == 0 || migrated == weeks {
		t.Errorf("acme/api is on Go 1.21 in %d of %d weeks, want a migration inside the window", migrated, weeks)
	}
}

type memSummary struct{}

func (memSummary) Entities(context.Context) ([]yardstick.Entity, error) {
	return []yardstick.Entity{
		{Ref: "group:default/a", Type: "squad"}, {Ref: "group:default/t", Type: "tribe"}, {Ref: "component:default/x"},
	}, nil
}

func (memSummary) EventCounts(context.Context) (map[string]uint64, error) {
	return map[string]uint64{"pr_merged": 3, "deployment_succeeded": 2}, nil
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(context.Background(), &b, memSummary{}, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"component             1", "group                 2", "squads                  1", "deployment_succeeded  2", "total                 5", "1.5s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Index(b.String(), "deployment_succeeded") > strings.Index(b.String(), "pr_merged") {
		t.Errorf("event types are not sorted:\n%s", b.String())
	}
}

func TestMaterialise(t *testing.T) {
	fsys := fstest.MapFS{"catalog/a.yaml": {Data: []byte("a")}, "catalog/sub/b.yaml": {Data: []byte("b")}}
	dir := t.TempDir()
	if err := Materialise(fsys, "catalog", dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.yaml": "a", "sub/b.yaml": "b"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}
