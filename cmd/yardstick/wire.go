package main

import (
	"context"
	"fmt"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/serve"
	"github.com/yardstick-dev/yardstick/store"
)

// serveDeps builds what `serve` runs on the open store: the rules in force,
// scoring, the enabled sources' jobs and the webhook handlers of the sources
// that have secrets configured.
func (a *app) serveDeps(ctx context.Context, db *store.DB) (serve.Deps, error) {
	cfg, err := a.cfg.Serve.WithDefaults()
	if err != nil {
		return serve.Deps{}, err
	}
	env, set, where, err := a.loadRules(&a.cfg.Rules, "", fixtures.Rules())
	if err != nil {
		return serve.Deps{}, err
	}
	a.logger.InfoContext(ctx, "rules loaded", "from", where, "scorecards", len(set.Scorecards), "campaigns", len(set.Campaigns))
	metrics := store.NewMetrics(db, cfg.MetricsConfig())
	jobs, hooks, err := a.sourceJobs(db, a.sources, cfg.CollectorInterval)
	if err != nil {
		return serve.Deps{}, err
	}
	return serve.Deps{
		DB:       db,
		Metrics:  metrics,
		Rules:    func() *checks.RuleSet { return set },
		Scorer:   a.newScorerWith(db, env, set, &a.cfg.Rules, metrics),
		Jobs:     jobs,
		Webhooks: hooks,
		Registry: a.registry,
		Logger:   a.logger,
	}, nil
}

// serveDemo ends `yardstick demo`: the dashboards of the demo organisation,
// scored again every interval, until Ctrl-C.
func (a *app) serveDemo(ctx context.Context, db *store.DB) error {
	deps, err := a.serveDeps(ctx, db)
	if err != nil {
		return err
	}
	cfg := a.cfg.Serve
	cfg.Listen = firstNonEmpty(cfg.Listen, serve.DefaultListen)
	r, err := serve.Start(ctx, cfg, deps)
	if err != nil {
		// A busy default port is common (a second demo): take any free port instead.
		cfg.Listen = "127.0.0.1:0"
		if r, err = serve.Start(ctx, cfg, deps); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.out, serveURLLine(r, r.UI.Open()))
	fmt.Fprintln(a.out, "Ctrl-C stops the demo.")
	return r.Wait()
}
