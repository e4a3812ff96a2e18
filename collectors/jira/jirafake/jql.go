package jirafake

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The fake understands the part of JQL that collectors send: clauses on
// project, key, issuetype, status, statusCategory, priority, labels, component,
// created, updated and resolved joined by AND, OR, NOT and parentheses, with =,
// !=, >, >=, <, <=, in, not in, is empty; and ORDER BY. It rejects what Jira
// rejects with the messages Jira uses: unknown fields, project or component
// values that do not exist, malformed dates.

type token struct {
	kind string // "word", "string", "op", "(", ")", ","
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')' || r == ',':
			out = append(out, token{kind: string(r), text: string(r)})
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("Error in the JQL Query: The quoted string '%s' has not been completed.", string(rs[i:]))
			}
			out = append(out, token{kind: "string", text: b.String()})
			i = j + 1
		case strings.ContainsRune("=!<>~", r):
			j := i + 1
			if j < len(rs) && (rs[j] == '=' || (r == '!' && rs[j] == '~')) {
				j++
			}
			op := string(rs[i:j])
			if op == "!" {
				return nil, fmt.Errorf("Error in the JQL Query: The character '!' is a reserved JQL character.")
			}
			out = append(out, token{kind: "op", text: op})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("()\",'=!<>~", rs[j]) {
				j++
			}
			out = append(out, token{kind: "word", text: string(rs[i:j])})
			i = j
		}
	}
	return out, nil
}

// node is a parsed JQL condition.
type node struct {
	op          string // "and", "or", "not", "clause"
	left, right *node
	field       string // lower-cased
	cmp         string // =, !=, >, >=, <, <=, in, not in, is, is not
	values      []string
}

type sortKey struct {
	field string
	desc  bool
}

type query struct {
	where *node // nil: every issue
	order []sortKey
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{}
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == "word" && strings.EqualFold(t.text, w)
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func parseJQL(s string) (query, error) {
	toks, err := lex(s)
	if err != nil {
		return query{}, err
	}
	p := &parser{toks: toks}
	var q query
	if p.pos < len(p.toks) && !p.isWord("order") {
		if q.where, err = p.or(); err != nil {
			return query{}, err
		}
	}
	if p.isWord("order") {
		p.next()
		if !p.isWord("by") {
			return query{}, fmt.Errorf("Error in the JQL Query: Expecting 'by' but got '%s'.", p.peek().text)
		}
		p.next()
		for {
			t := p.next()
			if t.kind != "word" {
				return query{}, fmt.Errorf("Error in the JQL Query: Expecting a field name but got '%s'.", t.text)
			}
			k := sortKey{field: strings.ToLower(t.text)}
			if p.isWord("asc") {
				p.next()
			} else if p.isWord("desc") {
				p.next()
				k.desc = true
			}
			q.order = append(q.order, k)
			if p.peek().kind != "," {
				break
			}
			p.next()
		}
	}
	if p.pos < len(p.toks) {
		return query{}, fmt.Errorf("Error in the JQL Query: Expecting either 'OR' or 'AND' but got '%s'.", p.peek().text)
	}
	return q, nil
}

func (p *parser) or() (*node, error) { return p.binary("or", p.and) }

func (p *parser) and() (*node, error) { return p.binary("and", p.factor) }

// binary parses operand {op operand}, grouping to the left.
func (p *parser) binary(op string, operand func() (*node, error)) (*node, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isWord(op) {
		p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = &node{op: op, left: l, right: r}
	}
	return l, nil
}

func (p *parser) factor() (*node, error) {
	switch {
	case p.isWord("not"):
		p.next()
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &node{op: "not", left: n}, nil
	case p.peek().kind == "(":
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting ')' before the end of the query.")
		}
		return n, nil
	}
	return p.clause()
}

func (p *parser) clause() (*node, error) {
	f := p.next()
	if f.kind != "word" && f.kind != "string" {
		return nil, fmt.Errorf("Error in the JQL Query: Expecting a field name but got '%s'.", f.text)
	}
	n := &node{op: "clause", field: strings.ToLower(f.text)}
	switch t := p.peek(); {
	case t.kind == "op":
		p.next()
		n.cmp = t.text
	case p.isWord("in"):
		p.next()
		n.cmp = "in"
	case p.isWord("not"):
		p.next()
		if !p.isWord("in") {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting 'in' after 'not'.")
		}
		p.next()
		n.cmp = "not in"
	case p.isWord("is"):
		p.next()
		n.cmp = "is"
		if p.isWord("not") {
			p.next()
			n.cmp = "is not"
		}
		if !p.isWord("empty") && !p.isWord("null") {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting 'EMPTY' after 'is'.")
		}
		p.next()
		return n, nil
	default:
		return nil, fmt.Errorf("Error in the JQL Query: Expecting operator but got '%s'.", t.text)
	}
	if n.cmp == "in" || n.cmp == "not in" {
		if p.next().kind != "(" {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting '(' after '%s'.", n.cmp)
		}
		for {
			v := p.next()
			if v.kind != "word" && v.kind != "string" {
				return nil, fmt.Errorf("Error in the JQL Query: Expecting a value but got '%s'.", v.text)
			}
			n.values = append(n.values, v.text)
			sep := p.next()
			if sep.kind == ")" {
				break
			}
			if sep.kind != "," {
				return nil, fmt.Errorf("Error in the JQL Query: Expecting ',' or ')' but got '%s'.", sep.text)
			}
		}
		return n, nil
	}
	v := p.next()
	if v.kind != "word" && v.kind != "string" {
		return nil, fmt.Errorf("Error in the JQL Query: Expecting a value but got '%s'.", v.text)
	}
	n.values = []string{v.text}
	return n, nil
}

