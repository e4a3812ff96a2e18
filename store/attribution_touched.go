package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/yardstick-dev/yardstick"
)

// Failure attribution by key. An incremental refresh attributes again only
// the failure signals whose link the keys it recomputes can move, and keeps
// every other signal's link. A signal's link depends on (attributeFailures):
// the signal itself; the deployments of its scopes with the id it names, that
// shipped a commit it names (its reverted commit, its commits, the merge
// commit of its change), or that lie within the failure window before it; and
// the merge commit of the change it names. So a signal is attributed again
// when its own events are touched, when some version of a touched deployment
// of its scopes has such an id, commit or time, or when the pull request of
// the change it names is touched. Every other signal's dependencies are as
// they were, and so is its link.
//
// The signals attributed again are recorded in refresh_keys (kind
// failureSignalKind, key failureSignalKey): the refresh copies the other
// signals' links (keepFailureLinks), and finds the deployments whose links
// changed among theirs (touchChangedDeployments).

// failureSignalKind marks, in refresh_keys, the failure signals a refresh
// attributes again, by signal scope and failureSignalKey.
const failureSignalKind = "failure_signal"

// failureSignalKey is a signal's key in refresh_keys: its type and id.
func failureSignalKey(typ, id string) string { return typ + "/" + id }

// inFailureSignals is the condition that a row of deployment_failures links
// one of the signals generation @gen attributes again.
var inFailureSignals = keyHash("signal_scope", "concat(signal_type, '/', signal_id)") + " IN (SELECT " + keyHash("scope", "key") +
	" FROM refresh_keys WHERE gen = @gen AND kind = '" + failureSignalKind + "')"

// signalKey is a failure signal's identity: scope, type and id (an
// incident's id, else the event's).
type signalKey struct{ scope, typ, id string }

// deployVersion is one version of a touched deployment (event_keys).
type deployVersion struct {
	id   string
	t    time.Time
	shas []string
}

// failureChanges are what the keys of an incremental refresh change of what
// failure attribution reads.
type failureChanges struct {
	signals map[signalKey]bool         // every identity some version of a touched signal event had
	deploys map[string][]deployVersion // by scope: every version of every touched deployment
	changes map[scopeKey]bool          // touched pull requests, (scope, number): their merge commit may have moved
}

// relinks reports whether the changes can move signal s's link; scopes are
// s.scopes, mergeSHA has the merge commit of the change s names.
func (fc *failureChanges) relinks(s signalRow, scopes []string, mergeSHA map[scopeKey]string, window time.Duration) bool {
	if fc.signals[signalKey{s.scope, s.typ, s.id}] {
		return true
	}
	named := slices.Clone(s.shas)
	if s.reverts != "" {
		named = append(named, s.reverts)
	}
	if s.change != "" {
		for _, sc := range scopes {
			if fc.changes[scopeKey{sc, s.change}] {
				return true
			}
			if sha := mergeSHA[scopeKey{sc, s.change}]; sha != "" {
				named = append(named, sha)
			}
		}
	}
	for _, sc := range scopes {
		for _, d := range fc.deploys[sc] {
			switch {
			case d.id == s.deploymentID || d.id == s.reverts:
				return true
			case !d.t.After(s.t) && s.t.Sub(d.t) < window:
				return true
			case slices.ContainsFunc(d.shas, func(h string) bool { return slices.Contains(named, h) }):
				return true
			}
		}
	}
	return false
}

