package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/yardstick-dev/yardstick"
)

// Key sets. A statement's text never grows with the catalog: a list of entity
// refs or scopes travels beside the query as an external table (one String
// column "k"), which ClickHouse reads like a temporary table for that one
// query, and the query selects from it (`x IN (SELECT k FROM name)`). The
// native protocol has carried external tables since long before 18.16.

// keySet is one external table of keys.
type keySet struct {
	name string
	keys []string
}

// in returns the condition "col is one of the set".
func (k keySet) in(col string) string { return col + " IN (SELECT k FROM " + k.name + ")" }

// withKeySets returns ctx carrying the sets as external tables of the next query.
func withKeySets(ctx context.Context, sets ...keySet) (context.Context, error) {
	tables := make([]*ext.Table, 0, len(sets))
	for _, s := range sets {
		t, err := ext.NewTable(s.name, ext.Column("k", "String"))
		if err != nil {
			return nil, fmt.Errorf("key set %s: %w", s.name, err)
		}
		for _, k := range s.keys {
			if err := t.Append(k); err != nil {
				return nil, fmt.Errorf("key set %s: %w", s.name, err)
			}
		}
		tables = append(tables, t)
	}
	return withExternalTables(ctx, tables...), nil
}

func refKeys(name string, refs []yardstick.EntityRef) keySet {
	return keySet{name: name, keys: refStrings(refs)}
}

func scopeKeys(name string, scopes []yardstick.Scope) keySet {
	return keySet{name: name, keys: scopeStrings(scopes)}
}

// EntityPage returns at most limit current entities whose refs sort after
// after ("" for the first page), ordered by ref: scoring walks the catalog a
// page at a time, so its memory does not grow with the catalog.
func (db *DB) EntityPage(ctx context.Context, after yardstick.EntityRef, limit int) ([]yardstick.Entity, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("entity page after %q: limit %d must be positive: %w", after, limit, yardstick.ErrInvalid)
	}
	es, err := db.queryEntities(ctx, " AND ref IN (SELECT ref FROM entities FINAL WHERE deleted = 0 AND ref > ? ORDER BY ref LIMIT ?)", string(after), limit)
	if err != nil {
		return nil, fmt.Errorf("entity page after %q: %w", after, err)
	}
	return es, nil
}

// EntityMetrics is MetricsByEntity for the given entities only: the
// entities' scopes go to ClickHouse as an external table, so scoring can
// read metrics a batch of entities at a time. Entities that own no scope are
// absent from the result.
func (m *Metrics) EntityMetrics(ctx context.Context, names []string, w yardstick.Window, refs []yardstick.EntityRef) (map[yardstick.EntityRef]map[string]float64, error) {
	byFamily, order, cat, err := m.planEntities(ctx, names, w)
	if err != nil {
		return nil, err
	}
	out := map[yardstick.EntityRef]map[string]float64{}
	g := &groupKeys{}
	for _, ref := range refs {
		scopes := cat.scopes[ref]
		if len(scopes) == 0 {
			continue
		}
		out[ref] = map[string]float64{}
		for _, sc := range scopes {
			g.add(sc, string(ref))
		}
	}
	if len(out) == 0 || len(order) == 0 {
		return out, nil
	}
	if err := m.fillEntityMetrics(ctx, cat, byFamily, order, w, g, out, false); err != nil {
		return nil, err
	}
	for ref, vals := range out {
		if len(vals) == 0 && !hasSourceScope(cat.scopes[ref]) {
			delete(out, ref) // as MetricsByEntity: only entities some source reports on
		}
	}
	return out, nil
}

// CatalogVersion returns a value that changes whenever the catalog or its
// scope mappings are written (and, harmlessly, when ClickHouse merges their
// parts): readers that keep the catalog in memory re-read it only then. It
// reads two columns, without FINAL, so it costs milliseconds at any size.
// The two tables are read by the branches of one UNION ALL, which ClickHouse
// runs side by side (in cluster mode each is a distributed query; scalar
// subqueries would run one after the other).
func (db *DB) CatalogVersion(ctx context.Context) (string, error) {
	var v [2][2]uint64 // entities, scope_mappings: max(version), count()
	err := db.queryEach(ctx, `SELECT 0 AS t, max(version), count() FROM entities
UNION ALL SELECT 1 AS t, max(version), count() FROM scope_mappings`, nil, func(row scanner) error {
		var (
			t         uint8
			top, rows uint64
		)
		if err := row.Scan(&t, &top, &rows); err != nil {
			return err
		}
		v[t&1] = [2]uint64{top, rows}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read catalog version: %w", err)
	}
	return fmt.Sprintf("%d/%d/%d/%d", v[0][0], v[0][1], v[1][0], v[1][1]), nil
}
