package notify

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// ChangeReader reads the change points of scoring history.
type ChangeReader interface {
	LevelChanges(ctx context.Context, since, until time.Time) ([]yardstick.LevelChange, error)
	CheckTransitions(ctx context.Context, since, until time.Time) ([]yardstick.CheckTransition, error)
}

// CampaignReader reads where entities stand in a campaign and its burndown.
type CampaignReader interface {
	CampaignStatuses(ctx context.Context, campaign string) ([]yardstick.CampaignStatus, error)
	CampaignHistory(ctx context.Context, campaign string) ([]yardstick.CampaignRun, error)
}

// DigestReader reads what a weekly digest summarises.
type DigestReader interface {
	ScoreSummaries(ctx context.Context, asOf time.Time) ([]yardstick.ScoreSummary, error)
	CheckChanges(ctx context.Context, since, until time.Time) ([]yardstick.CheckChange, error)
}

// MetricReader computes DORA and flow metrics for groups.
type MetricReader interface {
	Metrics(ctx context.Context, q yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error)
}

// CollectorLog reads collector run outcomes.
type CollectorLog interface {
	CollectorRuns(ctx context.Context, since time.Time) ([]yardstick.CollectorRun, error)
}

// CatalogReader reads the catalog.
type CatalogReader interface {
	Entities(ctx context.Context) ([]yardstick.Entity, error)
}

// DigestMetrics are the metrics a digest compares week over week.
var DigestMetrics = []string{"deploys_per_week", "lead_time_p50_hours", "change_failure_rate", "time_to_restore_p50_hours", "pr_cycle_time_p50_hours"}

// candidate is a notification with what rules need to decide whether it is theirs.
type candidate struct {
	Notification
	lead     time.Duration // deadline_near: the lead time reached
	deadline time.Time
	streak   int        // collector_failing: failed runs in a row
	digest   DigestTime // digest: the digest time it was made for
	// render builds the message's body when it is needed (digests read a lot).
	render func(ctx context.Context) (Message, error)
}

// evaluation is what one evaluation reads, shared by the triggers.
type evaluation struct {
	n        *Notifier
	now      time.Time
	rules    *Rules
	ruleSet  *checks.RuleSet
	entities []yardstick.Entity
	byRef    map[yardstick.EntityRef]yardstick.Entity
	router   *router
	org      *yardstick.Organisation
	statuses map[string][]yardstick.CampaignStatus
}

// campaignStatuses reads a campaign's statuses once per evaluation.
func (ev *evaluation) campaignStatuses(ctx context.Context, id string) ([]yardstick.CampaignStatus, error) {
	if st, ok := ev.statuses[id]; ok {
		return st, nil
	}
	st, err := ev.n.src.Campaigns.CampaignStatuses(ctx, id)
	if err != nil {
		return nil, err
	}
	if ev.statuses == nil {
		ev.statuses = map[string][]yardstick.CampaignStatus{}
	}
	ev.statuses[id] = st
	return st, nil
}

func (ev *evaluation) wants(trigger string) bool {
	for _, r := range ev.rules.Rules {
		if slices.Contains(r.Triggers, trigger) {
			return true
		}
	}
	return false
}

func (ev *evaluation) link(path string) string {
	if ev.n.cfg.BaseURL == "" {
		return ""
	}
	return strings.TrimSuffix(ev.n.cfg.BaseURL, "/") + path
}

func entityPath(ref yardstick.EntityRef) string {
	return "/entities/" + ref.Kind() + "/" + ref.Namespace() + "/" + ref.Name()
}

func squadPath(ref yardstick.EntityRef) string {
	return "/squads/" + ref.Namespace() + "/" + ref.Name()
}

func (ev *evaluation) scorecard(id string) *checks.Scorecard {
	for _, sc := range ev.ruleSet.Scorecards {
		if sc.ID == id {
			return sc
		}
	}
	return nil
}

func (ev *evaluation) scorecardTitle(id string) string {
	if sc := ev.scorecard(id); sc != nil && sc.Title != "" {
		return sc.Title
	}
	return id
}

func (ev *evaluation) entityTitle(ref yardstick.EntityRef) string {
	if e, ok := ev.byRef[ref]; ok && e.Title != "" {
		return e.Title
	}
	return ref.Name()
}

func levelName(l string) string {
	if l == "" {
		return "no level"
	}
	return l
}

