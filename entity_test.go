package yardstick

import (
	"testing"
	"time"
)

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

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2")
	if s.String() != "REDACTED" || s.LogValue().String() != "REDACTED" || s.Reveal() != "hunter2" {
		t.Errorf("Secret leaks or loses its value")
	}
}

func TestProjectZero(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	for _, tt := range []struct {
		name   string
		points []TimePoint
		want   time.Time
	}{
		{"steady burn reaches zero", []TimePoint{{day(0), 30}, {day(7), 20}, {day(14), 10}}, day(21)},
		{"already done", []TimePoint{{day(0), 5}, {day(7), 0}}, day(7)},
		{"no progress", []TimePoint{{day(0), 10}, {day(7), 10}}, time.Time{}},
		{"growing", []TimePoint{{day(0), 10}, {day(7), 12}}, time.Time{}},
		{"one point", []TimePoint{{day(0), 10}}, time.Time{}},
		{"only the window counts", []TimePoint{{day(0), 100}, {day(60), 20}, {day(67), 20}, {day(74), 10}}, time.Time{}},
	} {
		got := ProjectZero(tt.points, CampaignTrendWindow)
		if tt.name == "only the window counts" {
			// Fit over days 60..74 only (20, 20, 10): slope -5/7 a day through
			// (67, 16.67), zero 16 1/3 days after day 74. Day 0's 100 would
			// make the line far steeper.
			want := day(74).Add(16*24*time.Hour + 8*time.Hour)
			if !got.Equal(want) || ProjectZero(tt.points, 365*24*time.Hour).Equal(want) {
				t.Errorf("ProjectZero(%s) = %v, want %v and a different date with a year's window", tt.name, got, want)
			}
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ProjectZero(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
