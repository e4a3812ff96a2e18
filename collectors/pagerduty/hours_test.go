package pagerduty

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

func TestWorkingHoursWithin(t *testing.T) {
	// 2024-03-04 is a Monday.
	at := func(day, h, m int, loc string) time.Time {
		l, err := time.LoadLocation(loc)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2024, 3, day, h, m, 0, 0, l)
	}
	for _, tt := range []struct {
		name string
		wh   WorkingHours
		t    time.Time
		want bool
	}{
		{"default weekday noon", WorkingHours{}, at(4, 12, 0, "UTC"), true},
		{"default weekday evening", WorkingHours{}, at(4, 18, 0, "UTC"), false},
		{"default saturday", WorkingHours{}, at(9, 12, 0, "UTC"), false},
		{"start is inside", WorkingHours{Start: "09:00", End: "17:00"}, at(5, 9, 0, "UTC"), true},
		{"end is outside", WorkingHours{Start: "09:00", End: "17:00"}, at(5, 17, 0, "UTC"), false},
		{"zone applies", WorkingHours{TimeZone: "Asia/Tokyo", Start: "09:00", End: "17:00"}, at(5, 1, 0, "UTC"), true},
		{"zone shifts the day", WorkingHours{TimeZone: "Pacific/Auckland", Start: "09:00", End: "17:00"}, at(8, 22, 0, "UTC"), false}, // Saturday 11:00 in Auckland
		{"summer time", WorkingHours{TimeZone: "America/New_York", Start: "09:00", End: "17:00"}, at(11, 13, 30, "UTC"), true},        // 09:30 EDT, the day after the change
		{"weekend team", WorkingHours{Start: "10:00", End: "14:00", Days: []time.Weekday{time.Saturday}}, at(9, 11, 0, "UTC"), true},
		{"overnight evening", WorkingHours{Start: "22:00", End: "06:00"}, at(4, 23, 0, "UTC"), true},
		{"overnight morning belongs to the day before", WorkingHours{Start: "22:00", End: "06:00"}, at(5, 5, 0, "UTC"), true},
		{"overnight saturday morning after friday", WorkingHours{Start: "22:00", End: "06:00"}, at(9, 5, 0, "UTC"), true},
		{"overnight monday morning after sunday", WorkingHours{Start: "22:00", End: "06:00"}, at(4, 5, 0, "UTC"), false},
		{"overnight day", WorkingHours{Start: "22:00", End: "06:00"}, at(4, 12, 0, "UTC"), false},
		{"until midnight", WorkingHours{Start: "12:00", End: "24:00"}, at(4, 23, 59, "UTC"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.wh.compile()
			if err != nil {
				t.Fatalf("compile(%+v) error: %v", tt.wh, err)
			}
			if got := s.within(tt.t); got != tt.want {
				t.Errorf("within(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestWorkingHoursInvalid(t *testing.T) {
	for _, wh := range []WorkingHours{
		{TimeZone: "Mars/Olympus", Start: "09:00", End: "17:00"},
		{Start: "9", End: "17:00"},
		{Start: "09:00", End: "25:00"},
		{Start: "09:60", End: "17:00"},
		{Start: "09:00", End: "09:00"},
		{Start: "09:00", End: "17:00", Days: []time.Weekday{7}},
	} {
		if _, err := wh.compile(); !errors.Is(err, yardstick.ErrInvalid) {
			t.Errorf("compile(%+v) error = %v, want ErrInvalid", wh, err)
		}
	}
	if _, err := New(Config{Token: "t", Hours: Hours{Groups: map[yardstick.EntityRef]WorkingHours{"group:default/x": {Start: "x"}}}}, nil, nil, nil, discard()); err == nil {
		t.Error("New() with bad group hours error = nil")
	}
}

func TestHoursFollowTheOwnerUpTheTree(t *testing.T) {
	r, err := newHoursResolver(Hours{
		Default: WorkingHours{Start: "09:00", End: "17:00"},
		Groups: map[yardstick.EntityRef]WorkingHours{
			"Tribe":           {Start: "06:00", End: "14:00"}, // normalised to group:default/tribe
			"group:ops/squad": {Start: "00:00", End: "24:00", Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	entities := []yardstick.Entity{
		{Ref: "group:default/tribe"},
		{Ref: "group:default/squad-a", Parent: "group:default/tribe"},
		{Ref: "group:ops/squad", Parent: "group:default/tribe"},
		{Ref: "group:default/tokyo", Annotations: map[string]string{AnnotationTimezone: "Asia/Tokyo"}},
		{Ref: "group:default/tokyo-squad", Parent: "group:default/tokyo"},
		{Ref: "group:default/mars", Annotations: map[string]string{AnnotationTimezone: "Mars/Olympus"}},
		{Ref: "group:default/loop-1", Parent: "group:default/loop-2"},
		{Ref: "group:default/loop-2", Parent: "group:default/loop-1"},
		{Ref: "component:default/a", Owner: "group:default/squad-a"},
		{Ref: "component:default/b", Owner: "group:ops/squad"},
		{Ref: "component:default/c", Owner: "group:default/loop-1"},
		{Ref: "component:default/d"},
		{Ref: "component:default/e", Owner: "group:default/tokyo-squad"},
		{Ref: "component:default/f", Owner: "group:default/mars"},
	}
	mappings := []yardstick.ScopeMapping{
		{Scope: "pagerduty:PA", Entity: "component:default/a"},
		{Scope: "pagerduty:PB", Entity: "component:default/b"},
		{Scope: "pagerduty:PB", Entity: "component:default/z"}, // larger ref: ignored
		{Scope: "pagerduty:PC", Entity: "component:default/c"},
		{Scope: "pagerduty:PD", Entity: "component:default/d"},
		{Scope: "pagerduty:PE", Entity: "component:default/e"},
		{Scope: "pagerduty:PF", Entity: "component:default/f"},
		{Scope: "github:acme/a", Entity: "component:default/a"},
	}
	got := r.forServices(mappings, entities)
	sunday7 := time.Date(2024, 3, 3, 7, 0, 0, 0, time.UTC)
	monday7 := time.Date(2024, 3, 4, 7, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		service string
		at      time.Time
		want    bool
	}{
		{"PA", monday7, true},  // squad-a inherits the tribe's 06-14
		{"PB", sunday7, true},  // ops/squad: always
		{"PC", monday7, false}, // a parent loop ends at the default
		{"PD", monday7, false}, // no owner: the default
		{"PE", monday7, true},  // 16:00 in Tokyo: the default hours in the parent's zone
		{"PF", monday7, false}, // unknown zone: the default
	} {
		s, ok := got[tt.service]
		if !ok {
			t.Fatalf("forServices() lacks %s", tt.service)
		}
		if w := s.within(tt.at); w != tt.want {
			t.Errorf("hours of %s within %v = %v, want %v", tt.service, tt.at, w, tt.want)
		}
	}
	if len(got) != 6 {
		t.Errorf("forServices() = %d services, want 6 (github scopes ignored)", len(got))
	}
	zones := ServiceTimeZones(mappings, entities)
	if want := map[string]string{"PE": "Asia/Tokyo", "PF": "Mars/Olympus"}; !cmp.Equal(want, zones) {
		t.Errorf("ServiceTimeZones() = %v, want %v", zones, want)
	}
}

func TestParseWeekday(t *testing.T) {
	for in, want := range map[string]time.Weekday{"monday": time.Monday, "Sat": time.Saturday, " sunday ": time.Sunday} {
		if got, err := ParseWeekday(in); err != nil || got != want {
			t.Errorf("ParseWeekday(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseWeekday("funday"); !errors.Is(err, yardstick.ErrInvalid) {
		t.Errorf("ParseWeekday(funday) error = %v, want ErrInvalid", err)
	}
}
