package yardstick

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Window is the half-open time range [From, To) a metric is computed over.
type Window struct {
	From time.Time
	To   time.Time
}

// LastWeeks returns the window of the n whole weeks (Monday 00:00 UTC to Monday)
// that end with the week containing now, so weekly series have no partial weeks
// except the current one.
func LastWeeks(now time.Time, n int) Window {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	to := monday.AddDate(0, 0, 7)
	return Window{From: to.AddDate(0, 0, -7*n), To: to}
}

// Weeks returns the length of the window in weeks (fractional).
func (w Window) Weeks() float64 { return w.To.Sub(w.From).Hours() / (24 * 7) }

// Validate returns an error wrapping ErrInvalid when the window is empty or reversed.
func (w Window) Validate() error {
	if w.From.IsZero() || w.To.IsZero() || !w.From.Before(w.To) {
		return fmt.Errorf("window %s..%s: from must be before to: %w", w.From.Format(time.RFC3339), w.To.Format(time.RFC3339), ErrInvalid)
	}
	return nil
}

// Previous returns the window of the same length that ends where w starts, for
// "quarter over quarter" comparisons.
func (w Window) Previous() Window {
	d := w.To.Sub(w.From)
	return Window{From: w.From.Add(-d), To: w.From}
}

// OrgRef is the subject of org-wide metrics: every mapped scope of the catalog.
const OrgRef EntityRef = "org"

// MetricValue is one metric over one window for one subject. Count is the number
// of observations behind Value (deployments, pull requests, incidents…); a metric
// with no observations is absent rather than zero, except counting metrics
// (deploys_per_week, incidents_per_week…) whose zero is a real answer.
type MetricValue struct {
	Value float64 `json:"value"`
	Count int64   `json:"count"`
}

// MetricPoint is a metric over one week starting Monday 00:00 UTC.
type MetricPoint struct {
	Week  time.Time `json:"week"`
	Value float64   `json:"value"`
	Count int64     `json:"count"`
}

// MetricReport is every requested metric of one subject over one window, with
// weekly series when they were asked for.
type MetricReport struct {
	Subject EntityRef                `json:"subject"`
	Window  Window                   `json:"window"`
	Values  map[string]MetricValue   `json:"values"`
	Series  map[string][]MetricPoint `json:"series,omitempty"`
}

// MetricQuery asks for named metrics of subjects over a window. A subject is a
// component (or any entity with scopes), a group (its components and those of
// every group below it) or OrgRef.
type MetricQuery struct {
	Names    []string
	Subjects []EntityRef
	Window   Window
	Weekly   bool // also compute weekly series
}

// WorkflowStat is CI health of one workflow over a window.
type WorkflowStat struct {
	Workflow    string  `json:"workflow"`
	Runs        int64   `json:"runs"`
	SuccessRate float64 `json:"success_rate"`
	P50Minutes  float64 `json:"p50_minutes"`
	P90Minutes  float64 `json:"p90_minutes"`
}

// MetricInfo describes one named metric.
type MetricInfo struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Unit        string `json:"unit"` // "per week", "hours", "ratio"…
	LowerBetter bool   `json:"lower_better"`
	Counting    bool   `json:"counting"` // zero when nothing happened, rather than absent
	Description string `json:"description"`
}

