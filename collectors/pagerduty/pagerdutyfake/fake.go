// Package pagerdutyfake is an in-process PagerDuty REST API v2 for tests, the
// demo and benchmarks. It serves a deterministic organisation built from a
// list of service ids: services in teams of four sharing an escalation policy,
// on-calls, and months of incidents with their log entries, in the JSON shapes
// of PagerDuty's own examples (offset/limit/more pagination, the six-month cap
// on since/until ranges, the 10000 offset cap, error bodies). It can answer
// 429 with Retry-After, fail with 500 once, or break one service for good,
// and it counts the requests it serves.
package pagerdutyfake

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
)

// Config describes the organisation to serve.
type Config struct {
	ServiceIDs []string         // PagerDuty service ids ("PABC123"); the catalog's pagerduty.com/service-id values
	Seed       int64            // same seed and clock, same organisation
	Now        func() time.Time // the fake's clock: Date headers, new incidents; default time.Now
	// Days of incident history before the clock at New; default 90.
	Days int
	// IncidentsPerService is the mean number of incidents per service; default 5.
	IncidentsPerService int
	// TimeZones maps service ids to the IANA zone of their owners: incidents
	// during the working day fall in 09-17 there. Default UTC.
	TimeZones map[string]string
	// Token, when set, must come as "Authorization: Token token=<Token>" (or Bearer).
	Token string
	// MaxWindow caps the since/until range of /incidents; default 180 days, as PagerDuty.
	MaxWindow time.Duration
	// MaxOffset caps offset+limit; default 10000, as PagerDuty.
	MaxOffset int
}

// Server is the fake API, an http.Handler. Safe for concurrent use.
type Server struct {
	cfg     Config
	handler http.Handler

	mu         sync.Mutex
	users      []*user
	services   map[string]*service
	order      []string // service ids, sorted
	policies   map[string]*policy
	incidents  map[string]*incident
	nextNumber int
	rng        *rand.Rand
	gen        *ids

	rateLimited int           // requests still to answer 429
	retryAfter  time.Duration // their Retry-After
	failing     int           // requests still to answer 500
	broken      map[string]int
	requests    int
	byRoute     map[string]int
}

// New builds the organisation and returns the server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Days <= 0 {
		cfg.Days = 90
	}
	if cfg.IncidentsPerService <= 0 {
		cfg.IncidentsPerService = 5
	}
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = 180 * 24 * time.Hour
	}
	if cfg.MaxOffset <= 0 {
		cfg.MaxOffset = 10000
	}
	s := &Server{
		cfg: cfg, services: map[string]*service{}, policies: map[string]*policy{}, incidents: map[string]*incident{},
		broken: map[string]int{}, byRoute: map[string]int{},
	}
	s.generate(cfg.Now().UTC().Truncate(time.Second))
	s.rng = rand.New(rand.NewPCG(uint64(cfg.Seed), 0xfeed))
	s.gen = &ids{rng: s.rng, used: map[string]bool{}}
	for id := range s.incidents {
		s.gen.used[id] = true
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /services", s.route("services", s.listServices))
	mux.HandleFunc("GET /services/{id}", s.route("service", s.getService))
	mux.HandleFunc("GET /escalation_policies", s.route("escalation_policies", s.listPolicies))
	mux.HandleFunc("GET /escalation_policies/{id}", s.route("escalation_policy", s.getPolicy))
	mux.HandleFunc("GET /oncalls", s.route("oncalls", s.listOnCalls))
	mux.HandleFunc("GET /incidents", s.route("incidents", s.listIncidents))
	mux.HandleFunc("GET /incidents/{id}", s.route("incident", s.getIncident))
	mux.HandleFunc("GET /incidents/{id}/log_entries", s.route("log_entries", s.listLogEntries))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.count("unknown")
		writeError(w, s.cfg.Now(), http.StatusNotFound, 2100, "Not Found")
	})
	s.handler = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Start serves on a free loopback port and returns the base URL and a stop function.
func (s *Server) Start() (baseURL string, stop func(), err error) {
	baseURL, stop, err = collectors.ServeLoopback(s)
	if err != nil {
		return "", nil, fmt.Errorf("pagerdutyfake: %w", err)
	}
	return baseURL, stop, nil
}

// RateLimit makes the next n requests answer 429 with Retry-After.
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited, s.retryAfter = n, retryAfter
}

// FailNext makes the next n requests answer 500.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = n
}

