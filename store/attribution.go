package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Change failure attribution (docs/metrics.md, "Change failure rate"): each
// failure signal (an incident, a rollback deployment, a revert change) is
// attributed to at most one successful production deployment, first by an
// explicit link in the signal, otherwise to the latest earlier deployment of
// the same scope (for an incident: of the scopes mapped to the same entities
// as its service) within the failure window. The links are stored per metric
// generation in deployment_failures, which the deployments family reads
// and the evidence endpoint shows.

// Bases of a failure link: how the signal found its deployment.
const (
	basisDeploymentID = "deployment_id" // the signal names the deployment's id
	basisSHA          = "sha"           // the signal names a commit the deployment shipped first
	basisChange       = "change"        // the signal names a change whose merge commit the deployment shipped first
	basisWindow       = "window"        // the latest earlier deployment within the failure window
)

// deployRow is a successful production deployment.
type deployRow struct {
	scope, id string
	t         time.Time
	shas      []string // related plus the sha attribute
	rollback  bool
	reverts   string
}

// signalRow is a failure signal: an incident's trigger, a rollback
// deployment or a merged revert change.
type signalRow struct {
	scope, typ, id string
	t              time.Time
	deploymentID   string
	shas           []string
	change         string
	reverts        string
}

type scopeKey struct{ scope, key string }

// scopes are the scopes whose deployments s can be attributed to: its own,
// and for an incident those mapped to the same entities as its service.
func (s signalRow) scopes(sameEntity func(string) []string) []string {
	scopes := []string{s.scope}
	if s.typ == yardstick.IncidentTriggered {
		for _, sc := range sameEntity(s.scope) {
			if sc != s.scope {
				scopes = append(scopes, sc)
			}
		}
	}
	return scopes
}

// attributeFailures links signals to deployments. sameEntity returns the
// scopes whose deployments an incident in a scope can be attributed to.
// mergeSHA maps (scope, change number) to the change's merge commit.
func attributeFailures(deploys []deployRow, signals []signalRow, mergeSHA map[scopeKey]string, sameEntity func(string) []string, window time.Duration) []yardstick.FailureLink {
	// Sized up front: growing maps of a million shipped commits was half
	// of this function's time at 11M events.
	shipped := 0
	for i := range deploys {
		shipped += len(deploys[i].shas)
	}
	byScope := map[string][]*deployRow{}
	byID := make(map[scopeKey]*deployRow, len(deploys))
	firstShip := make(map[scopeKey]*deployRow, shipped)
	for i := range deploys {
		d := &deploys[i]
		byScope[d.scope] = append(byScope[d.scope], d)
		byID[scopeKey{d.scope, d.id}] = d
	}
	for _, ds := range byScope {
		slices.SortFunc(ds, func(a, b *deployRow) int { return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.id, b.id)) })
		for _, d := range ds {
			for _, sha := range d.shas {
				if k := (scopeKey{d.scope, sha}); firstShip[k] == nil {
					firstShip[k] = d
				}
			}
		}
	}
	var links []yardstick.FailureLink
	for _, s := range signals {
		scopes := s.scopes(sameEntity)
		// before: a deployment can only fail through a signal at or after it.
		before := func(d *deployRow) bool { return d != nil && !d.t.After(s.t) && !(d.scope == s.scope && d.id == s.id) }
		byIDIn := func(id string) *deployRow {
			for _, sc := range scopes {
				if d := byID[scopeKey{sc, id}]; before(d) {
					return d
				}
			}
			return nil
		}
		firstShipIn := func(shas ...string) *deployRow {
			var best *deployRow
			for _, sc := range scopes {
				for _, sha := range shas {
					if d := firstShip[scopeKey{sc, sha}]; before(d) && (best == nil || d.t.Before(best.t)) {
						best = d
					}
				}
			}
			return best
		}
		var (
			d     *deployRow
			basis string
		)
		switch {
		case s.deploymentID != "" && byIDIn(s.deploymentID) != nil:
			d, basis = byIDIn(s.deploymentID), basisDeploymentID
		case s.reverts != "" && byIDIn(s.reverts) != nil:
			d, basis = byIDIn(s.reverts), basisDeploymentID
		case s.reverts != "" && firstShipIn(s.reverts) != nil:
			d, basis = firstShipIn(s.reverts), basisSHA
		case len(s.shas) > 0 && firstShipIn(s.shas...) != nil:
			d, basis = firstShipIn(s.shas...), basisSHA
		case s.change != "":
			var shas []string
			for _, sc := range scopes {
				if sha := mergeSHA[scopeKey{sc, s.change}]; sha != "" {
					shas = append(shas, sha)
				}
			}
			if d = firstShipIn(shas...); d != nil {
				basis = basisChange
			}
		}
		if d == nil {
			// The latest earlier deployment strictly inside the window; rollbacks
			// are not blamed for what they roll back.
			for _, sc := range scopes {
				ds := byScope[sc]
				i, _ := slices.BinarySearchFunc(ds, s.t, func(d *deployRow, t time.Time) int { return d.t.Compare(t) })
				for j := i - 1; j >= 0; j-- {
					c := ds[j]
					if s.t.Sub(c.t) >= window {
						break
					}
					if c.rollback || !before(c) || !c.t.Before(s.t) {
						continue
					}
					if d == nil || c.t.After(d.t) {
						d = c
					}
					break
				}
			}
			basis = basisWindow
		}
		if d != nil {
			links = append(links, yardstick.FailureLink{DeployScope: yardstick.Scope(d.scope), DeployID: d.id, DeployTime: d.t,
				SignalScope: yardstick.Scope(s.scope), SignalType: s.typ, SignalID: s.id, SignalTime: s.t, Basis: basis})
		}
	}
	return links
}

