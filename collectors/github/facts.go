package github

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// repository reads the repository (conditionally) and, when it changed, its
// languages, and writes the repository fact. It also learns the default branch.
func (s *repoSync) repository(ctx context.Context) error {
	etag := ""
	if s.old.DefaultBranch != "" {
		etag = s.etag("repo")
	}
	var repo gh.Repository
	resp, err := s.c.api.get(ctx, "repos/"+s.slug, etag, &repo)
	if err != nil {
		return fmt.Errorf("get repository %s: %w", s.slug, err)
	}
	if resp.notModified() {
		return nil
	}
	langs := map[string]int{}
	if _, err := s.c.api.get(ctx, s.path("languages"), "", &langs); err != nil {
		return fmt.Errorf("list languages of %s: %w", s.slug, err)
	}
	if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.scope, githost.FactRepository, repositoryValue(&repo, langs), s.now)); err != nil {
		return err
	}
	s.st.DefaultBranch = repo.GetDefaultBranch()
	s.st.setETag("repo", resp.etag)
	s.st.seen(repo.GetPushedAt().Time)
	return nil
}

func repositoryValue(r *gh.Repository, langs map[string]int) map[string]any {
	topics := r.Topics
	if topics == nil {
		topics = []string{}
	}
	visibility := r.GetVisibility()
	if visibility == "" {
		visibility = "public"
		if r.GetPrivate() {
			visibility = "private"
		}
	}
	return map[string]any{
		"full_name":      r.GetFullName(),
		"default_branch": r.GetDefaultBranch(),
		"archived":       r.GetArchived(),
		"disabled":       r.GetDisabled(),
		"fork":           r.GetFork(),
		"private":        r.GetPrivate(),
		"visibility":     visibility,
		"topics":         topics,
		"language":       r.GetLanguage(),
		"languages":      langs,
		"license":        r.GetLicense().GetSPDXID(),
		"created_at":     r.GetCreatedAt().UTC().Format(time.RFC3339),
	}
}

// protectionValue is the branch_protection fact. Every key is always present, so
// rules can read facts.github.branch_protection.required_reviews of an
// unprotected branch too (0).
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

func protectionOf(branch string, p *gh.Protection) protectionValue {
	v := protectionValue{Protected: true, Branch: branch, RequiredStatusChecks: []string{}}
	if r := p.RequiredPullRequestReviews; r != nil {
		v.RequiredReviews = r.RequiredApprovingReviewCount
		v.DismissStaleReviews = r.DismissStaleReviews
		v.RequireCodeOwnerReviews = r.RequireCodeOwnerReviews
	}
	if c := p.RequiredStatusChecks; c != nil {
		v.StrictStatusChecks = c.Strict
		seen := map[string]bool{}
		if c.Contexts != nil {
			for _, ctx := range *c.Contexts {
				seen[ctx] = true
			}
		}
		if c.Checks != nil {
			for _, ch := range *c.Checks {
				seen[ch.Context] = true
			}
		}
		for k := range seen {
			v.RequiredStatusChecks = append(v.RequiredStatusChecks, k)
		}
		sort.Strings(v.RequiredStatusChecks)
	}
	v.AdminsEnforced = p.EnforceAdmins != nil && p.EnforceAdmins.Enabled
	v.LinearHistory = p.RequireLinearHistory != nil && p.RequireLinearHistory.Enabled
	v.AllowForcePushes = p.AllowForcePushes != nil && p.AllowForcePushes.Enabled
	v.AllowDeletions = p.AllowDeletions != nil && p.AllowDeletions.Enabled
	v.RequiredSignatures = p.RequiredSignatures != nil && p.RequiredSignatures.GetEnabled()
	v.ConversationResolution = p.RequiredConversationResolution != nil && p.RequiredConversationResolution.Enabled
	return v
}

