package yardstick

import (
	"fmt"
	"time"
)

// Event is one thing that happened in a source system, in the shared vocabulary
// "subject.predicate" (see DESIGN.md). (Source, Type, Scope, ID) is its identity:
// writing the same identity twice keeps one row.
type Event struct {
	Source string    // "github", "jira", "pagerduty", "ingest"…
	Type   string    // "change.merged", "deployment.succeeded"…
	Scope  Scope     // "github:acme/api"
	ID     string    // unique within source, type and scope
	Time   time.Time // UTC
	Actor  string    // login, account id or e-mail of who did it; may be empty
	// Num holds numeric attributes (additions, duration_seconds, number…).
	Num map[string]float64
	// Str holds string attributes (sha, environment, conclusion, from, to…).
	Str map[string]string
	// Related lists ids this event points at; a deployment.succeeded carries the
	// shas of the commits it shipped, which is how lead time joins commits to deploys.
	Related []string
}

// Event types of the shared vocabulary. Collectors and `yardstick ingest` use them.
const (
	ChangeOpened         = "change.opened"
	ChangeReviewed       = "change.reviewed"
	ChangeMerged         = "change.merged"
	ChangeClosed         = "change.closed"
	CommitPushed         = "commit.pushed"
	DeploymentStarted    = "deployment.started"
	DeploymentSucceeded  = "deployment.succeeded"
	DeploymentFailed     = "deployment.failed"
	PipelineFinished     = "pipeline.finished"
	TicketCreated        = "ticket.created"
	TicketTransitioned   = "ticket.transitioned"
	TicketResolved       = "ticket.resolved"
	TicketReopened       = "ticket.reopened"
	IncidentTriggered    = "incident.triggered"
	IncidentAcknowledged = "incident.acknowledged"
	IncidentResolved     = "incident.resolved"
	ReleasePublished     = "release.published"
)

// The times an event may carry: what the store's DateTime column holds
// (seconds since 1970 in 32 bits, to 2106-02-07), to whole years. A time
// outside is refused rather than stored as another date.
var (
	EventTimeMin = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	EventTimeMax = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

// CheckEventTime returns an ErrInvalid error when t is outside
// EventTimeMin .. EventTimeMax.
func CheckEventTime(t time.Time) error {
	if t.Before(EventTimeMin) || t.After(EventTimeMax) {
		return fmt.Errorf("time %s outside 1970-01-01 .. 2105-12-31: %w", t.UTC().Format(time.RFC3339), ErrInvalid)
	}
	return nil
}
