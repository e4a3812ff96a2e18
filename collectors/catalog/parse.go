// Package catalog imports Backstage catalog entities from files, folders and
// globs (following Location entities) and from a Backstage backend's catalog
// API, and turns them into yardstick.Entity values with relations resolved to refs.
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
)

// ParseError is a problem with one catalog document, with where it is.
type ParseError struct {
	Location string // "path/to/file.yaml:12" or "backstage API page 2 item 5"
	Msg      string
}

func (e *ParseError) Error() string { return e.Location + ": " + e.Msg }

// Unwrap makes every ParseError an ErrInvalid.
func (e *ParseError) Unwrap() error { return yardstick.ErrInvalid }

// rawEntity is the Backstage envelope as written in YAML or returned as JSON.
type rawEntity struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Title       string            `yaml:"title"`
		Description string            `yaml:"description"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
		Tags        []string          `yaml:"tags"`
	} `yaml:"metadata"`
	Spec map[string]any `yaml:"spec"`
}

// knownKinds are the kinds Backstage's catalog model defines; others are kept
// as plain entities with a note, because real catalogs carry custom kinds.
var knownKinds = map[string]bool{
	"component": true, "api": true, "resource": true, "system": true, "domain": true,
	"group": true, "user": true, "location": true, "template": true,
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// document is one parsed YAML document with its position.
type document struct {
	entity   yardstick.Entity
	targets  []string // Location spec.targets and spec.target
	location string
}

// parseDocuments reads every YAML (or JSON) document in r. where names the
// source for messages ("file.yaml"). Bad documents become errors; good ones are
// returned, so one broken document never hides the rest of the file.
func parseDocuments(r io.Reader, where string) ([]document, []string, []error) {
	var (
		docs  []document
		notes []string
		errs  []error
	)
	eachDocument(r, where, func(d document, note string, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		if note != "" {
			notes = append(notes, note)
		}
		docs = append(docs, d)
	})
	return docs, notes, errs
}

// eachDocument calls fn for every document in r as it is decoded: with the
// document and a note, or with the error of a bad one. Only one document is
// held at a time, so a large file is read in constant memory.
func eachDocument(r io.Reader, where string, fn func(d document, note string, err error)) {
	dec := yaml.NewDecoder(r)
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// yaml.v3 reports "yaml: line N: ..." and cannot resume after a syntax error.
			fn(document{}, "", &ParseError{Location: where + lineOf(err), Msg: yamlLineRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")})
			return
		}
		if len(node.Content) == 0 || node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Value == "" {
			continue // empty document, e.g. a trailing ---
		}
		d, note, err := parseDocument(&node, fmt.Sprintf("%s:%d", where, node.Content[0].Line))
		fn(d, note, err)
	}
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

func lineOf(err error) string {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		return ":" + m[1]
	}
	return ""
}

func parseDocument(node *yaml.Node, loc string) (document, string, error) {
	root := node
	if root.Kind == yaml.DocumentNode {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return document{}, "", &ParseError{Location: loc, Msg: "document is not a mapping (an entity needs apiVersion, kind and metadata)"}
	}
	var raw rawEntity
	if err := root.Decode(&raw); err != nil {
		return document{}, "", &ParseError{Location: loc, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	at := func(key string) string { return lineIn(root, loc, key) }
	switch {
	case raw.APIVersion == "":
		return document{}, "", &ParseError{Location: loc, Msg: "missing apiVersion"}
	case raw.Kind == "":
		return document{}, "", &ParseError{Location: loc, Msg: "missing kind"}
	case raw.Metadata.Name == "":
		return document{}, "", &ParseError{Location: at("metadata"), Msg: fmt.Sprintf("%s without metadata.name", raw.Kind)}
	case !nameRE.MatchString(raw.Metadata.Name):
		return document{}, "", &ParseError{Location: at("metadata"), Msg: fmt.Sprintf("metadata.name %q: 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", raw.Metadata.Name)}
	}
	ns := raw.Metadata.Namespace
	if ns == "" {
		ns = yardstick.DefaultNamespace
	}
	e := yardstick.Entity{
		Ref:         yardstick.NewEntityRef(raw.Kind, ns, raw.Metadata.Name),
		APIVersion:  raw.APIVersion,
		Kind:        raw.Kind,
		Namespace:   ns,
		Name:        raw.Metadata.Name,
		Title:       raw.Metadata.Title,
		Description: raw.Metadata.Description,
		Tags:        raw.Metadata.Tags,
		Labels:      raw.Metadata.Labels,
		Annotations: raw.Metadata.Annotations,
		Location:    loc,
	}
	spec := raw.Spec
	if spec == nil {
		spec = map[string]any{}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return document{}, "", &ParseError{Location: at("spec"), Msg: "spec cannot be stored as JSON: " + err.Error()}
	}
	e.Spec = string(b)
	e.Type, e.Lifecycle = str(spec["type"]), str(spec["lifecycle"])

	var errs []string
	ref := func(field, defaultKind string) yardstick.EntityRef {
		s := str(spec[field])
		if s == "" {
			return ""
		}
		r, err := yardstick.ParseEntityRefIn(s, defaultKind, ns)
		if err != nil {
			errs = append(errs, fmt.Sprintf("spec.%s: %v", field, err))
		}
		return r
	}
	refs := func(field, defaultKind string) []yardstick.EntityRef {
		var out []yardstick.EntityRef
		for _, s := range strs(spec[field]) {
			r, err := yardstick.ParseEntityRefIn(s, defaultKind, ns)
			if err != nil {
				errs = append(errs, fmt.Sprintf("spec.%s: %v", field, err))
				continue
			}
			out = append(out, r)
		}
		return out
	}
	e.Owner = ref("owner", "group")
	e.System = ref("system", "system")
	if strings.EqualFold(raw.Kind, "system") {
		e.Domain = ref("domain", "domain")
	}
	if strings.EqualFold(raw.Kind, "domain") {
		e.Domain = e.Ref
	}
	e.Parent = ref("parent", "group")
	e.Children = refs("children", "group")
	e.Members = refs("members", "user")
	e.MemberOf = refs("memberOf", "group")
	e.DependsOn = refs("dependsOn", "component")
	e.ProvidesAPIs = refs("providesApis", "api")
	e.ConsumesAPIs = refs("consumesApis", "api")
	if len(errs) > 0 {
		return document{}, "", &ParseError{Location: at("spec"), Msg: strings.Join(errs, "; ")}
	}

	d := document{entity: e, location: loc}
	if strings.EqualFold(raw.Kind, "location") {
		d.targets = append(strs(spec["targets"]), strs(spec["target"])...)
	}
	var note string
	if !knownKinds[strings.ToLower(raw.Kind)] {
		note = fmt.Sprintf("%s: kind %s has no special meaning to Yardstick; kept as a plain entity", loc, raw.Kind)
	}
	return d, note, nil
}

// lineIn returns "file:line" of key in a mapping node, or loc when key is absent.
func lineIn(m *yaml.Node, loc, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			file := loc
			if j := strings.LastIndex(loc, ":"); j >= 0 {
				file = loc[:j]
			}
			return fmt.Sprintf("%s:%d", file, m.Content[i].Line)
		}
	}
	return loc
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

func strs(v any) []string {
	switch s := v.(type) {
	case []any:
		out := make([]string, 0, len(s))
		for _, x := range s {
			if t := str(x); t != "" {
				out = append(out, t)
			}
		}
		return out
	case string:
		if s != "" {
			return []string{s}
		}
	}
	return nil
}

func containsRef(rs []yardstick.EntityRef, r yardstick.EntityRef) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func sortRefs(rs []yardstick.EntityRef) {
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
}
