package ui

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// NotificationSource reads what the notifier sent (and failed to send) for
// a group, newest first. Safe for concurrent use.
type NotificationSource interface {
	RecentDeliveries(ctx context.Context, group yardstick.EntityRef, limit int) ([]yardstick.DeliveryRecord, error)
}

// recentNotifications is how many ledger rows the squad notification page shows.
const recentNotifications = 100

// NotificationsView is the page /squads/{namespace}/{name}/notifications.
type NotificationsView struct {
	Ref           yardstick.EntityRef `json:"group"`
	Title         string              `json:"title"`
	Configured    bool                `json:"configured"`
	Notifications []NotificationRow   `json:"notifications"`
}

// NotificationRow is one sent, failed or abandoned delivery.
type NotificationRow struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"` // sent, failed or abandoned
	Trigger string    `json:"trigger"`
	Subject string    `json:"subject"`
	Channel string    `json:"channel"`
	Target  string    `json:"target"`
	Title   string    `json:"title"`
	Body    string    `json:"body,omitempty"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error,omitempty"`
}

func (s *Server) squadNotifications(c echo.Context, cat *catalogView, _ filter) (string, any, error) {
	g, err := s.groupParam(c, cat)
	if err != nil {
		return "", nil, err
	}
	v := NotificationsView{Ref: g.Ref, Title: cat.title(g.Ref), Configured: s.cfg.Notifications != nil, Notifications: []NotificationRow{}}
	if s.cfg.Notifications != nil {
		recs, err := s.cfg.Notifications.RecentDeliveries(c.Request().Context(), g.Ref, recentNotifications)
		if err != nil {
			return "", nil, err
		}
		for _, r := range recs {
			v.Notifications = append(v.Notifications, NotificationRow{At: r.At, Outcome: r.Kind, Trigger: r.Trigger, Subject: r.Subject,
				Channel: r.Channel, Target: r.Target, Title: r.Title, Body: r.Body, Attempt: r.Attempt, Error: r.Error})
		}
	}
	return "Notifications of " + v.Title, v, nil
}
