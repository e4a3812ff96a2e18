package scoring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// DefaultRunCostBudget caps the CEL cost of one whole run, as Kubernetes caps
// the cost of one admission request: generous for 10,000 entities × 100
// checks, small enough that a rule set gone wrong cannot keep a run busy for
// long. Evaluations after the budget is spent are unknown.
const DefaultRunCostBudget = 10_000_000_000

// ErrBudget is the error of evaluations skipped because the run spent its cost budget.
var ErrBudget = errors.New("run cost budget exhausted")

// Engine scores entities against one rule set. It is safe for concurrent use.
type Engine struct {
	env     *checks.Env
	rules   *checks.RuleSet
	workers int
	budget  uint64
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Workers evaluating in parallel; 0 means GOMAXPROCS.
	Workers int
	// RunCostBudget caps the CEL cost of one run; 0 means DefaultRunCostBudget.
	RunCostBudget uint64
}

// NewEngine returns an engine for rules, compiled in env.
func NewEngine(env *checks.Env, rules *checks.RuleSet, cfg EngineConfig) *Engine {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.RunCostBudget == 0 {
		cfg.RunCostBudget = DefaultRunCostBudget
	}
	return &Engine{env: env, rules: rules, workers: cfg.Workers, budget: cfg.RunCostBudget}
}

// Rules returns the engine's rule set.
func (e *Engine) Rules() *checks.RuleSet { return e.rules }

// Input is what one run scores.
type Input struct {
	RunID    string
	At       time.Time // the run's now: exemptions expire and daysSince counts against it
	Entities []yardstick.Entity
	Facts    map[yardstick.EntityRef]yardstick.Facts
	Metrics  map[yardstick.EntityRef]map[string]float64
}

// Run is the outcome of scoring every entity.
type Run struct {
	ID          string
	At          time.Time
	Scores      []EntityScore // by entity (catalog order), then scorecard id
	Campaigns   []yardstick.CampaignResult
	Problems    []error // appliesTo errors and entities that could not be read; the run goes on without them
	Evaluations int64   // CEL evaluations of checks and done expressions
	Cost        uint64  // CEL cost spent
}

// Evaluate scores every entity of in on every scorecard and campaign, using
// the engine's workers. It returns an error only when ctx ends; rule and
// data problems are in Run.Problems and in unknown check states.
func (e *Engine) Evaluate(ctx context.Context, in Input) (*Run, error) {
	type slot struct {
		scores    []EntityScore
		campaigns []yardstick.CampaignResult
		problems  []error
	}
	slots := make([]slot, len(in.Entities))
	var (
		next  atomic.Int64
		evals atomic.Int64
		spent atomic.Uint64
		wg    sync.WaitGroup
	)
	const chunk = 16 // entities a worker takes at once
	for range min(e.workers, max(1, len(in.Entities))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= len(in.Entities) || ctx.Err() != nil {
					return
				}
				for i := start; i < min(start+chunk, len(in.Entities)); i++ {
					if ctx.Err() != nil { // a shutdown stops the run between entities
						return
					}
					s := &slots[i]
					budgetLeft := spent.Load() < e.budget
					s.scores, s.campaigns, s.problems = e.entity(ctx, &in.Entities[i], in, budgetLeft, &evals, &spent)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("score run %s: %w", in.RunID, err)
	}
	run := &Run{ID: in.RunID, At: in.At, Evaluations: evals.Load(), Cost: spent.Load()}
	nScores, nCampaigns := 0, 0
	for _, s := range slots {
		nScores += len(s.scores)
		nCampaigns += len(s.campaigns)
	}
	run.Scores = make([]EntityScore, 0, nScores)
	run.Campaigns = make([]yardstick.CampaignResult, 0, nCampaigns)
	for _, s := range slots {
		run.Scores = append(run.Scores, s.scores...)
		run.Campaigns = append(run.Campaigns, s.campaigns...)
		run.Problems = append(run.Problems, s.problems...)
	}
	return run, nil
}

// entity scores one entity on every scorecard and campaign.
func (e *Engine) entity(ctx context.Context, ent *yardstick.Entity, in Input, budgetLeft bool, evals *atomic.Int64, spent *atomic.Uint64) ([]EntityScore, []yardstick.CampaignResult, []error) {
	view, err := checks.NewEntity(*ent)
	if err != nil {
		return nil, nil, []error{err}
	}
	if !budgetLeft {
		return nil, nil, []error{fmt.Errorf("entity %s not scored: %w", ent.Ref, ErrBudget)}
	}
	m := newMeter(e.env.Activation(checks.Input{Entity: view, Facts: in.Facts[ent.Ref], Metrics: in.Metrics[ent.Ref], Now: in.At}))
	defer m.close()
	var (
		scores    []EntityScore
		campaigns []yardstick.CampaignResult
		problems  []error
	)
	for _, sc := range e.rules.Scorecards {
		s, ok, err := m.scoreEntity(ctx, sc, &view, in.At)
		if err != nil {
			problems = append(problems, err)
		}
		if ok {
			scores = append(scores, s)
		}
	}
	for _, c := range e.rules.Campaigns {
		r, ok, err := m.campaign(ctx, c, &view)
		if err != nil {
			problems = append(problems, err)
		}
		if ok {
			r.RunID, r.RunAt = in.RunID, in.At
			campaigns = append(campaigns, r)
		}
	}
	evals.Add(m.evals)
	spent.Add(m.cost)
	return scores, campaigns, problems
}

// CheckResults returns the run's check results as history rows.
func (r *Run) CheckResults() []yardstick.CheckResult {
	n := 0
	for _, s := range r.Scores {
		n += len(s.Checks)
	}
	out := make([]yardstick.CheckResult, 0, n)
	for _, s := range r.Scores {
		for _, c := range s.Checks {
			out = append(out, yardstick.CheckResult{
				RunID: r.ID, RunAt: r.At, Scorecard: s.Scorecard.ID, CheckID: c.Check.ID,
				Entity: s.Entity, Owner: s.Owner, Level: c.Check.Level.Name,
				State: c.State, Value: c.Value, Message: c.Message,
			})
		}
	}
	return out
}

// Summaries returns the run's level and score per scorecard and entity.
func (r *Run) Summaries() []yardstick.ScoreSummary {
	out := make([]yardstick.ScoreSummary, len(r.Scores))
	for i, s := range r.Scores {
		out[i] = yardstick.ScoreSummary{
			RunID: r.ID, RunAt: r.At, Scorecard: s.Scorecard.ID, Entity: s.Entity, Owner: s.Owner,
			Level: s.Level.Name, LevelRank: s.Level.Rank, Score: s.Score,
		}
	}
	return out
}
