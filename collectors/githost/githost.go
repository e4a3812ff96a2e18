// Package githost holds what the Git hosts (github, gitlab) do the same way,
// so that both write the same facts vocabulary and sync alike: the fact names
// and shapes a rule reads as facts.<source>.<name> or, host-neutral,
// facts.git.<name>, and the per-repository sync buffer.
package githost

import (
	"encoding/json"
	"fmt"
	"maps"
)

// Namespace is the host-neutral name under which rules see every Git host's
// facts (facts.git.files.readme), declared as the hosts' FactNamespaces.
const Namespace = "git"

// Fact names a Git source writes per repository.
const (
	FactRepository       = "repository"
	FactBranchProtection = "branch_protection"
	FactFiles            = "files"
	FactGoMod            = "go_mod"
	FactGoVersion        = "go_version"
	FactPackageJSON      = "package_json"
	FactDockerfile       = "dockerfile"
)

// MaxDockerfiles bounds the Dockerfiles read per repository.
const MaxDockerfiles = 5

// GoMod is what the go_mod fact tells about a go.mod file.
type GoMod struct {
	Present   bool              `json:"present"`
	Module    string            `json:"module"`
	Go        string            `json:"go"`        // the go directive: "1.21", "1.22.3"
	Toolchain string            `json:"toolchain"` // "go1.22.3", "" when absent
	Requires  map[string]string `json:"requires"`  // module path → version, direct and indirect
	Indirect  []string          `json:"indirect"`  // module paths required only indirectly
}

// AddRequire records one require directive.
func (m *GoMod) AddRequire(path, version string, indirect bool) {
	m.Requires[path] = version
	if indirect {
		m.Indirect = append(m.Indirect, path)
	}
}

// PackageJSON is what the package_json fact tells about a package.json file.
type PackageJSON struct {
	Present         bool              `json:"present"`
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"dev_dependencies"`
	Engines         map[string]string `json:"engines"`
}

// ParsePackageJSON reads the parts of a package.json the fact holds.
func ParsePackageJSON(data []byte) (PackageJSON, error) {
	var raw struct {
		Name            string            `json:"name"`
		Version         string            `json:"version"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
		Engines         map[string]string `json:"engines"`
	}
	p := PackageJSON{Present: true, Dependencies: map[string]string{}, DevDependencies: map[string]string{}, Engines: map[string]string{}}
	if err := json.Unmarshal(data, &raw); err != nil {
		return p, fmt.Errorf("package.json: %w", err)
	}
	p.Name, p.Version = raw.Name, raw.Version
	maps.Copy(p.Dependencies, raw.Dependencies)
	maps.Copy(p.DevDependencies, raw.DevDependencies)
	maps.Copy(p.Engines, raw.Engines)
	return p, nil
}
