package yardstick

import "time"

// CampaignState is where an entity stands in a campaign.
type CampaignState string

// States of an entity in a campaign.
const (
	CampaignDone    CampaignState = "done"    // the campaign's done expression is true
	CampaignPending CampaignState = "pending" // it is false: work remains
	CampaignUnknown CampaignState = "unknown" // a fact or metric it needs is missing, or evaluation failed
)

// CampaignResult is where one entity stands in one campaign in one scoring
// run: a row of the campaign history that burndowns are drawn from.
type CampaignResult struct {
	RunID    string
	RunAt    time.Time
	Campaign string // campaign id
	Entity   EntityRef
	Owner    EntityRef // the owner at scoring time
	State    CampaignState
	Message  string // what the done expression saw, or why it is unknown
}

// Done reports whether the entity is done with the campaign.
func (r CampaignResult) Done() bool { return r.State == CampaignDone }

// CheckChange is a check whose state for an entity differs between two
// times: the answer to "what changed since last week". Checks without a
// result at the earlier time (new entities, new checks) are not changes.
type CheckChange struct {
	Scorecard string
	CheckID   string
	Entity    EntityRef
	Owner     EntityRef // the owner at the later time
	From      CheckState
	To        CheckState
	At        time.Time // run time of the later result
}

// NewlyFailing reports whether the check went from another state to failing.
func (c CheckChange) NewlyFailing() bool { return c.To == StateFail && c.From != StateFail }

// NewlyPassing reports whether the check went from anything else to passing.
func (c CheckChange) NewlyPassing() bool { return c.To == StatePass && c.From != StatePass }
