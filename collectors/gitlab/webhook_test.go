package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

const hookSecret = "s3cret-hook-token"

func mustPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deliver(t *testing.T, h http.Handler, token, event string, body []byte) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("X-Gitlab-Token", token)
	}
	req.Header.Set("X-Gitlab-Event", event)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// hookSetup returns a handler whose collector talks to a fake serving
// projects, with the real payloads' projects in the catalog too (they are not
// on the fake, so their deliveries fall back to the payload).
func hookSetup(t *testing.T, projects ...string) (*WebhookHandler, *memStore, *gitlabfake.Server, prometheus.Gatherer) {
	t.Helper()
	fake := gitlabfake.New(gitlabfake.Options{Projects: projects, Epoch: epoch, Token: testToken})
	t.Cleanup(fake.Close)
	st := newMemStore(projects...)
	for _, p := range []string{"gitlabhq/gitlab-test", "mike/diaspora", "gitlab-org/gitlab-test", "exm-namespace/example-project", "root/test-deployment-webhooks"} {
		st.mappings = append(st.mappings, yardstick.ScopeMapping{Scope: Scope(p), Entity: "component:default/x"})
	}
	clock := &fakeClock{t: epoch}
	c := mustCollector(t, fake, clock, st, Config{})
	reg := prometheus.NewRegistry()
	h, err := c.WebhookHandler(st, hookSecret, 64<<10, reg)
	if err != nil {
		t.Fatal(err)
	}
	return h, st, fake, reg
}