// Break makes every request about one service (its service, its incidents
// listing, its incidents and their logs) answer status until Break(id, 0).
func (s *Server) Break(serviceID string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.broken, serviceID)
		return
	}
	s.broken[serviceID] = status
}

// Requests returns how many requests were served, faults included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RequestsTo returns how many requests went to one route: services, service,
// escalation_policies, escalation_policy, oncalls, incidents, incident, log_entries.
func (s *Server) RequestsTo(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byRoute[route]
}

// ResetCounts zeroes the request counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.byRoute = 0, map[string]int{}
}

// Incident is what the fake knows of one incident, for tests to compare with.
type Incident struct {
	ID, ServiceID, Status, Urgency, Priority, Title string
	Number                                          int
	CreatedAt, UpdatedAt                            time.Time
	AcknowledgedAt, ResolvedAt                      time.Time // zero when it did not happen
	Escalations                                     int
}

// Incidents returns the incidents of a service (all services when serviceID
// is ""), oldest first.
func (s *Server) Incidents(serviceID string) []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Incident
	for _, inc := range s.sortedIncidents() {
		if serviceID != "" && inc.ServiceID != serviceID {
			continue
		}
		out = append(out, s.export(inc))
	}
	return out
}

func (s *Server) export(inc *incident) Incident {
	e := Incident{
		ID: inc.ID, ServiceID: inc.ServiceID, Status: inc.Status, Urgency: inc.Urgency, Title: inc.Title,
		Number: inc.Number, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, Escalations: inc.escalations(),
	}
	for _, p := range priorities {
		if p.ID == inc.Priority {
			e.Priority = p.Name
		}
	}
	e.AcknowledgedAt, _ = inc.first("acknowledge_log_entry")
	if inc.Status == "resolved" {
		e.ResolvedAt, _ = inc.last("resolve_log_entry")
	}
	return e
}

// Service is what the fake knows of one service, for tests to compare with.
type Service struct {
	ID, Name, Status string
	PolicyID         string // "" when the service has no escalation policy
	Levels           int    // escalation rules of its policy
	OnCallNow        bool   // someone is on call for its policy now
}

// Services returns the services, sorted by id.
func (s *Server) Services() []Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Service, 0, len(s.order))
	for _, id := range s.order {
		svc := s.services[id]
		e := Service{ID: svc.ID, Name: svc.Name, Status: svc.Status, PolicyID: svc.PolicyID}
		if pol, ok := s.policies[svc.PolicyID]; ok {
			e.Levels = len(pol.Levels)
			for _, lv := range pol.Levels {
				e.OnCallNow = e.OnCallNow || lv.OnCall
			}
		}
		out = append(out, e)
	}
	return out
}

// ErrUnknown is returned by the mutators for an id the fake does not serve.
var ErrUnknown = errors.New("pagerdutyfake: unknown id")

// Trigger opens a new high-urgency P2 incident on a service at the fake's clock and returns its id.
func (s *Server) Trigger(serviceID, title string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[serviceID]
	if !ok {
		return "", fmt.Errorf("trigger on service %s: %w", serviceID, ErrUnknown)
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	inc := &incident{
		ID: s.gen.next("P", 6), Number: s.nextNumber, ServiceID: svc.ID, PolicyID: svc.PolicyID, TeamID: svc.TeamID,
		Title: title, Key: fmt.Sprintf("%016x", s.rng.Uint64()), Urgency: "high", Priority: priorities[1].ID, Status: "triggered",
		CreatedAt: now, UpdatedAt: now,
	}
	s.nextNumber++
	inc.Log = []logEntry{{ID: s.gen.next("R", 13), Type: "trigger_log_entry", At: now,
		Agent: ref{ID: svc.ID, Type: "service_reference", Summary: svc.Name}, Channel: "api"}}
	s.incidents[inc.ID] = inc
	return inc.ID, nil
}

// Acknowledge acknowledges an incident at the fake's clock, as its first responder.
func (s *Server) Acknowledge(id string) error {
	return s.change(id, "acknowledge_log_entry", "acknowledged")
}

// Escalate escalates an incident to its next level at the fake's clock.
func (s *Server) Escalate(id string) error { return s.change(id, "escalate_log_entry", "") }

// Resolve resolves an incident at the fake's clock.
func (s *Server) Resolve(id string) error { return s.change(id, "resolve_log_entry", "resolved") }

func (s *Server) change(id, entryType, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[id]
	if !ok {
		return fmt.Errorf("%s of incident %s: %w", entryType, id, ErrUnknown)
	}
	if inc.Status == "resolved" {
		return fmt.Errorf("%s of incident %s: already resolved", entryType, id)
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	agent := ref{ID: inc.ServiceID, Type: "service_reference", Summary: s.services[inc.ServiceID].Name}
	if entryType != "escalate_log_entry" {
		u := s.users[0]
		inc.Acknowledger = u
		agent = ref{ID: u.ID, Type: "user_reference", Summary: u.Name}
	}
	inc.Log = append(inc.Log, logEntry{ID: s.gen.next("R", 13), Type: entryType, At: now, Agent: agent, Channel: "web_trigger"})
	if status != "" {
		inc.Status = status
	}
	inc.UpdatedAt = now
	return nil
}

// route wraps a handler with counting, authentication, fault injection and
// the Date header of the fake's clock.
func (s *Server) route(name string, h func(w http.ResponseWriter, r *http.Request, now time.Time)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now().UTC()
		s.count(name)
		if s.cfg.Token != "" && !s.authorized(r) {
			writeError(w, now, http.StatusUnauthorized, 2006, "Authentication required")
			return
		}
		if status, retryAfter := s.fault(name, r); status != 0 {
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
				writeError(w, now, status, 2020, "Rate Limit Exceeded")
				return
			}
			writeError(w, now, status, 2000, http.StatusText(status))
			return
		}
		h(w, r, now)
	}
}

