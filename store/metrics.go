package store

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"golang.org/x/sync/errgroup"

	"github.com/yardstick-dev/yardstick"
)

// MetricsConfig tunes the metric definitions (see docs/metrics.md).
type MetricsConfig struct {
	// ProductionEnvironments are the deployment environments (compared
	// case-insensitively) that count as production. Default: production, prod.
	ProductionEnvironments []string
	// FailureWindow is how long after a production deployment an incident, a
	// failed deployment or a rollback makes it a failed change. Default 24h.
	FailureWindow time.Duration
	// WriteLag is how long a write of events may be in flight (from taking
	// its version to its rows being visible): an incremental refresh also
	// recomputes the scopes written that long before the previous refresh
	// began. Default 1m.
	WriteLag time.Duration
	// RefreshTimeout is the deadline of each of a refresh's ClickHouse calls
	// (instead of the store's read and write timeouts, which are for pages):
	// over years of history one family's query takes minutes. Default 30m.
	RefreshTimeout time.Duration
	// RefreshParallelism is how many of a refresh's queries run at once.
	// ClickHouse reads each deduplicating (FINAL) query in one thread, so this
	// is about how many of the server's cores a refresh may use. Default: for
	// a server on this machine its cores, from 2 to 4; for any other, 4.
	RefreshParallelism int
}

// Metrics computes the DORA and flow metrics over the events table. It reads
// the catalog at each call, so re-homing a repository in the catalog re-homes
// its history at once. Safe for concurrent use.
type Metrics struct {
	db  *DB
	cfg MetricsConfig
	// groupReads: a metric call reads several families per query
	// (familyReads), as in cluster mode.
	groupReads bool

	refreshMu sync.Mutex

	catMu   sync.Mutex
	cat     *metricCatalog
	catRead time.Time
	// catSeen is when the catalog last read differently (catPrint is its
	// fingerprint): cached results stay valid across re-reads of the same catalog.
	catSeen    time.Time
	catPrint   uint64
	catVersion string // CatalogVersion at the last read

	// Results are exact for a generation and a catalog read, so they are kept
	// until either changes.
	cacheMu  sync.Mutex
	coverage map[string]map[string]time.Time // "gen|subject" → family → first observation
	cache    map[string]map[yardstick.EntityRef]yardstick.MetricReport
	cacheFor string // generation and catalog read the cache holds results of
}

// maxCachedResults bounds the result cache; it is emptied when full.
const maxCachedResults = 512

// catalogTTL is how long the catalog read for resolving subjects is reused.
const catalogTTL = 10 * time.Second

// NewMetrics returns the metric queries of db with cfg's defaults filled in.
func NewMetrics(db *DB, cfg MetricsConfig) *Metrics {
	if len(cfg.ProductionEnvironments) == 0 {
		cfg.ProductionEnvironments = []string{"production", "prod"}
	}
	envs := make([]string, len(cfg.ProductionEnvironments))
	for i, e := range cfg.ProductionEnvironments {
		envs[i] = strings.ToLower(strings.TrimSpace(e))
	}
	cfg.ProductionEnvironments = envs
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 24 * time.Hour
	}
	if cfg.WriteLag <= 0 {
		cfg.WriteLag = defaultWriteLag
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = defaultRefreshTimeout
	}
	if cfg.RefreshParallelism <= 0 {
		cfg.RefreshParallelism = defaultRefreshParallelism
		// More queries at once than the server has cores spend more CPU on
		// the same work: on 2 cores at 11M events, four at once took
		// 19.2–21.9 s (29.8–34 CPU-s, six runs), two 17.6–19.5 s (25.8–28.7
		// CPU-s, four runs).
		if db.onThisMachine {
			cfg.RefreshParallelism = min(defaultRefreshParallelism, max(2, runtime.NumCPU()))
		}
	}
	return &Metrics{db: db, cfg: cfg, groupReads: db.cluster != ""}
}

// Config returns the configuration in force, defaults included.
func (m *Metrics) Config() MetricsConfig { return m.cfg }

// outputKind says how an output's SQL aggregate becomes the metric value.
type outputKind int

const (
	plain     outputKind = iota // value as computed; absent without observations
	total                       // the count itself
	perWeek                     // count divided by the weeks of the window (a week's count in series)
	perMember                   // value divided by the members of the subject's squads
)

// output is one named metric computed by a family's query.
type output struct {
	name string
	// agg gives the output's aggregates over the family's read columns:
	// value and count (the observations behind value), taken only over the
	// rows where only holds ("" for all of them: a read of several families'
	// observations keeps each family's own).
	agg  func(only string) (value, count aggregate)
	kind outputKind
	// evidence, when set, lists the family's rows where evidence.rows holds,
	// rendered by evidence.spec: for an output over part of a family's rows
	// with a span of its own (merge to deploy within lead time).
	evidence *outputEvidence
}

// outputEvidence is how an output's evidence differs from its family's.
type outputEvidence struct {
	rows string
	spec evidenceSpec
	// failures: each row lists the failures attributed to it.
	failures bool
}

// succeededDeploys gives o, an output of the deployments family over its
// successful deployments, those as evidence.
func succeededDeploys(o output) output {
	o.evidence = &outputEvidence{rows: "v = 0", spec: evidenceSpec{`1`, `''`, `deployment`}}
	return o
}

// failedChanges gives o, an output of the deployments family over its
// successful deployments, those as evidence with the failures attributed to
// each.
func failedChanges(o output) output {
	o.evidence = &outputEvidence{rows: "v = 0", spec: evidenceSpec{`cf`, `if(cf > 0, 'failed', '')`, `failed (1) or not (0)`}, failures: true}
	return o
}

// mergeToDeploy gives o, an output of the lead-time family over its merged
// commits, their merge-to-deploy span as evidence.
func mergeToDeploy(o output) output {
	o.evidence = &outputEvidence{rows: "merged", spec: evidenceSpec{`mtd / 3600`, `if(mtd < 0, 'left out: shipped before the merge', '')`, `hours`}}
	return o
}

// family is one query over events that yields several metrics. base returns
// rows with at least the columns scope (String) and t (DateTime, the moment the
// observation belongs to, which windows and weeks are taken on), of what its
// filter selects of each read of events (every event, some scopes', or the
// touched keys' of the kind each read folds by).
type family struct {
	name string
	base func(f readFilter) string
	// cols are the base columns a refresh stores as v1..v4, label the one it
	// stores as label; read gives them back their names for the outputs
	// (reads: each of cols as itself when read is empty).
	cols    []string
	label   string
	read    []string
	outputs []output
	// ref is the base column naming what one observation measures (a
	// deployment id, commit sha, pull request number…), stored as ref so every
	// figure can list the rows behind it. It is a key of kind (keys.go): the
	// family folds events by it.
	ref  string
	kind string
	// evidence says how an observation reads as a row of evidence.
	evidence evidenceSpec
	// after names the refresh steps whose rows base reads (stages,
	// failureLinks): the refresh runs them first.
	after []string
	// flow marks the flow families (pull requests, CI, tickets), as against
	// the DORA ones (deployments, lead time, failures, incidents): in
	// cluster mode each kind is one read (familyReads).
	flow bool
}

// reads selects the family's stored columns under the names its outputs and
// evidence use.
func (f family) reads() []string {
	if len(f.read) > 0 || len(f.cols) == 0 {
		return f.read
	}
	out := make([]string, len(f.cols))
	for i, c := range f.cols {
		out[i] = fmt.Sprintf("v%d AS %s", i+1, c)
	}
	return out
}

// evidenceSpec renders an observation as evidence: value and detail are SQL
// over the family's read columns (and label), unit names value's unit.
type evidenceSpec struct {
	value, detail, unit string
}

// SQL fragments. Attribute names are constants of the event vocabulary, never
// user input; values always travel as bound parameters.

// eventAttrs are the attributes events also store as columns (num_NAME,
// str_NAME; migration 1300_event_attributes.sql): the ones the refresh reads,
// because FINAL reads of scalar columns are 6× faster on ClickHouse 18.16 than
// of the attribute arrays. Keep in step with the migration (a test compares).
var eventAttrs = map[string][]string{
	"num": {"number", "opened_at", "additions", "deletions", "first_commit_at", "duration_seconds", "off_hours", "change", "rollback"},
	"str": {"sha", "merge_commit_sha", "environment", "author", "conclusion", "workflow", "incident_id", "key", "to_category", "off_hours",
		"deployment_id", "reverts", "change", "rollback"},
}

// attr is the SQL of an event's kind ("num" or "str") attribute name: its
// column when events store one, else its look-up in the attribute arrays.
func attr(kind, name string) string {
	if slices.Contains(eventAttrs[kind], name) {
		return kind + "_" + name
	}
	return "arrayElement(" + kind + "_values, indexOf(" + kind + "_keys, '" + name + "'))"
}

