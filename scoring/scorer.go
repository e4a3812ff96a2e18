package scoring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// What scoring needs from the store. *store.DB satisfies each of these; the
// compile-time checks live in cmd/yardstick.

// Catalog lists the catalog's entities.
type Catalog interface {
	// Entities returns every current entity of the catalog.
	Entities(ctx context.Context) ([]yardstick.Entity, error)
}

// FactReader reads the latest facts of entities in one bulk query.
type FactReader interface {
	// LatestFacts returns the latest facts of each ref (all entities when refs
	// is empty), decoded JSON by source and name. Entities without facts are absent.
	LatestFacts(ctx context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error)
}

// FactHistoryReader reads facts as they were known at a past time.
type FactHistoryReader interface {
	// FactsAsOf is LatestFacts as the store knew them at t.
	FactsAsOf(ctx context.Context, refs []yardstick.EntityRef, t time.Time) (map[yardstick.EntityRef]yardstick.Facts, error)
}

// MetricSource computes named metrics for every entity at once.
type MetricSource interface {
	// MetricsByEntity computes names for every entity that owns a source
	// scope, over w, with one query per metric (family) for all entities,
	// never one per entity. A metric without observations is absent from an
	// entity's map, so the checks that read it are unknown; counting metrics
	// are zero instead. An unknown name is an error wrapping
	// yardstick.ErrNotFound (rule files are checked against
	// yardstick.MetricCatalog when they load, so scoring never sends one).
	MetricsByEntity(ctx context.Context, names []string, w yardstick.Window) (map[yardstick.EntityRef]map[string]float64, error)
}

// ResultWriter stores what a run found, so history and trends are queries.
type ResultWriter interface {
	WriteCheckResults(ctx context.Context, results []yardstick.CheckResult) error
	WriteScoreSummaries(ctx context.Context, summaries []yardstick.ScoreSummary) error
	WriteCampaignResults(ctx context.Context, results []yardstick.CampaignResult) error
}

// DefaultMetricWeeks is the window metrics are computed over, ending at the run time.
const DefaultMetricWeeks = 4

// Sources are where a Scorer reads and writes.
type Sources struct {
	Catalog Catalog
	Facts   FactReader
	History FactHistoryReader // needed by RunAsOf only
	Metrics MetricSource      // nil: no metrics, checks reading them are unknown
	Results ResultWriter      // nil: runs are not stored
}

// Scorer runs an Engine over the catalog and stores the results.
type Scorer struct {
	engine      *Engine
	src         Sources
	logger      *slog.Logger
	metricWeeks int
}

// NewScorer returns a scorer. metricWeeks is the metrics window in weeks (0
// means DefaultMetricWeeks).
func NewScorer(engine *Engine, src Sources, metricWeeks int, logger *slog.Logger) *Scorer {
	if metricWeeks <= 0 {
		metricWeeks = DefaultMetricWeeks
	}
	return &Scorer{engine: engine, src: src, logger: logger, metricWeeks: metricWeeks}
}

// RunOptions narrow a run.
type RunOptions struct {
	// Entities limits the run to these refs (e.g. a CI gate on one component);
	// empty means the whole catalog.
	Entities []yardstick.EntityRef
	// DryRun scores without writing results.
	DryRun bool
}

// Run scores the catalog with the latest facts at now and stores the run.
func (s *Scorer) Run(ctx context.Context, now time.Time, opts RunOptions) (*Run, error) {
	now = now.UTC().Truncate(time.Second)
	return s.run(ctx, now, newRunID(now), opts, func(refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
		return s.src.Facts.LatestFacts(ctx, refs)
	})
}

// RunAsOf scores the catalog with the facts known at t and stores the run
// with run time t, so that history (burndowns, trends) can be rebuilt for
// past dates. It uses the current catalog. Its run id is "asof-" and the time:
// replaying the same date writes the same rows, which the tables keep once.
func (s *Scorer) RunAsOf(ctx context.Context, t time.Time, opts RunOptions) (*Run, error) {
	if s.src.History == nil {
		return nil, fmt.Errorf("score as of %s: no fact history reader", t.Format(time.DateOnly))
	}
	t = t.UTC().Truncate(time.Second)
	return s.run(ctx, t, "asof-"+t.Format(runIDTime), opts, func(refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
		return s.src.History.FactsAsOf(ctx, refs, t)
	})
}

