package jira

import (
	"encoding/json"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
}

func TestParseScope(t *testing.T) {
	for _, tt := range []struct {
		scope                 yardstick.Scope
		key, component, label string
		ok                    bool
	}{
		{ProjectScope("pay", "", ""), "PAY", "", "", true},
		{ProjectScope("PAY", "Checkout", ""), "PAY", "Checkout", "", true},
		{ProjectScope("PAY", "", "api"), "PAY", "", "api", true},
		{ProjectScope("PAY", "Front/Back", "api"), "PAY", "Front/Back", "api", true},
		{ProjectScope("PAY", "Front/Back", ""), "PAY", "Front/Back", "", true},
		{"github:acme/api", "", "", "", false},
		{"jira:", "", "", "", false},
		{"jira:PAY/owner=x", "", "", "", false},
	} {
		key, comp, label, ok := ParseScope(tt.scope)
		if key != tt.key || comp != tt.component || label != tt.label || ok != tt.ok {
			t.Errorf("ParseScope(%q) = %q, %q, %q, %v, want %q, %q, %q, %v", tt.scope, key, comp, label, ok, tt.key, tt.component, tt.label, tt.ok)
		}
	}
}

func TestJQLString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"PAY", `"PAY"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"line\nbreak", `"line break"`},
		{`x" OR project = "Y`, `"x\" OR project = \"Y"`},
	} {
		if got := jqlString(tt.in); got != tt.want {
			t.Errorf("jqlString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestProjectFilter(t *testing.T) {
	ps := groupProjects([]yardstick.ScopeMapping{
		{Scope: ProjectScope("PAY", "Checkout", "")},
		{Scope: ProjectScope("PAY", "", "api")},
		{Scope: ProjectScope("PAY", "Ledger", "v2")},
		{Scope: ProjectScope("OPS", "", "")},
		{Scope: ProjectScope("OPS", "Infra", "")},
		{Scope: "github:acme/api"},
	})
	if len(ps) != 2 || ps[0].Key != "OPS" || ps[1].Key != "PAY" {
		t.Fatalf("groupProjects = %+v, want OPS and PAY", ps)
	}
	if got, want := ps[0].filter(), `project = "OPS"`; got != want {
		t.Errorf("OPS filter = %s, want %s (a whole-project scope needs no narrowing)", got, want)
	}
	want := `project = "PAY" AND (component = "Checkout" OR component = "Ledger" AND labels = "v2" OR labels = "api")`
	if got := ps[1].filter(); got != want {
		t.Errorf("PAY filter = %s, want %s", got, want)
	}
}
