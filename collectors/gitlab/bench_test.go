package gitlab

import (
	"context"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

// BenchmarkSync50Projects measures a full and an unchanged incremental sync of
// 50 projects against the fake: requests per run and per project.
func BenchmarkSync50Projects(b *testing.B) {
	projects := acmeProjects(50)
	fake := gitlabfake.New(gitlabfake.Options{Projects: projects, Epoch: epoch, Token: testToken})
	b.Cleanup(fake.Close)
	ctx := context.Background()
	var full, incr int
	for b.Loop() {
		clock := &fakeClock{t: epoch}
		st := newMemStore(projects...)
		c := mustCollector(b, fake, clock, st, Config{})
		fake.ResetStats()
		if _, err := c.Collect(ctx, time.Time{}, st); err != nil {
			b.Fatal(err)
		}
		full = fake.Stats().Requests
		clock.Advance(time.Hour)
		fake.ResetStats()
		if _, err := c.Collect(ctx, epoch, st); err != nil {
			b.Fatal(err)
		}
		incr = fake.Stats().Requests
	}
	b.ReportMetric(float64(full), "full-requests")
	b.ReportMetric(float64(incr), "incremental-requests")
	b.ReportMetric(float64(incr)/float64(len(projects)), "incremental-requests/project")
}
