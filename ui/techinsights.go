package ui

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// A Backstage Tech Insights-compatible API under /api/tech-insights, so a
// Backstage instance shows Yardstick's scorecards through its own
// tech-insights frontend and a proxy. Shapes follow the types of the npm
// package @backstage-community/plugin-tech-insights-common and the routes of
// its backend (plugins/tech-insights-backend/src/service/router.ts).
//
// Mapping: each scorecard is a fact retriever "yardstick-scorecard-ID" whose
// facts are the level, level_rank, score and the state of each check; each
// check is a Tech Insights check "SCORECARD/CHECK" of type
// "json-rules-engine" (the type the default frontend renders as pass/fail);
// campaigns are the fact retriever "yardstick-campaigns" and the checks
// "campaign/ID".

// ScoreHistory reads an entity's scorecard summaries over time; the Tech
// Insights range query uses it. Optional: without it /facts/range answers
// with no facts.
type ScoreHistory interface {
	EntityScoreHistory(ctx context.Context, entity yardstick.EntityRef, from, to time.Time) ([]yardstick.ScoreSummary, error)
}

const (
	tiCheckType     = "json-rules-engine"
	tiFactVersion   = "1.0.0"
	tiScorecardFact = "yardstick-scorecard-"
	tiCampaignFact  = "yardstick-campaigns"
	tiCampaignCheck = "campaign/"
)

// TICheckLink is a link of a check.
type TICheckLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// TICheck is a check as GET /checks lists it (Check in the npm types).
type TICheck struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Name            string         `json:"name"`
	Description     string         `json:"description"`
	FactIDs         []string       `json:"factIds"`
	Metadata        map[string]any `json:"metadata,omitempty"`
	SuccessMetadata map[string]any `json:"successMetadata,omitempty"`
	FailureMetadata map[string]any `json:"failureMetadata,omitempty"`
	Links           []TICheckLink  `json:"links,omitempty"`
}