var dateLayouts = []string{"2006-01-02 15:04", "2006/01/02 15:04", "2006-01-02", "2006/01/02"}

// validate checks fields and values the way Jira does before it searches,
// and resolves dates in loc.
func (s *Server) validate(n *node, loc *time.Location) error {
	if n == nil {
		return nil
	}
	if n.op != "clause" {
		if err := s.validate(n.left, loc); err != nil {
			return err
		}
		return s.validate(n.right, loc)
	}
	switch n.field {
	case "project":
		for _, v := range n.values {
			if s.projectByName(v) == nil {
				return fmt.Errorf("The value '%s' does not exist for the field 'project'.", v)
			}
		}
	case "component":
		for _, v := range n.values {
			if !s.componentExists(v) {
				return fmt.Errorf("The value '%s' does not exist for the field 'component'.", v)
			}
		}
	case "created", "updated", "resolved", "resolutiondate":
		if n.cmp == "is" || n.cmp == "is not" {
			return nil
		}
		for _, v := range n.values {
			if _, ok := parseDate(v, loc); !ok {
				return fmt.Errorf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v, n.field)
			}
		}
	case "key", "issuekey", "issuetype", "type", "status", "statuscategory", "priority", "labels":
	default:
		return fmt.Errorf("Field '%s' does not exist or you do not have permission to view it.", n.field)
	}
	return nil
}

func parseDate(v string, loc *time.Location) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// match evaluates n for one issue.
func (s *Server) match(n *node, is *issue, loc *time.Location) bool {
	switch n.op {
	case "and":
		return s.match(n.left, is, loc) && s.match(n.right, is, loc)
	case "or":
		return s.match(n.left, is, loc) || s.match(n.right, is, loc)
	case "not":
		return !s.match(n.left, is, loc)
	}
	var have []string // the issue's values for the field
	var at *time.Time
	switch n.field {
	case "project":
		have = []string{is.project.key, is.project.name, is.project.id}
	case "key", "issuekey":
		have = []string{is.key, fmt.Sprint(is.id)}
	case "issuetype", "type":
		have = []string{is.typ.name, is.typ.id}
	case "status":
		st := statusByID(is.status)
		have = []string{st.name, st.id}
	case "statuscategory":
		c := statusByID(is.status).category
		have = []string{c.name, c.key, fmt.Sprint(c.id)}
	case "priority":
		have = []string{is.priority.name, is.priority.id}
	case "labels":
		have = is.labels
	case "component":
		have = is.components
	case "created":
		at = &is.created
	case "updated":
		at = &is.updated
	case "resolved", "resolutiondate":
		at = is.resolved
	}
	if at != nil || n.field == "resolved" || n.field == "resolutiondate" {
		if n.cmp == "is" {
			return at == nil
		}
		if n.cmp == "is not" {
			return at != nil
		}
		if at == nil {
			return false
		}
		t, _ := parseDate(n.values[0], loc)
		switch n.cmp {
		case ">=":
			return !at.Before(t)
		case ">":
			return at.After(t)
		case "<=":
			return !at.After(t)
		case "<":
			return at.Before(t)
		case "=":
			return at.Equal(t)
		case "!=":
			return !at.Equal(t)
		}
		return false
	}
	hit := slices.ContainsFunc(n.values, func(v string) bool {
		return slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, v) })
	})
	switch n.cmp {
	case "=", "in", "~":
		return hit
	case "!=", "not in", "!~":
		return !hit
	case "is":
		return len(have) == 0
	case "is not":
		return len(have) > 0
	}
	return false
}

// sortIssues orders issues by the query's ORDER BY (key ascending by default).
func sortIssues(list []*issue, order []sortKey) {
	if len(order) == 0 {
		order = []sortKey{{field: "key"}}
	}
	slices.SortStableFunc(list, func(a, b *issue) int {
		for _, k := range order {
			c := 0
			switch k.field {
			case "created":
				c = a.created.Compare(b.created)
			case "updated":
				c = a.updated.Compare(b.updated)
			case "key", "issuekey":
				c = strings.Compare(a.project.key, b.project.key)
				if c == 0 {
					c = a.num - b.num
				}
			case "priority":
				c = strings.Compare(a.priority.id, b.priority.id)
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}
