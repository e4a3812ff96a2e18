package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// EvidenceView is the rows behind one figure: the observations a metric of a
// subject was computed from over the range, with the figure itself.
type EvidenceView struct {
	Filter filter `json:"filter"`
	// Checks, for a scorecard figure (?scorecard=ID&check=&state=): the check
	// results behind a pass rate or a count, instead of metric rows.
	Checks       []yardstick.CheckResult `json:"checks,omitempty"`
	Scorecard    string                  `json:"scorecard,omitempty"`
	Metric       yardstick.MetricInfo    `json:"metric"`
	Subject      yardstick.EntityRef     `json:"subject"`
	SubjectTitle string                  `json:"subject_title"`
	Figure       string                  `json:"figure"` // as the pages show it
	Evidence     yardstick.Evidence      `json:"evidence"`
	CSV          string                  `json:"csv"`
}

// evidenceHref links a figure to its evidence page.
func evidenceHref(metric string, subject yardstick.EntityRef) string {
	v := url.Values{}
	v.Set("metric", metric)
	v.Set("subject", string(subject))
	return "/evidence?" + v.Encode()
}

func (s *Server) evidenceData(c echo.Context, cat *catalogView, f filter) (EvidenceView, error) {
	ctx := c.Request().Context()
	if sc := c.QueryParam("scorecard"); sc != "" {
		return s.checkEvidence(c, cat, f, sc)
	}
	metric := c.QueryParam("metric")
	info, ok := yardstick.LookupMetric(metric)
	if !ok {
		return EvidenceView{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("evidence: unknown metric %q (see /api/v1/dashboards for the catalog)", metric))
	}
	subject := yardstick.OrgRef
	if q := c.QueryParam("subject"); q != "" && q != string(yardstick.OrgRef) {
		ref, err := yardstick.ParseEntityRef(q, "component")
		if err != nil {
			return EvidenceView{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("evidence: subject %q: %v", q, err))
		}
		subject = ref
	}
	ev, err := s.cfg.Metrics.Evidence(ctx, metric, subject, f.Window)
	if err != nil {
		return EvidenceView{}, err
	}
	reps, err := s.cfg.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: []string{metric}, Subjects: []yardstick.EntityRef{subject}, Window: f.Window})
	if err != nil {
		return EvidenceView{}, err
	}
	v := EvidenceView{Filter: f, Metric: info, Subject: subject, SubjectTitle: cat.title(subject), Figure: "no data", Evidence: ev}
	if mv, ok := reps[subject].Values[metric]; ok {
		v.Figure = formatMetric(metric, mv.Value)
	}
	q := url.Values{}
	q.Set("metric", metric)
	q.Set("subject", string(subject))
	q.Set("range", f.Range)
	v.CSV = "/evidence.csv?" + q.Encode()
	return v, nil
}

func (s *Server) evidence(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	v, err := s.evidenceData(c, cat, f)
	if err != nil {
		return "", nil, err
	}
	return v.Metric.Title + " of " + v.SubjectTitle, v, nil
}

// evidenceCSV exports the rows behind a figure.
func (s *Server) evidenceCSV(c echo.Context) error {
	v, err := prepared(s, c, s.evidenceData)
	if err != nil {
		return err
	}
	if v.Scorecard != "" {
		rows := make([][]string, 0, len(v.Checks))
		for _, r := range v.Checks {
			rows = append(rows, []string{r.Scorecard, r.CheckID, string(r.Entity), string(r.Owner), string(r.State), csvSafe(r.Value), csvSafe(r.Message), r.RunAt.UTC().Format(time.RFC3339)})
		}
		return sendCSV(c, "evidence.csv", []string{"scorecard", "check", "entity", "owner", "state", "value", "message", "run_at"}, rows)
	}
	rows := make([][]string, 0, len(v.Evidence.Rows))
	for _, r := range v.Evidence.Rows {
		var by []string
		for _, l := range r.Failures {
			by = append(by, l.SignalType+" "+l.SignalID+" ("+l.Basis+")")
		}
		rows = append(rows, []string{v.Metric.Name, string(v.Subject), csvSafe(string(r.Scope)), r.Time.UTC().Format(time.RFC3339), csvSafe(r.Ref),
			strconv.FormatFloat(r.Value, 'f', -1, 64), v.Evidence.Unit, csvSafe(r.Detail), csvSafe(strings.Join(by, "; "))})
	}
	return sendCSV(c, "evidence.csv", []string{"metric", "subject", "scope", "time", "ref", "value", "unit", "detail", "failed_by"}, rows)
}

// checkEvidence lists the latest check results behind a scorecard figure:
// one check (or all), one state (or all), of the entities at or below the
// group filter.
func (s *Server) checkEvidence(c echo.Context, cat *catalogView, f filter, scorecard string) (EvidenceView, error) {
	def, ok := s.rules().Scorecard(scorecard)
	if !ok {
		return EvidenceView{}, fmt.Errorf("scorecard %q: %w", scorecard, yardstick.ErrNotFound)
	}
	filt := yardstick.CheckFilter{Scorecard: def.ID}
	if st := c.QueryParam("state"); st != "" {
		filt.States = []yardstick.CheckState{yardstick.CheckState(st)}
	}
	results, err := s.cfg.Scores.LatestCheckResults(c.Request().Context(), filt)
	if err != nil {
		return EvidenceView{}, err
	}
	check := c.QueryParam("check")
	in := cat.within(f.Group)
	v := EvidenceView{Filter: f, Scorecard: def.ID, Subject: orgOr(f.Group), SubjectTitle: cat.title(f.Group),
		Metric: yardstick.MetricInfo{Name: "scorecard:" + def.ID, Title: orDefault(def.Title, def.ID), Description: "The latest result of each check for each entity scored."}}
	for _, r := range results {
		if (check != "" && r.CheckID != check) || cat.byRef[r.Entity] == nil || (in != nil && !in[r.Entity]) {
			continue
		}
		v.Checks = append(v.Checks, r)
	}
	v.Figure = fmt.Sprintf("%d result(s)", len(v.Checks))
	q := url.Values{}
	q.Set("scorecard", def.ID)
	q.Set("check", check)
	q.Set("state", c.QueryParam("state"))
	q.Set("range", f.Range)
	if f.Group != "" {
		q.Set("group", string(f.Group))
	}
	v.CSV = "/evidence.csv?" + q.Encode()
	return v, nil
}

func orgOr(g yardstick.EntityRef) yardstick.EntityRef {
	if g == "" {
		return yardstick.OrgRef
	}
	return g
}

// checkEvidenceHref links a scorecard figure to the check results behind it.
func checkEvidenceHref(scorecard, check string, state yardstick.CheckState) string {
	v := url.Values{}
	v.Set("scorecard", scorecard)
	if check != "" {
		v.Set("check", check)
	}
	if state != "" {
		v.Set("state", string(state))
	}
	return "/evidence?" + v.Encode()
}
