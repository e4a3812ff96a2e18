package github

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// benchRepos is the size of the organisation the sync benchmarks collect.
const benchRepos = 120

// BenchmarkFullSync reports the requests one full sync of a 120-repository
// organisation (90 days of history) makes.
func BenchmarkFullSync(b *testing.B) {
	e := newEnv(b, demoSlugs(benchRepos))
	b.ResetTimer()
	var requests, events int
	for range b.N {
		b.StopTimer()
		st := newMemStore(e.slugs...)
		c := mustCollector(b, Config{BaseURL: e.fake.URL, Token: testToken}, e.fake, e.clock, st, st, st)
		e.fake.ResetStats()
		b.StartTimer()
		if _, err := c.Collect(context.Background(), time.Time{}, st); err != nil {
			b.Fatal(err)
		}
		requests += e.fake.Stats().Requests
		n, _, _ := st.Counts()
		events += n
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(requests)/float64(b.N)/benchRepos, "requests/repo")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// BenchmarkIncrementalSync reports the requests one incremental sync of an
// unchanged 120-repository organisation makes, and how many were not 304.
func BenchmarkIncrementalSync(b *testing.B) {
	e := newEnv(b, demoSlugs(benchRepos))
	e.mustCollect(b, e.store)
	e.fake.ResetStats()
	b.ResetTimer()
	for range b.N {
		e.mustCollect(b, e.store)
	}
	s := e.fake.Stats()
	b.ReportMetric(float64(s.Requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(s.Requests-s.NotModified)/float64(b.N), "non304/op")
	b.ReportMetric(float64(s.Requests-s.NotModified)/float64(b.N)/benchRepos, "non304/repo")
}

// BenchmarkWebhookConversion reports how many events per second webhook
// deliveries turn into, through the whole handler (signature check, parse,
// convert, write to an in-memory store): pull requests, reviews, workflow runs
// and deployment statuses of a failed deployment (no API calls).
func BenchmarkWebhookConversion(b *testing.B) {
	slug := "acme/payments"
	e := newEnv(b, []string{slug})
	h := mustHandler(b, e.c, e.store, 0)
	type delivery struct {
		kind string
		body []byte
	}
	var batch []delivery
	for _, p := range e.fake.Pulls(slug) {
		if !p.Merged || len(p.Commits) == 1 { // merged multi-commit pull requests read their commits
			batch = append(batch, delivery{"pull_request", e.fake.PullRequestEvent(slug, p.Number)})
		}
		for _, body := range e.fake.ReviewEvents(slug, p.Number) {
			batch = append(batch, delivery{"pull_request_review", body})
		}
	}
	for _, r := range e.fake.Runs(slug) {
		batch = append(batch, delivery{"workflow_run", e.fake.WorkflowRunEvent(slug, r.ID)})
	}
	for _, d := range e.fake.Deployments(slug) {
		if d.State == "failure" {
			for _, body := range e.fake.DeploymentStatusEvents(slug, d.ID) {
				batch = append(batch, delivery{"deployment_status", body})
			}
		}
	}
	var bytes int64
	for _, d := range batch {
		bytes += int64(len(d.body))
	}
	b.SetBytes(bytes)
	events := 0
	before := e.store.Writes().EventRows
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, d := range batch {
			if rec := deliver(b, h, d.kind, d.body, true); rec.Code != http.StatusAccepted {
				b.Fatalf("deliver %s: %d %s", d.kind, rec.Code, rec.Body)
			}
		}
	}
	elapsed := time.Since(start)
	events = e.store.Writes().EventRows - before
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(len(batch)*b.N)/elapsed.Seconds(), "deliveries/s")
}
