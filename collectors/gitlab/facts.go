package gitlab

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/mod/modfile"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// fact builds a project fact under the configured facts source.
func (s *projectSync) fact(name string, v any, at time.Time) yardstick.Fact {
	return yardstick.NewFact(s.c.cfg.factsSource(), s.scope, name, v, at)
}

// repository reads the project and writes the repository fact. It also learns
// the default branch and the project's merge settings.
func (s *projectSync) repository(ctx context.Context) error {
	p, resp, err := s.c.api.Projects.GetProject(s.project, nil, s.opts(ctx)...)
	if err != nil {
		return apiError("get project "+s.project, resp, err)
	}
	s.st.DefaultBranch = p.DefaultBranch
	s.st.seen(tm(p.LastActivityAt))
	s.settings = p
	return s.writeFacts(ctx, s.fact(githost.FactRepository, repositoryValue(p), s.now))
}

func repositoryValue(p *gl.Project) map[string]any {
	topics := slices.Clone(p.Topics)
	if topics == nil {
		topics = []string{}
	}
	visibility := string(p.Visibility)
	return map[string]any{
		"full_name":      p.PathWithNamespace,
		"default_branch": p.DefaultBranch,
		"archived":       p.Archived,
		"disabled":       false,
		"fork":           p.ForkedFromProject != nil,
		"private":        visibility != "public",
		"visibility":     visibility,
		"topics":         topics,
		"language":       "",
		"languages":      map[string]int{},
		"license":        "",
		"created_at":     tm(p.CreatedAt).UTC().Format(time.RFC3339),
	}
}

// protectionValue is the branch_protection fact, shaped like GitHub's. Every
// key is always present, so rules can read required_reviews of an unprotected
// branch too (0).
type protectionValue struct {
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

// protection reads the project's protected branches and, when one covers the
// default branch (by name or wildcard), the project's approval rules (a
// Premium feature: 403/404 on Free means none). An unprotected default branch
// is a fact too: protected: false.
func (s *projectSync) protection(ctx context.Context) error {
	branch := s.st.DefaultBranch
	if branch == "" {
		return nil
	}
	v := protectionValue{Branch: branch, RequiredStatusChecks: []string{}}
	var protections []*gl.ProtectedBranch
	err := eachPage(func(page int64) (*gl.Response, bool, error) {
		list, resp, err := s.c.api.ProtectedBranches.ListProtectedBranches(s.project, &gl.ListProtectedBranchesOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: int64(s.c.cfg.PerPage)},
		}, s.opts(ctx)...)
		if err != nil {
			return nil, false, apiError("list protected branches of "+s.project, resp, err)
		}
		protections = append(protections, list...)
		return resp, false, nil
	})
	if err != nil && !isDenied(err) {
		return err
	}
	if pb := protectionOf(protections, branch); pb != nil {
		v.Protected = true
		v.AllowForcePushes = pb.AllowForcePush
		v.RequireCodeOwnerReviews = pb.CodeOwnerApprovalRequired
		rules, resp, err := s.c.api.Projects.GetProjectApprovalRules(s.project, nil, s.opts(ctx)...)
		err = apiError("list approval rules of "+s.project, resp, err)
		switch {
		case isDenied(err):
		case err != nil:
			return err
		default:
			v.RequiredReviews = requiredApprovals(rules, pb.Name)
		}
	}
	if p := s.settings; p != nil {
		if p.OnlyAllowMergeIfPipelineSucceeds {
			v.RequiredStatusChecks = []string{"pipeline"}
		}
		v.LinearHistory = p.MergeMethod == gl.FastForwardMerge
		v.ConversationResolution = p.OnlyAllowMergeIfAllDiscussionsAreResolved
	}
	return s.writeFacts(ctx, s.fact(githost.FactBranchProtection, v, s.now))
}

// protectionOf returns the protection that covers branch: the one named
// after it, else the first whose wildcard pattern ("release/*") matches it;
// nil when none does.
func protectionOf(protections []*gl.ProtectedBranch, branch string) *gl.ProtectedBranch {
	var wild *gl.ProtectedBranch
	for _, pb := range protections {
		switch {
		case pb == nil:
		case pb.Name == branch:
			return pb
		case wild == nil && strings.Contains(pb.Name, "*"):
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pb.Name), `\*`, ".*") + "$"
			if ok, _ := regexp.MatchString(re, branch); ok {
				wild = pb
			}
		}
	}
	return wild
}

