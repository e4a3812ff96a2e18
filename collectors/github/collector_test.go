package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
)

// expected counts the events a full sync of slug must write, from the fake's
// own records and the backfill window.
type expected struct {
	opened, merged, closed, reviews, deployments, settled, succeeded, runs, releases int
}

func expect(fake *githubfake.Server, slug string, windowStart time.Time) expected {
	var x expected
	for _, p := range fake.Pulls(slug) {
		if p.UpdatedAt.Before(windowStart) {
			continue
		}
		x.opened++
		x.reviews += p.Reviews
		switch {
		case p.Merged:
			x.merged++
		case p.Closed:
			x.closed++
		}
	}
	for _, d := range fake.Deployments(slug) {
		if d.CreatedAt.Before(windowStart) {
			continue
		}
		x.deployments++
		if d.State != "" {
			x.settled++
		}
		if d.State == "success" {
			x.succeeded++
		}
	}
	for _, r := range fake.Runs(slug) {
		if !r.CreatedAt.Before(windowStart) {
			x.runs++
		}
	}
	return x
}

func count(st *memStore, typ string, scope yardstick.Scope) int { return len(st.eventsOf(typ, scope)) }

func TestFullSyncWritesEveryKindOfEvent(t *testing.T) {
	slugs := demoSlugs(3)
	e := newEnv(t, slugs)
	next := e.mustCollect(t, e.store)
	if next.IsZero() || next.After(epoch) {
		t.Errorf("Collect watermark = %v, want a source time before %v", next, epoch)
	}
	windowStart := epoch.Add(-DefaultBackfill)
	for _, slug := range slugs {
		scope := RepoScope(slug)
		x := expect(e.fake, slug, windowStart)
		for _, c := range []struct {
			typ  string
			want int
		}{
			{yardstick.ChangeOpened, x.opened},
			{yardstick.ChangeMerged, x.merged},
			{yardstick.ChangeClosed, x.closed},
			{yardstick.ChangeReviewed, x.reviews},
			{yardstick.DeploymentStarted, x.deployments},
			{yardstick.DeploymentSucceeded, x.succeeded},
			{yardstick.DeploymentFailed, x.settled - x.succeeded},
			{yardstick.PipelineFinished, x.runs},
		} {
			if got := count(e.store, c.typ, scope); got != c.want || c.want == 0 {
				t.Errorf("%s: %d %s events, want %d (and more than 0)", slug, got, c.typ, c.want)
			}
		}
		var commitsInWindow int
		for _, sha := range e.fake.Commits(slug) {
			if !e.fake.CommitTime(slug, sha).Before(windowStart) {
				commitsInWindow++
			}
		}
		if got := count(e.store, yardstick.CommitPushed, scope); got != commitsInWindow {
			t.Errorf("%s: %d commit.pushed events, want %d", slug, got, commitsInWindow)
		}
		if got := count(e.store, yardstick.ReleasePublished, scope); got == 0 {
			t.Errorf("%s: no release.published events", slug)
		}
	}
}