// owner is the entity's owner in the catalog now, else the one scoring saw.
// A user who owns a component is reached through their first group.
func (ev *evaluation) owner(entity, seen yardstick.EntityRef) yardstick.EntityRef {
	owner := seen
	if e, ok := ev.byRef[entity]; ok && e.Owner != "" {
		owner = e.Owner
	}
	if owner.Kind() == "user" {
		for _, g := range ev.org.Groups() {
			if slices.Contains(ev.org.Members(g), owner) {
				return g
			}
		}
	}
	return owner
}

func (ev *evaluation) add(out *[]candidate, c candidate) {
	c.ID = newID(c.Trigger, c.Subject, c.Group, c.Period)
	*out = append(*out, c)
}

// levelChanges turns level changes in the lookback into level_drop and level_rise.
func (ev *evaluation) levelChanges(ctx context.Context, out *[]candidate) error {
	if !ev.wants(TriggerLevelDrop) && !ev.wants(TriggerLevelRise) {
		return nil
	}
	changes, err := ev.n.src.Changes.LevelChanges(ctx, ev.now.Add(-ev.n.cfg.Lookback), ev.now)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if _, ok := ev.byRef[c.Entity]; !ok {
			continue // left the catalog
		}
		trigger, verb := TriggerLevelRise, "rose"
		if c.Dropped() {
			trigger, verb = TriggerLevelDrop, "dropped"
		}
		title := fmt.Sprintf("%s %s from %s to %s on %s", ev.entityTitle(c.Entity), verb, levelName(c.From), levelName(c.To), ev.scorecardTitle(c.Scorecard))
		msg := Message{Title: title, Link: ev.link(entityPath(c.Entity))}
		if c.Dropped() {
			msg.Summary = "Checks of the lost level now fail. The component page lists them with their remediation."
		}
		ev.add(out, candidate{Notification: Notification{Trigger: trigger, Subject: string(c.Entity), Group: ev.owner(c.Entity, c.Owner),
			Period: fmt.Sprintf("%s|%s|%s>%s", c.Scorecard, c.At.UTC().Format(time.RFC3339), c.From, c.To), At: c.At, Scorecard: c.Scorecard, Message: msg}})
	}
	return nil
}

// checkTransitions turns checks that started failing into check_failing.
func (ev *evaluation) checkTransitions(ctx context.Context, out *[]candidate) error {
	if !ev.wants(TriggerCheckFailing) {
		return nil
	}
	ts, err := ev.n.src.Changes.CheckTransitions(ctx, ev.now.Add(-ev.n.cfg.Lookback), ev.now)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.To != yardstick.StateFail || t.From != yardstick.StatePass {
			continue
		}
		if _, ok := ev.byRef[t.Entity]; !ok {
			continue
		}
		checkTitle, remediation, more := t.CheckID, "", ""
		if sc := ev.scorecard(t.Scorecard); sc != nil {
			for _, ck := range sc.Checks {
				if ck.ID == t.CheckID {
					checkTitle, remediation, more = cmp.Or(ck.Title, ck.ID), ck.Remediation, ck.Link
				}
			}
		}
		msg := Message{
			Title: fmt.Sprintf("%s now fails %q on %s", ev.entityTitle(t.Entity), checkTitle, ev.scorecardTitle(t.Scorecard)),
			Link:  ev.link(entityPath(t.Entity)),
		}
		sec := Section{Heading: "What the check saw"}
		if t.Value != "" {
			sec.Lines = append(sec.Lines, Line{Text: t.Value})
		}
		if remediation != "" {
			sec.Lines = append(sec.Lines, Line{Text: "How to fix: " + remediation, Link: more})
		}
		if len(sec.Lines) > 0 {
			msg.Sections = []Section{sec}
		}
		ev.add(out, candidate{Notification: Notification{Trigger: TriggerCheckFailing, Subject: string(t.Entity), Group: ev.owner(t.Entity, t.Owner),
			Period: fmt.Sprintf("%s/%s|%s", t.Scorecard, t.CheckID, t.At.UTC().Format(time.RFC3339)), At: t.At, Scorecard: t.Scorecard, Message: msg}})
	}
	return nil
}

