package checks

import (
	"fmt"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Pos is a place in a rule file. Line and Column count from 1.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String formats the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }

// source is one rule file's text, kept to place CEL errors inside YAML scalars.
type source struct {
	name  string
	lines [][]rune
}

func newSource(name string, data []byte) *source {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	parts := strings.Split(text, "\n")
	s := &source{name: name, lines: make([][]rune, len(parts))}
	for i, l := range parts {
		s.lines[i] = []rune(l)
	}
	return s
}

func (s *source) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: s.name, Line: 1, Column: 1}
	}
	return Pos{File: s.name, Line: n.Line, Column: n.Column}
}

// scalarPositions maps each rune offset of a scalar's value (and the offset
// just past its end) to where that rune stands in the file. YAML strips
// quotes, escapes, block indentation and folds lines, so the value is walked
// against the source: every non-space rune of the value is found at or after
// the current source position (skipping quotes, backslashes and indentation),
// and white space in the value consumes one source white space or line break.
// A rune that cannot be found keeps the last good position, so the worst case
// is a column a little off, never a panic.
func (s *source) scalarPositions(n *yaml.Node) []Pos {
	value := []rune(n.Value)
	out := make([]Pos, len(value)+1)
	line, col := n.Line-1, n.Column-1 // 0-based cursor into s.lines
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		line, col = line+1, 0 // content starts on the line after the indicator
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		col++ // past the opening quote
	}
	at := func() Pos { return Pos{File: s.name, Line: line + 1, Column: col + 1} }
	inFile := func(l, c int) bool { return l >= 0 && l < len(s.lines) && c <= len(s.lines[l]) }
	if !inFile(line, col) {
		for i := range out {
			out[i] = s.pos(n)
		}
		return out
	}
	// advance moves the cursor one rune, crossing line ends.
	advance := func() bool {
		if col < len(s.lines[line]) {
			col++
			return true
		}
		if line+1 < len(s.lines) {
			line, col = line+1, 0
			return true
		}
		return false
	}
	const maxSkip = 512 // a value rune is never this far from its source rune
	end := at()         // just past the last non-space rune: where "unexpected end" points
	for i, r := range value {
		if unicode.IsSpace(r) {
			out[i] = at()
			if col == len(s.lines[line]) || unicode.IsSpace(s.lines[line][col]) {
				advance()
			}
			continue
		}
		l0, c0 := line, col
		found := false
		for skip := 0; skip < maxSkip; skip++ {
			if col < len(s.lines[line]) && s.lines[line][col] == r {
				found = true
				break
			}
			if !advance() {
				break
			}
		}
		if !found {
			line, col = l0, c0
			out[i] = at()
			continue
		}
		out[i] = at()
		advance()
		end = at()
	}
	out[len(value)] = end
	return out
}