// protection reads the protection of the default branch. GitHub answers 404
// "Branch not protected" for an unprotected branch: that is written as a fact
// (protected: false), not reported as an error.
func (s *repoSync) protection(ctx context.Context) error {
	branch := s.st.DefaultBranch
	if branch == "" {
		return nil
	}
	etag := ""
	if s.old.DefaultBranch == branch {
		etag = s.etag("protection")
	}
	var p gh.Protection
	resp, err := s.c.api.get(ctx, s.path("branches/%s/protection", url.PathEscape(branch)), etag, &p)
	if isNotFound(err) {
		if !s.full && s.old.Unprotected && s.old.DefaultBranch == branch {
			return nil // still unprotected, already written
		}
		v := protectionValue{Branch: branch, RequiredStatusChecks: []string{}}
		if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.scope, githost.FactBranchProtection, v, s.now)); err != nil {
			return err
		}
		s.st.Unprotected = true
		s.st.setETag("protection", "")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get branch protection of %s@%s: %w", s.slug, branch, err)
	}
	if resp.notModified() {
		return nil
	}
	if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.scope, githost.FactBranchProtection, protectionOf(branch, &p), s.now)); err != nil {
		return err
	}
	s.st.Unprotected = false
	s.st.setETag("protection", resp.etag)
	return nil
}

// filesValue is the files fact: which well-known files the default branch has.
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
}

// dockerfileValue is the dockerfile fact: the FROM images of the Dockerfiles at
// the repository root.
type dockerfileValue struct {
	Present bool                `json:"present"`
	Files   map[string][]string `json:"files"`  // path → FROM images in order
	Images  []string            `json:"images"` // all of them, sorted, once each
}

// tree is the set of paths the root, .github and docs listings showed.
type tree map[string]bool // lower-cased path → is a file

func (t tree) has(paths ...string) bool {
	for _, p := range paths {
		if t[strings.ToLower(p)] {
			return true
		}
	}
	return false
}

func (t tree) hasPrefix(dir, prefix string) bool {
	for p, isFile := range t {
		if isFile && path.Dir(p) == dir && strings.HasPrefix(path.Base(p), prefix) {
			return true
		}
	}
	return false
}

