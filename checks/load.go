package checks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
)

// Problem is one thing wrong in a rule file, at a position.
type Problem struct {
	Pos Pos
	Msg string
}

// Error formats the problem as "file:line:col: message".
func (p *Problem) Error() string { return p.Pos.String() + ": " + p.Msg }

// Rule file kinds.
const (
	KindScorecard = "Scorecard"
	KindCampaign  = "Campaign"
	// KindNotifications documents hold notification rules; package notify
	// reads them, the rule loader skips them.
	KindNotifications = "Notifications"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// LoadDir reads every .yaml and .yml file under dir in fsys (sorted by path)
// and compiles the rules they hold. When any file has a problem, nothing is
// returned but an error joining every *Problem of every file, so a caller
// keeps its last good set. Scorecard and campaign ids must be unique across
// the directory.
func (e *Env) LoadDir(fsys fs.FS, dir string) (*RuleSet, error) {
	names, err := RuleFiles(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read rule directory %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read rule directory %s: no .yaml files: %w", dir, yardstick.ErrNotFound)
	}
	set := &RuleSet{}
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rule file %s: %w", name, err))
			continue
		}
		one, err := e.LoadFile(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.Scorecards = append(set.Scorecards, one.Scorecards...)
		set.Campaigns = append(set.Campaigns, one.Campaigns...)
	}
	return set.checked(errs)
}

// RuleFiles lists the .yaml and .yml files under dir in fsys, sorted by path:
// the files of a rule directory, whose scorecards and campaigns LoadDir
// compiles and whose Notifications documents package notify reads.
func RuleFiles(fsys fs.FS, dir string) ([]string, error) {
	var names []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// EachDocument calls fn with the root node of each non-empty document of the
// YAML stream data (documents separated by ---), in order. It stops at the
// first document that does not decode and returns its error.
func EachDocument(data []byte, fn func(root *yaml.Node)) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(doc.Content) > 0 {
			fn(doc.Content[0])
		}
	}
}

// checked adds the problems of duplicate ids to errs, and returns the set
// sorted by id when there are none, else no set and every error.
func (s *RuleSet) checked(errs []error) (*RuleSet, error) {
	errs = append(errs, s.duplicateIDs()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.sort()
	return s, nil
}

func (s *RuleSet) sort() {
	slices.SortFunc(s.Scorecards, func(a, b *Scorecard) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Campaigns, func(a, b *Campaign) int { return strings.Compare(a.ID, b.ID) })
}

func (s *RuleSet) duplicateIDs() []error {
	var errs []error
	seen := map[string]Pos{}
	note := func(kind, id string, at Pos) {
		key := kind + "/" + id
		if first, dup := seen[key]; dup {
			errs = append(errs, &Problem{Pos: at, Msg: fmt.Sprintf("%s id %q already used at %s", strings.ToLower(kind), id, first)})
			return
		}
		seen[key] = at
	}
	for _, sc := range s.Scorecards {
		note(KindScorecard, sc.ID, sc.Pos)
	}
	for _, c := range s.Campaigns {
		note(KindCampaign, c.ID, c.Pos)
	}
	return errs
}

// LoadFile compiles one rule file, which may hold several YAML documents
// (separated by ---), each a Scorecard or a Campaign. On any problem it
// returns an error joining every *Problem found, and no rules.
func (e *Env) LoadFile(name string, data []byte) (*RuleSet, error) {
	p := &parser{env: e, src: newSource(name, data)}
	set := &RuleSet{}
	if err := EachDocument(data, func(root *yaml.Node) { p.document(root, set) }); err != nil {
		p.problems = append(p.problems, yamlProblem(name, err))
	}
	if len(p.problems) > 0 {
		errs := make([]error, len(p.problems))
		for i, pr := range p.problems {
			errs[i] = pr
		}
		return nil, errors.Join(errs...)
	}
	return set.checked(nil)
}

// document compiles one rule document into set: a Scorecard or a Campaign
// (Notifications documents are package notify's).
func (p *parser) document(root *yaml.Node, set *RuleSet) {
	kindNode := mappingValue(root, "kind")
	switch {
	case root.Kind != yaml.MappingNode:
		p.errorf(root, "rule document: want a mapping with kind: %s or %s", KindScorecard, KindCampaign)
		return
	case kindNode == nil:
		p.errorf(root, "rule document: missing key \"kind\" (%s or %s)", KindScorecard, KindCampaign)
		return
	}
	switch kind := kindNode.Value; kind {
	case KindScorecard:
		if sc := p.scorecard(root); sc != nil {
			set.Scorecards = append(set.Scorecards, sc)
		}
	case KindCampaign:
		if c := p.campaign(root); c != nil {
			set.Campaigns = append(set.Campaigns, c)
		}
	case KindNotifications:
	default:
		p.errorf(kindNode, "unknown kind %q (want %s or %s)", kind, KindScorecard, KindCampaign)
	}
}

// mappingValue returns the value node of key in mapping n, nil when absent.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlProblem(file string, err error) *Problem {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Pos: Pos{File: file, Line: line, Column: 1}, Msg: "yaml: " + m[2]}
	}
	return &Problem{Pos: Pos{File: file, Line: 1, Column: 1}, Msg: err.Error()}
}

