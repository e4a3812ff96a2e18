package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

// seedDemoFactHistory gives the demo organisation's migrations a past. The fake
// GitHub shows each repository as it is today; a real organisation got there
// over weeks. For every repository already done with a demo campaign (Go 1.22,
// CI on GitHub Actions), this writes weekly observations of its facts as they
// were before, up to a migration week drawn from its name, so the weekly scoring
// runs of the demo find a burndown with a shape. Observations are dated in the
// past, so they never replace today's facts.
func seedDemoFactHistory(ctx context.Context, db *store.DB, now time.Time, weeks int) (int, error) {
	facts, err := db.FactsByScope(ctx, "github")
	if err != nil {
		return 0, err
	}
	type repo struct{ goVersion, files, protection *yardstick.Fact }
	repos := map[yardstick.Scope]*repo{}
	for i := range facts {
		f := &facts[i]
		r := repos[f.Scope]
		if r == nil {
			r = &repo{}
			repos[f.Scope] = r
		}
		switch f.Name {
		case "go_version":
			r.goVersion = f
		case "files":
			r.files = f
		case "branch_protection":
			r.protection = f
		}
	}
	start := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -7*weeks)
	var out []yardstick.Fact
	for scope, r := range repos {
		migrated := start.AddDate(0, 0, 7*int(1+hashOf(string(scope))%uint32(weeks)))
		for w := 0; w < weeks; w++ {
			at := start.AddDate(0, 0, 7*w)
			before := at.Before(migrated)
			if r.goVersion != nil {
				v := r.goVersion.Value
				var cur string
				if json.Unmarshal(v, &cur) == nil && cur >= "1.22" && before {
					v, _ = json.Marshal("1.21")
				}
				out = append(out, yardstick.Fact{Source: "github", Scope: scope, Name: "go_version", Value: v, ObservedAt: at})
			}
			if r.files != nil {
				v := r.files.Value
				var files map[string]any
				if json.Unmarshal(v, &files) == nil && files["workflows"] == true && before {
					files["workflows"] = false
					v, _ = json.Marshal(files)
				}
				out = append(out, yardstick.Fact{Source: "github", Scope: scope, Name: "files", Value: v, ObservedAt: at})
			}
			if r.protection != nil {
				v := r.protection.Value
				var bp map[string]any
				if json.Unmarshal(v, &bp) == nil && before {
					if checks, ok := bp["required_status_checks"].([]any); ok && len(checks) > 0 {
						bp["required_status_checks"] = []string{"continuous-integration/jenkins"}
						v, _ = json.Marshal(bp)
					}
				}
				out = append(out, yardstick.Fact{Source: "github", Scope: scope, Name: "branch_protection", Value: v, ObservedAt: at})
			}
		}
	}
	if err := db.WriteFacts(ctx, out); err != nil {
		return 0, fmt.Errorf("demo fact history: %w", err)
	}
	return len(out), nil
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