func (s *Server) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.byRoute[name]++
}

func (s *Server) authorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return a == "Token token="+s.cfg.Token || a == "Bearer "+s.cfg.Token
}

// fault returns the status a request must fail with, if any.
func (s *Server) fault(route string, r *http.Request) (int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateLimited > 0 {
		s.rateLimited--
		return http.StatusTooManyRequests, s.retryAfter
	}
	if s.failing > 0 {
		s.failing--
		return http.StatusInternalServerError, 0
	}
	if len(s.broken) == 0 {
		return 0, 0
	}
	var about []string
	switch route {
	case "service":
		about = []string{r.PathValue("id")}
	case "incidents":
		about = r.URL.Query()["service_ids[]"]
	case "incident", "log_entries":
		if inc, ok := s.incidents[r.PathValue("id")]; ok {
			about = []string{inc.ServiceID}
		}
	}
	for _, id := range about {
		if st, ok := s.broken[id]; ok {
			return st, 0
		}
	}
	return 0, 0
}

// page reads offset and limit as PagerDuty does: limit defaults to 25 and is
// at most 100, and offset+limit may not pass MaxOffset.
func (s *Server) page(w http.ResponseWriter, r *http.Request, now time.Time) (offset, limit int, ok bool) {
	q := r.URL.Query()
	limit, offset = 25, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided", "Limit must be a positive integer.")
			return 0, 0, false
		}
		limit = min(n, 100)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided", "Offset must be a non-negative integer.")
			return 0, 0, false
		}
		offset = n
	}
	if offset+limit > s.cfg.MaxOffset {
		writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided",
			fmt.Sprintf("Offset+limit must not exceed %d.", s.cfg.MaxOffset))
		return 0, 0, false
	}
	return offset, limit, true
}

func window[T any](items []T, offset, limit int) ([]T, bool) {
	if offset >= len(items) {
		return []T{}, false
	}
	end := min(offset+limit, len(items))
	return items[offset:end], end < len(items)
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, now time.Time) {
	offset, limit, ok := s.page(w, r, now)
	if !ok {
		return
	}
	full := slices.Contains(r.URL.Query()["include[]"], "escalation_policies")
	s.mu.Lock()
	answerPage(s, w, now, "services", s.order, offset, limit, func(id string) obj { return s.serviceJSON(s.services[id], full) })
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request, now time.Time) {
	full := slices.Contains(r.URL.Query()["include[]"], "escalation_policies")
	s.getOne(w, now, "service", func() (obj, bool) {
		return found(s.services, r.PathValue("id"), func(x *service) obj { return s.serviceJSON(x, full) })
	})
}

// found renders m[id], false when m has no id.
func found[T any](m map[string]T, id string, render func(T) obj) (obj, bool) {
	x, ok := m[id]
	if !ok {
		return nil, false
	}
	return render(x), true
}

