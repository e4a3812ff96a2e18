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

// Catalog reads the catalog's entities a page at a time.
type Catalog interface {
	// EntityPage returns at most limit current entities whose refs sort
	// after after ("" for the first page), ordered by ref.
	EntityPage(ctx context.Context, after yardstick.EntityRef, limit int) ([]yardstick.Entity, error)
	// Entity returns one entity, an error wrapping yardstick.ErrNotFound when
	// the catalog has no such ref.
	Entity(ctx context.Context, ref yardstick.EntityRef) (yardstick.Entity, error)
}

// FactReader reads the latest facts of a batch of entities in one query.
type FactReader interface {
	// LatestFacts returns the latest facts of each ref (all entities when refs
	// is empty), decoded JSON by source and name. Entities without facts are
	// absent. Its statement must not grow with len(refs).
	LatestFacts(ctx context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error)
}

// FactHistoryReader reads facts as they were known at a past time.
type FactHistoryReader interface {
	// FactsAsOf is LatestFacts as the store knew them at t.
	FactsAsOf(ctx context.Context, refs []yardstick.EntityRef, t time.Time) (map[yardstick.EntityRef]yardstick.Facts, error)
}

// MetricSource computes named metrics for a batch of entities at once.
type MetricSource interface {
	// EntityMetrics computes names for each of refs that owns a source scope,
	// over w, with one query per metric (family) for the whole batch, never
	// one per entity. A metric without observations is absent from an
	// entity's map, so the checks that read it are unknown; counting metrics
	// are zero instead. An unknown name is an error wrapping
	// yardstick.ErrNotFound (rule files are checked against
	// yardstick.MetricCatalog when they load, so scoring never sends one).
	EntityMetrics(ctx context.Context, names []string, w yardstick.Window, refs []yardstick.EntityRef) (map[yardstick.EntityRef]map[string]float64, error)
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

// DefaultBatch is how many entities a run reads, evaluates and writes at a
// time: a run's memory depends on it (twice: the next batch is read while one
// is scored), not on the catalog's size.
const DefaultBatch = 2000

// maxProblems bounds the problems a Run keeps; Run.ProblemCount has them all.
const maxProblems = 1000

// RunOptions narrow a run.
type RunOptions struct {
	// Entities limits the run to these refs (e.g. a CI gate on one component);
	// empty means the whole catalog.
	Entities []yardstick.EntityRef
	// DryRun scores without writing results.
	DryRun bool
	// Discard keeps only the counts in the returned Run, not its scores and
	// campaign results: a run that only stores its results (serve's scoring
	// job) then holds no more than two batches at a time.
	Discard bool
	// Batch is how many entities are read, evaluated and written at a time; 0
	// means DefaultBatch.
	Batch int
}

// Run scores the catalog with the latest facts at now and stores the run.
func (s *Scorer) Run(ctx context.Context, now time.Time, opts RunOptions) (*Run, error) {
	now = now.UTC().Truncate(time.Second)
	return s.run(ctx, now, newRunID(now), opts, func(ctx context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
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
	return s.run(ctx, t, "asof-"+t.Format(runIDTime), opts, func(ctx context.Context, refs []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error) {
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

// run scores at time at (whole seconds: run_at is a DateTime) under runID,
// a batch of entities at a time: each batch's entities, facts and metrics are
// read (the next batch while this one is evaluated), evaluated and written.
func (s *Scorer) run(ctx context.Context, at time.Time, runID string, opts RunOptions, facts func(context.Context, []yardstick.EntityRef) (map[yardstick.EntityRef]yardstick.Facts, error)) (*Run, error) {
	start := time.Now()
	batch := opts.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inputs := make(chan Input, 1) // one batch read ahead
	readErr := make(chan error, 1)
	go func() {
		defer close(inputs)
		readErr <- s.batches(ctx, opts.Entities, batch, func(es []yardstick.Entity) error {
			refs := make([]yardstick.EntityRef, len(es))
			for i, e := range es {
				refs[i] = e.Ref
			}
			in := Input{RunID: runID, At: at, Entities: es}
			var err error
			if in.Facts, err = facts(ctx, refs); err != nil {
				return fmt.Errorf("score: read facts: %w", err)
			}
			if in.Metrics, err = s.metrics(ctx, at, refs); err != nil {
				return fmt.Errorf("score: read metrics: %w", err)
			}
			select {
			case inputs <- in:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	out := &Run{ID: runID, At: at}
	entities := 0
	for in := range inputs {
		run, err := s.engine.evaluate(ctx, in, out.Cost)
		if err == nil && !opts.DryRun && s.src.Results != nil {
			err = s.write(ctx, run)
		}
		if err != nil {
			cancel()
			for range inputs { // let the reader stop
			}
			return nil, err
		}
		entities += len(in.Entities)
		out.add(run, !opts.Discard)
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	const maxLogged = 10 // a broken appliesTo fails once per entity: log a sample and the count
	for _, p := range out.Problems[:min(len(out.Problems), maxLogged)] {
		s.logger.WarnContext(ctx, "rule problem during scoring", "run", out.ID, "err", p)
	}
	if out.ProblemCount > maxLogged {
		s.logger.WarnContext(ctx, "more rule problems during scoring", "run", out.ID, "count", out.ProblemCount-maxLogged)
	}
	s.logger.InfoContext(ctx, "scored", "run", out.ID, "at", at, "entities", entities,
		"scores", out.ScoreCount, "campaign_results", out.CampaignCount, "evaluations", out.Evaluations, "duration", time.Since(start))
	return out, nil
}

// batches calls fn with the entities of refs, or of the whole catalog when
// refs is empty, at most n at a time.
func (s *Scorer) batches(ctx context.Context, refs []yardstick.EntityRef, n int, fn func([]yardstick.Entity) error) error {
	if len(refs) > 0 {
		for start := 0; start < len(refs); start += n {
			es := make([]yardstick.Entity, 0, min(n, len(refs)-start))
			for _, r := range refs[start:min(start+n, len(refs))] {
				e, err := s.src.Catalog.Entity(ctx, r)
				if err != nil {
					return fmt.Errorf("score entity %s: %w", r, err)
				}
				es = append(es, e)
			}
			if err := fn(es); err != nil {
				return err
			}
		}
		return nil
	}
	var after yardstick.EntityRef
	for {
		es, err := s.src.Catalog.EntityPage(ctx, after, n)
		if err != nil {
			return fmt.Errorf("score: read catalog: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		if err := fn(es); err != nil {
			return err
		}
		if len(es) < n {
			return nil
		}
		after = es[len(es)-1].Ref
	}
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

// metrics asks the source for the metrics the rules read for refs, over the
// metric window ending at at.
func (s *Scorer) metrics(ctx context.Context, at time.Time, refs []yardstick.EntityRef) (map[yardstick.EntityRef]map[string]float64, error) {
	names := s.engine.rules.MetricNames()
	if s.src.Metrics == nil || len(names) == 0 {
		return nil, nil
	}
	return s.src.Metrics.EntityMetrics(ctx, names, yardstick.Window{From: at.AddDate(0, 0, -7*s.metricWeeks), To: at}, refs)
}

// newRunID names a run by its time plus a random suffix, so two runs at the
// same second stay apart.
func newRunID(at time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return at.UTC().Format(runIDTime) + "-" + hex.EncodeToString(b[:])
}

const runIDTime = "20060102T150405Z"
