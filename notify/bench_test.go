package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// BenchmarkEvaluate measures one evaluation (every trigger but the digest
// bodies, which are read only when sent) over 1,000 components in 20 squads,
// one scorecard of 10 checks scored every 15 minutes for the 24 hours of the
// lookback: 96 runs, 960,000 check results, 96,000 summaries.
func BenchmarkEvaluate(b *testing.B) {
	db := storetest.NewDB(b)
	ctx := context.Background()
	var ents []yardstick.Entity
	for g := 0; g < 20; g++ {
		ents = append(ents, yardstick.Entity{Ref: yardstick.NewEntityRef("group", "", fmt.Sprintf("squad-%02d", g)), Kind: "Group", Name: fmt.Sprintf("squad-%02d", g),
			Annotations: map[string]string{notify.AnnotationSlackChannel: fmt.Sprintf("#squad-%02d", g)}})
	}
	for c := 0; c < 1000; c++ {
		ents = append(ents, yardstick.Entity{Ref: yardstick.NewEntityRef("component", "", fmt.Sprintf("c%04d", c)), Kind: "Component", Name: fmt.Sprintf("c%04d", c),
			Owner: yardstick.NewEntityRef("group", "", fmt.Sprintf("squad-%02d", c%20))})
	}
	if _, err := db.ReplaceCatalog(ctx, ents); err != nil {
		b.Fatal(err)
	}
	for r := 0; r < 96; r++ {
		at := now.Add(-time.Duration(96-r) * 15 * time.Minute)
		var res []yardstick.CheckResult
		var sums []yardstick.ScoreSummary
		for c := 20; c < len(ents); c++ {
			for k := 0; k < 10; k++ {
				st := yardstick.StatePass
				if (c+k+r/24)%7 == 0 { // some checks flip every six hours
					st = yardstick.StateFail
				}
				res = append(res, yardstick.CheckResult{RunID: fmt.Sprint(r), RunAt: at, Scorecard: "sc", CheckID: fmt.Sprintf("k%d", k), Entity: ents[c].Ref, Owner: ents[c].Owner, Level: "bronze", State: st})
			}
			rank := 1 + (c+r/24)%3
			sums = append(sums, yardstick.ScoreSummary{RunID: fmt.Sprint(r), RunAt: at, Scorecard: "sc", Entity: ents[c].Ref, Owner: ents[c].Owner, Level: fmt.Sprint("l", rank), LevelRank: rank})
		}
		if err := db.WriteCheckResults(ctx, res); err != nil {
			b.Fatal(err)
		}
		if err := db.WriteScoreSummaries(ctx, sums); err != nil {
			b.Fatal(err)
		}
	}
	rules := &notify.Rules{TimeZone: time.UTC, Rules: []notify.Rule{{Name: "all", Channels: []string{notify.ChannelSlack},
		Triggers: []string{notify.TriggerLevelDrop, notify.TriggerLevelRise, notify.TriggerCheckFailing, notify.TriggerDigest}, Digest: notify.DefaultDigest, LeadTimes: notify.DefaultLeadTimes}}}
	n := notify.New(notify.Config{Settle: time.Second}, notify.Sources{Catalog: db, Changes: db, Campaigns: db, Digests: db, Collectors: db, Ledger: db,
		Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, &checks.RuleSet{} }}, nil, slog.New(slog.DiscardHandler), func() time.Time { return now })
	var deliveries int
	b.ResetTimer()
	for b.Loop() {
		ds, err := n.Evaluate(ctx, now)
		if err != nil {
			b.Fatal(err)
		}
		deliveries = len(ds)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/evaluation")
	b.ReportMetric(float64(deliveries), "deliveries")
}
