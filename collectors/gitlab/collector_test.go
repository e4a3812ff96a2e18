package gitlab

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

// want counts what the fake's history holds for one project, read from the
// fake's model (not from the collector).
type want struct {
	opened, merged, closed, reviews, commits, pipelines, started, succeeded, failed, releases int
}

func expect(p *gitlabfake.Project) want {
	var w want
	for _, mr := range p.MRs {
		w.opened++
		switch mr.State {
		case "merged":
			w.merged++
		case "closed":
			w.closed++
		}
		for _, n := range mr.Notes {
			if n.System && n.Body == "approved this merge request" || !n.System && n.Author != mr.Author {
				w.reviews++
			}
		}
	}
	w.commits = len(p.Commits)
	for _, pl := range p.Pipelines {
		if pl.Status != "running" {
			w.pipelines++
		}
	}
	for _, d := range p.Deployments {
		w.started++
		switch d.Status {
		case "success":
			w.succeeded++
		case "failed":
			w.failed++
		}
	}
	w.releases = len(p.Releases)
	return w
}

func count(st *memStore, scope yardstick.Scope) want {
	return want{
		opened: len(st.of(yardstick.ChangeOpened, scope)), merged: len(st.of(yardstick.ChangeMerged, scope)),
		closed: len(st.of(yardstick.ChangeClosed, scope)), reviews: len(st.of(yardstick.ChangeReviewed, scope)),
		commits: len(st.of(yardstick.CommitPushed, scope)), pipelines: len(st.of(yardstick.PipelineFinished, scope)),
		started: len(st.of(yardstick.DeploymentStarted, scope)), succeeded: len(st.of(yardstick.DeploymentSucceeded, scope)),
		failed: len(st.of(yardstick.DeploymentFailed, scope)), releases: len(st.of(yardstick.ReleasePublished, scope)),
	}
}

