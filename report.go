package yardstick

import "time"

// CampaignStatus is where one entity stands in a campaign according to the
// latest scoring run that covered it.
type CampaignStatus struct {
	Campaign string        `json:"campaign"`
	Entity   EntityRef     `json:"entity"`
	Owner    EntityRef     `json:"owner"`
	Done     bool          `json:"done"`
	State    CampaignState `json:"state"`
	Message  string        `json:"message,omitempty"`
	RunAt    time.Time     `json:"run_at"`
}

// CampaignRun is one owner's progress in a campaign in one scoring run: the
// points of a burndown.
type CampaignRun struct {
	RunID string    `json:"run_id"`
	RunAt time.Time `json:"run_at"`
	Owner EntityRef `json:"owner"`
	Done  int       `json:"done"`
	Total int       `json:"total"`
}

// CheckFilter narrows the latest check results: empty fields match everything.
type CheckFilter struct {
	Scorecard string
	Entities  []EntityRef
	States    []CheckState
}
