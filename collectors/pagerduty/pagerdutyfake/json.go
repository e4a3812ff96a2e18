package pagerdutyfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The JSON shapes follow PagerDuty's REST v2 examples
// (collectors/pagerduty/testdata/real): references carry id, type, summary,
// self and html_url; lists carry limit, offset, more and total.

const (
	apiRoot = "https://api.pagerduty.com"
	webRoot = "https://subdomain.pagerduty.com"
)

type obj = map[string]any

// refPaths are the API and web paths of each reference type (no web page
// for priorities).
var refPaths = map[string]struct{ api, web string }{
	"service_reference":           {"/services/", "/service-directory/"},
	"user_reference":              {"/users/", "/users/"},
	"escalation_policy_reference": {"/escalation_policies/", "/escalation_policies/"},
	"schedule_reference":          {"/schedules/", "/schedules/"},
	"team_reference":              {"/teams/", "/teams/"},
	"incident_reference":          {"/incidents/", "/incidents/"},
	"priority_reference":          {"/priorities/", ""},
}

func refJSON(r ref) obj {
	o := obj{"id": r.ID, "type": r.Type, "summary": r.Summary}
	if p, ok := refPaths[r.Type]; ok {
		o["self"] = apiRoot + p.api + r.ID
		if p.web != "" {
			o["html_url"] = webRoot + p.web + r.ID
		}
	}
	return o
}

func teamRef(id string) obj {
	return refJSON(ref{ID: id, Type: "team_reference", Summary: "Team " + id[5:]})
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) serviceJSON(svc *service, includePolicy bool) obj {
	o := obj{
		"id": svc.ID, "summary": svc.Name, "type": "service",
		"self": apiRoot + "/services/" + svc.ID, "html_url": webRoot + "/service-directory/" + svc.ID,
		"name": svc.Name, "description": "", "auto_resolve_timeout": 14400, "acknowledgement_timeout": 600,
		"created_at": ts(svc.CreatedAt), "status": svc.Status, "alert_creation": "create_alerts_and_incidents",
		"alert_grouping_parameters": obj{"type": "intelligent"},
		"integrations": []obj{{
			"id": "PI" + svc.ID[1:], "type": "generic_events_api_inbound_integration_reference", "summary": "Events API v2",
			"self":     apiRoot + "/services/" + svc.ID + "/integrations/PI" + svc.ID[1:],
			"html_url": webRoot + "/services/" + svc.ID + "/integrations/PI" + svc.ID[1:],
		}},
		"escalation_policy":                   nil,
		"teams":                               []obj{teamRef(svc.TeamID)},
		"incident_urgency_rule":               obj{"type": "constant", "urgency": "high"},
		"support_hours":                       nil,
		"scheduled_actions":                   []obj{},
		"auto_pause_notifications_parameters": obj{"enabled": false, "timeout": nil},
	}
	if svc.SupportHours {
		o["incident_urgency_rule"] = obj{
			"type":                  "use_support_hours",
			"during_support_hours":  obj{"type": "constant", "urgency": "high"},
			"outside_support_hours": obj{"type": "constant", "urgency": "low"},
		}
		o["support_hours"] = obj{"type": "fixed_time_per_day", "time_zone": "Europe/Berlin", "start_time": "09:00:00", "end_time": "17:00:00", "days_of_week": []int{1, 2, 3, 4, 5}}
		o["scheduled_actions"] = []obj{{"type": "urgency_change", "at": obj{"type": "named_time", "name": "support_hours_start"}, "to_urgency": "high"}}
	}
	if pol, ok := s.policies[svc.PolicyID]; ok {
		if includePolicy {
			o["escalation_policy"] = s.policyJSON(pol)
		} else {
			o["escalation_policy"] = refJSON(ref{ID: pol.ID, Type: "escalation_policy_reference", Summary: pol.Name})
		}
	}
	return o
}

func (s *Server) policyJSON(pol *policy) obj {
	rules := make([]obj, len(pol.Levels))
	for i, lv := range pol.Levels {
		target := refJSON(ref{ID: lv.User.ID, Type: "user_reference", Summary: lv.User.Name})
		if lv.ScheduleID != "" {
			target = refJSON(ref{ID: lv.ScheduleID, Type: "schedule_reference", Summary: "Rotation " + lv.ScheduleID})
		}
		rules[i] = obj{"id": lv.RuleID, "escalation_delay_in_minutes": lv.DelayMins, "targets": []obj{target}}
	}
	services := make([]obj, len(pol.Services))
	for i, id := range pol.Services {
		services[i] = refJSON(ref{ID: id, Type: "service_reference", Summary: s.services[id].Name})
	}
	return obj{
		"id": pol.ID, "type": "escalation_policy", "summary": pol.Name, "on_call_handoff_notifications": "if_has_services",
		"self": apiRoot + "/escalation_policies/" + pol.ID, "html_url": webRoot + "/escalation_policies/" + pol.ID,
		"name": pol.Name, "escalation_rules": rules, "services": services, "num_loops": 0,
		"teams": []obj{teamRef(pol.TeamID)},
	}
}

func onCallJSON(pol *policy, i int, lv level, now time.Time) obj {
	start := now.Truncate(24 * time.Hour).Add(-15 * time.Hour)
	o := obj{
		"user":              refJSON(ref{ID: lv.User.ID, Type: "user_reference", Summary: lv.User.Name}),
		"schedule":          nil,
		"escalation_policy": refJSON(ref{ID: pol.ID, Type: "escalation_policy_reference", Summary: pol.Name}),
		"escalation_level":  i + 1,
		"start":             ts(start),
		"end":               ts(start.Add(24 * time.Hour)),
	}
	if lv.ScheduleID != "" {
		o["schedule"] = refJSON(ref{ID: lv.ScheduleID, Type: "schedule_reference", Summary: "Rotation " + lv.ScheduleID})
	} else {
		o["start"], o["end"] = nil, nil // permanently on call: a direct user target
	}
	return o
}