func numAttr(name string) string { return attr("num", name) }

func strAttr(name string) string { return attr("str", name) }

// seconds between two DateTime (or UInt32) expressions, as Float64.
func secondsBetween(from, to string) string {
	return "(toFloat64(toUInt32(" + to + ")) - toFloat64(toUInt32(" + from + ")))"
}

const live = "deleted = 0"

var isProd = "lower(" + strAttr("environment") + ") IN @prod"

// quantileLevels are the levels every percentile output takes, computed by
// one quantilesExact state per expression and condition: a family's p50 and
// p90 of the same expression share it, so its values are gathered and sorted
// once, not twice. Reading every component's flow figures (1,000
// components, 12 weeks) took 166–190 ms against 209–250 ms with a
// quantileExact per level.
var quantileLevels = []string{"0.5", "0.9"}

// aggregate is where an output's value or count comes from: one SQL
// aggregate of the read's select list (Float64, or Array(Float64) when pick
// is set), its element pick (1-based) when it is an array, divided by per.
// A read selects each distinct aggregate once (familyRead.plan): outputs
// share counts and quantile arrays, and every aggregate the query names is
// parsed and planned by the server the query goes to and, on a cluster, by
// every shard again.
type aggregate struct {
	sql  string
	pick int
	per  float64
}

// scalar is a Float64 aggregate taken as it is.
func scalar(sql string) aggregate { return aggregate{sql: "toFloat64(" + sql + ")", per: 1} }

// quantile is the exact quantile q (one of quantileLevels) of expr, over the
// rows where cond holds ("" for all). Over no rows it is 0, and the output's
// count is 0 too.
func quantile(q, expr, cond string) aggregate {
	i := slices.Index(quantileLevels, q)
	if i < 0 {
		panic(fmt.Sprintf("quantile level %s: not one of %v", q, quantileLevels))
	}
	levels := "(" + strings.Join(quantileLevels, ", ") + ")"
	return aggregate{sql: conditional("quantilesExact", levels, expr, cond), pick: i + 1, per: 1}
}

// conditional is the SQL of aggregate function name (with its parameters,
// "" for none) over arg ("" for none), or of its -If form over the rows
// where cond holds when cond is not "".
func conditional(name, params, arg, cond string) string {
	if cond == "" {
		return name + params + "(" + arg + ")"
	}
	if arg != "" {
		cond = arg + ", " + cond
	}
	return name + "If" + params + "(" + cond + ")"
}

// expr is a as one Float64 SQL expression, for a query of its own.
func (a aggregate) expr() string {
	v := a.sql
	if a.pick > 0 {
		v = "toFloat64(arrayElement(" + v + ", " + strconv.Itoa(a.pick) + "))"
	}
	if a.per != 1 {
		v += " / " + strconv.FormatFloat(a.per, 'f', -1, 64)
	}
	return v
}

// countOf counts the rows where cond holds ("" for all).
func countOf(cond string) aggregate { return scalar(conditional("count", "", "", cond)) }

// The outputs a family computes over its observations. cond, where given,
// keeps the observations it holds for; unit, where given, divides the value
// (seconds into hours: "3600").

// counted is the number of observations.
func counted(name, cond string, kind outputKind) output {
	return output{name: name, kind: kind, agg: func(only string) (aggregate, aggregate) {
		c := countOf(and(cond, only))
		return c, c
	}}
}

// percentile is the exact quantile q of expr.
func percentile(name, q, expr, cond, unit string) output {
	return output{name: name, kind: plain, agg: func(only string) (aggregate, aggregate) {
		c := and(cond, only)
		return perUnit(quantile(q, expr, c), unit), countOf(c)
	}}
}

// average is the mean of expr over the observations where cond holds (every
// one when cond is "").
func average(name, expr, cond, unit string) output {
	return output{name: name, kind: plain, agg: func(only string) (aggregate, aggregate) {
		c := and(cond, only)
		return perUnit(scalar(conditional("avg", "", expr, c)), unit), countOf(c)
	}}
}

// summed is the sum of expr, which also counts as its observations.
func summed(name, expr string, kind outputKind) output {
	return output{name: name, kind: kind, agg: func(only string) (aggregate, aggregate) {
		sum := scalar(conditional("sum", "", expr, only))
		return sum, sum
	}}
}

// and joins two SQL conditions, either of which may be "" (none).
func and(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") AND " + b
}

// perUnit divides a's value by unit, a number ("" for none).
func perUnit(a aggregate, unit string) aggregate {
	if unit == "" {
		return a
	}
	per, err := strconv.ParseFloat(unit, 64)
	if err != nil || per == 0 {
		panic(fmt.Sprintf("metric unit %q: not a number", unit))
	}
	a.per = per
	return a
}

