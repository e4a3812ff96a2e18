package checks

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick"
)

// TestCases runs the check cases in testdata/<case>/: check.yaml holds a
// scorecard, input.json the entity (yardstick.Entity fields), facts, metrics
// and now, want.json the state of every check.
func TestCases(t *testing.T) {
	env := mustEnv(t)
	dirs, err := filepath.Glob("testdata/*/check.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no check cases in testdata: %v", err)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			set, err := env.LoadDir(os.DirFS(dir), ".")
			if err != nil {
				t.Fatalf("LoadDir(%s) = %v", dir, err)
			}
			var input struct {
				Entity  yardstick.Entity
				Facts   yardstick.Facts
				Metrics map[string]float64
				Now     time.Time
			}
			mustUnmarshal(t, filepath.Join(dir, "input.json"), &input)
			var want map[string]yardstick.CheckState
			mustUnmarshal(t, filepath.Join(dir, "want.json"), &want)
			ent, err := NewEntity(input.Entity)
			if err != nil {
				t.Fatal(err)
			}
			a := env.Activation(Input{Entity: ent, Facts: input.Facts, Metrics: input.Metrics, Now: input.Now})
			got := map[string]yardstick.CheckState{}
			for _, c := range set.Scorecards[0].Checks {
				got[c.ID] = c.Expr.Eval(context.Background(), a).State
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("check states (-want +got):\n%s", diff)
			}
		})
	}
}

func mustUnmarshal(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