type parser struct {
	env      *Env
	src      *source
	problems []*Problem
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.problems = append(p.problems, &Problem{Pos: p.src.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) scorecard(n *yaml.Node) *Scorecard {
	before := len(p.problems)
	f := p.fields(n, "scorecard", []string{"kind", "id", "title", "owner", "description", "appliesTo", "levels", "checks", "exemptions", "tests"})
	sc := &Scorecard{Pos: p.src.pos(n)}
	sc.ID, sc.Title, sc.Description, sc.Owner = f.about()
	what := fmt.Sprintf("scorecard %q", sc.ID)
	sc.AppliesTo = f.expr("appliesTo", false, what+" appliesTo")
	for _, ln := range f.seq("levels", true) {
		var name, desc string
		at := ln
		if ln.Kind == yaml.ScalarNode {
			name = ln.Value
		} else {
			lf := p.fields(ln, "level", []string{"name", "description"})
			name, desc = lf.str("name", true), lf.str("description", false)
			if n := lf.node("name"); n != nil {
				at = n
			}
		}
		if name == "" {
			continue
		}
		if !idPattern.MatchString(name) || name == "none" {
			p.errorf(at, "%s: level name %q: use lower-case letters, digits, '-', '_' or '.', and not \"none\"", what, name)
			continue
		}
		if _, dup := sc.Level(name); dup {
			p.errorf(at, "%s: duplicate level %q", what, name)
			continue
		}
		sc.Levels = append(sc.Levels, yardstick.Level{Name: name, Rank: len(sc.Levels) + 1})
		if desc != "" {
			if sc.LevelDescriptions == nil {
				sc.LevelDescriptions = map[string]string{}
			}
			sc.LevelDescriptions[name] = desc
		}
	}
	for _, cn := range f.seq("checks", true) {
		if c := p.check(cn, sc); c != nil {
			if prev, dup := sc.Check(c.ID); dup {
				p.errorf(cn, "%s: duplicate check id %q (first at %s)", what, c.ID, prev.Pos)
				continue
			}
			sc.Checks = append(sc.Checks, c)
		}
	}
	for _, xn := range f.seq("exemptions", false) {
		if x, ok := p.exemption(xn, sc); ok {
			sc.Exemptions = append(sc.Exemptions, x)
		}
	}
	sc.Tests = p.tests(f, sc, nil)
	if len(p.problems) > before {
		return nil
	}
	return sc
}

func (p *parser) check(n *yaml.Node, sc *Scorecard) *Check {
	f := p.fields(n, "check", []string{"id", "title", "level", "weight", "appliesTo", "expr", "description", "remediation", "link"})
	c := &Check{
		ID:          f.id(),
		Title:       f.str("title", true),
		Description: f.str("description", false),
		Remediation: f.str("remediation", false),
		Link:        f.str("link", false),
		Weight:      f.float("weight", 1),
		Pos:         p.src.pos(n),
	}
	what := fmt.Sprintf("check %q", c.ID)
	if c.Weight <= 0 {
		p.errorf(f.node("weight"), "%s: weight must be above 0, got %v", what, c.Weight)
	}
	if c.Link != "" {
		if u, err := url.Parse(c.Link); err != nil || u.Scheme == "" || u.Host == "" {
			p.errorf(f.node("link"), "%s: link %q is not an absolute URL", what, c.Link)
		}
	}
	if name := f.str("level", true); name != "" {
		level, ok := sc.Level(name)
		if !ok {
			p.errorf(f.node("level"), "%s: unknown level %q (levels: %s)", what, name, levelNames(sc.Levels))
		}
		c.Level = level
	}
	c.AppliesTo = f.expr("appliesTo", false, what+" appliesTo")
	c.Expr = f.expr("expr", true, what)
	return c
}

func levelNames(levels []yardstick.Level) string {
	names := make([]string, len(levels))
	for i, l := range levels {
		names[i] = l.Name
	}
	return strings.Join(names, ", ")
}

func (p *parser) exemption(n *yaml.Node, sc *Scorecard) (Exemption, bool) {
	before := len(p.problems)
	f := p.fields(n, "exemption", []string{"entity", "selector", "check", "reason", "expires"})
	x := Exemption{
		Entity:  f.ref("entity", "component"),
		Check:   f.str("check", true),
		Reason:  f.str("reason", true),
		Expires: f.date("expires", true),
		Pos:     p.src.pos(n),
	}
	x.Selector = f.expr("selector", false, "exemption selector")
	switch {
	case x.Entity == "" && x.Selector == nil && f.node("selector") == nil:
		p.errorf(n, "exemption: needs an entity or a selector")
	case x.Entity != "" && f.node("selector") != nil:
		p.errorf(f.node("selector"), "exemption: give an entity or a selector, not both")
	}
	if x.Check != "" {
		if _, ok := sc.Check(x.Check); !ok {
			p.errorf(f.node("check"), "exemption: unknown check %q in scorecard %q", x.Check, sc.ID)
		}
	}
	return x, len(p.problems) == before
}

func (p *parser) campaign(n *yaml.Node) *Campaign {
	before := len(p.problems)
	f := p.fields(n, "campaign", []string{"kind", "id", "title", "owner", "description", "appliesTo", "done", "start", "deadline", "tests"})
	c := &Campaign{Pos: p.src.pos(n)}
	c.ID, c.Title, c.Description, c.Owner = f.about()
	c.Start, c.Deadline = f.date("start", true), f.date("deadline", true)
	what := fmt.Sprintf("campaign %q", c.ID)
	if !c.Start.IsZero() && !c.Deadline.IsZero() && !c.Deadline.After(c.Start) {
		p.errorf(f.node("deadline"), "%s: deadline %s is not after start %s", what, c.Deadline.Format(time.DateOnly), c.Start.Format(time.DateOnly))
	}
	c.AppliesTo = f.expr("appliesTo", false, what+" appliesTo")
	c.Done = f.expr("done", true, what+" done")
	c.Tests = p.tests(f, nil, c)
	if len(p.problems) > before {
		return nil
	}
	return c
}

// tests reads the tests of a scorecard (sc != nil) or a campaign, leaving
// out those with problems.
func (p *parser) tests(f *fields, sc *Scorecard, c *Campaign) []TestCase {
	var out []TestCase
	for _, tn := range f.seq("tests", false) {
		if tc, ok := p.testCase(tn, sc, c); ok {
			out = append(out, tc)
		}
	}
	return out
}

// testCase reads one test of a scorecard (sc != nil) or a campaign.
func (p *parser) testCase(n *yaml.Node, sc *Scorecard, c *Campaign) (TestCase, bool) {
	before := len(p.problems)
	f := p.fields(n, "test", []string{"name", "entity", "facts", "metrics", "now", "expect"})
	tc := TestCase{Name: f.str("name", true), Pos: p.src.pos(n)}
	what := fmt.Sprintf("test %q", tc.Name)
	tc.Input.Entity = p.testEntity(f.node("entity"), what)
	tc.Input.Facts = p.testFacts(f.node("facts"), what)
	if mn := f.node("metrics"); mn != nil {
		if err := mn.Decode(&tc.Input.Metrics); err != nil {
			p.errorf(mn, "%s: metrics: want a mapping of names to numbers: %v", what, err)
		}
	}
	tc.Input.Now = f.date("now", false)

	allowed := []string{"applies", "done"}
	if sc != nil {
		allowed = []string{"applies", "level", "score", "checks"}
	}
	en := f.node("expect")
	if en == nil {
		p.errorf(n, "%s: missing key \"expect\"", what)
		return tc, false
	}
	ef := p.fields(en, what+" expect", allowed)
	tc.Expect.Applies = true
	if b := ef.boolean("applies"); b != nil {
		tc.Expect.Applies = *b
	}
	if sc != nil {
		if ln := ef.node("level"); ln != nil {
			level := ef.str("level", false)
			if level == "none" {
				level = ""
			}
			if _, ok := sc.Level(level); level != "" && !ok {
				p.errorf(ln, "%s: unknown level %q (levels: %s, or none)", what, level, levelNames(sc.Levels))
			}
			tc.Expect.Level = &level
		}
		if sn := ef.node("score"); sn != nil {
			s := ef.float("score", 0)
			tc.Expect.Score = &s
		}
		if cn := ef.node("checks"); cn != nil {
			cf := p.fields(cn, what+" expect checks", nil)
			tc.Expect.Checks = map[string]yardstick.CheckState{}
			for _, id := range cf.order {
				if _, ok := sc.Check(id); !ok {
					p.errorf(cf.keys[id], "%s: unknown check %q", what, id)
					continue
				}
				state := yardstick.CheckState(cf.str(id, true))
				switch state {
				case yardstick.StatePass, yardstick.StateFail, yardstick.StateUnknown, yardstick.StateExempt:
				default:
					p.errorf(cf.node(id), "%s: check %q: state %q is not pass, fail, unknown or exempt", what, id, state)
				}
				tc.Expect.Checks[id] = state
			}
		}
	} else {
		tc.Expect.Done = ef.boolean("done")
		if tc.Expect.Done == nil && tc.Expect.Applies {
			p.errorf(en, "%s: expect needs done: true or false", what)
		}
	}
	return tc, len(p.problems) == before
}

func (p *parser) testEntity(n *yaml.Node, what string) Entity {
	f := p.fields(n, what+" entity", []string{"kind", "namespace", "name", "title", "description", "type", "lifecycle", "owner", "system", "domain", "parent", "tags", "annotations", "labels", "spec"})
	e := yardstick.Entity{
		Kind:        f.str("kind", false),
		Namespace:   f.str("namespace", false),
		Name:        f.str("name", false),
		Title:       f.str("title", false),
		Description: f.str("description", false),
		Type:        f.str("type", false),
		Lifecycle:   f.str("lifecycle", false),
		Owner:       f.ref("owner", "group"),
		System:      f.ref("system", "system"),
		Domain:      f.ref("domain", "domain"),
		Parent:      f.ref("parent", "group"),
	}
	if e.Kind == "" {
		e.Kind = "Component"
	}
	if e.Namespace == "" {
		e.Namespace = yardstick.DefaultNamespace
	}
	if e.Name == "" {
		e.Name = "test"
	}
	e.Ref = yardstick.NewEntityRef(e.Kind, e.Namespace, e.Name)
	decode := func(key string, into any) {
		if kn := f.node(key); kn != nil {
			if err := kn.Decode(into); err != nil {
				p.errorf(kn, "%s entity: %s: %v", what, key, err)
			}
		}
	}
	decode("tags", &e.Tags)
	decode("annotations", &e.Annotations)
	decode("labels", &e.Labels)
	if sn := f.node("spec"); sn != nil {
		v, err := yamlToJSON(sn)
		if err != nil {
			p.errorf(sn, "%s entity: spec: %v", what, err)
		} else {
			e.Spec = string(v)
		}
	}
	out, err := NewEntity(e)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
	}
	return out
}

// testFacts decodes facts through JSON, so a test sees numbers as doubles and
// times as strings exactly as facts read from the store.
func (p *parser) testFacts(n *yaml.Node, what string) yardstick.Facts {
	if n == nil {
		return yardstick.Facts{}
	}
	raw, err := yamlToJSON(n)
	if err != nil {
		p.errorf(n, "%s: facts: %v", what, err)
		return nil
	}
	var facts yardstick.Facts
	if err := json.Unmarshal(raw, &facts); err != nil {
		p.errorf(n, "%s: facts: want facts.<source>.<name> (a mapping of sources, each a mapping of fact names): %v", what, err)
		return nil
	}
	return facts
}

func yamlToJSON(n *yaml.Node) ([]byte, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// fields reads one YAML mapping, refusing unknown and duplicate keys.
type fields struct {
	p       *parser
	mapping *yaml.Node
	what    string
	vals    map[string]*yaml.Node
	keys    map[string]*yaml.Node
	order   []string
}

// fields reads mapping n; allowed nil accepts any key.
// about reads, in this order, the keys that every rule document has: id,
// title, description and the owning group.
func (f *fields) about() (id, title, description string, owner yardstick.EntityRef) {
	return f.id(), f.str("title", true), f.str("description", false), f.ref("owner", "group")
}

func (p *parser) fields(n *yaml.Node, what string, allowed []string) *fields {
	f := &fields{p: p, mapping: n, what: what, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if n == nil {
		return f
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping", what)
		return f
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			p.errorf(k, "%s: unknown key %q (allowed: %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := f.vals[k.Value]; dup {
			p.errorf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		f.vals[k.Value], f.keys[k.Value] = v, k
		f.order = append(f.order, k.Value)
	}
	return f
}

func (f *fields) node(key string) *yaml.Node { return f.vals[key] }

func (f *fields) missing(key string) {
	f.p.errorf(f.mapping, "%s: missing key %q", f.what, key)
}

func (f *fields) scalar(key string, required bool) (*yaml.Node, bool) {
	n := f.vals[key]
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if required && f.mapping != nil {
			f.missing(key)
		}
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		f.p.errorf(n, "%s: %s: want a single value", f.what, key)
		return nil, false
	}
	return n, true
}

func (f *fields) str(key string, required bool) string {
	n, ok := f.scalar(key, required)
	if !ok {
		return ""
	}
	if required && strings.TrimSpace(n.Value) == "" {
		f.p.errorf(n, "%s: %s is empty", f.what, key)
	}
	return n.Value
}

func (f *fields) id() string {
	id := f.str("id", true)
	if id != "" && !idPattern.MatchString(id) {
		f.p.errorf(f.vals["id"], "%s: id %q: use lower-case letters, digits, '-', '_' or '.'", f.what, id)
	}
	return id
}

func (f *fields) float(key string, def float64) float64 {
	n, ok := f.scalar(key, false)
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		f.p.errorf(n, "%s: %s: %q is not a number", f.what, key, n.Value)
		return def
	}
	return v
}

func (f *fields) boolean(key string) *bool {
	n, ok := f.scalar(key, false)
	if !ok {
		return nil
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		f.p.errorf(n, "%s: %s: %q is not true or false", f.what, key, n.Value)
		return nil
	}
	return &b
}

// date reads "2025-06-30" (00:00 UTC that day) or an RFC 3339 time.
func (f *fields) date(key string, required bool) time.Time {
	n, ok := f.scalar(key, required)
	if !ok {
		return time.Time{}
	}
	t, err := parseTime(n.Value)
	if err != nil {
		f.p.errorf(n, "%s: %s: %q is not a date (2025-06-30) or an RFC 3339 time", f.what, key, n.Value)
	}
	return t
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

func (f *fields) ref(key, defaultKind string) yardstick.EntityRef {
	s := f.str(key, false)
	if s == "" {
		return ""
	}
	r, err := yardstick.ParseEntityRef(s, defaultKind)
	if err != nil {
		f.p.errorf(f.vals[key], "%s: %s: %v", f.what, key, err)
	}
	return r
}

func (f *fields) seq(key string, required bool) []*yaml.Node {
	n := f.vals[key]
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if required && f.mapping != nil {
			f.missing(key)
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		f.p.errorf(n, "%s: %s: want a list", f.what, key)
		return nil
	}
	if required && len(n.Content) == 0 {
		f.p.errorf(n, "%s: %s is empty", f.what, key)
	}
	return n.Content
}

// expr compiles the CEL expression under key; problems carry the file
// position of the offending token.
func (f *fields) expr(key string, required bool, what string) *Program {
	n, ok := f.scalar(key, required)
	if !ok {
		return nil
	}
	prg, problems := f.p.env.compile(f.p.src, n.Value, f.p.src.scalarPositions(n), what)
	f.p.problems = append(f.p.problems, problems...)
	return prg
}

func metricName(readPath string) (string, bool) {
	rest, ok := strings.CutPrefix(readPath, VarMetrics+".")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, ".")
	return name, true
}

// Rules holds the current good rule set of a long-running process. Reload
// swaps it only when loading succeeds, so a bad edit never takes the rules
// away. It is safe for concurrent use.
type Rules struct {
	cur atomic.Pointer[RuleSet]
}

// Current returns the last good set, nil before the first successful Reload.
func (r *Rules) Current() *RuleSet { return r.cur.Load() }

// Reload loads dir and, on success, makes it current. On failure the
// previous set stays current and the error lists every problem.
func (r *Rules) Reload(e *Env, fsys fs.FS, dir string) error {
	set, err := e.LoadDir(fsys, path.Clean(dir))
	if err != nil {
		return err
	}
	r.cur.Store(set)
	return nil
}
