package clustertest_test

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
)

func TestZZScratchComponents(t *testing.T) {
	dsn := os.Getenv("YS_CL_DSN")
	if dsn == "" {
		t.Skip()
	}
	db, err := store.Open(context.Background(), store.Config{DSN: dsn, Database: os.Getenv("YS_CL_DB"), Cluster: os.Getenv("YS_CL_CLUSTER")})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := db.Entities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var comps []yardstick.EntityRef
	for _, e := range ents {
		if e.Kind == "Component" {
			comps = append(comps, e.Ref)
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i] < comps[j] })
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	w := yardstick.Window{From: end.AddDate(0, 0, -84), To: end}
	q := yardstick.MetricQuery{Names: yardstick.MetricNames(), Subjects: comps, Window: w}
	for i := 0; i < 8; i++ {
		m := store.NewMetrics(db, store.MetricsConfig{})
		start := time.Now()
		if _, err := m.Metrics(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		t.Logf("components (%d) %v", len(comps), time.Since(start))
	}
}