// TestLeadTimeJoinsEveryMergeMethod checks what lead time needs: every pull
// request merged before a later successful deployment of the same environment
// has its merge commit among the shas that deployment shipped, whether it was
// merged with a merge commit, squashed or rebased.
func TestLeadTimeJoinsEveryMergeMethod(t *testing.T) {
	slugs := demoSlugs(2)
	e := newEnv(t, slugs)
	e.mustCollect(t, e.store)
	joined := map[string]int{}
	for _, slug := range slugs {
		scope := RepoScope(slug)
		shipped := map[string]time.Time{} // sha → first production success that shipped it
		var lastProd, firstProd time.Time
		for _, d := range e.store.eventsOf(yardstick.DeploymentSucceeded, scope) {
			if d.Str["environment"] != "production" {
				continue
			}
			if d.Time.After(lastProd) {
				lastProd = d.Time
			}
			if firstProd.IsZero() || d.Time.Before(firstProd) {
				firstProd = d.Time
			}
			for _, sha := range d.Related {
				if t0, ok := shipped[sha]; !ok || d.Time.Before(t0) {
					shipped[sha] = d.Time
				}
			}
		}
		merged := e.store.eventsOf(yardstick.ChangeMerged, scope)
		methods := map[int]string{}
		pulls := map[int]githubfake.PullInfo{}
		for _, p := range e.fake.Pulls(slug) {
			methods[p.Number] = p.Method
			pulls[p.Number] = p
		}
		for _, m := range merged {
			sha := m.Str["merge_commit_sha"]
			if sha == "" {
				t.Fatalf("%s#%s: change.merged without merge_commit_sha", slug, m.ID)
			}
			// Lead time without commit events starts at the pull request's first commit.
			if p := pulls[atoi(m.ID)]; len(p.Commits) > 1 && int64(m.Num["first_commit_at"]) != p.FirstCommitAt.Unix() {
				t.Errorf("%s#%s: first_commit_at = %v, want %d (its earliest commit)", slug, m.ID, m.Num["first_commit_at"], p.FirstCommitAt.Unix())
			}
			if !m.Time.After(firstProd) || !m.Time.Before(lastProd) {
				continue
			}
			n, _ := strconv.Atoi(m.ID)
			at, ok := shipped[sha]
			if !ok {
				t.Errorf("%s#%d (%s merge at %v): merge commit %s is in no production deployment's shipped commits", slug, n, methods[n], m.Time, sha[:7])
				continue
			}
			if at.Before(m.Time) {
				t.Errorf("%s#%d: shipped at %v, before it was merged at %v", slug, n, at, m.Time)
			}
			joined[methods[n]]++
		}
	}
	for _, method := range []string{"merge", "squash", "rebase"} {
		if joined[method] == 0 {
			t.Errorf("no %s-merged pull request joined to a deployment (joined: %v)", method, joined)
		}
	}
}

func TestFactsOfRepositories(t *testing.T) {
	slugs := demoSlugs(3) // payments: Go, protected; checkout: TypeScript; search: Python, unprotected
	e := newEnv(t, slugs, func(_ *githubfake.Options, cfg *Config) {
		cfg.FileFacts = []FileFact{{Name: "node_version", Path: ".nvmrc", Pattern: `^(\d+)`}}
	})
	e.mustCollect(t, e.store)

	var bp protectionValue
	e.store.fact(t, RepoScope("acme/search"), githost.FactBranchProtection, &bp)
	if bp.Protected || bp.Branch != "main" || bp.RequiredReviews != 0 {
		t.Errorf("branch_protection of an unprotected branch = %+v, want protected false on main", bp)
	}
	e.store.fact(t, RepoScope("acme/payments"), githost.FactBranchProtection, &bp)
	if !bp.Protected || bp.RequiredReviews != 1 || !slices.Equal(bp.RequiredStatusChecks, []string{"ci"}) || !bp.AdminsEnforced {
		t.Errorf("branch_protection of payments = %+v, want protected, 1 review, check ci, admins enforced", bp)
	}

	var goVersion string
	e.store.fact(t, RepoScope("acme/payments"), githost.FactGoVersion, &goVersion)
	if goVersion != "1.20" {
		t.Errorf("go_version of payments = %q, want 1.20", goVersion)
	}
	var gm githost.GoMod
	e.store.fact(t, RepoScope("acme/payments"), githost.FactGoMod, &gm)
	if gm.Module != "github.com/acme/payments" || gm.Requires["github.com/prometheus/client_golang"] != "v1.19.0" || !slices.Equal(gm.Indirect, []string{"golang.org/x/sync"}) {
		t.Errorf("go_mod of payments = %+v", gm)
	}
	var dv dockerfileValue
	e.store.fact(t, RepoScope("acme/payments"), githost.FactDockerfile, &dv)
	if !slices.Equal(dv.Images, []string{"gcr.io/distroless/static-debian12", "golang:1.20"}) {
		t.Errorf("dockerfile images of payments = %v", dv.Images)
	}
	var pj githost.PackageJSON
	e.store.fact(t, RepoScope("acme/checkout"), githost.FactPackageJSON, &pj)
	if !pj.Present || pj.Dependencies["react"] != "^18.3.1" || pj.DevDependencies["typescript"] == "" {
		t.Errorf("package_json of checkout = %+v", pj)
	}
	var node string
	e.store.fact(t, RepoScope("acme/checkout"), "node_version", &node)
	if node != "20" {
		t.Errorf("node_version of checkout = %q, want 20", node)
	}
	e.store.fact(t, RepoScope("acme/payments"), "node_version", &node)
	if node != "" {
		t.Errorf("node_version of payments (no .nvmrc) = %q, want empty", node)
	}
	var fv filesValue
	e.store.fact(t, RepoScope("acme/payments"), githost.FactFiles, &fv)
	want := filesValue{Readme: true, Codeowners: true, Security: true, Dependabot: true, CatalogInfo: true, GoMod: true, Dockerfile: true, Workflows: true}
	if fv != want {
		t.Errorf("files of payments = %+v, want %+v", fv, want)
	}
	var repo map[string]any
	e.store.fact(t, RepoScope("acme/checkout"), githost.FactRepository, &repo)
	if repo["default_branch"] != "main" || repo["visibility"] != "private" || repo["language"] != "TypeScript" || repo["license"] != "Apache-2.0" {
		t.Errorf("repository of checkout = %v", repo)
	}
	if langs, _ := repo["languages"].(map[string]any); langs["TypeScript"] == nil {
		t.Errorf("repository languages of checkout = %v", repo["languages"])
	}
}

