package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// KindNotifications is the kind of the rule documents this package reads,
// next to the scorecards and campaigns (which the rule loader skips them for).
const KindNotifications = "Notifications"

// Defaults of a rule.
var (
	DefaultLeadTimes   = []time.Duration{14 * 24 * time.Hour, 3 * 24 * time.Hour, 24 * time.Hour}
	DefaultDigest      = DigestTime{Day: time.Monday, Hour: 9}
	DefaultFailingRuns = 3
)

// Rules is every notification rule of a rule directory.
type Rules struct {
	Rules    []Rule
	TimeZone *time.Location // for groups without a yardstick.dev/timezone annotation; UTC by default
}

// Rule says who hears about what, and when. A notification is sent on every
// channel of every rule that matches it (each delivery once).
type Rule struct {
	Name       string
	Pos        string   // file:line of the rule
	Triggers   []string // which triggers
	Groups     []yardstick.EntityRef
	Scorecards []string // empty: every scorecard
	Campaigns  []string // empty: every campaign
	// Channels: "slack" and "email" (the group's route from the catalog),
	// "webhook:NAME" (a configured webhook).
	Channels    []string
	QuietHours  *QuietHours
	LeadTimes   []time.Duration // deadline_near, longest first
	Digest      DigestTime      // digest and tribe_digest
	FailingRuns int             // collector_failing
}

// QuietHours is a daily span of local time in which nothing is sent; what
// falls due then is sent when it ends. End before Start spans midnight.
type QuietHours struct {
	Start, End time.Duration // since local midnight
}

// Contains reports whether the local time of t falls within the quiet hours.
func (q *QuietHours) Contains(t time.Time) bool {
	if q == nil || q.Start == q.End {
		return false
	}
	d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	if q.Start < q.End {
		return d >= q.Start && d < q.End
	}
	return d >= q.Start || d < q.End
}

// Length is how long the quiet hours last.
func (q *QuietHours) Length() time.Duration {
	if q == nil {
		return 0
	}
	if q.End >= q.Start {
		return q.End - q.Start
	}
	return 24*time.Hour - q.Start + q.End
}

// DigestTime is when in the week, in the group's local time, digests go out.
type DigestTime struct {
	Day    time.Weekday
	Hour   int
	Minute int
}

// matches reports whether the rule covers a notification for group (a
// descendant of one of the rule's groups counts) about the scorecard or
// campaign.
func (r *Rule) matches(n Notification, ancestors func(yardstick.EntityRef) []yardstick.EntityRef) bool {
	if !slices.Contains(r.Triggers, n.Trigger) {
		return false
	}
	if n.Scorecard != "" && len(r.Scorecards) > 0 && !slices.Contains(r.Scorecards, n.Scorecard) {
		return false
	}
	if n.Campaign != "" && len(r.Campaigns) > 0 && !slices.Contains(r.Campaigns, n.Campaign) {
		return false
	}
	if len(r.Groups) == 0 {
		return true
	}
	for _, g := range ancestors(n.Group) {
		if slices.Contains(r.Groups, g) {
			return true
		}
	}
	return false
}