// Backfill scores the catalog as of every step from `from` up to (not
// including) `to`, oldest first, giving burndowns and trends their history.
// Backfilling the same dates again rewrites the same rows.
func (s *Scorer) Backfill(ctx context.Context, from, to time.Time, step time.Duration) ([]*Run, error) {
	if step <= 0 {
		return nil, fmt.Errorf("backfill %s..%s: step %s must be positive: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), step, yardstick.ErrInvalid)
	}
	var runs []*Run
	for t := from; t.Before(to); t = t.Add(step) {
		r, err := s.RunAsOf(ctx, t, RunOptions{})
		if err != nil {
			return runs, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// run scores at time at (whole seconds: run_at is a DateTime) under runID.
func (s *Scorer) run(ctx context.Context, at time.Time, runID string, opts RunOptions, facts func([]yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error)) (*Run, error) {
	entities, err := s.src.Catalog.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("score: read catalog: %w", err)
	}
	if len(opts.Entities) > 0 {
		entities, err = only(entities, opts.Entities)
		if err != nil {
			return nil, err
		}
	}
	refs := make([]yardstick.EntityRef, len(entities))
	for i, e := range entities {
		refs[i] = e.Ref
	}
	in := Input{RunID: runID, At: at, Entities: entities}
	if in.Facts, err = facts(refs); err != nil {
		return nil, fmt.Errorf("score: read facts: %w", err)
	}
	if in.Metrics, err = s.metrics(ctx, at); err != nil {
		return nil, fmt.Errorf("score: read metrics: %w", err)
	}
	run, err := s.engine.Evaluate(ctx, in)
	if err != nil {
		return nil, err
	}
	const maxLogged = 10 // a broken appliesTo fails once per entity: log a sample and the count
	for _, p := range run.Problems[:min(len(run.Problems), maxLogged)] {
		s.logger.WarnContext(ctx, "rule problem during scoring", "run", run.ID, "err", p)
	}
	if len(run.Problems) > maxLogged {
		s.logger.WarnContext(ctx, "more rule problems during scoring", "run", run.ID, "count", len(run.Problems)-maxLogged)
	}
	s.logger.InfoContext(ctx, "scored", "run", run.ID, "at", at, "entities", len(entities),
		"scores", len(run.Scores), "campaign_results", len(run.Campaigns), "evaluations", run.Evaluations)
	if opts.DryRun || s.src.Results == nil {
		return run, nil
	}
	if err := s.write(ctx, run); err != nil {
		return nil, err
	}
	return run, nil
}

func (s *Scorer) write(ctx context.Context, run *Run) error {
	if err := s.src.Results.WriteCheckResults(ctx, run.CheckResults()); err != nil {
		return fmt.Errorf("store run %s: %w", run.ID, err)
	}
	if err := s.src.Results.WriteScoreSummaries(ctx, run.Summaries()); err != nil {
		return fmt.Errorf("store run %s: %w", run.ID, err)
	}
	if err := s.src.Results.WriteCampaignResults(ctx, run.Campaigns); err != nil {
		return fmt.Errorf("store run %s: %w", run.ID, err)
	}
	return nil
}

// metrics asks the source for the metrics the rules read, over the metric
// window ending at at.
func (s *Scorer) metrics(ctx context.Context, at time.Time) (map[yardstick.EntityRef]map[string]float64, error) {
	names := s.engine.rules.MetricNames()
	if s.src.Metrics == nil || len(names) == 0 {
		return nil, nil
	}
	return s.src.Metrics.MetricsByEntity(ctx, names, yardstick.Window{From: at.AddDate(0, 0, -7*s.metricWeeks), To: at})
}

func only(entities []yardstick.Entity, refs []yardstick.EntityRef) ([]yardstick.Entity, error) {
	byRef := make(map[yardstick.EntityRef]yardstick.Entity, len(entities))
	for _, e := range entities {
		byRef[e.Ref] = e
	}
	out := make([]yardstick.Entity, 0, len(refs))
	for _, r := range refs {
		e, ok := byRef[r]
		if !ok {
			return nil, fmt.Errorf("score entity %s: %w", r, yardstick.ErrNotFound)
		}
		out = append(out, e)
	}
	return out, nil
}

// newRunID names a run by its time plus a random suffix, so two runs at the
// same second stay apart.
func newRunID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return at.UTC().Format(runIDTime) + "-" + hex.EncodeToString(b[:])
}

const runIDTime = "20060102T150405Z"
