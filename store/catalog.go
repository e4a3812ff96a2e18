package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// CatalogChanges counts what ReplaceCatalog did.
type CatalogChanges struct {
	Added, Changed, Removed, Unchanged int
	MappingsAdded, MappingsRemoved     int
}

// ReplaceCatalog makes entities the current catalog: new and changed entities
// are written and recorded in entity_history, entities no longer present are
// tombstoned, and scope mappings are recomputed from annotations. Re-homing a
// repository in the catalog therefore re-homes its events without collecting again.
func (db *DB) ReplaceCatalog(ctx context.Context, entities []yardstick.Entity) (CatalogChanges, error) {
	return db.syncCatalog(ctx, entities, true)
}

// UpsertCatalog writes new and changed entities but removes nothing: an import
// in which some files failed uses it, so entities of a broken file are not lost.
func (db *DB) UpsertCatalog(ctx context.Context, entities []yardstick.Entity) (CatalogChanges, error) {
	return db.syncCatalog(ctx, entities, false)
}

func (db *DB) syncCatalog(ctx context.Context, entities []yardstick.Entity, removeMissing bool) (CatalogChanges, error) {
	var ch CatalogChanges
	current, err := db.entityHashes(ctx)
	if err != nil {
		return ch, err
	}
	now := db.now().UTC().Truncate(time.Second)
	ver := db.version()
	type hist struct {
		ref, change, owner, body string
		hash                     uint64
	}
	var history []hist
	seen := make(map[yardstick.EntityRef]bool, len(entities))
	var write []yardstick.Entity
	hashes := make([]uint64, 0, len(entities))
	for _, e := range entities {
		seen[e.Ref] = true
		body, h := entityBody(e)
		old, ok := current[e.Ref]
		switch {
		case !ok:
			ch.Added++
			history = append(history, hist{string(e.Ref), "added", string(e.Owner), body, h})
		case old != h:
			ch.Changed++
			history = append(history, hist{string(e.Ref), "changed", string(e.Owner), body, h})
		default:
			ch.Unchanged++
			continue
		}
		write = append(write, e)
		hashes = append(hashes, h)
	}
	var removed []yardstick.EntityRef
	for ref := range current {
		if removeMissing && !seen[ref] {
			removed = append(removed, ref)
			history = append(history, hist{string(ref), "removed", "", "", 0})
		}
	}
	ch.Removed = len(removed)

	if len(write) > 0 || len(removed) > 0 {
		err := db.insert(ctx, `INSERT INTO entities (ref, kind, namespace, name, title, description, type, lifecycle, owner, system, domain, parent,
			children, members, member_of, depends_on, provides_apis, consumes_apis, tags, label_keys, label_values, annotation_keys, annotation_values,
			api_version, spec, location, hash, version, deleted)`, func(b driver.Batch) error {
			for i, e := range write {
				lk, lv := sortedStrs(e.Labels)
				ak, av := sortedStrs(e.Annotations)
				if err := b.Append(string(e.Ref), e.Kind, e.Namespace, e.Name, e.Title, e.Description, e.Type, e.Lifecycle,
					string(e.Owner), string(e.System), string(e.Domain), string(e.Parent),
					refStrings(e.Children), refStrings(e.Members), refStrings(e.MemberOf), refStrings(e.DependsOn),
					refStrings(e.ProvidesAPIs), refStrings(e.ConsumesAPIs), nonNil(e.Tags), lk, lv, ak, av,
					e.APIVersion, e.Spec, e.Location, hashes[i], ver, uint8(0)); err != nil {
					return fmt.Errorf("append entity %s: %w", e.Ref, err)
				}
			}
			for _, ref := range removed {
				if err := b.Append(string(ref), ref.Kind(), ref.Namespace(), ref.Name(), "", "", "", "", "", "", "", "",
					[]string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{},
					"", "", "", uint64(0), ver, uint8(1)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return ch, fmt.Errorf("write entities: %w", err)
		}
	}
	if len(history) > 0 {
		err := db.insert(ctx, "INSERT INTO entity_history (ref, changed_at, change, owner, body, hash)", func(b driver.Batch) error {
			for _, h := range history {
				if err := b.Append(h.ref, now, h.change, h.owner, h.body, h.hash); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return ch, fmt.Errorf("write entity history: %w", err)
		}
	}
	added, removedMappings, err := db.replaceMappings(ctx, entities, ver, removeMissing)
	ch.MappingsAdded, ch.MappingsRemoved = added, removedMappings
	return ch, err
}

// replaceMappings recomputes scope mappings from annotations. Without
// removeMissing only the mappings of the given entities are touched.
func (db *DB) replaceMappings(ctx context.Context, entities []yardstick.Entity, ver uint64, removeMissing bool) (int, int, error) {
	current, err := db.ScopeMappings(ctx)
	if err != nil {
		return 0, 0, err
	}
	have := map[yardstick.ScopeMapping]bool{}
	for _, m := range current {
		have[m] = true
	}
	want := map[yardstick.ScopeMapping]bool{}
	for _, e := range entities {
		// Every entity owns its own "entity:<ref>" scope, so events and facts
		// pushed straight at an entity resolve the same way as source scopes.
		want[yardstick.ScopeMapping{Scope: yardstick.EntityScope(e.Ref), Entity: e.Ref}] = true
		if db.scopesOf == nil {
			continue
		}
		for _, s := range db.scopesOf(e) {
			want[yardstick.ScopeMapping{Scope: s, Entity: e.Ref}] = true
		}
	}
	type row struct {
		m       yardstick.ScopeMapping
		deleted uint8
	}
	var rows []row
	added, removed := 0, 0
	for m := range want {
		if !have[m] {
			rows = append(rows, row{m, 0})
			added++
		}
	}
	given := make(map[yardstick.EntityRef]bool, len(entities))
	for _, e := range entities {
		given[e.Ref] = true
	}
	for m := range have {
		if !want[m] && (removeMissing || given[m.Entity]) {
			rows = append(rows, row{m, 1})
			removed++
		}
	}
	if len(rows) == 0 {
		return 0, 0, nil
	}
	err = db.insert(ctx, "INSERT INTO scope_mappings (scope, entity, version, deleted)", func(b driver.Batch) error {
		for _, r := range rows {
			if err := b.Append(string(r.m.Scope), string(r.m.Entity), ver, r.deleted); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("write scope mappings: %w", err)
	}
	return added, removed, nil
}

func (db *DB) entityHashes(ctx context.Context) (map[yardstick.EntityRef]uint64, error) {
	rows, err := db.conn.Query(ctx, "SELECT ref, hash FROM entities FINAL WHERE deleted = 0")
	if err != nil {
		return nil, fmt.Errorf("read entity hashes: %w", err)
	}
	defer rows.Close()
	out := map[yardstick.EntityRef]uint64{}
	for rows.Next() {
		var ref string
		var h uint64
		if err := rows.Scan(&ref, &h); err != nil {
			return nil, err
		}
		out[yardstick.EntityRef(ref)] = h
	}
	return out, rows.Err()
}

// entityBody is the JSON kept in history and the hash that detects change; the
// location is left out so moving a file is not a change of the entity.
func entityBody(e yardstick.Entity) (string, uint64) {
	e.Location = ""
	b, _ := json.Marshal(e)
	h := fnv.New64a()
	h.Write(b)
	return string(b), h.Sum64()
}

// ScopeMappings returns the current scope → entity mappings.
func (db *DB) ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error) {
	rows, err := db.conn.Query(ctx, "SELECT scope, entity FROM scope_mappings FINAL WHERE deleted = 0 ORDER BY scope, entity")
	if err != nil {
		return nil, fmt.Errorf("read scope mappings: %w", err)
	}
	defer rows.Close()
	var out []yardstick.ScopeMapping
	for rows.Next() {
		var s, e string
		if err := rows.Scan(&s, &e); err != nil {
			return nil, err
		}
		out = append(out, yardstick.ScopeMapping{Scope: yardstick.Scope(s), Entity: yardstick.EntityRef(e)})
	}
	return out, rows.Err()
}

// Entities returns the current catalog, ordered by ref.
func (db *DB) Entities(ctx context.Context) ([]yardstick.Entity, error) {
	return db.queryEntities(ctx, "")
}

// Entity returns one entity, ErrNotFound when the catalog has no such ref.
func (db *DB) Entity(ctx context.Context, ref yardstick.EntityRef) (yardstick.Entity, error) {
	es, err := db.queryEntities(ctx, " AND ref = ?", string(ref))
	if err != nil {
		return yardstick.Entity{}, err
	}
	if len(es) == 0 {
		return yardstick.Entity{}, fmt.Errorf("entity %s: %w", ref, yardstick.ErrNotFound)
	}
	return es[0], nil
}

func (db *DB) queryEntities(ctx context.Context, where string, args ...any) ([]yardstick.Entity, error) {
	rows, err := db.conn.Query(ctx, `SELECT ref, kind, namespace, name, title, description, type, lifecycle, owner, system, domain, parent,
		children, members, member_of, depends_on, provides_apis, consumes_apis, tags, label_keys, label_values, annotation_keys, annotation_values,
		api_version, spec, location FROM entities FINAL WHERE deleted = 0`+where+` ORDER BY ref`, args...)
	if err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	defer rows.Close()
	var out []yardstick.Entity
	for rows.Next() {
		var (
			e                                                yardstick.Entity
			ref, owner, system, domain, parent               string
			children, members, memberOf, dependsOn, provides []string
			consumes, lk, lv, ak, av                         []string
		)
		if err := rows.Scan(&ref, &e.Kind, &e.Namespace, &e.Name, &e.Title, &e.Description, &e.Type, &e.Lifecycle,
			&owner, &system, &domain, &parent, &children, &members, &memberOf, &dependsOn, &provides, &consumes,
			&e.Tags, &lk, &lv, &ak, &av, &e.APIVersion, &e.Spec, &e.Location); err != nil {
			return nil, fmt.Errorf("scan entity: %w", err)
		}
		e.Ref, e.Owner, e.System, e.Domain, e.Parent = yardstick.EntityRef(ref), yardstick.EntityRef(owner), yardstick.EntityRef(system), yardstick.EntityRef(domain), yardstick.EntityRef(parent)
		e.Children, e.Members, e.MemberOf = toRefs(children), toRefs(members), toRefs(memberOf)
		e.DependsOn, e.ProvidesAPIs, e.ConsumesAPIs = toRefs(dependsOn), toRefs(provides), toRefs(consumes)
		e.Labels, e.Annotations = zipMap(lk, lv), zipMap(ak, av)
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func toRefs(ss []string) []yardstick.EntityRef {
	if len(ss) == 0 {
		return nil
	}
	out := make([]yardstick.EntityRef, len(ss))
	for i, s := range ss {
		out[i] = yardstick.EntityRef(s)
	}
	return out
}

func zipMap(k, v []string) map[string]string {
	if len(k) == 0 {
		return nil
	}
	m := make(map[string]string, len(k))
	for i := range k {
		m[k[i]] = v[i]
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
