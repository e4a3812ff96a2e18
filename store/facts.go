package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// WriteFacts stores facts as the latest value of (scope, source, name) and
// appends them to the fact history, once per observation time.
func (db *DB) WriteFacts(ctx context.Context, facts []yardstick.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	for _, f := range facts {
		if f.Source == "" || f.Scope == "" || f.Name == "" {
			return fmt.Errorf("fact %q of %s: source, scope and name are required: %w", f.Name, f.Scope, yardstick.ErrInvalid)
		}
		if !json.Valid(f.Value) {
			return fmt.Errorf("fact %s of %s: value is not JSON: %w", f.Name, f.Scope, yardstick.ErrInvalid)
		}
	}
	// The version orders rewrites; a fact observed earlier than the stored one must
	// not replace it, so the observation time leads and the write time breaks ties.
	wrote := db.version()
	for _, table := range []string{"facts", "fact_history"} {
		err := db.insert(ctx, "INSERT INTO "+table+" (scope, source, name, value, observed_at, version)", func(b driver.Batch) error {
			for _, f := range facts {
				ver := uint64(f.ObservedAt.Unix())<<20 | wrote&(1<<20-1)
				if err := b.Append(string(f.Scope), f.Source, f.Name, string(f.Value), f.ObservedAt.UTC(), ver); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write %d facts to %s: %w", len(facts), table, err)
		}
	}
	return nil
}

// FactsByScope returns the latest facts of one source (all sources when empty).
func (db *DB) FactsByScope(ctx context.Context, source string) ([]yardstick.Fact, error) {
	q := "SELECT scope, source, name, value, observed_at FROM facts FINAL"
	var args []any
	if source != "" {
		q += " WHERE source = ?"
		args = append(args, source)
	}
	q += " ORDER BY scope, source, name"
	return db.queryFacts(ctx, q, args...)
}

// FactHistory returns every observation of one fact of a scope, oldest first.
func (db *DB) FactHistory(ctx context.Context, scope yardstick.Scope, source, name string) ([]yardstick.Fact, error) {
	return db.queryFacts(ctx, "SELECT scope, source, name, value, observed_at FROM fact_history FINAL WHERE scope = ? AND source = ? AND name = ? ORDER BY observed_at",
		string(scope), source, name)
}

func (db *DB) queryFacts(ctx context.Context, q string, args ...any) ([]yardstick.Fact, error) {
	return queryRows(ctx, db, "query facts", q, args, func(row scanner) (yardstick.Fact, error) {
		var f yardstick.Fact
		var scope, value string
		err := row.Scan(&scope, &f.Source, &f.Name, &value, &f.ObservedAt)
		f.Scope, f.Value, f.ObservedAt = yardstick.Scope(scope), json.RawMessage(value), f.ObservedAt.UTC()
		return f, err
	})
}

// LatestFacts returns the latest facts of each entity, gathered from every
// scope the catalog maps to it and from its entity scope, in one query. With
// no refs it returns the facts of every entity. Values are decoded JSON.
func (db *DB) LatestFacts(ctx context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
	return db.factsAsOf(ctx, refs, time.Time{})
}

// FactsAsOf is LatestFacts as the store knew them at t, from the fact history:
// scoring uses it to replay past weeks.
func (db *DB) FactsAsOf(ctx context.Context, refs []yardstick.EntityRef, t time.Time) (map[yardstick.EntityRef]yardstick.Facts, error) {
	return db.factsAsOf(ctx, refs, t)
}

func (db *DB) factsAsOf(ctx context.Context, refs []yardstick.EntityRef, asOf time.Time) (map[yardstick.EntityRef]yardstick.Facts, error) {
	// The refs travel as an external table, so the statement's size does not
	// depend on how many entities are asked for. One JOIN per SELECT keeps it
	// within 18.16.
	mappings := "SELECT scope, entity FROM scope_mappings FINAL WHERE deleted = 0"
	if len(refs) > 0 {
		set := refKeys("fact_refs", refs)
		var err error
		if ctx, err = withKeySets(ctx, set); err != nil {
			return nil, fmt.Errorf("query latest facts: %w", err)
		}
		mappings += " AND " + set.in("entity")
	}
	scopes := "scope IN (SELECT scope FROM (" + mappings + "))"
	source := "SELECT scope, source, name, value, observed_at FROM facts FINAL WHERE " + scopes
	var args []any
	if !asOf.IsZero() {
		source = `SELECT scope, source, name, v AS value, t AS observed_at FROM (
			SELECT scope, source, name, argMax(value, observed_at) AS v, max(observed_at) AS t
			FROM fact_history FINAL WHERE observed_at <= ? AND ` + scopes + ` GROUP BY scope, source, name)`
		args = append(args, asOf.UTC())
	}
	q := `SELECT m.entity, f.source, f.name, f.value, f.observed_at
		FROM (` + source + `) AS f
		ALL INNER JOIN (` + mappings + `) AS m USING scope
		ORDER BY m.entity, f.source, f.name, f.observed_at`
	out := map[yardstick.EntityRef]yardstick.Facts{}
	aliasAt := map[aliasKey]time.Time{} // when each aliased fact was observed
	err := db.queryEach(ctx, q, args, func(row scanner) error {
		var entity, source, name, value string
		var at time.Time
		if err := row.Scan(&entity, &source, &name, &value, &at); err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return fmt.Errorf("fact %s.%s of %s: %w", source, name, entity, err)
		}
		ref := yardstick.EntityRef(entity)
		fs := out[ref]
		if fs == nil {
			fs = yardstick.Facts{}
			out[ref] = fs
		}
		if fs[source] == nil {
			fs[source] = map[string]any{}
		}
		// Ordered by observed_at: when two scopes of one entity carry the same fact
		// (two repositories), the newest observation wins.
		fs[source][name] = v
		// The fact is also visible under the source's further namespaces
		// (Config.FactNamespaces: facts.git.* for github and gitlab). Rows come
		// ordered by source first, so across sources the newest wins by time.
		for _, ns := range db.namespacesOf(source) {
			k := aliasKey{ref, ns, name}
			if last, ok := aliasAt[k]; ok && at.Before(last) {
				continue
			}
			aliasAt[k] = at
			if fs[ns] == nil {
				fs[ns] = map[string]any{}
			}
			fs[ns][name] = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query latest facts: %w", err)
	}
	return out, nil
}

// aliasKey is one fact of an entity under a further namespace of its source.
type aliasKey struct {
	ref      yardstick.EntityRef
	ns, name string
}

// namespacesOf returns the further namespaces source's facts are visible
// under (Config.FactNamespaces).
func (db *DB) namespacesOf(source string) []string {
	if db.factNamespaces == nil {
		return nil
	}
	return db.factNamespaces(source)
}

// Cursor returns a saved cursor, "" when the key was never saved.
func (db *DB) Cursor(ctx context.Context, key string) (string, error) {
	vs, err := queryRows(ctx, db, "read cursor "+key, "SELECT value FROM cursors FINAL WHERE key = ?", []any{key}, scanOne[string])
	if err != nil {
		return "", err
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// SaveCursor saves a cursor, replacing the previous value.
func (db *DB) SaveCursor(ctx context.Context, key, value string) error {
	err := db.insert(ctx, "INSERT INTO cursors (key, value, version)", func(b driver.Batch) error {
		return b.Append(key, value, db.version())
	})
	if err != nil {
		return fmt.Errorf("save cursor %s: %w", key, err)
	}
	return nil
}
