package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// CatalogChanges counts what a catalog sync did.
type CatalogChanges struct {
	Added, Changed, Removed, Unchanged int
	MappingsAdded, MappingsRemoved     int
}

// Conflict is an entity ref provided by two sources. The first keeps it.
type Conflict struct {
	Ref      yardstick.EntityRef
	Location string // where the second source defines it
	Owner    string // the source that has it
	OwnerAt  string // where that source defines it
}

// Error names both places and both sources.
func (c Conflict) Error() string {
	return fmt.Sprintf("%s: entity %s is already provided by source %s at %s; the first source keeps it, skipped here", c.Location, c.Ref, c.Owner, c.OwnerAt)
}

// Unwrap makes every Conflict an ErrInvalid.
func (c Conflict) Unwrap() error { return yardstick.ErrInvalid }

// ShrinkError is a replace refused because it would remove too much of its
// source: it found no entity, or it would remove more than the allowed share.
type ShrinkError struct {
	Source       string
	Have, Found  int                   // entities of the source stored, and found by the import
	Remove       int                   // how many the replace would remove
	Kinds        map[string]int        // how many of each kind
	First        []yardstick.EntityRef // the first of them, by ref
	MaxShrinkPct float64
}

// Error says what the refused replace would remove: counts per kind and the first refs.
func (e *ShrinkError) Error() string {
	refs := make([]string, len(e.First))
	for i, r := range e.First {
		refs[i] = string(r)
	}
	list := strings.Join(refs, ", ")
	if e.Remove > len(e.First) {
		list += fmt.Sprintf(", … %d more", e.Remove-len(e.First))
	}
	why := fmt.Sprintf("over %.0f%% of them", e.MaxShrinkPct)
	if e.Found == 0 {
		why = "it found no entity"
	}
	if e.Remove == 0 {
		return fmt.Sprintf("catalog source %s: the import found no entity; refused, nothing changed", e.Source)
	}
	kinds := make([]string, 0, len(e.Kinds))
	for k, n := range e.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("catalog source %s: the import found %d entities and would remove %d of its %d (%s; %s): %s; refused, nothing changed",
		e.Source, e.Found, e.Remove, e.Have, why, strings.Join(kinds, ", "), list)
}

// Unwrap makes a ShrinkError an ErrInvalid.
func (e *ShrinkError) Unwrap() error { return yardstick.ErrInvalid }

// DefaultMaxShrink is the share of a source's entities a replace may remove
// without SyncOptions.AllowShrink.
const DefaultMaxShrink = 0.5

// SyncOptions say how SyncSource treats the source's stored entities.
type SyncOptions struct {
	// Replace removes the source's entities the import no longer provides. An
	// import with errors must not replace, so that a broken file loses nothing.
	Replace bool
	// AllowShrink lets a replace remove any share of the source, even all of it.
	AllowShrink bool
	// MaxShrink is the share (0..1] of the source's entities a replace may
	// remove; 0 means DefaultMaxShrink. A replace that finds no entity is
	// refused whatever the share.
	MaxShrink float64
	// Errors is how many problems the import had, recorded with it.
	Errors int
}

// CatalogEntities is what a source provides, as SyncSource reads it: where
// each ref is defined, and the entities in batches (catalog.Scan satisfies it).
type CatalogEntities interface {
	Located() map[yardstick.EntityRef]string
	EachBatch(ctx context.Context, size int, fn func([]yardstick.Entity) error) error
}

// catalogBatch is how many entities SyncSource writes per insert.
const catalogBatch = 1000

// catalogMu serialises catalog syncs of this process, so that two sources
// refreshed at once cannot both claim the same new ref.
var catalogMu sync.Mutex

// ReplaceCatalog makes entities the whole of the unnamed source "": new and
// changed entities are written and recorded in entity_history, entities of
// that source no longer present are tombstoned, and scope mappings are
// recomputed from annotations. Entities of named sources are left alone.
func (db *DB) ReplaceCatalog(ctx context.Context, entities []yardstick.Entity) (CatalogChanges, error) {
	ch, _, err := db.SyncSource(ctx, "", entitySlice(entities), SyncOptions{Replace: true, AllowShrink: true})
	return ch, err
}