// TestUnchangedOrganisationCostsAlmostNothing runs a second sync of an unchanged
// organisation: it must write nothing new and make at most one request per
// repository that is not answered 304 Not Modified.
func TestUnchangedOrganisationCostsAlmostNothing(t *testing.T) {
	slugs := demoSlugs(6)
	e := newEnv(t, slugs)
	e.mustCollect(t, e.store)
	events, facts, history := e.store.Counts()
	writes := e.store.Writes().EventRows + e.store.Writes().FactRows
	e.fake.ResetStats()
	e.clock.Advance(time.Hour)

	e.mustCollect(t, e.store)
	ev2, f2, h2 := e.store.Counts()
	if ev2 != events || f2 != facts || h2 != history {
		t.Errorf("second run: events %d→%d, facts %d→%d, fact history %d→%d; want no change", events, ev2, facts, f2, history, h2)
	}
	if w := e.store.Writes().EventRows + e.store.Writes().FactRows - writes; w != 0 {
		t.Errorf("second run wrote %d rows, want 0", w)
	}
	stats := e.fake.Stats()
	t.Logf("incremental sync of %d unchanged repositories: %d requests, %d of them 304", len(slugs), stats.Requests, stats.NotModified)
	for _, slug := range slugs {
		rs := stats.ByRepo[slug]
		if full := rs.Requests - rs.NotModified; full > 1 {
			t.Errorf("%s: %d requests of which %d not 304; want at most 1 non-304", slug, rs.Requests, full)
		}
		if rs.Requests == 0 {
			t.Errorf("%s: no request at all; the sync must still ask", slug)
		}
	}
}

