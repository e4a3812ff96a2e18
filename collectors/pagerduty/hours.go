package pagerduty

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// WorkingHours is when a group expects to be paged: a daily span in an IANA time
// zone on some days of the week. An incident triggered outside it is off-hours.
// Start after End is an overnight span that belongs to the day it starts on
// (22:00-06:00 on Monday covers Monday 22:00 to Tuesday 06:00).
type WorkingHours struct {
	TimeZone string         // IANA name, "Europe/Berlin"; "" means UTC
	Start    string         // "09:00"
	End      string         // "17:00"
	Days     []time.Weekday // empty means Monday to Friday
}

// Hours configures working hours: a default for all groups and overrides per
// group. A group without its own entry inherits its nearest ancestor's
// (spec.parent). When no group up the tree has an entry, the default hours
// apply in the time zone of the nearest group annotated with
// yardstick.dev/timezone, else in the default's own zone.
type Hours struct {
	Default WorkingHours
	Groups  map[yardstick.EntityRef]WorkingHours
}

// Validate checks every time zone, time and day; errors wrap yardstick.ErrInvalid.
func (h Hours) Validate() error {
	_, err := newHoursResolver(h)
	return err
}

// AnnotationTimezone on a Group names its IANA time zone ("Europe/Berlin").
const AnnotationTimezone = "yardstick.dev/timezone"

// DefaultWorkingHours is used when Hours.Default is empty: 09:00-18:00 UTC, Monday to Friday.
var DefaultWorkingHours = WorkingHours{TimeZone: "UTC", Start: "09:00", End: "18:00"}

// schedule is a validated WorkingHours.
type schedule struct {
	loc        *time.Location
	start, end int // minutes after midnight
	days       [7]bool
}

func (wh WorkingHours) compile() (*schedule, error) {
	if wh.Start == "" && wh.End == "" && wh.TimeZone == "" && len(wh.Days) == 0 {
		wh = DefaultWorkingHours
	}
	tz := wh.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, yardstick.ErrInvalid)
	}
	s := &schedule{loc: loc}
	if s.start, err = parseClock(wh.Start); err != nil {
		return nil, fmt.Errorf("start %q: %w", wh.Start, err)
	}
	if s.end, err = parseClock(wh.End); err != nil {
		return nil, fmt.Errorf("end %q: %w", wh.End, err)
	}
	if s.start == s.end {
		return nil, fmt.Errorf("start and end are both %s: %w", wh.Start, yardstick.ErrInvalid)
	}
	days := wh.Days
	if len(days) == 0 {
		days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("day %d: %w", d, yardstick.ErrInvalid)
		}
		s.days[d] = true
	}
	return s, nil
}

// parseClock reads "HH:MM" (24:00 allowed as an end) into minutes after midnight.
func parseClock(v string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d:%d", &h, &m); err != nil {
		return 0, fmt.Errorf("want HH:MM: %w", yardstick.ErrInvalid)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("out of range: %w", yardstick.ErrInvalid)
	}
	return h*60 + m, nil
}

// ParseWeekday reads an English day name or its three-letter abbreviation.
func ParseWeekday(s string) (time.Weekday, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if v == name || v == name[:3] {
			return d, nil
		}
	}
	return 0, fmt.Errorf("weekday %q: %w", s, yardstick.ErrInvalid)
}

// within reports whether t falls inside the working hours.
func (s *schedule) within(t time.Time) bool {
	lt := t.In(s.loc)
	mins := lt.Hour()*60 + lt.Minute()
	if s.start < s.end {
		return s.days[lt.Weekday()] && mins >= s.start && mins < s.end
	}
	// Overnight: the evening part belongs to today, the morning part to yesterday.
	if mins >= s.start {
		return s.days[lt.Weekday()]
	}
	if mins < s.end {
		return s.days[(lt.Weekday()+6)%7]
	}
	return false
}

// hoursResolver finds the working hours of the group that owns a service.
type hoursResolver struct {
	def    *schedule
	defWH  WorkingHours
	groups map[yardstick.EntityRef]*schedule

	mu    sync.Mutex
	zones map[string]*schedule // the default hours in other time zones
}

func newHoursResolver(h Hours) (*hoursResolver, error) {
	def, err := h.Default.compile()
	if err != nil {
		return nil, fmt.Errorf("default working hours: %w", err)
	}
	r := &hoursResolver{def: def, defWH: h.Default, groups: make(map[yardstick.EntityRef]*schedule, len(h.Groups)), zones: map[string]*schedule{}}
	for ref, wh := range h.Groups {
		norm, err := yardstick.ParseEntityRef(string(ref), "group")
		if err != nil {
			return nil, fmt.Errorf("working hours of %s: %w", ref, err)
		}
		s, err := wh.compile()
		if err != nil {
			return nil, fmt.Errorf("working hours of %s: %w", norm, err)
		}
		r.groups[norm] = s
	}
	return r, nil
}