// families are the metric queries. docs/metrics.md defines each output in words;
// keep the two in step.
var families = []family{
	{
		// Production deployment attempts, successful and failed, with what
		// became of each successful one: v, 1 for a failed attempt (which is
		// not a failure of an earlier deployment); cf, 1 for a successful
		// deployment that at least one failure signal is attributed to
		// (deployment_failures, written by the refresh from attributeFailures
		// before this family runs). Deployment frequency and the change failure
		// rate take the successful ones. One family rather than three (deploys,
		// attempts, failed changes), which wrote the same deployments three
		// times and, in cluster mode, read them from three partitions.
		name:     deployments,
		kind:     deploymentKind,
		after:    []string{failureLinks},
		evidence: evidenceSpec{`v`, `if(v > 0, 'failed attempt', 'succeeded')`, `failed (1) or succeeded (0)`},
		cols:     []string{"v", "cf"},
		read:     []string{"v1 AS v", "v2 AS cf"},
		ref:      "id",
		base: func(f readFilter) string {
			return `SELECT scope, t, id, v, if(v > 0, 0, toFloat64(failed)) AS cf FROM (
  SELECT scope, id, time AS t, toFloat64(type = 'deployment.failed') AS v FROM events FINAL
  ` + f.pre(deploymentKind) + `WHERE type IN ('deployment.succeeded', 'deployment.failed') AND ` + live + ` AND ` + f.of(deploymentKind, "id") + ` AND ` + isProd + `
    AND time >= @from AND time < @to
) AS d ALL LEFT JOIN (
  SELECT deploy_scope AS scope, deploy_id AS id, toUInt8(count() > 0) AS failed FROM deployment_failures
  WHERE gen = @gen
  GROUP BY scope, id
) AS l USING (scope, id)`
		},
		outputs: []output{
			succeededDeploys(counted(yardstick.MetricDeploysPerWeek, "v = 0", perWeek)),
			succeededDeploys(counted(yardstick.MetricDeploysTotal, "v = 0", total)),
			average(yardstick.MetricDeployAttemptFailureRate, "v", "", ""),
			summed(yardstick.MetricFailedDeployAttempts, "v", total),
			failedChanges(average(yardstick.MetricChangeFailureRate, "cf", "v = 0", "")),
			failedChanges(summed(yardstick.MetricChangeFailureDeploys, "cf", total)),
		},
	},
	{
		// Lead time for changes, per shipped commit: from the commit (commit.pushed),
		// else the first commit of the change it was merged by (first_commit_at),
		// else the merge, to the first production deployment that shipped it.
		// label keeps the basis; negative spans (clock skew) are kept as rows and
		// left out of the percentiles, and counted.
		//
		// Merge to deploy, per shipped commit a merged change names as its merge
		// commit: from that merge (mt; 0, the epoch, is unknown) to the same
		// deployment. Its commits are the lead-time rows with merged set (a
		// merge gives a lead-time basis), so one family holds both spans: a
		// second family wrote the same 1.13M rows again (11M events: 2.0–3.1
		// CPU-s of a full refresh).
		name:     "lead_time",
		kind:     commitKind,
		after:    stagedShippedAfter,
		evidence: evidenceSpec{`v / 3600`, `if(v < 0, concat('from ', b, '; left out: starts after its deployment (clock skew)'), concat('from ', b))`, `hours`},
		cols:     []string{"v", "mtd", "merged"},
		label:    "basis",
		read:     []string{"v1 AS v", "v2 AS mtd", "v3 > 0 AS merged", "label AS b"},
		ref:      "sha",
		base: func(readFilter) string {
			return `SELECT scope, t, sha, toFloat64(toUInt32(t)) - toFloat64(start) AS v, basis,
  if(mg, toFloat64(toUInt32(t)) - toFloat64(mt), 0) AS mtd, mg AS merged FROM (
  SELECT scope, sha, t, mt, merged AND mt > 0 AS mg, multiIf(ct > 0, ct, fca > 0, fca, mt) AS start,
    multiIf(ct > 0, 'commit', fca > 0, 'first_commit', mt > 0, 'merge', '') AS basis
  FROM (
` + stagedShipped + `
  )
)
WHERE basis != ''`
		},
		outputs: []output{
			percentile(yardstick.MetricLeadTimeP50Hours, "0.5", "v", "v >= 0", "3600"),
			percentile(yardstick.MetricLeadTimeP90Hours, "0.9", "v", "v >= 0", "3600"),
			counted(yardstick.MetricLeadTimeCommits, "v >= 0", total),
			counted(yardstick.MetricLeadTimeFromCommit, "v >= 0 AND b = 'commit'", total),
			counted(yardstick.MetricLeadTimeFromFirstCommit, "v >= 0 AND b = 'first_commit'", total),
			counted(yardstick.MetricLeadTimeFromMerge, "v >= 0 AND b = 'merge'", total),
			counted(yardstick.MetricLeadTimeSkewed, "v < 0", total),
			mergeToDeploy(percentile(yardstick.MetricMergeToDeployP50Hours, "0.5", "mtd", "merged AND mtd >= 0", "3600")),
			mergeToDeploy(percentile(yardstick.MetricMergeToDeployP90Hours, "0.9", "mtd", "merged AND mtd >= 0", "3600")),
			mergeToDeploy(counted(yardstick.MetricMergeToDeployChanges, "merged AND mtd >= 0", total)),
			mergeToDeploy(counted(yardstick.MetricMergeToDeploySkewed, "merged AND mtd < 0", total)),
		},
	},
	incidentSpan("restore", "incident.resolved", "rt", "rt", "3600", "hours",
		percentile(yardstick.MetricTimeToRestoreP50Hours, "0.5", "v", "", "3600"),
		percentile(yardstick.MetricTimeToRestoreP90Hours, "0.9", "v", "", "3600"),
		average(yardstick.MetricMTTRHours, "v", "", "3600"),
		counted(yardstick.MetricTimeToRestoreIncidents, "", total),
	),
	incidentSpan("acknowledge", "incident.acknowledged", "at", "tt", "60", "minutes",
		average(yardstick.MetricMTTAMinutes, "v", "", "60"),
		percentile(yardstick.MetricMTTAP50Minutes, "0.5", "v", "", "60"),
		counted(yardstick.MetricAcknowledgedIncidents, "", total),
	),
	{
		// Each incident counts once (by incident_id, else event id), at its first trigger.
		name:     "incidents",
		kind:     incidentKind,
		evidence: evidenceSpec{`1`, `if(off > 0, 'off hours', '')`, `incident`},
		ref:      "iid",
		cols:     []string{"off"},
		read:     []string{"v1 AS off"},
		base: func(f readFilter) string {
			return `SELECT scope, min(time) AS t, iid, toFloat64(max(off)) AS off FROM (
  SELECT scope, time, ` + incidentID + ` AS iid,
    ` + numAttr("off_hours") + ` > 0 OR lower(` + strAttr("off_hours") + `) = 'true' AS off
  FROM events FINAL
  ` + f.pre(incidentKind) + `WHERE type = 'incident.triggered' AND ` + live + ` AND ` + f.of(incidentKind, incidentID) + `
)
GROUP BY scope, iid
HAVING t >= @from AND t < @to`
		},
		outputs: []output{
			counted(yardstick.MetricIncidentsPerWeek, "", perWeek),
			counted(yardstick.MetricIncidentsTotal, "", total),
			summed(yardstick.MetricOffHoursPagesTotal, "off", total),
			summed(yardstick.MetricOffHoursPagesPerWeek, "off", perWeek),
			summed(yardstick.MetricOffHoursPagesPerMember, "off", perMember),
		},
	},
	{
		name:     "pr_cycle",
		kind:     prKind,
		flow:     true,
		after:    stagedPRAfter,
		evidence: evidenceSpec{`v / 3600`, `if(has_open, concat(toString(size), ' lines'), 'opening unknown: counted, not timed')`, `hours`},
		ref:      "pr",
		cols:     []string{"v", "has_open", "size"},
		read:     []string{"v1 AS v", "v2 > 0 AS has_open", "v3 AS size"},
		base: func(readFilter) string {
			return `SELECT scope, merged AS t, pr, ` + secondsBetween("opened", "merged") + ` AS v, opened > 0 AND toUInt32(merged) >= opened AS has_open, size FROM (` + stagedPullRequests + `)
WHERE toUInt32(merged) > 0 AND merged >= @from AND merged < @to`
		},
		outputs: []output{
			percentile(yardstick.MetricPRCycleTimeP50Hours, "0.5", "v", "has_open", "3600"),
			percentile(yardstick.MetricPRCycleTimeP90Hours, "0.9", "v", "has_open", "3600"),
			percentile(yardstick.MetricPRSizeP50Lines, "0.5", "size", "", ""),
			percentile(yardstick.MetricPRSizeP90Lines, "0.9", "size", "", ""),
			counted(yardstick.MetricPRsMerged, "", total),
			counted(yardstick.MetricPRsMergedPerWeek, "", perWeek),
		},
	},
	{
		name:     "pr_review",
		kind:     prKind,
		flow:     true,
		after:    stagedPRAfter,
		evidence: evidenceSpec{`v / 3600`, `''`, `hours`},
		ref:      "pr",
		cols:     []string{"v"},
		base: func(readFilter) string {
			return `SELECT scope, reviewed AS t, pr, ` + secondsBetween("opened", "reviewed") + ` AS v FROM (` + stagedPullRequests + `)
WHERE toUInt32(reviewed) > 0 AND opened > 0 AND toUInt32(reviewed) >= opened AND reviewed >= @from AND reviewed < @to`
		},
		outputs: []output{
			percentile(yardstick.MetricPRFirstReviewP50Hours, "0.5", "v", "", "3600"),
			percentile(yardstick.MetricPRFirstReviewP90Hours, "0.9", "v", "", "3600"),
			counted(yardstick.MetricPRFirstReviewed, "", total),
		},
	},
	{
		name:     "ci",
		kind:     pipelineKind,
		flow:     true,
		evidence: evidenceSpec{`ok`, `concat(label, ', ', toString(round(dur / 60, 1)), ' min')`, `succeeded (1) or not (0)`},
		ref:      "id",
		cols:     []string{"ok", "dur"},
		label:    "wf",
		base: func(f readFilter) string {
			return `SELECT scope, time AS t, id, toFloat64(lower(` + strAttr("conclusion") + `) = 'success') AS ok, ` + numAttr("duration_seconds") + ` AS dur, ` + strAttr("workflow") + ` AS wf FROM events FINAL
` + f.pre(pipelineKind) + `WHERE type = 'pipeline.finished' AND ` + live + ` AND ` + f.of(pipelineKind, "id") + ` AND time >= @from AND time < @to
  AND lower(` + strAttr("conclusion") + `) NOT IN ('', 'cancelled', 'skipped', 'neutral', 'stale')`
		},
		outputs: []output{
			average(yardstick.MetricCISuccessRate, "ok", "", ""),
			counted(yardstick.MetricCIRuns, "", total),
			counted(yardstick.MetricCIFailedRuns, "ok = 0", total),
			percentile(yardstick.MetricCIDurationP50Minutes, "0.5", "dur", "", "60"),
			percentile(yardstick.MetricCIDurationP90Minutes, "0.9", "dur", "", "60"),
		},
	},
	{
		name:     "tickets",
		kind:     ticketKind,
		flow:     true,
		evidence: evidenceSpec{`cyc / 86400`, `if(has_ip, concat('lead ', toString(round(lead / 86400, 1)), ' d'), 'never in progress: cycle time not timed')`, `days in progress`},
		ref:      "k",
		cols:     []string{"cyc", "has_ip", "lead", "has_created"},
		read:     []string{"v1 AS cyc", "v2 > 0 AS has_ip", "v3 AS lead", "v4 > 0 AS has_created"},
		base: func(f readFilter) string {
			return `SELECT scope, dt AS t, k, ` + secondsBetween("ipt", "dt") + ` AS cyc, toUInt32(ipt) > 0 AND ipt <= dt AS has_ip,
  ` + secondsBetween("ct", "dt") + ` AS lead, toUInt32(ct) > 0 AND ct <= dt AS has_created FROM (
  SELECT any(s) AS scope, any(kk) AS k,
    minIf(time, type = 'ticket.transitioned' AND cat = ` + catInProgress + `) AS ipt,
    maxIf(time, (type = 'ticket.transitioned' AND cat = ` + catDone + `) OR type = 'ticket.resolved') AS dt,
    minIf(time, type = 'ticket.created') AS ct,
    argMaxIf(cat, time, type = 'ticket.transitioned') AS last_cat
  FROM (
    SELECT scope AS s, type, time, ` + ticketKey + ` AS kk,
      multiIf(lower(` + strAttr("to_category") + `) IN ('indeterminate', 'in progress', 'in_progress'), ` + catInProgress + `,
              lower(` + strAttr("to_category") + `) = 'done', ` + catDone + `, ` + strAttr("to_category") + ` = '', ` + catNone + `, ` + catOther + `) AS cat
    FROM events FINAL
    ` + f.pre(ticketKind) + `WHERE type IN ('ticket.created', 'ticket.transitioned', 'ticket.resolved') AND ` + live + ` AND ` + f.of(ticketKind, ticketKey) + `
  )
  GROUP BY ` + keyHash("s", "kk") + `
)
WHERE toUInt32(dt) > 0 AND dt >= @from AND dt < @to AND last_cat IN (` + catDone + `, ` + catNone + `)`
		},
		outputs: []output{
			percentile(yardstick.MetricTicketCycleTimeP50Days, "0.5", "cyc", "has_ip", "86400"),
			percentile(yardstick.MetricTicketCycleTimeP90Days, "0.9", "cyc", "has_ip", "86400"),
			counted(yardstick.MetricTicketCycleTimeTickets, "has_ip", total),
			percentile(yardstick.MetricTicketLeadTimeP50Days, "0.5", "lead", "has_created", "86400"),
			percentile(yardstick.MetricTicketLeadTimeP90Days, "0.9", "lead", "has_created", "86400"),
			counted(yardstick.MetricTicketsDone, "", total),
			counted(yardstick.MetricTicketsResolvedPerWeek, "", perWeek),
		},
	},
}

