package gitlab

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
	"github.com/yardstick-dev/yardstick/collectors/gitlab/gitlabfake"
)

// epoch ends the fake's history and starts the test clock.
var epoch = collectortest.Epoch

const testToken = "glpat-test"

// memStore is the shared in-memory store with the GitLab suite's lookups.
type memStore struct{ *collectortest.Store }

func newMemStore(projects ...string) *memStore {
	m := &memStore{collectortest.NewStore()}
	m.AddMappings(collectortest.RepoMappings(Scope, projects...)...)
	return m
}

// of returns the events of typ in scope.
func (m *memStore) of(typ string, scope yardstick.Scope) []yardstick.Event {
	return m.Events(func(e yardstick.Event) bool { return e.Type == typ && e.Scope == scope })
}

func (m *memStore) event(typ string, scope yardstick.Scope, id string) (yardstick.Event, bool) {
	return m.Event(collectortest.EventKey{Source: SourceName, Type: typ, Scope: scope, ID: id})
}

// factsOf returns the latest facts of scope by name, whatever their source.
func (m *memStore) factsOf(scope yardstick.Scope) map[string]yardstick.Fact {
	out := map[string]yardstick.Fact{}
	for _, f := range m.Facts(func(f yardstick.Fact) bool { return f.Scope == scope }) {
		out[f.Name] = f
	}
	return out
}

// mustCollector builds a collector on the fake whose transport sleeps on clock.
func mustCollector(t testing.TB, fake *gitlabfake.Server, clock *collectortest.Clock, st *memStore, cfg Config) *Collector {
	t.Helper()
	cfg.BaseURL, cfg.Token = fake.URL, testToken
	tr := collectors.NewTransport(nil, SourceName, collectors.RetryConfig{MaxRetries: 4, MaxWait: time.Hour}, nil).WithClock(clock.Now, clock.Sleep)
	c, err := New(cfg, collectors.Deps{
		Catalog: st, Cursors: st, Writer: st, Now: clock.Now,
		HTTPClient: &http.Client{Transport: tr}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// mustSetup starts a fake serving n projects and a collector on it with a
// fresh in-memory store.
func mustSetup(t testing.TB, n int, cfg Config) ([]string, *gitlabfake.Server, *collectortest.Clock, *memStore, *Collector) {
	t.Helper()
	projects := acmeProjects(n)
	fake := gitlabfake.New(gitlabfake.Options{Projects: projects, Epoch: epoch, Token: testToken})
	t.Cleanup(fake.Close)
	clock := collectortest.NewClock(epoch)
	st := newMemStore(projects...)
	return projects, fake, clock, st, mustCollector(t, fake, clock, st, cfg)
}

func acmeProjects(n int) []string {
	names := []string{"acme/payments", "acme/platform/search", "acme/checkout", "acme/accounts"}
	var out []string
	for i := range n {
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, "acme/svc-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		}
	}
	return out
}