// readFailureChanges reads what generation @gen's touched keys change of what
// failure attribution reads: every version of the touched signal events and
// deployments (event_keys, by the identities in refresh_ids), and the touched
// pull requests.
func (m *Metrics) readFailureChanges(ctx context.Context, args []any) (*failureChanges, error) {
	fc := &failureChanges{signals: map[signalKey]bool{}, deploys: map[string][]deployVersion{}, changes: map[scopeKey]bool{}}
	err := m.db.queryEach(ctx, `SELECT scope, type, if(type = 'incident.triggered', `+incidentID+`, id), time, arrayConcat(related, [str_sha])
FROM event_keys
PREWHERE idh IN (SELECT idh FROM refresh_ids WHERE gen = @gen AND kind IN ('`+incidentKind+`', '`+prKind+`', '`+deploymentKind+`'))
WHERE type IN ('incident.triggered', 'change.merged', 'deployment.succeeded') AND `+touchedScope(failureScopeKind), args, func(row scanner) error {
		var (
			scope, typ, id string
			t              time.Time
			shas           []string
		)
		if err := row.Scan(&scope, &typ, &id, &t, &shas); err != nil {
			return err
		}
		fc.signals[signalKey{scope, typ, id}] = true
		if typ == yardstick.DeploymentSucceeded {
			fc.deploys[scope] = append(fc.deploys[scope], deployVersion{id: id, t: t, shas: slices.DeleteFunc(shas, func(h string) bool { return h == "" })})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the touched deployments and failure signals: %w", err)
	}
	err = m.db.queryEach(ctx, `SELECT scope, key FROM refresh_keys WHERE gen = @gen AND kind = '`+prKind+`'`, args, func(row scanner) error {
		var k scopeKey
		if err := row.Scan(&k.scope, &k.key); err != nil {
			return err
		}
		fc.changes[k] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the touched pull requests: %w", err)
	}
	return fc, nil
}

// refreshTouchedFailures attributes again, into generation gen, the failure
// signals of the failure scopes that generation gen's touched keys can
// relink, and records them with every touched signal identity that has a
// current link (one that is no longer a signal must lose it). It returns how
// many signals it attributed again.
func (m *Metrics) refreshTouchedFailures(ctx context.Context, gen uint64, k *keyedRefresh, args []any, sm scopeMappings) (int, error) {
	// What the touched keys change, and the failure scopes' signals: two
	// reads side by side, on failure attribution's critical path (at 10M
	// events, 0.29–0.40 s and 0.39–0.53 s one after the other).
	var (
		fc    *failureChanges
		cands *failureEvents
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		fc, err = m.readFailureChanges(gctx, args)
		return err
	})
	g.Go(func() (err error) {
		cands, err = m.readFailureCandidates(gctx, args)
		return err
	})
	if err := g.Wait(); err != nil {
		return 0, err
	}
	mergeSHA, err := m.namedMergeCommits(ctx, cands.signals, sm.sameEntity)
	if err != nil {
		return 0, err
	}
	var (
		signals           []signalRow
		scopes, ids, shas []string
		from              time.Time
	)
	relinked := map[signalKey]bool{}
	for _, s := range cands.signals {
		ss := s.scopes(sm.sameEntity)
		if !fc.relinks(s, ss, mergeSHA, m.cfg.FailureWindow) {
			continue
		}
		signals = append(signals, s)
		relinked[signalKey{s.scope, s.typ, s.id}] = true
		scopes = append(scopes, ss...)
		ids = append(ids, s.deploymentID, s.reverts)
		shas = append(shas, s.reverts)
		shas = append(shas, s.shas...)
		for _, sc := range ss {
			shas = append(shas, mergeSHA[scopeKey{sc, s.change}])
		}
		if lo := s.t.Add(-m.cfg.FailureWindow); from.IsZero() || lo.Before(from) {
			from = lo
		}
	}
	// The touched signal events that are no signal now (or no longer one)
	// keep no link; of them, only those that had one are attributed again,
	// so that it is not kept.
	linked, err := m.linkedSignals(ctx, k, args, fc.signals, relinked)
	if err != nil {
		return 0, err
	}
	maps.Copy(relinked, linked)
	if err := m.recordFailureSignals(ctx, gen, relinked); err != nil {
		return 0, err
	}
	if len(signals) == 0 {
		return 0, nil
	}
	deploys, err := m.relinkDeployments(ctx, args, scopes, ids, shas, from)
	if err != nil {
		return 0, err
	}
	return len(signals), m.writeFailureLinks(ctx, gen, attributeFailures(deploys, signals, mergeSHA, sm.sameEntity, m.cfg.FailureWindow))
}

// linkedSignals returns those of the touched signal identities, not among
// skip, that have a current failure link (the previous refresh's, sliced
// like the deployments family).
func (m *Metrics) linkedSignals(ctx context.Context, k *keyedRefresh, args []any, touched, skip map[signalKey]bool) (map[signalKey]bool, error) {
	set := keySet{name: "touched_signals"}
	for t := range touched {
		if !skip[t] {
			set.keys = append(set.keys, t.scope+"\x00"+failureSignalKey(t.typ, t.id))
		}
	}
	out := map[signalKey]bool{}
	if len(set.keys) == 0 {
		return out, nil
	}
	qctx, err := withKeySets(ctx, set)
	if err != nil {
		return nil, err
	}
	prev, name := k.prev.chainOf(deployments), chainName("p", deployments)
	args = append(slices.Clip(args), prev.args(name)...)
	err = m.db.queryEach(qctx, `SELECT DISTINCT signal_scope, signal_type, signal_id FROM deployment_failures
WHERE `+prev.cond("deploy_time", name)+` AND `+set.in(`concat(signal_scope, '\0', signal_type, '/', signal_id)`), args, func(row scanner) error {
		var s signalKey
		if err := row.Scan(&s.scope, &s.typ, &s.id); err != nil {
			return err
		}
		out[s] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the current failure links of the touched signal events: %w", err)
	}
	return out, nil
}

// readFailureCandidates reads the failure scopes' signals: few beside the
// deployments (incidents, reverts, rollbacks), found by identity before FINAL
// merges them.
func (m *Metrics) readFailureCandidates(ctx context.Context, args []any) (*failureEvents, error) {
	return m.readFailureEvents(ctx, `SELECT `+failureColumns+`
FROM events FINAL
PREWHERE type = 'incident.triggered' OR idh IN (SELECT idh FROM events
  WHERE `+touchedScope(failureScopeKind)+` AND ((type = 'change.merged' AND `+strAttr("reverts")+` != '') OR (type = 'deployment.succeeded' AND `+isRollback+`)))
WHERE type IN ('deployment.succeeded', 'incident.triggered', 'change.merged') AND `+live+` AND `+touchedScope(failureScopeKind)+`
  AND ((type = 'deployment.succeeded' AND `+isProd+` AND `+isRollback+`) OR type = 'incident.triggered'
  OR (type = 'change.merged' AND `+strAttr("reverts")+` != ''))`, args)
}

// namedMergeCommits reads the merge commits of the changes signals name, in
// the scopes each can be attributed to.
func (m *Metrics) namedMergeCommits(ctx context.Context, signals []signalRow, sameEntity func(string) []string) (map[scopeKey]string, error) {
	var scopes, numbers []string
	for _, s := range signals {
		if s.change != "" {
			scopes = append(scopes, s.scopes(sameEntity)...)
			numbers = append(numbers, s.change)
		}
	}
	if len(numbers) == 0 {
		return map[scopeKey]string{}, nil
	}
	slices.Sort(numbers)
	return m.mergeCommits(ctx, scopes, slices.Compact(numbers))
}

// recordFailureSignals writes, into refresh_keys, the signals generation gen
// attributes again.
func (m *Metrics) recordFailureSignals(ctx context.Context, gen uint64, signals map[signalKey]bool) error {
	if len(signals) == 0 {
		return nil
	}
	err := m.db.insert(ctx, "INSERT INTO refresh_keys (gen, kind, scope, key)", func(b driver.Batch) error {
		for k := range signals {
			if err := b.Append(gen, failureSignalKind, k.scope, failureSignalKey(k.typ, k.id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the failure signals attributed again: %w", err)
	}
	return nil
}

// relinkDeployments reads the successful production deployments of scopes
// that signals attributed again can be linked to: those with one of ids,
// those that shipped one of shas, and those at or after from (the earliest
// signal's window). It finds them in event_keys, whose rows hold every
// version, and reads them by identity before FINAL merges them.
func (m *Metrics) relinkDeployments(ctx context.Context, args []any, scopes, ids, shas []string, from time.Time) ([]deployRow, error) {
	compact := func(s []string) []string {
		s = slices.DeleteFunc(s, func(x string) bool { return x == "" })
		slices.Sort(s)
		return slices.Compact(s)
	}
	inScopes, inIDs, inSHAs := keySet{name: "relink_scopes", keys: compact(scopes)}, keySet{name: "relink_ids", keys: compact(ids)}, keySet{name: "relink_shas", keys: compact(shas)}
	qctx, err := withKeySets(ctx, inScopes, inIDs, inSHAs)
	if err != nil {
		return nil, err
	}
	args = append(slices.Clip(args), clickhouse.Named("relink_from", from.UTC()))
	// The sets are often empty (incidents that name nothing): their
	// subqueries would still scan every deployment's commits.
	byTime := "time >= @relink_from"
	if len(inIDs.keys) > 0 {
		byTime = "(" + byTime + " OR " + inIDs.in("id") + ")"
	}
	pre := `idh IN (SELECT idh FROM event_keys WHERE type = 'deployment.succeeded' AND ` + inScopes.in("scope") + ` AND ` + byTime + `)`
	if len(inSHAs.keys) > 0 {
		pre += `
  OR idh IN (SELECT idh FROM event_keys ARRAY JOIN arrayConcat(related, [str_sha]) AS h
    WHERE type = 'deployment.succeeded' AND ` + inScopes.in("scope") + ` AND ` + inSHAs.in("h") + `)`
	}
	fe, err := m.readFailureEvents(qctx, `SELECT `+failureColumns+`
FROM events FINAL
PREWHERE `+pre+`
WHERE type = 'deployment.succeeded' AND `+live+` AND `+isProd+` AND `+inScopes.in("scope"), args)
	if err != nil {
		return nil, err
	}
	return fe.deploys, nil
}
