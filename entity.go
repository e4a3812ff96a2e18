package yardstick

import (
	"fmt"
	"strings"
	"time"
)

// EntityRef identifies a catalog entity as Backstage does: "kind:namespace/name",
// lower-cased, with namespace "default" when omitted. Build one with ParseEntityRef
// so that every ref in the system has the same normal form.
type EntityRef string

// DefaultNamespace is the namespace Backstage assumes when a ref omits it.
const DefaultNamespace = "default"

// ParseEntityRef normalises a Backstage entity reference. The input may be
// "kind:namespace/name", "kind:name", "namespace/name" or "name"; defaultKind fills
// a missing kind (an owner ref defaults to "group", a system ref to "system").
// It returns an error wrapping ErrInvalid when no kind can be found or the name is empty.
func ParseEntityRef(s, defaultKind string) (EntityRef, error) {
	return ParseEntityRefIn(s, defaultKind, DefaultNamespace)
}

// ParseEntityRefIn is ParseEntityRef with a default namespace: relations written
// in an entity default to that entity's own namespace, as in Backstage.
func ParseEntityRefIn(s, defaultKind, defaultNamespace string) (EntityRef, error) {
	s = strings.TrimSpace(s)
	kind, rest := defaultKind, s
	if i := strings.Index(s, ":"); i >= 0 {
		kind, rest = s[:i], s[i+1:]
	}
	ns, name := defaultNamespace, rest
	if i := strings.Index(rest, "/"); i >= 0 {
		ns, name = rest[:i], rest[i+1:]
	}
	if kind == "" {
		return "", fmt.Errorf("entity ref %q: no kind: %w", s, ErrInvalid)
	}
	if name == "" || ns == "" {
		return "", fmt.Errorf("entity ref %q: empty name or namespace: %w", s, ErrInvalid)
	}
	return NewEntityRef(kind, ns, name), nil
}

// NewEntityRef builds a normalised ref from its parts.
func NewEntityRef(kind, namespace, name string) EntityRef {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return EntityRef(strings.ToLower(kind) + ":" + strings.ToLower(namespace) + "/" + strings.ToLower(name))
}

// Kind returns the kind part of the ref ("component").
func (r EntityRef) Kind() string {
	k, _, _ := r.parts()
	return k
}

// Namespace returns the namespace part of the ref ("default").
func (r EntityRef) Namespace() string {
	_, ns, _ := r.parts()
	return ns
}

// Name returns the name part of the ref.
func (r EntityRef) Name() string {
	_, _, n := r.parts()
	return n
}

func (r EntityRef) parts() (kind, namespace, name string) {
	s := string(r)
	if i := strings.Index(s, ":"); i >= 0 {
		kind, s = s[:i], s[i+1:]
	}
	if i := strings.Index(s, "/"); i >= 0 {
		return kind, s[:i], s[i+1:]
	}
	return kind, DefaultNamespace, s
}

// String returns the ref as text.
func (r EntityRef) String() string { return string(r) }

// Entity is one catalog entity with the relations Yardstick uses resolved to refs.
// Spec keeps the whole original spec as JSON so rules can reach any field.
type Entity struct {
	Ref          EntityRef
	APIVersion   string
	Kind         string // as written in the file ("Component"), Ref holds the lower-cased form
	Namespace    string
	Name         string
	Title        string
	Description  string
	Type         string // spec.type: service, website, library, team…
	Lifecycle    string // spec.lifecycle: production, experimental…
	Owner        EntityRef
	System       EntityRef
	Domain       EntityRef
	Parent       EntityRef   // groups: spec.parent
	Children     []EntityRef // groups: spec.children
	Members      []EntityRef // groups: spec.members; users are members of groups
	MemberOf     []EntityRef // users: spec.memberOf
	DependsOn    []EntityRef
	ProvidesAPIs []EntityRef
	ConsumesAPIs []EntityRef
	Tags         []string
	Labels       map[string]string
	Annotations  map[string]string
	Spec         string // JSON of spec
	Location     string // where it was read: "file.yaml:12" or a URL
	Source       string `json:",omitempty"` // the catalog source that provided it (its name, root path or URL); left out of JSON when unset, so hashes of entities stored before sources existed hold
}

// Annotations that tie an entity to the objects of a source system.
const (
	AnnotationGitHubSlug       = "github.com/project-slug"
	AnnotationJiraProjectKey   = "jira/project-key"
	AnnotationJiraComponent    = "jira/component"
	AnnotationJiraLabel        = "jira/label"
	AnnotationPagerDutyService = "pagerduty.com/service-id"
)

// ScopeMapping ties a source scope (e.g. "github:acme/api") to the entity that owns it.
type ScopeMapping struct {
	Scope  Scope
	Entity EntityRef
}

// Scope names the place in a source that events and facts belong to:
// "github:org/repo", "jira:KEY", "pagerduty:PXXXXXX". Events are stored under
// their scope, and the catalog maps scopes to entities, so re-homing a repository
// in the catalog re-homes its history without collecting again.
type Scope string

// GitHubScope returns the scope of a repository slug ("org/repo").
func GitHubScope(slug string) Scope { return Scope("github:" + strings.ToLower(slug)) }

// JiraScope returns the scope of a Jira project, narrowed by component or label when
// they are set ("jira:KEY", "jira:KEY/component=Payments", "jira:KEY/label=api").
func JiraScope(projectKey, component, label string) Scope {
	s := "jira:" + strings.ToUpper(projectKey)
	if component != "" {
		s += "/component=" + component
	}
	if label != "" {
		s += "/label=" + label
	}
	return Scope(s)
}

// PagerDutyScope returns the scope of a PagerDuty service.
func PagerDutyScope(serviceID string) Scope { return Scope("pagerduty:" + serviceID) }

// EntityScope returns the scope that maps to exactly one entity. Facts computed per
// entity rather than per source object (e.g. open bugs of a component narrowed by a
// Jira label) use it.
func EntityScope(ref EntityRef) Scope { return Scope("entity:" + string(ref)) }

// ScopesOf returns the scopes an entity's annotations name.
func ScopesOf(e Entity) []Scope {
	var out []Scope
	if slug := strings.TrimSpace(e.Annotations[AnnotationGitHubSlug]); slug != "" {
		out = append(out, GitHubScope(slug))
	}
	if key := strings.TrimSpace(e.Annotations[AnnotationJiraProjectKey]); key != "" {
		out = append(out, JiraScope(key, strings.TrimSpace(e.Annotations[AnnotationJiraComponent]), strings.TrimSpace(e.Annotations[AnnotationJiraLabel])))
	}
	if id := strings.TrimSpace(e.Annotations[AnnotationPagerDutyService]); id != "" {
		out = append(out, PagerDutyScope(id))
	}
	return out
}

// CatalogSnapshot is the whole catalog as read at one time.
type CatalogSnapshot struct {
	Entities []Entity
	ReadAt   time.Time
}