// LoadRules reads the Notifications documents of every .yaml and .yml file
// under dir (other documents are scorecards and campaigns, left to the rule
// loader). Every problem is reported with its file and line, all at once.
// A directory without Notifications documents gives no rules and no error.
func LoadRules(fsys fs.FS, dir string) (*Rules, error) {
	names, err := checks.RuleFiles(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read notification rules %s: %w", dir, err)
	}
	out := &Rules{TimeZone: time.UTC}
	var errs []error
	zoneSet := ""
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read notification rules %s: %w", name, err))
			continue
		}
		err = checks.EachDocument(data, func(root *yaml.Node) {
			if root.Kind != yaml.MappingNode {
				return
			}
			if kind := value(root, "kind"); kind == nil || kind.Value != KindNotifications {
				return
			}
			p := &ruleParser{file: name}
			rules, zone := p.document(root)
			errs = append(errs, p.errs...)
			if zone != nil {
				if zoneSet != "" {
					errs = append(errs, fmt.Errorf("%s:%d: time_zone already set at %s", name, value(root, "time_zone").Line, zoneSet))
				}
				zoneSet = fmt.Sprintf("%s:%d", name, value(root, "time_zone").Line)
				out.TimeZone = zone
			}
			out.Rules = append(out.Rules, rules...)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	seen := map[string]string{}
	for _, r := range out.Rules {
		if first, dup := seen[r.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: rule name %q already used at %s", r.Pos, r.Name, first))
		}
		seen[r.Name] = r.Pos
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

type ruleParser struct {
	file string
	errs []error
}

func (p *ruleParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s", p.file, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

// keys checks a mapping's keys against the allowed ones.
func (p *ruleParser) keys(n *yaml.Node, what string, allowed ...string) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping", what)
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(allowed, n.Content[i].Value) {
			p.errorf(n.Content[i], "%s: unknown key %q (want one of %s)", what, n.Content[i].Value, strings.Join(allowed, ", "))
		}
	}
	return true
}

func (p *ruleParser) strings(n *yaml.Node, what string) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			p.errorf(c, "%s: want a string", what)
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

func (p *ruleParser) document(root *yaml.Node) ([]Rule, *time.Location) {
	if !p.keys(root, "notifications document", "kind", "time_zone", "rules") {
		return nil, nil
	}
	var zone *time.Location
	if z := value(root, "time_zone"); z != nil {
		loc, err := time.LoadLocation(z.Value)
		if err != nil {
			p.errorf(z, "time_zone %q: %v", z.Value, err)
		} else {
			zone = loc
		}
	}
	rn := value(root, "rules")
	if rn == nil || rn.Kind != yaml.SequenceNode {
		p.errorf(root, "notifications document: want a list under rules")
		return nil, zone
	}
	var out []Rule
	for _, n := range rn.Content {
		if r, ok := p.rule(n); ok {
			out = append(out, r)
		}
	}
	return out, zone
}

func (p *ruleParser) rule(n *yaml.Node) (Rule, bool) {
	before := len(p.errs)
	if !p.keys(n, "rule", "name", "triggers", "groups", "scorecards", "campaigns", "channels", "quiet_hours", "lead_times", "digest", "failing_runs") {
		return Rule{}, false
	}
	r := Rule{Pos: fmt.Sprintf("%s:%d", p.file, n.Line), LeadTimes: DefaultLeadTimes, Digest: DefaultDigest, FailingRuns: DefaultFailingRuns}
	if v := value(n, "name"); v != nil && v.Value != "" {
		r.Name = v.Value
	} else {
		p.errorf(n, "rule: missing name")
	}
	r.Triggers = p.strings(value(n, "triggers"), "triggers")
	if len(r.Triggers) == 0 {
		p.errorf(n, "rule %q: missing triggers (any of %s)", r.Name, strings.Join(Triggers, ", "))
	}
	for i, t := range r.Triggers {
		if !slices.Contains(Triggers, t) {
			p.errorf(value(n, "triggers").Content[min(i, len(value(n, "triggers").Content)-1)], "rule %q: unknown trigger %q (want one of %s)", r.Name, t, strings.Join(Triggers, ", "))
		}
	}
	for _, g := range p.strings(value(n, "groups"), "groups") {
		ref, err := yardstick.ParseEntityRef(g, "group")
		if err != nil {
			p.errorf(value(n, "groups"), "rule %q: group %q: %v", r.Name, g, err)
			continue
		}
		r.Groups = append(r.Groups, ref)
	}
	r.Scorecards = p.strings(value(n, "scorecards"), "scorecards")
	r.Campaigns = p.strings(value(n, "campaigns"), "campaigns")
	r.Channels = p.strings(value(n, "channels"), "channels")
	if len(r.Channels) == 0 {
		p.errorf(n, "rule %q: missing channels (slack, email or webhook:NAME)", r.Name)
	}
	for _, c := range r.Channels {
		if c != ChannelSlack && c != ChannelEmail && !(strings.HasPrefix(c, ChannelWebhook+":") && len(c) > len(ChannelWebhook)+1) {
			p.errorf(value(n, "channels"), "rule %q: unknown channel %q (want slack, email or webhook:NAME)", r.Name, c)
		}
	}
	if q := value(n, "quiet_hours"); q != nil && p.keys(q, "quiet_hours", "start", "end") {
		start, end := p.clock(value(q, "start"), q, "quiet_hours.start"), p.clock(value(q, "end"), q, "quiet_hours.end")
		r.QuietHours = &QuietHours{Start: start, End: end}
	}
	if lt := value(n, "lead_times"); lt != nil {
		r.LeadTimes = nil
		for _, s := range p.strings(lt, "lead_times") {
			d, err := parseDays(s)
			if err != nil {
				p.errorf(lt, "rule %q: lead time %q: %v", r.Name, s, err)
				continue
			}
			r.LeadTimes = append(r.LeadTimes, d)
		}
		slices.SortFunc(r.LeadTimes, func(a, b time.Duration) int { return int((b - a) / time.Second) })
	}
	if d := value(n, "digest"); d != nil && p.keys(d, "digest", "day", "time") {
		if day := value(d, "day"); day != nil {
			wd, ok := weekdays[strings.ToLower(day.Value)]
			if !ok {
				p.errorf(day, "rule %q: digest day %q (want monday … sunday)", r.Name, day.Value)
			}
			r.Digest.Day = wd
		}
		if value(d, "time") != nil {
			c := p.clock(value(d, "time"), d, "digest.time")
			r.Digest.Hour, r.Digest.Minute = int(c/time.Hour), int(c%time.Hour/time.Minute)
		}
	}
	if f := value(n, "failing_runs"); f != nil {
		v, err := strconv.Atoi(f.Value)
		if err != nil || v < 1 {
			p.errorf(f, "rule %q: failing_runs %q: want a whole number of at least 1", r.Name, f.Value)
		}
		r.FailingRuns = v
	}
	return r, len(p.errs) == before
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// clock parses "HH:MM".
func (p *ruleParser) clock(n, parent *yaml.Node, what string) time.Duration {
	if n == nil {
		p.errorf(parent, "%s: missing (want HH:MM)", what)
		return 0
	}
	t, err := time.Parse("15:04", n.Value)
	if err != nil {
		p.errorf(n, "%s %q: want HH:MM", what, n.Value)
		return 0
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

// parseDays parses "14d", "36h" or any Go duration.
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("want a number of days like 14d, or a duration like 36h")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want a number of days like 14d, or a duration like 36h")
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
