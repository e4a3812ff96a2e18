package pagerduty

import (
	"encoding/json"
	"fmt"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/yardstick-dev/yardstick"
)

// webhookEnvelope is the body of a v3 webhook delivery.
type webhookEnvelope struct {
	Event *struct {
		ID           string          `json:"id"`
		EventType    string          `json:"event_type"`
		ResourceType string          `json:"resource_type"`
		OccurredAt   string          `json:"occurred_at"`
		Agent        *pd.APIObject   `json:"agent"`
		Data         json.RawMessage `json:"data"`
	} `json:"event"`
}

// webhookIncident is the incident in a webhook's data: the REST shape, except
// that the number is "number".
type webhookIncident struct {
	pd.Incident
	Number uint `json:"number"`
}

// handledEventTypes are the v3 event types the handler writes or withdraws events for.
var handledEventTypes = map[string]bool{
	"incident.triggered": true, "incident.acknowledged": true, "incident.resolved": true, "incident.reopened": true,
}

// delivery is one v3 webhook delivery as read from its body.
type delivery struct {
	ID, EventType string
	OccurredAt    string
	Actor         string       // the agent's id; empty for automation
	Incident      *pd.Incident // set for the handled event types only
}

// decodeWebhook reads a v3 webhook body. The incident in event.data is read
// for the handled event types only, so a delivery of another type is never
// refused for data this package does not use. Errors wrap ErrInvalid.
func decodeWebhook(body []byte) (delivery, error) {
	var env webhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return delivery{}, fmt.Errorf("webhook body: %v: %w", err, yardstick.ErrInvalid)
	}
	if env.Event == nil || env.Event.EventType == "" {
		return delivery{}, fmt.Errorf("webhook body: no event.event_type: %w", yardstick.ErrInvalid)
	}
	ev := env.Event
	d := delivery{ID: ev.ID, EventType: ev.EventType, OccurredAt: ev.OccurredAt}
	if ev.Agent != nil {
		d.Actor = ev.Agent.ID
	}
	if !handledEventTypes[ev.EventType] {
		return d, nil
	}
	var inc webhookIncident
	if err := json.Unmarshal(ev.Data, &inc); err != nil {
		return d, fmt.Errorf("webhook %s %s: event.data: %v: %w", ev.EventType, ev.ID, err, yardstick.ErrInvalid)
	}
	if inc.ID == "" || inc.Service.ID == "" {
		return d, fmt.Errorf("webhook %s %s: event.data: incident without id or service: %w", ev.EventType, ev.ID, yardstick.ErrInvalid)
	}
	if inc.IncidentNumber == 0 {
		inc.IncidentNumber = inc.Number
	}
	d.Incident = &inc.Incident
	return d, nil
}

// webhookEvents converts an incident.triggered, .acknowledged or .resolved
// delivery into the one event it announces, through the same conversion as
// polling. The event's time is the delivery's occurred_at, except that a
// trigger is dated by the incident's created_at when the payload has one.
// PagerDuty's published v3 payloads do not always carry created_at: without
// it an acknowledgement or resolution cannot say how long it took, and
// seconds_to_acknowledge, seconds_to_resolve and off_hours (which belongs to
// the trigger) are left out rather than guessed. A webhook tells one
// milestone and not the incident's whole log, so the escalation count is
// left out too.
func webhookEvents(d delivery, hours *schedule) ([]yardstick.Event, error) {
	inc := d.Incident
	if inc == nil {
		return nil, fmt.Errorf("webhook %s %s: no incident: %w", d.EventType, d.ID, yardstick.ErrInvalid)
	}
	at, err := parseTime(d.OccurredAt)
	if err != nil {
		return nil, fmt.Errorf("webhook %s of incident %s: occurred_at: %w", d.EventType, inc.ID, err)
	}
	if inc.CreatedAt != "" {
		created, err := parseTime(inc.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("webhook %s of incident %s: created_at: %w", d.EventType, inc.ID, err)
		}
		if err := yardstick.CheckEventTime(created); err != nil {
			return nil, fmt.Errorf("webhook %s of incident %s: created_at: %w", d.EventType, inc.ID, err)
		}
	}
	var tl timeline
	want := ""
	switch d.EventType {
	case "incident.triggered":
		want, tl.triggered, tl.triggerActor = yardstick.IncidentTriggered, at, d.Actor
	case "incident.acknowledged":
		want, tl.acknowledged, tl.ackActor = yardstick.IncidentAcknowledged, at, d.Actor
	case "incident.resolved":
		want, tl.resolved, tl.resolveActor = yardstick.IncidentResolved, at, d.Actor
	default:
		return nil, fmt.Errorf("webhook %s of incident %s: not an incident milestone: %w", d.EventType, inc.ID, yardstick.ErrInvalid)
	}
	var events []yardstick.Event
	if inc.CreatedAt == "" && want != yardstick.IncidentTriggered {
		// The trigger time is unknown: no durations, no off_hours.
		tl.triggered = at
		events, err = incidentEvents(inc, tl, nil)
		for i := range events {
			delete(events[i].Num, "seconds_to_acknowledge")
			delete(events[i].Num, "seconds_to_resolve")
			delete(events[i].Num, "off_hours")
		}
	} else {
		events, err = incidentEvents(inc, tl, hours)
	}
	if err != nil {
		return nil, err
	}
	var keep []yardstick.Event
	for _, e := range events {
		if e.Type == want {
			keep = append(keep, e)
		}
	}
	for _, e := range keep {
		if err := yardstick.CheckEventTime(e.Time); err != nil {
			return nil, fmt.Errorf("webhook %s of incident %s: %w", d.EventType, inc.ID, err)
		}
	}
	return keep, nil
}
