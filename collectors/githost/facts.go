package githost

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Protection is the branch_protection fact. Every key is always present, so
// rules can read facts.git.branch_protection.required_reviews of an
// unprotected branch too (0).
type Protection struct {
	Protected               bool     `json:"protected"`
	Branch                  string   `json:"branch"`
	RequiredReviews         int      `json:"required_reviews"`
	DismissStaleReviews     bool     `json:"dismiss_stale_reviews"`
	RequireCodeOwnerReviews bool     `json:"require_code_owner_reviews"`
	RequiredStatusChecks    []string `json:"required_status_checks"`
	StrictStatusChecks      bool     `json:"strict_status_checks"`
	AdminsEnforced          bool     `json:"admins_enforced"`
	LinearHistory           bool     `json:"linear_history"`
	AllowForcePushes        bool     `json:"allow_force_pushes"`
	AllowDeletions          bool     `json:"allow_deletions"`
	RequiredSignatures      bool     `json:"required_signatures"`
	ConversationResolution  bool     `json:"conversation_resolution"`
}

// Unprotected is the branch_protection fact of a branch without protection.
func Unprotected(branch string) Protection {
	return Protection{Branch: branch, RequiredStatusChecks: []string{}}
}

// Files is the files fact: which well-known files the default branch has.
type Files struct {
	Readme      bool `json:"readme"`
	Codeowners  bool `json:"codeowners"`
	Security    bool `json:"security"`
	Dependabot  bool `json:"dependabot"`
	Renovate    bool `json:"renovate"`
	CatalogInfo bool `json:"catalog_info"`
	GoMod       bool `json:"go_mod"`
	PackageJSON bool `json:"package_json"`
	Dockerfile  bool `json:"dockerfile"`
	Workflows   bool `json:"workflows"`
}

// Dockerfile is the dockerfile fact: the FROM images of the Dockerfiles at
// the repository root.
type Dockerfile struct {
	Present bool                `json:"present"`
	Files   map[string][]string `json:"files"`  // path → FROM images in order
	Images  []string            `json:"images"` // all of them, sorted, once each
}

// Tree is the set of paths the listings of a repository's root and a few of
// its directories showed: lower-cased path → is a file (a directory counts
// where the host lists it as one, such as .github/workflows).
type Tree map[string]bool

// Has reports whether the tree has any of paths (compared lower-cased).
func (t Tree) Has(paths ...string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return t[strings.ToLower(p)] })
}

// HasPrefix reports whether dir holds a file whose name starts with prefix.
func (t Tree) HasPrefix(dir, prefix string) bool {
	for p, isFile := range t {
		if isFile && path.Dir(p) == dir && strings.HasPrefix(path.Base(p), prefix) {
			return true
		}
	}
	return false
}

// Files returns the files fact of the tree, for a host whose own directory is
// hostDir (".github", ".gitlab"); Dependabot and Workflows are the host's to
// set.
func (t Tree) Files(hostDir string) Files {
	return Files{
		Dockerfile:  len(t.Dockerfiles(nil)) > 0,
		Readme:      t.HasPrefix(".", "readme") || t.HasPrefix(hostDir, "readme") || t.HasPrefix("docs", "readme"),
		Codeowners:  t.Has("CODEOWNERS", hostDir+"/CODEOWNERS", "docs/CODEOWNERS"),
		Security:    t.Has("SECURITY.md", hostDir+"/SECURITY.md", "docs/SECURITY.md"),
		Renovate:    t.Has("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", hostDir+"/renovate.json", hostDir+"/renovate.json5"),
		CatalogInfo: t.Has("catalog-info.yaml", "catalog-info.yml"),
		GoMod:       t.Has("go.mod"),
		PackageJSON: t.Has("package.json"),
	}
}

// Dockerfiles returns the paths (as listed, from original) of the
// Dockerfiles at the root, sorted, at most MaxDockerfiles of them.
func (t Tree) Dockerfiles(original map[string]string) []string {
	var out []string
	for lp, isFile := range t {
		base := path.Base(lp)
		if isFile && path.Dir(lp) == "." && (base == "dockerfile" || strings.HasPrefix(base, "dockerfile.") || strings.HasSuffix(base, ".dockerfile")) {
			out = append(out, original[lp])
		}
	}
	slices.Sort(out)
	return out[:min(len(out), MaxDockerfiles)]
}

