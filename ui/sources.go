package ui

import (
	"context"
	"slices"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// The data the server reads, as small interfaces it owns; *store.DB and
// *store.Metrics satisfy them (cmd checks that at compile time).

// Catalog lists the current catalog. Safe for concurrent use.
type Catalog interface {
	Entities(ctx context.Context) ([]yardstick.Entity, error)
	ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error)
	// CatalogVersion changes whenever the catalog or its mappings may have
	// changed; the server re-reads the catalog only then.
	CatalogVersion(ctx context.Context) (string, error)
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
	// ScoreSummariesOf is ScoreSummaries (latest) of the given entities only.
	ScoreSummariesOf(ctx context.Context, entities []yardstick.EntityRef) ([]yardstick.ScoreSummary, error)
	ScoreAggregates
}

// ScoreAggregates are what scoring wrote, aggregated where the data is, so
// a page reads a row per owner rather than a row per entity. An empty owners
// list means every owner; entities no longer in the catalog are left out.
type ScoreAggregates interface {
	// ScoreRollups counts entities and sums scores per scorecard, owner and
	// level rank, by each entity's latest score summary.
	ScoreRollups(ctx context.Context, owners []yardstick.EntityRef) ([]yardstick.ScoreRollup, error)
	// FailingChecksByOwner counts the failing checks of each owner's entities
	// in the latest run of each (scorecard, entity).
	FailingChecksByOwner(ctx context.Context, owners []yardstick.EntityRef) (map[yardstick.EntityRef]int, error)
	// ScoreMoves returns at most n entities whose latest score or level
	// differs from the one they had at since, biggest change first.
	ScoreMoves(ctx context.Context, since time.Time, owners []yardstick.EntityRef, n int) ([]yardstick.ScoreMove, error)
	// CheckStateCounts counts, per check of a scorecard, the entities in each
	// state by their latest run.
	CheckStateCounts(ctx context.Context, scorecard string, owners []yardstick.EntityRef) (map[string]map[yardstick.CheckState]int, error)
}

// CampaignSource reads campaign progress.
type CampaignSource interface {
	CampaignStatuses(ctx context.Context, campaign string) ([]yardstick.CampaignStatus, error)
	CampaignHistory(ctx context.Context, campaign string) ([]yardstick.CampaignRun, error)
	// CampaignStatusesOf is CampaignStatuses of the given entities only.
	CampaignStatusesOf(ctx context.Context, campaign string, entities []yardstick.EntityRef) ([]yardstick.CampaignStatus, error)
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
	return find(r.Scorecards, id, func(s ScorecardDef) string { return s.ID })
}

// Campaign returns the campaign with the id.
func (r Rules) Campaign(id string) (CampaignDef, bool) {
	return find(r.Campaigns, id, func(c CampaignDef) string { return c.ID })
}

// Check returns the check with the id.
func (s ScorecardDef) Check(id string) (CheckDef, bool) {
	return find(s.Checks, id, func(c CheckDef) string { return c.ID })
}

// find returns the element of xs whose key is k.
func find[T any](xs []T, k string, key func(T) string) (T, bool) {
	if i := slices.IndexFunc(xs, func(x T) bool { return key(x) == k }); i >= 0 {
		return xs[i], true
	}
	var zero T
	return zero, false
}
