package notify

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// digester builds weekly digests, reading each store view once per
// evaluation. Safe for concurrent use (sends render digests in parallel).
type digester struct {
	mu      sync.Mutex
	ev      *evaluation
	loaded  bool
	now     map[string]yardstick.ScoreSummary // scorecard|entity
	before  map[string]yardstick.ScoreSummary
	changes []yardstick.CheckChange
	metrics map[time.Time]map[yardstick.EntityRef]yardstick.MetricReport // by window end
}

func newDigester(ev *evaluation) *digester {
	return &digester{ev: ev, metrics: map[time.Time]map[yardstick.EntityRef]yardstick.MetricReport{}}
}

func (d *digester) load(ctx context.Context, due time.Time) error {
	if d.loaded {
		return nil
	}
	src := d.ev.n.src.Digests
	index := func(ss []yardstick.ScoreSummary) map[string]yardstick.ScoreSummary {
		m := make(map[string]yardstick.ScoreSummary, len(ss))
		for _, s := range ss {
			m[s.Scorecard+"|"+string(s.Entity)] = s
		}
		return m
	}
	now, err := src.ScoreSummaries(ctx, due)
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	before, err := src.ScoreSummaries(ctx, due.AddDate(0, 0, -7))
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	d.now, d.before = index(now), index(before)
	if d.changes, err = src.CheckChanges(ctx, due.AddDate(0, 0, -7), due); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	d.loaded = true
	return nil
}

// weekMetrics returns the digest metrics of every group over the week ending at end.
func (d *digester) weekMetrics(ctx context.Context, end time.Time) (map[yardstick.EntityRef]yardstick.MetricReport, error) {
	end = end.UTC().Truncate(time.Hour)
	if m, ok := d.metrics[end]; ok {
		return m, nil
	}
	if d.ev.n.src.Metrics == nil {
		return nil, nil
	}
	var groups []yardstick.EntityRef
	for g := range d.ev.router.groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	m, err := d.ev.n.src.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: DigestMetrics, Subjects: groups, Window: yardstick.Window{From: end.AddDate(0, 0, -7), To: end}})
	if err != nil {
		return nil, fmt.Errorf("digest metrics: %w", err)
	}
	d.metrics[end] = m
	return m, nil
}

// within returns the groups at or below g.
func (d *digester) within(g yardstick.EntityRef) map[yardstick.EntityRef]bool {
	in := map[yardstick.EntityRef]bool{}
	for _, x := range d.ev.org.Descendants(g) {
		in[x] = true
	}
	return in
}

// title is the digest's title, known without reading anything.
func (d *digester) title(g yardstick.EntityRef, tribe bool, due time.Time) string {
	kind := "squad"
	if tribe {
		kind = "tribe"
	}
	year, week := due.ISOWeek()
	return fmt.Sprintf("Weekly digest of %s (%s), week %d-W%02d", d.ev.router.title(g), kind, year, week)
}

