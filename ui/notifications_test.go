package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/ui"
)

type fakeNotifications struct {
	recs map[yardstick.EntityRef][]yardstick.DeliveryRecord
}

func (f fakeNotifications) RecentDeliveries(_ context.Context, g yardstick.EntityRef, limit int) ([]yardstick.DeliveryRecord, error) {
	r := f.recs[g]
	return r[:min(limit, len(r))], nil
}

func TestSquadNotifications(t *testing.T) {
	recs := fakeNotifications{map[yardstick.EntityRef][]yardstick.DeliveryRecord{"group:default/checkout": {
		{Kind: yardstick.DeliverySent, At: time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC), Trigger: "level_drop", Channel: "slack", Target: "#payments",
			Title: "Checkout API dropped from <gold> to silver", Body: "details", Attempt: 1},
		{Kind: yardstick.DeliveryFailed, At: time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC), Trigger: "digest", Channel: "email", Target: "checkout@example.com",
			Title: "Weekly digest", Attempt: 1, Error: "535 authentication failed"},
	}}}
	h := mustServer(t, func(c *ui.Config) { c.Notifications = recs }).srv.Handler()
	rec := get(t, h, "/squads/default/checkout/notifications")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET notifications = %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{"Notifications of Checkout", "2024-03-04 09:00", "#payments", "dropped from &lt;gold&gt; to silver", "535 authentication failed", `class="bad">failed`} {
		if !strings.Contains(body, want) {
			t.Errorf("notifications page lacks %q", want)
		}
	}
	if !strings.Contains(get(t, h, "/squads/default/checkout").Body.String(), `/squads/default/checkout/notifications`) {
		t.Error("squad page does not link its notifications")
	}
	rec = get(t, h, "/api/v1/squads/default/checkout/notifications", "Accept", "application/json")
	var v ui.NotificationsView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || len(v.Notifications) != 2 || v.Notifications[1].Error == "" {
		t.Errorf("API = %s (%v), want both rows", rec.Body, err)
	}
	if rec := get(t, h, "/squads/default/nobody/notifications"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown squad = %d, want 404", rec.Code)
	}
	// Without a notifier the page says so.
	h = mustServer(t, nil).srv.Handler()
	if body := get(t, h, "/squads/default/checkout/notifications").Body.String(); !strings.Contains(body, "not configured") {
		t.Error("page without notifier does not say notifications are not configured")
	}
}