// Names of the metrics the store computes. docs/metrics.md defines each precisely.
const (
	MetricDeploysPerWeek         = "deploys_per_week"
	MetricLeadTimeP50Hours       = "lead_time_p50_hours"
	MetricLeadTimeP90Hours       = "lead_time_p90_hours"
	MetricMergeToDeployP50Hours  = "merge_to_deploy_p50_hours"
	MetricMergeToDeployP90Hours  = "merge_to_deploy_p90_hours"
	MetricChangeFailureRate      = "change_failure_rate"
	MetricTimeToRestoreP50Hours  = "time_to_restore_p50_hours"
	MetricMTTRHours              = "mttr_hours"
	MetricMTTAMinutes            = "mtta_minutes"
	MetricIncidentsPerWeek       = "incidents_per_week"
	MetricOffHoursPagesPerMember = "off_hours_pages_per_member"
	MetricPRCycleTimeP50Hours    = "pr_cycle_time_p50_hours"
	MetricPRCycleTimeP90Hours    = "pr_cycle_time_p90_hours"
	MetricPRFirstReviewP50Hours  = "pr_first_review_p50_hours"
	MetricPRSizeP50Lines         = "pr_size_p50_lines"
	MetricPRsMergedPerWeek       = "prs_merged_per_week"
	MetricCISuccessRate          = "ci_success_rate"
	MetricCIDurationP50Minutes   = "ci_duration_p50_minutes"
	MetricCIDurationP90Minutes   = "ci_duration_p90_minutes"
	MetricTicketCycleTimeP50Days = "ticket_cycle_time_p50_days"
	MetricTicketCycleTimeP90Days = "ticket_cycle_time_p90_days"
	MetricTicketLeadTimeP50Days  = "ticket_lead_time_p50_days"
	MetricTicketsResolvedPerWeek = "tickets_done_per_week"
	MetricDeploysTotal           = "deploys"
	MetricIncidentsTotal         = "incidents"
	MetricOffHoursPagesTotal     = "off_hours_pages"
	MetricTimeToRestoreP90Hours  = "time_to_restore_p90_hours"
	MetricPRFirstReviewP90Hours  = "pr_first_review_p90_hours"
	MetricTicketLeadTimeP90Days  = "ticket_lead_time_p90_days"
	MetricMTTAP50Minutes         = "mtta_p50_minutes"
	MetricCIRuns                 = "ci_runs"
	MetricPRsMerged              = "prs_merged"
	MetricTicketsDone            = "tickets_done"
	MetricLeadTimeCommits        = "lead_time_commits"
	MetricChangeFailureDeploys   = "failed_deploys"
	MetricTimeToRestoreIncidents = "restored_incidents"
	MetricPRFirstReviewed        = "prs_reviewed"
	MetricMergeToDeployChanges   = "merge_to_deploy_changes"
	MetricTicketCycleTimeTickets = "ticket_cycle_time_tickets"
	MetricAcknowledgedIncidents  = "acknowledged_incidents"
	MetricOffHoursPagesPerWeek   = "off_hours_pages_per_week"
	MetricPRSizeP90Lines         = "pr_size_p90_lines"
	MetricCIFailedRuns           = "ci_failed_runs"

	MetricDeployAttemptFailureRate = "deployment_attempt_failure_rate"
	MetricFailedDeployAttempts     = "failed_deployment_attempts"
	MetricLeadTimeFromCommit       = "lead_time_from_commit"
	MetricLeadTimeFromFirstCommit  = "lead_time_from_first_commit"
	MetricLeadTimeFromMerge        = "lead_time_from_merge"
	MetricLeadTimeSkewed           = "lead_time_skewed"
	MetricMergeToDeploySkewed      = "merge_to_deploy_skewed"
)

// DORAMetrics are the four keys, in the order dashboards show them.
var DORAMetrics = []string{MetricDeploysPerWeek, MetricLeadTimeP50Hours, MetricChangeFailureRate, MetricTimeToRestoreP50Hours}