// answerPage renders the page of all at offset (up to limit items) and
// answers it as the list key, releasing the lock first.
func answerPage[T any](s *Server, w http.ResponseWriter, now time.Time, key string, all []T, offset, limit int, render func(T) obj) {
	items, more := window(all, offset, limit)
	out := make([]any, len(items))
	for i, x := range items {
		out[i] = render(x)
	}
	s.mu.Unlock()
	writeList(w, now, key, out, offset, limit, more)
}

// getOne answers {key: object} with what find returns under the lock, 404
// when it finds nothing.
func (s *Server) getOne(w http.ResponseWriter, now time.Time, key string, find func() (obj, bool)) {
	s.mu.Lock()
	o, ok := find()
	s.mu.Unlock()
	if !ok {
		writeError(w, now, http.StatusNotFound, 2100, "Not Found")
		return
	}
	writeJSON(w, now, http.StatusOK, obj{key: o})
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, now time.Time) {
	offset, limit, ok := s.page(w, r, now)
	if !ok {
		return
	}
	s.mu.Lock()
	answerPage(s, w, now, "escalation_policies", slices.Sorted(maps.Keys(s.policies)), offset, limit, func(id string) obj { return s.policyJSON(s.policies[id]) })
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, now time.Time) {
	s.getOne(w, now, "escalation_policy", func() (obj, bool) { return found(s.policies, r.PathValue("id"), s.policyJSON) })
}

func (s *Server) listOnCalls(w http.ResponseWriter, r *http.Request, now time.Time) {
	offset, limit, ok := s.page(w, r, now)
	if !ok {
		return
	}
	filter := r.URL.Query()["escalation_policy_ids[]"]
	s.mu.Lock()
	var all []any
	for _, id := range slices.Sorted(maps.Keys(s.policies)) {
		pol := s.policies[id]
		if len(filter) > 0 && !slices.Contains(filter, id) {
			continue
		}
		for i, lv := range pol.Levels {
			if lv.OnCall {
				all = append(all, onCallJSON(pol, i, lv, now))
			}
		}
	}
	s.mu.Unlock()
	items, more := window(all, offset, limit)
	writeList(w, now, "oncalls", items, offset, limit, more)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, now time.Time) {
	offset, limit, ok := s.page(w, r, now)
	if !ok {
		return
	}
	q := r.URL.Query()
	since, until := now.Add(-30*24*time.Hour), now
	if q.Get("date_range") != "all" {
		var err error
		if v := q.Get("since"); v != "" {
			if since, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided", "Since is not a valid date.")
				return
			}
		}
		if v := q.Get("until"); v != "" {
			if until, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided", "Until is not a valid date.")
				return
			}
		}
		if until.Sub(since) > s.cfg.MaxWindow {
			writeError(w, now, http.StatusBadRequest, 2001, "Invalid Input Provided", "Date range cannot exceed 6 months.")
			return
		}
	} else {
		since, until = time.Time{}, now.Add(time.Second)
	}
	services, statuses := q["service_ids[]"], q["statuses[]"]
	desc := strings.HasSuffix(q.Get("sort_by"), ":desc")
	s.mu.Lock()
	var matched []*incident
	for _, inc := range s.sortedIncidents() {
		if inc.CreatedAt.Before(since) || !inc.CreatedAt.Before(until) {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, inc.ServiceID) {
			continue
		}
		if len(statuses) > 0 && !slices.Contains(statuses, inc.Status) {
			continue
		}
		matched = append(matched, inc)
	}
	if desc {
		slices.Reverse(matched)
	}
	answerPage(s, w, now, "incidents", matched, offset, limit, s.incidentJSON)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, now time.Time) {
	s.getOne(w, now, "incident", func() (obj, bool) { return found(s.incidents, r.PathValue("id"), s.incidentJSON) })
}

// listLogEntries answers newest first, as PagerDuty does.
func (s *Server) listLogEntries(w http.ResponseWriter, r *http.Request, now time.Time) {
	offset, limit, ok := s.page(w, r, now)
	if !ok {
		return
	}
	s.mu.Lock()
	inc, found := s.incidents[r.PathValue("id")]
	var out []any
	more := false
	if found {
		all := make([]any, 0, len(inc.Log))
		for i := len(inc.Log) - 1; i >= 0; i-- {
			all = append(all, s.logEntryJSON(inc, inc.Log[i]))
		}
		out, more = window(all, offset, limit)
	}
	s.mu.Unlock()
	if !found {
		writeError(w, now, http.StatusNotFound, 2100, "Not Found")
		return
	}
	writeList(w, now, "log_entries", out, offset, limit, more)
}
