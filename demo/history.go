package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/yardstick-dev/yardstick"
)

// FactStore is what the history writer reads and writes: the latest facts of
// a source, and past observations.
type FactStore interface {
	FactsByScope(ctx context.Context, source string) ([]yardstick.Fact, error)
	WriteFacts(ctx context.Context, facts []yardstick.Fact) error
}

// The demo campaigns' targets: Go at least this version, CI on GitHub Actions,
// status checks required on the default branch.
var (
	migratedGo = semver.MustParse("1.22")
	oldGo      = "1.21"
)

// SeedFactHistory gives the demo organisation's migrations a past. The fake
// GitHub shows each repository as it is today; a real organisation got there
// over weeks. For every repository already done with a demo campaign (Go
// 1.22, CI on GitHub Actions, required status checks), this writes weekly
// observations of its facts as they were before, up to a migration week drawn
// from its name, so the weekly scoring runs of the demo find a burndown with a
// shape. Observations are dated in the past, so they never replace today's
// facts. It returns how many observations it wrote.
func SeedFactHistory(ctx context.Context, db FactStore, now time.Time, weeks int) (int, error) {
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
			for _, f := range []*yardstick.Fact{r.goVersion, r.files, r.protection} {
				if f == nil {
					continue
				}
				v := f.Value
				if before {
					if v, err = pastValue(f.Name, v); err != nil {
						return 0, fmt.Errorf("demo fact history of %s: %w", scope, err)
					}
				}
				out = append(out, yardstick.Fact{Source: "github", Scope: scope, Name: f.Name, Value: v, ObservedAt: at})
			}
		}
	}
	if err := db.WriteFacts(ctx, out); err != nil {
		return 0, fmt.Errorf("demo fact history: %w", err)
	}
	return len(out), nil
}

// pastValue is the value fact name had before its repository migrated: Go
// 1.21 instead of a version at or past 1.22, no workflows, and Jenkins as the
// required check. Values that were never migrated come back unchanged.
func pastValue(name string, v json.RawMessage) (json.RawMessage, error) {
	switch name {
	case "go_version":
		var cur string
		if json.Unmarshal(v, &cur) != nil {
			return v, nil
		}
		if ver, err := semver.NewVersion(cur); err != nil || ver.LessThan(migratedGo) {
			return v, nil
		}
		return json.Marshal(oldGo)
	case "files":
		var files map[string]any
		if json.Unmarshal(v, &files) != nil || files["workflows"] != true {
			return v, nil
		}
		files["workflows"] = false
		return json.Marshal(files)
	case "branch_protection":
		var bp map[string]any
		if json.Unmarshal(v, &bp) != nil {
			return v, nil
		}
		if checks, ok := bp["required_status_checks"].([]any); ok && len(checks) > 0 {
			bp["required_status_checks"] = []string{"continuous-integration/jenkins"}
			return json.Marshal(bp)
		}
	}
	return v, nil
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