func TestWebhookRejects(t *testing.T) {
	h, st, _, reg := hookSetup(t)
	body := mustPayload(t, "merge_request.open.json")
	for _, tc := range []struct {
		name, token string
		body        []byte
		want        int
	}{
		{"no token", "", body, http.StatusUnauthorized},
		{"wrong token", "s3cret-hook-tokeX", body, http.StatusUnauthorized},
		{"token prefix", hookSecret[:5], body, http.StatusUnauthorized},
		{"over the limit", hookSecret, bytes.Repeat([]byte(" "), 65<<10), http.StatusRequestEntityTooLarge},
		{"not JSON", hookSecret, []byte(`{"object_kind": "merge_request",`), http.StatusBadRequest},
		{"no project", hookSecret, []byte(`{"object_kind": "push"}`), http.StatusBadRequest},
		{"unknown kind", hookSecret, mustPayload(t, "issue.open.json"), http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := deliver(t, h, tc.token, "Merge Request Hook", tc.body)
			if code != tc.want || out["error"] == nil && code >= 400 {
				t.Errorf("status %d %v, want %d with a reason", code, out, tc.want)
			}
		})
	}
	if st.eventWrites != 0 {
		t.Errorf("%d events written by rejected deliveries", st.eventWrites)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP yardstick_gitlab_webhook_deliveries_total GitLab hook deliveries by object kind and result (written, ignored, unknown_kind, rejected).
# TYPE yardstick_gitlab_webhook_deliveries_total counter
yardstick_gitlab_webhook_deliveries_total{kind="",result="rejected"} 3
yardstick_gitlab_webhook_deliveries_total{kind="other",result="unknown_kind"} 1
`)); err != nil {
		t.Error(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/webhooks/gitlab", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", rec.Code)
	}
}

// TestWebhookRealPayloads delivers GitLab's documented hooks for projects the
// fake does not serve, so each is converted from its payload alone. The
// expectations are read off the payloads.
func TestWebhookRealPayloads(t *testing.T) {
	h, st, _, _ := hookSetup(t)
	for _, tc := range []struct {
		file, event string
		scope       yardstick.Scope
		typ, id     string
		check       func(e yardstick.Event) string
	}{
		{"merge_request.open.json", "Merge Request Hook", "gitlab:gitlabhq/gitlab-test", yardstick.ChangeOpened, "1", func(e yardstick.Event) string {
			if e.Time.Format("2006-01-02T15:04:05Z") != "2013-12-03T17:23:34Z" || e.Str["head_sha"] != "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" ||
				e.Str["base"] != "master" || e.Str["head"] != "ms-viewport" || e.Str["title"] != "MS-Viewport" || e.Actor != "root" {
				return "wrong attributes"
			}
			return ""
		}},
		{"push.json", "Push Hook", "gitlab:mike/diaspora", yardstick.CommitPushed, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", func(e yardstick.Event) string {
			if e.Time.Format("2006-01-02T15:04:05Z") != "2012-01-03T21:36:29Z" || e.Str["branch"] != "master" || e.Actor != "gitlabdev@dv6700.(none)" {
				return "wrong attributes"
			}
			return ""
		}},
		{"pipeline.success.json", "Pipeline Hook", "gitlab:gitlab-org/gitlab-test", yardstick.PipelineFinished, "31", func(e yardstick.Event) string {
			if e.Time.Format("2006-01-02T15:04:05Z") != "2016-08-12T15:26:29Z" || e.Str["conclusion"] != "success" || e.Str["branch"] != "master" ||
				e.Str["sha"] != "bcbb5ec396a2c0f828686f14fac9b80b780504f2" || e.Num["duration_seconds"] != 63 || e.Actor != "root" {
				return "wrong attributes"
			}
			return ""
		}},
		{"release.create--go-gitlab.json", "Release Hook", "gitlab:exm-namespace/example-project", yardstick.ReleasePublished, "1.0.0", func(e yardstick.Event) string {
			if e.Time.Format("2006-01-02T15:04:05Z") != "2021-02-25T21:23:34Z" || e.Str["target"] != "2626dbdb936782b5c54816b1c6d45b1279303c6d" {
				return "wrong attributes"
			}
			return ""
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out := deliver(t, h, hookSecret, tc.event, mustPayload(t, tc.file))
			if code != http.StatusAccepted {
				t.Fatalf("status %d %v, want 202", code, out)
			}
			e, ok := st.event(tc.typ, tc.scope, tc.id)
			if !ok {
				t.Fatalf("no %s %s in %s (answer %v)", tc.typ, tc.id, tc.scope, out)
			}
			if msg := tc.check(e); msg != "" {
				t.Errorf("%s: %+v", msg, e)
			}
		})
	}
	if n := len(st.of(yardstick.CommitPushed, "gitlab:mike/diaspora")); n != 2 {
		t.Errorf("push wrote %d commits, want the payload's 2", n)
	}
	// Deployment and note hooks need the API (the payloads lack the full sha,
	// the start time and the merge request): without it they write nothing
	// and are still accepted; the next sync collects them.
	for file, event := range map[string]string{"deployment.success.json": "Deployment Hook", "note.merge_request.json": "Note Hook"} {
		if code, out := deliver(t, h, hookSecret, event, mustPayload(t, file)); code != http.StatusAccepted || out["events"] != float64(0) {
			t.Errorf("%s: %d %v, want 202 with no events", file, code, out)
		}
	}
	// A project outside the catalog is ignored.
	body := bytes.Replace(mustPayload(t, "push.json"), []byte(`"mike/diaspora"`), []byte(`"other/project"`), 1)
	if code, out := deliver(t, h, hookSecret, "Push Hook", body); code != http.StatusAccepted || out["ignored"] == nil {
		t.Errorf("unknown project: %d %v", code, out)
	}
}

// TestWebhookMatchesPolling: a merge request hook (the real payload pointed
// at a merge request of the fake) and a poll of the same project give
// identical rows for that merge request.
func TestWebhookMatchesPolling(t *testing.T) {
	h, hooked, fake, _ := hookSetup(t, "acme/payments")
	var p map[string]any
	if err := json.Unmarshal(mustPayload(t, "merge_request.open.json"), &p); err != nil {
		t.Fatal(err)
	}
	mr := fake.Project("acme/payments").MRs[5]
	p["project"].(map[string]any)["path_with_namespace"] = "acme/payments"
	attrs := p["object_attributes"].(map[string]any)
	attrs["iid"], attrs["action"], attrs["state"] = mr.IID, "merge", "merged"
	body, _ := json.Marshal(p)
	if code, out := deliver(t, h, hookSecret, "Merge Request Hook", body); code != http.StatusAccepted || out["events"] == float64(0) {
		t.Fatalf("hook: %d %v", code, out)
	}
	polled := newMemStore("acme/payments")
	c := mustCollector(t, fake, &fakeClock{t: epoch}, polled, Config{})
	if _, err := c.Collect(context.Background(), epoch.AddDate(-1, 0, 0), polled); err != nil {
		t.Fatal(err)
	}
	scope := Scope("acme/payments")
	n := 0
	for _, typ := range []string{yardstick.ChangeOpened, yardstick.ChangeMerged, yardstick.ChangeReviewed} {
		for _, want := range polled.of(typ, scope) {
			if typ != yardstick.ChangeReviewed && want.ID != itoa(mr.IID) || typ == yardstick.ChangeReviewed && want.Num["number"] != float64(mr.IID) {
				continue
			}
			n++
			got, ok := hooked.event(typ, scope, want.ID)
			if !ok {
				t.Errorf("hook wrote no %s %s", typ, want.ID)
				continue
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s: hook row differs from the polled one (-poll +hook):\n%s", typ, want.ID, diff)
			}
		}
	}
	if n != 4 || hooked.eventWrites != 4 {
		t.Errorf("compared %d rows, hook wrote %d; want opened, merged and 2 reviews", n, hooked.eventWrites)
	}
}

// TestWebhookAPIKinds: push, pipeline, deployment and release hooks (GitLab's
// documented payloads pointed at a change made on the fake) give the rows a
// poll gives, including the commits a deployment shipped.
func TestWebhookAPIKinds(t *testing.T) {
	h, hooked, fake, _ := hookSetup(t, "acme/payments")
	ctx := context.Background()
	// A first sync leaves the cursors (the last production success) the hook uses.
	// (The payload-only projects in the catalog are not on the fake and fail.)
	_, err := h.c.Collect(ctx, epoch.AddDate(-1, 0, 0), hooked)
	for _, f := range collectors.Failures(err) {
		if f.Scope == "gitlab:acme/payments" {
			t.Fatal(err)
		}
	}
	p := fake.Project("acme/payments")
	before := p.Commits[0].SHA
	mr := fake.AddChange("acme/payments", epoch.Add(30*time.Minute))
	pl := p.Pipelines[len(p.Pipelines)-1]
	dep := p.Deployments[len(p.Deployments)-1]
	hooked.events = map[eventKey]yardstick.Event{}

	edit := func(file string, f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(mustPayload(t, file), &m); err != nil {
			t.Fatal(err)
		}
		m["project"].(map[string]any)["path_with_namespace"] = "acme/payments"
		m["project"].(map[string]any)["default_branch"] = "main"
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	deliveries := []struct {
		event string
		body  []byte
	}{
		{"Push Hook", edit("push.json", func(m map[string]any) {
			m["before"], m["after"], m["ref"] = before, mr.MergeSHA, "refs/heads/main"
		})},
		{"Pipeline Hook", edit("pipeline.success.json", func(m map[string]any) {
			m["object_attributes"].(map[string]any)["id"] = pl.ID
		})},
		{"Deployment Hook", edit("deployment.success.json", func(m map[string]any) { m["deployment_id"] = dep.ID })},
		{"Release Hook", edit("release.create--go-gitlab.json", func(m map[string]any) { m["tag"] = p.Releases[0].Tag })},
	}
	for _, d := range deliveries {
		if code, out := deliver(t, h, hookSecret, d.event, d.body); code != http.StatusAccepted || out["events"] == float64(0) {
			t.Errorf("%s: %d %v", d.event, code, out)
		}
	}
	polled := newMemStore("acme/payments")
	c := mustCollector(t, fake, &fakeClock{t: epoch.Add(time.Hour)}, polled, Config{})
	if _, err := c.Collect(ctx, time.Time{}, polled); err != nil {
		t.Fatal(err)
	}
	scope := Scope("acme/payments")
	for _, k := range []eventKey{
		{yardstick.CommitPushed, scope, mr.SHA}, {yardstick.CommitPushed, scope, mr.MergeSHA},
		{yardstick.PipelineFinished, scope, itoa(pl.ID)},
		{yardstick.DeploymentStarted, scope, itoa(dep.ID)}, {yardstick.DeploymentSucceeded, scope, itoa(dep.ID)},
		{yardstick.ReleasePublished, scope, p.Releases[0].Tag},
	} {
		want, ok := polled.event(k.typ, k.scope, k.id)
		got, ok2 := hooked.event(k.typ, k.scope, k.id)
		if !ok || !ok2 {
			t.Errorf("%s %s: polled %v, hooked %v", k.typ, k.id, ok, ok2)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s: hook row differs from the polled one (-poll +hook):\n%s", k.typ, k.id, diff)
		}
	}
	if d, _ := hooked.event(yardstick.DeploymentSucceeded, scope, itoa(dep.ID)); len(d.Related) != 2 {
		t.Errorf("hooked deployment shipped %v, want the change's two commits", d.Related)
	}
}

// TestSystemHookPush: a system hook names a push in event_name only; it is
// converted like a project hook's push.
func TestSystemHookPush(t *testing.T) {
	h, st, _, _ := hookSetup(t)
	var m map[string]any
	if err := json.Unmarshal(mustPayload(t, "push.json"), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "object_kind")
	body, _ := json.Marshal(m)
	if code, out := deliver(t, h, hookSecret, "System Hook", body); code != http.StatusAccepted || out["events"] != float64(2) {
		t.Errorf("system hook push: %d %v, want 202 with the payload's 2 commits", code, out)
	}
	if n := len(st.of(yardstick.CommitPushed, "gitlab:mike/diaspora")); n != 2 {
		t.Errorf("%d commits written, want 2", n)
	}
}
