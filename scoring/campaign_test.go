package scoring

import (
	"context"
	"testing"

	"github.com/yardstick-dev/yardstick/checks/checkstest"
)

func TestScoreAllExempt(t *testing.T) {
	env := checkstest.MustEnv(t)
	sc := checkstest.MustLoad(t, env, oneCheck("c", "C", "facts.github.x == true")+`exemptions:
  - entity: api
    check: c
    reason: r
    expires: 2030-01-01
`).Scorecards[0]
	in := entityCase{name: "api"}.input(t, scoreNow)
	got, _, err := ScoreEntity(context.Background(), sc, &in.Entity, env.Activation(in), scoreNow)
	if err != nil || got.Score != 100 || got.Level.Name != "bronze" {
		t.Errorf("ScoreEntity(all exempt) = score %v level %q err %v; want 100 and bronze", got.Score, got.Level.Name, err)
	}
}
