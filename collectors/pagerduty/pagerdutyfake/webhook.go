package pagerdutyfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// Webhook returns the body of the v3 webhook PagerDuty would deliver for an
// event of an incident ("incident.triggered", "incident.acknowledged",
// "incident.resolved"…), occurring at the incident's matching log entry (the
// fake's clock for other types). Sign it with the subscription's secret.
func (s *Server) Webhook(eventType, incidentID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[incidentID]
	if !ok {
		return nil, fmt.Errorf("webhook for incident %s: %w", incidentID, ErrUnknown)
	}
	at := s.cfg.Now().UTC()
	agent := ref{ID: inc.ServiceID, Type: "service_reference", Summary: s.services[inc.ServiceID].Name}
	entryType := map[string]string{
		"incident.triggered":    "trigger_log_entry",
		"incident.acknowledged": "acknowledge_log_entry",
		"incident.resolved":     "resolve_log_entry",
		"incident.escalated":    "escalate_log_entry",
	}[eventType]
	for i := len(inc.Log) - 1; i >= 0 && entryType != ""; i-- {
		if inc.Log[i].Type == entryType {
			at, agent = inc.Log[i].At, inc.Log[i].Agent
			break
		}
	}
	full := s.incidentJSON(inc)
	data := obj{
		"id": inc.ID, "type": "incident", "self": full["self"], "html_url": full["html_url"],
		"number": inc.Number, "status": inc.Status, "incident_key": inc.Key,
		"created_at": full["created_at"], "title": inc.Title, "service": full["service"],
		"assignees": []obj{}, "escalation_policy": full["escalation_policy"], "teams": full["teams"],
		"priority": full["priority"], "urgency": inc.Urgency, "conference_bridge": nil, "resolve_reason": nil,
	}
	if a, ok := full["assignments"].([]obj); ok {
		for _, x := range a {
			data["assignees"] = append(data["assignees"].([]obj), x["assignee"].(obj))
		}
	}
	body := obj{"event": obj{
		"id":            fmt.Sprintf("%08x-4adc-4fda-ade0-%012x", s.rng.Uint32(), s.rng.Uint64()&0xffffffffffff),
		"event_type":    eventType,
		"resource_type": "incident",
		"occurred_at":   at.Format(time.RFC3339Nano),
		"agent":         refJSON(agent),
		"client":        obj{"name": "PagerDuty"},
		"data":          data,
	}}
	return json.Marshal(body)
}
