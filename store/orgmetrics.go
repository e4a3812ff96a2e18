package store

import (
	"context"
	"hash/fnv"
	"slices"

	"github.com/yardstick-dev/yardstick"
)

// runOrgFamilies is runFamilies for the whole organisation
// (yardstick.OrgRef): every mapped scope counts once, so the observations are
// filtered by the stored scope mappings and aggregated under one key, with no
// join and no key set sent along. The overview reads it after every refresh.
func (m *Metrics) runOrgFamilies(ctx context.Context, gen obsGeneration, r familyRead, w yardstick.Window, weekly, totals bool) ([]familyResult, error) {
	if len(r) == 0 {
		return nil, nil
	}
	week, group := "toMonday(min(t))", ""
	if weekly {
		week, group = "toMonday(t)", " GROUP BY w"
	}
	query := "SELECT " + week + " AS w, " + r.aggregates() + `
FROM (
  ` + r.observations(m.currentObs(gen, r), []string{"scope", "t"}, m.mappedScopes()) + `
) AS o` + group
	key, totalsKey := string(yardstick.OrgRef), ""
	if weekly && totals {
		query += " WITH TOTALS"
		totalsKey = key
	}
	return m.readFamilies(ctx, r, "metric query "+r.label()+" of the organisation", query, m.familyArgs(gen, r, w), key, weekly, totalsKey)
}

// fingerprint hashes what metric subjects resolve through (the group tree,
// what each group owns, its members, and every entity's scopes), so that
// re-reading an unchanged catalog keeps the results cached for it.
func (c *metricCatalog) fingerprint() uint64 {
	h := fnv.New64a()
	put := func(ss ...yardstick.EntityRef) {
		for _, s := range ss {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	for _, g := range c.org.Groups() {
		put(g, c.org.Parent(g))
		put(c.org.Children(g)...)
		put(c.org.Owned(g)...)
		put(c.org.Members(g)...)
	}
	refs := make([]yardstick.EntityRef, 0, len(c.scopes))
	for r := range c.scopes {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	for _, r := range refs {
		put(r)
		for _, sc := range c.scopes[r] {
			h.Write([]byte(sc))
			h.Write([]byte{0})
		}
	}
	return h.Sum64()
}
