// Package pagerduty collects incidents and on-call facts from PagerDuty's REST
// API v2 and its v3 webhooks.
//
// Every service a catalog entity names in its pagerduty.com/service-id
// annotation is a scope ("pagerduty:PXXXXXX"). Per scope the collector writes
// the events incident.triggered, incident.acknowledged and incident.resolved
// (from each incident and its log entries) and the facts has_escalation_policy,
// oncall_levels, oncall_now and service_status.
//
// Runs are incremental: incidents are listed in since/until windows (split so
// none is longer than PagerDuty allows), and incidents that were still open at
// the end of a run are kept per service in a cursor and re-read until they are
// resolved. Webhooks go through the same conversion as polling.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

// DefaultBaseURL is PagerDuty's REST API.
const DefaultBaseURL = "https://api.pagerduty.com"

// Config configures a Collector. Zero values take the documented defaults.
type Config struct {
	BaseURL string           // REST API root; default DefaultBaseURL
	Token   yardstick.Secret // REST API key, or an OAuth access token when OAuth is set
	OAuth   bool

	// Backfill is how far back a full sync lists incidents; default 90 days.
	Backfill time.Duration
	// MaxWindow is the longest since/until range of one incidents listing;
	// PagerDuty refuses ranges over six months. Default 179 days.
	MaxWindow time.Duration
	// Overlap is how far before the previous run's start the next run lists
	// incidents again, for incidents the API indexes late. Default 5 minutes.
	Overlap time.Duration
	// BatchSize is how many services one incidents listing and how many
	// escalation policies one on-call listing names; default 20. A failing
	// batch is retried one service at a time so that only the failing one fails.
	BatchSize int
	// Concurrency is how many incidents' log entries are read at once; default 4.
	Concurrency int

	// Hours decides whether an incident paged its owners off-hours.
	Hours Hours
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Backfill == 0 {
		c.Backfill = 90 * 24 * time.Hour
	}
	if c.MaxWindow == 0 {
		c.MaxWindow = 179 * 24 * time.Hour
	}
	if c.Overlap == 0 {
		c.Overlap = 5 * time.Minute
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	return c
}

// EventDeleter removes events by identity. The store's DeleteEvents satisfies it;
// the collector uses it to withdraw the resolution of an incident that was reopened.
type EventDeleter interface {
	DeleteEvents(ctx context.Context, events []yardstick.Event) error
}

// Collector copies PagerDuty incidents and service facts into a Writer.
// It implements collectors.Collector. Runs must not overlap (the Runner
// serialises them); otherwise safe for concurrent use.
type Collector struct {
	cfg       Config
	hc        *http.Client
	catalog   collectors.Catalog
	cursors   collectors.CursorStore
	deleter   EventDeleter
	hours     *hoursResolver
	logger    *slog.Logger
	now       func() time.Time
	pageSize  uint
	maxOffset uint // PagerDuty's classic pagination stops at offset+limit 10000
}

// New builds a Collector. hc must sit on a collectors.Transport so that rate
// limits and server faults are retried; catalog names the services to collect
// and their owners; cursors keeps the open incidents of each service.
func New(cfg Config, hc *http.Client, catalog collectors.Catalog, cursors collectors.CursorStore, logger *slog.Logger) (*Collector, error) {
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, fmt.Errorf("pagerduty: no token: %w", yardstick.ErrInvalid)
	}
	if cfg.MaxWindow < time.Hour {
		return nil, fmt.Errorf("pagerduty: max window %s is under an hour: %w", cfg.MaxWindow, yardstick.ErrInvalid)
	}
	hours, err := newHoursResolver(cfg.Hours)
	if err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	if hc == nil {
		return nil, fmt.Errorf("pagerduty: no http client: %w", yardstick.ErrInvalid)
	}
	return &Collector{
		cfg: cfg, hc: hc, catalog: catalog, cursors: cursors, hours: hours,
		logger: logger.With("collector", SourceName), now: time.Now, pageSize: 100, maxOffset: 10000,
	}, nil
}

// WithDeleter lets the collector withdraw resolutions of reopened incidents.
func (c *Collector) WithDeleter(d EventDeleter) *Collector {
	c.deleter = d
	return c
}

// WithClock replaces the clock that decides the end of the listing window.
func (c *Collector) WithClock(now func() time.Time) *Collector {
	c.now = now
	return c
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return SourceName }