// message is the digest of group for the week ending at due.
func (d *digester) message(ctx context.Context, g yardstick.EntityRef, tribe bool, due time.Time) (Message, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.load(ctx, due); err != nil {
		return Message{}, err
	}
	ev := d.ev
	in := map[yardstick.EntityRef]bool{g: true}
	if tribe {
		in = d.within(g)
	}
	mine := func(entity yardstick.EntityRef) bool {
		e, ok := ev.byRef[entity]
		return ok && in[e.Owner]
	}
	msg := Message{Title: d.title(g, tribe, due), Link: ev.link(squadPath(g))}

	// Scorecards: levels now, and what moved since last week.
	type tally struct {
		levels      map[string]int
		order       []string
		drops, rise []string
	}
	cards := map[string]*tally{}
	var keys []string
	for k, s := range d.now {
		if !mine(s.Entity) {
			continue
		}
		t := cards[s.Scorecard]
		if t == nil {
			t = &tally{levels: map[string]int{}}
			cards[s.Scorecard] = t
		}
		l := levelName(s.Level)
		if t.levels[l] == 0 {
			t.order = append(t.order, l)
		}
		t.levels[l]++
		if b, ok := d.before[k]; ok && b.LevelRank != s.LevelRank {
			line := fmt.Sprintf("%s %s → %s", ev.entityTitle(s.Entity), levelName(b.Level), l)
			if s.LevelRank < b.LevelRank {
				t.drops = append(t.drops, line)
			} else {
				t.rise = append(t.rise, line)
			}
		}
		keys = append(keys, s.Scorecard)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var sc Section
	sc.Heading = "Scorecards"
	for _, id := range keys {
		t := cards[id]
		slices.Sort(t.order)
		parts := make([]string, len(t.order))
		for i, l := range t.order {
			parts[i] = fmt.Sprintf("%s %d", l, t.levels[l])
		}
		sc.Lines = append(sc.Lines, Line{Text: fmt.Sprintf("%s: %s; %d dropped, %d rose this week", ev.scorecardTitle(id), strings.Join(parts, ", "), len(t.drops), len(t.rise))})
		slices.Sort(t.drops)
		for _, l := range t.drops {
			sc.Lines = append(sc.Lines, Line{Text: "dropped: " + l})
		}
	}
	if len(sc.Lines) == 0 {
		sc.Lines = []Line{{Text: "No scored components."}}
	}
	msg.Sections = append(msg.Sections, sc)

	// Checks that changed this week.
	var failing []string
	passing := 0
	for _, c := range d.changes {
		if !mine(c.Entity) {
			continue
		}
		if c.NewlyFailing() {
			failing = append(failing, fmt.Sprintf("%s: %s / %s", ev.entityTitle(c.Entity), ev.scorecardTitle(c.Scorecard), c.CheckID))
		} else if c.NewlyPassing() {
			passing++
		}
	}
	cs := Section{Heading: fmt.Sprintf("Checks: %d newly failing, %d newly passing", len(failing), passing)}
	slices.Sort(failing)
	for i, f := range failing {
		if i == 10 {
			cs.Lines = append(cs.Lines, Line{Text: fmt.Sprintf("and %d more", len(failing)-10)})
			break
		}
		cs.Lines = append(cs.Lines, Line{Text: f})
	}
	msg.Sections = append(msg.Sections, cs)

	// DORA and flow, week over week.
	cur, err := d.weekMetrics(ctx, due)
	if err != nil {
		return Message{}, err
	}
	prev, err := d.weekMetrics(ctx, due.AddDate(0, 0, -7))
	if err != nil {
		return Message{}, err
	}
	if cur != nil {
		ms := Section{Heading: "DORA and flow (last 7 days, change from the week before)"}
		for _, name := range DigestMetrics {
			v, ok := cur[g].Values[name]
			if !ok {
				continue
			}
			line := fmt.Sprintf("%s: %s", name, num(v.Value))
			if p, ok := prev[g].Values[name]; ok {
				line += fmt.Sprintf(" (%s%s)", sign(v.Value-p.Value), num(abs(v.Value-p.Value)))
			}
			ms.Lines = append(ms.Lines, Line{Text: line})
		}
		if len(ms.Lines) == 0 {
			ms.Lines = []Line{{Text: "No deployments, changes or incidents measured."}}
		}
		msg.Sections = append(msg.Sections, ms)
	}

	// Campaigns: the group's share.
	camp := Section{Heading: "Campaigns"}
	for _, c := range ev.ruleSet.Campaigns {
		st, err := ev.campaignStatuses(ctx, c.ID)
		if err != nil {
			return Message{}, err
		}
		done, total := 0, 0
		for _, s := range st {
			if !mine(s.Entity) {
				continue
			}
			total++
			if s.Done {
				done++
			}
		}
		if total == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %d of %d done", cmp.Or(c.Title, c.ID), done, total)
		if !c.Deadline.IsZero() {
			line += ", deadline " + c.Deadline.UTC().Format("2006-01-02")
		}
		camp.Lines = append(camp.Lines, Line{Text: line, Link: ev.link("/campaigns/" + c.ID)})
	}
	if len(camp.Lines) > 0 {
		msg.Sections = append(msg.Sections, camp)
	}
	return msg, nil
}

func num(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

func sign(v float64) string {
	if v < 0 {
		return "-"
	}
	return "+"
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
