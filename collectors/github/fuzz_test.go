package github

import (
	"context"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

// FuzzWebhookDelivery feeds webhook payloads of each kind the collector
// converts through parseDelivery and deliveryEvents (the API calls a
// conversion makes go to the fake GitHub). Seeds: the recorded payloads of
// testdata/webhooks, in testdata/fuzz/FuzzWebhookDelivery. It must never
// panic, and every event it returns must be storable: an identity and a
// time the store holds.
func FuzzWebhookDelivery(f *testing.F) {
	e := newEnv(f, []string{"codertocat/hello-world", "octo-org/octo-repo"})
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		d, err := parseDelivery(kind, body)
		if err != nil || d == nil {
			return
		}
		if d.slug == "" || d.scope == "" {
			t.Fatalf("parseDelivery(%s) = %+v, want a repository", kind, d)
		}
		for _, ev := range e.c.deliveryEvents(context.Background(), d) {
			if ev.Source == "" || ev.Type == "" || ev.Scope != d.scope || ev.ID == "" {
				t.Errorf("event without identity: %+v", ev)
			}
			if err := yardstick.CheckEventTime(ev.Time); err != nil {
				t.Errorf("event %s %s: %v", ev.Type, ev.ID, err)
			}
		}
	})
}
