package jira

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	jira "github.com/andygrunwald/go-jira"

	"github.com/yardstick-dev/yardstick"
)

// scopeFilter is one catalog scope inside a project: the whole project, or the
// issues with a component, a label, or both.
type scopeFilter struct {
	Scope     yardstick.Scope
	Component string
	Label     string
}

// project is a Jira project key with every scope of it the catalog maps.
type project struct {
	Key    string
	Scopes []scopeFilter
}

// ParseScope splits a scope built by ProjectScope into its project key,
// component and label; ok is false for scopes of other sources. Component
// names may hold "/", so the label part is found from the end.
func ParseScope(s yardstick.Scope) (key, component, label string, ok bool) {
	rest, found := strings.CutPrefix(string(s), "jira:")
	if !found || rest == "" {
		return "", "", "", false
	}
	key, rest, _ = strings.Cut(rest, "/")
	if key == "" {
		return "", "", "", false
	}
	if rest == "" {
		return key, "", "", true
	}
	if l, found := strings.CutPrefix(rest, "label="); found {
		return key, "", l, l != ""
	}
	rest, found = strings.CutPrefix(rest, "component=")
	if !found {
		return "", "", "", false
	}
	if i := strings.LastIndex(rest, "/label="); i >= 0 {
		component, label = rest[:i], rest[i+len("/label="):]
		return key, component, label, component != "" && label != ""
	}
	return key, rest, "", rest != ""
}

// groupProjects turns the catalog's scope mappings into projects, sorted by key,
// each with its distinct scopes. Mappings of other sources are ignored.
func groupProjects(mappings []yardstick.ScopeMapping) []project {
	byKey := map[string]*project{}
	seen := map[yardstick.Scope]bool{}
	for _, m := range mappings {
		key, comp, label, ok := ParseScope(m.Scope)
		if !ok || seen[m.Scope] {
			continue
		}
		seen[m.Scope] = true
		p := byKey[key]
		if p == nil {
			p = &project{Key: key}
			byKey[key] = p
		}
		p.Scopes = append(p.Scopes, scopeFilter{Scope: m.Scope, Component: comp, Label: label})
	}
	out := make([]project, 0, len(byKey))
	for _, p := range byKey {
		slices.SortFunc(p.Scopes, func(a, b scopeFilter) int { return strings.Compare(string(a.Scope), string(b.Scope)) })
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b project) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// whole reports whether some scope covers the whole project.
func (p project) whole() bool {
	for _, s := range p.Scopes {
		if s.Component == "" && s.Label == "" {
			return true
		}
	}
	return false
}

// filter is the JQL that selects the project's mapped issues:
// project = "KEY", narrowed to the mapped components and labels when no scope
// covers the whole project.
func (p project) filter() string {
	f := "project = " + jqlString(p.Key)
	if p.whole() {
		return f
	}
	var alts []string
	for _, s := range p.Scopes {
		var c []string
		if s.Component != "" {
			c = append(c, "component = "+jqlString(s.Component))
		}
		if s.Label != "" {
			c = append(c, "labels = "+jqlString(s.Label))
		}
		alts = append(alts, strings.Join(c, " AND "))
	}
	return f + " AND (" + strings.Join(alts, " OR ") + ")"
}

// cursorKey names the project's incremental cursor. It includes a hash of the
// filter, so mapping a new component or label of the project re-reads it fully.
func (p project) cursorKey() string {
	h := sha256.Sum256([]byte(p.filter()))
	return "jira/project/" + p.Key + "/" + hex.EncodeToString(h[:6]) + "/updated"
}

// scopesOf returns the project's scopes an issue belongs to.
func (p project) scopesOf(is *apiIssue) []yardstick.Scope {
	var out []yardstick.Scope
	for _, s := range p.Scopes {
		if s.Component != "" && !slices.ContainsFunc(is.Fields.Components, func(c *jira.Component) bool {
			return c != nil && strings.EqualFold(c.Name, s.Component)
		}) {
			continue
		}
		if s.Label != "" && !slices.ContainsFunc(is.Fields.Labels, func(l string) bool { return strings.EqualFold(l, s.Label) }) {
			continue
		}
		out = append(out, s.Scope)
	}
	return out
}

// jqlString quotes s as a JQL string literal: inside double quotes, backslash
// and double quote are escaped and control characters are dropped, so catalog
// values can never change the shape of the query.
func jqlString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jqlList quotes each value and joins them as a JQL list: ("a", "b").
func jqlList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = jqlString(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// jqlTime formats t as a JQL date in loc, floored to the minute (JQL's precision).
func jqlTime(t time.Time, loc *time.Location) string {
	return jqlString(t.In(loc).Format("2006-01-02 15:04"))
}

// changedJQL selects, for each project, the issues updated since its bound
// (zero: all), oldest first. Ordering by created keeps offset paging stable
// while issues are being updated during the sync.
func changedJQL(projects []project, bounds map[string]time.Time, loc *time.Location) string {
	alts := make([]string, len(projects))
	for i, p := range projects {
		c := p.filter()
		if b := bounds[p.Key]; !b.IsZero() {
			c += " AND updated >= " + jqlTime(b, loc)
		}
		alts[i] = "(" + c + ")"
	}
	return strings.Join(alts, " OR ") + " ORDER BY created ASC, key ASC"
}

// openBugsJQL selects the open bugs of the projects' mapped issues.
func openBugsJQL(projects []project, bugTypes []string) string {
	alts := make([]string, len(projects))
	for i, p := range projects {
		alts[i] = "(" + p.filter() + ")"
	}
	return fmt.Sprintf("(%s) AND issuetype in %s AND statusCategory != Done ORDER BY created ASC, key ASC",
		strings.Join(alts, " OR "), jqlList(bugTypes))
}
