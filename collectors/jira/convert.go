package jira

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	jira "github.com/andygrunwald/go-jira"

	"github.com/yardstick-dev/yardstick"
)

// SourceName is the source name of every Jira event and fact.
const SourceName = "jira"

// Status category keys as Jira reports them.
const (
	categoryDone = "done"
)

// statusIndex maps status ids, and lower-cased names as a fallback, to the key
// of their status category ("new", "indeterminate", "done").
type statusIndex map[string]string

func newStatusIndex(list []jira.Status) statusIndex {
	idx := make(statusIndex, 2*len(list))
	for _, s := range list {
		if s.StatusCategory.Key == "" {
			continue
		}
		idx["id:"+s.ID] = s.StatusCategory.Key
		idx["name:"+strings.ToLower(s.Name)] = s.StatusCategory.Key
	}
	return idx
}

// category returns the category key of a status given by id or name, "" if unknown.
func (idx statusIndex) category(id, name string) string {
	if c, ok := idx["id:"+id]; ok && id != "" {
		return c
	}
	return idx["name:"+strings.ToLower(name)]
}

// converter turns issues and their histories into events. Polling and webhooks
// both go through it, so an event has one identity whichever way it arrived.
type converter struct {
	storyPoints string
	statuses    statusIndex
}

// transition is one status change read from a changelog history.
type transition struct {
	historyID           string
	at                  time.Time
	actor               string
	from, to            string
	fromID, toID        string
	fromCategory, toCat string
}

// events converts one issue, seen in the given scopes, with the given
// histories (complete when polled, the one new history for a webhook).
// withCreated adds the ticket.created event, whose initial status is only
// right when histories is the complete changelog or the issue is new.
func (cv converter) events(is *apiIssue, histories []jira.ChangelogHistory, scopes []yardstick.Scope, withCreated bool) ([]yardstick.Event, error) {
	if is.ID == "" || is.Key == "" {
		return nil, fmt.Errorf("issue %q: no id or key", is.Key)
	}
	created := time.Time(is.Fields.Created).UTC()
	if created.IsZero() {
		return nil, fmt.Errorf("issue %s: no created time", is.Key)
	}
	trs, err := cv.transitions(is, histories)
	if err != nil {
		return nil, err
	}
	base := cv.attributes(is)
	var num map[string]float64
	if v, ok, err := is.Fields.number(cv.storyPoints); err != nil {
		return nil, fmt.Errorf("issue %s: %w", is.Key, err)
	} else if ok {
		num = map[string]float64{"story_points": v}
	}

	var out []yardstick.Event
	add := func(typ, id string, at time.Time, actor string, str map[string]string, extra map[string]float64) {
		n := num
		if len(extra) > 0 {
			n = make(map[string]float64, len(num)+len(extra))
			for k, v := range num {
				n[k] = v
			}
			for k, v := range extra {
				n[k] = v
			}
		}
		for _, sc := range scopes {
			out = append(out, yardstick.Event{
				Source: SourceName, Type: typ, Scope: sc, ID: id, Time: at.UTC(), Actor: actor,
				Num: n, Str: str,
			})
		}
	}

	if withCreated {
		str := clone(base)
		initial, initialCat := "", ""
		if len(trs) > 0 {
			initial, initialCat = trs[0].from, trs[0].fromCategory
		} else if s := is.Fields.Status; s != nil {
			initial, initialCat = s.Name, cmp.Or(s.StatusCategory.Key, cv.statuses.category(s.ID, s.Name))
		}
		str["status"], str["status_category"] = initial, initialCat
		add(yardstick.TicketCreated, is.ID, created, userID(cmp.Or(is.Fields.Creator, is.Fields.Reporter)), str, nil)
	}
	for _, t := range trs {
		id := is.ID + "/" + t.historyID
		str := clone(base)
		str["from"], str["to"] = t.from, t.to
		str["from_category"], str["to_category"] = t.fromCategory, t.toCat
		add(yardstick.TicketTransitioned, id, t.at, t.actor, str, nil)
		switch {
		case t.toCat == categoryDone && t.fromCategory != categoryDone:
			lead := math.Max(0, t.at.Sub(created).Seconds())
			add(yardstick.TicketResolved, id, t.at, t.actor, str, map[string]float64{"lead_time_seconds": lead})
		case t.fromCategory == categoryDone && t.toCat != categoryDone && t.toCat != "":
			add(yardstick.TicketReopened, id, t.at, t.actor, str, nil)
		}
	}
	return out, nil
}

