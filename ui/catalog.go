package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// catalogView is the catalog indexed for the pages. The hierarchy, ownership
// and membership come from yardstick.Organisation, the one model every page,
// the metrics and scoring share.
type catalogView struct {
	org    *yardstick.Organisation
	byRef  map[yardstick.EntityRef]*yardstick.Entity
	scopes map[yardstick.EntityRef][]yardstick.Scope
	all    []yardstick.Entity
}

func newCatalogView(entities []yardstick.Entity, mappings []yardstick.ScopeMapping) *catalogView {
	v := &catalogView{
		org:    yardstick.NewOrganisation(entities),
		byRef:  map[yardstick.EntityRef]*yardstick.Entity{},
		scopes: map[yardstick.EntityRef][]yardstick.Scope{},
		all:    entities,
	}
	for i := range entities {
		v.byRef[entities[i].Ref] = &entities[i]
	}
	for _, m := range mappings {
		v.scopes[m.Entity] = append(v.scopes[m.Entity], m.Scope)
	}
	return v
}

// entity returns the entity or an error wrapping yardstick.ErrNotFound.
func (v *catalogView) entity(ref yardstick.EntityRef) (*yardstick.Entity, error) {
	e, ok := v.byRef[ref]
	if !ok {
		return nil, fmt.Errorf("entity %s: %w", ref, yardstick.ErrNotFound)
	}
	return e, nil
}

// descendants returns g and every group below it.
func (v *catalogView) descendants(g yardstick.EntityRef) []yardstick.EntityRef {
	return v.org.Descendants(g)
}

// isSquad reports whether a group owns entities itself rather than only
// through groups below it.
func (v *catalogView) isSquad(g yardstick.EntityRef) bool {
	for _, e := range v.org.Owned(g) {
		if isComponent(e) {
			return true
		}
	}
	return len(v.org.Children(g)) == 0
}

// squads returns the squads at or below g ("" for all), in tree order.
func (v *catalogView) squads(g yardstick.EntityRef) []yardstick.EntityRef {
	var in map[yardstick.EntityRef]bool
	if g != "" {
		in = map[yardstick.EntityRef]bool{}
		for _, d := range v.descendants(g) {
			in[d] = true
		}
	}
	var out []yardstick.EntityRef
	for _, s := range v.org.Groups() {
		if (in == nil || in[s]) && v.isSquad(s) {
			out = append(out, s)
		}
	}
	return out
}

// isComponent reports whether a ref is a component or resource: what squads
// own and scorecards and campaigns mostly score (APIs, systems and domains are
// reached through their own pages).
func isComponent(ref yardstick.EntityRef) bool {
	k := ref.Kind()
	return k == "component" || k == "resource"
}

// components returns the components and resources owned at or below g ("" for
// the whole catalog), sorted.
func (v *catalogView) components(g yardstick.EntityRef) []yardstick.EntityRef {
	var out []yardstick.EntityRef
	if g == "" {
		for _, e := range v.all {
			if isComponent(e.Ref) {
				out = append(out, e.Ref)
			}
		}
	} else {
		for _, e := range v.org.OwnedBelow(g) {
			if isComponent(e) {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// squadOf returns the owner of an entity (its squad).
func (v *catalogView) squadOf(e yardstick.EntityRef) yardstick.EntityRef {
	if x, ok := v.byRef[e]; ok {
		return x.Owner
	}
	return ""
}

// within returns the set of entities owned at or below g, nil for "everything".
func (v *catalogView) within(g yardstick.EntityRef) map[yardstick.EntityRef]bool {
	if g == "" {
		return nil
	}
	out := map[yardstick.EntityRef]bool{}
	for _, d := range v.descendants(g) {
		out[d] = true
		for _, e := range v.org.Owned(d) {
			out[e] = true
		}
	}
	return out
}

// title returns the display name of an entity.
func (v *catalogView) title(ref yardstick.EntityRef) string {
	if e, ok := v.byRef[ref]; ok && e.Title != "" {
		return e.Title
	}
	if ref == yardstick.OrgRef || ref == "" {
		return "Whole organisation"
	}
	return ref.Name()
}

// search returns entities whose ref, name, title, description or tags contain
// every word of q, best matches (name prefix) first.
func (v *catalogView) search(q string, limit int) []yardstick.Entity {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return nil
	}
	type hit struct {
		e     yardstick.Entity
		score int
	}
	var hits []hit
	for _, e := range v.all {
		if e.Ref.Kind() == "user" {
			continue
		}
		hay := strings.ToLower(string(e.Ref) + " " + e.Title + " " + e.Description + " " + strings.Join(e.Tags, " ") + " " + e.Type)
		ok := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		score := 0
		if strings.HasPrefix(e.Name, words[0]) || strings.HasPrefix(strings.ToLower(e.Name), words[0]) {
			score = 2
		}
		if strings.EqualFold(e.Name, q) {
			score = 3
		}
		hits = append(hits, hit{e, score})
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].e.Ref < hits[j].e.Ref
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]yardstick.Entity, len(hits))
	for i, h := range hits {
		out[i] = h.e
	}
	return out
}

// catalogCache keeps the catalog view for ttl, so pages do not re-read the
// catalog on every request.
type catalogCache struct {
	src Catalog
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	view    *catalogView
	fetched time.Time
}

func (c *catalogCache) get(ctx context.Context) (*catalogView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view != nil && c.now().Sub(c.fetched) < c.ttl {
		return c.view, nil
	}
	entities, err := c.src.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	mappings, err := c.src.ScopeMappings(ctx)
	if err != nil {
		return nil, fmt.Errorf("read scope mappings: %w", err)
	}
	c.view, c.fetched = newCatalogView(entities, mappings), c.now()
	return c.view, nil
}
