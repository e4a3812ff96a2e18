package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

// defaultNotifyInterval is how often due notifications go out when
// notify.interval is not set.
const defaultNotifyInterval = 5 * time.Minute

// SourceJobs builds the jobs and webhooks of every enabled source of reg
// (configs holds each one's decoded section): the collector on its interval,
// its reconcile pass when it has one, and its webhook when its config names a
// secret. Webhooks write and withdraw through sp.
func SourceJobs(reg *collectors.Registry, configs map[string]collectors.SourceConfig, deps collectors.Deps, sp *spool.Spool, interval func(string) time.Duration) ([]scheduler.Job, map[string]http.Handler, error) {
	var jobs []scheduler.Job
	hooks := map[string]http.Handler{}
	runner := collectors.NewRunner(deps.Cursors, deps.Writer, deps.Metrics, deps.Logger, 0)
	hookDeps := deps
	hookDeps.Writer, hookDeps.Events = sp, spoolEvents{deps.Events, sp}
	for _, s := range reg.Sources() {
		cfg := configs[s.Name]
		if cfg == nil || !cfg.Enabled() {
			continue
		}
		if err := cfg.Validate(deps.Getenv); err != nil {
			return nil, nil, err
		}
		col, err := s.New(cfg, deps)
		if err != nil {
			return nil, nil, err
		}
		hash := cfg.Hash()
		jobs = append(jobs, scheduler.Job{Name: s.Name, Interval: interval(s.Name), RunAtStart: true, Run: func(ctx context.Context) error {
			_, err := runner.Run(ctx, col, hash)
			if errors.Is(err, collectors.ErrAlreadyRunning) {
				return fmt.Errorf("%w: %w", scheduler.ErrSkipped, err)
			}
			return err
		}})
		if rec, ok := col.(collectors.Reconciler); ok {
			jobs = append(jobs, scheduler.Job{Name: s.Name + "-reconcile", Interval: rec.ReconcileInterval(), Run: func(ctx context.Context) error {
				_, err := rec.ReconcileOnce(ctx)
				return err
			}})
		}
		if s.Webhook == nil {
			continue
		}
		h, err := s.Webhook(cfg, hookDeps)
		if err != nil {
			return nil, nil, err
		}
		if h != nil {
			hooks[s.Name] = h
		}
	}
	return jobs, hooks, nil
}

// spoolEvents reads events from the store and withdraws them through the
// spool, in order with the deliveries waiting there.
type spoolEvents struct {
	collectors.EventStore
	sp *spool.Spool
}

func (s spoolEvents) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	return s.sp.DeleteEvents(ctx, events)
}

// recordRuns wraps collector jobs so each run's outcome is stored, for the
// collector_failing trigger.
func recordRuns(db *store.DB, jobs []scheduler.Job, now func() time.Time) []scheduler.Job {
	out := make([]scheduler.Job, len(jobs))
	for i, j := range jobs {
		out[i] = j
		out[i].Run = func(ctx context.Context) error {
			err := j.Run(ctx)
			r := yardstick.CollectorRun{Collector: j.Name, At: now()}
			if err != nil {
				r.Err = err.Error()
			}
			if rerr := db.RecordCollectorRun(context.WithoutCancel(ctx), r); rerr != nil && err == nil {
				return rerr
			}
			return err
		}
	}
	return out
}

// notifyJob delivers due notifications every interval (default 5m).
func notifyJob(n *notify.Notifier, interval time.Duration) scheduler.Job {
	if interval == 0 {
		interval = defaultNotifyInterval
	}
	return scheduler.Job{Name: "notify", Interval: interval, Run: func(ctx context.Context) error {
		_, err := n.Tick(ctx)
		return err
	}}
}
