package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/dashboards"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/ui"
)

// The store satisfies what the ui and scoring read.
var (
	_ ui.Catalog           = (*store.DB)(nil)
	_ ui.ScoreSource       = (*store.DB)(nil)
	_ ui.CampaignSource    = (*store.DB)(nil)
	_ ui.EventSource       = (*store.DB)(nil)
	_ ui.Pinger            = (*store.DB)(nil)
	_ ui.MetricSource      = (*store.Metrics)(nil)
	_ scoring.MetricSource = (*store.Metrics)(nil)
	_ ui.JobRunner         = (*scheduler)(nil)
	_ collectors.Writer    = (*spool.Spool)(nil)
	_ spool.Writer         = (*store.DB)(nil)
)

// serveConfig is the `serve:` section of yardstick.yaml.
//
//	serve:
//	  listen: 127.0.0.1:8080          # loopback: open UI; any other address needs tokens
//	  tokens:                          # sha256 of each token, never the token itself
//	    - {name: grafana, sha256: 3b0c…, role: viewer}
//	    - {name: ops, sha256: 9f86…, role: admin}
//	  dora_benchmark: "2024"          # 2021, 2023 or 2024 (State of DevOps sets)
//	  production_environments: [production, prod]
//	  failure_window: 24h             # change failure: incident/failed deploy/rollback within this after a deploy
//	  score_interval: 15m
//	  collector_intervals: {github: 10m, jira: 15m, pagerduty: 5m}
//	  shutdown_timeout: 20s
//	  request_timeout: 30s            # every request's deadline; past it: 503 + Retry-After
//	  page_cache_ttl: 1m              # page data cached until a refresh/scoring run, at most this; -1s: off
//	  spool: {dir: "", max_bytes: 268435456}  # webhook spool; dir defaults to <data_dir>/spool
type serveConfig struct {
	Listen                 string                   `yaml:"listen"`
	Tokens                 []serveToken             `yaml:"tokens"`
	DORABenchmark          string                   `yaml:"dora_benchmark"`
	CustomBenchmark        *yardstick.DORABenchmark `yaml:"custom_benchmark"`
	ProductionEnvironments []string                 `yaml:"production_environments"`
	FailureWindow          time.Duration            `yaml:"failure_window"`
	ScoreInterval          time.Duration            `yaml:"score_interval"`
	MetricsRefresh         time.Duration            `yaml:"metrics_refresh"`
	CollectorIntervals     map[string]time.Duration `yaml:"collector_intervals"`
	ShutdownTimeout        time.Duration            `yaml:"shutdown_timeout"`
	Embed                  serveEmbed               `yaml:"embed"`
	Auth                   serveAuth                `yaml:"auth"`
	RequestTimeout         time.Duration            `yaml:"request_timeout"`
	PageCacheTTL           time.Duration            `yaml:"page_cache_ttl"`
	Spool                  spoolConfig              `yaml:"spool"`
}

// spoolConfig is serve.spool: where webhook deliveries wait for the store.
type spoolConfig struct {
	Dir      string `yaml:"dir"`       // default <data_dir>/spool
	MaxBytes int64  `yaml:"max_bytes"` // default 256 MiB; a full spool answers 503
}

type serveToken struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	Role   string `yaml:"role"`
}

// Defaults of the serve section.
const (
	defaultListen          = "127.0.0.1:8080"
	defaultScoreInterval   = 15 * time.Minute
	defaultMetricsRefresh  = 5 * time.Minute
	defaultCollectInterval = 15 * time.Minute
	defaultShutdownTimeout = 20 * time.Second
)

