package pagerduty

import (
	"fmt"
	"sort"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/yardstick-dev/yardstick"
)

// Source is the source name on every event and fact this package writes.
const Source = "pagerduty"

// Log entry types that mark an incident's milestones.
const (
	logTrigger     = "trigger_log_entry"
	logAcknowledge = "acknowledge_log_entry"
	logResolve     = "resolve_log_entry"
	logEscalate    = "escalate_log_entry"
)

// timeline is what one incident went through, as read from its log entries
// (polling) or from one webhook delivery. Zero times are milestones not known.
type timeline struct {
	triggered, acknowledged, resolved    time.Time
	triggerActor, ackActor, resolveActor string
	// escalations counts escalate log entries; escalationsKnown is false when
	// the source (a webhook) cannot tell, and the attribute is left out.
	escalations      int
	escalationsKnown bool
}

// timelineFromLog reads an incident's milestones from its complete log: the
// first acknowledgement (time to acknowledge counts from it) and the last
// resolution (an incident may be reopened and resolved again).
func timelineFromLog(inc *pd.Incident, entries []pd.LogEntry) (timeline, error) {
	tl := timeline{escalationsKnown: true}
	times := make([]time.Time, len(entries))
	order := make([]int, len(entries))
	for i, e := range entries {
		t, err := parseTime(e.CreatedAt)
		if err != nil {
			return tl, fmt.Errorf("log entry %s of incident %s: created_at: %w", e.ID, inc.ID, err)
		}
		times[i], order[i] = t, i
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
	for _, i := range order {
		e, t := &entries[i], times[i]
		switch e.Type {
		case logTrigger:
			if tl.triggered.IsZero() {
				tl.triggered, tl.triggerActor = t, e.Agent.ID
			}
		case logAcknowledge:
			if tl.acknowledged.IsZero() {
				tl.acknowledged, tl.ackActor = t, e.Agent.ID
			}
		case logResolve:
			tl.resolved, tl.resolveActor = t, e.Agent.ID
		case logEscalate:
			tl.escalations++
		}
	}
	// The incident object is the authority on the present state: a log without
	// an acknowledgement entry may still have one on the incident, and an
	// incident that is open again is not resolved whatever its log says.
	if tl.acknowledged.IsZero() {
		for _, a := range inc.Acknowledgements {
			if t, err := parseTime(a.At); err == nil && (tl.acknowledged.IsZero() || t.Before(tl.acknowledged)) {
				tl.acknowledged, tl.ackActor = t, a.Acknowledger.ID
			}
		}
	}
	if inc.Status != "resolved" {
		tl.resolved, tl.resolveActor = time.Time{}, ""
	} else if tl.resolved.IsZero() {
		at := inc.ResolvedAt
		if at == "" {
			at = inc.LastStatusChangeAt
		}
		if t, err := parseTime(at); err == nil {
			tl.resolved, tl.resolveActor = t, inc.LastStatusChangeBy.ID
		}
	}
	return tl, nil
}

// reopened reports whether the log shows a resolution while the incident is open now.
func reopened(inc *pd.Incident, entries []pd.LogEntry) bool {
	if inc.Status == "resolved" {
		return false
	}
	for _, e := range entries {
		if e.Type == logResolve {
			return true
		}
	}
	return false
}

// incidentEvents converts one incident into the shared vocabulary: triggered,
// and acknowledged and resolved when they happened. Every event of an incident
// has the incident id as its id, so re-reading an incident rewrites its rows.
// hours decides off_hours from the trigger time.
func incidentEvents(inc *pd.Incident, tl timeline, hours *schedule) ([]yardstick.Event, error) {
	if inc.ID == "" {
		return nil, fmt.Errorf("incident without id: %w", yardstick.ErrInvalid)
	}
	if inc.Service.ID == "" {
		return nil, fmt.Errorf("incident %s: no service: %w", inc.ID, yardstick.ErrInvalid)
	}
	// The trigger is the earlier of created_at and the trigger in the
	// timeline; a webhook payload may lack created_at and date it itself.
	triggered := tl.triggered
	if inc.CreatedAt != "" || triggered.IsZero() {
		created, err := parseTime(inc.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("incident %s: created_at: %w", inc.ID, err)
		}
		if triggered.IsZero() || created.Before(triggered) {
			triggered = created
		}
	}
	scope := yardstick.PagerDutyScope(inc.Service.ID)
	offHours := 0.0
	if hours != nil && !hours.within(triggered) {
		offHours = 1
	}
	priority := ""
	if inc.Priority != nil {
		priority = inc.Priority.Summary
		if priority == "" {
			priority = inc.Priority.Name
		}
	}
	base := func(typ string, at time.Time, actor string) yardstick.Event {
		ev := yardstick.Event{
			Source: Source, Type: typ, Scope: scope, ID: inc.ID, Time: at.UTC(), Actor: actor,
			Num: map[string]float64{"number": float64(inc.IncidentNumber), "off_hours": offHours},
			Str: map[string]string{
				"service":           inc.Service.ID,
				"urgency":           inc.Urgency,
				"priority":          priority,
				"status":            inc.Status,
				"escalation_policy": inc.EscalationPolicy.ID,
				"title":             inc.Title,
			},
		}
		if tl.escalationsKnown {
			ev.Num["escalations"] = float64(tl.escalations)
		}
		return ev
	}
	out := []yardstick.Event{base(yardstick.IncidentTriggered, triggered, tl.triggerActor)}
	if !tl.acknowledged.IsZero() {
		ev := base(yardstick.IncidentAcknowledged, tl.acknowledged, tl.ackActor)
		ev.Num["seconds_to_acknowledge"] = nonNegative(tl.acknowledged.Sub(triggered))
		out = append(out, ev)
	}
	if !tl.resolved.IsZero() {
		ev := base(yardstick.IncidentResolved, tl.resolved, tl.resolveActor)
		ev.Num["seconds_to_resolve"] = nonNegative(tl.resolved.Sub(triggered))
		out = append(out, ev)
	}
	return out, nil
}

func nonNegative(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return d.Seconds()
}

// parseTime reads PagerDuty's ISO 8601 timestamps ("2015-10-06T21:30:42Z",
// "2018-08-09T14:40:48-07:00", "2020-10-02T18:45:22.169Z") as UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time: %w", yardstick.ErrInvalid)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, yardstick.ErrInvalid)
	}
	return t.UTC(), nil
}

// formatTime writes the since/until query format.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// serviceFacts are the facts of one service, computed from the service, its
// escalation policy and whether anyone is on call for that policy now.
func serviceFacts(svc *pd.Service, ep *pd.EscalationPolicy, onCallNow bool, at time.Time) []yardstick.Fact {
	scope := yardstick.PagerDutyScope(svc.ID)
	levels := 0
	if ep != nil {
		levels = len(ep.EscalationRules)
	}
	return []yardstick.Fact{
		yardstick.NewFact(Source, scope, "has_escalation_policy", svc.EscalationPolicy.ID != "", at),
		yardstick.NewFact(Source, scope, "oncall_levels", levels, at),
		yardstick.NewFact(Source, scope, "oncall_now", onCallNow, at),
		yardstick.NewFact(Source, scope, "service_status", svc.Status, at),
	}
}
