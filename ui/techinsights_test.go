package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/internal/golden"
	"github.com/yardstick-dev/yardstick/ui"
)

type fakeHistory struct{}

func (fakeHistory) EntityScoreHistory(_ context.Context, e yardstick.EntityRef, from, to time.Time) ([]yardstick.ScoreSummary, error) {
	var out []yardstick.ScoreSummary
	for d := 0; d < 3; d++ {
		at := time.Date(2024, 3, 18+d, 6, 0, 0, 0, time.UTC)
		if at.Before(from) || at.After(to) {
			continue
		}
		out = append(out, yardstick.ScoreSummary{RunAt: at, Scorecard: "production-readiness", Entity: e, Level: "bronze", LevelRank: 1, Score: float64(33 + d)})
	}
	return out, nil
}

// tiRequest sends a request as TechInsightsClient does (JSON body).
func tiRequest(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, method, path, body, "Content-Type", "application/json")
}

// dtsFields returns the fields of a type in the .d.ts at an indentation
// (4 spaces: the type's own fields, 8: fields of its index-signature entries),
// with whether each is required, and the string literals a field's union allows.
func dtsFields(t *testing.T, src, typ string, indent int) (map[string]bool, map[string][]string) {
	t.Helper()
	start := regexp.MustCompile(`(?m)^(?:interface|type) ` + typ + `\b[^\n]*\{\s*$`).FindStringIndex(src)
	if start == nil {
		t.Fatalf("type %s not in index.d.ts", typ)
	}
	depth, end := 0, -1
	for i := start[1] - 1; i < len(src); i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth == 0 {
			end = i
			break
		}
	}
	fields, unions := map[string]bool{}, map[string][]string{}
	field := regexp.MustCompile(`^ {` + strconv.Itoa(indent) + `}(\w+)(\??): (.*)$`)
	for _, line := range strings.Split(src[start[0]:end], "\n") {
		m := field.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields[m[1]] = m[2] == ""
		for _, lit := range regexp.MustCompile(`'([a-z]+)'`).FindAllStringSubmatch(m[3], -1) {
			unions[m[1]] = append(unions[m[1]], lit[1])
		}
	}
	if len(fields) == 0 {
		t.Fatalf("no fields of %s at indent %d", typ, indent)
	}
	return fields, unions
}

// conform checks one JSON object against a field list: every required field
// present, nothing outside the list and extra, union values allowed.
func conform(t *testing.T, where string, obj map[string]any, fields map[string]bool, unions map[string][]string, extra ...string) {
	t.Helper()
	for f, required := range fields {
		if _, ok := obj[f]; required && !ok {
			t.Errorf("%s: required field %q missing", where, f)
		}
	}
	for k, v := range obj {
		if _, ok := fields[k]; !ok && !slices.Contains(extra, k) {
			t.Errorf("%s: field %q is not in the type", where, k)
		}
		if allowed, ok := unions[k]; ok {
			if s, _ := v.(string); !slices.Contains(allowed, s) {
				t.Errorf("%s: %s = %v, want one of %v", where, k, v, allowed)
			}
		}
	}
}