// leadTimes is every lead time of the rules that want deadline_near, longest first.
func (ev *evaluation) leadTimes() []time.Duration {
	var out []time.Duration
	for _, r := range ev.rules.Rules {
		if slices.Contains(r.Triggers, TriggerDeadlineNear) {
			for _, l := range r.LeadTimes {
				if !slices.Contains(out, l) {
					out = append(out, l)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return out
}

// campaigns gives deadline_near, deadline_passed and campaign_at_risk.
func (ev *evaluation) campaigns(ctx context.Context, out *[]candidate) error {
	near, passed, risk := ev.wants(TriggerDeadlineNear), ev.wants(TriggerDeadlinePassed), ev.wants(TriggerCampaignAtRisk)
	if !near && !passed && !risk {
		return nil
	}
	leads := ev.leadTimes()
	for _, c := range ev.ruleSet.Campaigns {
		if c.Deadline.IsZero() || ev.now.Before(c.Start) {
			continue
		}
		statuses, err := ev.campaignStatuses(ctx, c.ID)
		if err != nil {
			return err
		}
		remaining := map[yardstick.EntityRef][]yardstick.EntityRef{} // squad → components
		var latest []yardstick.CampaignStatus
		for _, s := range statuses {
			if _, ok := ev.byRef[s.Entity]; !ok {
				continue
			}
			owner := ev.owner(s.Entity, s.Owner)
			latest = append(latest, s)
			if !s.Done {
				remaining[owner] = append(remaining[owner], s.Entity)
			}
		}
		title := cmp.Or(c.Title, c.ID)
		deadline := c.Deadline.UTC().Format("2006-01-02")
		squads := make([]yardstick.EntityRef, 0, len(remaining))
		for g := range remaining {
			squads = append(squads, g)
		}
		slices.Sort(squads)
		for _, g := range squads {
			comps := remaining[g]
			slices.Sort(comps)
			lines := make([]Line, len(comps))
			for i, e := range comps {
				lines[i] = Line{Text: ev.entityTitle(e) + " (" + string(e) + ")", Link: ev.link(entityPath(e))}
			}
			sec := []Section{{Heading: fmt.Sprintf("Remaining components of %s (%d)", ev.router.title(g), len(comps)), Lines: lines}}
			link := ev.link("/campaigns/" + c.ID)
			switch {
			case !ev.now.Before(c.Deadline):
				if passed {
					ev.add(out, candidate{Notification: Notification{Trigger: TriggerDeadlinePassed, Subject: "campaign:" + c.ID, Group: g, Period: deadline,
						At: c.Deadline, Campaign: c.ID, Message: Message{
							Title:   fmt.Sprintf("%s: the deadline of %s passed with %d components left", title, deadline, len(comps)),
							Summary: fmt.Sprintf("%s still has %d components to move.", ev.router.title(g), len(comps)), Sections: sec, Link: link}}})
				}
			case near:
				for _, l := range leads {
					if ev.now.Before(c.Deadline.Add(-l)) {
						continue
					}
					days := int(math.Ceil(c.Deadline.Sub(ev.now).Hours() / 24))
					ev.add(out, candidate{lead: l, deadline: c.Deadline, Notification: Notification{Trigger: TriggerDeadlineNear, Subject: "campaign:" + c.ID, Group: g,
						Period: deadline + "|" + l.String(), At: c.Deadline.Add(-l), Campaign: c.ID, Message: Message{
							Title:   fmt.Sprintf("%s: deadline %s is in %d days, %d components left", title, deadline, days, len(comps)),
							Summary: fmt.Sprintf("%s has %d components that are not done yet.", ev.router.title(g), len(comps)), Sections: sec, Link: link}}})
				}
			}
		}
		if risk {
			history, err := ev.n.src.Campaigns.CampaignHistory(ctx, c.ID)
			if err != nil {
				return err
			}
			w := yardstick.CampaignWindow{Start: c.Start, Deadline: c.Deadline}
			p := yardstick.ComputeCampaignProgress(c.ID, w, ev.org, yardstick.OrgRef, latest, history, ev.now)
			if turned, ok := turnedAtRisk(w, p.Burndown); ok && p.Health == yardstick.CampaignAtRisk {
				proj := "no downward trend"
				if !p.Projected.IsZero() {
					proj = "projected to finish " + p.Projected.UTC().Format("2006-01-02")
				}
				ev.add(out, candidate{Notification: Notification{Trigger: TriggerCampaignAtRisk, Subject: "campaign:" + c.ID, Group: c.Owner,
					Period: turned.UTC().Format(time.RFC3339), At: turned, Campaign: c.ID, Message: Message{
						Title:   fmt.Sprintf("%s is at risk: %s, deadline %s", title, proj, deadline),
						Summary: fmt.Sprintf("%d of %d components are done.", p.Done, p.Applicable), Link: ev.link("/campaigns/" + c.ID)}}})
			}
		}
	}
	return nil
}

// turnedAtRisk returns the time of the last burndown point at which the
// campaign went from not at risk to at risk (the first point counts when it
// is at risk).
func turnedAtRisk(c yardstick.CampaignWindow, pts []yardstick.BurndownPoint) (time.Time, bool) {
	var turned time.Time
	was := false
	for i, pt := range pts {
		proj := yardstick.ProjectBurndown(pts[:i+1])
		at := pt.Remaining() > 0 && !pt.At.Before(c.Start) && pt.At.Before(c.Deadline) && (proj.IsZero() || proj.After(c.Deadline))
		if at && !was {
			turned = pt.At
		}
		was = at
	}
	return turned, was
}

// collectors gives collector_failing for collectors whose latest runs failed.
func (ev *evaluation) collectors(ctx context.Context, out *[]candidate) error {
	if !ev.wants(TriggerCollectorFailing) {
		return nil
	}
	runs, err := ev.n.src.Collectors.CollectorRuns(ctx, ev.now.Add(-30*24*time.Hour))
	if err != nil {
		return err
	}
	by := map[string][]yardstick.CollectorRun{}
	var names []string
	for _, r := range runs {
		if _, ok := by[r.Collector]; !ok {
			names = append(names, r.Collector)
		}
		by[r.Collector] = append(by[r.Collector], r)
	}
	for _, name := range names {
		rs := by[name]
		streak := 0
		for i := len(rs) - 1; i >= 0 && rs[i].Err != ""; i-- {
			streak++
		}
		if streak == 0 {
			continue
		}
		first, last := rs[len(rs)-streak], rs[len(rs)-1]
		ev.add(out, candidate{streak: streak, Notification: Notification{Trigger: TriggerCollectorFailing, Subject: "collector:" + name,
			Period: first.At.UTC().Format(time.RFC3339), At: last.At, Message: Message{
				Title:    fmt.Sprintf("Collector %s failed its last %d runs", name, streak),
				Summary:  "Data from this source is getting stale; scores and metrics that use it may be wrong.",
				Sections: []Section{{Heading: "Last error", Lines: []Line{{Text: last.Err}}}}}}})
	}
	return nil
}

// digestDue returns when this week's digest of a group was due in its time
// zone, and whether that time has come.
func digestDue(now time.Time, loc *time.Location, d DigestTime) (time.Time, bool) {
	local := now.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), d.Hour, d.Minute, 0, 0, loc)
	due := day.AddDate(0, 0, -((int(local.Weekday()) - int(d.Day) + 7) % 7))
	return due, !now.Before(due)
}

// digests gives the weekly digests of squads and tribes for each rule that wants them.
func (ev *evaluation) digests(ctx context.Context, out *[]candidate) error {
	squad, tribe := ev.wants(TriggerDigest), ev.wants(TriggerTribeDigest)
	if !squad && !tribe {
		return nil
	}
	owns := map[yardstick.EntityRef]bool{}
	hasChildGroup := map[yardstick.EntityRef]bool{}
	for _, g := range ev.org.Groups() {
		owns[g] = slices.ContainsFunc(ev.org.Owned(g), func(r yardstick.EntityRef) bool { return r.Kind() == "component" })
		hasChildGroup[g] = len(ev.org.Children(g)) > 0
	}
	type want struct {
		group   yardstick.EntityRef
		trigger string
		due     time.Time
		d       DigestTime
	}
	var wants []want
	seen := map[string]bool{}
	for _, r := range ev.rules.Rules {
		for _, trig := range []string{TriggerDigest, TriggerTribeDigest} {
			if !slices.Contains(r.Triggers, trig) {
				continue
			}
			for g := range ev.router.groups {
				if trig == TriggerDigest && !owns[g] || trig == TriggerTribeDigest && !hasChildGroup[g] {
					continue
				}
				due, ok := digestDue(ev.now, ev.router.location(g), r.Digest)
				key := string(g) + trig + due.String()
				if !ok || seen[key] {
					continue
				}
				seen[key] = true
				wants = append(wants, want{g, trig, due, r.Digest})
			}
		}
	}
	if len(wants) == 0 {
		return nil
	}
	slices.SortFunc(wants, func(a, b want) int { return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.trigger, b.trigger)) })
	d := newDigester(ev)
	for _, w := range wants {
		year, week := w.due.ISOWeek()
		tribe := w.trigger == TriggerTribeDigest
		ev.add(out, candidate{digest: w.d, Notification: Notification{Trigger: w.trigger, Subject: string(w.group), Group: w.group,
			Period: fmt.Sprintf("%04d-W%02d", year, week), At: w.due, Message: Message{Title: d.title(w.group, tribe, w.due), Link: ev.link(squadPath(w.group))}},
			render: func(ctx context.Context) (Message, error) { return d.message(ctx, w.group, tribe, w.due) }})
	}
	return nil
}
