package yardstick

import "slices"

// Organisation is the one model of the organisation that scoring, the metrics
// and the pages share: which group is above which, what each group owns and
// who its members are. Before it existed, three packages each built their own
// hierarchy with different rules, and a squad's figures could differ between
// pages. The rules, stated once (docs/metrics.md, "Organisation"):
//
//   - Only groups form the hierarchy. A link from or to an entity that is not a
//     Group in the catalog is ignored.
//   - A group's parent is its spec.parent when that names another group of the
//     catalog. Otherwise it is the group that lists it in spec.children; when
//     several do, the one with the lowest ref. A group has at most one parent.
//   - A link that would close a cycle is dropped (groups are linked in ref
//     order, so which one is dropped does not depend on file order).
//   - A group owns the entities whose spec.owner names it; "at or below" a
//     group means the group and every group below it.
//   - A group's members are its spec.members and the users whose
//     spec.memberOf names it.
//
// An Organisation is immutable after NewOrganisation and safe for concurrent use.
type Organisation struct {
	entities map[EntityRef]*Entity
	parent   map[EntityRef]EntityRef
	children map[EntityRef][]EntityRef // sorted
	owned    map[EntityRef][]EntityRef // sorted
	members  map[EntityRef][]EntityRef // sorted, distinct
	groups   []EntityRef               // tree order: each root, then its descendants
}

// NewOrganisation builds the organisation of a catalog.
func NewOrganisation(entities []Entity) *Organisation {
	o := &Organisation{
		entities: make(map[EntityRef]*Entity, len(entities)),
		parent:   map[EntityRef]EntityRef{},
		children: map[EntityRef][]EntityRef{},
		owned:    map[EntityRef][]EntityRef{},
		members:  map[EntityRef][]EntityRef{},
	}
	for i := range entities {
		o.entities[entities[i].Ref] = &entities[i]
	}
	isGroup := func(r EntityRef) bool { return r != "" && o.entities[r] != nil && r.Kind() == "group" }

	var groups []EntityRef
	for _, e := range entities {
		if isGroup(e.Ref) {
			groups = append(groups, e.Ref)
		}
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)

	// Candidate parents: spec.parent first, else the lowest-ref group listing
	// the group as a child.
	listedBy := map[EntityRef]EntityRef{}
	for _, g := range groups {
		for _, c := range o.entities[g].Children {
			if isGroup(c) && c != g {
				if p, ok := listedBy[c]; !ok || g < p {
					listedBy[c] = g
				}
			}
		}
	}
	for _, g := range groups {
		p := o.entities[g].Parent
		if !isGroup(p) || p == g {
			p = listedBy[g]
		}
		if p == "" || o.isAtOrBelow(p, g) { // no parent, or a cycle
			continue
		}
		o.parent[g] = p
		o.children[p] = append(o.children[p], g)
	}
	for p := range o.children {
		slices.Sort(o.children[p])
	}

	for _, e := range entities {
		if e.Owner != "" {
			o.owned[e.Owner] = append(o.owned[e.Owner], e.Ref)
		}
		if isGroup(e.Ref) {
			o.members[e.Ref] = append(o.members[e.Ref], e.Members...)
		}
		for _, g := range e.MemberOf {
			o.members[g] = append(o.members[g], e.Ref)
		}
	}
	for k := range o.owned {
		slices.Sort(o.owned[k])
		o.owned[k] = slices.Compact(o.owned[k])
	}
	for k := range o.members {
		slices.Sort(o.members[k])
		o.members[k] = slices.Compact(o.members[k])
	}

	for _, g := range groups {
		if _, ok := o.parent[g]; !ok {
			o.groups = append(o.groups, o.Descendants(g)...)
		}
	}
	return o
}

// isAtOrBelow reports whether x is g or a group below g, by walking up from x.
func (o *Organisation) isAtOrBelow(x, g EntityRef) bool {
	for cur, n := x, 0; cur != "" && n <= len(o.parent); n++ {
		if cur == g {
			return true
		}
		cur = o.parent[cur]
	}
	return false
}

// Entity returns the entity with ref, or nil.
func (o *Organisation) Entity(ref EntityRef) *Entity { return o.entities[ref] }

// Parent returns the group above g, "" for a root.
func (o *Organisation) Parent(g EntityRef) EntityRef { return o.parent[g] }

// Children returns the groups directly below g, by ref.
func (o *Organisation) Children(g EntityRef) []EntityRef { return o.children[g] }

// Ancestors returns g and every group above it, nearest first.
func (o *Organisation) Ancestors(g EntityRef) []EntityRef {
	if g == "" {
		return nil
	}
	out := []EntityRef{g}
	for p := o.parent[g]; p != ""; p = o.parent[p] {
		out = append(out, p)
	}
	return out
}

// Descendants returns g and every group below it in tree order (depth first,
// children by ref).
func (o *Organisation) Descendants(g EntityRef) []EntityRef {
	out := []EntityRef{g}
	var walk func(EntityRef)
	walk = func(p EntityRef) {
		for _, c := range o.children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(g)
	return out
}

// Groups returns every group in tree order: each root followed by its
// descendants, roots by ref.
func (o *Organisation) Groups() []EntityRef { return o.groups }

// Owned returns the entities whose owner is g, by ref.
func (o *Organisation) Owned(g EntityRef) []EntityRef { return o.owned[g] }

// OwnedBelow returns the entities owned by g or by any group below it, by ref.
func (o *Organisation) OwnedBelow(g EntityRef) []EntityRef { return o.below(g, o.owned) }

// Members returns the members of g itself, by ref.
func (o *Organisation) Members(g EntityRef) []EntityRef { return o.members[g] }

// MembersBelow returns the distinct members of g and of every group below it.
func (o *Organisation) MembersBelow(g EntityRef) []EntityRef { return o.below(g, o.members) }

// below gathers per[d] over g and every group d below it, sorted and distinct.
func (o *Organisation) below(g EntityRef, per map[EntityRef][]EntityRef) []EntityRef {
	var out []EntityRef
	for _, d := range o.Descendants(g) {
		out = append(out, per[d]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// AllMembers returns every member of any group.
func (o *Organisation) AllMembers() []EntityRef {
	var out []EntityRef
	for _, ms := range o.members {
		out = append(out, ms...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// System returns the system of an entity, "" when it has none.
func (o *Organisation) System(ref EntityRef) EntityRef {
	if e := o.entities[ref]; e != nil {
		return e.System
	}
	return ""
}

// Domain returns the domain of an entity, or of its system when it names none.
func (o *Organisation) Domain(ref EntityRef) EntityRef {
	e := o.entities[ref]
	if e == nil {
		return ""
	}
	if e.Domain != "" {
		return e.Domain
	}
	if s := o.entities[e.System]; s != nil {
		return s.Domain
	}
	return ""
}

// RollupSubjects returns what an entity's results roll up into: the
// organisation (OrgRef), its owner and every group above, its system and its
// domain.
func (o *Organisation) RollupSubjects(ref EntityRef) []EntityRef {
	out := []EntityRef{OrgRef}
	if e := o.entities[ref]; e != nil {
		out = append(out, o.Ancestors(e.Owner)...)
	}
	for _, r := range []EntityRef{o.System(ref), o.Domain(ref)} {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}