// MetricCatalog lists every metric the store computes, in display order.
var MetricCatalog = []MetricInfo{
	{MetricDeploysPerWeek, "Deployment frequency", "per week", false, true, "Successful production deployments per week."},
	{MetricDeploysTotal, "Deployments", "count", false, true, "Successful production deployments in the window."},
	{MetricLeadTimeP50Hours, "Lead time for changes (p50)", "hours", true, false, "Median time from a change's start (its commit, else its first commit, else its merge) to the first successful production deployment that shipped it."},
	{MetricLeadTimeP90Hours, "Lead time for changes (p90)", "hours", true, false, "90th percentile of commit to first production deployment."},
	{MetricLeadTimeCommits, "Deployed commits", "count", false, true, "Commits whose first production deployment fell in the window."},
	{MetricLeadTimeFromCommit, "Lead time measured from commits", "count", false, true, "Deployed changes whose lead time starts at their commit (commit.pushed)."},
	{MetricLeadTimeFromFirstCommit, "Lead time measured from first commits", "count", false, true, "Deployed changes without a commit event whose lead time starts at their change's first commit (first_commit_at)."},
	{MetricLeadTimeFromMerge, "Lead time measured from merges", "count", false, true, "Deployed changes with neither, whose lead time starts at the merge."},
	{MetricLeadTimeSkewed, "Lead time left out (clock skew)", "count", true, true, "Deployed changes whose start is after their deployment, left out of the lead time."},
	{MetricMergeToDeployP50Hours, "Merge to deploy (p50)", "hours", true, false, "Median time from a pull request merge to the first production deployment that shipped its merge commit."},
	{MetricMergeToDeployP90Hours, "Merge to deploy (p90)", "hours", true, false, "90th percentile of merge to first production deployment."},
	{MetricMergeToDeployChanges, "Deployed pull requests", "count", false, true, "Merged pull requests whose merge commit reached production in the window."},
	{MetricMergeToDeploySkewed, "Merge to deploy left out", "count", true, true, "Merged pull requests whose first shipping deployment predates the merge, left out of merge to deploy."},
	{MetricChangeFailureRate, "Change failure rate", "ratio", true, false, "Share of successful production deployments to which a failure (an incident, a rollback or a revert) is attributed, by an explicit link or as the latest earlier deployment of the same scope within the failure window."},
	{MetricDeployAttemptFailureRate, "Deployment attempt failure rate", "ratio", true, false, "Share of production deployment attempts (succeeded or failed) that failed."},
	{MetricFailedDeployAttempts, "Failed deployment attempts", "count", true, true, "Production deployment attempts that failed."},
	{MetricChangeFailureDeploys, "Failed changes", "count", true, true, "Production deployments counted as failed changes."},
	{MetricTimeToRestoreP50Hours, "Time to restore (p50)", "hours", true, false, "Median time from an incident being triggered to it being resolved."},
	{MetricTimeToRestoreP90Hours, "Time to restore (p90)", "hours", true, false, "90th percentile of incident triggered to resolved."},
	{MetricMTTRHours, "MTTR", "hours", true, false, "Mean time from an incident being triggered to it being resolved."},
	{MetricTimeToRestoreIncidents, "Resolved incidents", "count", false, true, "Incidents resolved in the window."},
	{MetricMTTAMinutes, "MTTA", "minutes", true, false, "Mean time from an incident being triggered to its first acknowledgement."},
	{MetricMTTAP50Minutes, "Time to acknowledge (p50)", "minutes", true, false, "Median time from trigger to first acknowledgement."},
	{MetricAcknowledgedIncidents, "Acknowledged incidents", "count", false, true, "Incidents triggered in the window that were acknowledged."},
	{MetricIncidentsPerWeek, "Incidents", "per week", true, true, "Incidents triggered per week."},
	{MetricIncidentsTotal, "Incidents (total)", "count", true, true, "Incidents triggered in the window."},
	{MetricOffHoursPagesTotal, "Off-hours pages", "count", true, true, "Incidents triggered outside working hours."},
	{MetricOffHoursPagesPerWeek, "Off-hours pages per week", "per week", true, true, "Incidents triggered outside working hours, per week."},
	{MetricOffHoursPagesPerMember, "Off-hours pages per member", "per member", true, true, "Off-hours pages in the window divided by the members of the owning squads."},
	{MetricPRCycleTimeP50Hours, "PR cycle time (p50)", "hours", true, false, "Median time from a pull request being opened to it being merged."},
	{MetricPRCycleTimeP90Hours, "PR cycle time (p90)", "hours", true, false, "90th percentile of open to merge."},
	{MetricPRsMerged, "Merged pull requests", "count", false, true, "Pull requests merged in the window."},
	{MetricPRsMergedPerWeek, "Merged pull requests per week", "per week", false, true, "Pull requests merged per week."},
	{MetricPRFirstReviewP50Hours, "Time to first review (p50)", "hours", true, false, "Median time from a pull request being opened to its first review."},
	{MetricPRFirstReviewP90Hours, "Time to first review (p90)", "hours", true, false, "90th percentile of open to first review."},
	{MetricPRFirstReviewed, "Reviewed pull requests", "count", false, true, "Pull requests whose first review fell in the window."},
	{MetricPRSizeP50Lines, "PR size (p50)", "lines", true, false, "Median additions plus deletions of merged pull requests."},
	{MetricPRSizeP90Lines, "PR size (p90)", "lines", true, false, "90th percentile of additions plus deletions of merged pull requests."},
	{MetricCISuccessRate, "CI success rate", "ratio", false, false, "Share of finished CI runs that succeeded (cancelled and skipped runs excluded)."},
	{MetricCIRuns, "CI runs", "count", false, true, "Finished CI runs counted by the success rate."},
	{MetricCIFailedRuns, "Failed CI runs", "count", true, true, "Finished CI runs that did not succeed."},
	{MetricCIDurationP50Minutes, "CI duration (p50)", "minutes", true, false, "Median duration of finished CI runs."},
	{MetricCIDurationP90Minutes, "CI duration (p90)", "minutes", true, false, "90th percentile duration of finished CI runs."},
	{MetricTicketCycleTimeP50Days, "Ticket cycle time (p50)", "days", true, false, "Median time from a ticket's first move to an in-progress status to its final move to done."},
	{MetricTicketCycleTimeP90Days, "Ticket cycle time (p90)", "days", true, false, "90th percentile of first in progress to done."},
	{MetricTicketCycleTimeTickets, "Tickets with a cycle time", "count", false, true, "Done tickets that went through an in-progress status."},
	{MetricTicketLeadTimeP50Days, "Ticket lead time (p50)", "days", true, false, "Median time from a ticket's creation to its final move to done."},
	{MetricTicketLeadTimeP90Days, "Ticket lead time (p90)", "days", true, false, "90th percentile of created to done."},
	{MetricTicketsDone, "Done tickets", "count", false, true, "Tickets that reached done in the window."},
	{MetricTicketsResolvedPerWeek, "Done tickets per week", "per week", false, true, "Tickets that reached done per week."},
}

