package jira

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jira "github.com/andygrunwald/go-jira"

	"github.com/yardstick-dev/yardstick"
)

// FuzzWebhookPayload feeds Jira webhook bodies through the payload decoding
// and payloadEvents, with the status list of testdata/statuses-list.json.
// Seeds: payloads of the fake Jira (shaped on Jira's documented webhook),
// in testdata/fuzz/FuzzWebhookPayload. It must never panic, and every event
// it returns must carry the scope it was given, an identity and a time the
// store holds.
func FuzzWebhookPayload(f *testing.F) {
	var list []jira.Status
	mustReadFixture(f, "statuses-list.json", &list)
	conv := converter{storyPoints: "customfield_10016", statuses: newStatusIndex(list)}
	scopes := []yardstick.Scope{"jira:AAA"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p webhookPayload
		if json.Unmarshal(body, &p) != nil || p.Issue == nil {
			return
		}
		events, err := payloadEvents(&p, scopes, conv, testNow)
		if err != nil {
			if !strings.Contains(err.Error(), p.Issue.Key) && !errors.Is(err, yardstick.ErrInvalid) {
				t.Errorf("payloadEvents() error %q does not name issue %q", err, p.Issue.Key)
			}
			return
		}
		for _, e := range events {
			if e.Scope != "jira:AAA" || e.Type == "" || e.ID == "" || e.Source != Source {
				t.Errorf("event without identity: %+v", e)
			}
			if err := yardstick.CheckEventTime(e.Time); err != nil {
				t.Errorf("event %s %s: %v", e.Type, e.ID, err)
			}
		}
	})
}
