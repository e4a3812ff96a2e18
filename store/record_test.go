package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

type recorded struct {
	Op     string `json:"op"`
	SQL    string `json:"sql"`
	Schema string `json:"schema"`
	Caller string `json:"caller"`
	Params []struct {
		Name, Kind, Value string
		Items             []struct{ Kind, Value string }
	} `json:"params"`
	Row []struct {
		Kind, Value string
		Items       []struct{ Kind, Value string }
	} `json:"row"`
	External []struct{ Name, Structure string } `json:"external"`
}

func readRecorded(t *testing.T, dir string) []recorded {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "statements-*.jsonl"))
	if err != nil || len(files) != 1 {
		t.Fatalf("recording files in %s = %v, %v; want one", dir, files, err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []recorded
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r recorded
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out
}

func TestRecordStatements(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(store.RecordStatementsEnv, dir)
	db := mustMetricDB(t) // migrations, catalog import, event writes and a tombstone
	ctx := context.Background()
	m := store.NewMetrics(db, store.MetricsConfig{})
	for i := 0; i < 2; i++ { // the second round repeats every statement: recorded once
		if _, err := m.Metrics(ctx, yardstick.MetricQuery{Names: []string{yardstick.MetricDeploysTotal}, Subjects: []yardstick.EntityRef{api}, Window: metricWindow}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Events(ctx, store.EventFilter{Types: []string{yardstick.DeploymentSucceeded}, Scopes: []yardstick.Scope{apiRepo}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ReadOnlyQuery(ctx, "SELECT 'a user query'", 0); err != nil {
		t.Fatal(err)
	}
	recs := readRecorded(t, dir)

	seen := map[string]int{}
	var schema []string
	for _, r := range recs {
		seen[r.Op+" "+r.SQL+" (schema step "+r.Schema+")"]++ // two migrations may send the same statement
		if r.Schema != "" {
			schema = append(schema, r.Schema)
		}
		if strings.Contains(r.SQL, "a user query") {
			t.Errorf("ReadOnlyQuery's statement was recorded: %s", r.SQL)
		}
		if strings.Contains(r.SQL, "\n") || strings.Contains(r.SQL, "  ") {
			t.Errorf("statement not normalized: %q", r.SQL)
		}
	}
	for k, n := range seen {
		if n > 1 && !strings.HasPrefix(k, "batch ") { // a batch records once without and once with a sample row at most
			t.Errorf("%q recorded %d times, want once", k, n)
		}
	}
	if len(schema) < 3 || schema[0] != "0000" || !strings.HasPrefix(schema[1], "0000000001/0001") {
		t.Errorf("schema steps = %v, want 0000 then the first migration's statements", schema)
	}

	find := func(op, prefix string) recorded {
		t.Helper()
		for _, r := range recs {
			if r.Op == op && strings.HasPrefix(r.SQL, prefix) && (op != "batch" || r.Row != nil) {
				return r
			}
		}
		t.Fatalf("no %s statement starting %q recorded", op, prefix)
		return recorded{}
	}
	ev := find("batch", "INSERT INTO events (source, type, scope, id, time")
	if len(ev.Row) != 13 || ev.Row[0].Kind != "string" || ev.Row[4].Kind != "time" || ev.Row[6].Kind != "array" || ev.Row[11].Kind != "uint" {
		t.Errorf("events batch sample row = %+v, want 13 typed columns", ev.Row)
	}
	if ev.Caller != "(*DB).WriteEvents" {
		t.Errorf("events batch caller = %q, want (*DB).WriteEvents", ev.Caller)
	}
	q := find("query", "SELECT source, type, scope, id, time, actor")
	if len(q.Params) != 1 || q.Params[0].Kind != "set" || q.Params[0].Items[0].Value != yardstick.DeploymentSucceeded {
		t.Errorf("Events query params = %+v, want the type set", q.Params)
	}
	if q.Caller != "(*DB).queryEvents" { // not the row reader it goes through
		t.Errorf("Events query caller = %q, want (*DB).queryEvents", q.Caller)
	}
	if len(q.External) != 1 || q.External[0].Name != "event_scopes" || q.External[0].Structure != "k String" {
		t.Errorf("Events query external tables = %+v, want the scopes as event_scopes", q.External)
	}
	fam := find("query", "SELECT @key AS k, toMonday(min(t)) AS w") // one subject: no join
	if len(fam.External) != 1 || fam.External[0].Name != "metric_keys" || fam.External[0].Structure != "scope String, k String" {
		t.Errorf("metric query external tables = %+v, want metric_keys", fam.External)
	}
	if fam.Params[0].Name != "refresh" || fam.Params[0].Kind != "uint" || fam.Params[len(fam.Params)-1].Name != "key" {
		t.Errorf("metric query params = %+v, want @refresh first and @key last", fam.Params)
	}
	refresh := find("exec", "INSERT INTO metric_observations")
	if refresh.Caller == "" {
		t.Errorf("refresh statement has no caller")
	}
}

func TestRecordStatementsOffByDefault(t *testing.T) {
	t.Setenv(store.RecordStatementsEnv, "")
	db := storetest.NewDB(t)
	if err := db.WriteEvents(context.Background(), sampleEvents()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%T", db.Conn()); got == "*store.recordingConn" {
		t.Errorf("Conn() = %s with %s empty, want the plain driver connection", got, store.RecordStatementsEnv)
	}
}
