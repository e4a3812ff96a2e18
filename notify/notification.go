// Package notify pushes Yardstick's standards to the people who own them:
// it finds what happened (levels dropped or rose, checks started failing,
// campaign deadlines near or passed, campaigns turned at risk, weekly
// digests, collectors failing), routes each notification through the catalog
// to the owning group's Slack channel or e-mail address (or a signed
// webhook), and delivers each exactly once across restarts and several
// instances, through a ledger in the store.
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Triggers: what a notification is about.
const (
	TriggerLevelDrop        = "level_drop"        // a component lost a level on a scorecard
	TriggerLevelRise        = "level_rise"        // a component gained a level
	TriggerCheckFailing     = "check_failing"     // a check that passed now fails
	TriggerDeadlineNear     = "deadline_near"     // a campaign deadline is within a lead time and the squad has work left
	TriggerDeadlinePassed   = "deadline_passed"   // the deadline passed with work left
	TriggerCampaignAtRisk   = "campaign_at_risk"  // a campaign's projection turned to miss its deadline
	TriggerDigest           = "digest"            // the weekly digest of a squad
	TriggerTribeDigest      = "tribe_digest"      // the weekly digest of a tribe, for its leads
	TriggerCollectorFailing = "collector_failing" // a collector failed several runs in a row
)

// Triggers lists every trigger, in the order rules document them.
var Triggers = []string{TriggerLevelDrop, TriggerLevelRise, TriggerCheckFailing, TriggerDeadlineNear, TriggerDeadlinePassed,
	TriggerCampaignAtRisk, TriggerDigest, TriggerTribeDigest, TriggerCollectorFailing}

// Notification is one thing to tell one group. Its ID is a hash of trigger,
// subject and period, so finding the same event again gives the same ID.
type Notification struct {
	ID      string
	Trigger string
	Subject string              // an entity ref, campaign:ID or collector:NAME
	Group   yardstick.EntityRef // who it is for; "" for the platform (default route)
	Period  string              // what makes it unique beyond trigger and subject
	At      time.Time           // when it became due
	// Scorecard or campaign id the notification concerns, for rules that filter on them.
	Scorecard, Campaign string
	Message
}

// Message is what a notification says, independent of the channel.
type Message struct {
	Title    string
	Summary  string
	Sections []Section
	Link     string // absolute URL of the page to look at; "" without a base URL
}

// Section is a headed list within a message.
type Section struct {
	Heading string
	Lines   []Line
}

// Line is one entry of a section, with an optional link.
type Line struct {
	Text string
	Link string
}

// newID returns the identity of a notification.
func newID(trigger, subject string, group yardstick.EntityRef, period string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{trigger, subject, string(group), period}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// Text renders the message as plain text.
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Title)
	b.WriteString("\n")
	if m.Summary != "" {
		b.WriteString("\n")
		b.WriteString(m.Summary)
		b.WriteString("\n")
	}
	for _, s := range m.Sections {
		b.WriteString("\n")
		b.WriteString(s.Heading)
		b.WriteString("\n")
		for _, l := range s.Lines {
			b.WriteString("- ")
			b.WriteString(l.Text)
			if l.Link != "" {
				b.WriteString(" <")
				b.WriteString(l.Link)
				b.WriteString(">")
			}
			b.WriteString("\n")
		}
	}
	if m.Link != "" {
		b.WriteString("\n")
		b.WriteString(m.Link)
		b.WriteString("\n")
	}
	return b.String()
}