func (s *Server) incidentJSON(inc *incident) obj {
	svc := s.services[inc.ServiceID]
	summary := fmt.Sprintf("[#%d] %s", inc.Number, inc.Title)
	last := inc.Log[len(inc.Log)-1]
	o := obj{
		"id": inc.ID, "type": "incident", "summary": summary,
		"self": apiRoot + "/incidents/" + inc.ID, "html_url": webRoot + "/incidents/" + inc.ID,
		"incident_number": inc.Number, "title": inc.Title,
		"created_at": ts(inc.CreatedAt), "updated_at": ts(inc.UpdatedAt), "status": inc.Status,
		"incident_key": inc.Key,
		"service":      refJSON(ref{ID: svc.ID, Type: "service_reference", Summary: svc.Name}),
		"assignments":  []obj{}, "assigned_via": "escalation_policy",
		"last_status_change_at": ts(last.At), "resolved_at": nil,
		"first_trigger_log_entry": obj{
			"id": inc.Log[0].ID, "type": "trigger_log_entry_reference", "summary": "Triggered through the API",
			"self":     apiRoot + "/log_entries/" + inc.Log[0].ID + "?incident_id=" + inc.ID,
			"html_url": webRoot + "/incidents/" + inc.ID + "/log_entries/" + inc.Log[0].ID,
		},
		"alert_counts":          obj{"all": 1, "triggered": 0, "resolved": 0},
		"is_mergeable":          true,
		"incident_type":         obj{"name": "incident_default"},
		"escalation_policy":     nil,
		"teams":                 []obj{teamRef(inc.TeamID)},
		"pending_actions":       []obj{},
		"acknowledgements":      []obj{},
		"last_status_change_by": refJSON(last.Agent),
		"priority":              nil,
		"resolve_reason":        nil,
		"incidents_responders":  []obj{},
		"responder_requests":    []obj{},
		"urgency":               inc.Urgency,
	}
	if pol, ok := s.policies[inc.PolicyID]; ok {
		o["escalation_policy"] = refJSON(ref{ID: pol.ID, Type: "escalation_policy_reference", Summary: pol.Name})
	}
	for _, p := range priorities {
		if p.ID == inc.Priority {
			o["priority"] = refJSON(ref{ID: p.ID, Type: "priority_reference", Summary: p.Name})
		}
	}
	switch inc.Status {
	case "resolved":
		o["resolved_at"] = ts(last.At)
		o["alert_counts"] = obj{"all": 1, "triggered": 0, "resolved": 1}
	case "acknowledged", "triggered":
		// Open incidents are assigned: to who acknowledged, else the first responder.
		u := s.users[0]
		if inc.Acknowledger != nil {
			u = inc.Acknowledger
		}
		o["assignments"] = []obj{{"at": ts(inc.CreatedAt), "assignee": refJSON(ref{ID: u.ID, Type: "user_reference", Summary: u.Name})}}
		o["alert_counts"] = obj{"all": 1, "triggered": 1, "resolved": 0}
		if at, ok := inc.last("acknowledge_log_entry"); ok && inc.Status == "acknowledged" {
			o["acknowledgements"] = []obj{{"at": ts(at), "acknowledger": refJSON(ref{ID: u.ID, Type: "user_reference", Summary: u.Name})}}
		}
	}
	return o
}

var logSummaries = map[string]string{
	"trigger_log_entry":     "Triggered through the API",
	"notify_log_entry":      "Notified by SMS",
	"escalate_log_entry":    "Escalated to the next level",
	"acknowledge_log_entry": "Acknowledged",
	"annotate_log_entry":    "Note added",
	"resolve_log_entry":     "Resolved",
}

func (s *Server) logEntryJSON(inc *incident, e logEntry) obj {
	o := obj{
		"id": e.ID, "type": e.Type, "summary": logSummaries[e.Type],
		"self":       apiRoot + "/log_entries/" + e.ID + "?incident_id=" + inc.ID,
		"html_url":   webRoot + "/incidents/" + inc.ID + "/log_entries/" + e.ID,
		"created_at": ts(e.At),
		"agent":      refJSON(e.Agent),
		"channel":    obj{"type": e.Channel},
		"incident":   refJSON(ref{ID: inc.ID, Type: "incident_reference", Summary: fmt.Sprintf("[#%d] %s", inc.Number, inc.Title)}),
		"teams":      []obj{teamRef(inc.TeamID)},
		"contexts":   []obj{},
	}
	if e.Type == "trigger_log_entry" {
		o["event_details"] = obj{"description": inc.Title}
	}
	return o
}

func writeList(w http.ResponseWriter, now time.Time, key string, items any, offset, limit int, more bool) {
	writeJSON(w, now, http.StatusOK, obj{key: items, "limit": limit, "offset": offset, "more": more, "total": nil})
}

// writeError answers with PagerDuty's error object.
func writeError(w http.ResponseWriter, now time.Time, status, code int, message string, details ...string) {
	e := obj{"message": message, "code": code}
	if len(details) > 0 {
		e["errors"] = details
	}
	writeJSON(w, now, status, obj{"error": e})
}

func writeJSON(w http.ResponseWriter, now time.Time, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
