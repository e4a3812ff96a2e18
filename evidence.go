package yardstick

import "time"

// FailureLink is one failure (an incident, a rollback, a revert) attributed
// to one production deployment: the evidence behind the change failure rate.
type FailureLink struct {
	DeployScope Scope     `json:"deploy_scope"`
	DeployID    string    `json:"deploy_id"`
	DeployTime  time.Time `json:"deploy_time"`
	SignalScope Scope     `json:"signal_scope"`
	SignalType  string    `json:"signal_type"`
	SignalID    string    `json:"signal_id"`
	SignalTime  time.Time `json:"signal_time"`
	// Basis says how the failure found its deployment: "deployment_id",
	// "sha" or "change" (an explicit link), or "window" (the latest earlier
	// deployment within the failure window).
	Basis string `json:"basis"`
}

// EvidenceRow is one observation behind a figure: a deployment, a deployed
// commit, a pull request, an incident, a CI run or a ticket.
type EvidenceRow struct {
	Scope Scope     `json:"scope"`
	Time  time.Time `json:"time"` // the moment the observation belongs to the window by
	Ref   string    `json:"ref"`  // deployment id, commit sha, pull request number, incident id…
	// Value is what the observation measured, in Evidence.Unit.
	Value float64 `json:"value"`
	// Detail qualifies it: the lead-time basis, the CI workflow, "left out".
	Detail   string        `json:"detail,omitempty"`
	Failures []FailureLink `json:"failures,omitempty"` // change failure rate: what made the deployment fail
}

// Evidence lists the rows behind one metric of one subject over a window.
type Evidence struct {
	Metric  string        `json:"metric"`
	Subject EntityRef     `json:"subject"`
	Window  Window        `json:"window"`
	Unit    string        `json:"unit"` // of EvidenceRow.Value
	Rows    []EvidenceRow `json:"rows"`
	// Truncated is true when there were more rows than the limit.
	Truncated bool `json:"truncated"`
}