// files reads the default branch's root listing (and .github, docs) at the head
// collected, then the files that facts are derived from, when the head moved
// since the facts were last written. File facts are observed at the head
// commit's time, so re-reading the same head writes the same history.
func (s *repoSync) files(ctx context.Context) error {
	head := s.st.Head
	if head == "" || !s.full && head == s.old.FilesAt {
		return nil
	}
	at := s.st.HeadAt
	if at.IsZero() {
		at = s.now
	}
	t := tree{}
	original := map[string]string{} // lower-cased → as listed
	dirs := []string{""}
	for i := 0; i < len(dirs); i++ {
		var list []*gh.RepositoryContent
		p := "contents/"
		if dirs[i] != "" {
			p += escapePath(dirs[i])
		}
		if _, err := s.c.api.get(ctx, s.path("%s?ref=%s", p, head), "", &list); err != nil {
			if isNotFound(err) && dirs[i] != "" {
				continue
			}
			return fmt.Errorf("list files of %s/%s@%s: %w", s.slug, dirs[i], head, err)
		}
		for _, e := range list {
			lp := strings.ToLower(e.GetPath())
			t[lp] = e.GetType() == "file"
			original[lp] = e.GetPath()
			if dirs[i] == "" && e.GetType() == "dir" && (lp == ".github" || lp == "docs") {
				dirs = append(dirs, e.GetPath())
			}
			if lp == ".github/workflows" && e.GetType() == "dir" {
				t[lp] = true
			}
		}
	}
	var dockerfiles []string
	for lp, isFile := range t {
		base := path.Base(lp)
		if isFile && path.Dir(lp) == "." && (base == "dockerfile" || strings.HasPrefix(base, "dockerfile.") || strings.HasSuffix(base, ".dockerfile")) {
			dockerfiles = append(dockerfiles, original[lp])
		}
	}
	sort.Strings(dockerfiles)
	if len(dockerfiles) > githost.MaxDockerfiles {
		dockerfiles = dockerfiles[:githost.MaxDockerfiles]
	}
	fv := filesValue{
		Readme:      t.hasPrefix(".", "readme") || t.hasPrefix(".github", "readme") || t.hasPrefix("docs", "readme"),
		Codeowners:  t.has("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS"),
		Security:    t.has("SECURITY.md", ".github/SECURITY.md", "docs/SECURITY.md"),
		Dependabot:  t.has(".github/dependabot.yml", ".github/dependabot.yaml"),
		Renovate:    t.has("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".github/renovate.json", ".github/renovate.json5"),
		CatalogInfo: t.has("catalog-info.yaml", "catalog-info.yml"),
		GoMod:       t.has("go.mod"),
		PackageJSON: t.has("package.json"),
		Dockerfile:  len(dockerfiles) > 0,
		Workflows:   t.has(".github/workflows"),
	}
	facts := []yardstick.Fact{yardstick.NewFact(SourceName, s.scope, githost.FactFiles, fv, at)}

	gm := githost.GoMod{Requires: map[string]string{}, Indirect: []string{}}
	if fv.GoMod {
		data, err := s.readFile(ctx, original["go.mod"], head)
		if err != nil {
			return err
		}
		if gm, err = parseGoMod(data); err != nil {
			s.c.logger.WarnContext(ctx, "unreadable go.mod", "repo", s.slug, "sha", head, "err", err)
		}
	}
	facts = append(facts,
		yardstick.NewFact(SourceName, s.scope, githost.FactGoMod, gm, at),
		yardstick.NewFact(SourceName, s.scope, githost.FactGoVersion, gm.Go, at))

	pj := githost.PackageJSON{Dependencies: map[string]string{}, DevDependencies: map[string]string{}, Engines: map[string]string{}}
	if fv.PackageJSON {
		data, err := s.readFile(ctx, original["package.json"], head)
		if err != nil {
			return err
		}
		if pj, err = githost.ParsePackageJSON(data); err != nil {
			s.c.logger.WarnContext(ctx, "unreadable package.json", "repo", s.slug, "sha", head, "err", err)
		}
	}
	facts = append(facts, yardstick.NewFact(SourceName, s.scope, githost.FactPackageJSON, pj, at))

	dv := dockerfileValue{Present: len(dockerfiles) > 0, Files: map[string][]string{}, Images: []string{}}
	seen := map[string]bool{}
	for _, p := range dockerfiles {
		data, err := s.readFile(ctx, p, head)
		if err != nil {
			return err
		}
		imgs := dockerfileImages(data)
		dv.Files[p] = imgs
		for _, img := range imgs {
			if !seen[img] {
				seen[img] = true
				dv.Images = append(dv.Images, img)
			}
		}
	}
	sort.Strings(dv.Images)
	facts = append(facts, yardstick.NewFact(SourceName, s.scope, githost.FactDockerfile, dv, at))

	for _, ff := range s.c.fileFacts {
		data, err := s.readFile(ctx, ff.Path, head)
		if err != nil && !isNotFound(err) {
			return err
		}
		facts = append(facts, yardstick.NewFact(SourceName, s.scope, ff.Name, matchFact(ff.re, data), at))
	}
	if err := s.writeFacts(ctx, facts...); err != nil {
		return err
	}
	s.st.FilesAt = head
	return nil
}

// readFile returns the content of p at ref through the contents API.
func (s *repoSync) readFile(ctx context.Context, p, ref string) ([]byte, error) {
	var rc gh.RepositoryContent
	if _, err := s.c.api.get(ctx, s.path("contents/%s?ref=%s", escapePath(p), ref), "", &rc); err != nil {
		return nil, fmt.Errorf("read %s/%s@%s: %w", s.slug, p, ref, err)
	}
	text, err := rc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("decode %s/%s@%s: %w", s.slug, p, ref, err)
	}
	return []byte(text), nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	return strings.Join(parts, "/")
}
