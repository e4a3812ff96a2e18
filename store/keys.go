package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

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
// the hash of their identity (a collision touches a key more, never less),
// in PREWHERE too: left to it, ClickHouse 18.16 moved src's own condition
// there instead, and read every merge's merge commit (at 100M events, the
// merge commits' keys took 0.98–1.03 s so, 0.45–0.48 s with the identities
// first; the pull requests', with no condition, the same either way).
func (src keySource) touchedKeys() string {
	types := typeList(src.types)
	return src.keysWhere(`idh IN (
    SELECT idh FROM event_keys PREWHERE version > @since WHERE type IN `+types+`)`, "type IN "+types)
}

// keysWhere is the INSERT … SELECT that writes into refresh_keys, for
// generation @gen, src's keys of the rows of event_keys where holds (and
// src's own condition), with pre as PREWHERE ("" for none).
func (src keySource) keysWhere(pre, where string) string {
	if src.cond != "" {
		where += " AND " + src.cond
	}
	if pre != "" {
		pre = "PREWHERE " + pre + "\n"
	}
	return `INSERT INTO refresh_keys (gen, kind, scope, key)
SELECT DISTINCT @gen, '` + src.kind + `', scope, ` + src.key + `
FROM event_keys ` + src.join + `
` + pre + `WHERE ` + where
}

// keyHashes is the SELECT of src's keys of the rows of event_keys where holds,
// as event_key_hashes (migration 2300) holds them: kind, kh, idh. That
// table's view writes them for new events, its backfill from this.
func (src keySource) keyHashes(where string) string {
	where = "type IN " + typeList(src.types) + " AND " + where
	if src.cond != "" {
		where += " AND " + src.cond
	}
	return `SELECT '` + src.kind + `' AS kind, ` + keyHash("scope", src.key) + ` AS kh, idh
FROM event_keys ` + src.join + `
WHERE ` + where
}

// keyKinds are the kinds of keySources, each once.
var keyKinds = func() []string {
	var kinds []string
	for _, src := range keySources {
		if !slices.Contains(kinds, src.kind) {
			kinds = append(kinds, src.kind)
		}
	}
	return kinds
}()

// touchedIDs is the INSERT … SELECT that writes into refresh_ids, for
// generation @gen, the identity of every event that has a version carrying
// one of the touched keys of kind in refresh_keys: found in event_key_hashes
// by the keys' hashes, in kind's range of it (a collision touches an event
// more, never less). The hashes go in PREWHERE, so that only the matching
// rows' identities are read (at 100M events, 149,000 pull-request keys:
// 0.93–1.35 s against 1.36–1.51 s, by hand).
func touchedIDs(kind string) string {
	return `INSERT INTO refresh_ids (gen, kind, idh)
SELECT DISTINCT @gen, '` + kind + `', idh FROM event_key_hashes
PREWHERE ` + touchedKeyHash(kind, "kh") + `
WHERE kind = '` + kind + `'`
}

// baselineScopeKind marks, in refresh_keys, the scopes whose first
// successful production deployment, lead time's baseline, may have moved
// (with an empty key).
const baselineScopeKind = "baseline_scope"

// baselineScopes is the INSERT … SELECT that marks, for generation @gen, the
// scopes whose baseline may have moved since the previous refresh (@prev):
// those with a touched deployment that, in any version, lies at or before
// the scope's first one then (or that had none). An earlier deployment moves
// it back, and the first one rewritten, tombstoned or moved out of
// production moves it on; either way every shipped commit of the scope is
// measured against another baseline. In every other scope it stays: the
// first deployment is untouched, and no touched one was ever earlier.
var baselineScopes = `INSERT INTO refresh_keys (gen, kind, scope, key)
SELECT DISTINCT @gen, '` + baselineScopeKind + `', scope, '' FROM (
  SELECT scope, time AS dt FROM event_keys
  WHERE type IN ` + typeList([]string{yardstick.DeploymentSucceeded, yardstick.DeploymentFailed}) + ` AND ` + touchedScope(deploymentKind) + ` AND ` + touchedKey(deploymentKind, "id") + `
) AS k ALL LEFT JOIN (
  SELECT scope, first FROM first_deployments WHERE gen = @prev
) AS f USING scope
WHERE toUInt32(first) = 0 OR dt <= first`

