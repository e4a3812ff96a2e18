package pagerdutyfake

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"time"
)

// The fake's data model. JSON shapes are built from it in json.go.

type user struct {
	ID, Name, Email string
}

type policy struct {
	ID, Name string
	TeamID   string
	Levels   []level
	Services []string
}

type level struct {
	RuleID     string
	DelayMins  int
	User       *user
	ScheduleID string // "" when the level targets the user directly
	OnCall     bool   // someone is on call for this level now
}

type service struct {
	ID, Name string
	Status   string
	PolicyID string // "" for a service without an escalation policy
	TeamID   string
	// SupportHours: low urgency outside 09-17 Berlin time, as PagerDuty's example service.
	SupportHours bool
	CreatedAt    time.Time
}

type logEntry struct {
	ID, Type string
	At       time.Time
	Agent    ref
	Channel  string
}

// ref is an API reference: {id, type, summary}.
type ref struct {
	ID, Type, Summary string
}

type incident struct {
	ID           string
	Number       int
	ServiceID    string
	PolicyID     string
	TeamID       string
	Title        string
	Key          string
	Urgency      string
	Priority     string // "" for none
	Status       string // triggered, acknowledged, resolved
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Log          []logEntry // oldest first
	Acknowledger *user
}

var firstNames = []string{"Earline", "Tim", "Lee", "Jane", "Amir", "Sofia", "Kenji", "Ngozi", "Pavel", "Ines", "Ravi", "Mette"}
var lastNames = []string{"Greenholt", "Wright", "Turner", "Doe", "Haddad", "Rossi", "Sato", "Okafor", "Novak", "Lopes", "Iyer", "Lund"}
var titles = []string{
	"The server is on fire.", "Error rate above 5%", "p99 latency above SLO", "Disk 95% full",
	"Queue backlog growing", "Health check failing", "Certificate expires in 3 days", "5xx spike on checkout",
	"Replica lag above 60s", "Pod crash looping",
}
var priorities = []struct{ ID, Name string }{{"PPRIO01", "P1"}, {"PPRIO02", "P2"}, {"PPRIO03", "P3"}, {"PPRIO04", "P4"}, {"PPRIO05", "P5"}}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// ids hands out unique PagerDuty-looking ids ("P" + 6 characters).
type ids struct {
	rng  *rand.Rand
	used map[string]bool
}

func (g *ids) next(prefix string, n int) string {
	for {
		b := []byte(prefix)
		for range n {
			b = append(b, idChars[g.rng.IntN(len(idChars))])
		}
		if s := string(b); !g.used[s] {
			g.used[s] = true
			return s
		}
	}
}

func seedOf(seed int64, s string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, s)
	return h.Sum64()
}

// generate builds the deterministic organisation for cfg at base.
func (s *Server) generate(base time.Time) {
	g := &ids{rng: rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x5eed)), used: map[string]bool{}}
	for _, id := range s.cfg.ServiceIDs {
		g.used[id] = true
	}
	for i := range 12 {
		u := &user{ID: g.next("PU", 5), Name: firstNames[i] + " " + lastNames[(i*5)%len(lastNames)]}
		u.Email = fmt.Sprintf("%s.%s@example.com", firstNames[i], lastNames[(i*5)%len(lastNames)])
		s.users = append(s.users, u)
	}

	// Services come in teams of four sharing an escalation policy.
	for i, id := range s.cfg.ServiceIDs {
		rng := rand.New(rand.NewPCG(seedOf(s.cfg.Seed, id), 1))
		team := fmt.Sprintf("PTEAM%02d", i/4)
		svc := &service{ID: id, Name: fmt.Sprintf("Service %s", id), Status: "active", TeamID: team,
			CreatedAt: base.Add(-time.Duration(400+rng.IntN(400)) * 24 * time.Hour).Truncate(time.Second)}
		svc.SupportHours = rng.IntN(3) == 0
		switch p := rng.IntN(100); {
		case p < 4:
			svc.Status = "warning"
		case p < 8:
			svc.Status = "critical"
		case p < 11:
			svc.Status = "maintenance"
		case p < 15:
			svc.Status = "disabled"
		}
		if rng.IntN(15) != 0 {
			pid := "PEP" + team[5:] + "X"
			pol, ok := s.policies[pid]
			if !ok {
				pol = s.newPolicy(pid, team, rng)
				s.policies[pid] = pol
			}
			pol.Services = append(pol.Services, id)
			svc.PolicyID = pid
		}
		s.services[id] = svc
		s.order = append(s.order, id)
	}
	sort.Strings(s.order)

	for _, id := range s.order {
		svc := s.services[id]
		rng := rand.New(rand.NewPCG(seedOf(s.cfg.Seed, id), 2))
		n := rng.IntN(2*s.cfg.IncidentsPerService + 1)
		loc := time.UTC
		if l, err := time.LoadLocation(s.cfg.TimeZones[id]); err == nil && s.cfg.TimeZones[id] != "" {
			loc = l
		}
		for range n {
			// Two in three incidents page during the working day (09-17 in the
			// service's zone, Monday to Friday), the rest any time.
			age := time.Duration(rng.Int64N(int64(time.Duration(s.cfg.Days) * 24 * time.Hour)))
			at := base.Add(-age)
			if rng.IntN(3) < 2 {
				l := at.In(loc)
				day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
				for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
					day = day.AddDate(0, 0, -1)
				}
				at = day.Add(9*time.Hour + time.Duration(rng.Int64N(int64(8*time.Hour)))).UTC()
				if at.After(base) {
					at = base.Add(-time.Duration(1+rng.IntN(3600)) * time.Second)
				}
			}
			s.addIncident(g, rng, svc, at.Truncate(time.Second), base)
		}
	}
	s.renumber()
}

