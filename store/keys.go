package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"

	"github.com/yardstick-dev/yardstick"
)

// Keys. A refresh folds events by key: a pull request's events into one
// pull request, a commit's pushes, merges and deployments into one shipped
// commit. An incremental refresh by key recomputes the keys that the events
// written since the previous refresh touch, in any version they had: a
// rewrite can move an event from one key to another (a Jira issue moved to
// another project, a deployment whose shipped commits were recomputed), and
// then both keys change. event_keys (migration 1800) keeps every version.
//
// The key of an event is SQL over a row of events or of event_keys, whose
// columns are named alike, so the families' groupings and the touched keys
// use the same expressions.

// Key kinds: the families that fold events by a kind recompute its keys.
const (
	prKind         = "pull_request"
	ticketKind     = "ticket"
	incidentKind   = "incident"
	commitKind     = "commit"
	pipelineKind   = "pipeline"
	deploymentKind = "deployment"
)

var (
	// prNumber is a pull request's key: its number, else the event id.
	prNumber = "if(" + numAttr("number") + " > 0, toString(toUInt64(" + numAttr("number") + ")), id)"
	// ticketKey is a ticket's key: its key attribute (PROJ-12), else the event id.
	ticketKey = "if(" + strAttr("key") + " != '', " + strAttr("key") + ", id)"
	// incidentID is an incident's key: its incident_id attribute, else the event id.
	incidentID = "if(" + strAttr("incident_id") + " != '', " + strAttr("incident_id") + ", id)"
	// pushedCommit is a pushed commit's key: its sha attribute, else the event id.
	pushedCommit = "if(" + strAttr("sha") + " != '', " + strAttr("sha") + ", id)"
)

// keySource is where events of some types carry keys of one kind.
type keySource struct {
	kind  string
	types []string
	join  string // ARRAY JOIN clause, when one event carries several keys
	key   string // SQL: the key, a String
	cond  string // SQL: the rows that carry one ("" for all)
}

// keySources are every kind's sources. A deployment names the commits it
// shipped whatever its environment: a rewrite that moves it out of
// production leaves them too.
var keySources = []keySource{
	{kind: prKind, types: []string{yardstick.ChangeOpened, yardstick.ChangeMerged, yardstick.ChangeReviewed}, key: prNumber},
	{kind: ticketKind, types: []string{yardstick.TicketCreated, yardstick.TicketTransitioned, yardstick.TicketResolved}, key: ticketKey},
	{kind: incidentKind, types: []string{yardstick.IncidentTriggered, yardstick.IncidentAcknowledged, yardstick.IncidentResolved}, key: incidentID},
	{kind: commitKind, types: []string{yardstick.DeploymentSucceeded}, join: "ARRAY JOIN arrayConcat(related, [" + strAttr("sha") + "]) AS h", key: "h", cond: "h != ''"},
	{kind: commitKind, types: []string{yardstick.CommitPushed}, key: pushedCommit},
	{kind: commitKind, types: []string{yardstick.ChangeMerged}, key: strAttr("merge_commit_sha"), cond: strAttr("merge_commit_sha") + " != ''"},
	{kind: pipelineKind, types: []string{yardstick.PipelineFinished}, key: "id"},
	{kind: deploymentKind, types: []string{yardstick.DeploymentSucceeded, yardstick.DeploymentFailed}, key: "id"},
}

// typeList is types as an SQL list of string literals. Types are constants of
// the event vocabulary, never user input.
func typeList(types []string) string {
	return "('" + strings.Join(types, "', '") + "')"
}

// touchedKeys is the INSERT … SELECT that writes into refresh_keys, for
// generation @gen, the keys of src that every version of every event written
// after @since had. The versions written after @since are found by their
// version column alone (PREWHERE), the other versions of the same events by
// the hash of their identity (a collision touches a key more, never less).
func (src keySource) touchedKeys() string {
	types := typeList(src.types)
	return src.keysWhere("type IN " + types + ` AND idh IN (
    SELECT idh FROM event_keys PREWHERE version > @since WHERE type IN ` + types + `)`)
}

// keysWhere is the INSERT … SELECT that writes into refresh_keys, for
// generation @gen, src's keys of the rows of event_keys where holds (and
// src's own condition).
func (src keySource) keysWhere(where string) string {
	if src.cond != "" {
		where += " AND " + src.cond
	}
	return `INSERT INTO refresh_keys (gen, kind, scope, key)
SELECT DISTINCT @gen, '` + src.kind + `', scope, ` + src.key + `
FROM event_keys ` + src.join + `
WHERE ` + where
}

// touchedIDs is the INSERT … SELECT that writes into refresh_ids, for
// generation @gen, the identity of every event that has a version carrying
// one of src's keys in refresh_keys.
func (src keySource) touchedIDs() string {
	where := "type IN " + typeList(src.types) + " AND " + touchedScope(src.kind) + " AND " + touchedKey(src.kind, src.key)
	if src.cond != "" {
		where += " AND " + src.cond
	}
	return `INSERT INTO refresh_ids (gen, kind, idh)
SELECT DISTINCT @gen, '` + src.kind + `', idh
FROM event_keys ` + src.join + `
WHERE ` + where
}

