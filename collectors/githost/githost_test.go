package githost

import (
	"encoding/json"
	"testing"
)

func TestParsePackageJSON(t *testing.T) {
	p, err := ParsePackageJSON([]byte(`{"name":"web","version":"1.0.0","dependencies":{"react":"^18"},"devDependencies":{"vite":"5"},"engines":{"node":">=20"}}`))
	if err != nil || !p.Present || p.Name != "web" || p.Dependencies["react"] != "^18" || p.DevDependencies["vite"] != "5" || p.Engines["node"] != ">=20" {
		t.Errorf("ParsePackageJSON() = %+v, %v", p, err)
	}
	b, _ := json.Marshal(p)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["dev_dependencies"] == nil {
		t.Errorf("package_json fact = %s, want dev_dependencies in snake case", b)
	}
	if _, err := ParsePackageJSON([]byte(`{"name":`)); err == nil {
		t.Error("ParsePackageJSON(truncated) = nil error")
	}
}

func TestGoModAddRequire(t *testing.T) {
	m := GoMod{Requires: map[string]string{}}
	m.AddRequire("golang.org/x/mod", "v0.20.0", false)
	m.AddRequire("golang.org/x/sys", "v0.25.0", true)
	if m.Requires["golang.org/x/mod"] != "v0.20.0" || len(m.Indirect) != 1 || m.Indirect[0] != "golang.org/x/sys" {
		t.Errorf("GoMod = %+v", m)
	}
}