func (s *Server) newPolicy(id, team string, rng *rand.Rand) *policy {
	pol := &policy{ID: id, Name: "Escalation policy of team " + team[5:], TeamID: team}
	levels := 1 + rng.IntN(3)
	noOnCall := rng.IntN(8) == 0
	for l := range levels {
		lv := level{RuleID: fmt.Sprintf("PR%s%d", team[5:], l+1), DelayMins: 15 * (l + 1), User: s.users[rng.IntN(len(s.users))], OnCall: !noOnCall}
		if rng.IntN(2) == 0 {
			lv.ScheduleID = fmt.Sprintf("PSCH%s%d", team[5:], l+1)
		}
		pol.Levels = append(pol.Levels, lv)
	}
	return pol
}

// addIncident makes one incident with a plausible log. Incidents younger than
// six hours may still be open at base.
func (s *Server) addIncident(g *ids, rng *rand.Rand, svc *service, at, base time.Time) *incident {
	inc := &incident{
		ID: g.next("P", 6), ServiceID: svc.ID, PolicyID: svc.PolicyID, TeamID: svc.TeamID,
		Title: titles[rng.IntN(len(titles))], Key: fmt.Sprintf("%016x", rng.Uint64()),
		Urgency: "high", Status: "triggered", CreatedAt: at,
	}
	if rng.IntN(4) == 0 {
		inc.Urgency = "low"
	}
	if p := rng.IntN(len(priorities) + 2); p < len(priorities) {
		inc.Priority = priorities[p].ID
	}
	svcRef := ref{ID: svc.ID, Type: "service_reference", Summary: svc.Name}
	inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "trigger_log_entry", At: at, Agent: svcRef, Channel: "api"})
	responder := s.users[rng.IntN(len(s.users))]
	userRef := ref{ID: responder.ID, Type: "user_reference", Summary: responder.Name}
	t := at
	step := func(d time.Duration) bool {
		t = t.Add(d)
		return !t.After(base)
	}
	for range 1 + rng.IntN(3) {
		if !step(time.Duration(5+rng.IntN(60)) * time.Second) {
			break
		}
		inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "notify_log_entry", At: t, Agent: userRef, Channel: "sms"})
	}
	escalations := 0
	if rng.IntN(3) == 0 {
		escalations = 1 + rng.IntN(2)
	}
	for range escalations {
		if !step(time.Duration(5+rng.IntN(20)) * time.Minute) {
			break
		}
		inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "escalate_log_entry", At: t, Agent: svcRef, Channel: "timeout"})
	}
	acks := rng.IntN(5) != 0
	if acks && step(time.Duration(1+rng.IntN(30))*time.Minute) {
		inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "acknowledge_log_entry", At: t, Agent: userRef, Channel: "mobile"})
		inc.Status, inc.Acknowledger = "acknowledged", responder
		if rng.IntN(2) == 0 && step(time.Duration(1+rng.IntN(20))*time.Minute) {
			inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "annotate_log_entry", At: t, Agent: userRef, Channel: "web_trigger"})
		}
	}
	if step(time.Duration(10+rng.IntN(24*60)) * time.Minute) {
		agent := userRef
		if !acks {
			agent = svcRef // auto-resolved
		}
		inc.Log = append(inc.Log, logEntry{ID: g.next("R", 13), Type: "resolve_log_entry", At: t, Agent: agent, Channel: "api"})
		inc.Status = "resolved"
	}
	inc.UpdatedAt = inc.Log[len(inc.Log)-1].At
	s.incidents[inc.ID] = inc
	return inc
}

// renumber gives incidents account-wide numbers in creation order.
func (s *Server) renumber() {
	all := s.sortedIncidents()
	for i, inc := range all {
		inc.Number = i + 1
	}
	s.nextNumber = len(all) + 1
}

func (s *Server) sortedIncidents() []*incident {
	out := make([]*incident, 0, len(s.incidents))
	for _, inc := range s.incidents {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (inc *incident) escalations() int {
	n := 0
	for _, e := range inc.Log {
		if e.Type == "escalate_log_entry" {
			n++
		}
	}
	return n
}

func (inc *incident) first(typ string) (time.Time, bool) {
	for _, e := range inc.Log {
		if e.Type == typ {
			return e.At, true
		}
	}
	return time.Time{}, false
}

func (inc *incident) last(typ string) (time.Time, bool) {
	for i := len(inc.Log) - 1; i >= 0; i-- {
		if inc.Log[i].Type == typ {
			return inc.Log[i].At, true
		}
	}
	return time.Time{}, false
}
