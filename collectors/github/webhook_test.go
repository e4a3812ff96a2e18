package github

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

const testSecret yardstick.Secret = "It's a Secret to Everybody"

func deliver(t testing.TB, h http.Handler, kind string, body []byte, sign bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", kind)
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if sign {
		req.Header.Set("X-Hub-Signature-256", Sign(testSecret, body))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustHandler(t testing.TB, c *Collector, st *memStore, maxBody int64) *WebhookHandler {
	t.Helper()
	h, err := c.WebhookHandler(st, WebhookConfig{Secret: testSecret, MaxBody: maxBody})
	if err != nil {
		t.Fatalf("WebhookHandler: %v", err)
	}
	return h
}

func TestWebhookRejectsBadDeliveries(t *testing.T) {
	e := newEnv(t, []string{"acme/payments"})
	h := mustHandler(t, e.c, e.store, 64<<10)
	body := e.fake.PullRequestEvent("acme/payments", 1)

	if rec := deliver(t, h, "pull_request", body, false); rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned delivery: status %d, want 401", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-Hub-Signature-256", Sign("another secret", body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("wrongly signed delivery: status %d, want 401", rec.Code)
	}
	tampered := bytes.Replace(body, []byte(`"number":1`), []byte(`"number":2`), 1)
	req = httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(tampered))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-Hub-Signature-256", Sign(testSecret, body))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("tampered delivery: status %d, want 401", rec.Code)
	}
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 70<<10)...)
	big = append(big, `"}`...)
	if rec := deliver(t, h, "pull_request", big, true); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized delivery: status %d, want 413", rec.Code)
	}
	if rec := deliver(t, h, "pull_request", []byte(`{"action":`), true); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed delivery: status %d, want 400", rec.Code)
	}
	if rec := deliver(t, h, "star", []byte(`{}`), true); rec.Code != http.StatusAccepted {
		t.Errorf("uncollected event kind: status %d, want 202", rec.Code)
	}
	if n, _, _ := e.store.Counts(); n != 0 {
		t.Errorf("rejected deliveries wrote %d events", n)
	}

	e.store.setRepos("acme/other")
	e.clock.Advance(2 * catalogTTL)
	rec = deliver(t, h, "pull_request", body, true)
	if rec.Code != http.StatusAccepted || !strings.Contains(rec.Body.String(), "not in the catalog") {
		t.Errorf("delivery for a repository outside the catalog: %d %s, want 202 ignored", rec.Code, rec.Body)
	}
}

// TestWebhookRowsEqualPolling delivers webhooks for pull requests, reviews, a
// push, deployments and workflow runs into one store, polls the same
// organisation into another, and requires identical rows.
func TestWebhookRowsEqualPolling(t *testing.T) {
	slug := "acme/payments"
	e := newEnv(t, []string{slug})
	e.mustCollect(t, e.store)

	hooked := newMemStore(slug)
	c2 := mustCollector(t, Config{BaseURL: e.fake.URL, Token: testToken}, e.fake, e.clock, hooked, hooked, hooked)
	h := mustHandler(t, c2, hooked, 0)
	send := func(kind string, body []byte) {
		t.Helper()
		if rec := deliver(t, h, kind, body, true); rec.Code != http.StatusAccepted {
			t.Fatalf("deliver %s: status %d: %s", kind, rec.Code, rec.Body)
		}
	}
	pulls := e.fake.Pulls(slug)
	methods := map[string]bool{}
	for _, p := range pulls[len(pulls)-15:] {
		send("pull_request", e.fake.PullRequestEvent(slug, p.Number))
		for _, body := range e.fake.ReviewEvents(slug, p.Number) {
			send("pull_request_review", body)
		}
		if p.Merged {
			methods[p.Method] = true
		}
	}
	deps := e.fake.Deployments(slug)
	for _, d := range deps[len(deps)-8:] {
		for _, body := range e.fake.DeploymentStatusEvents(slug, d.ID) {
			send("deployment_status", body)
		}
	}
	runs := e.fake.Runs(slug)
	for _, r := range runs[len(runs)-10:] {
		send("workflow_run", e.fake.WorkflowRunEvent(slug, r.ID))
	}
	commits := e.fake.Commits(slug)
	send("push", e.fake.PushEvent(slug, commits[12], commits[0]))

	perType := map[string]int{}
	for k, got := range hooked.Snapshot() {
		want, ok := e.store.Event(k)
		if !ok {
			t.Errorf("webhook wrote %s %s %s that polling did not", k.Type, k.Scope, k.ID)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s: webhook row differs from polled row (-polled +webhook):\n%s", k.Type, k.ID, diff)
		}
		perType[k.Type]++
	}
	for _, typ := range []string{yardstick.ChangeOpened, yardstick.ChangeMerged, yardstick.ChangeReviewed, yardstick.CommitPushed,
		yardstick.DeploymentStarted, yardstick.DeploymentSucceeded, yardstick.PipelineFinished} {
		if perType[typ] == 0 {
			t.Errorf("no %s rows compared (compared: %v)", typ, perType)
		}
	}
	if len(methods) < 2 {
		t.Errorf("webhooks covered merge methods %v, want several", methods)
	}
}

// TestWebhookFixturesConvert runs GitHub's own example deliveries through the
// handler: every kind the collector reads must parse and convert.
func TestWebhookFixturesConvert(t *testing.T) {
	e := newEnv(t, []string{"codertocat/hello-world", "octo-org/octo-repo"})
	h := mustHandler(t, e.c, e.store, 0)
	for _, c := range []struct {
		file, kind string
		want       map[string]int
	}{
		{"pull_request.opened.json", "pull_request", map[string]int{yardstick.ChangeOpened: 1}},
		{"pull_request_review.submitted.json", "pull_request_review", map[string]int{yardstick.ChangeReviewed: 1}},
		{"workflow_run.completed.json", "workflow_run", map[string]int{yardstick.PipelineFinished: 1}},
		{"deployment_status.created.json", "deployment_status", map[string]int{yardstick.DeploymentStarted: 1, yardstick.DeploymentSucceeded: 1}},
		{"release.published.json", "release", map[string]int{yardstick.ReleasePublished: 1}},
		{"push.json", "push", map[string]int{}},
	} {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "webhooks", c.file))
			if err != nil {
				t.Fatal(err)
			}
			before := map[string]int{}
			for typ := range c.want {
				before[typ] = count(e.store, typ, "")
			}
			rec := deliver(t, h, c.kind, body, true)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var resp struct{ Events int }
			_ = json.Unmarshal(rec.Body.Bytes(), &resp)
			total := 0
			for typ, n := range c.want {
				if got := count(e.store, typ, "") - before[typ]; got != n {
					t.Errorf("%s: %d new %s events, want %d", c.file, got, typ, n)
				}
				total += n
			}
			if resp.Events != total {
				t.Errorf("%s: answer says %d events, want %d", c.file, resp.Events, total)
			}
		})
	}
}
