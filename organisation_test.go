package yardstick

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// orgFixture is an organisation that exercises every rule of Organisation:
// a tribe linked by spec.parent, a squad linked only by its tribe's
// spec.children, a squad claimed by two tribes' children lists, a component
// listed as a child (ignored: not a group), a parent cycle, and members
// given both ways.
func orgFixture() []Entity {
	return []Entity{
		{Ref: "group:default/org", Children: []EntityRef{"group:default/tribe-b"}},
		{Ref: "group:default/tribe-a", Parent: "group:default/org", Children: []EntityRef{"group:default/squad-2", "component:default/stray"}},
		{Ref: "group:default/tribe-b", Children: []EntityRef{"group:default/squad-3"}},
		{Ref: "group:default/tribe-z", Children: []EntityRef{"group:default/squad-3"}},
		{Ref: "group:default/squad-1", Parent: "group:default/tribe-a", Members: []EntityRef{"user:default/ann"}},
		{Ref: "group:default/squad-2"},
		{Ref: "group:default/squad-3", Parent: "component:default/api"}, // not a group: falls back to children lists
		{Ref: "group:default/loop-a", Parent: "group:default/loop-b"},
		{Ref: "group:default/loop-b", Parent: "group:default/loop-a"},
		{Ref: "user:default/ann", MemberOf: []EntityRef{"group:default/squad-1"}},
		{Ref: "user:default/bob", MemberOf: []EntityRef{"group:default/squad-2"}},
		{Ref: "component:default/api", Owner: "group:default/squad-1", System: "system:default/pay"},
		{Ref: "component:default/web", Owner: "group:default/squad-2", Domain: "domain:default/shop"},
		{Ref: "component:default/stray", Owner: "group:default/tribe-a"},
		{Ref: "system:default/pay", Domain: "domain:default/money"},
	}
}

func TestOrganisationParentRules(t *testing.T) {
	o := NewOrganisation(orgFixture())
	for _, tt := range []struct {
		group, want EntityRef
	}{
		{"group:default/tribe-a", "group:default/org"},     // spec.parent
		{"group:default/tribe-b", "group:default/org"},     // only listed in org's children
		{"group:default/squad-2", "group:default/tribe-a"}, // only listed in tribe-a's children
		{"group:default/squad-3", "group:default/tribe-b"}, // parent is not a group; two lists: lowest ref
		{"group:default/org", ""},
		{"group:default/loop-a", "group:default/loop-b"}, // loop-a linked first (ref order); loop-b's link would close the cycle
		{"group:default/loop-b", ""},
	} {
		if got := o.Parent(tt.group); got != tt.want {
			t.Errorf("Parent(%s) = %q, want %q", tt.group, got, tt.want)
		}
	}
	if got := o.Children("group:default/tribe-a"); !cmp.Equal(got, []EntityRef{"group:default/squad-1", "group:default/squad-2"}) {
		t.Errorf("Children(tribe-a) = %v: a component listed as a child must be ignored", got)
	}
}

func TestOrganisationWalks(t *testing.T) {
	o := NewOrganisation(orgFixture())
	if diff := cmp.Diff([]EntityRef{"group:default/squad-1", "group:default/tribe-a", "group:default/org"}, o.Ancestors("group:default/squad-1")); diff != "" {
		t.Errorf("Ancestors(squad-1) (-want +got):\n%s", diff)
	}
	wantTree := []EntityRef{
		"group:default/loop-b", "group:default/loop-a",
		"group:default/org", "group:default/tribe-a", "group:default/squad-1", "group:default/squad-2",
		"group:default/tribe-b", "group:default/squad-3",
		"group:default/tribe-z",
	}
	if diff := cmp.Diff(wantTree, o.Groups()); diff != "" {
		t.Errorf("Groups() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]EntityRef{"component:default/api", "component:default/stray", "component:default/web"}, o.OwnedBelow("group:default/tribe-a")); diff != "" {
		t.Errorf("OwnedBelow(tribe-a) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]EntityRef{"user:default/ann", "user:default/bob"}, o.MembersBelow("group:default/org")); diff != "" {
		t.Errorf("MembersBelow(org) (-want +got):\n%s", diff)
	}
	if got := o.Members("group:default/squad-1"); len(got) != 1 {
		t.Errorf("Members(squad-1) = %v: a member named both ways counts once", got)
	}
	if diff := cmp.Diff([]EntityRef{OrgRef, "group:default/squad-1", "group:default/tribe-a", "group:default/org", "system:default/pay", "domain:default/money"}, o.RollupSubjects("component:default/api")); diff != "" {
		t.Errorf("RollupSubjects(api) (-want +got):\n%s", diff)
	}
	if got := o.Domain("component:default/web"); got != "domain:default/shop" {
		t.Errorf("Domain(web) = %q, want its own domain", got)
	}
}

func TestOrganisationIgnoresFileOrder(t *testing.T) {
	es := orgFixture()
	rev := make([]Entity, len(es))
	for i := range es {
		rev[len(es)-1-i] = es[i]
	}
	a, b := NewOrganisation(es), NewOrganisation(rev)
	if diff := cmp.Diff(a.Groups(), b.Groups()); diff != "" {
		t.Errorf("Groups() depends on file order (-fwd +rev):\n%s", diff)
	}
	for _, g := range a.Groups() {
		if a.Parent(g) != b.Parent(g) {
			t.Errorf("Parent(%s) = %q forward, %q reversed", g, a.Parent(g), b.Parent(g))
		}
	}
}