// LookupMetric returns the description of a metric name.
func LookupMetric(name string) (MetricInfo, bool) {
	for _, m := range MetricCatalog {
		if m.Name == name {
			return m, true
		}
	}
	return MetricInfo{}, false
}

// MetricNames returns every metric name, in display order.
func MetricNames() []string {
	out := make([]string, len(MetricCatalog))
	for i, m := range MetricCatalog {
		out[i] = m.Name
	}
	return out
}

// DORABucket is a DORA performance level.
type DORABucket string

// DORA performance levels, best first.
const (
	BucketElite  DORABucket = "elite"
	BucketHigh   DORABucket = "high"
	BucketMedium DORABucket = "medium"
	BucketLow    DORABucket = "low"
)

// DORABenchmark is one published set of DORA performance levels turned into
// per-metric bounds. For each of the four keys it holds the bound that elite,
// high and medium must meet, in that order; a value meeting none is low.
// Deployment frequency is a floor (deployments per week at least); lead time,
// change failure rate and time to restore are ceilings (at most).
type DORABenchmark struct {
	Name   string `yaml:"name" json:"name"`
	Source string `yaml:"source" json:"source"`
	// DeploysPerWeek: minimum production deployments per week for elite, high, medium.
	DeploysPerWeek [3]float64 `yaml:"deploys_per_week" json:"deploys_per_week"`
	// LeadTimeHours: maximum median lead time for elite, high, medium.
	LeadTimeHours [3]float64 `yaml:"lead_time_hours" json:"lead_time_hours"`
	// ChangeFailureRate: maximum ratio (0..1) for elite, high, medium.
	ChangeFailureRate [3]float64 `yaml:"change_failure_rate" json:"change_failure_rate"`
	// TimeToRestoreHours: maximum median time to restore for elite, high, medium.
	TimeToRestoreHours [3]float64 `yaml:"time_to_restore_hours" json:"time_to_restore_hours"`
}