// keptFirstDeployments is the INSERT … SELECT that copies into generation
// @gen the previous refresh's first deployments of the scopes whose baseline
// stays; fillFirstDeployments of the others computes theirs again.
var keptFirstDeployments = `INSERT INTO first_deployments (gen, scope, first)
SELECT @gen, scope, first FROM first_deployments WHERE gen = @prev AND NOT (` + touchedScope(baselineScopeKind) + `)`

// baselineKeys is the INSERT … SELECT that touches, for generation @gen,
// every key of src (a commit source) in the scopes whose baseline may have
// moved (baselineScopes).
func (src keySource) baselineKeys() string {
	return src.keysWhere("", "type IN "+typeList(src.types)+" AND "+touchedScope(baselineScopeKind))
}

// failureScopeKind marks, in refresh_keys, the scopes whose failure signals
// an incremental refresh reads (with an empty key): the touched keys' scopes,
// closed over shared entities.
const failureScopeKind = "failure_scope"

// touchKeys writes refresh_keys for generation gen, every key the events
// written after since touch, by kind, with every commit of a scope whose
// baseline may have moved since the previous refresh, prev; and then
// refresh_ids, the identities of the events those keys' reads take. args are
// the refresh's (refreshArgs).
//
// After the keys, two chains run side by side: lead time's baseline (the
// scopes whose baseline may have moved, then their commits, then the
// commits' events) and the other kinds' events, which no baseline changes. Their queries share
// RefreshParallelism slots, so the baseline's single query leaves no slot
// idle.
func (m *Metrics) touchKeys(ctx context.Context, since, prev uint64, args []any) error {
	args = append(slices.Clip(args), clickhouse.Named("since", since), clickhouse.Named("prev", prev))
	var keys, baselines, commitIDs, otherIDs []keyStatement
	for _, src := range keySources {
		keys = append(keys, keyStatement{src.kind, src.touchedKeys()})
		if src.kind == commitKind {
			baselines = append(baselines, keyStatement{src.kind, src.baselineKeys()})
		}
	}
	for _, kind := range keyKinds {
		if kind == commitKind {
			commitIDs = append(commitIDs, keyStatement{kind, touchedIDs(kind)})
		} else {
			otherIDs = append(otherIDs, keyStatement{kind, touchedIDs(kind)})
		}
	}
	slots := semaphore.NewWeighted(int64(m.cfg.RefreshParallelism))
	type step struct {
		what  string
		stmts []keyStatement
	}
	steps := func(ctx context.Context, steps ...step) error {
		for _, st := range steps {
			if err := m.runKeyStatements(ctx, slots, st.what, since, st.stmts, args); err != nil {
				return err
			}
		}
		return nil
	}
	if err := steps(ctx, step{"keys", keys}); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return steps(gctx,
			step{"scopes whose baseline may have moved", []keyStatement{{deploymentKind, baselineScopes}}},
			step{"commits measured from a moved baseline", baselines},
			step{"their events", commitIDs})
	})
	g.Go(func() error { return steps(gctx, step{"their events", otherIDs}) })
	return g.Wait()
}

// keyStatement is one of a touch step's statements, for keys of kind.
type keyStatement struct{ kind, sql string }

// runKeyStatements runs stmts side by side, each in one of slots.
func (m *Metrics) runKeyStatements(ctx context.Context, slots *semaphore.Weighted, what string, since uint64, stmts []keyStatement, args []any) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range stmts {
		g.Go(func() error {
			if err := slots.Acquire(gctx, 1); err != nil {
				return err
			}
			defer slots.Release(1)
			if err := m.db.conn.Exec(withRefreshSettings(gctx), st.sql, args...); err != nil {
				return fmt.Errorf("refresh: %s of the %s keys touched since %d: %w", what, st.kind, since, err)
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
	return touchedKeyHash(kind, keyHash("scope", key))
}

// touchedKeyHash is touchedKey for a row that holds its key's hash, kh (SQL
// over the row).
func touchedKeyHash(kind, kh string) string {
	return kh + " IN (SELECT " + keyHash("scope", "key") + " FROM refresh_keys WHERE gen = @gen AND kind = '" + kind + "')"
}