func TestTechInsightsAPI(t *testing.T) {
	dts, err := os.ReadFile("testdata/techinsights/index.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	src := string(dts)
	h := mustServer(t, func(c *ui.Config) { c.ScoreHistory = fakeHistory{} }).srv.Handler()
	for _, tt := range []struct {
		name, method, path, body string
		check                    func(t *testing.T, v any)
	}{
		{"checks", "GET", "/api/tech-insights/checks", "", func(t *testing.T, v any) {
			fields, unions := dtsFields(t, src, "Check", 4)
			for i, c := range v.([]any) {
				conform(t, "checks["+strconv.Itoa(i)+"]", c.(map[string]any), fields, unions)
			}
		}},
		{"run-entity", "POST", "/api/tech-insights/checks/run/default/Component/checkout-api", `{"checks":["production-readiness/oncall","campaign/go122"]}`, func(t *testing.T, v any) {
			checkResults(t, src, "run-entity", v.([]any), 2)
		}},
		{"run-entity-all", "POST", "/api/tech-insights/checks/run/default/component/checkout-api", "", func(t *testing.T, v any) {
			checkResults(t, src, "run-entity-all", v.([]any), 3)
		}},
		{"run-bulk", "POST", "/api/tech-insights/checks/run", `{"entities":[{"namespace":"default","kind":"component","name":"checkout-web"},"component:default/books","component:default/ghost"],"checks":["production-readiness/has-owner"]}`, func(t *testing.T, v any) {
			fields, unions := dtsFields(t, src, "BulkCheckResponse", 4)
			for _, item := range v.([]any) {
				m := item.(map[string]any)
				conform(t, "bulk item", m, fields, unions, "error") // error: the backend router's failed entity
				checkResults(t, src, "bulk results", m["results"].([]any), -1)
			}
		}},
		{"facts-latest", "GET", "/api/tech-insights/facts/latest?entity=component:default/checkout-api&ids%5B0%5D=yardstick-scorecard-production-readiness&ids%5B1%5D=yardstick-campaigns", "", func(t *testing.T, v any) {
			fields, unions := dtsFields(t, src, "InsightFacts", 8)
			m := v.(map[string]any)
			if len(m) != 2 {
				t.Errorf("facts/latest has %d fact rows, want 2", len(m))
			}
			for id, row := range m {
				conform(t, "facts/latest "+id, row.(map[string]any), fields, unions, "id", "entity") // FlatTechInsightFact
			}
		}},
		{"facts-range", "GET", "/api/tech-insights/facts/range?entity=component:default/checkout-api&ids[]=yardstick-scorecard-production-readiness&startDatetime=2024-03-19T00:00:00Z&endDatetime=2024-03-21T00:00:00", "", func(t *testing.T, v any) {
			fields, unions := dtsFields(t, src, "InsightFacts", 8)
			rows := v.(map[string]any)["yardstick-scorecard-production-readiness"].([]any)
			if len(rows) != 2 {
				t.Errorf("facts/range has %d rows, want the 2 runs in the range", len(rows))
			}
			for _, row := range rows {
				conform(t, "facts/range", row.(map[string]any), fields, unions, "id", "entity")
			}
		}},
		{"fact-schemas", "GET", "/api/tech-insights/fact-schemas", "", func(t *testing.T, v any) {
			fields, unions := dtsFields(t, src, "FactSchema", 8)
			for _, s := range v.([]any) {
				for k, f := range s.(map[string]any) {
					if k == "id" || k == "version" || k == "entityFilter" { // the backend's schema row
						continue
					}
					conform(t, "fact-schemas "+k, f.(map[string]any), fields, unions)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := tiRequest(t, h, tt.method, tt.path, tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s = %d: %s", tt.method, tt.path, rec.Code, rec.Body)
			}
			var v any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			tt.check(t, v)
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, rec.Body.Bytes(), "", "  ")
			golden.MustMatch(t, filepath.Join("testdata", "techinsights", tt.name+".golden"), append(pretty.Bytes(), '\n'), *update)
		})
	}
}

// checkResults checks CheckResult items: the result, its check (CheckResponse)
// and each fact (FactResponse entries); want < 0 means any count.
func checkResults(t *testing.T, src, where string, items []any, want int) {
	t.Helper()
	if want >= 0 && len(items) != want {
		t.Errorf("%s: %d results, want %d", where, len(items), want)
	}
	rf, ru := dtsFields(t, src, "CheckResult", 4)
	cf, cu := dtsFields(t, src, "CheckResponse", 4)
	ff, fu := dtsFields(t, src, "FactResponse", 8)
	for _, it := range items {
		m := it.(map[string]any)
		conform(t, where, m, rf, ru)
		if _, ok := m["result"].(bool); !ok {
			t.Errorf("%s: result %v is not a boolean (BooleanCheckResult)", where, m["result"])
		}
		conform(t, where+" check", m["check"].(map[string]any), cf, cu)
		for name, f := range m["facts"].(map[string]any) {
			conform(t, where+" fact "+name, f.(map[string]any), ff, fu)
		}
	}
}

func TestTechInsightsErrors(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for _, tt := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/api/tech-insights/facts/latest?entity=component:default/checkout-api", "", 422, "Failed to parse ids from request"},
		{"GET", "/api/tech-insights/facts/latest?entity=&ids=x", "", 400, "entity"},
		{"GET", "/api/tech-insights/facts/range?entity=component:default/checkout-api&ids=x&startDatetime=yesterday&endDatetime=2024-01-01", "", 422, `"field":"startDateTime"`},
		{"POST", "/api/tech-insights/checks/run/default/component/ghost", "", 404, "Not found"},
		{"POST", "/api/tech-insights/checks/run/default/component/checkout-api", `{"checks":["nope"]}`, 400, `Unknown check`},
		{"POST", "/api/tech-insights/checks/run", `{"entities":[42]}`, 400, "entities[0]"},
		{"POST", "/api/tech-insights/checks/run", `{"entities":`, 400, "Request body"},
	} {
		rec := tiRequest(t, h, tt.method, tt.path, tt.body)
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s = %d %s, want %d with %q", tt.method, tt.path, rec.Code, rec.Body, tt.code, tt.want)
		}
	}
}
