// Command yardstick is the one binary of Yardstick: it collects engineering
// events and facts into ClickHouse, scores the catalog against CEL rules and
// serves the dashboards. Run `yardstick --help` for the commands.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/scoring"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/ui"
)

// What the sources, scoring, notifications and the ui read from and write
// to the store.
var (
	_ collectors.Catalog        = (*store.DB)(nil)
	_ collectors.CursorStore    = (*store.DB)(nil)
	_ collectors.Writer         = (*store.DB)(nil)
	_ collectors.EventStore     = (*store.DB)(nil)
	_ scoring.Catalog           = (*store.DB)(nil)
	_ scoring.FactReader        = (*store.DB)(nil)
	_ scoring.FactHistoryReader = (*store.DB)(nil)
	_ scoring.ResultWriter      = (*store.DB)(nil)
	_ scoring.MetricSource      = (*store.Metrics)(nil)
	_ notify.ChangeReader       = (*store.DB)(nil)
	_ notify.CampaignReader     = (*store.DB)(nil)
	_ notify.DigestReader       = (*store.DB)(nil)
	_ notify.MetricReader       = (*store.Metrics)(nil)
	_ notify.CollectorLog       = (*store.DB)(nil)
	_ notify.CatalogReader      = (*store.DB)(nil)
	_ notify.Ledger             = (*store.DB)(nil)
	_ ui.Catalog                = (*store.DB)(nil)
	_ ui.ScoreSource            = (*store.DB)(nil)
	_ ui.CampaignSource         = (*store.DB)(nil)
	_ ui.EventSource            = (*store.DB)(nil)
	_ ui.Pinger                 = (*store.DB)(nil)
	_ ui.MetricSource           = (*store.Metrics)(nil)
	_ ui.NotificationSource     = (*store.DB)(nil)
	_ ui.ScoreHistory           = (*store.DB)(nil)
)

// app is what every command shares: configuration, logger, metrics registry and
// the clock. Commands open the store through it.
type app struct {
	configPath string
	dataDir    string
	dsn        string
	logLevel   string
	cpuProfile string

	sources *collectors.Registry
	// demoRules are the embedded demo rules, used when neither --rules nor
	// rules.dir is set.
	demoRules fs.FS
	cfg       config
	logger    *slog.Logger
	registry  *prometheus.Registry
	metrics   *collectors.Metrics
	now       func() time.Time
	out       io.Writer
	errOut    io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code for errors already reported to the user.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	tuneGC()
	a := &app{sources: newSources(), demoRules: fixtures.Rules(), now: time.Now, out: stdout, errOut: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		// One clear line, no stack trace.
		fmt.Fprintln(stderr, "yardstick:", err)
		return 1
	}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "yardstick",
		Short:         "Engineering metrics and scorecards from your Git hosts, trackers and on-call tools, keyed by your Backstage catalog",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			pprof.StopCPUProfile()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&a.configPath, "config", "", "config file (default ./yardstick.yaml when it exists; env YARDSTICK_CONFIG)")
	f.StringVar(&a.dataDir, "data-dir", "", "where the local ClickHouse keeps its data (default ./.yardstick; env YARDSTICK_DATA_DIR)")
	f.StringVar(&a.dsn, "clickhouse", "", "ClickHouse DSN, e.g. clickhouse://user:pass@host:9000/yardstick; empty runs a local server (env YARDSTICK_CLICKHOUSE_DSN)")
	f.StringVar(&a.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = f.MarkHidden("cpuprofile")
	for _, c := range a.commands() {
		root.AddCommand(c)
	}
	return root
}

// commands lists every subcommand; each lives in its own file.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		newMigrateCmd(a),
		newCatalogCmd(a),
		newIngestCmd(a),
		newGenerateCmd(a),
		newSQLCmd(a),
		newDemoCmd(a),
		newCollectCmd(a, a.sources),
		newScoreCmd(a),
		newRulesCmd(a),
		newServeCmd(a),
		newBenchCmd(a),
		newNotifyCmd(a),
	}
}

func (a *app) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", a.logLevel, err)
	}
	a.logger = slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: level}))
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(a.configPath, a.sources)
	if err != nil {
		return err
	}
	// Flags beat the environment, which beats the file.
	cfg.DataDir = cmp.Or(a.dataDir, os.Getenv("YARDSTICK_DATA_DIR"), cfg.DataDir, ".yardstick")
	cfg.ClickHouse.DSN = cmp.Or(a.dsn, os.Getenv("YARDSTICK_CLICKHOUSE_DSN"), cfg.ClickHouse.DSN)
	if cfg.ClickHouse.ReadTimeout < 0 || cfg.ClickHouse.WriteTimeout < 0 {
		return fmt.Errorf("clickhouse.read_timeout and clickhouse.write_timeout must not be negative: %w", yardstick.ErrInvalid)
	}
	a.cfg = cfg
	a.registry = prometheus.NewRegistry()
	a.metrics = collectors.NewMetrics(a.registry)
	return nil
}

// openStore opens the configured store; the caller closes it.
func (a *app) openStore(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, store.Config{
		DSN: a.cfg.ClickHouse.DSN, DataDir: a.cfg.DataDir, Database: a.cfg.ClickHouse.Database, Cluster: a.cfg.ClickHouse.Cluster, Logger: a.logger,
		ScopesOf: a.sources.ScopesOf, FactNamespaces: a.sources.FactNamespaces,
		ReadTimeout: a.cfg.ClickHouse.ReadTimeout, WriteTimeout: a.cfg.ClickHouse.WriteTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return db, nil
}

// withStore is a command's RunE that opens the configured store first and
// closes it after run.
func (a *app) withStore(run func(cmd *cobra.Command, args []string, db *store.DB) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		db, err := a.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer db.Close()
		return run(cmd, args, db)
	}
}

// GCPercent is the garbage collector's growth target for every command, unless
// GOGC is set. Scoring runs and dashboard reads allocate short-lived values at a
// high rate: letting the heap grow 4x between collections instead of 2x cuts
// about a sixth of a scoring run's CPU, and the memory limit below keeps the
// heap bounded all the same. scoring's benchmarks use the same value.
const GCPercent = 400

// tuneGC applies GCPercent and a soft memory limit of three quarters of the
// machine's memory, leaving GOGC and GOMEMLIMIT to the user when they are set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := procKB("/proc/meminfo", "MemTotal") * 1024; total > 0 {
			debug.SetMemoryLimit(total / 4 * 3)
		}
	}
}

// procKB reads a "Key: N kB" line of a /proc file (MemTotal of
// /proc/meminfo, VmHWM of /proc/self/status), 0 where /proc is missing.
func procKB(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	return 0
}