// withDefaults fills unset keys and validates the rest.
func (c serveConfig) withDefaults() (serveConfig, error) {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("serve.listen %q: want host:port: %w", c.Listen, yardstick.ErrInvalid)
	}
	if c.DORABenchmark == "" {
		c.DORABenchmark = yardstick.DefaultDORABenchmark
	}
	if c.CustomBenchmark == nil {
		if _, ok := yardstick.DORABenchmarks[c.DORABenchmark]; !ok {
			return c, fmt.Errorf("serve.dora_benchmark %q: want 2021, 2023 or 2024, or a custom_benchmark: %w", c.DORABenchmark, yardstick.ErrInvalid)
		}
	} else if err := c.CustomBenchmark.Validate(); err != nil {
		return c, fmt.Errorf("serve.custom_benchmark: %w", err)
	}
	if c.FailureWindow < 0 {
		return c, fmt.Errorf("serve.failure_window %s: must not be negative: %w", c.FailureWindow, yardstick.ErrInvalid)
	}
	if c.ScoreInterval == 0 {
		c.ScoreInterval = defaultScoreInterval
	}
	if c.ScoreInterval < time.Minute {
		return c, fmt.Errorf("serve.score_interval %s: at least 1m: %w", c.ScoreInterval, yardstick.ErrInvalid)
	}
	if c.MetricsRefresh == 0 {
		c.MetricsRefresh = defaultMetricsRefresh
	}
	if c.MetricsRefresh < 30*time.Second {
		return c, fmt.Errorf("serve.metrics_refresh %s: at least 30s: %w", c.MetricsRefresh, yardstick.ErrInvalid)
	}
	for name, d := range c.CollectorIntervals {
		if d < time.Minute {
			return c, fmt.Errorf("serve.collector_intervals.%s %s: at least 1m: %w", name, d, yardstick.ErrInvalid)
		}
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	if c.RequestTimeout < 0 || c.Spool.MaxBytes < 0 {
		return c, fmt.Errorf("serve.request_timeout and serve.spool.max_bytes must not be negative: %w", yardstick.ErrInvalid)
	}
	for i, t := range c.Tokens {
		if t.Name == "" {
			return c, fmt.Errorf("serve.tokens[%d]: name is required: %w", i, yardstick.ErrInvalid)
		}
	}
	return c, nil
}

func (c serveConfig) benchmark() yardstick.DORABenchmark {
	if c.CustomBenchmark != nil {
		b := *c.CustomBenchmark
		if b.Name == "" {
			b.Name = "custom"
		}
		return b
	}
	return yardstick.DORABenchmarks[c.DORABenchmark]
}

// metricsConfig is the store's metric configuration serve uses; build the
// scorer's store.Metrics with it too (or pass serveDeps.Metrics), so scoring
// and the dashboards read the same observations.
func (c serveConfig) metricsConfig() store.MetricsConfig {
	return store.MetricsConfig{ProductionEnvironments: c.ProductionEnvironments, FailureWindow: c.FailureWindow, MaxAge: 2 * c.MetricsRefresh}
}

func (c serveConfig) collectorInterval(name string) time.Duration {
	if d, ok := c.CollectorIntervals[name]; ok {
		return d
	}
	return defaultCollectInterval
}

// serveDeps is what serve needs from the rest of the wiring (main/demo build it).
type serveDeps struct {
	DB       *store.DB
	Metrics  *store.Metrics          // optional: store.NewMetrics(db, cfg.metricsConfig()) shared with the scorer
	Rules    func() *checks.RuleSet  // the rules in force (reloadable)
	Jobs     []job                   // collectors and scoring; see collectorJob and scoringJob
	Webhooks map[string]http.Handler // mounted at /webhooks/{source}
	Spool    *spool.Spool            // optional: the webhooks' writer; serve drains it while it runs
	Registry *prometheus.Registry    // shared with collectors.NewMetrics
	Logger   *slog.Logger
}

// job is one scheduled task. Run gets a context that ends with serve.
type job struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
	// RunAtStart runs the job once as soon as serve starts.
	RunAtStart bool
}

// collectorJob runs a collector through the runner (which keeps watermarks and
// refuses a second concurrent run of the same collector).
func collectorJob(r *collectors.Runner, c collectors.Collector, configHash string, interval time.Duration) job {
	return job{Name: c.Name(), Interval: interval, RunAtStart: true, Run: func(ctx context.Context) error {
		_, err := r.Run(ctx, c, configHash)
		return err
	}}
}

// scoringJob runs one scoring run of the catalog now.
func scoringJob(s *scoring.Scorer, interval time.Duration, now func() time.Time) job {
	return job{Name: "scoring", Interval: interval, RunAtStart: true, Run: func(ctx context.Context) error {
		_, err := s.Run(ctx, now(), scoring.RunOptions{})
		return err
	}}
}

// runningServer is a started `serve`.
type runningServer struct {
	URL   string
	UI    *ui.Server
	sched *scheduler
	http  *http.Server
	done  chan error
}

// Wait blocks until the server stops and returns why.
func (r *runningServer) Wait() error { return <-r.done }