func TestIncrementalSyncPicksUpNewWork(t *testing.T) {
	slug := "acme/payments"
	e := newEnv(t, []string{slug})
	e.mustCollect(t, e.store)
	scope := RepoScope(slug)
	before := count(e.store, yardstick.ChangeMerged, scope)

	e.clock.Advance(2 * time.Hour)
	rebased := e.fake.MergePull(slug, "rebase")
	squashed := e.fake.MergePull(slug, "squash")
	e.clock.Advance(time.Hour)
	dep := e.fake.Deploy(slug, "production", true)
	e.fake.SetFile(slug, "go.mod", "module github.com/acme/payments\n\ngo 1.22\n")
	e.clock.Advance(time.Hour)
	e.fake.ResetStats()

	e.mustCollect(t, e.store)
	if got := count(e.store, yardstick.ChangeMerged, scope); got != before+2 {
		t.Errorf("change.merged after incremental sync = %d, want %d", got, before+2)
	}
	var succeeded *yardstick.Event
	for _, d := range e.store.eventsOf(yardstick.DeploymentSucceeded, scope) {
		if d.ID == strconv.FormatInt(dep.ID, 10) {
			succeeded = &d
		}
	}
	if succeeded == nil {
		t.Fatalf("deployment %d not collected", dep.ID)
	}
	for _, sha := range append([]string{squashed.MergeCommitSHA, rebased.MergeCommitSHA}, e.fake.Compare(slug, rebased.Commits[0], rebased.MergeCommitSHA)...) {
		if !slices.Contains(succeeded.Related, sha) {
			t.Errorf("deployment %d shipped %v, missing %s", dep.ID, succeeded.Related, sha)
		}
	}
	if succeeded.Str["base_sha"] == "" || int(succeeded.Num["commits"]) != len(succeeded.Related) {
		t.Errorf("deployment %d: base_sha %q, commits %v, related %d", dep.ID, succeeded.Str["base_sha"], succeeded.Num["commits"], len(succeeded.Related))
	}
	for _, m := range e.store.eventsOf(yardstick.ChangeMerged, scope) {
		if m.ID == strconv.Itoa(rebased.Number) {
			for _, sha := range rebased.Commits {
				if !slices.Contains(m.Related, sha) {
					t.Errorf("rebase-merged #%d: Related %v misses its commit %s", rebased.Number, m.Related, sha)
				}
			}
		}
	}
	var goVersion string
	e.store.fact(t, scope, githost.FactGoVersion, &goVersion)
	if goVersion != "1.22" {
		t.Errorf("go_version after go.mod changed = %q, want 1.22", goVersion)
	}
}

func TestFaultsAreRetriedAndRateLimitsWaitedOut(t *testing.T) {
	slug := "acme/payments"
	e := newEnv(t, []string{slug})
	e.fake.Inject(githubfake.Fault{Path: "/repos/acme/payments/pulls", Status: http.StatusInternalServerError, Times: 1})
	e.fake.Inject(githubfake.Fault{Path: "/repos/acme/payments/deployments", Status: http.StatusTooManyRequests, Wait: 40 * time.Second, Times: 1})
	e.fake.Inject(githubfake.Fault{Path: "/repos/acme/payments/actions/runs", Status: http.StatusForbidden, Wait: 10 * time.Minute, Times: 1})
	e.mustCollect(t, e.store)
	if slept := e.clock.Slept(); slept < 10*time.Minute+40*time.Second {
		t.Errorf("slept %v, want at least the rate-limit reset (10m) and Retry-After (40s)", slept)
	}
	x := expect(e.fake, slug, epoch.Add(-DefaultBackfill))
	scope := RepoScope(slug)
	if got := count(e.store, yardstick.ChangeOpened, scope); got != x.opened {
		t.Errorf("change.opened = %d, want %d", got, x.opened)
	}
	if got := count(e.store, yardstick.PipelineFinished, scope); got != x.runs {
		t.Errorf("pipeline.finished = %d, want %d", got, x.runs)
	}
}

func TestSpentRateLimitWindowIsWaitedOut(t *testing.T) {
	e := newEnv(t, []string{"acme/payments"}, func(o *githubfake.Options, _ *Config) { o.RateLimit = 40 })
	e.mustCollect(t, e.store)
	if e.clock.Slept() < 30*time.Minute {
		t.Errorf("slept %v; a 40-request window must have been waited out at least once", e.clock.Slept())
	}
}