// UpsertCatalog writes new and changed entities of the unnamed source but
// removes nothing.
func (db *DB) UpsertCatalog(ctx context.Context, entities []yardstick.Entity) (CatalogChanges, error) {
	ch, _, err := db.SyncSource(ctx, "", entitySlice(entities), SyncOptions{})
	return ch, err
}

type entitySlice []yardstick.Entity

func (s entitySlice) Located() map[yardstick.EntityRef]string {
	m := make(map[yardstick.EntityRef]string, len(s))
	for _, e := range s {
		m[e.Ref] = e.Location
	}
	return m
}

func (s entitySlice) EachBatch(_ context.Context, size int, fn func([]yardstick.Entity) error) error {
	for i := 0; i < len(s); i += size {
		if err := fn(s[i:min(i+size, len(s))]); err != nil {
			return err
		}
	}
	return nil
}

// stored is what the store knows of one current entity.
type stored struct {
	hash             uint64
	source, location string
}

// SyncSource makes ents the catalog of source. New and changed entities are
// written with their source and recorded in entity_history; an entity another
// source already provides is a Conflict, skipped (the first source keeps it);
// entities stored without a source (before sources existed) are adopted. With
// opts.Replace, and no conflict, the source's entities that ents no longer
// holds are tombstoned with their scope mappings; a replace that finds no
// entity or removes more than opts.MaxShrink of the source is refused with a
// *ShrinkError before anything is written. Entities of other sources are never
// touched. Entities are written in batches as ents hands them out. The
// conflicts are returned ordered by location.
func (db *DB) SyncSource(ctx context.Context, source string, ents CatalogEntities, opts SyncOptions) (CatalogChanges, []Conflict, error) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	var ch CatalogChanges
	current, err := db.entityIndex(ctx)
	if err != nil {
		return ch, nil, err
	}
	located := ents.Located()
	var conflicts []Conflict
	for ref, loc := range located {
		if cur, ok := current[ref]; ok && cur.source != source && cur.source != "" {
			conflicts = append(conflicts, Conflict{Ref: ref, Location: loc, Owner: cur.source, OwnerAt: cur.location})
		}
	}
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].Location < conflicts[j].Location })
	ver := db.version()
	now := db.now().UTC().Truncate(time.Second)

	var removed []yardstick.EntityRef
	if opts.Replace && len(conflicts) == 0 {
		have := 0
		for ref, cur := range current {
			if cur.source != source {
				continue
			}
			have++
			if _, ok := located[ref]; !ok {
				removed = append(removed, ref)
			}
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
		if err := checkShrink(source, have, len(located), removed, opts); err != nil {
			if rerr := db.recordImport(ctx, source, now, ver, len(located), "refused", err.Error()); rerr != nil {
				return ch, conflicts, errors.Join(err, rerr)
			}
			return ch, conflicts, err
		}
	}

	mappings, err := db.mappingIndex(ctx)
	if err != nil {
		return ch, conflicts, err
	}
	err = ents.EachBatch(ctx, catalogBatch, func(batch []yardstick.Entity) error {
		return db.writeEntityBatch(ctx, source, batch, current, mappings, ver, now, &ch)
	})
	if err != nil {
		return ch, conflicts, err
	}
	if len(removed) > 0 {
		if err := db.retire(ctx, source, removed, mappings, ver, now, &ch); err != nil {
			return ch, conflicts, err
		}
	}
	status, msg := "ok", ""
	if opts.Errors > 0 || len(conflicts) > 0 {
		status, msg = "errors", fmt.Sprintf("%d error(s), %d conflict(s); nothing removed", opts.Errors, len(conflicts))
	}
	if err := db.recordImport(ctx, source, now, ver, len(located), status, msg); err != nil {
		return ch, conflicts, err
	}
	return ch, conflicts, nil
}