// transitions reads the status changes out of histories, oldest first.
func (cv converter) transitions(is *apiIssue, histories []jira.ChangelogHistory) ([]transition, error) {
	var out []transition
	for _, h := range histories {
		for _, it := range h.Items {
			if it.Field != "status" {
				continue
			}
			at, err := h.CreatedTime()
			if err != nil {
				return nil, fmt.Errorf("issue %s history %s: created %q: %w", is.Key, h.Id, h.Created, err)
			}
			t := transition{
				historyID: h.Id, at: at.UTC(), actor: userID(&h.Author),
				from: it.FromString, to: it.ToString, fromID: idString(it.From), toID: idString(it.To),
			}
			t.fromCategory = cv.statuses.category(t.fromID, t.from)
			t.toCat = cv.statuses.category(t.toID, t.to)
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b transition) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(len(a.historyID), len(b.historyID)), strings.Compare(a.historyID, b.historyID))
	})
	// Categories the status list does not know follow from the neighbours: a
	// status is left the way it was entered, and the last one is the current one.
	for i := range out {
		if out[i].fromCategory == "" && i > 0 && out[i-1].to == out[i].from {
			out[i].fromCategory = out[i-1].toCat
		}
	}
	if n := len(out); n > 0 && out[n-1].toCat == "" {
		if s := is.Fields.Status; s != nil && strings.EqualFold(s.Name, out[n-1].to) {
			out[n-1].toCat = s.StatusCategory.Key
		}
	}
	return out, nil
}

// attributes are the string attributes every event of an issue carries.
func (cv converter) attributes(is *apiIssue) map[string]string {
	f := &is.Fields
	str := map[string]string{
		"key":        is.Key,
		"project":    is.projectKey(),
		"issue_type": f.Type.Name,
	}
	if f.Priority != nil {
		str["priority"] = f.Priority.Name
	}
	if len(f.Labels) > 0 {
		labels := slices.Clone(f.Labels)
		slices.Sort(labels)
		str["labels"] = strings.Join(labels, ",")
	}
	if len(f.Components) > 0 {
		var names []string
		for _, c := range f.Components {
			if c != nil {
				names = append(names, c.Name)
			}
		}
		slices.Sort(names)
		str["components"] = strings.Join(names, ",")
	}
	if f.Resolution != nil && f.Resolution.Name != "" {
		str["resolution"] = f.Resolution.Name
	}
	return str
}

// userID is the stable id of a Jira user: the account id on Cloud, the user key
// or name on Server. E-mail addresses are never used.
func userID(u *jira.User) string {
	if u == nil {
		return ""
	}
	return cmp.Or(u.AccountID, u.Key, u.Name)
}

// idString renders a changelog from/to value (a string id, or null).
func idString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	default:
		return fmt.Sprint(x)
	}
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+6)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// openBugs is the open_bugs fact of one scope.
type openBugs struct {
	Total      int            `json:"total"`
	ByPriority map[string]int `json:"by_priority"`
	OldestKey  string         `json:"oldest_key,omitempty"`
}

// bugFacts computes, for each scope, the open bugs by priority and the age in
// days of the oldest one (0 when there is none). Every scope gets both facts,
// so a scope whose last bug was closed reads zero rather than a stale count.
func bugFacts(scopes []yardstick.Scope, bugs map[yardstick.Scope][]*apiIssue, now time.Time) []yardstick.Fact {
	out := make([]yardstick.Fact, 0, 2*len(scopes))
	for _, sc := range scopes {
		ob := openBugs{ByPriority: map[string]int{}}
		var oldest time.Time
		for _, is := range bugs[sc] {
			ob.Total++
			prio := "None"
			if is.Fields.Priority != nil && is.Fields.Priority.Name != "" {
				prio = is.Fields.Priority.Name
			}
			ob.ByPriority[prio]++
			c := time.Time(is.Fields.Created)
			if !c.IsZero() && (oldest.IsZero() || c.Before(oldest)) {
				oldest, ob.OldestKey = c, is.Key
			}
		}
		age := 0.0
		if !oldest.IsZero() {
			age = math.Round(math.Max(0, now.Sub(oldest).Hours()/24)*10) / 10
		}
		out = append(out,
			yardstick.NewFact(SourceName, sc, "open_bugs", ob, now),
			yardstick.NewFact(SourceName, sc, "oldest_open_bug_age_days", age, now))
	}
	return out
}