// Entry is one path of a directory listing, as the host lists it: a file, a
// directory, or neither (a symlink, a submodule).
type Entry struct {
	Path      string
	File, Dir bool
}

// ReadTree lists the root with list, then the root's directories named in
// descend (lower-cased), and returns the tree and each lower-cased path as
// listed. A descended directory the host no longer has (404) is skipped.
// Directories named in dirFiles count as files (GitHub's .github/workflows).
func ReadTree(ctx context.Context, list func(ctx context.Context, dir string) ([]Entry, error), descend []string, dirFiles ...string) (Tree, map[string]string, error) {
	t := Tree{}
	original := map[string]string{} // lower-cased → as listed
	dirs := []string{""}
	for i := 0; i < len(dirs); i++ {
		entries, err := list(ctx, dirs[i])
		if err != nil {
			if IsNotFound(err) && dirs[i] != "" {
				continue
			}
			return nil, nil, err
		}
		for _, e := range entries {
			lp := strings.ToLower(e.Path)
			t[lp] = e.File || e.Dir && slices.Contains(dirFiles, lp)
			original[lp] = e.Path
			if dirs[i] == "" && e.Dir && slices.Contains(descend, lp) {
				dirs = append(dirs, e.Path)
			}
		}
	}
	return t, original, nil
}

// Reader is how a host reads the files the facts derive from, and parses
// them.
type Reader struct {
	// Read returns the content of the file at p (as listed) at the head.
	Read func(ctx context.Context, p string) ([]byte, error)
	// GoMod parses a go.mod file; Images the FROM images of a Dockerfile.
	GoMod  func(data []byte) (GoMod, error)
	Images func(data []byte) []string
	// Warn logs a file that does not parse (its fact is then the empty one).
	Warn func(ctx context.Context, msg string, err error)
	// Fact builds one fact of the repository, observed at the head's time.
	Fact func(name string, v any, at time.Time) yardstick.Fact
}

// FileFacts reads go.mod, package.json (when the files fact says they are
// there) and the Dockerfiles of the tree, and returns the files (fv, which
// embeds files), go_mod, go_version, package_json and dockerfile facts,
// observed at at.
func (r Reader) FileFacts(ctx context.Context, t Tree, original map[string]string, fv any, files Files, at time.Time) ([]yardstick.Fact, error) {
	var goMod, packageJSON string
	if files.GoMod {
		goMod = original["go.mod"]
	}
	if files.PackageJSON {
		packageJSON = original["package.json"]
	}
	dockerfiles := t.Dockerfiles(original)
	facts := []yardstick.Fact{r.Fact(FactFiles, fv, at)}
	gm := GoMod{Requires: map[string]string{}, Indirect: []string{}}
	if goMod != "" {
		data, err := r.Read(ctx, goMod)
		if err != nil {
			return nil, err
		}
		if gm, err = r.GoMod(data); err != nil {
			r.Warn(ctx, "unreadable go.mod", err)
		}
	}
	facts = append(facts, r.Fact(FactGoMod, gm, at), r.Fact(FactGoVersion, gm.Go, at))

	pj := PackageJSON{Dependencies: map[string]string{}, DevDependencies: map[string]string{}, Engines: map[string]string{}}
	if packageJSON != "" {
		data, err := r.Read(ctx, packageJSON)
		if err != nil {
			return nil, err
		}
		if pj, err = ParsePackageJSON(data); err != nil {
			r.Warn(ctx, "unreadable package.json", err)
		}
	}
	facts = append(facts, r.Fact(FactPackageJSON, pj, at))

	dv := Dockerfile{Present: len(dockerfiles) > 0, Files: map[string][]string{}, Images: []string{}}
	for _, p := range dockerfiles {
		data, err := r.Read(ctx, p)
		if err != nil {
			return nil, err
		}
		dv.Files[p] = r.Images(data)
		dv.Images = append(dv.Images, dv.Files[p]...)
	}
	slices.Sort(dv.Images)
	dv.Images = slices.Compact(dv.Images)
	return append(facts, r.Fact(FactDockerfile, dv, at)), nil
}
