package gitlab

import (
	"context"
	"fmt"
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
	return yardstick.NewFact(s.c.cfg.factsSource(), s.Scope, name, v, at)
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
	return s.writeFacts(ctx, s.fact(githost.FactRepository, repositoryValue(p), s.Now))
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

// protection reads the project's protected branches and, when one covers the
// default branch (by name or wildcard), the project's approval rules (a
// Premium feature: 403/404 on Free means none). An unprotected default branch
// is a fact too: protected: false.
func (s *projectSync) protection(ctx context.Context) error {
	branch := s.st.DefaultBranch
	if branch == "" {
		return nil
	}
	v := githost.Unprotected(branch)
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
	return s.writeFacts(ctx, s.fact(githost.FactBranchProtection, v, s.Now))
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

// filesValue is the files fact, with GitHub's keys; workflows is true when
// the project has CI configuration (.gitlab-ci.yml), and gitlab_ci says the
// same by name.
type filesValue struct {
	githost.Files
	GitLabCI bool `json:"gitlab_ci"`
}

// files lists the root (and .gitlab, docs) of the default branch at the head
// collected, then reads go.mod and package.json, when the head moved since the
// facts were last written. File facts are observed at the head commit's time.
func (s *projectSync) files(ctx context.Context) error {
	head := s.st.Head
	at, due := s.FilesDue(head, s.old.FilesAt, s.st.HeadAt)
	if !due {
		return nil
	}
	t, original, err := githost.ReadTree(ctx, func(ctx context.Context, dir string) ([]githost.Entry, error) {
		opt := &gl.ListTreeOptions{Ref: ptr(head), ListOptions: gl.ListOptions{PerPage: 100}}
		if dir != "" {
			opt.Path = ptr(dir)
		}
		var out []githost.Entry
		err := eachPage(func(page int64) (*gl.Response, bool, error) {
			opt.Page = page
			nodes, resp, err := s.c.api.Repositories.ListTree(s.project, opt, s.opts(ctx)...)
			if err != nil {
				return nil, false, apiError(fmt.Sprintf("list files of %s/%s@%s", s.project, dir, head), resp, err)
			}
			for _, n := range nodes {
				out = append(out, githost.Entry{Path: n.Path, File: n.Type == "blob", Dir: n.Type == "tree"})
			}
			return resp, false, nil
		})
		return out, err
	}, []string{".gitlab", "docs"})
	if err != nil {
		return err
	}
	ci := t.Has(".gitlab-ci.yml", ".gitlab-ci.yaml")
	fv := filesValue{Files: t.Files(".gitlab"), GitLabCI: ci}
	fv.Workflows = ci
	r := githost.Reader{
		Read:   func(ctx context.Context, p string) ([]byte, error) { return s.c.rawFile(ctx, s.project, p, head) },
		GoMod:  parseGoMod,
		Images: githost.DockerfileImages,
		Warn: func(ctx context.Context, msg string, err error) {
			s.c.logger.WarnContext(ctx, msg, "project", s.project, "sha", head, "err", err)
		},
		Fact: s.fact,
	}
	facts, err := r.FileFacts(ctx, t, original, fv, fv.Files, at)
	if err != nil {
		return err
	}
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
