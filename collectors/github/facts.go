package github

import (
	"context"
	"fmt"
	"net/url"
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
	if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.Scope, githost.FactRepository, repositoryValue(&repo, langs), s.Now)); err != nil {
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

// protectionValue is the branch_protection fact.
type protectionValue = githost.Protection

func protectionOf(branch string, p *gh.Protection) protectionValue {
	v := githost.Unprotected(branch)
	v.Protected = true
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
		if !s.Full && s.old.Unprotected && s.old.DefaultBranch == branch {
			return nil // still unprotected, already written
		}
		v := githost.Unprotected(branch)
		if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.Scope, githost.FactBranchProtection, v, s.Now)); err != nil {
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
	if err := s.writeFacts(ctx, yardstick.NewFact(SourceName, s.Scope, githost.FactBranchProtection, protectionOf(branch, &p), s.Now)); err != nil {
		return err
	}
	s.st.Unprotected = false
	s.st.setETag("protection", resp.etag)
	return nil
}

// filesValue is the files fact.
type filesValue = githost.Files

// dockerfileValue is the dockerfile fact.
type dockerfileValue = githost.Dockerfile

// files reads the default branch's root listing (and .github, docs) at the head
// collected, then the files that facts are derived from, when the head moved
// since the facts were last written. File facts are observed at the head
// commit's time, so re-reading the same head writes the same history.
func (s *repoSync) files(ctx context.Context) error {
	head := s.st.Head
	at, due := s.FilesDue(head, s.old.FilesAt, s.st.HeadAt)
	if !due {
		return nil
	}
	t, original, err := githost.ReadTree(ctx, func(ctx context.Context, dir string) ([]githost.Entry, error) {
		var list []*gh.RepositoryContent
		if _, err := s.c.api.get(ctx, s.path("contents/%s?ref=%s", escapePath(dir), head), "", &list); err != nil {
			return nil, fmt.Errorf("list files of %s/%s@%s: %w", s.slug, dir, head, err)
		}
		out := make([]githost.Entry, 0, len(list))
		for _, e := range list {
			out = append(out, githost.Entry{Path: e.GetPath(), File: e.GetType() == "file", Dir: e.GetType() == "dir"})
		}
		return out, nil
	}, []string{".github", "docs"}, ".github/workflows")
	if err != nil {
		return err
	}
	fv := t.Files(".github")
	fv.Dependabot = t.Has(".github/dependabot.yml", ".github/dependabot.yaml")
	fv.Workflows = t.Has(".github/workflows")
	facts, err := s.reader(head).FileFacts(ctx, t, original, fv, fv, at)
	if err != nil {
		return err
	}
	for _, ff := range s.c.fileFacts {
		data, err := s.readFile(ctx, ff.Path, head)
		if err != nil && !isNotFound(err) {
			return err
		}
		facts = append(facts, yardstick.NewFact(SourceName, s.Scope, ff.Name, matchFact(ff.re, data), at))
	}
	if err := s.writeFacts(ctx, facts...); err != nil {
		return err
	}
	s.st.FilesAt = head
	return nil
}

// reader reads and parses the files the facts derive from at head.
func (s *repoSync) reader(head string) githost.Reader {
	return githost.Reader{
		Read:   func(ctx context.Context, p string) ([]byte, error) { return s.readFile(ctx, p, head) },
		GoMod:  parseGoMod,
		Images: githost.DockerfileImages,
		Warn: func(ctx context.Context, msg string, err error) {
			s.c.logger.WarnContext(ctx, msg, "repo", s.slug, "sha", head, "err", err)
		},
		Fact: func(name string, v any, at time.Time) yardstick.Fact {
			return yardstick.NewFact(SourceName, s.Scope, name, v, at)
		},
	}
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