// startServe builds the ui on the store, starts the scheduler and listens. It
// returns once the listener is bound; the server stops when ctx ends.
func startServe(ctx context.Context, cfg serveConfig, deps serveDeps) (*runningServer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tokens := make([]ui.Token, len(cfg.Tokens))
	for i, t := range cfg.Tokens {
		tokens[i] = ui.Token{Name: t.Name, SHA256: t.SHA256, Role: ui.Role(t.Role)}
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	metrics := deps.Metrics
	if metrics == nil {
		metrics = store.NewMetrics(deps.DB, cfg.metricsConfig())
	}
	sched := newScheduler(logger, time.Now)
	auth, err := cfg.Auth.uiConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	srv, err := ui.New(ui.Config{
		Addr: cfg.Listen, Tokens: tokens,
		Catalog: deps.DB, Metrics: metrics, Scores: deps.DB, Campaigns: deps.DB, Events: deps.DB,
		Rules: ruleSource{deps.Rules}, Health: deps.DB, Jobs: sched, Notifications: deps.DB, ScoreHistory: deps.DB,
		Embed:      ui.EmbedConfig{FrameAncestors: cfg.Embed.FrameAncestors, Public: cfg.Embed.Public, PublicBadges: cfg.Embed.PublicBadges},
		Auth:       auth,
		Dashboards: dashboards.FS, Benchmark: cfg.benchmark(), Webhooks: deps.Webhooks,
		Registerer: reg, Gatherer: reg, Logger: logger, RequestTimeout: cfg.RequestTimeout, PageCacheTTL: cfg.PageCacheTTL,
	})
	if err != nil {
		return nil, err
	}
	refresh := func(ctx context.Context) error {
		if err := metrics.Refresh(ctx); err != nil {
			return err
		}
		srv.Invalidate()
		return srv.Warm(ctx)
	}
	jobs := append([]job{{Name: "metrics", Interval: cfg.MetricsRefresh, RunAtStart: true, Run: refresh}}, deps.Jobs...)
	for _, j := range jobs {
		if j.Interval == 0 {
			j.Interval = cfg.collectorInterval(j.Name)
			if j.Name == "scoring" {
				j.Interval = cfg.ScoreInterval
			}
		}
		if j.Name == "scoring" {
			// Scoring reads metrics: refresh them first, and the gauges after.
			run := j.Run
			j.Run = func(ctx context.Context) error {
				if err := metrics.Refresh(ctx); err != nil {
					return err
				}
				if err := run(ctx); err != nil {
					return err
				}
				srv.Invalidate()
				return srv.RefreshGauges(ctx)
			}
		}
		if err := sched.add(j); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	r := &runningServer{URL: "http://" + ln.Addr().String() + "/", UI: srv, sched: sched, http: hs, done: make(chan error, 1)}
	if err := srv.RefreshGauges(ctx); err != nil {
		logger.WarnContext(ctx, "dashboard gauges not refreshed", "err", err)
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { sched.run(schedCtx); close(schedDone) }()
	spoolDone := make(chan struct{})
	if deps.Spool != nil {
		// The spool drains while serve runs; what is left waits on disk.
		go func() {
			defer close(spoolDone)
			if err := deps.Spool.Run(schedCtx); err != nil {
				logger.ErrorContext(ctx, "webhook spool stopped", "err", err)
			}
		}()
	} else {
		close(spoolDone)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	go func() {
		var err error
		select {
		case <-ctx.Done():
		case err = <-serveErr:
		}
		stopSched()
		shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if serr := hs.Shutdown(shutCtx); serr != nil && err == nil {
			err = fmt.Errorf("shut down web server: %w", serr)
		}
		<-schedDone
		<-spoolDone
		if deps.Spool != nil {
			if cerr := deps.Spool.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close webhook spool: %w", cerr)
			}
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.done <- err
	}()
	logger.InfoContext(ctx, "serving", "url", r.URL, "open", srv.Open(), "jobs", len(deps.Jobs))
	return r, nil
}

// ruleSource shows the checks package's rules to the ui.
type ruleSource struct{ get func() *checks.RuleSet }

func (r ruleSource) Rules() ui.Rules {
	if r.get == nil {
		return ui.Rules{}
	}
	return uiRules(r.get())
}

func programText(p *checks.Program) string {
	if p == nil {
		return ""
	}
	return p.Text
}

// uiRules converts compiled rules to the definitions the pages show.
func uiRules(rs *checks.RuleSet) ui.Rules {
	var out ui.Rules
	if rs == nil {
		return out
	}
	for _, sc := range rs.Scorecards {
		d := ui.ScorecardDef{ID: sc.ID, Title: sc.Title, Description: sc.Description, Owner: sc.Owner, AppliesTo: programText(sc.AppliesTo), Levels: sc.Levels}
		for _, c := range sc.Checks {
			d.Checks = append(d.Checks, ui.CheckDef{ID: c.ID, Title: c.Title, Description: c.Description, Remediation: c.Remediation, Link: c.Link,
				Level: c.Level.Name, Weight: c.Weight, Expr: programText(c.Expr)})
		}
		out.Scorecards = append(out.Scorecards, d)
	}
	for _, c := range rs.Campaigns {
		out.Campaigns = append(out.Campaigns, ui.CampaignDef{ID: c.ID, Title: c.Title, Description: c.Description, Owner: c.Owner,
			AppliesTo: programText(c.AppliesTo), Done: programText(c.Done), Start: c.Start, Deadline: c.Deadline})
	}
	return out
}

// --- scheduler --------------------------------------------------------------

// scheduler runs jobs on intervals. Each job has one goroutine that runs it,
// waits, and runs it again, so two runs of the same job never overlap; a "run
// now" request while a run is going is folded into one run after it.
type scheduler struct {
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	jobs map[string]*schedJob
}

type schedJob struct {
	job
	trigger chan struct{}

	mu      sync.Mutex
	running bool
	lastRun time.Time
	lastErr string
	nextRun time.Time
	runs    int
}

func newScheduler(logger *slog.Logger, now func() time.Time) *scheduler {
	return &scheduler{logger: logger, now: now, jobs: map[string]*schedJob{}}
}

func (s *scheduler) add(j job) error {
	if j.Name == "" || j.Run == nil || j.Interval <= 0 {
		return fmt.Errorf("job %q: name, run function and a positive interval are required: %w", j.Name, yardstick.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.jobs[j.Name]; dup {
		return fmt.Errorf("job %q: scheduled twice: %w", j.Name, yardstick.ErrInvalid)
	}
	s.jobs[j.Name] = &schedJob{job: j, trigger: make(chan struct{}, 1)}
	return nil
}

// run runs every job until ctx ends, then waits for runs in progress.
func (s *scheduler) run(ctx context.Context) {
	s.mu.Lock()
	jobs := make([]*schedJob, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, j)
		}()
	}
	wg.Wait()
}

func (s *scheduler) loop(ctx context.Context, j *schedJob) {
	if j.RunAtStart {
		s.runOnce(ctx, j)
	}
	for {
		j.mu.Lock()
		j.nextRun = s.now().Add(j.Interval)
		j.mu.Unlock()
		t := time.NewTimer(j.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-j.trigger:
			t.Stop()
		}
		s.runOnce(ctx, j)
	}
}

func (s *scheduler) runOnce(ctx context.Context, j *schedJob) {
	if ctx.Err() != nil {
		return
	}
	j.mu.Lock()
	j.running = true
	j.mu.Unlock()
	start := s.now()
	err := j.Run(ctx)
	j.mu.Lock()
	j.running, j.lastRun, j.runs = false, start, j.runs+1
	j.lastErr = ""
	if err != nil {
		j.lastErr = err.Error()
	}
	j.mu.Unlock()
	log := s.logger.With("job", j.Name)
	switch {
	case err == nil:
		log.InfoContext(ctx, "job done", "duration", s.now().Sub(start))
	case errors.Is(err, collectors.ErrAlreadyRunning):
		log.InfoContext(ctx, "job skipped: previous run still going")
	case ctx.Err() != nil:
		log.InfoContext(ctx, "job stopped by shutdown", "err", err)
	default:
		log.WarnContext(ctx, "job failed", "err", err)
	}
}

// RunNow asks for a run of the job as soon as it is free. It never blocks.
func (s *scheduler) RunNow(name string) error {
	s.mu.Lock()
	j, ok := s.jobs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("job %q: %w", name, yardstick.ErrNotFound)
	}
	select {
	case j.trigger <- struct{}{}:
	default: // a run is already requested
	}
	return nil
}

// Jobs reports every job's state, by name.
func (s *scheduler) Jobs() []ui.JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ui.JobStatus, 0, len(s.jobs))
	for _, j := range s.jobs {
		j.mu.Lock()
		out = append(out, ui.JobStatus{Name: j.Name, Interval: j.Interval, Running: j.running, LastRun: j.lastRun, LastErr: j.lastErr, NextRun: j.nextRun})
		j.mu.Unlock()
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// newServeCmd is `yardstick serve`. cfg returns the serve section of the
// configuration; deps builds jobs (collectors, scoring), webhooks and rules on
// the open store.
func newServeCmd(a *app, cfg func() serveConfig, deps func(ctx context.Context, db *store.DB) (serveDeps, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboards and API, and run collectors and scoring on their intervals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			d, err := deps(ctx, db)
			if err != nil {
				return err
			}
			d.DB = db
			if d.Registry == nil {
				d.Registry = a.registry
			}
			if d.Logger == nil {
				d.Logger = a.logger
			}
			r, err := startServe(ctx, cfg(), d)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, serveURLLine(r, r.UI.Open()))
			return r.Wait()
		},
	}
}

// serveURLLine is what `serve` and `demo` print.
func serveURLLine(r *runningServer, open bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Yardstick is serving at %s", r.URL)
	if !open {
		b.WriteString(" (token required)")
	}
	return b.String()
}
