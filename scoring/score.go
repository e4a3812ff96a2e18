// Package scoring runs the checks of every scorecard and campaign over the
// catalog: check states, levels, weighted scores, exemptions, rollups per
// squad, system and domain, campaign progress and history.
package scoring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
)

// CheckOutcome is one check's result for one entity.
type CheckOutcome struct {
	Check   *checks.Check
	State   yardstick.CheckState
	Value   string // what the check saw, for failing and unknown checks
	Message string // why unknown, or the exemption and its expiry
}

// EntityScore is one scorecard's verdict on one entity.
type EntityScore struct {
	Scorecard *checks.Scorecard
	Entity    yardstick.EntityRef
	Owner     yardstick.EntityRef
	Level     yardstick.Level // Rank 0: no level reached
	Score     float64         // weighted percentage of passing checks, 0..100
	Checks    []CheckOutcome  // the checks that apply, in file order
}

// Counts returns how many checks are in each state.
func (s EntityScore) Counts() map[yardstick.CheckState]int {
	out := map[yardstick.CheckState]int{}
	for _, c := range s.Checks {
		out[c.State]++
	}
	return out
}

// applies evaluates a scorecard's or campaign's appliesTo. With none, rules
// apply to components. A missing fact or metric means "does not apply"; any
// other error is returned so the run can report it.
func (m *meter) applies(ctx context.Context, p *checks.Program, e *checks.Entity) (bool, error) {
	if p == nil {
		return e.Kind == "component", nil
	}
	out := m.eval(ctx, p)
	switch {
	case out.State == yardstick.StatePass:
		return true, nil
	case out.Err == nil || errors.Is(out.Err, checks.ErrMissing):
		return false, nil
	}
	return false, fmt.Errorf("%s: appliesTo of %s: %w", p.Pos, e.Ref, out.Err)
}

// ScoreEntity scores one entity on one scorecard at now. It returns false
// when the scorecard does not apply to the entity, and an error only when its
// appliesTo could not be evaluated.
//
// A check that applies is exempt while an exemption naming it and the entity
// (by ref or selector) has not expired; otherwise its expression decides pass
// or fail, and a missing fact or metric or an evaluation error make it
// unknown. A level counts when every check of it and of all lower levels
// passes or is exempt. The score is the weight of passing checks over the
// weight of all non-exempt checks (100 when every check is exempt).
func ScoreEntity(ctx context.Context, sc *checks.Scorecard, e *checks.Entity, a *checks.Activation, now time.Time) (EntityScore, bool, error) {
	m := newMeter(a)
	defer m.close()
	return m.scoreEntity(ctx, sc, e, now)
}

// meter evaluates one entity's rules on one goroutine, reusing one frame,
// and counts the evaluations and their cost.
type meter struct {
	frame *checks.Frame
	evals int64
	cost  uint64
}

func newMeter(a *checks.Activation) *meter { return &meter{frame: a.Frame()} }

func (m *meter) close() { m.frame.Close() }

func (m *meter) eval(ctx context.Context, p *checks.Program) checks.Outcome {
	o := p.EvalFrame(ctx, m.frame)
	m.evals++
	m.cost += o.Cost
	return o
}

func (m *meter) observe(ctx context.Context, p *checks.Program) string {
	return p.Observe(ctx, m.frame.Activation())
}

func (m *meter) scoreEntity(ctx context.Context, sc *checks.Scorecard, e *checks.Entity, now time.Time) (EntityScore, bool, error) {
	ok, err := m.applies(ctx, sc.AppliesTo, e)
	if !ok || err != nil {
		return EntityScore{}, false, err
	}
	out := EntityScore{
		Scorecard: sc,
		Entity:    yardstick.EntityRef(e.Ref),
		Owner:     yardstick.EntityRef(e.Owner),
		Checks:    make([]CheckOutcome, 0, len(sc.Checks)),
	}
	var passed, total float64
	blocked := make([]bool, len(sc.Levels)+1) // by rank: a check of that level neither passed nor is exempt
	for _, c := range sc.Checks {
		if c.AppliesTo != nil {
			if r := m.eval(ctx, c.AppliesTo); r.State != yardstick.StatePass {
				continue
			}
		}
		o := m.check(ctx, sc, c, e, now)
		out.Checks = append(out.Checks, o)
		switch o.State {
		case yardstick.StateExempt:
			continue
		case yardstick.StatePass:
			passed += c.Weight
		default:
			blocked[c.Level.Rank] = true
		}
		total += c.Weight
	}
	out.Score = 100
	if total > 0 {
		out.Score = 100 * passed / total
	}
	for _, l := range sc.Levels {
		if blocked[l.Rank] {
			break
		}
		out.Level = l
	}
	return out, true, nil
}

func (m *meter) check(ctx context.Context, sc *checks.Scorecard, c *checks.Check, e *checks.Entity, now time.Time) CheckOutcome {
	var expired *checks.Exemption
	for i := range sc.Exemptions {
		x := &sc.Exemptions[i]
		if x.Check != c.ID || !m.covers(ctx, x, e) {
			continue
		}
		if x.ActiveAt(now) {
			return CheckOutcome{Check: c, State: yardstick.StateExempt,
				Message: fmt.Sprintf("exempt until %s: %s", x.Expires.Format(time.DateOnly), x.Reason)}
		}
		expired = x
	}
	r := m.eval(ctx, c.Expr)
	o := CheckOutcome{Check: c, State: r.State}
	if r.State == yardstick.StatePass {
		return o
	}
	o.Value = m.observe(ctx, c.Expr)
	if r.Err != nil {
		o.Message = r.Err.Error()
	}
	if expired != nil {
		o.Message = join(o.Message, fmt.Sprintf("exemption expired %s", expired.Expires.Format(time.DateOnly)))
	}
	return o
}

func (m *meter) covers(ctx context.Context, x *checks.Exemption, e *checks.Entity) bool {
	if x.Entity != "" {
		return string(x.Entity) == e.Ref
	}
	return m.eval(ctx, x.Selector).State == yardstick.StatePass
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// CampaignEntity evaluates a campaign's done expression for one entity. It
// returns false when the campaign does not apply, and an error only when its
// appliesTo could not be evaluated.
func CampaignEntity(ctx context.Context, c *checks.Campaign, e *checks.Entity, a *checks.Activation) (yardstick.CampaignResult, bool, error) {
	m := newMeter(a)
	defer m.close()
	return m.campaign(ctx, c, e)
}

func (m *meter) campaign(ctx context.Context, c *checks.Campaign, e *checks.Entity) (yardstick.CampaignResult, bool, error) {
	ok, err := m.applies(ctx, c.AppliesTo, e)
	if !ok || err != nil {
		return yardstick.CampaignResult{}, false, err
	}
	out := yardstick.CampaignResult{Campaign: c.ID, Entity: yardstick.EntityRef(e.Ref), Owner: yardstick.EntityRef(e.Owner)}
	r := m.eval(ctx, c.Done)
	switch r.State {
	case yardstick.StatePass:
		out.State = yardstick.CampaignDone
	case yardstick.StateFail:
		out.State = yardstick.CampaignPending
		out.Message = m.observe(ctx, c.Done)
	default:
		out.State = yardstick.CampaignUnknown
		out.Message = join(r.Err.Error(), m.observe(ctx, c.Done))
	}
	return out, true, nil
}
