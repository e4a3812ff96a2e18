package collectors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/collectortest"
)

func TestDeploySuccesses(t *testing.T) {
	m := collectors.DeploySuccesses{}
	for id := int64(30); id >= 1; id-- { // out of order, and more than are kept
		m.Add("production", collectors.DeploySuccess{ID: id, SHA: "s"})
	}
	m.Add("production", collectors.DeploySuccess{ID: 30, SHA: "again"})
	if got := len(m["production"]); got != collectors.DeploySuccessesKept {
		t.Fatalf("kept %d, want %d", got, collectors.DeploySuccessesKept)
	}
	if prev, ok := m.Previous("production", 25); !ok || prev.ID != 24 {
		t.Errorf("Previous(25) = %+v, %v; want 24", prev, ok)
	}
	if _, ok := m.Previous("production", 11); ok {
		t.Error("Previous(11) found one, but 1 to 10 were dropped")
	}
	if _, ok := m.Previous("staging", 5); ok {
		t.Error("Previous of another environment found one")
	}
	c := m.Clone()
	c.Add("production", collectors.DeploySuccess{ID: 31})
	if len(m["production"]) != collectors.DeploySuccessesKept || m["production"][len(m["production"])-1].ID != 30 {
		t.Error("Add on a clone changed the original")
	}
}

type failingCatalog struct{ collectors.Catalog }

func (failingCatalog) ScopeMappings(context.Context) ([]yardstick.ScopeMapping, error) {
	return nil, errors.New("catalog down")
}

func TestScopeCache(t *testing.T) {
	st := collectortest.NewStore()
	st.SetMappings(yardstick.ScopeMapping{Scope: "github:acme/api", Entity: "component:default/api"})
	clock := collectortest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := collectors.NewScopeCache(st, time.Minute, clock.Now)
	ctx := context.Background()
	if ok, err := c.Has(ctx, "github:acme/api"); !ok || err != nil {
		t.Errorf("Has(mapped) = %v, %v", ok, err)
	}
	st.AddMappings(yardstick.ScopeMapping{Scope: "github:acme/web", Entity: "component:default/web"})
	if ok, _ := c.Has(ctx, "github:acme/web"); ok {
		t.Error("Has(new mapping) = true within the TTL, want the cached answer")
	}
	clock.Advance(2 * time.Minute)
	if ok, _ := c.Has(ctx, "github:acme/web"); !ok {
		t.Error("Has(new mapping) = false after the TTL, want it re-read")
	}
	if _, err := collectors.NewScopeCache(failingCatalog{}, time.Minute, clock.Now).Has(ctx, "x"); err == nil {
		t.Error("Has() with a failing catalog = nil error")
	}
}