func checkShrink(source string, have, found int, removed []yardstick.EntityRef, opts SyncOptions) error {
	if opts.AllowShrink {
		return nil
	}
	maxShrink := opts.MaxShrink
	if maxShrink <= 0 {
		maxShrink = DefaultMaxShrink
	}
	if found > 0 && (have == 0 || float64(len(removed)) <= maxShrink*float64(have)) {
		return nil
	}
	kinds := map[string]int{}
	for _, r := range removed {
		kinds[r.Kind()]++
	}
	return &ShrinkError{Source: source, Have: have, Found: found, Remove: len(removed), Kinds: kinds, First: removed[:min(len(removed), 10)], MaxShrinkPct: maxShrink * 100}
}

// writeEntityBatch writes the new, changed, adopted and moved entities of one
// batch, their history and their scope mappings.
func (db *DB) writeEntityBatch(ctx context.Context, source string, batch []yardstick.Entity, current map[yardstick.EntityRef]stored,
	mappings map[yardstick.EntityRef][]yardstick.Scope, ver uint64, now time.Time, ch *CatalogChanges) error {
	type hist struct {
		ref, change, owner, body string
		hash                     uint64
	}
	var (
		history []hist
		write   []yardstick.Entity
		hashes  []uint64
		maps    []mappingRow
	)
	for _, e := range batch {
		cur, ok := current[e.Ref]
		if ok && cur.source != source && cur.source != "" {
			continue // a conflict: the first source keeps it
		}
		e.Source = source
		body, h := entityBody(e)
		switch {
		case !ok:
			ch.Added++
			history = append(history, hist{string(e.Ref), "added", string(e.Owner), body, h})
		case cur.hash != h:
			ch.Changed++
			history = append(history, hist{string(e.Ref), "changed", string(e.Owner), body, h})
		default:
			ch.Unchanged++
			if cur.source == source && cur.location == e.Location {
				maps = append(maps, db.mappingDiff(e, mappings[e.Ref])...)
				continue
			}
			// Adopted from the unnamed source, or moved to another file: not
			// a change of the entity, but the row must say where it is now.
		}
		write = append(write, e)
		hashes = append(hashes, h)
		maps = append(maps, db.mappingDiff(e, mappings[e.Ref])...)
	}
	if len(write) > 0 {
		err := db.insert(ctx, `INSERT INTO entities (ref, kind, namespace, name, title, description, type, lifecycle, owner, system, domain, parent,
			children, members, member_of, depends_on, provides_apis, consumes_apis, tags, label_keys, label_values, annotation_keys, annotation_values,
			api_version, spec, location, source, hash, version, deleted)`, func(b driver.Batch) error {
			for i, e := range write {
				lk, lv := sortedStrs(e.Labels)
				ak, av := sortedStrs(e.Annotations)
				if err := b.Append(string(e.Ref), e.Kind, e.Namespace, e.Name, e.Title, e.Description, e.Type, e.Lifecycle,
					string(e.Owner), string(e.System), string(e.Domain), string(e.Parent),
					refStrings(e.Children), refStrings(e.Members), refStrings(e.MemberOf), refStrings(e.DependsOn),
					refStrings(e.ProvidesAPIs), refStrings(e.ConsumesAPIs), nonNil(e.Tags), lk, lv, ak, av,
					e.APIVersion, e.Spec, e.Location, source, hashes[i], ver, uint8(0)); err != nil {
					return fmt.Errorf("append entity %s: %w", e.Ref, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write entities: %w", err)
		}
	}
	if len(history) > 0 {
		err := db.insert(ctx, "INSERT INTO entity_history (ref, changed_at, change, owner, body, hash, source)", func(b driver.Batch) error {
			for _, h := range history {
				if err := b.Append(h.ref, now, h.change, h.owner, h.body, h.hash, source); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write entity history: %w", err)
		}
	}
	return db.writeMappings(ctx, maps, ver, ch)
}

// annotationScopes are the scopes e's annotations name, from the source
// registry's ScopesOf the store was opened with (Config.ScopesOf). This is the
// one place the catalog sync asks which scopes an entity's annotations map.
func (db *DB) annotationScopes(e yardstick.Entity) []yardstick.Scope {
	if db.scopesOf == nil {
		return nil
	}
	return db.scopesOf(e)
}

type mappingRow struct {
	m       yardstick.ScopeMapping
	deleted uint8
}

// mappingDiff is what changes in e's scope mappings: every entity owns its
// own "entity:<ref>" scope, so events and facts pushed straight at an entity
// resolve the same way as source scopes, plus one scope per source annotation.
func (db *DB) mappingDiff(e yardstick.Entity, have []yardstick.Scope) []mappingRow {
	want := append([]yardstick.Scope{yardstick.EntityScope(e.Ref)}, db.annotationScopes(e)...)
	var out []mappingRow
	for _, s := range want {
		if !slices.Contains(have, s) && !slices.Contains(out, mappingRow{yardstick.ScopeMapping{Scope: s, Entity: e.Ref}, 0}) {
			out = append(out, mappingRow{yardstick.ScopeMapping{Scope: s, Entity: e.Ref}, 0})
		}
	}
	for _, s := range have {
		if !slices.Contains(want, s) {
			out = append(out, mappingRow{yardstick.ScopeMapping{Scope: s, Entity: e.Ref}, 1})
		}
	}
	return out
}

func (db *DB) writeMappings(ctx context.Context, rows []mappingRow, ver uint64, ch *CatalogChanges) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.insert(ctx, "INSERT INTO scope_mappings (scope, entity, version, deleted)", func(b driver.Batch) error {
		for _, r := range rows {
			if err := b.Append(string(r.m.Scope), string(r.m.Entity), ver, r.deleted); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write scope mappings: %w", err)
	}
	for _, r := range rows {
		if r.deleted == 1 {
			ch.MappingsRemoved++
		} else {
			ch.MappingsAdded++
		}
	}
	return nil
}

// retire tombstones refs of source with their scope mappings, and records
// their removal by source in entity_history.
func (db *DB) retire(ctx context.Context, source string, refs []yardstick.EntityRef, mappings map[yardstick.EntityRef][]yardstick.Scope, ver uint64, now time.Time, ch *CatalogChanges) error {
	for i := 0; i < len(refs); i += catalogBatch {
		part := refs[i:min(i+catalogBatch, len(refs))]
		err := db.insert(ctx, `INSERT INTO entities (ref, kind, namespace, name, title, description, type, lifecycle, owner, system, domain, parent,
			children, members, member_of, depends_on, provides_apis, consumes_apis, tags, label_keys, label_values, annotation_keys, annotation_values,
			api_version, spec, location, source, hash, version, deleted)`, func(b driver.Batch) error {
			for _, ref := range part {
				if err := b.Append(string(ref), ref.Kind(), ref.Namespace(), ref.Name(), "", "", "", "", "", "", "", "",
					[]string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{},
					"", "", "", source, uint64(0), ver, uint8(1)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("remove entities: %w", err)
		}
		err = db.insert(ctx, "INSERT INTO entity_history (ref, changed_at, change, owner, body, hash, source)", func(b driver.Batch) error {
			for _, ref := range part {
				if err := b.Append(string(ref), now, "removed", "", "", uint64(0), source); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write entity history: %w", err)
		}
		var rows []mappingRow
		for _, ref := range part {
			for _, s := range mappings[ref] {
				rows = append(rows, mappingRow{yardstick.ScopeMapping{Scope: s, Entity: ref}, 1})
			}
		}
		if err := db.writeMappings(ctx, rows, ver, ch); err != nil {
			return err
		}
		ch.Removed += len(part)
	}
	return nil
}

// recordImport notes the last import of a source for CatalogSources.
func (db *DB) recordImport(ctx context.Context, source string, at time.Time, ver uint64, found int, status, msg string) error {
	err := db.insert(ctx, "INSERT INTO catalog_sources (name, imported_at, found, status, message, version, deleted)", func(b driver.Batch) error {
		return b.Append(source, at, uint64(found), status, msg, ver, uint8(0))
	})
	if err != nil {
		return fmt.Errorf("record import of catalog source %s: %w", source, err)
	}
	return nil
}

// ForgetSource retires every entity of source, with its scope mappings, and
// records the removals in entity_history. It returns ErrNotFound when the
// store knows no such source.
func (db *DB) ForgetSource(ctx context.Context, source string) (CatalogChanges, error) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	var ch CatalogChanges
	current, err := db.entityIndex(ctx)
	if err != nil {
		return ch, err
	}
	var refs []yardstick.EntityRef
	for ref, cur := range current {
		if cur.source == source {
			refs = append(refs, ref)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i] < refs[j] })
	known, err := db.sourceRecorded(ctx, source)
	if err != nil {
		return ch, err
	}
	if len(refs) == 0 && !known {
		return ch, fmt.Errorf("catalog source %q: %w", source, yardstick.ErrNotFound)
	}
	mappings, err := db.mappingIndex(ctx)
	if err != nil {
		return ch, err
	}
	ver := db.version()
	now := db.now().UTC().Truncate(time.Second)
	if err := db.retire(ctx, source, refs, mappings, ver, now, &ch); err != nil {
		return ch, err
	}
	err = db.insert(ctx, "INSERT INTO catalog_sources (name, imported_at, found, status, message, version, deleted)", func(b driver.Batch) error {
		return b.Append(source, now, uint64(0), "forgotten", "", ver, uint8(1))
	})
	if err != nil {
		return ch, fmt.Errorf("forget catalog source %s: %w", source, err)
	}
	return ch, nil
}

func (db *DB) sourceRecorded(ctx context.Context, source string) (bool, error) {
	var n uint64
	err := db.queryEach(ctx, "SELECT count() FROM catalog_sources FINAL WHERE deleted = 0 AND name = ?", []any{source}, func(row scanner) error {
		return row.Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("read catalog sources: %w", err)
	}
	return n > 0, nil
}

// CatalogSource is one source of the catalog with what it provides now.
type CatalogSource struct {
	Name       string
	Entities   int       // current entities it provides
	LastImport time.Time // zero when it never imported (entities stored without a source)
	Found      int       // entities its last import found
	Status     string    // ok, errors or refused; empty when it never imported
	Message    string
}

// CatalogSources lists the sources that provide entities or were imported,
// ordered by name. Entities stored before sources existed are under "".
func (db *DB) CatalogSources(ctx context.Context) ([]CatalogSource, error) {
	by := map[string]*CatalogSource{}
	get := func(name string) *CatalogSource {
		if s, ok := by[name]; ok {
			return s
		}
		s := &CatalogSource{Name: name}
		by[name] = s
		return s
	}
	err := db.queryEach(ctx, "SELECT source, count() AS n FROM entities FINAL WHERE deleted = 0 GROUP BY source", nil, func(row scanner) error {
		var name string
		var n uint64
		err := row.Scan(&name, &n)
		get(name).Entities = int(n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count entities by source: %w", err)
	}
	err = db.queryEach(ctx, "SELECT name, imported_at, found, status, message FROM catalog_sources FINAL WHERE deleted = 0", nil, func(row scanner) error {
		var (
			name, status, msg string
			at                time.Time
			found             uint64
		)
		if err := row.Scan(&name, &at, &found, &status, &msg); err != nil {
			return err
		}
		s := get(name)
		s.LastImport, s.Found, s.Status, s.Message = at.UTC(), int(found), status, msg
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read catalog sources: %w", err)
	}
	out := make([]CatalogSource, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EntityChange is one row of entity_history.
type EntityChange struct {
	Ref    yardstick.EntityRef
	At     time.Time
	Change string // added, changed or removed
	Source string // the source that made the change
}

// EntityHistory returns the recorded changes of ref, oldest first.
func (db *DB) EntityHistory(ctx context.Context, ref yardstick.EntityRef) ([]EntityChange, error) {
	return queryRows(ctx, db, fmt.Sprintf("read entity history %s", ref), "SELECT ref, changed_at, change, source FROM entity_history WHERE ref = ? ORDER BY changed_at, change", []any{string(ref)},
		func(row scanner) (EntityChange, error) {
			var c EntityChange
			var r string
			err := row.Scan(&r, &c.At, &c.Change, &c.Source)
			c.Ref, c.At = yardstick.EntityRef(r), c.At.UTC()
			return c, err
		})
}

func (db *DB) entityIndex(ctx context.Context) (map[yardstick.EntityRef]stored, error) {
	out := map[yardstick.EntityRef]stored{}
	err := db.queryEach(ctx, "SELECT ref, hash, source, location FROM entities FINAL WHERE deleted = 0", nil, func(row scanner) error {
		var ref string
		var s stored
		err := row.Scan(&ref, &s.hash, &s.source, &s.location)
		out[yardstick.EntityRef(ref)] = s
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read entity hashes: %w", err)
	}
	return out, nil
}

func (db *DB) mappingIndex(ctx context.Context) (map[yardstick.EntityRef][]yardstick.Scope, error) {
	ms, err := db.ScopeMappings(ctx)
	if err != nil {
		return nil, err
	}
	out := map[yardstick.EntityRef][]yardstick.Scope{}
	for _, m := range ms {
		out[m.Entity] = append(out[m.Entity], m.Scope)
	}
	return out, nil
}

// entityBody is the JSON kept in history and the hash that detects change; the
// location and source are left out so moving a file is not a change of the entity.
func entityBody(e yardstick.Entity) (string, uint64) {
	e.Location, e.Source = "", ""
	b, _ := json.Marshal(e)
	h := fnv.New64a()
	h.Write(b)
	return string(b), h.Sum64()
}

// ScopeMappings returns the current scope → entity mappings.
func (db *DB) ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error) {
	return queryRows(ctx, db, "read scope mappings", "SELECT scope, entity FROM scope_mappings FINAL WHERE deleted = 0 ORDER BY scope, entity", nil,
		func(row scanner) (yardstick.ScopeMapping, error) {
			var s, e string
			err := row.Scan(&s, &e)
			return yardstick.ScopeMapping{Scope: yardstick.Scope(s), Entity: yardstick.EntityRef(e)}, err
		})
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
	return queryRows(ctx, db, "read entities", `SELECT ref, kind, namespace, name, title, description, type, lifecycle, owner, system, domain, parent,
		children, members, member_of, depends_on, provides_apis, consumes_apis, tags, label_keys, label_values, annotation_keys, annotation_values,
		api_version, spec, location, source FROM entities FINAL WHERE deleted = 0`+where+` ORDER BY ref`, args, scanEntity)
}

// scanEntity reads a row of queryEntities.
func scanEntity(row scanner) (yardstick.Entity, error) {
	var (
		e                                                yardstick.Entity
		ref, owner, system, domain, parent               string
		children, members, memberOf, dependsOn, provides []string
		consumes, lk, lv, ak, av                         []string
	)
	if err := row.Scan(&ref, &e.Kind, &e.Namespace, &e.Name, &e.Title, &e.Description, &e.Type, &e.Lifecycle,
		&owner, &system, &domain, &parent, &children, &members, &memberOf, &dependsOn, &provides, &consumes,
		&e.Tags, &lk, &lv, &ak, &av, &e.APIVersion, &e.Spec, &e.Location, &e.Source); err != nil {
		return e, fmt.Errorf("scan entity: %w", err)
	}
	e.Ref, e.Owner, e.System, e.Domain, e.Parent = yardstick.EntityRef(ref), yardstick.EntityRef(owner), yardstick.EntityRef(system), yardstick.EntityRef(domain), yardstick.EntityRef(parent)
	e.Children, e.Members, e.MemberOf = toRefs(children), toRefs(members), toRefs(memberOf)
	e.DependsOn, e.ProvidesAPIs, e.ConsumesAPIs = toRefs(dependsOn), toRefs(provides), toRefs(consumes)
	e.Labels, e.Annotations = zipMap(lk, lv), zipMap(ak, av)
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	return e, nil
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

// zipMap pairs keys with values, nil when there are no keys.
func zipMap[V any](k []string, v []V) map[string]V {
	if len(k) == 0 {
		return nil
	}
	m := make(map[string]V, len(k))
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