// deployments names the family of production deployments, the one family
// that reads the failure links (deployment_failures): their reads take its
// overrides.
const deployments = "deployments"

// Ticket status categories as the tickets family folds them: numbers, not
// strings, so its grouping keeps no string state per ticket (11M events: 2.8–3.1
// CPU-s → 2.2–2.5, with its tickets grouped by keyHash). catNone, no
// category (or no transition at all), lets a ticket count as done when it
// is the last.
const (
	catNone       = "0"
	catInProgress = "1"
	catDone       = "2"
	catOther      = "3"
)

// stage is a per-key row set a refresh fills once, before the families that
// read it, so that its events are read and deduplicated once per refresh
// rather than once per family. Every stage's rows go to one table,
// refresh_stages (migrations 1000, 1400 and 1700), under the stage's name.
type stage struct {
	name  string
	after []string // the steps whose rows query reads
	query func(f readFilter) string
	// cols are query's columns after scope, each with the refresh_stages
	// column that stores it.
	cols []stageColumn
}

// stageColumn is a stage's column name, stored in column stored and read back
// as read (stored itself when empty).
type stageColumn struct{ name, stored, read string }

var stages = []stage{
	{"pull_requests", nil, pullRequests, []stageColumn{{"pr", "ref", ""}, {"opened", "n1", ""}, {"merged", "t1", ""}, {"reviewed", "t2", ""}, {"size", "size", ""}}},
	{"shipped_changes", []string{firstDeploymentsStep}, shippedChanges, []stageColumn{{"sha", "ref", ""}, {"t", "t1", ""}, {"ct", "t2", "toUInt32(t2)"},
		{"mt", "n1", ""}, {"fca", "n2", ""}, {"merged", "size", "size > 0"}}},
}

// insert is the INSERT … SELECT that fills the stage for generation @gen.
// Stage names are the constants above.
func (s stage) insert(f readFilter) string {
	names, stored := []string{"scope"}, []string{"scope"}
	for _, c := range s.cols {
		names, stored = append(names, c.name), append(stored, c.stored)
	}
	return "INSERT INTO refresh_stages (gen, stage, " + strings.Join(stored, ", ") + ")\nSELECT @gen, '" + s.name + "', " + strings.Join(names, ", ") +
		" FROM (\n" + s.query(f) + "\n)"
}