// baselineKeys is the INSERT … SELECT that touches, for generation @gen,
// every key of src (a commit source) in the scopes whose first successful
// production deployment, lead time's baseline, may have moved: those with a
// touched deployment that, in any version, lies at or before the scope's
// first one now (or that have none now). An earlier deployment moves it
// back, and the first one rewritten, tombstoned or moved out of production
// moves it on; either way every shipped commit of the scope is measured
// against another baseline.
func (src keySource) baselineKeys() string {
	touchedDeploys := "SELECT " + keyHash("scope", "key") + " FROM refresh_keys WHERE gen = @gen AND kind = '" + deploymentKind + "'"
	return src.keysWhere("type IN " + typeList(src.types) + ` AND scope IN (
    SELECT scope FROM (
      SELECT scope, time AS dt FROM event_keys
      WHERE type IN ('deployment.succeeded', 'deployment.failed') AND ` + keyHash("scope", "id") + ` IN (` + touchedDeploys + `)
    ) AS k ALL LEFT JOIN (
      SELECT scope, min(time) AS first FROM events FINAL
      WHERE type = 'deployment.succeeded' AND ` + live + ` AND ` + isProd + `
        AND scope IN (SELECT scope FROM refresh_keys WHERE gen = @gen AND kind = '` + deploymentKind + `')
      GROUP BY scope
    ) AS f USING scope
    WHERE toUInt32(first) = 0 OR dt <= first)`)
}

// failureScopeKind marks, in refresh_keys, the scopes whose failure signals
// an incremental refresh reads (with an empty key): the touched keys' scopes,
// closed over shared entities.
const failureScopeKind = "failure_scope"

// touchKeys writes refresh_keys for generation gen, every key the events
// written after since touch, by kind, with every commit of a scope whose
// baseline may have moved; and then refresh_ids, the identities of the
// events those keys' reads take: each step's queries side by side, up to
// RefreshParallelism. args are the refresh's (refreshArgs).
func (m *Metrics) touchKeys(ctx context.Context, since uint64, args []any) error {
	args = append(slices.Clip(args), clickhouse.Named("since", since))
	var commits []keySource
	for _, src := range keySources {
		if src.kind == commitKind {
			commits = append(commits, src)
		}
	}
	for _, step := range []struct {
		what string
		srcs []keySource
		sql  func(keySource) string
	}{
		{"keys", keySources, keySource.touchedKeys},
		{"commits measured from a moved baseline", commits, keySource.baselineKeys},
		{"their events", keySources, keySource.touchedIDs},
	} {
		if err := m.runKeySources(ctx, step.what, since, step.srcs, step.sql, args); err != nil {
			return err
		}
	}
	return nil
}

// runKeySources runs sql of each of srcs side by side.
func (m *Metrics) runKeySources(ctx context.Context, what string, since uint64, srcs []keySource, sql func(keySource) string, args []any) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.cfg.RefreshParallelism)
	for _, src := range srcs {
		g.Go(func() error {
			if err := m.db.conn.Exec(withRefreshSettings(gctx), sql(src), args...); err != nil {
				return fmt.Errorf("refresh: %s of the %s keys touched since %d: %w", what, src.kind, since, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// readFilter selects what a refresh's query reads of events: every event, or
// with keyed set, the keys of generation @gen's refresh_keys alone.
type readFilter struct{ keyed bool }

// everything reads every event, as a full refresh does.
var everything = readFilter{}

// pre is the PREWHERE clause (with its line break; "" for none) of a read of
// events whose rows carry keys of kind: with keyed set, the identities of the
// events that have a version with a touched key (refresh_ids), so that FINAL
// merges their versions alone. That is exact because every version of an
// event has its identity; of still keeps the touched keys after FINAL.
func (f readFilter) pre(kind string) string {
	if !f.keyed {
		return ""
	}
	return "PREWHERE idh IN (SELECT idh FROM refresh_ids WHERE gen = @gen AND kind = '" + kind + "')\n"
}

// of is the condition on a read of events whose rows carry keys of kind as
// key (SQL over the row). It goes in WHERE, after FINAL: in PREWHERE an
// untouched event whose older, unmerged version had a touched key would be
// read in that older version. It names the touched keys' scopes as well:
// events are sorted by type and scope, so that condition (the scope is part
// of the key, so it is exact) skips the other scopes' rows before anything
// is read of them, the PREWHERE's identities included.
func (f readFilter) of(kind, key string) string {
	if !f.keyed {
		return "1"
	}
	return touchedScope(kind) + " AND " + touchedKey(kind, key)
}

// touchedScope is the condition that a row's scope has one of generation
// @gen's touched keys of kind.
func touchedScope(kind string) string {
	return "scope IN (SELECT scope FROM refresh_keys WHERE gen = @gen AND kind = '" + kind + "')"
}

// touchedKey is the condition that a row's key (SQL over the row, in its
// scope) is one of generation @gen's touched keys of kind.
func touchedKey(kind, key string) string {
	return keyHash("scope", key) + " IN (SELECT " + keyHash("scope", "key") + " FROM refresh_keys WHERE gen = @gen AND kind = '" + kind + "')"
}

// scopes is the condition on a read that needs every event of a scope whose
// keys of kind it recomputes (a scope's first deployment, lead time's
// baseline).
func (f readFilter) scopes(kind string) string {
	if !f.keyed {
		return "1"
	}
	return touchedScope(kind)
}