// Collect implements collectors.Collector. A zero since is a full sync of the
// last Config.Backfill. next is the PagerDuty server's clock (its Date header)
// when the run began, minus Config.Overlap, never the local clock. When some
// services fail, the others are still written and Collect returns a
// *collectors.PartialError naming each failure with its endpoint and status.
func (c *Collector) Collect(ctx context.Context, since time.Time, w collectors.Writer) (time.Time, error) {
	hours, err := c.hours.readServices(ctx, c.catalog)
	if err != nil {
		return since, fmt.Errorf("pagerduty: %w", err)
	}
	ids := make([]string, 0, len(hours))
	for id := range hours {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		c.logger.InfoContext(ctx, "no pagerduty services in the catalog")
		return since, nil
	}

	until := c.now().UTC().Truncate(time.Second)
	full := since.IsZero()
	from := since.UTC()
	if full {
		from = until.Add(-c.cfg.Backfill)
	}
	r := c.newRun(w, hours, full)
	if err := r.facts(ctx, ids); err != nil {
		return since, err
	}
	if err := r.incidents(ctx, ids, windows(from, until, c.cfg.MaxWindow)); err != nil {
		return since, err
	}

	next := since
	if first := r.clock.earliest(); !first.IsZero() {
		if until.Before(first) {
			first = until
		}
		next = first.Add(-c.cfg.Overlap)
	}
	if fails := r.failureList(); len(fails) > 0 {
		return since, &collectors.PartialError{Collector: SourceName, Failures: fails}
	}
	return next, nil
}

// windows splits [from, until) into ranges no longer than max.
func windows(from, until time.Time, max time.Duration) [][2]time.Time {
	var out [][2]time.Time
	for start := from; start.Before(until); start = start.Add(max) {
		end := start.Add(max)
		if end.After(until) {
			end = until
		}
		out = append(out, [2]time.Time{start, end})
	}
	return out
}

// run is the state of one Collect call.
type run struct {
	c     *Collector
	api   *pd.Client
	clock *sourceClock
	w     collectors.Writer
	hours map[string]*schedule
	full  bool

	mu       sync.Mutex
	failures map[string]collectors.Failure // by service id, the first failure
}

func (c *Collector) newRun(w collectors.Writer, hours map[string]*schedule, full bool) *run {
	base := c.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	clock := &sourceClock{base: base}
	hc := *c.hc
	hc.Transport = clock
	opts := []pd.ClientOptions{pd.WithAPIEndpoint(c.cfg.BaseURL)}
	if c.cfg.OAuth {
		opts = append(opts, pd.WithOAuth())
	}
	api := pd.NewClient(c.cfg.Token.Reveal(), opts...)
	api.HTTPClient = &hc
	return &run{c: c, api: api, clock: clock, w: w, hours: hours, full: full, failures: map[string]collectors.Failure{}}
}

// fail records the first failure of a service; later ones add nothing.
func (r *run) fail(serviceID string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.failures[serviceID]; ok {
		return
	}
	f := collectors.FailureFrom(ServiceScope(serviceID), "", err)
	r.failures[serviceID] = f
	r.c.logger.Warn("pagerduty service failed", "scope", f.Scope, "endpoint", f.Endpoint, "status", f.Status, "err", err)
}

func (r *run) failed(serviceID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.failures[serviceID]
	return ok
}

func (r *run) failureList() []collectors.Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]collectors.Failure, 0, len(r.failures))
	for _, f := range r.failures {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scope < out[j].Scope })
	return out
}

// storageError marks a failed write: it stops the run, since every later write
// would fail the same way, and nothing of the run must be taken as stored.
type storageError struct{ err error }

func (e *storageError) Error() string { return e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

func (r *run) writeEvents(ctx context.Context, events []yardstick.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := r.w.WriteEvents(ctx, events); err != nil {
		return &storageError{fmt.Errorf("pagerduty: write %d events: %w", len(events), err)}
	}
	return nil
}

// apiError turns what go-pagerduty returns into an error that names the
// endpoint and, for answers, the status as a *collectors.HTTPError.
func apiError(ctx context.Context, endpoint string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("GET %s: %w", endpoint, ctxErr)
	}
	var ae pd.APIError
	if errors.As(err, &ae) {
		return &collectors.HTTPError{Method: http.MethodGet, Endpoint: endpoint, Status: ae.StatusCode, Body: truncate(ae.Error(), 200)}
	}
	return fmt.Errorf("GET %s: %w", endpoint, err)
}

func notFound(err error) bool {
	var he *collectors.HTTPError
	return errors.As(err, &he) && he.Status == http.StatusNotFound
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sourceClock records the earliest Date header PagerDuty answered with, which
// is the server's clock when the run began.
type sourceClock struct {
	base http.RoundTripper

	mu    sync.Mutex
	first time.Time
}

// RoundTrip implements http.RoundTripper.
func (s *sourceClock) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
		s.mu.Lock()
		if s.first.IsZero() || t.Before(s.first) {
			s.first = t.UTC()
		}
		s.mu.Unlock()
	}
	return resp, nil
}

func (s *sourceClock) earliest() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// batches cuts ids into slices of at most n.
func batches(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}