func TestFailingRepositoryDoesNotStopTheOthers(t *testing.T) {
	slugs := demoSlugs(3)
	e := newEnv(t, slugs)
	e.fake.Inject(githubfake.Fault{Path: "/repos/acme/checkout/pulls", Status: http.StatusBadGateway})
	_, err := e.c.Collect(context.Background(), time.Time{}, e.store)
	var pe *collectors.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Collect error = %v, want a *collectors.PartialError", err)
	}
	if len(pe.Failures) != 1 {
		t.Fatalf("failures = %v, want one", pe.Failures)
	}
	f := pe.Failures[0]
	if f.Scope != "github:acme/checkout" || f.Status != http.StatusBadGateway || !strings.HasPrefix(f.Endpoint, "GET /repos/acme/checkout/pulls?") {
		t.Errorf("failure = %+v, want scope github:acme/checkout, GET /repos/acme/checkout/pulls…, status 502", f)
	}
	if !strings.Contains(err.Error(), "acme/checkout") || !strings.Contains(err.Error(), "502") {
		t.Errorf("error text %q names neither the repository nor the status", err)
	}
	for _, slug := range []string{"acme/payments", "acme/search"} {
		if count(e.store, yardstick.ChangeOpened, RepoScope(slug)) == 0 {
			t.Errorf("%s was not collected", slug)
		}
	}
	// The failed section is read again next time, from its old cursor.
	e.fake.ClearFaults()
	e.mustCollect(t, e.store)
	x := expect(e.fake, "acme/checkout", epoch.Add(-DefaultBackfill))
	if got := count(e.store, yardstick.ChangeOpened, "github:acme/checkout"); got != x.opened {
		t.Errorf("checkout change.opened after recovery = %d, want %d", got, x.opened)
	}
}

func TestReconcileRemovesDeletedDeploymentsAndRepositories(t *testing.T) {
	slugs := demoSlugs(2)
	e := newEnv(t, slugs)
	e.mustCollect(t, e.store)
	deps := e.fake.Deployments("acme/payments")
	gone := deps[len(deps)-1]
	e.fake.DeleteDeployment("acme/payments", gone.ID)

	rep, err := e.c.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if rep.DeploymentsDeleted != 1 || rep.EventsDeleted < 2 {
		t.Errorf("Reconcile = %+v, want 1 deployment and its 2 events deleted", rep)
	}
	id := strconv.FormatInt(gone.ID, 10)
	for _, typ := range []string{yardstick.DeploymentStarted, yardstick.DeploymentSucceeded, yardstick.DeploymentFailed} {
		for _, ev := range e.store.eventsOf(typ, "github:acme/payments") {
			if ev.ID == id {
				t.Errorf("%s of deleted deployment %s still stored", typ, id)
			}
		}
	}

	e.store.setRepos("acme/payments")
	rep, err = e.c.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if !slices.Equal(rep.ReposRemoved, []string{"acme/checkout"}) {
		t.Errorf("ReposRemoved = %v, want [acme/checkout]", rep.ReposRemoved)
	}
	for _, typ := range []string{yardstick.ChangeOpened, yardstick.CommitPushed, yardstick.DeploymentStarted, yardstick.PipelineFinished} {
		if n := count(e.store, typ, "github:acme/checkout"); n != 0 {
			t.Errorf("%d %s events of the removed repository remain", n, typ)
		}
	}
	if count(e.store, yardstick.ChangeOpened, "github:acme/payments") == 0 {
		t.Error("events of the repository still in the catalog were removed")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := newMemStore()
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no credentials", Config{}, "token or an app"},
		{"both credentials", Config{Token: "t", App: &AppConfig{AppID: 1, InstallationID: 2, PrivateKey: "k"}}, "not both"},
		{"bad key", Config{App: &AppConfig{AppID: 1, InstallationID: 2, PrivateKey: "not a key"}}, "private key"},
		{"bad pattern", Config{Token: "t", FileFacts: []FileFact{{Name: "x", Path: "a", Pattern: "("}}}, "file_facts[0]: pattern"},
		{"reserved name", Config{Token: "t", FileFacts: []FileFact{{Name: "go_version", Path: "a", Pattern: "x"}}}, "already used"},
		{"escaping path", Config{Token: "t", FileFacts: []FileFact{{Name: "x", Path: "../etc/passwd", Pattern: "x"}}}, "relative path"},
		{"relative base URL", Config{Token: "t", BaseURL: "ghe.example.com"}, "absolute URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, nil, Deps{Cursors: st, Catalog: st}, discardLogger())
			if err == nil || !errors.Is(err, yardstick.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New(%s) error = %v, want ErrInvalid mentioning %q", c.name, err, c.want)
			}
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