// requiredApprovals is the largest number of approvals any rule applying to
// the protection named branch requires (a rule without branches applies to
// all of them).
func requiredApprovals(rules []*gl.ProjectApprovalRule, branch string) int {
	n := 0
	for _, r := range rules {
		applies := r.AppliesToAllProtectedBranches || len(r.ProtectedBranches) == 0
		for _, pb := range r.ProtectedBranches {
			if pb != nil && pb.Name == branch {
				applies = true
			}
		}
		if applies && int(r.ApprovalsRequired) > n {
			n = int(r.ApprovalsRequired)
		}
	}
	return n
}

// filesValue is the files fact: which well-known files the default branch
// has, with GitHub's keys; workflows is true when the project has CI
// configuration (.gitlab-ci.yml), and gitlab_ci says the same by name.
type filesValue struct {
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
	GitLabCI    bool `json:"gitlab_ci"`
}

// files lists the root (and .gitlab, docs) of the default branch at the head
// collected, then reads go.mod and package.json, when the head moved since the
// facts were last written. File facts are observed at the head commit's time.
func (s *projectSync) files(ctx context.Context) error {
	head := s.st.Head
	if head == "" || !s.full && head == s.old.FilesAt {
		return nil
	}
	at := s.st.HeadAt
	if at.IsZero() {
		at = s.now
	}
	t := map[string]bool{} // lower-cased path → is a file
	original := map[string]string{}
	dirs := []string{""}
	for i := 0; i < len(dirs); i++ {
		opt := &gl.ListTreeOptions{Ref: ptr(head), ListOptions: gl.ListOptions{PerPage: 100}}
		if dirs[i] != "" {
			opt.Path = ptr(dirs[i])
		}
		err := eachPage(func(page int64) (*gl.Response, bool, error) {
			opt.Page = page
			nodes, resp, err := s.c.api.Repositories.ListTree(s.project, opt, s.opts(ctx)...)
			if err != nil {
				return nil, false, apiError(fmt.Sprintf("list files of %s/%s@%s", s.project, dirs[i], head), resp, err)
			}
			for _, n := range nodes {
				lp := strings.ToLower(n.Path)
				t[lp] = n.Type == "blob"
				original[lp] = n.Path
				if dirs[i] == "" && n.Type == "tree" && (lp == ".gitlab" || lp == "docs") {
					dirs = append(dirs, n.Path)
				}
			}
			return resp, false, nil
		})
		if err != nil && !(isNotFound(err) && dirs[i] != "") {
			return err
		}
	}
	has := func(paths ...string) bool {
		return slices.ContainsFunc(paths, func(p string) bool { return t[strings.ToLower(p)] })
	}
	hasPrefix := func(dir, prefix string) bool {
		for p, isFile := range t {
			if isFile && path.Dir(p) == dir && strings.HasPrefix(path.Base(p), prefix) {
				return true
			}
		}
		return false
	}
	var dockerfiles []string
	for p, isFile := range t {
		base := path.Base(p)
		if isFile && path.Dir(p) == "." && (base == "dockerfile" || strings.HasPrefix(base, "dockerfile.") || strings.HasSuffix(base, ".dockerfile")) {
			dockerfiles = append(dockerfiles, original[p])
		}
	}
	sort.Strings(dockerfiles)
	dockerfiles = dockerfiles[:min(len(dockerfiles), githost.MaxDockerfiles)]
	dockerfile := len(dockerfiles) > 0
	ci := has(".gitlab-ci.yml", ".gitlab-ci.yaml")
	fv := filesValue{
		Readme:      hasPrefix(".", "readme") || hasPrefix(".gitlab", "readme") || hasPrefix("docs", "readme"),
		Codeowners:  has("CODEOWNERS", ".gitlab/CODEOWNERS", "docs/CODEOWNERS"),
		Security:    has("SECURITY.md", ".gitlab/SECURITY.md", "docs/SECURITY.md"),
		Renovate:    has("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".gitlab/renovate.json", ".gitlab/renovate.json5"),
		CatalogInfo: has("catalog-info.yaml", "catalog-info.yml"),
		GoMod:       has("go.mod"),
		PackageJSON: has("package.json"),
		Dockerfile:  dockerfile,
		Workflows:   ci,
		GitLabCI:    ci,
	}
	facts := []yardstick.Fact{s.fact(githost.FactFiles, fv, at)}

	gm := githost.GoMod{Requires: map[string]string{}, Indirect: []string{}}
	if fv.GoMod {
		data, err := s.c.rawFile(ctx, s.project, original["go.mod"], head)
		if err != nil {
			return err
		}
		if gm, err = parseGoMod(data); err != nil {
			s.c.logger.WarnContext(ctx, "unreadable go.mod", "project", s.project, "sha", head, "err", err)
		}
	}
	facts = append(facts,
		s.fact(githost.FactGoMod, gm, at),
		s.fact(githost.FactGoVersion, gm.Go, at))

	pj := githost.PackageJSON{Dependencies: map[string]string{}, DevDependencies: map[string]string{}, Engines: map[string]string{}}
	if fv.PackageJSON {
		data, err := s.c.rawFile(ctx, s.project, original["package.json"], head)
		if err != nil {
			return err
		}
		if pj, err = githost.ParsePackageJSON(data); err != nil {
			s.c.logger.WarnContext(ctx, "unreadable package.json", "project", s.project, "sha", head, "err", err)
		}
	}
	facts = append(facts, s.fact(githost.FactPackageJSON, pj, at))

	dv := dockerfileValue{Present: dockerfile, Files: map[string][]string{}, Images: []string{}}
	for _, p := range dockerfiles {
		data, err := s.c.rawFile(ctx, s.project, p, head)
		if err != nil {
			return err
		}
		dv.Files[p] = fromImages(data)
		dv.Images = append(dv.Images, dv.Files[p]...)
	}
	slices.Sort(dv.Images)
	dv.Images = slices.Compact(dv.Images)
	facts = append(facts, s.fact(githost.FactDockerfile, dv, at))
	if err := s.writeFacts(ctx, facts...); err != nil {
		return err
	}
	s.st.FilesAt = head
	return nil
}

// rawFile returns the content of p at ref.
func (c *Collector) rawFile(ctx context.Context, project, p, ref string) ([]byte, error) {
	data, resp, err := c.api.RepositoryFiles.GetRawFile(project, p, &gl.GetRawFileOptions{Ref: ptr(ref)}, gl.WithContext(ctx))
	if err != nil {
		return nil, apiError(fmt.Sprintf("read %s/%s@%s", project, p, ref), resp, err)
	}
	return data, nil
}

// parseGoMod reads a go.mod file with golang.org/x/mod's lax parser.
func parseGoMod(data []byte) (githost.GoMod, error) {
	m := githost.GoMod{Present: true, Requires: map[string]string{}, Indirect: []string{}}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return m, err
	}
	if f.Module != nil {
		m.Module = f.Module.Mod.Path
	}
	if f.Go != nil {
		m.Go = f.Go.Version
	}
	if f.Toolchain != nil {
		m.Toolchain = f.Toolchain.Name
	}
	for _, r := range f.Require {
		m.Requires[r.Mod.Path] = r.Mod.Version
		if r.Indirect {
			m.Indirect = append(m.Indirect, r.Mod.Path)
		}
	}
	sort.Strings(m.Indirect)
	return m, nil
}