// TIFact is one fact of a result (an entry of FactResponse).
type TIFact struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Value       any            `json:"value"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// TICheckResult is the result of one check for one entity (CheckResult).
type TICheckResult struct {
	Facts  map[string]TIFact `json:"facts"`
	Check  TICheck           `json:"check"` // as CheckResponse: no success or failure metadata
	Result bool              `json:"result"`
}

// TIBulkResult is one entity's results in POST /checks/run (BulkCheckResponse).
type TIBulkResult struct {
	Entity  string          `json:"entity"`
	Results []TICheckResult `json:"results"`
	Error   *TIError        `json:"error,omitempty"`
}

// TIError is a serialized error, as the backend reports a failed entity.
type TIError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// TIEntity is a compound entity ref.
type TIEntity struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
}

// TIFactRow is one fact retriever's facts for an entity at one time
// (InsightFacts entries, as the backend serialises FlatTechInsightFact).
type TIFactRow struct {
	ID        string         `json:"id"`
	Entity    TIEntity       `json:"entity"`
	Timestamp time.Time      `json:"timestamp"`
	Version   string         `json:"version"`
	Facts     map[string]any `json:"facts"`
}

// TIFactSchemaField is one fact of a schema.
type TIFactSchemaField struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

func (s *Server) techInsightsRoutes(g *echo.Group) {
	g.GET("/api/tech-insights/checks", s.tiChecks)
	g.POST("/api/tech-insights/checks/run/:namespace/:kind/:name", s.tiRunEntity)
	g.POST("/api/tech-insights/checks/run", s.tiRunBulk)
	g.GET("/api/tech-insights/facts/latest", s.tiLatestFacts)
	g.GET("/api/tech-insights/facts/range", s.tiRangeFacts)
	g.GET("/api/tech-insights/fact-schemas", s.tiFactSchemas)
}

func tiEntity(ref yardstick.EntityRef) TIEntity {
	return TIEntity{Namespace: ref.Namespace(), Kind: ref.Kind(), Name: ref.Name()}
}

// tiChecksOf lists every check, scorecards first, in definition order.
func (s *Server) tiChecksOf(r Rules) []TICheck {
	out := []TICheck{}
	for _, sc := range r.Scorecards {
		for _, ck := range sc.Checks {
			c := TICheck{ID: sc.ID + "/" + ck.ID, Type: tiCheckType, Name: cmp.Or(ck.Title, ck.ID),
				Description: cmp.Or(ck.Description, ck.Title, ck.ID), FactIDs: []string{tiScorecardFact + sc.ID},
				Metadata: map[string]any{"scorecard": sc.ID, "scorecardTitle": sc.Title, "level": ck.Level, "weight": ck.Weight}}
			if ck.Remediation != "" {
				c.FailureMetadata = map[string]any{"remediation": ck.Remediation}
			}
			if ck.Link != "" {
				c.Links = []TICheckLink{{Title: "How to fix", URL: ck.Link}}
			}
			out = append(out, c)
		}
	}
	for _, cp := range r.Campaigns {
		desc := cmp.Or(cp.Description, cp.Title)
		meta := map[string]any{"campaign": cp.ID}
		if !cp.Deadline.IsZero() {
			meta["deadline"] = cp.Deadline.UTC().Format("2006-01-02")
			desc = strings.TrimSuffix(desc, ".") + ". Deadline " + cp.Deadline.UTC().Format("2006-01-02") + "."
		}
		out = append(out, TICheck{ID: tiCampaignCheck + cp.ID, Type: tiCheckType, Name: cmp.Or(cp.Title, cp.ID), Description: desc,
			FactIDs: []string{tiCampaignFact}, Metadata: meta})
	}
	return out
}

func (s *Server) tiChecks(c echo.Context) error {
	return c.JSON(http.StatusOK, s.tiChecksOf(s.rules()))
}

// response is the check as a result carries it (CheckResponse): without its
// success and failure metadata.
func (ch TICheck) response() TICheck {
	ch.SuccessMetadata, ch.FailureMetadata = nil, nil
	return ch
}

// tiRun runs (reads) the checks for entities; want empty means all. It
// reads the store once for all of them: check results in one query, each
// campaign's statuses once. Every ref has an entry, empty when nothing applies.
func (s *Server) tiRun(ctx context.Context, refs []yardstick.EntityRef, want []string) (map[yardstick.EntityRef][]TICheckResult, error) {
	rules := s.rules()
	checks := s.tiChecksOf(rules)
	byID := make(map[string]TICheck, len(checks))
	for _, ch := range checks {
		byID[ch.ID] = ch
	}
	wanted := func(id string) bool { return len(want) == 0 || slices.Contains(want, id) }
	for _, id := range want {
		if _, ok := byID[id]; !ok {
			return nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Unknown check %q.", id))
		}
	}
	out := make(map[yardstick.EntityRef][]TICheckResult, len(refs))
	for _, r := range refs {
		out[r] = []TICheckResult{}
	}
	if len(refs) == 0 {
		return out, nil
	}
	results, err := s.cfg.Scores.LatestCheckResults(ctx, yardstick.CheckFilter{Entities: refs})
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		id := r.Scorecard + "/" + r.CheckID
		ch, ok := byID[id]
		if _, asked := out[r.Entity]; !ok || !asked || !wanted(id) {
			continue
		}
		fact := TIFact{ID: tiScorecardFact + r.Scorecard, Type: "string", Description: ch.Name, Value: string(r.State)}
		if r.Value != "" || r.Message != "" {
			fact.Metadata = map[string]any{}
			if r.Value != "" {
				fact.Metadata["value"] = r.Value
			}
			if r.Message != "" {
				fact.Metadata["message"] = r.Message
			}
		}
		out[r.Entity] = append(out[r.Entity], TICheckResult{Facts: map[string]TIFact{r.CheckID: fact}, Check: ch.response(),
			Result: r.State == yardstick.StatePass || r.State == yardstick.StateExempt})
	}
	for _, cp := range rules.Campaigns {
		id := tiCampaignCheck + cp.ID
		if !wanted(id) {
			continue
		}
		st, err := s.cfg.Campaigns.CampaignStatuses(ctx, cp.ID)
		if err != nil {
			return nil, err
		}
		for _, x := range st {
			if _, asked := out[x.Entity]; !asked {
				continue
			}
			out[x.Entity] = append(out[x.Entity], TICheckResult{Facts: map[string]TIFact{cp.ID: {ID: tiCampaignFact, Type: "boolean", Description: byID[id].Name, Value: x.Done}},
				Check: byID[id].response(), Result: x.Done})
		}
	}
	return out, nil
}

// tiRequest is the body of the run endpoints. Entities may be compound refs or strings.
type tiRequest struct {
	Checks   []string          `json:"checks"`
	Entities []json.RawMessage `json:"entities"`
}

// tiRunRequest reads a run request's body (none means all checks) and the
// catalog.
func (s *Server) tiRunRequest(c echo.Context) (tiRequest, *catalogView, error) {
	var req tiRequest
	if c.Request().ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 4<<20))
		if err := dec.Decode(&req); err != nil {
			return req, nil, echo.NewHTTPError(http.StatusBadRequest, "Request body: "+err.Error())
		}
	}
	cat, err := s.catalog.get(c.Request().Context())
	return req, cat, err
}

func (s *Server) tiRunEntity(c echo.Context) error {
	req, cat, err := s.tiRunRequest(c)
	if err != nil {
		return err
	}
	ref := yardstick.NewEntityRef(c.Param("kind"), c.Param("namespace"), c.Param("name"))
	if _, err := cat.entity(ref); err != nil {
		return err
	}
	res, err := s.tiRun(c.Request().Context(), []yardstick.EntityRef{ref}, req.Checks)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res[ref])
}

func (s *Server) tiRunBulk(c echo.Context) error {
	req, cat, err := s.tiRunRequest(c)
	if err != nil {
		return err
	}
	var refs []yardstick.EntityRef
	for i, raw := range req.Entities {
		var str string
		var ce TIEntity
		switch {
		case json.Unmarshal(raw, &str) == nil:
			ref, err := yardstick.ParseEntityRef(str, "component")
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("entities[%d]: %v", i, err))
			}
			refs = append(refs, ref)
		case json.Unmarshal(raw, &ce) == nil && ce.Kind != "" && ce.Name != "":
			refs = append(refs, yardstick.NewEntityRef(ce.Kind, ce.Namespace, ce.Name))
		default:
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("entities[%d]: want an entity ref or {namespace, kind, name}", i))
		}
	}
	if len(req.Entities) == 0 {
		for _, e := range cat.all {
			if e.Ref.Kind() == "component" {
				refs = append(refs, e.Ref)
			}
		}
	}
	var known []yardstick.EntityRef
	for _, ref := range refs {
		if _, err := cat.entity(ref); err == nil {
			known = append(known, ref)
		}
	}
	res, err := s.tiRun(c.Request().Context(), known, req.Checks)
	if err != nil {
		return err
	}
	out := make([]TIBulkResult, 0, len(refs))
	for _, ref := range refs {
		r, ok := res[ref]
		if !ok {
			out = append(out, TIBulkResult{Entity: string(ref), Results: []TICheckResult{}, Error: &TIError{Name: "NotFoundError", Message: "entity " + string(ref) + " not found"}})
			continue
		}
		out = append(out, TIBulkResult{Entity: string(ref), Results: r})
	}
	return c.JSON(http.StatusOK, out)
}

var tiIndexedID = regexp.MustCompile(`^ids\[\d*\]$`)

// tiIDs reads ids the ways Backstage clients send them: ids=a&ids=b,
// ids[]=a, and qs's default ids[0]=a&ids[1]=b.
func tiIDs(q url.Values) []string {
	var out []string
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
	for _, k := range keys {
		if k == "ids" || tiIndexedID.MatchString(k) {
			out = append(out, q[k]...)
		}
	}
	return out
}

// tiFactQuery reads the entity and the fact ids a facts query asks for.
func tiFactQuery(c echo.Context) (yardstick.EntityRef, []string, error) {
	raw := c.QueryParam("entity")
	ref, err := yardstick.ParseEntityRef(raw, "")
	if err != nil || ref.Kind() == "" {
		return "", nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Query entity %q: want an entity ref like component:default/name.", raw))
	}
	ids := tiIDs(c.QueryParams())
	if len(ids) == 0 {
		return "", nil, echo.NewHTTPError(http.StatusUnprocessableEntity, "Failed to parse ids from request")
	}
	return ref, ids, nil
}

func (s *Server) tiLatestFacts(c echo.Context) error {
	ref, ids, err := tiFactQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := map[string]TIFactRow{}
	sums, err := s.cfg.Scores.ScoreSummaries(ctx, time.Time{})
	if err != nil {
		return err
	}
	var results []yardstick.CheckResult
	for _, id := range ids {
		sc, ok := strings.CutPrefix(id, tiScorecardFact)
		if !ok {
			continue
		}
		for _, sm := range sums {
			if sm.Entity != ref || sm.Scorecard != sc {
				continue
			}
			if results == nil {
				if results, err = s.cfg.Scores.LatestCheckResults(ctx, yardstick.CheckFilter{Entities: []yardstick.EntityRef{ref}}); err != nil {
					return err
				}
			}
			facts := map[string]any{"level": sm.Level, "level_rank": sm.LevelRank, "score": sm.Score}
			for _, r := range results {
				if r.Scorecard == sc {
					facts[r.CheckID] = string(r.State)
				}
			}
			out[id] = TIFactRow{ID: id, Entity: tiEntity(ref), Timestamp: sm.RunAt.UTC(), Version: tiFactVersion, Facts: facts}
		}
	}
	if slices.Contains(ids, tiCampaignFact) {
		row := TIFactRow{ID: tiCampaignFact, Entity: tiEntity(ref), Version: tiFactVersion, Facts: map[string]any{}}
		for _, cp := range s.rules().Campaigns {
			st, err := s.cfg.Campaigns.CampaignStatuses(ctx, cp.ID)
			if err != nil {
				return err
			}
			for _, x := range st {
				if x.Entity == ref {
					row.Facts[cp.ID] = x.Done
					if x.RunAt.After(row.Timestamp) {
						row.Timestamp = x.RunAt.UTC()
					}
				}
			}
		}
		if len(row.Facts) > 0 {
			out[tiCampaignFact] = row
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) tiRangeFacts(c echo.Context) error {
	ref, ids, err := tiFactQuery(c)
	if err != nil {
		return err
	}
	start, serr := parseISO(c.QueryParam("startDatetime"))
	end, eerr := parseISO(c.QueryParam("endDatetime"))
	if serr != nil || eerr != nil {
		field, value := "startDateTime", c.QueryParam("startDatetime")
		if serr == nil {
			field, value = "endDateTime", c.QueryParam("endDatetime")
		}
		return c.JSON(http.StatusUnprocessableEntity, map[string]string{"message": "Failed to parse datetime from request", "field": field, "value": value})
	}
	out := map[string][]TIFactRow{}
	if s.cfg.ScoreHistory == nil {
		return c.JSON(http.StatusOK, out)
	}
	hist, err := s.cfg.ScoreHistory.EntityScoreHistory(c.Request().Context(), ref, start, end)
	if err != nil {
		return err
	}
	for _, h := range hist {
		id := tiScorecardFact + h.Scorecard
		if !slices.Contains(ids, id) {
			continue
		}
		out[id] = append(out[id], TIFactRow{ID: id, Entity: tiEntity(ref), Timestamp: h.RunAt.UTC(), Version: tiFactVersion,
			Facts: map[string]any{"level": h.Level, "level_rank": h.LevelRank, "score": h.Score}})
	}
	return c.JSON(http.StatusOK, out)
}

// parseISO reads the ISO 8601 forms luxon's DateTime.fromISO accepts most
// often: with or without a zone (UTC then), with or without seconds, or a date.
func parseISO(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("datetime %q: want ISO 8601: %w", s, yardstick.ErrInvalid)
}

func (s *Server) tiFactSchemas(c echo.Context) error {
	ids := tiIDs(c.QueryParams())
	rules := s.rules()
	out := []map[string]any{}
	add := func(id string, fields map[string]TIFactSchemaField) {
		if len(ids) > 0 && !slices.Contains(ids, id) {
			return
		}
		m := map[string]any{"id": id, "version": tiFactVersion, "entityFilter": nil}
		for k, v := range fields {
			m[k] = v
		}
		out = append(out, m)
	}
	for _, sc := range rules.Scorecards {
		f := map[string]TIFactSchemaField{
			"level":      {Type: "string", Description: "Highest level reached on " + cmp.Or(sc.Title, sc.ID) + " (empty for none)"},
			"level_rank": {Type: "integer", Description: "Rank of the level reached, 0 for none"},
			"score":      {Type: "float", Description: "Weighted percentage of passing checks, 0 to 100"},
		}
		for _, ck := range sc.Checks {
			f[ck.ID] = TIFactSchemaField{Type: "string", Description: cmp.Or(ck.Title, ck.ID) + ": pass, fail, unknown or exempt"}
		}
		add(tiScorecardFact+sc.ID, f)
	}
	if len(rules.Campaigns) > 0 {
		f := map[string]TIFactSchemaField{}
		for _, cp := range rules.Campaigns {
			f[cp.ID] = TIFactSchemaField{Type: "boolean", Description: cmp.Or(cp.Title, cp.ID) + ": done"}
		}
		add(tiCampaignFact, f)
	}
	return c.JSON(http.StatusOK, out)
}