// read selects the stage's rows of generation @gen under the query's names.
func (s stage) read() string {
	sel := []string{"scope"}
	for _, c := range s.cols {
		switch {
		case c.read != "":
			sel = append(sel, c.read+" AS "+c.name)
		case c.stored == c.name:
			sel = append(sel, c.name)
		default:
			sel = append(sel, c.stored+" AS "+c.name)
		}
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM refresh_stages WHERE gen = @gen AND stage = '" + s.name + "'"
}

var (
	stagedPRAfter      = []string{stages[0].name}
	stagedShippedAfter = []string{stages[1].name}
	stagedPullRequests = stages[0].read()
	stagedShipped      = stages[1].read()
)

// Stages group and join by keyHash, a 64-bit hash of a row's scope and key
// (a pull request, a commit), and carry the strings along: on ClickHouse 18.16
// grouping or joining by two strings took twice as long (1.45M merge commits:
// 3.9 s against 2.3 s; joining 1.45M commits: 1.9 s against 0.9 s). Two keys
// of n collide with probability about n²/2⁶⁵: one in ten million refreshes at
// 1.5M pull requests (docs/metrics.md, "How keys are matched").
func keyHash(scope, key string) string { return "cityHash64(" + scope + ", " + key + ")" }

// shippedChanges gives, per scope and shipped commit (a deployment's related
// shas and its sha attribute), the first successful production deployment
// that shipped it (t), for commits first shipped in the window, with what
// lead time and merge-to-deploy time start from: the commit's first push (ct,
// 0 when unknown) and its merge (merged: whether a merged change names it as
// its merge commit; mt, the first such merge, and fca, the latest first-commit
// time any of them gives; 0 when unknown). A scope's first production
// deployment is its baseline: what it shipped is not measured, because
// collectors and ingest cannot agree on what a first deployment shipped
// (docs/metrics.md, "First deployment").
//
// The shipped commits, the pushed commits and the merges are one row set
// (src 0, 1 and 2) grouped once by commit key, rather than three groupings
// and two joins: on 11M events that took 5.4–6.0 s and 0.6 GB, the joins
// 8.8–9.6 s and 1.25 GB.
func shippedChanges(f readFilter) string {
	return `SELECT scope, sha, t, ct, mt, fca, merged FROM (
  SELECT anyIf(s, src = 0) AS scope, anyIf(h, src = 0) AS sha, minIf(time, src = 0) AS t, minIf(time, src = 1) AS ct,
    toUInt32(minIf(time, src = 2)) AS mt, toUInt32(maxIf(fc, src = 2)) AS fca, toUInt8(countIf(src = 2) > 0) AS merged
  FROM (
    SELECT toUInt8(0) AS src, scope AS s, h, ` + keyHash("s", "h") + ` AS k, time, toFloat64(0) AS fc
    FROM events FINAL ARRAY JOIN arrayConcat(related, [` + strAttr("sha") + `]) AS h
    ` + f.pre(commitKind) + `WHERE type = 'deployment.succeeded' AND ` + live + ` AND ` + f.of(commitKind, "h") + ` AND ` + isProd + ` AND h != ''
    UNION ALL
    SELECT toUInt8(1) AS src, '' AS s, '' AS h, ` + keyHash("scope", pushedCommit) + ` AS k, time, toFloat64(0) AS fc
    FROM events FINAL
    ` + f.pre(commitKind) + `WHERE type = 'commit.pushed' AND ` + live + ` AND ` + f.of(commitKind, pushedCommit) + `
    UNION ALL
    SELECT toUInt8(2) AS src, '' AS s, '' AS h, ` + keyHash("scope", strAttr("merge_commit_sha")) + ` AS k, time, toFloat64(` + numAttr("first_commit_at") + `) AS fc
    FROM events FINAL
    ` + f.pre(commitKind) + `WHERE type = 'change.merged' AND ` + live + ` AND ` + f.of(commitKind, strAttr("merge_commit_sha")) + ` AND ` + strAttr("merge_commit_sha") + ` != ''
  )
  GROUP BY k
  HAVING countIf(src = 0) > 0 AND t >= @from AND t < @to
) AS d ALL INNER JOIN (
  SELECT scope, first FROM first_deployments WHERE gen = @gen
) AS f USING scope
WHERE t > first`
}

// firstDeploymentsStep is the refresh step that fills generation @gen's
// first_deployments (migration 2400), before the shipped-commits stage reads
// them: a full refresh computes every scope's, an incremental one keeps its
// previous refresh's where the baseline stays (keys.go, baselineScopes).
const firstDeploymentsStep = "first_deployments"

// fillFirstDeployments is the INSERT … SELECT that writes, for generation
// @gen, each scope's first successful production deployment, lead time's
// baseline, for the scopes where holds (SQL over events).
func fillFirstDeployments(where string) string {
	return `INSERT INTO first_deployments (gen, scope, first)
SELECT @gen, scope, min(time) FROM events FINAL
WHERE type = 'deployment.succeeded' AND ` + live + ` AND ` + where + ` AND ` + isProd + `
GROUP BY scope`
}

// incidentSpan is a family of v, the seconds from each incident's first
// trigger (tt) to its first endType event (end), observed at at (tt or end)
// and shown as evidence in unit (per seconds each).
func incidentSpan(name, endType, end, at, per, unit string, outputs ...output) family {
	return family{
		name:     name,
		kind:     incidentKind,
		evidence: evidenceSpec{`v / ` + per, `''`, unit},
		ref:      "iid",
		cols:     []string{"v"},
		base: func(f readFilter) string {
			return `SELECT scope, ` + at + ` AS t, iid, ` + secondsBetween("tt", end) + ` AS v FROM (` + incidentSpans(f, endType, end) + `)
WHERE toUInt32(tt) > 0 AND toUInt32(` + end + `) > 0 AND ` + end + ` >= tt AND ` + at + ` >= @from AND ` + at + ` < @to`
		},
		outputs: outputs,
	}
}

// incidentSpans folds each incident's events (keyed by the incident_id
// attribute, else the event id) into its trigger time tt and the first time of
// the end event type, as column end.
func incidentSpans(f readFilter, endType, end string) string {
	return `SELECT scope, iid, minIf(time, type = 'incident.triggered') AS tt, minIf(time, type = '` + endType + `') AS ` + end + `
  FROM (
    SELECT scope, type, time, ` + incidentID + ` AS iid FROM events FINAL
    ` + f.pre(incidentKind) + `WHERE type IN ('incident.triggered', '` + endType + `') AND ` + live + ` AND ` + f.of(incidentKind, incidentID) + `
  )
  GROUP BY scope, iid`
}

// pullRequests folds the change.* events of each pull request (keyed by its
// number attribute, else the event id) into one row: opened (unix seconds, from
// the merged event's opened_at attribute or else the change.opened event),
// merged and first reviewed times (a review by the pull request's author does
// not count), and size (additions + deletions).
func pullRequests(f readFilter) string {
	return `SELECT scope, pr, opened, merged,
    toDateTime(arrayReduce('min', arrayFilter(x -> x >= opened, reviews))) AS reviewed, size
  FROM (
  SELECT any(s) AS scope, any(p) AS pr,
    if(max(opened_attr) > 0, toUInt32(max(opened_attr)), toUInt32(minIf(time, type = 'change.opened'))) AS opened,
    minIf(time, type = 'change.merged') AS merged,
    groupArrayIf(toUInt32(time), type = 'change.reviewed' AND NOT self_review) AS reviews,
    maxIf(lines, type = 'change.merged') AS size
  FROM (
    SELECT scope AS s, type, time,
      ` + prNumber + ` AS p,
      if(type = 'change.merged', ` + numAttr("opened_at") + `, 0) AS opened_attr,
      ` + numAttr("additions") + ` + ` + numAttr("deletions") + ` AS lines,
      actor != '' AND actor = ` + strAttr("author") + ` AS self_review
    FROM events FINAL
    ` + f.pre(prKind) + `WHERE type IN ('change.opened', 'change.merged', 'change.reviewed') AND ` + live + ` AND ` + f.of(prKind, prNumber) + `
  )
  GROUP BY ` + keyHash("s", "p") + `
  )`
}

// metricFamily finds the family and output of a metric name.
func metricFamily(name string) (int, int, bool) {
	for fi, f := range families {
		for oi, o := range f.outputs {
			if o.name == name {
				return fi, oi, true
			}
		}
	}
	return 0, 0, false
}

// groupKeys ties scopes to the keys (subjects) they count for.
type groupKeys struct {
	scopes  []string // parallel with keys
	keys    []string
	members map[string]int // squad members behind each key, for per-member metrics
}

func (g *groupKeys) add(scope yardstick.Scope, key string) {
	g.scopes = append(g.scopes, string(scope))
	g.keys = append(g.keys, key)
}

// single returns the one key g holds, if it holds exactly one (nil g: every
// entity, so no).
func (g *groupKeys) single() (string, bool) {
	if g == nil || len(g.keys) == 0 {
		return "", false
	}
	for _, k := range g.keys[1:] {
		if k != g.keys[0] {
			return "", false
		}
	}
	return g.keys[0], true
}

// familyResult holds one family's outputs per key, and per key and week.
type familyResult struct {
	values map[string][]yardstick.MetricValue               // key → output index → value
	series map[string]map[time.Time][]yardstick.MetricValue // key → week → output index → value
}

// keysTable sends (scope, key) pairs along with a query as an external table,
// so thousands of scopes never make the query text too long to parse.
func keysTable(g *groupKeys) (*ext.Table, error) {
	tbl, err := ext.NewTable("metric_keys", ext.Column("scope", "String"), ext.Column("k", "String"))
	if err != nil {
		return nil, err
	}
	for i := range g.scopes {
		if err := tbl.Append(g.scopes[i], g.keys[i]); err != nil {
			return nil, err
		}
	}
	return tbl, nil
}

// familyRead is a read of one or more families' observations in one query:
// on a cluster each query costs a distributed round trip, and one page reads
// up to 9 families (familyReads; docs/cluster.md, "Metric reads").
type familyRead []family

// only is the condition that keeps f's rows in the read's aggregates: none
// when f is all it reads. Family names are constants of this file.
func (r familyRead) only(f family) string {
	if len(r) == 1 {
		return ""
	}
	return "family = '" + f.name + "'"
}

// names binds the families the read selects.
func (r familyRead) names() clickhouse.GroupSet {
	out := make([]any, len(r))
	for i, f := range r {
		out[i] = f.name
	}
	return clickhouse.GroupSet{Value: out}
}

// columns are the read columns of every family: one column per name, which
// families that share a name must compute alike (checked at init).
func (r familyRead) columns() []string {
	var (
		out  []string
		seen = map[string]string{}
	)
	for _, f := range r {
		for _, c := range f.reads() {
			name := c[strings.LastIndex(c, " AS ")+len(" AS "):]
			if prev, ok := seen[name]; ok {
				if prev != c {
					panic(fmt.Sprintf("metric families read %q as both %q and %q", name, prev, c))
				}
				continue
			}
			seen[name] = c
			out = append(out, c)
		}
	}
	return out
}

// Families that share a read column's name compute it alike, so any of them
// can be read together.
var _ = familyRead(families).columns()

// readPlan is a read's select list of aggregates, each distinct one once,
// and for each family's outputs (in r's order) where their values and
// counts are in it.
type readPlan struct {
	sql    []string
	array  []bool // the aggregate at the same index is an array (quantilesExact)
	values [][]aggregateAt
	counts [][]aggregateAt
}

// aggregateAt is an aggregate as the output takes it: column col of the select
// list, element pick of it when it is an array, divided by per.
type aggregateAt struct {
	col, pick int
	per       float64
}

func (r familyRead) plan() readPlan {
	var (
		p  readPlan
		at = map[string]int{}
	)
	place := func(a aggregate) aggregateAt {
		i, ok := at[a.sql]
		if !ok {
			i = len(p.sql)
			at[a.sql] = i
			p.sql, p.array = append(p.sql, a.sql), append(p.array, a.pick > 0)
		}
		return aggregateAt{col: i, pick: a.pick, per: a.per}
	}
	for _, f := range r {
		var vs, cs []aggregateAt
		for _, o := range f.outputs {
			value, count := o.agg(r.only(f))
			vs, cs = append(vs, place(value)), append(cs, place(count))
		}
		p.values, p.counts = append(p.values, vs), append(p.counts, cs)
	}
	return p
}

// aggregates is the select list of every family's outputs' aggregates.
func (r familyRead) aggregates() string { return strings.Join(r.plan().sql, ", ") }

// observations selects lead and the read columns of the families' current
// observations (current: Metrics.currentObs) in the window (familyArgs) whose
// scope the query scopes lists.
func (r familyRead) observations(current string, lead []string, scopes string) string {
	if len(r) > 1 {
		lead = append(slices.Clip(lead), "family")
	}
	return `SELECT ` + strings.Join(append(lead, r.columns()...), ", ") + ` FROM metric_observations
  WHERE ` + r.where(current, scopes)
}

// where is the condition of observations: the families' current rows in the
// window whose scope the query scopes lists.
func (r familyRead) where(current, scopes string) string {
	return `family IN @families AND t >= @from AND t < @to AND scope IN (` + scopes + `)
    AND ` + current
}

// withColumns names the read columns for a query that reads
// metric_observations itself rather than through observations.
func (r familyRead) withColumns() string {
	return "WITH " + strings.Join(r.columns(), ", ")
}

// runFamilies reads the families' observations for every key at once, in
// one query: rows of the generation are joined to (scope, key) pairs, so an
// observation counts once for each key its scope belongs to and percentiles
// are taken over each key's own observations. g nil means every entity,
// through scope_mappings. With totals (weekly queries of one key) the
// window's values come from the same query's WITH TOTALS row. The results
// are in the order of r.
func (m *Metrics) runFamilies(ctx context.Context, gen obsGeneration, r familyRead, w yardstick.Window, g *groupKeys, weekly, totals bool) ([]familyResult, error) {
	if len(r) == 0 {
		return nil, nil
	}
	args := m.familyArgs(gen, r, w)
	// The keys: every entity's, from each shard's own scope mappings
	// (coSharded), or the ones sent with the query.
	keys, scopes := "("+m.mappings("scope, entity AS k")+") AS g", m.mappedScopes()
	if g != nil {
		if len(g.scopes) == 0 {
			return newFamilyResults(len(r)), nil
		}
		tbl, err := keysTable(g)
		if err != nil {
			return nil, fmt.Errorf("metric query: keys: %w", err)
		}
		ctx = withExternalTables(ctx, tbl)
		keys, scopes = "metric_keys", "SELECT scope FROM metric_keys"
	}
	week, group := "toMonday(min(t))", "k"
	if weekly {
		week, group = "toMonday(t)", "k, w"
	}
	var query string
	if key, ok := g.single(); ok {
		// One key (a page's subject): the scope filter is the whole join, and
		// joining every observation to its key would cost more than the rest.
		// Grouping by the constant key keeps "no rows, no result".
		args = append(args, clickhouse.Named("key", key))
		query = "SELECT @key AS k, " + week + " AS w, " + r.aggregates() + `
FROM (
  ` + r.observations(m.currentObs(gen, r), []string{"scope", "t"}, scopes) + `
)
GROUP BY ` + group
	} else {
		// Many keys: the join and the aggregation are of the query itself,
		// so in cluster mode each shard joins its observations to the keys
		// and aggregates them per key, and the server the query went to
		// merges the shards' partial aggregates rather than joining every
		// row itself (docs/cluster.md, "Metric reads").
		query = r.withColumns() + `
SELECT k, ` + week + ` AS w, ` + r.aggregates() + `
FROM metric_observations ALL INNER JOIN ` + keys + ` USING scope
WHERE ` + r.where(m.currentObs(gen, r), scopes) + `
GROUP BY ` + group
	}
	totalsKey := ""
	if totals {
		query += " WITH TOTALS"
		if g != nil && len(g.keys) > 0 {
			totalsKey = g.keys[0]
		}
	}
	return m.readFamilies(ctx, r, "metric query "+r.label(), query, args, "", weekly, totalsKey)
}

// label names the read's families in errors.
func (r familyRead) label() string {
	names := make([]string, len(r))
	for i, f := range r {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// familyArgs binds what every read of families' observations filters on:
// the generation, the families and the window.
func (m *Metrics) familyArgs(gen obsGeneration, r familyRead, w yardstick.Window) []any {
	return append(gen.args(m.configKey()), clickhouse.Named("families", r.names()),
		clickhouse.Named("from", w.From.UTC()), clickhouse.Named("to", w.To.UTC()))
}

func newFamilyResults(n int) []familyResult {
	out := make([]familyResult, n)
	for i := range out {
		out[i] = familyResult{values: map[string][]yardstick.MetricValue{}, series: map[string]map[time.Time][]yardstick.MetricValue{}}
	}
	return out
}

// readFamilies runs a query of the families' outputs whose rows are (key,
// week, then r.aggregates()), or (week, …) when every row is key's, and
// keeps them per family: by week in series when weekly, else in values. With
// totalsKey, the query's WITH TOTALS row becomes totalsKey's values if there
// were rows. Its errors begin with what.
func (m *Metrics) readFamilies(ctx context.Context, r familyRead, what, query string, args []any, key string, weekly bool, totalsKey string) ([]familyResult, error) {
	res := newFamilyResults(len(r))
	// Reads of observations hold no FINAL over a Distributed table (their
	// filters read each shard's own tables): they may take the own shard
	// in-process (ownshard.go).
	rows, err := m.db.conn.Query(ownShardRead(ctx), query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	p := r.plan()
	scan := func(next func(dest ...any) error) (string, time.Time, [][]yardstick.MetricValue, error) {
		k, week := key, time.Time{}
		scalars, arrays := make([]float64, len(p.sql)), make([][]float64, len(p.sql))
		dest := []any{&week}
		if key == "" {
			dest = []any{&k, &week}
		}
		for i := range p.sql {
			if p.array[i] {
				dest = append(dest, &arrays[i])
			} else {
				dest = append(dest, &scalars[i])
			}
		}
		if err := next(dest...); err != nil {
			return k, week, nil, err
		}
		take := func(a aggregateAt) float64 {
			v := scalars[a.col]
			if a.pick > 0 {
				v = 0 // an empty quantiles array: no rows
				if arr := arrays[a.col]; a.pick <= len(arr) {
					v = arr[a.pick-1]
				}
			}
			return v / a.per
		}
		out := make([][]yardstick.MetricValue, len(r))
		for fi := range r {
			out[fi] = make([]yardstick.MetricValue, len(p.values[fi]))
			for oi := range p.values[fi] {
				out[fi][oi] = metricValue(take(p.values[fi][oi]), take(p.counts[fi][oi]))
			}
		}
		return k, week, out, nil
	}
	for rows.Next() {
		k, week, out, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", what, err)
		}
		wk := time.Date(week.Year(), week.Month(), week.Day(), 0, 0, 0, 0, time.UTC)
		for fi := range r {
			switch {
			case !weekly:
				res[fi].values[k] = out[fi]
			case res[fi].series[k] == nil:
				res[fi].series[k] = map[time.Time][]yardstick.MetricValue{wk: out[fi]}
			default:
				res[fi].series[k][wk] = out[fi]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if totalsKey != "" && len(res) > 0 && len(res[0].series) > 0 {
		_, _, out, err := scan(rows.Totals)
		if err != nil {
			return nil, fmt.Errorf("%s: totals: %w", what, err)
		}
		for fi := range r {
			res[fi].values[totalsKey] = out[fi]
		}
	}
	return res, nil
}

// metricValue is a value and the count of observations behind it; a value
// over no rows (NaN: an average of none) is 0 with a count of 0.
func metricValue(v, count float64) yardstick.MetricValue {
	n := int64(count)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v, n = 0, 0
	}
	return yardstick.MetricValue{Value: v, Count: n}
}

// queryParallelism bounds the metric queries one call runs at once.
const queryParallelism = 4

// familyReads splits the planned families (plan's order) into the reads
// that query them, each a list of positions in order. A read of several
// families passes every row through every family's aggregates, and each
// query has a fixed cost. On one server the queries are cheap: each family
// is a query of its own, up to queryParallelism side by side. On a cluster
// each query is a distributed round trip to every shard, so there are two
// reads, the DORA families and the flow families, which split the rows and
// the aggregates about evenly (docs/cluster.md, "Metric reads").
func (m *Metrics) familyReads(order []int) [][]int {
	if !m.groupReads {
		out := make([][]int, len(order))
		for i := range order {
			out[i] = []int{i}
		}
		return out
	}
	var dora, flow []int
	for i, fi := range order {
		if families[fi].flow {
			flow = append(flow, i)
		} else {
			dora = append(dora, i)
		}
	}
	var out [][]int
	for _, r := range [][]int{dora, flow} {
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// runPlanned runs the planned families' reads (familyReads) once for each of
// weeklies, side by side, and returns each one's results in order's order.
func (m *Metrics) runPlanned(ctx context.Context, order []int, weeklies []bool,
	run func(ctx context.Context, r familyRead, weekly bool) ([]familyResult, error)) ([][]familyResult, error) {
	type job struct {
		at []int // the read's families, as positions in order
		wi int   // its weekly
	}
	var jobs []job
	for wi := range weeklies {
		for _, at := range m.familyReads(order) {
			jobs = append(jobs, job{at, wi})
		}
	}
	out := make([][]familyResult, len(weeklies))
	for wi := range out {
		out[wi] = make([]familyResult, len(order))
	}
	err := parallel(ctx, len(jobs), queryParallelism, func(ctx context.Context, i int) error {
		j := jobs[i]
		read := make(familyRead, len(j.at))
		for k, at := range j.at {
			read[k] = families[order[at]]
		}
		res, err := run(ctx, read, weeklies[j.wi])
		if err != nil {
			return err
		}
		for k, at := range j.at {
			out[j.wi][at] = res[k]
		}
		return nil
	})
	return out, err
}

// parallel runs fn(0..n-1) with at most limit at once and returns the first
// error; the others are cancelled through ctx.
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// finish turns an output's aggregate into the metric value for one key.
// ok is false when the metric has no value (no observations, or no members).
func finish(o output, v yardstick.MetricValue, weeks float64, members int) (yardstick.MetricValue, bool) {
	switch o.kind {
	case total:
		return yardstick.MetricValue{Value: float64(v.Count), Count: v.Count}, true
	case perWeek:
		if weeks <= 0 {
			return v, false
		}
		return yardstick.MetricValue{Value: float64(v.Count) / weeks, Count: v.Count}, true
	case perMember:
		if members <= 0 {
			return v, false
		}
		return yardstick.MetricValue{Value: float64(v.Count) / float64(members), Count: v.Count}, true
	}
	if v.Count == 0 {
		return v, false
	}
	return v, true
}

// plan groups the requested names by family, keeping request order.
func plan(names []string) (map[int][]int, []int, error) {
	byFamily := map[int][]int{}
	var order []int
	for _, n := range names {
		fi, oi, ok := metricFamily(n)
		if !ok {
			return nil, nil, fmt.Errorf("metric %q: unknown (known: %s): %w", n, strings.Join(yardstick.MetricNames(), ", "), yardstick.ErrNotFound)
		}
		if _, seen := byFamily[fi]; !seen {
			order = append(order, fi)
		}
		byFamily[fi] = append(byFamily[fi], oi)
	}
	return byFamily, order, nil
}

// Metrics computes the named metrics for each subject of q: a component (its
// own scopes), a group (the scopes of every entity owned by it or by a group
// below it) or yardstick.OrgRef (every mapped scope). One query runs per metric
// family for all subjects together. It returns an error wrapping
// yardstick.ErrNotFound for an unknown subject or metric name, and one wrapping
// yardstick.ErrInvalid for an empty window.
func (m *Metrics) Metrics(ctx context.Context, q yardstick.MetricQuery) (_ map[yardstick.EntityRef]yardstick.MetricReport, err error) {
	if err := q.Window.Validate(); err != nil {
		return nil, err
	}
	// A subject named twice would join its scopes twice and double its counts.
	q.Subjects = slices.Compact(slices.Sorted(slices.Values(q.Subjects)))
	byFamily, order, err := plan(q.Names)
	if err != nil {
		return nil, err
	}
	// The catalog and the generation are independent reads: side by side,
	// a cluster's round trips overlap.
	var (
		cat *metricCatalog
		gen obsGeneration
	)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) { cat, err = m.readCatalog(ectx); return err })
	eg.Go(func() (err error) { gen, err = m.generation(ectx); return err })
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	g := &groupKeys{members: map[string]int{}}
	hasScopes := map[yardstick.EntityRef]bool{}
	for _, s := range q.Subjects {
		scopes, members, err := cat.resolve(s)
		if err != nil {
			return nil, err
		}
		hasScopes[s] = hasSourceScope(scopes)
		for _, sc := range scopes {
			g.add(sc, string(s))
		}
		g.members[string(s)] = members
	}
	out := make(map[yardstick.EntityRef]yardstick.MetricReport, len(q.Subjects))
	for _, s := range q.Subjects {
		rep := yardstick.MetricReport{Subject: s, Window: q.Window, Values: map[string]yardstick.MetricValue{}}
		if q.Weekly {
			rep.Series = map[string][]yardstick.MetricPoint{}
		}
		out[s] = rep
	}
	cacheKey := resultKey(q)
	validFor := fmt.Sprintf("%d/%d", gen.refresh, m.catalogStamp())
	if hit, ok := m.cached(validFor, cacheKey); ok {
		return hit, nil
	}
	defer func() {
		if err == nil {
			m.store(validFor, cacheKey, out)
		}
	}()
	weeks := weekStarts(q.Window)
	// One subject with series reads the window's values from the totals row
	// of its series query; otherwise a values query, and a series query beside
	// it if asked.
	totals := q.Weekly && len(q.Subjects) == 1
	var weeklies []bool
	if !totals {
		weeklies = append(weeklies, false)
	}
	if q.Weekly {
		weeklies = append(weeklies, true)
	}
	results, err := m.runPlanned(ctx, order, weeklies, func(ctx context.Context, r familyRead, weekly bool) ([]familyResult, error) {
		if len(q.Subjects) == 1 && q.Subjects[0] == yardstick.OrgRef { // no key set: orgmetrics.go
			return m.runOrgFamilies(ctx, gen, r, q.Window, weekly, totals)
		}
		return m.runFamilies(ctx, gen, r, q.Window, g, weekly, totals)
	})
	if err != nil {
		return nil, err
	}
	// res holds the window's values, ser the weekly series.
	res, ser := results[0], results[len(results)-1]
	for i, fi := range order {
		f := families[fi]
		res, ser := res[i], ser[i]
		for _, s := range q.Subjects {
			key := string(s)
			hasScopes := hasScopes[s]
			for _, oi := range byFamily[fi] {
				o := f.outputs[oi]
				info, _ := yardstick.LookupMetric(o.name)
				v := yardstick.MetricValue{}
				if r, ok := res.values[key]; ok {
					v = r[oi]
				}
				if fv, ok := finish(o, v, q.Window.Weeks(), g.members[key]); ok && (v.Count > 0 || info.Counting && hasScopes) {
					out[s].Values[o.name] = fv
				}
				if !q.Weekly {
					continue
				}
				var pts []yardstick.MetricPoint
				for _, wk := range weeks {
					pv := yardstick.MetricValue{}
					if r, ok := ser.series[key][wk]; ok {
						pv = r[oi]
					}
					if pv.Count == 0 && !(info.Counting && hasScopes) {
						continue
					}
					if fv, ok := finish(o, pv, 1, g.members[key]); ok {
						pts = append(pts, yardstick.MetricPoint{Week: wk, Value: fv.Value, Count: fv.Count})
					}
				}
				out[s].Series[o.name] = pts
			}
		}
	}
	return out, nil
}

func resultKey(q yardstick.MetricQuery) string {
	return fmt.Sprintf("%q|%q|%d|%d|%v", q.Names, q.Subjects, q.Window.From.Unix(), q.Window.To.Unix(), q.Weekly)
}

func (m *Metrics) catalogStamp() int64 {
	m.catMu.Lock()
	defer m.catMu.Unlock()
	return m.catSeen.UnixNano()
}

func (m *Metrics) cached(validFor, key string) (map[yardstick.EntityRef]yardstick.MetricReport, bool) {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if m.cacheFor != validFor {
		return nil, false
	}
	r, ok := m.cache[key]
	if !ok {
		return nil, false
	}
	return cloneReports(r), true
}

func (m *Metrics) store(validFor, key string, r map[yardstick.EntityRef]yardstick.MetricReport) {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if m.cacheFor != validFor || len(m.cache) >= maxCachedResults {
		m.cache, m.cacheFor = map[string]map[yardstick.EntityRef]yardstick.MetricReport{}, validFor
	}
	m.cache[key] = cloneReports(r)
}

// cloneReports copies reports so callers may change what they get.
func cloneReports(in map[yardstick.EntityRef]yardstick.MetricReport) map[yardstick.EntityRef]yardstick.MetricReport {
	out := make(map[yardstick.EntityRef]yardstick.MetricReport, len(in))
	for k, r := range in {
		c := yardstick.MetricReport{Subject: r.Subject, Window: r.Window, Values: make(map[string]yardstick.MetricValue, len(r.Values))}
		for n, v := range r.Values {
			c.Values[n] = v
		}
		if r.Series != nil {
			c.Series = make(map[string][]yardstick.MetricPoint, len(r.Series))
			for n, pts := range r.Series {
				c.Series[n] = append([]yardstick.MetricPoint(nil), pts...)
			}
		}
		out[k] = c
	}
	return out
}

// weekStarts lists the Mondays of the weeks the window touches.
func weekStarts(w yardstick.Window) []time.Time {
	from := w.From.UTC()
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	var out []time.Time
	for wk := monday; wk.Before(w.To); wk = wk.AddDate(0, 0, 7) {
		out = append(out, wk)
	}
	return out
}

// MetricsByEntity computes the named metrics for every entity that owns at
// least one scope, over the window: one query per metric family for all
// entities, keyed through scope_mappings. Metrics without observations are
// absent from an entity's map (counting metrics are zero instead). Scoring
// feeds the result to rules as `metrics`.
func (m *Metrics) MetricsByEntity(ctx context.Context, names []string, w yardstick.Window) (map[yardstick.EntityRef]map[string]float64, error) {
	byFamily, order, cat, err := m.planEntities(ctx, names, w)
	if err != nil {
		return nil, err
	}
	out := map[yardstick.EntityRef]map[string]float64{}
	for ref, scopes := range cat.scopes {
		if hasSourceScope(scopes) {
			out[ref] = map[string]float64{}
		}
	}
	if err := m.fillEntityMetrics(ctx, cat, byFamily, order, w, nil, out, true); err != nil {
		return nil, err
	}
	return out, nil
}

// planEntities is the start of an entity read: it checks the window, plans
// the named metrics (plan) and reads the catalog they resolve through.
func (m *Metrics) planEntities(ctx context.Context, names []string, w yardstick.Window) (map[int][]int, []int, *metricCatalog, error) {
	if err := w.Validate(); err != nil {
		return nil, nil, nil, err
	}
	byFamily, order, err := plan(names)
	if err != nil {
		return nil, nil, nil, err
	}
	cat, err := m.readCatalog(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return byFamily, order, cat, nil
}

// fillEntityMetrics runs the planned families over the keys of g (nil: every
// entity, through scope_mappings) and writes each entity's finished outputs
// into out. With addSeen, an entity the results name but out lacks is added.
func (m *Metrics) fillEntityMetrics(ctx context.Context, cat *metricCatalog, byFamily map[int][]int, order []int, w yardstick.Window,
	g *groupKeys, out map[yardstick.EntityRef]map[string]float64, addSeen bool) error {
	gen, err := m.generation(ctx)
	if err != nil {
		return err
	}
	byWeekly, err := m.runPlanned(ctx, order, []bool{false}, func(ctx context.Context, r familyRead, weekly bool) ([]familyResult, error) {
		return m.runFamilies(ctx, gen, r, w, g, weekly, false)
	})
	if err != nil {
		return err
	}
	results := byWeekly[0]
	for i, fi := range order {
		f, res := families[fi], results[i]
		if addSeen {
			for key := range res.values {
				if ref := yardstick.EntityRef(key); out[ref] == nil {
					out[ref] = map[string]float64{}
				}
			}
		}
		for ref, vals := range out {
			for _, oi := range byFamily[fi] {
				o := f.outputs[oi]
				info, _ := yardstick.LookupMetric(o.name)
				v := yardstick.MetricValue{}
				if r, ok := res.values[string(ref)]; ok {
					v = r[oi]
				}
				if v.Count == 0 && !(info.Counting && hasSourceScope(cat.scopes[ref])) {
					continue
				}
				if fv, ok := finish(o, v, w.Weeks(), cat.membersOf(ref)); ok {
					vals[o.name] = fv.Value
				}
			}
		}
	}
	return nil
}

// WorkflowStats returns CI success rate and duration percentiles per workflow
// for the subject's scopes over the window, busiest workflow first.
func (m *Metrics) WorkflowStats(ctx context.Context, subject yardstick.EntityRef, w yardstick.Window) ([]yardstick.WorkflowStat, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	ctx, gen, ok, err := m.subjectQuery(ctx, subject)
	if err != nil || !ok {
		return nil, err
	}
	return queryRows(ctx, m.db, fmt.Sprintf("workflow stats of %s", subject), `SELECT label AS wf, count() AS runs, avg(v1), `+perUnit(quantile("0.5", "v2", ""), "60").expr()+`, `+perUnit(quantile("0.9", "v2", ""), "60").expr()+`
FROM metric_observations
WHERE family = 'ci' AND t >= @from AND t < @to AND scope IN (SELECT scope FROM metric_keys) AND `+gen.currentRows("t", []string{"ci"})+`
GROUP BY wf ORDER BY runs DESC, wf`,
		append(gen.args(m.configKey()), clickhouse.Named("from", w.From.UTC()), clickhouse.Named("to", w.To.UTC())),
		func(row scanner) (yardstick.WorkflowStat, error) {
			var (
				s    yardstick.WorkflowStat
				runs uint64
			)
			err := row.Scan(&s.Workflow, &runs, &s.SuccessRate, &s.P50Minutes, &s.P90Minutes)
			s.Runs = int64(runs)
			return s, err
		})
}

// hasSourceScope reports whether any scope comes from a source system rather
// than being an entity's own "entity:" scope. Counting metrics are zero, not
// absent, only for subjects that some source reports on.
func hasSourceScope(scopes []yardstick.Scope) bool {
	for _, s := range scopes {
		if !strings.HasPrefix(string(s), "entity:") {
			return true
		}
	}
	return false
}

// metricCatalog is the slice of the catalog metric subjects resolve through.
// The hierarchy and membership are yardstick.Organisation's, the one model the
// pages and scoring use too.
type metricCatalog struct {
	org    *yardstick.Organisation
	scopes map[yardstick.EntityRef][]yardstick.Scope
	all    []yardstick.Scope
}

func (m *Metrics) readCatalog(ctx context.Context) (*metricCatalog, error) {
	m.catMu.Lock()
	defer m.catMu.Unlock()
	if m.cat != nil && m.db.now().Sub(m.catRead) < catalogTTL {
		return m.cat, nil
	}
	// An unchanged catalog is not read again (keyset.go). The version is read
	// before the catalog, so that it is never newer than what was read. With
	// nothing read yet there is nothing to keep: the catalog is read at once,
	// under an unknown version, and read once more when the TTL ends. That
	// spares a first read the version's round trip (16-19 ms on the
	// benchmark's cluster).
	version := ""
	if m.cat != nil {
		var err error
		if version, err = m.db.CatalogVersion(ownShardRead(ctx)); err != nil {
			return nil, err
		}
		if version == m.catVersion {
			m.catRead = m.db.now()
			return m.cat, nil
		}
	}
	c, err := m.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	m.catVersion = version
	if p := c.fingerprint(); m.cat == nil || p != m.catPrint {
		m.catSeen, m.catPrint = m.db.now(), p
	}
	m.cat, m.catRead = c, m.db.now()
	return c, nil
}

func (m *Metrics) loadCatalog(ctx context.Context) (*metricCatalog, error) {
	c := &metricCatalog{scopes: map[yardstick.EntityRef][]yardstick.Scope{}}
	refs := func(ss []string) []yardstick.EntityRef {
		out := make([]yardstick.EntityRef, len(ss))
		for i, s := range ss {
			out[i] = yardstick.EntityRef(s)
		}
		return out
	}
	// The two reads are independent: side by side, a cluster's round trips
	// overlap. Each selects its table's version and every sort-key column, so
	// in cluster mode it may read the own shard in-process (ownshard.go).
	var entities []yardstick.Entity
	eg, ctx := errgroup.WithContext(ownShardRead(ctx))
	eg.Go(func() (err error) {
		entities, err = queryRows(ctx, m.db, "read catalog for metrics", `SELECT ref, owner, parent, children, members, member_of, version FROM entities FINAL WHERE deleted = 0`, nil,
			func(row scanner) (yardstick.Entity, error) {
				var (
					ref, owner, parent          string
					children, members, memberOf []string
				)
				var version uint64
				err := row.Scan(&ref, &owner, &parent, &children, &members, &memberOf, &version)
				return yardstick.Entity{Ref: yardstick.EntityRef(ref), Owner: yardstick.EntityRef(owner), Parent: yardstick.EntityRef(parent),
					Children: refs(children), Members: refs(members), MemberOf: refs(memberOf)}, err
			})
		return err
	})
	seen := map[yardstick.Scope]bool{}
	eg.Go(func() error {
		err := m.db.queryEach(ctx, `SELECT scope, entity, version FROM scope_mappings FINAL WHERE deleted = 0 ORDER BY entity, scope`, nil, func(row scanner) error {
			var (
				scope, entity string
				version       uint64
			)
			if err := row.Scan(&scope, &entity, &version); err != nil {
				return err
			}
			e := yardstick.EntityRef(entity)
			c.scopes[e] = append(c.scopes[e], yardstick.Scope(scope))
			if !seen[yardstick.Scope(scope)] {
				seen[yardstick.Scope(scope)] = true
				c.all = append(c.all, yardstick.Scope(scope))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read scope mappings for metrics: %w", err)
		}
		return nil
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	c.org = yardstick.NewOrganisation(entities)
	sort.Slice(c.all, func(i, j int) bool { return c.all[i] < c.all[j] })
	return c, nil
}

// resolve returns the scopes a subject's metrics read and the number of
// squad members behind it.
func (c *metricCatalog) resolve(s yardstick.EntityRef) ([]yardstick.Scope, int, error) {
	if s == yardstick.OrgRef {
		return c.all, len(c.org.AllMembers()), nil
	}
	if c.org.Entity(s) == nil {
		return nil, 0, fmt.Errorf("metrics of %s: entity not in catalog: %w", s, yardstick.ErrNotFound)
	}
	if s.Kind() != "group" {
		return c.scopes[s], c.membersOf(s), nil
	}
	seen := map[yardstick.Scope]bool{}
	var scopes []yardstick.Scope
	addScopes := func(e yardstick.EntityRef) {
		for _, sc := range c.scopes[e] {
			if !seen[sc] {
				seen[sc] = true
				scopes = append(scopes, sc)
			}
		}
	}
	for _, g := range c.org.Descendants(s) {
		addScopes(g)
		for _, e := range c.org.Owned(g) {
			addScopes(e)
		}
	}
	return scopes, c.membersOf(s), nil
}

// membersOf returns the members behind an entity's per-member metrics, by the
// same rule as resolve: a group's members and those of the groups below it,
// or the members of the group that owns the entity.
func (c *metricCatalog) membersOf(e yardstick.EntityRef) int {
	if e.Kind() == "group" {
		return len(c.org.MembersBelow(e))
	}
	if x := c.org.Entity(e); x != nil {
		return len(c.org.Members(x.Owner))
	}
	return 0
}
