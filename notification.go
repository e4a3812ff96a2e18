package yardstick

import "time"

// LevelChange is a change of an entity's level on a scorecard at one scoring
// run: the run before had From, the run at At has To.
type LevelChange struct {
	Scorecard string
	Entity    EntityRef
	Owner     EntityRef // the owner at the run of the change
	From, To  string    // level names, "" for none
	FromRank  int
	ToRank    int
	At        time.Time // run time of the first run with the new level
}

// Dropped reports whether the entity lost a level.
func (c LevelChange) Dropped() bool { return c.ToRank < c.FromRank }

// CheckTransition is a change of a check's state for an entity at one
// scoring run.
type CheckTransition struct {
	Scorecard string
	CheckID   string
	Entity    EntityRef
	Owner     EntityRef
	From, To  CheckState
	Value     string    // what the check saw at the run of the change
	At        time.Time // run time of the first run with the new state
}

// CollectorRun is the outcome of one collector run, kept so that a collector
// failing several runs in a row can be reported.
type CollectorRun struct {
	Collector string
	At        time.Time
	Err       string // empty on success
}

// Kinds of notification ledger rows.
const (
	DeliveryClaim     = "claim"     // an instance claims an attempt, with a lease
	DeliverySent      = "sent"      // the channel accepted the message
	DeliveryFailed    = "failed"    // the attempt failed; retry after RetrySeconds
	DeliveryAbandoned = "abandoned" // no attempts left
)

// DeliveryRecord is one row of the notification ledger: what happened to one
// delivery (a notification to one channel target) in one attempt.
type DeliveryRecord struct {
	Delivery     string // identity of (notification, channel, target)
	Notification string // identity of (trigger, subject, period)
	Attempt      int
	Kind         string // DeliveryClaim, DeliverySent, DeliveryFailed or DeliveryAbandoned
	Instance     string // the notifier instance that wrote the row
	Token        string // random per claim; breaks ties between claims of one second
	At           time.Time
	LeaseSeconds int // claims: how long the claim holds
	RetrySeconds int // failures: wait before the next attempt
	Trigger      string
	Subject      string    // what the notification is about: an entity ref, campaign:ID or collector:NAME
	Group        EntityRef // the squad or tribe it was routed for
	Channel      string    // slack, email or webhook
	Target       string    // channel name, address or URL name
	Title        string
	Body         string // plain text
	Error        string
}