// failureChunkScopes bounds how many scopes one pass of failure
// attribution reads: a pass holds its scopes' successful production
// deployments and failure signals in memory (0.26M rows at 11M events, 2.6M
// at 100M), so a refresh attributes a large organisation a chunk of scope
// groups at a time.
var failureChunkScopes = 4000

// refreshFailures computes the failure links of generation gen for every
// scope with a deployment or failure signal, as a full refresh does (an
// incremental one attributes by key: attribution_touched.go). Attribution
// stays within the scopes of an entity, so it runs a chunk of scope groups
// (scopes linked through shared entities, whole) at a time. It returns how
// many passes it made.
func (m *Metrics) refreshFailures(ctx context.Context, gen uint64, args []any, sm scopeMappings) (int, error) {
	scopes, err := queryRows(ctx, m.db, "read the scopes of deployments and failure signals",
		`SELECT DISTINCT scope FROM events WHERE type IN ('deployment.succeeded', 'incident.triggered', 'change.merged')`, nil, scanOne[string])
	if err != nil {
		return 0, err
	}
	chunks := sm.chunks(scopes, failureChunkScopes)
	for i, c := range chunks {
		if err := m.attributeFailurePass(ctx, gen, args, keySet{name: "failure_scopes", keys: c}, sm.sameEntity); err != nil {
			return i, err
		}
	}
	return len(chunks), nil
}

// revertsOnly is the PREWHERE clause that keeps, of merged changes, the
// events with a version that reverts something (a failure signal), so that
// FINAL merges theirs alone: reverts are few, merged changes many (11M
// events: the read took 0.42–0.52 CPU-s against 0.60–1.0). It tests the
// identity (idh), which every version of an event shares, so it is exact; the
// WHERE clause keeps the reverting ones of their newest versions.
var revertsOnly = "PREWHERE type != 'change.merged' OR idh IN (SELECT idh FROM events WHERE type = 'change.merged' AND " + strAttr("reverts") + " != '')\n"

// failureEvents are what one read of events gives failure attribution: the
// successful production deployments and the failure signals, each incident
// once, and the scopes where some signal names a change.
type failureEvents struct {
	deploys   []deployRow
	signals   []signalRow
	incidents map[scopeKey]int // (scope, incident id) → index in signals: each incident counts once
	changes   map[string]bool  // scopes some signal names a change in
}

// failureColumns are the columns of a read of events that failureEvents.add
// scans.
var failureColumns = `scope, type, id, time, related, ` + strAttr("sha") + `, ` + strAttr("deployment_id") + `,
  ` + strAttr("reverts") + `, if(` + strAttr("change") + ` != '', ` + strAttr("change") + `, if(` + numAttr("change") + ` > 0, toString(toUInt64(` + numAttr("change") + `)), '')),
  ` + strAttr("incident_id") + `, ` + isRollback

// isRollback is the condition that a deployment's row says it is a rollback.
var isRollback = "(" + numAttr("rollback") + " > 0 OR lower(" + strAttr("rollback") + ") = 'true')"

// readFailureEvents reads the rows of query (failureColumns FROM events FINAL).
func (m *Metrics) readFailureEvents(ctx context.Context, query string, args []any) (*failureEvents, error) {
	fe := &failureEvents{incidents: map[scopeKey]int{}, changes: map[string]bool{}}
	if err := m.db.queryEach(ctx, query, args, fe.add); err != nil {
		return nil, fmt.Errorf("read deployments and failure signals: %w", err)
	}
	return fe, nil
}

