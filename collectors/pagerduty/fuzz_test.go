package pagerduty

import (
	"errors"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

// FuzzDecodeWebhook feeds v3 webhook bodies through decodeWebhook and
// webhookEvents. Seeds: PagerDuty's published payloads as each milestone, in
// testdata/fuzz/FuzzDecodeWebhook. It must never panic; a body is either
// refused with ErrInvalid or gives at most the one event it announces, with
// the incident's identity and a time the store holds.
func FuzzDecodeWebhook(f *testing.F) {
	hours, err := newHoursResolver(Hours{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeWebhook(body)
		if err != nil {
			if !errors.Is(err, yardstick.ErrInvalid) {
				t.Fatalf("decodeWebhook() error %v is not ErrInvalid", err)
			}
			return
		}
		if !handledEventTypes[d.EventType] {
			if d.Incident != nil {
				t.Fatalf("incident read for ignored type %q", d.EventType)
			}
			return
		}
		if d.Incident == nil || d.Incident.ID == "" || d.Incident.Service.ID == "" {
			t.Fatalf("decodeWebhook(%s) incident = %+v, want id and service", d.EventType, d.Incident)
		}
		if d.EventType == "incident.reopened" {
			return
		}
		events, err := webhookEvents(d, hours.def)
		if err != nil {
			if !errors.Is(err, yardstick.ErrInvalid) {
				t.Fatalf("webhookEvents() error %v is not ErrInvalid", err)
			}
			return
		}
		if len(events) != 1 {
			t.Fatalf("webhookEvents(%s) = %d events, want 1", d.EventType, len(events))
		}
		ev := events[0]
		if ev.ID != d.Incident.ID || ev.Scope != yardstick.PagerDutyScope(d.Incident.Service.ID) || "incident."+ev.Type[len("incident."):] != d.EventType {
			t.Errorf("event %+v does not match delivery %s of %s", ev, d.EventType, d.Incident.ID)
		}
		if err := yardstick.CheckEventTime(ev.Time); err != nil {
			t.Errorf("event time: %v", err)
		}
	})
}
