package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

// serveDeps builds what `serve` runs on the open store: the rules in force,
// the configured collectors and scoring as scheduled jobs, and the webhook
// handlers of the sources that have secrets configured.
func (a *app) serveDeps(ctx context.Context, db *store.DB) (serveDeps, error) {
	cfg, err := a.cfg.Serve.withDefaults()
	if err != nil {
		return serveDeps{}, err
	}
	env, set, where, err := a.loadRules(&a.cfg.Rules, "", fixtures.Rules())
	if err != nil {
		return serveDeps{}, err
	}
	a.logger.InfoContext(ctx, "rules loaded", "from", where, "scorecards", len(set.Scorecards), "campaigns", len(set.Campaigns))
	metrics := store.NewMetrics(db, cfg.metricsConfig())
	deps := serveDeps{
		DB:       db,
		Metrics:  metrics,
		Rules:    func() *checks.RuleSet { return set },
		Webhooks: map[string]http.Handler{},
		Registry: a.registry,
		Logger:   a.logger,
	}
	scorer := a.newScorerWith(db, env, set, &a.cfg.Rules, metrics)
	deps.Jobs = append(deps.Jobs, scoringJob(scorer, cfg.ScoreInterval, a.now))
	deps.Jobs = append(deps.Jobs, a.catalogJobs(db)...)

	// Webhook deliveries are acknowledged once on disk in the spool, which
	// writes them to the store (startServe drains it).
	sp, err := spool.Open(spool.Config{Dir: firstNonEmpty(cfg.Spool.Dir, filepath.Join(a.cfg.DataDir, "spool")),
		MaxBytes: cfg.Spool.MaxBytes, Registerer: a.registry, Logger: a.logger.With("component", "spool")}, db)
	if err != nil {
		return serveDeps{}, err
	}
	deps.Spool = sp
	runner := collectors.NewRunner(db, db, a.metrics, a.logger, 0)
	if a.cfg.GitHub.BaseURL != "" || os.Getenv(firstNonEmpty(a.cfg.GitHub.TokenEnv, "GITHUB_TOKEN")) != "" || a.cfg.GitHub.App != nil {
		jobs, err := a.gitHubJobs(db, runner, cfg.collectorInterval("github"))
		if err != nil {
			return serveDeps{}, err
		}
		deps.Jobs = append(deps.Jobs, jobs...)
		h, err := a.newGitHubWebhook(db, sp)
		if err != nil {
			return serveDeps{}, err
		}
		if h != nil {
			deps.Webhooks["github"] = h
		}
	}
	if a.cfg.Jira.BaseURL != "" {
		jc, err := a.cfg.Jira.collectorConfig(os.Getenv)
		if err != nil {
			return serveDeps{}, err
		}
		c, err := a.newJiraCollector(db, jc)
		if err != nil {
			return serveDeps{}, err
		}
		deps.Jobs = append(deps.Jobs, collectorJob(runner, c, c.ConfigHash(), cfg.collectorInterval("jira")))
		h, err := a.newJiraWebhook(db, sp)
		if err != nil {
			return serveDeps{}, err
		}
		if h != nil {
			deps.Webhooks["jira"] = h
		}
	}
	pd, hash, err := a.configuredPagerDuty(db)
	if err != nil {
		return serveDeps{}, err
	}
	if pd != nil {
		deps.Jobs = append(deps.Jobs, collectorJob(runner, pd, hash, cfg.collectorInterval("pagerduty")))
		h, err := a.newPagerDutyWebhook(db, sp)
		if err != nil {
			return serveDeps{}, err
		}
		if h != nil {
			deps.Webhooks["pagerduty"] = h
		}
	}
	deps.Jobs = recordCollectorRuns(db, deps.Jobs, a.now)
	n, err := a.newNotifier(db, metrics, set)
	if err != nil {
		return serveDeps{}, err
	}
	deps.Jobs = append(deps.Jobs, notifyJob(n, a.cfg.Notify.Interval))
	return deps, nil
}

// serveDemo ends `yardstick demo`: the dashboards of the demo organisation,
// scored again every interval, until Ctrl-C.
func (a *app) serveDemo(ctx context.Context, db *store.DB) error {
	deps, err := a.serveDeps(ctx, db)
	if err != nil {
		return err
	}
	listen := firstNonEmpty(a.cfg.Serve.Listen, "127.0.0.1:8080")
	cfg := a.cfg.Serve
	cfg.Listen = listen
	r, err := startServe(ctx, cfg, deps)
	if err != nil {
		// A busy default port is common (a second demo): take any free port instead.
		cfg.Listen = "127.0.0.1:0"
		if r, err = startServe(ctx, cfg, deps); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.out, serveURLLine(r, r.UI.Open()))
	fmt.Fprintln(a.out, "Ctrl-C stops the demo.")
	return r.Wait()
}
