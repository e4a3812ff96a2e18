// Package serve runs Yardstick's long-running process: the ui on the store,
// the scheduler with its metric refresh, scoring and the sources' jobs, and a
// graceful shutdown. cmd/yardstick builds its Deps and the Config from the
// `serve:` section of yardstick.yaml.
package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/dashboards"
	"github.com/yardstick-dev/yardstick/lease"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/ui"
)

var _ ui.JobRunner = jobRunner{}

// Config is the `serve:` section of yardstick.yaml.
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
//	  refresh_parallelism: 4          # a metric refresh's queries at once (default: a local server's cores, 2–4; else 4)
//	  collector_intervals: {github: 10m, jira: 15m, pagerduty: 5m}
//	  shutdown_timeout: 20s
//	  request_timeout: 30s            # every request's deadline; past it: 503 + Retry-After
//	  page_cache_ttl: 1m              # page data cached until a refresh/scoring run, at most this; -1s: off
//	  spool: {dir: "", max_bytes: 268435456}  # webhook spool; dir defaults to <data_dir>/spool
//	  memory_limit_mb: 256           # soft memory limit (GOMEMLIMIT); -1: the machine-wide default
//	  jobs: true                      # false: a reader that runs no scheduled jobs (see docs/cluster.md)
//	  lease: {zookeeper: [zk-1:2181]} # or: every instance with jobs, the lease holder runs them
type Config struct {
	Listen                 string                   `yaml:"listen"`
	Tokens                 []Token                  `yaml:"tokens"`
	DORABenchmark          string                   `yaml:"dora_benchmark"`
	CustomBenchmark        *yardstick.DORABenchmark `yaml:"custom_benchmark"`
	ProductionEnvironments []string                 `yaml:"production_environments"`
	FailureWindow          time.Duration            `yaml:"failure_window"`
	ScoreInterval          time.Duration            `yaml:"score_interval"`
	MetricsRefresh         time.Duration            `yaml:"metrics_refresh"`
	// RefreshParallelism is how many of a metric refresh's queries run at
	// once (store.MetricsConfig.RefreshParallelism); 0 means the server's
	// cores (2 to 4) when it runs on this machine, else 4.
	RefreshParallelism int                      `yaml:"refresh_parallelism"`
	CollectorIntervals map[string]time.Duration `yaml:"collector_intervals"`
	ShutdownTimeout    time.Duration            `yaml:"shutdown_timeout"`
	RequestTimeout     time.Duration            `yaml:"request_timeout"`
	PageCacheTTL       time.Duration            `yaml:"page_cache_ttl"`
	// MemoryLimitMB is serve's soft memory limit (Go's GOMEMLIMIT) in MiB;
	// 0 means 256, negative keeps the machine-wide default. GOMEMLIMIT overrides it.
	MemoryLimitMB int `yaml:"memory_limit_mb"`
	// Jobs says whether this instance runs the scheduled jobs (collectors,
	// metric refresh, scoring); default true. Several serve instances can read
	// side by side; exactly one of them runs the jobs.
	Jobs *bool `yaml:"jobs"`
	// Lease, when it names ZooKeeper servers, lets every instance start with
	// jobs: only the one holding the lease runs them (docs/cluster.md).
	Lease LeaseConfig `yaml:"lease"`
	// Embed says who may frame /embed pages, and whether embeds and badges need a token.
	Embed EmbedConfig `yaml:"embed"`
	// Auth is browser sign-in: OIDC or trusted proxy headers (README, "Sign-in").
	Auth  AuthConfig  `yaml:"auth"`
	Spool SpoolConfig `yaml:"spool"`
}

// SpoolConfig is serve.spool: where webhook deliveries wait for the store.
type SpoolConfig struct {
	Dir      string `yaml:"dir"`       // default <data_dir>/spool
	MaxBytes int64  `yaml:"max_bytes"` // default 256 MiB; a full spool answers 503
}

type Token struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	Role   string `yaml:"role"`
}

// Defaults of the serve section.
const (
	DefaultListen          = "127.0.0.1:8080"
	defaultScoreInterval   = 15 * time.Minute
	defaultMetricsRefresh  = 5 * time.Minute
	defaultMemoryLimitMB   = 256
	defaultCollectInterval = 15 * time.Minute
	defaultShutdownTimeout = 20 * time.Second
)

