package yardstick

import "testing"

func TestParseEntityRef(t *testing.T) {
	for _, tt := range []struct {
		in, kind, ns string
		want         EntityRef
		wantErr      bool
	}{
		{"component:default/api", "", "default", "component:default/api", false},
		{"Component:Payments/API", "", "default", "component:payments/api", false},
		{"team-a", "group", "default", "group:default/team-a", false},
		{"backstage/maintainers", "group", "default", "group:backstage/maintainers", false},
		{"team-a", "group", "payments", "group:payments/team-a", false},
		{"resource:artists-db", "component", "default", "resource:default/artists-db", false},
		{"api", "", "default", "", true},
		{"component:", "", "default", "", true},
		{"component:ns/", "", "default", "", true},
	} {
		got, err := ParseEntityRefIn(tt.in, tt.kind, tt.ns)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseEntityRefIn(%q, %q, %q) error = %v, wantErr %v", tt.in, tt.kind, tt.ns, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseEntityRefIn(%q, %q, %q) = %q, want %q", tt.in, tt.kind, tt.ns, got, tt.want)
		}
	}
}

func TestEntityRefParts(t *testing.T) {
	r := NewEntityRef("Component", "", "API")
	if r.Kind() != "component" || r.Namespace() != "default" || r.Name() != "api" {
		t.Errorf("parts of %q = %q %q %q", r, r.Kind(), r.Namespace(), r.Name())
	}
}

func TestScopesOf(t *testing.T) {
	e := Entity{Annotations: map[string]string{
		AnnotationGitHubSlug: "Acme/API", AnnotationJiraProjectKey: "pay", AnnotationJiraLabel: "api", AnnotationPagerDutyService: "PX1",
	}}
	got := ScopesOf(e)
	want := []Scope{"github:acme/api", "jira:PAY/label=api", "pagerduty:PX1"}
	if len(got) != len(want) {
		t.Fatalf("ScopesOf() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ScopesOf()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2")
	if s.String() != "REDACTED" || s.LogValue().String() != "REDACTED" || s.Reveal() != "hunter2" {
		t.Errorf("Secret leaks or loses its value")
	}
}