func (fe *failureEvents) add(row scanner) error {
	var (
		scope, typ, id, sha, depID, reverts, change, iid string
		t                                                time.Time
		related                                          []string
		rollback                                         uint8
	)
	if err := row.Scan(&scope, &typ, &id, &t, &related, &sha, &depID, &reverts, &change, &iid, &rollback); err != nil {
		return err
	}
	shas := related
	if sha != "" && !slices.Contains(shas, sha) {
		shas = append(slices.Clone(shas), sha)
	}
	switch typ {
	case yardstick.DeploymentSucceeded:
		fe.deploys = append(fe.deploys, deployRow{scope: scope, id: id, t: t, shas: shas, rollback: rollback > 0, reverts: reverts})
		if rollback > 0 {
			fe.signals = append(fe.signals, signalRow{scope: scope, typ: typ, id: id, t: t, deploymentID: depID, reverts: reverts, change: change})
		}
	case yardstick.IncidentTriggered:
		key := scopeKey{scope, cmp.Or(iid, id)}
		s := signalRow{scope: scope, typ: typ, id: cmp.Or(iid, id), t: t, deploymentID: depID, shas: shas, change: change, reverts: reverts}
		if i, ok := fe.incidents[key]; ok {
			if t.Before(fe.signals[i].t) {
				fe.signals[i] = s
			}
			return nil
		}
		fe.incidents[key] = len(fe.signals)
		fe.signals = append(fe.signals, s)
	case yardstick.ChangeMerged:
		fe.signals = append(fe.signals, signalRow{scope: scope, typ: typ, id: id, t: t, reverts: reverts})
	}
	if change != "" {
		fe.changes[scope] = true
	}
	return nil
}

// changeScopes are the scopes whose merge commits the signals of fe that
// name a change look in.
func (fe *failureEvents) changeScopes(sameEntity func(string) []string) []string {
	var scopes []string
	for sc := range fe.changes {
		scopes = append(scopes, sameEntity(sc)...)
		scopes = append(scopes, sc)
	}
	return scopes
}

// attributeFailurePass attributes the failure signals of the scopes in set,
// and writes their links.
func (m *Metrics) attributeFailurePass(ctx context.Context, gen uint64, args []any, set keySet, sameEntity func(string) []string) error {
	qctx, err := withKeySets(ctx, set)
	if err != nil {
		return err
	}
	fe, err := m.readFailureEvents(qctx, `SELECT `+failureColumns+`
FROM events FINAL
`+revertsOnly+`WHERE type IN ('deployment.succeeded', 'incident.triggered', 'change.merged') AND `+live+` AND `+set.in("scope")+`
  AND ((type = 'deployment.succeeded' AND `+isProd+`) OR type = 'incident.triggered'
  OR (type = 'change.merged' AND `+strAttr("reverts")+` != ''))`, args)
	if err != nil {
		return err
	}
	mergeSHA := map[scopeKey]string{}
	if len(fe.changes) > 0 {
		if mergeSHA, err = m.mergeCommits(ctx, fe.changeScopes(sameEntity), nil); err != nil {
			return err
		}
	}
	return m.writeFailureLinks(ctx, gen, attributeFailures(fe.deploys, fe.signals, mergeSHA, sameEntity, m.cfg.FailureWindow))
}

// writeFailureLinks writes links into generation gen.
func (m *Metrics) writeFailureLinks(ctx context.Context, gen uint64, links []yardstick.FailureLink) error {
	if len(links) == 0 {
		return nil
	}
	err := m.db.insert(ctx, `INSERT INTO deployment_failures (gen, deploy_scope, deploy_id, deploy_time, signal_scope, signal_type, signal_id, signal_time, basis)`, func(b driver.Batch) error {
		for _, l := range links {
			if err := b.Append(gen, string(l.DeployScope), l.DeployID, l.DeployTime.UTC(), string(l.SignalScope), l.SignalType, l.SignalID, l.SignalTime.UTC(), l.Basis); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write failure links: %w", err)
	}
	return nil
}

// mergeCommits returns the merge commit of each merged change in scopes, by
// (scope, change number); with numbers, of those numbers only, whose events
// it finds by identity before FINAL merges them (exact: every version of an
// event has its identity).
func (m *Metrics) mergeCommits(ctx context.Context, scopes, numbers []string) (map[scopeKey]string, error) {
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	set := keySet{name: "merge_scopes", keys: scopes} // an external table: the statement stays small (keyset.go)
	sets, pre := []keySet{set}, ""
	number := "toString(toUInt64(" + numAttr("number") + "))"
	if numbers != nil {
		nums := keySet{name: "merge_numbers", keys: numbers}
		sets = append(sets, nums)
		pre = "PREWHERE idh IN (SELECT idh FROM events WHERE type = 'change.merged' AND " + set.in("scope") + " AND " + nums.in(number) + ")\n"
	}
	ctx, err := withKeySets(ctx, sets...)
	if err != nil {
		return nil, fmt.Errorf("read merge commits: %w", err)
	}
	out := map[scopeKey]string{}
	err = m.db.queryEach(ctx, `SELECT scope, `+number+`, `+strAttr("merge_commit_sha")+` FROM events FINAL
`+pre+`WHERE type = 'change.merged' AND `+live+` AND `+set.in("scope")+` AND `+numAttr("number")+` > 0`, nil, func(row scanner) error {
		var scope, number, sha string
		if err := row.Scan(&scope, &number, &sha); err != nil {
			return err
		}
		if sha != "" {
			out[scopeKey{scope, number}] = strings.TrimSpace(sha)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read merge commits: %w", err)
	}
	return out, nil
}