// WithDefaults fills unset keys and validates the rest.
func (c Config) WithDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
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
	if c.RefreshParallelism < 0 {
		return c, fmt.Errorf("serve.refresh_parallelism %d: must not be negative: %w", c.RefreshParallelism, yardstick.ErrInvalid)
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
	switch {
	case c.MemoryLimitMB == 0:
		c.MemoryLimitMB = defaultMemoryLimitMB
	case c.MemoryLimitMB < 0:
		c.MemoryLimitMB = 0 // negative: no limit of serve's own
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

func (c Config) benchmark() yardstick.DORABenchmark {
	if c.CustomBenchmark != nil {
		b := *c.CustomBenchmark
		if b.Name == "" {
			b.Name = "custom"
		}
		return b
	}
	return yardstick.DORABenchmarks[c.DORABenchmark]
}

// MetricsConfig is the store's metric configuration serve uses; build the
// scorer's store.Metrics with it too (or pass Deps.Metrics), so scoring
// and the dashboards read the same observations.
func (c Config) MetricsConfig() store.MetricsConfig {
	return store.MetricsConfig{ProductionEnvironments: c.ProductionEnvironments, FailureWindow: c.FailureWindow, RefreshParallelism: c.RefreshParallelism}
}

func (c Config) CollectorInterval(name string) time.Duration {
	if d, ok := c.CollectorIntervals[name]; ok {
		return d
	}
	return defaultCollectInterval
}

// Deps is what serve needs from the rest of the wiring (main/demo build it).
type Deps struct {
	DB      *store.DB
	Metrics *store.Metrics         // optional: store.NewMetrics(db, cfg.MetricsConfig()) shared with the scorer
	Rules   func() *checks.RuleSet // the rules in force (reloadable)
	Scorer  *scoring.Scorer        // optional: scores every score_interval, after the first metric refresh
	// Collectors are the sources' jobs (SourceJobs); each run's outcome is
	// stored, for the collector_failing trigger. Jobs are other jobs (the
	// catalog's refresh).
	Collectors []scheduler.Job
	Jobs       []scheduler.Job
	// Notifier, when set, delivers due notifications every NotifyInterval
	// (default 5m).
	Notifier       *notify.Notifier
	NotifyInterval time.Duration
	Webhooks       map[string]http.Handler // mounted at /webhooks/{source}
	Spool          *spool.Spool            // optional: the webhooks' writer; serve drains it while it runs
	Registry       *prometheus.Registry    // shared with collectors.NewMetrics
	Logger         *slog.Logger
}

// LeaseConfig is serve.lease: a ZooKeeper lease that lets several instances
// with jobs run them one at a time.
type LeaseConfig struct {
	ZooKeeper      []string      `yaml:"zookeeper"`       // host:port of each ZooKeeper server
	Path           string        `yaml:"path"`            // default /yardstick/jobs
	SessionTimeout time.Duration `yaml:"session_timeout"` // default 10s
}

// run runs the scheduler, under the lease when one is configured.
func (c LeaseConfig) run(ctx context.Context, sched *scheduler.Scheduler, logger *slog.Logger) {
	if len(c.ZooKeeper) == 0 {
		sched.Run(ctx)
		return
	}
	host, _ := os.Hostname()
	cfg := lease.Config{Servers: c.ZooKeeper, Path: cmp.Or(c.Path, "/yardstick/jobs"), Holder: fmt.Sprintf("%s:%d", host, os.Getpid()),
		SessionTimeout: c.SessionTimeout, Logger: logger}
	if err := lease.Run(ctx, cfg, sched.Run); err != nil {
		logger.ErrorContext(ctx, "scheduled jobs not run: no lease", "err", err)
	}
}

// RunsJobs reports whether serve runs the scheduled jobs.
func (c Config) RunsJobs() bool { return c.Jobs == nil || *c.Jobs }

// jobRunner shows the scheduler to the ui.
type jobRunner struct{ *scheduler.Scheduler }

func (j jobRunner) Jobs() []ui.JobStatus {
	var out []ui.JobStatus
	for _, s := range j.Scheduler.Jobs() {
		out = append(out, ui.JobStatus{Name: s.Name, Interval: s.Interval, Running: s.Running, LastRun: s.LastRun, LastErr: s.LastErr, NextRun: s.NextRun})
	}
	return out
}

// Running is a started `serve`.
type Running struct {
	URL   string
	UI    *ui.Server
	sched *scheduler.Scheduler
	http  *http.Server
	done  chan error
}

// Jobs reports the scheduler's jobs.
func (r *Running) Jobs() []scheduler.Status { return r.sched.Jobs() }

// Wait blocks until the server stops and returns why.
func (r *Running) Wait() error { return <-r.done }

// Start builds the ui on the store, starts the scheduler and listens. It
// returns once the listener is bound; the server stops when ctx ends.
func Start(ctx context.Context, cfg Config, deps Deps) (*Running, error) {
	cfg, err := cfg.WithDefaults()
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
		metrics = store.NewMetrics(deps.DB, cfg.MetricsConfig())
	}
	auth, err := cfg.Auth.UIConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	sched := scheduler.New(logger, time.Now)
	srv, err := ui.New(ui.Config{
		Addr: cfg.Listen, Tokens: tokens,
		Catalog: deps.DB, Metrics: metrics, Scores: deps.DB, Campaigns: deps.DB, Events: deps.DB,
		Rules: ruleSource{deps.Rules}, Health: deps.DB, Jobs: jobRunner{sched}, Notifications: deps.DB, ScoreHistory: deps.DB,
		Embed:      ui.EmbedConfig{FrameAncestors: cfg.Embed.FrameAncestors, Public: cfg.Embed.Public, PublicBadges: cfg.Embed.PublicBadges},
		Auth:       auth,
		Dashboards: dashboards.FS, Benchmark: cfg.benchmark(), Webhooks: deps.Webhooks,
		Registerer: reg, Gatherer: reg, Logger: logger, RequestTimeout: cfg.RequestTimeout, PageCacheTTL: cfg.PageCacheTTL,
	})
	if err != nil {
		return nil, err
	}
	// The metrics job is the one owner of metric refreshes; scoring reads
	// the observations it leaves and waits for its first.
	refreshed := make(chan struct{})
	var firstRefresh sync.Once
	jobs := []scheduler.Job{{Name: "metrics", Interval: cfg.MetricsRefresh, RunAtStart: true, Run: func(ctx context.Context) error {
		if err := metrics.Refresh(ctx); err != nil {
			return err
		}
		firstRefresh.Do(func() { close(refreshed) })
		srv.Invalidate()
		return srv.Warm(ctx)
	}}}
	if deps.Scorer != nil {
		jobs = append(jobs, scheduler.Job{Name: "scoring", Interval: cfg.ScoreInterval, RunAtStart: true, Run: func(ctx context.Context) error {
			select {
			case <-refreshed:
			case <-ctx.Done():
				return ctx.Err()
			}
			// Results go to the store; memory holds two batches at most.
			if _, err := deps.Scorer.Run(ctx, time.Now(), scoring.RunOptions{Discard: true}); err != nil {
				return err
			}
			srv.Invalidate()
			return srv.RefreshGauges(ctx)
		}})
	}
	jobs = append(jobs, recordRuns(deps.DB, deps.Collectors, time.Now)...)
	if deps.Notifier != nil {
		jobs = append(jobs, notifyJob(deps.Notifier, deps.NotifyInterval))
	}
	jobs = append(jobs, deps.Jobs...)
	if !cfg.RunsJobs() {
		// A reader: it serves what the instance with jobs computes.
		jobs = nil
	}
	for _, j := range jobs {
		if err := sched.Add(j); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	r := &Running{URL: "http://" + ln.Addr().String() + "/", UI: srv, sched: sched, http: hs, done: make(chan error, 1)}
	if err := srv.RefreshGauges(ctx); err != nil {
		logger.WarnContext(ctx, "dashboard gauges not refreshed", "err", err)
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { cfg.Lease.run(schedCtx, sched, logger); close(schedDone) }()
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
	logger.InfoContext(ctx, "serving", "url", r.URL, "open", srv.Open(), "jobs", len(jobs))
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

// Run starts serve, prints the URL it serves at to out and waits until ctx
// ends. anyPort takes a free loopback port when the configured one is busy
// (a second demo). When serve cannot start, the spool is closed.
func Run(ctx context.Context, cfg Config, deps Deps, out io.Writer, anyPort bool) error {
	r, err := Start(ctx, cfg, deps)
	if err != nil && anyPort {
		cfg.Listen = "127.0.0.1:0"
		r, err = Start(ctx, cfg, deps)
	}
	if err != nil {
		if deps.Spool != nil {
			err = errors.Join(err, deps.Spool.Close())
		}
		return err
	}
	line := "Yardstick is serving at " + r.URL
	if !r.UI.Open() {
		line += " (token required)"
	}
	fmt.Fprintln(out, line)
	return r.Wait()
}
