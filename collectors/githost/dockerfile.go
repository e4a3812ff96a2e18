package githost

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

var dockerArgRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// DockerfileImages returns the base images of a Dockerfile's FROM
// instructions in order (never nil), skipping references to earlier build
// stages and "scratch", with ARG defaults declared before them substituted.
func DockerfileImages(data []byte) []string {
	args := map[string]string{}
	stages := map[string]bool{}
	images := []string{}
	for _, line := range dockerLines(data) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = strings.Trim(v, `"'`)
			}
		case "FROM":
			rest := f[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				continue
			}
			img := dockerArgRef.ReplaceAllStringFunc(rest[0], func(ref string) string {
				name := dockerArgRef.FindStringSubmatch(ref)[1]
				if v, ok := args[name]; ok {
					return v
				}
				return ref
			})
			if !stages[strings.ToLower(img)] && img != "scratch" {
				images = append(images, img)
			}
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages[strings.ToLower(rest[2])] = true
			}
		}
	}
	return images
}

// dockerLines joins continuation lines and drops comments and blank lines.
func dockerLines(data []byte) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
