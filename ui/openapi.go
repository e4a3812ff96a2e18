package ui

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// openAPIDocument describes /api/v1. Response schemas are derived from the
// same Go types the handlers encode, so the document cannot drift from them.
var openAPIDocument = buildOpenAPI()

type apiOp struct {
	path, summary string
	resp          any // a value of the response type
	params        []string
	contentType   string
	method        string
}

var echoParam = regexp.MustCompile(`:([a-z]+)`)

func buildOpenAPI() []byte {
	filterParams := []string{"range", "group"}
	ops := []apiOp{
		{path: "/overview", summary: "Executive overview: the overview dashboard's panels (DORA four keys with trend and bucket, flow metrics, level distribution, campaigns, top movers).", resp: OverviewView{}, params: filterParams},
		{path: "/squads", summary: "Squads with health summary and key metrics, a page at a time (paging.next_cursor continues the list).", resp: SquadsView{}, params: append([]string{"limit", "cursor", "sort"}, filterParams...)},
		{path: "/squads/:namespace/:name", summary: "One squad: components and levels, failing checks, campaign share, DORA and flow panels.", resp: SquadView{}, params: filterParams},
		{path: "/squads/:namespace/:name/notifications", summary: "What the notifier sent to the squad, what failed and why, newest first.", resp: NotificationsView{}},
		{path: "/entities/:kind/:namespace/:name", summary: "One entity: every scorecard with each check's state, value and remediation; campaigns; metrics; recent events.", resp: ComponentView{}, params: filterParams},
		{path: "/scorecards", summary: "Scorecards with level distribution.", resp: ScorecardsView{}, params: filterParams},
		{path: "/scorecards/:id", summary: "One scorecard: definition, level distribution, pass rate per check, changes since last week.", resp: ScorecardView{}, params: filterParams},
		{path: "/campaigns", summary: "Campaigns at a glance with projected completion.", resp: CampaignsView{}, params: filterParams},
		{path: "/campaigns/:id", summary: "One campaign: burndown, progress per squad, projection against the deadline, remaining entities with owners (a page at a time: remaining_paging.next_cursor continues).", resp: CampaignView{}, params: append([]string{"limit", "cursor"}, filterParams...)},
		{path: "/campaigns/:id/remaining.csv", summary: "Remaining entities of a campaign with owners, as CSV.", contentType: "text/csv", params: filterParams},
		{path: "/evidence", summary: "The rows behind one figure: every observation a metric of a subject was computed from over the range (deployments with the failures attributed to each, changes with their start and stop, incidents, CI runs, tickets).", resp: EvidenceView{}, params: append([]string{"metric", "subject"}, filterParams...)},
		{path: "/evidence.csv", summary: "The rows behind one figure, as CSV.", contentType: "text/csv", params: append([]string{"metric", "subject"}, filterParams...)},
		{path: "/search", summary: "Entity search by name, title, description, tags.", resp: SearchView{}, params: append([]string{"q"}, filterParams...)},
		{path: "/metrics", summary: "Any metrics of one subject (component, group or org) over the range, with weekly series and DORA buckets.", resp: struct {
			yardstick.MetricReport
			Buckets   map[string]yardstick.DORABucket `json:"buckets"`
			Benchmark string                          `json:"benchmark"`
		}{}, params: []string{"subject", "names", "weekly", "range"}},
		{path: "/dashboards", summary: "Built-in dashboard definitions, the metric catalog and the DORA benchmark in force.", resp: struct {
			Dashboards []Dashboard             `json:"dashboards"`
			Metrics    []yardstick.MetricInfo  `json:"metrics"`
			Benchmark  yardstick.DORABenchmark `json:"benchmark"`
		}{}},
		{path: "/jobs", summary: "Scheduled jobs (collectors, scoring) and their last runs.", resp: []JobStatus{}},
		{path: "/jobs/:name/run", method: "post", summary: "Start a scheduled job now (admin token, Authorization: Bearer).", resp: map[string]string{}},
	}
	paramDocs := map[string]map[string]any{
		"range":     {"in": "query", "description": "Time range: 4w, 12w (default), 26w, 52w or Nw; whole weeks ending with the current one.", "schema": map[string]any{"type": "string"}},
		"group":     {"in": "query", "description": "Group filter: an entity ref such as group:default/payments.", "schema": map[string]any{"type": "string"}},
		"q":         {"in": "query", "description": "Search words.", "schema": map[string]any{"type": "string"}},
		"subject":   {"in": "query", "description": "Entity ref of a component or group, or \"org\" (default).", "schema": map[string]any{"type": "string"}},
		"metric":    {"in": "query", "required": true, "description": "A metric name from the metric catalog, e.g. change_failure_rate.", "schema": map[string]any{"type": "string"}},
		"names":     {"in": "query", "description": "Comma-separated metric names (default: all).", "schema": map[string]any{"type": "string"}},
		"weekly":    {"in": "query", "description": "Include weekly series (default true).", "schema": map[string]any{"type": "boolean"}},
		"limit":     {"in": "query", "description": "Items per page: 1 to 500 (default 50).", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
		"cursor":    {"in": "query", "description": "Where the page starts: the paging.next_cursor of the previous page (opaque); absent for the first page.", "schema": map[string]any{"type": "string"}},
		"sort":      {"in": "query", "description": "Order of the squads: name (tree order, default) or score (lowest average score first, unscored last).", "schema": map[string]any{"type": "string", "enum": []string{"name", "score"}}},
		"id":        {"in": "path", "required": true, "schema": map[string]any{"type": "string"}},
		"name":      {"in": "path", "required": true, "schema": map[string]any{"type": "string"}},
		"namespace": {"in": "path", "required": true, "schema": map[string]any{"type": "string"}},
		"kind":      {"in": "path", "required": true, "schema": map[string]any{"type": "string"}},
	}
	paths := map[string]any{}
	for _, op := range ops {
		var params []any
		for _, m := range echoParam.FindAllStringSubmatch(op.path, -1) {
			p := map[string]any{"name": m[1]}
			for k, v := range paramDocs[m[1]] {
				p[k] = v
			}
			params = append(params, p)
		}
		for _, name := range op.params {
			p := map[string]any{"name": name}
			for k, v := range paramDocs[name] {
				p[k] = v
			}
			params = append(params, p)
		}
		content := map[string]any{}
		if op.contentType != "" {
			content[op.contentType] = map[string]any{"schema": map[string]any{"type": "string"}}
		} else {
			content["application/json"] = map[string]any{"schema": schemaOf(reflect.TypeOf(op.resp))}
		}
		method := op.method
		if method == "" {
			method = "get"
		}
		code := "200"
		if method == "post" {
			code = "202"
		}
		paths[echoParam.ReplaceAllString(op.path, "{$1}")] = map[string]any{method: map[string]any{
			"summary":    op.summary,
			"parameters": params,
			"responses": map[string]any{
				code:  map[string]any{"description": "OK", "content": content},
				"400": map[string]any{"description": "Bad request (e.g. an invalid range or group)", "content": errorContent},
				"401": map[string]any{"description": "A token is required (server not on loopback)", "content": errorContent},
				"404": map[string]any{"description": "Not found", "content": errorContent},
			},
		}}
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Yardstick API", "version": "1",
			"description": "Everything the Yardstick pages show, as JSON. On a non-loopback address every call needs a token: Authorization: Bearer <token>."},
		"servers":    []any{map[string]any{"url": "/api/v1"}},
		"paths":      paths,
		"components": map[string]any{"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
		"security":   []any{map[string]any{"bearer": []any{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("ui: OpenAPI document: " + err.Error()) // only static types above
	}
	return b
}

var errorContent = map[string]any{"application/json": map[string]any{"schema": map[string]any{
	"type": "object", "properties": map[string]any{"error": map[string]any{"type": "string"}}}}}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// schemaOf derives a JSON schema from a Go type through its json tags.
func schemaOf(t reflect.Type) map[string]any {
	return schemaDepth(t, 0)
}

func schemaDepth(t reflect.Type, depth int) map[string]any {
	if depth > 12 {
		return map[string]any{"type": "object"}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawJSONType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaDepth(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaDepth(t.Elem(), depth+1)}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props, depth)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, depth int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, depth)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		if f.Type.Name() == "HTML" && f.Type.PkgPath() == "html/template" {
			continue
		}
		props[name] = schemaDepth(f.Type, depth+1)
	}
}