func TestFullSync(t *testing.T) {
	projects, fake, _, st, c := mustSetup(t, 2, Config{})
	next, err := c.Collect(context.Background(), time.Time{}, st)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if next.IsZero() || next.After(epoch) {
		t.Errorf("watermark %v, want the largest source time at or before %v", next, epoch)
	}
	for _, path := range projects {
		p := fake.Project(path)
		if got, w := count(st, Scope(path)), expect(p); got != w {
			t.Errorf("%s: got %+v, want %+v", path, got, w)
		}
	}
	scope := Scope("acme/payments")
	p := fake.Project("acme/payments")
	mr := p.MRs[3] // iid 4, merged, deployed to production with iid 3
	e, ok := st.event(yardstick.ChangeMerged, scope, "4")
	if !ok || e.Str["merge_commit_sha"] != mr.MergeSHA || !slices.Contains(e.Related, mr.SHA) || e.Num["first_commit_at"] != float64(mr.Commits[0].Authored.Unix()) ||
		e.Num["additions"] != 2 || e.Num["deletions"] != 1 || e.Actor != mr.Merger {
		t.Errorf("change.merged 4 = %+v", e)
	}
	// The second successful production deployment ships the commits of the
	// merge requests 3 and 4: their feature and merge commits.
	var prod []*gitlabfake.Deployment
	for _, d := range p.Deployments {
		if d.Environment == "production" && d.Status == "success" {
			prod = append(prod, d)
		}
	}
	d, ok := st.event(yardstick.DeploymentSucceeded, scope, itoa(prod[1].ID))
	wantShipped := []string{p.MRs[2].SHA, p.MRs[2].MergeSHA, p.MRs[3].SHA, p.MRs[3].MergeSHA}
	slices.Sort(wantShipped)
	if !ok || !slices.Equal(d.Related, wantShipped) || d.Str["base_sha"] != prod[0].SHA || d.Str["environment"] != "production" {
		t.Errorf("second production deployment: related %v base %q, want %v base %q", d.Related, d.Str["base_sha"], wantShipped, prod[0].SHA)
	}
	facts := st.facts[scope]
	if v := string(facts["go_version"].Value); v != `"1.20"` {
		t.Errorf("go_version of acme/payments = %s, want \"1.20\"", v)
	}
	for name, want := range map[string]string{
		"branch_protection": `"protected":true,"branch":"main","required_reviews":1`,
		"files":             `"readme":true,"codeowners":true`,
	} {
		if v := string(facts[name].Value); !strings.Contains(v, want) {
			t.Errorf("%s of acme/payments = %s, want it to contain %s", name, v, want)
		}
	}
	search := st.facts[Scope("acme/platform/search")]
	if v := string(search["branch_protection"].Value); !strings.Contains(v, `"protected":false,"branch":"main","required_reviews":0`) {
		t.Errorf("branch_protection of the unprotected acme/platform/search = %s", v)
	}
	if v := string(search["dockerfile"].Value); v != `{"present":true,"files":{"Dockerfile":["golang:1.22","gcr.io/distroless/static:nonroot"]},"images":["gcr.io/distroless/static:nonroot","golang:1.22"]}` {
		t.Errorf("dockerfile of acme/platform/search = %s", v)
	}
	for _, f := range search {
		if f.Source != "gitlab" {
			t.Errorf("fact %s written under source %q, want gitlab", f.Name, f.Source)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestIncrementalSync: a second run reads one page per list and writes
// nothing; a change made in between is picked up with its details.
func TestIncrementalSync(t *testing.T) {
	projects, fake, clock, st, c := mustSetup(t, 2, Config{})
	ctx := context.Background()
	if _, err := c.Collect(ctx, time.Time{}, st); err != nil {
		t.Fatalf("first Collect: %v", err)
	}
	full := fake.Stats()
	clock.Advance(time.Hour)
	fake.ResetStats()
	ew, fw := st.eventWrites, st.factWrites
	if _, err := c.Collect(ctx, epoch, st); err != nil {
		t.Fatalf("second Collect: %v", err)
	}
	stats := fake.Stats()
	for _, p := range projects {
		if n := stats.ByProject[p]; n > 8 {
			t.Errorf("%s: %d requests in an unchanged run, want at most 8 (one per list and fact)", p, n)
		}
	}
	if st.eventWrites != ew || st.factWrites != fw {
		t.Errorf("unchanged run wrote %d events and %d facts, want none", st.eventWrites-ew, st.factWrites-fw)
	}
	t.Logf("full sync: %d requests; unchanged run: %d", full.Requests, stats.Requests)

	mr := fake.AddChange("acme/payments", epoch.Add(30*time.Minute))
	clock.Advance(time.Hour)
	fake.ResetStats()
	if _, err := c.Collect(ctx, epoch, st); err != nil {
		t.Fatalf("third Collect: %v", err)
	}
	scope := Scope("acme/payments")
	if e, ok := st.event(yardstick.ChangeMerged, scope, itoa(mr.IID)); !ok || e.Str["merge_commit_sha"] != mr.MergeSHA {
		t.Errorf("new merge request !%d not collected: %+v", mr.IID, e)
	}
	if _, ok := st.event(yardstick.CommitPushed, scope, mr.MergeSHA); !ok {
		t.Error("new merge commit not collected")
	}
	p := fake.Project("acme/payments")
	last := p.Deployments[len(p.Deployments)-1]
	d, ok := st.event(yardstick.DeploymentSucceeded, scope, itoa(last.ID))
	want := []string{mr.SHA, mr.MergeSHA}
	slices.Sort(want)
	if !ok || !slices.Equal(d.Related, want) {
		t.Errorf("new deployment: related %v, want %v", d.Related, want)
	}
	if got, w := count(st, scope), expect(p); got != w {
		t.Errorf("after the change: got %+v, want %+v", got, w)
	}
	t.Logf("run with one new change: %d requests", fake.Stats().Requests)
}

// TestFaultsRetried: 429 "Retry later" and 502 answers are waited out and
// retried by the shared transport; the run completes.
func TestFaultsRetried(t *testing.T) {
	projects, fake, clock, st, c := mustSetup(t, 1, Config{Concurrency: 1})
	fake.RateLimitNext(2)
	if _, err := c.Collect(context.Background(), time.Time{}, st); err != nil {
		t.Fatalf("Collect after 429s: %v", err)
	}
	if s := fake.Stats(); s.Statuses[429] != 2 {
		t.Errorf("fake answered %d 429s, want 2", s.Statuses[429])
	}
	if clock.slept < 2*time.Second {
		t.Errorf("transport slept %v, want at least the two Retry-After seconds", clock.slept)
	}
	st2 := newMemStore(projects...)
	c2 := mustCollector(t, fake, clock, st2, Config{Concurrency: 1})
	fake.FailNext(3, 502)
	if _, err := c2.Collect(context.Background(), time.Time{}, st2); err != nil {
		t.Fatalf("Collect after 502s: %v", err)
	}
	if got, w := count(st2, Scope(projects[0])), expect(fake.Project(projects[0])); got != w {
		t.Errorf("after 502s: got %+v, want %+v", got, w)
	}
}

// TestFailingProject: a project GitLab keeps failing is reported in a
// PartialError naming it and its status; the others are collected.
func TestFailingProject(t *testing.T) {
	_, fake, clock, st, c := mustSetup(t, 3, Config{})
	fake.FailProject("acme/checkout", 500)
	_, err := c.Collect(context.Background(), time.Time{}, st)
	var pe *collectors.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 {
		t.Fatalf("Collect = %v, want a PartialError with one failure", err)
	}
	f := pe.Failures[0]
	if f.Scope != "gitlab:acme/checkout" || f.Status != 500 || !strings.Contains(f.String(), "/projects/acme%2Fcheckout") {
		t.Errorf("failure = %s, want gitlab:acme/checkout, status 500 and the endpoint", f)
	}
	for _, p := range []string{"acme/payments", "acme/platform/search"} {
		if got, w := count(st, Scope(p)), expect(fake.Project(p)); got != w {
			t.Errorf("%s: got %+v, want %+v", p, got, w)
		}
	}
	// A wrong token is a clear 401, and stops the project at once.
	bad := mustCollector(t, fake, clock, newMemStore("acme/payments"), Config{})
	bad.api, _ = newAPI(fake.URL, "wrong", httpClient(nil, RetryConfig()), slog.New(slog.DiscardHandler))
	_, err = bad.Collect(context.Background(), time.Time{}, newMemStore("acme/payments"))
	if fs := collectors.Failures(err); len(fs) != 1 || fs[0].Status != 401 {
		t.Errorf("wrong token: %v, want one 401 failure", err)
	}
}
