package notify

import (
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Channels a rule can name.
const (
	ChannelSlack   = "slack"
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Catalog annotations on groups that route notifications, read on the owning
// group first and then up the group tree (spec.parent).
const (
	AnnotationSlackChannel = "slack.com/channel"      // a Slack channel, e.g. #payments or C0123456
	AnnotationEmail        = "yardstick.dev/email"    // one or more addresses, comma separated
	AnnotationTimeZone     = "yardstick.dev/timezone" // IANA zone for quiet hours and digests
)

// Route is where notifications go when the group tree names no channel or
// address, and where the platform's notifications (collector failures) go.
type Route struct {
	SlackChannel string
	Email        string
}

// Target is one place a delivery goes.
type Target struct {
	Channel string // slack, email or webhook
	Address string // Slack channel, e-mail address(es), or webhook name
}

func (t Target) String() string { return t.Channel + ":" + t.Address }

// router resolves groups to targets and time zones through the catalog's
// organisation (the one group tree every package uses).
type router struct {
	org      *yardstick.Organisation
	groups   map[yardstick.EntityRef]yardstick.Entity
	defaults Route
	zone     *time.Location
}

func newRouter(org *yardstick.Organisation, defaults Route, zone *time.Location) *router {
	r := &router{org: org, groups: map[yardstick.EntityRef]yardstick.Entity{}, defaults: defaults, zone: zone}
	for _, g := range org.Groups() {
		r.groups[g] = *org.Entity(g)
	}
	if r.zone == nil {
		r.zone = time.UTC
	}
	return r
}

// ancestors returns g and the groups above it, nearest first.
func (r *router) ancestors(g yardstick.EntityRef) []yardstick.EntityRef {
	return r.org.Ancestors(g)
}

// annotation returns the nearest value of the annotation on g or a group above it.
func (r *router) annotation(g yardstick.EntityRef, key string) string {
	for _, a := range r.ancestors(g) {
		if v := r.groups[a].Annotations[key]; v != "" {
			return v
		}
	}
	return ""
}

// target resolves a rule channel for a group: the catalog's annotation up the
// tree, then the default route. ok is false when nothing is configured.
func (r *router) target(g yardstick.EntityRef, channel string) (Target, bool) {
	switch {
	case channel == ChannelSlack:
		v := r.annotation(g, AnnotationSlackChannel)
		if v == "" {
			v = r.defaults.SlackChannel
		}
		return Target{ChannelSlack, v}, v != ""
	case channel == ChannelEmail:
		v := r.annotation(g, AnnotationEmail)
		if v == "" {
			v = r.defaults.Email
		}
		return Target{ChannelEmail, v}, v != ""
	case len(channel) > len(ChannelWebhook)+1 && channel[:len(ChannelWebhook)+1] == ChannelWebhook+":":
		return Target{ChannelWebhook, channel[len(ChannelWebhook)+1:]}, true
	}
	return Target{}, false
}

// location returns the group's time zone: its yardstick.dev/timezone
// annotation or the nearest above it, else the rules' zone. An unknown zone
// falls back the same way.
func (r *router) location(g yardstick.EntityRef) *time.Location {
	if z := r.annotation(g, AnnotationTimeZone); z != "" {
		if loc, err := time.LoadLocation(z); err == nil {
			return loc
		}
	}
	return r.zone
}

// title returns a group's title, or its name.
func (r *router) title(g yardstick.EntityRef) string {
	if e, ok := r.groups[g]; ok && e.Title != "" {
		return e.Title
	}
	if g == "" {
		return "platform"
	}
	return g.Name()
}
