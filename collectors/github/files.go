package github

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// parseGoMod reads the directives of a go.mod file that facts need. It reports
// the first malformed directive with its line number.
func parseGoMod(data []byte) (githost.GoMod, error) {
	m := githost.GoMod{Present: true, Requires: map[string]string{}, Indirect: []string{}}
	inRequire := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		indirect := strings.Contains(line, "// indirect")
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if inRequire {
			if f[0] == ")" {
				inRequire = false
				continue
			}
			if len(f) < 2 {
				return m, fmt.Errorf("go.mod:%d: require line needs a module path and a version", n)
			}
			m.AddRequire(unquote(f[0]), f[1], indirect)
			continue
		}
		switch f[0] {
		case "module":
			if len(f) < 2 {
				return m, fmt.Errorf("go.mod:%d: module directive without a path", n)
			}
			m.Module = unquote(f[1])
		case "go":
			if len(f) != 2 {
				return m, fmt.Errorf("go.mod:%d: go directive needs one version", n)
			}
			m.Go = f[1]
		case "toolchain":
			if len(f) == 2 {
				m.Toolchain = f[1]
			}
		case "require":
			switch {
			case len(f) == 2 && f[1] == "(":
				inRequire = true
			case len(f) >= 3:
				m.AddRequire(unquote(f[1]), f[2], indirect)
			default:
				return m, fmt.Errorf("go.mod:%d: require directive needs a module path and a version", n)
			}
		}
	}
	sort.Strings(m.Indirect)
	return m, sc.Err()
}

func unquote(s string) string { return strings.Trim(s, "\"`") }

// matchFact returns the value of a (path, regexp) fact in data: the first capture
// group, or the whole match when the pattern has none; "" without a match.
func matchFact(re *regexp.Regexp, data []byte) string {
	m := re.FindSubmatch(data)
	switch {
	case m == nil:
		return ""
	case len(m) > 1:
		return string(m[1])
	default:
		return string(m[0])
	}
}
