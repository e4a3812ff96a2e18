package ui

import (
	"context"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// The data the server reads, as small interfaces it owns; *store.DB and
// *store.Metrics satisfy them (cmd checks that at compile time).

// Catalog lists the current catalog. Safe for concurrent use.
type Catalog interface {
	Entities(ctx context.Context) ([]yardstick.Entity, error)
	ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error)
}

// MetricSource computes metrics. Metrics returns an error wrapping
// yardstick.ErrNotFound for an unknown subject or metric.
type MetricSource interface {
	Metrics(ctx context.Context, q yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error)
	WorkflowStats(ctx context.Context, subject yardstick.EntityRef, w yardstick.Window) ([]yardstick.WorkflowStat, error)
	// Evidence lists the observations behind a figure.
	Evidence(ctx context.Context, metric string, subject yardstick.EntityRef, w yardstick.Window) (yardstick.Evidence, error)
	// Coverage says, per metric, when the subject's data starts.
	Coverage(ctx context.Context, subject yardstick.EntityRef, names []string) (map[string]time.Time, error)
}

// ScoreSource reads what scoring wrote. A zero asOf means "latest".
type ScoreSource interface {
	ScoreSummaries(ctx context.Context, asOf time.Time) ([]yardstick.ScoreSummary, error)
	LatestCheckResults(ctx context.Context, f yardstick.CheckFilter) ([]yardstick.CheckResult, error)
}

// CampaignSource reads campaign progress.
type CampaignSource interface {
	CampaignStatuses(ctx context.Context, campaign string) ([]yardstick.CampaignStatus, error)
	CampaignHistory(ctx context.Context, campaign string) ([]yardstick.CampaignRun, error)
}

// EventSource reads the newest events of some scopes.
type EventSource interface {
	RecentEvents(ctx context.Context, scopes []yardstick.Scope, limit int) ([]yardstick.Event, error)
}

// Pinger reports whether the database answers; /readyz uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// RuleSource returns the scorecard and campaign definitions in force. It is
// called per request, so reloaded rules show at once.
type RuleSource interface {
	Rules() Rules
}

// JobRunner starts a scheduled job now (admin only); it returns an error
// wrapping yardstick.ErrNotFound for an unknown job. It must not block for the
// length of the run.
type JobRunner interface {
	RunNow(name string) error
	Jobs() []JobStatus
}

// JobStatus is what the scheduler says about one job.
type JobStatus struct {
	Name     string        `json:"name"`
	Interval time.Duration `json:"interval_ns"`
	Running  bool          `json:"running"`
	LastRun  time.Time     `json:"last_run"`
	LastErr  string        `json:"last_error,omitempty"`
	NextRun  time.Time     `json:"next_run"`
}

// Rules are the scorecard and campaign definitions, as the pages show them.
type Rules struct {
	Scorecards []ScorecardDef `json:"scorecards"`
	Campaigns  []CampaignDef  `json:"campaigns"`
}

// ScorecardDef is one scorecard's definition.
type ScorecardDef struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Description string              `json:"description,omitempty"`
	Owner       yardstick.EntityRef `json:"owner,omitempty"`
	AppliesTo   string              `json:"applies_to,omitempty"` // CEL, "" for every entity
	Levels      []yardstick.Level   `json:"levels"`
	Checks      []CheckDef          `json:"checks"`
}

// CheckDef is one check of a scorecard.
type CheckDef struct {
	ID          string  `json:"id"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Remediation string  `json:"remediation,omitempty"`
	Link        string  `json:"link,omitempty"`
	Level       string  `json:"level"`
	Weight      float64 `json:"weight"`
	Expr        string  `json:"expr"`
}

// CampaignDef is one campaign's definition.
type CampaignDef struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Description string              `json:"description,omitempty"`
	Owner       yardstick.EntityRef `json:"owner,omitempty"`
	AppliesTo   string              `json:"applies_to,omitempty"`
	Done        string              `json:"done"`
	Start       time.Time           `json:"start"`
	Deadline    time.Time           `json:"deadline"`
}

// Scorecard returns the scorecard with the id.
func (r Rules) Scorecard(id string) (ScorecardDef, bool) {
	for _, s := range r.Scorecards {
		if s.ID == id {
			return s, true
		}
	}
	return ScorecardDef{}, false
}

// Campaign returns the campaign with the id.
func (r Rules) Campaign(id string) (CampaignDef, bool) {
	for _, c := range r.Campaigns {
		if c.ID == id {
			return c, true
		}
	}
	return CampaignDef{}, false
}

// Check returns the check with the id.
func (s ScorecardDef) Check(id string) (CheckDef, bool) {
	for _, c := range s.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return CheckDef{}, false
}