// dockerfileValue is the dockerfile fact, shaped like GitHub's: the base
// images of the Dockerfiles at the project root.
type dockerfileValue struct {
	Present bool                `json:"present"`
	Files   map[string][]string `json:"files"`  // path → FROM images in order
	Images  []string            `json:"images"` // all of them, sorted, once each
}

var dockerArgRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// fromImages returns the images a Dockerfile's FROM instructions name, in
// order: continuation lines joined, comments skipped, ARG defaults
// substituted, earlier build stages and scratch left out.
func fromImages(data []byte) []string {
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	args, stages := map[string]string{}, map[string]bool{"scratch": true}
	images := []string{}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = strings.Trim(v, `"'`)
			}
		case "FROM":
			rest := slices.DeleteFunc(f[1:], func(s string) bool { return strings.HasPrefix(s, "--") })
			if len(rest) == 0 {
				continue
			}
			img := dockerArgRef.ReplaceAllStringFunc(rest[0], func(ref string) string {
				if v, ok := args[dockerArgRef.FindStringSubmatch(ref)[1]]; ok {
					return v
				}
				return ref
			})
			if !stages[strings.ToLower(img)] {
				images = append(images, img)
			}
			if len(rest) >= 3 && strings.EqualFold(rest[1], "as") {
				stages[strings.ToLower(rest[2])] = true
			}
		}
	}
	return images
}