const (
	hoursPerDay   = 24
	hoursPerWeek  = 7 * 24
	hoursPerMonth = 30 * 24
	weeksPerMonth = 52.0 / 12
)

// DORA benchmark sets that ship with Yardstick. docs/metrics.md cites the tables
// they come from and explains where a published range had to become a bound.
var DORABenchmarks = map[string]DORABenchmark{
	"2021": {
		Name:   "2021",
		Source: "Accelerate State of DevOps 2021 (DORA / Google Cloud), table \"Software delivery performance\"",
		// elite: on-demand (multiple per day); high: once per week to once per month;
		// medium: once per month to once every six months; low: fewer than once per six months.
		DeploysPerWeek:     [3]float64{7, 1 / weeksPerMonth, 1 / (6 * weeksPerMonth)},
		LeadTimeHours:      [3]float64{1, hoursPerWeek, 6 * hoursPerMonth},
		ChangeFailureRate:  [3]float64{0.15, 0.30, 0.30},
		TimeToRestoreHours: [3]float64{1, hoursPerDay, hoursPerWeek},
	},
	"2023": {
		Name:               "2023",
		Source:             "Accelerate State of DevOps Report 2023 (DORA / Google Cloud), table \"Software delivery performance\"",
		DeploysPerWeek:     [3]float64{7, 1, 1 / weeksPerMonth},
		LeadTimeHours:      [3]float64{hoursPerDay, hoursPerWeek, hoursPerMonth},
		ChangeFailureRate:  [3]float64{0.05, 0.10, 0.15},
		TimeToRestoreHours: [3]float64{1, hoursPerDay, hoursPerWeek},
	},
	"2024": {
		Name:               "2024",
		Source:             "Accelerate State of DevOps Report 2024 (DORA / Google Cloud), table \"Software delivery performance levels\"",
		DeploysPerWeek:     [3]float64{7, 1, 1 / weeksPerMonth},
		LeadTimeHours:      [3]float64{hoursPerDay, hoursPerWeek, hoursPerMonth},
		ChangeFailureRate:  [3]float64{0.05, 0.20, 0.20},
		TimeToRestoreHours: [3]float64{1, hoursPerDay, hoursPerDay},
	},
}

// DefaultDORABenchmark is the benchmark set used when none is configured.
const DefaultDORABenchmark = "2024"

// Validate checks that the bounds never get stricter from elite to medium.
func (b DORABenchmark) Validate() error {
	var problems []string
	if !(b.DeploysPerWeek[0] >= b.DeploysPerWeek[1] && b.DeploysPerWeek[1] >= b.DeploysPerWeek[2]) {
		problems = append(problems, "deploys_per_week must not increase from elite to medium")
	}
	for name, v := range map[string][3]float64{"lead_time_hours": b.LeadTimeHours, "change_failure_rate": b.ChangeFailureRate, "time_to_restore_hours": b.TimeToRestoreHours} {
		if !(v[0] <= v[1] && v[1] <= v[2]) {
			problems = append(problems, name+" must not decrease from elite to medium")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("DORA benchmark %q: %s: %w", b.Name, strings.Join(problems, "; "), ErrInvalid)
	}
	return nil
}

// Classify returns the DORA level of one of the four keys, and false for any
// other metric name.
func (b DORABenchmark) Classify(metric string, v float64) (DORABucket, bool) {
	buckets := [3]DORABucket{BucketElite, BucketHigh, BucketMedium}
	switch metric {
	case MetricDeploysPerWeek:
		for i, min := range b.DeploysPerWeek {
			if v >= min {
				return buckets[i], true
			}
		}
		return BucketLow, true
	case MetricLeadTimeP50Hours, MetricChangeFailureRate, MetricTimeToRestoreP50Hours:
		bounds := b.LeadTimeHours
		if metric == MetricChangeFailureRate {
			bounds = b.ChangeFailureRate
		} else if metric == MetricTimeToRestoreP50Hours {
			bounds = b.TimeToRestoreHours
		}
		for i, max := range bounds {
			if v <= max {
				return buckets[i], true
			}
		}
		return BucketLow, true
	}
	return "", false
}
