package scoring

import (
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// CampaignProgress is a campaign's progress with its definition, for the CLI.
// The computation is yardstick.ComputeCampaignProgress, the same one every
// page uses.
type CampaignProgress struct {
	Campaign *checks.Campaign
	yardstick.CampaignProgress
}

// Progress computes a campaign's progress over the whole organisation at now
// from the latest results of a scoring run and the campaign's history (one
// row per run and owner, as the store's CampaignHistory returns it).
func Progress(c *checks.Campaign, org *yardstick.Organisation, latest []yardstick.CampaignResult, history []yardstick.CampaignRun, now time.Time) CampaignProgress {
	statuses := make([]yardstick.CampaignStatus, len(latest))
	for i, r := range latest {
		statuses[i] = yardstick.CampaignStatus{Campaign: r.Campaign, Entity: r.Entity, Owner: r.Owner, Done: r.Done(), State: r.State, Message: r.Message, RunAt: r.RunAt}
	}
	w := yardstick.CampaignWindow{Start: c.Start, Deadline: c.Deadline}
	return CampaignProgress{Campaign: c, CampaignProgress: yardstick.ComputeCampaignProgress(c.ID, w, org, yardstick.OrgRef, statuses, history, now)}
}