// readServices reads the catalog and returns forServices of it.
func (r *hoursResolver) readServices(ctx context.Context, catalog collectors.Catalog) (map[string]*schedule, error) {
	mappings, err := catalog.ScopeMappings(ctx)
	if err != nil {
		return nil, fmt.Errorf("read scope mappings: %w", err)
	}
	entities, err := catalog.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("read catalog entities: %w", err)
	}
	return r.forServices(mappings, entities), nil
}

// forServices maps each PagerDuty service id to the working hours of the group
// owning the entity the catalog ties it to. When several entities share a
// service, the one with the smallest ref decides, so the answer is stable.
func (r *hoursResolver) forServices(mappings []yardstick.ScopeMapping, entities []yardstick.Entity) map[string]*schedule {
	byRef, owners := index(mappings, entities)
	out := make(map[string]*schedule, len(owners))
	for id, ref := range owners {
		out[id] = r.forChain(ownerChain(ref, byRef), byRef)
	}
	return out
}

// ServiceTimeZones returns the time zone of each PagerDuty service's owners:
// the yardstick.dev/timezone annotation of the owning group or its nearest
// ancestor. Services without one are left out.
func ServiceTimeZones(mappings []yardstick.ScopeMapping, entities []yardstick.Entity) map[string]string {
	byRef, owners := index(mappings, entities)
	out := map[string]string{}
	for id, ref := range owners {
		if tz := zoneOf(ownerChain(ref, byRef), byRef); tz != "" {
			out[id] = tz
		}
	}
	return out
}

// index returns entities by ref and, per service id, the entity that owns it
// (the smallest ref when several share a service).
func index(mappings []yardstick.ScopeMapping, entities []yardstick.Entity) (map[yardstick.EntityRef]*yardstick.Entity, map[string]yardstick.EntityRef) {
	byRef := make(map[yardstick.EntityRef]*yardstick.Entity, len(entities))
	for i := range entities {
		byRef[entities[i].Ref] = &entities[i]
	}
	owners := map[string]yardstick.EntityRef{}
	for _, m := range mappings {
		if id, ok := serviceIDOf(m.Scope); ok {
			if cur, ok := owners[id]; !ok || m.Entity < cur {
				owners[id] = m.Entity
			}
		}
	}
	return byRef, owners
}

// ownerChain returns the refs from the entity's owning group up through its
// ancestors (the entity itself first when it is a group). A loop ends the chain.
func ownerChain(ref yardstick.EntityRef, byRef map[yardstick.EntityRef]*yardstick.Entity) []yardstick.EntityRef {
	e, ok := byRef[ref]
	if !ok {
		return nil
	}
	group := e.Owner
	if e.Ref.Kind() == "group" {
		group = e.Ref
	}
	var chain []yardstick.EntityRef
	seen := map[yardstick.EntityRef]bool{}
	for group != "" && !seen[group] {
		seen[group] = true
		chain = append(chain, group)
		g, ok := byRef[group]
		if !ok {
			break
		}
		group = g.Parent
	}
	return chain
}

// forChain picks the first group with configured hours; failing that, the
// default hours in the first annotated time zone.
func (r *hoursResolver) forChain(chain []yardstick.EntityRef, byRef map[yardstick.EntityRef]*yardstick.Entity) *schedule {
	for _, g := range chain {
		if s, ok := r.groups[g]; ok {
			return s
		}
	}
	if tz := zoneOf(chain, byRef); tz != "" {
		if s := r.inZone(tz); s != nil {
			return s
		}
	}
	return r.def
}

// zoneOf returns the first yardstick.dev/timezone annotation along the chain.
func zoneOf(chain []yardstick.EntityRef, byRef map[yardstick.EntityRef]*yardstick.Entity) string {
	for _, g := range chain {
		if e, ok := byRef[g]; ok {
			if tz := strings.TrimSpace(e.Annotations[AnnotationTimezone]); tz != "" {
				return tz
			}
		}
	}
	return ""
}

// inZone returns the default hours in time zone tz, nil when tz is unknown.
func (r *hoursResolver) inZone(tz string) *schedule {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.zones[tz]; ok {
		return s
	}
	wh := r.defWH
	if wh.Start == "" && wh.End == "" && len(wh.Days) == 0 {
		wh = DefaultWorkingHours
	}
	wh.TimeZone = tz
	s, err := wh.compile()
	if err != nil {
		s = nil // a bad annotation falls back to the default
	}
	r.zones[tz] = s
	return s
}

// serviceIDOf returns the PagerDuty service id of a "pagerduty:ID" scope.
func serviceIDOf(s yardstick.Scope) (string, bool) {
	id, ok := strings.CutPrefix(string(s), "pagerduty:")
	return id, ok && id != ""
}
