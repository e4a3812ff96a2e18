package github

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// outage is a store that can be taken down: its catalog reads and writes then
// fail with yardstick.ErrUnavailable, as the store does when ClickHouse stops.
type outage struct {
	*memStore
	mu   sync.Mutex
	down bool
}

func (o *outage) setDown(d bool) { o.mu.Lock(); o.down = d; o.mu.Unlock() }

func (o *outage) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return fmt.Errorf("clickhouse at 127.0.0.1:9000: %w: i/o timeout", yardstick.ErrUnavailable)
	}
	return nil
}

func (o *outage) ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.memStore.ScopeMappings(ctx)
}

func (o *outage) WriteEvents(ctx context.Context, events []yardstick.Event) error {
	if err := o.err(); err != nil {
		return err
	}
	return o.memStore.WriteEvents(ctx, events)
}

// TestWebhookDuringStoreOutage: deliveries during a ClickHouse outage were
// answered 500 (issue 10). A writer that is unavailable gives 503 with
// Retry-After; a catalog that is unavailable does not stop deliveries once
// the handler has a copy of it.
func TestWebhookDuringStoreOutage(t *testing.T) {
	e := newEnv(t, []string{"acme/payments"})
	st := &outage{memStore: e.store}
	c := mustCollector(t, Config{Token: testToken, BaseURL: e.fake.URL}, e.fake, e.clock, st, st, st)
	h, err := c.WebhookHandler(st, WebhookConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	body := e.fake.PullRequestEvent("acme/payments", 1)
	if rec := deliver(t, h, "pull_request", body, true); rec.Code != http.StatusAccepted {
		t.Fatalf("delivery with the store up = %d %s, want 202", rec.Code, rec.Body)
	}
	st.setDown(true)
	rec := deliver(t, h, "pull_request", body, true)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("delivery with the writer down = %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Past the catalog's TTL the store is asked again and is down: the last
	// copy decides, and a writer that works (the spool) takes the delivery.
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(2 * catalogTTL)
	e.clock.mu.Unlock()
	spool := newMemStore()
	h2, err := c.WebhookHandler(spool, WebhookConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	st.setDown(false)
	if rec := deliver(t, h2, "pull_request", body, true); rec.Code != http.StatusAccepted {
		t.Fatalf("first delivery = %d, want 202", rec.Code)
	}
	spool.mu.Lock()
	before := spool.eventWrites
	spool.mu.Unlock()
	st.setDown(true)
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(2 * time.Minute)
	e.clock.mu.Unlock()
	if rec := deliver(t, h2, "pull_request", body, true); rec.Code != http.StatusAccepted {
		t.Errorf("delivery with the catalog down = %d %s, want 202 from the last copy", rec.Code, rec.Body)
	}
	spool.mu.Lock()
	after := spool.eventWrites
	spool.mu.Unlock()
	if after <= before {
		t.Errorf("events written during the catalog outage = %d, want more than 0", after-before)
	}
}
