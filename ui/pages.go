package ui

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// A pageRoute is one page and its JSON twin: the same view, as HTML or JSON.
type pageRoute struct {
	path     string // echo path of the page
	api      string // echo path under /api/v1; "" means the page path
	template string
	build    func(c echo.Context, cat *catalogView, f filter) (string, any, error) // title, view
}

func (p pageRoute) apiPath() string {
	if p.api != "" {
		return p.api
	}
	return p.path
}

func (s *Server) pageRoutes() []pageRoute {
	return []pageRoute{
		{path: "/", api: "/overview", template: "overview", build: s.overview},
		{path: "/squads", template: "squads", build: s.squads},
		{path: "/squads/:namespace/:name", template: "squad", build: s.squad},
		{path: "/squads/:namespace/:name/notifications", template: "notifications", build: s.squadNotifications},
		{path: "/entities/:kind/:namespace/:name", template: "component", build: s.component},
		{path: "/scorecards", template: "scorecards", build: s.scorecards},
		{path: "/scorecards/:id", template: "scorecard", build: s.scorecard},
		{path: "/campaigns", template: "campaigns", build: s.campaigns},
		{path: "/campaigns/:id", template: "campaign", build: s.campaign},
		{path: "/search", template: "search", build: s.search},
		{path: "/evidence", template: "evidence", build: s.evidence},
	}
}

// layout is what every page template gets.
type layout struct {
	Title   string
	Nav     string
	Filter  filter
	Query   template.URL // range and group as a query string, for links
	Groups  []groupOption
	Ranges  []rangeOption
	Search  string
	Open    bool
	Now     time.Time
	Body    any
	Version string
	User    string // the signed-in user (session or proxy), "" for tokens and open access
}

type groupOption struct {
	Ref      yardstick.EntityRef
	Label    string
	Selected bool
}

type rangeOption struct {
	Key, Label string
	Selected   bool
}

func (s *Server) page(p pageRoute) echo.HandlerFunc {
	return func(c echo.Context) error {
		cat, f, title, view, err := s.pageView(c, p)
		if err != nil {
			return err
		}
		l := layout{Title: title, Nav: p.template, Filter: f, Query: template.URL(filterQuery(f)), Open: s.open, Now: s.now(), Body: view,
			Search: c.QueryParam("q")}
		if sess, ok := c.Get("session").(session); ok {
			l.User = sess.Name
		}
		for _, r := range ranges {
			l.Ranges = append(l.Ranges, rangeOption{r.Key, r.Label, r.Key == f.Range})
		}
		for _, g := range cat.org.Groups() {
			depth := min(len(cat.org.Ancestors(g))-1, 6)
			l.Groups = append(l.Groups, groupOption{g, strings.Repeat("· ", depth) + cat.title(g), g == f.Group})
		}
		return s.render(c, http.StatusOK, p.template, l)
	}
}

func (s *Server) api(p pageRoute) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, _, _, view, err := s.pageView(c, p)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, view)
	}
}

// pageView reads the catalog and the request's filter and builds p's title
// and view from them through the page cache.
func (s *Server) pageView(c echo.Context, p pageRoute) (*catalogView, filter, string, any, error) {
	cat, f, err := s.prepare(c)
	if err != nil {
		return nil, filter{}, "", nil, err
	}
	title, view, err := s.buildCached(c, p, cat, f)
	return cat, f, title, view, err
}

// buildCached builds a page's data through the page cache. The key holds
// everything a builder reads from the request: the page, its path parameters,
// the filter, the search query and the paging of long lists (limit, cursor,
// sort).
func (s *Server) buildCached(c echo.Context, p pageRoute, cat *catalogView, f filter) (string, any, error) {
	key := p.template + "\x00" + strings.Join(c.ParamValues(), "\x00") + "\x00" + filterQuery(f) + "\x00" + c.QueryParam("q") +
		"\x00" + c.QueryParam("limit") + "\x00" + c.QueryParam("cursor") + "\x00" + c.QueryParam("sort")
	return s.pageData.get(key, func() (string, any, error) { return p.build(c, cat, f) })
}

// prepare reads the catalog and the request's range and group filter.
func (s *Server) prepare(c echo.Context) (*catalogView, filter, error) {
	cat, err := s.catalog.get(c.Request().Context())
	if err != nil {
		return nil, filter{}, err
	}
	f, err := s.filterOf(c, cat)
	return cat, f, err
}

// prepared builds a view with build from the catalog and the request's
// filter (see prepare).
func prepared[V any](s *Server, c echo.Context, build func(echo.Context, *catalogView, filter) (V, error)) (V, error) {
	cat, f, err := s.prepare(c)
	if err != nil {
		var zero V
		return zero, err
	}
	return build(c, cat, f)
}

// filterQuery returns range and group as a query string.
func filterQuery(f filter) string {
	v := url.Values{}
	v.Set("range", f.Range)
	if f.Group != "" {
		v.Set("group", string(f.Group))
	}
	return v.Encode()
}

func entityPath(ref yardstick.EntityRef) string {
	if ref.Kind() == "group" {
		return squadPath(ref)
	}
	return "/entities/" + url.PathEscape(ref.Kind()) + "/" + url.PathEscape(ref.Namespace()) + "/" + url.PathEscape(ref.Name())
}

func squadPath(ref yardstick.EntityRef) string {
	if ref == "" {
		return ""
	}
	return "/squads/" + url.PathEscape(ref.Namespace()) + "/" + url.PathEscape(ref.Name())
}

var funcs = template.FuncMap{
	"entityPath": entityPath,
	"checkEvidence": func(scorecard, check, state string) string {
		return checkEvidenceHref(scorecard, check, yardstick.CheckState(state))
	},
	"squadPath": squadPath,
	"pct":       func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
	"deref": func(v *float64) float64 {
		if v == nil {
			return 0
		}
		return *v
	},
	"num":        formatNumber,
	"date":       dateText,
	"datetime":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"levelClass": levelClass,
	"levelText":  yardstick.LevelOrNone,
	"stateClass": func(s yardstick.CheckState) string { return "state-" + string(s) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	// withFilter appends the page's range and group to a link that has a query
	// of its own.
	"withFilter": func(href string, q template.URL) template.URL {
		return template.URL(href + "&" + string(q))
	},
	"withQuery": func(href string, q template.URL) template.URL {
		if href == "" || strings.Contains(href, "?") {
			return template.URL(href)
		}
		return template.URL(href + "?" + string(q))
	},
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout templates: %w", err)
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		out[name] = t
	}
	return out, nil
}

func (s *Server) render(c echo.Context, code int, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("render: no template %q", name)
	}
	if _, isLayout := data.(layout); !isLayout {
		data = layout{Title: name, Nav: name, Open: s.open, Now: s.now(), Body: data}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// --- overview -------------------------------------------------------------

// OverviewView is the executive overview: the overview dashboard's panels for
// the whole organisation or the filtered group.
type OverviewView struct {
	Filter  filter              `json:"filter"`
	Subject yardstick.EntityRef `json:"subject"`
	Title   string              `json:"title"`
	Panels  []Panel             `json:"panels"`
}

func (s *Server) overview(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	subject := yardstick.OrgRef
	if f.Group != "" {
		subject = f.Group
	}
	panels, err := s.renderDashboard(c.Request().Context(), s.dashboards["overview"], panelScope{subject: subject, group: f.Group, window: f.Window, cat: cat})
	if err != nil {
		return "", nil, err
	}
	v := OverviewView{Filter: f, Subject: subject, Title: cat.title(subject), Panels: panels}
	return "Overview", v, nil
}

// --- squads ---------------------------------------------------------------

// SquadsView lists squads with their health, a page at a time.
type SquadsView struct {
	Filter  filter        `json:"filter"`
	Sort    string        `json:"sort"` // name (tree order) or score (lowest average first)
	Squads  []SquadRow    `json:"squads"`
	Paging  Paging        `json:"paging"`
	Metrics []string      `json:"metrics"`
	Chart   template.HTML `json:"-"`
}

// SquadRow is one squad's health summary.
type SquadRow struct {
	Ref        yardstick.EntityRef `json:"ref"`
	Title      string              `json:"title"`
	Parent     yardstick.EntityRef `json:"parent,omitempty"`
	Components int                 `json:"components"`
	Members    int                 `json:"members"`
	AvgScore   float64             `json:"avg_score"`
	Scored     int                 `json:"scored"`
	Failing    int                 `json:"failing_checks"`
	Values     []Stat              `json:"metrics"`
}

var squadListMetrics = []string{yardstick.MetricDeploysPerWeek, yardstick.MetricLeadTimeP50Hours, yardstick.MetricChangeFailureRate, yardstick.MetricTimeToRestoreP50Hours, yardstick.MetricIncidentsPerWeek}

// squads lists the squads under the group filter: averages come from
// ClickHouse's rollups for all of them (one row per squad and level), failing
// checks and metrics only for the page shown.
func (s *Server) squads(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	ctx := c.Request().Context()
	p, err := pageOf(c)
	if err != nil {
		return "", nil, err
	}
	order := c.QueryParam("sort")
	switch order {
	case "":
		order = "name"
	case "name", "score":
	default:
		return "", nil, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("sort %q: want name or score.", order))
	}
	all := cat.squads(f.Group)
	v := SquadsView{Filter: f, Sort: order, Metrics: squadListMetrics, Squads: []SquadRow{}}
	rollups, err := s.cfg.Scores.ScoreRollups(ctx, ownersUnder(cat, f.Group))
	if err != nil {
		return "", nil, err
	}
	avgs := squadAverages(rollups)
	if order == "score" {
		all = append([]yardstick.EntityRef(nil), all...)
		sort.SliceStable(all, func(i, j int) bool {
			a, b := avgs[all[i]], avgs[all[j]]
			if (a.n > 0) != (b.n > 0) {
				return a.n > 0 // unscored squads last
			}
			return a.avg() < b.avg()
		})
	}
	squads, paging, err := paginate(c, all, func(r yardstick.EntityRef) string { return string(r) }, p)
	if err != nil {
		return "", nil, err
	}
	v.Paging = paging
	var (
		reps    map[yardstick.EntityRef]yardstick.MetricReport
		failing map[yardstick.EntityRef]int
	)
	if len(squads) > 0 {
		if failing, err = s.cfg.Scores.FailingChecksByOwner(ctx, squads); err != nil {
			return "", nil, err
		}
		if reps, err = s.cfg.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: squadListMetrics, Subjects: squads, Window: f.Window}); err != nil {
			return "", nil, err
		}
	}
	ser := Series{Name: "average score"}
	for _, sq := range squads {
		row := SquadRow{Ref: sq, Title: cat.title(sq), Parent: cat.org.Parent(sq), Members: len(cat.org.Members(sq)), Failing: failing[sq]}
		for _, o := range cat.org.Owned(sq) {
			if isComponent(o) {
				row.Components++
			}
		}
		if a := avgs[sq]; a.n > 0 {
			row.AvgScore, row.Scored = a.avg(), a.n
			ser.Points = append(ser.Points, Point{Label: row.Title, Y: math.Round(row.AvgScore)})
		}
		row.Values = s.stats(squadListMetrics, reps[sq], yardstick.MetricReport{}, nil, true)
		v.Squads = append(v.Squads, row)
	}
	v.Chart = BarChart("Average scorecard score per squad", "score", []Series{ser})
	return "Squads", v, nil
}

// --- squad ----------------------------------------------------------------

// SquadView is one squad's page.
type SquadView struct {
	Filter     filter                `json:"filter"`
	Ref        yardstick.EntityRef   `json:"ref"`
	Title      string                `json:"title"`
	Desc       string                `json:"description,omitempty"`
	Parent     yardstick.EntityRef   `json:"parent,omitempty"`
	Subgroups  []yardstick.EntityRef `json:"subgroups,omitempty"`
	Members    []yardstick.EntityRef `json:"members"`
	Scorecards []ScorecardHead       `json:"scorecards"`
	Components []ComponentRow        `json:"components"`
	Failing    []FailingCheck        `json:"failing_checks"`
	Campaigns  []CampaignShare       `json:"campaigns"`
	Panels     []Panel               `json:"panels"`
}

// ScorecardHead names a scorecard column.
type ScorecardHead struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ComponentRow is one component of a squad with its level per scorecard.
type ComponentRow struct {
	Ref       yardstick.EntityRef `json:"ref"`
	Title     string              `json:"title"`
	Type      string              `json:"type"`
	Lifecycle string              `json:"lifecycle"`
	Owner     yardstick.EntityRef `json:"owner"`
	Levels    []LevelCell         `json:"levels"`
	Failing   int                 `json:"failing_checks"`
}

// LevelCell is an entity's standing on one scorecard.
type LevelCell struct {
	Scorecard string  `json:"scorecard"`
	Level     string  `json:"level"`
	Rank      int     `json:"rank"`
	Score     float64 `json:"score"`
	Scored    bool    `json:"scored"`
}

// FailingCheck is a failing check with what was seen and how to fix it.
type FailingCheck struct {
	Entity      yardstick.EntityRef `json:"entity"`
	EntityTitle string              `json:"entity_title"`
	Scorecard   string              `json:"scorecard"`
	Check       string              `json:"check"`
	CheckTitle  string              `json:"check_title"`
	Level       string              `json:"level"`
	Value       string              `json:"value"`
	Message     string              `json:"message,omitempty"`
	Remediation string              `json:"remediation,omitempty"`
	Link        string              `json:"link,omitempty"`
}

// CampaignShare is a squad's part of a campaign.
type CampaignShare struct {
	ID        string                `json:"id"`
	Title     string                `json:"title"`
	Done      int                   `json:"done"`
	Total     int                   `json:"total"`
	Ratio     float64               `json:"ratio"`
	Share     float64               `json:"share_of_remaining"` // this squad's remaining / all remaining
	Deadline  time.Time             `json:"deadline"`
	Remaining []yardstick.EntityRef `json:"remaining"`
}

func (s *Server) groupParam(c echo.Context, cat *catalogView) (*yardstick.Entity, error) {
	ref := yardstick.NewEntityRef("group", c.Param("namespace"), c.Param("name"))
	e, err := cat.entity(ref)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Server) squad(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	ctx := c.Request().Context()
	g, err := s.groupParam(c, cat)
	if err != nil {
		return "", nil, err
	}
	rules := s.rules()
	comps := cat.components(g.Ref)
	v := SquadView{Filter: f, Ref: g.Ref, Title: cat.title(g.Ref), Desc: g.Description, Parent: cat.org.Parent(g.Ref), Members: cat.org.Members(g.Ref),
		Subgroups: cat.org.Children(g.Ref)}
	for _, sc := range rules.Scorecards {
		v.Scorecards = append(v.Scorecards, ScorecardHead{sc.ID, sc.Title})
	}
	sums, err := s.cfg.Scores.ScoreSummariesOf(ctx, comps)
	if err != nil {
		return "", nil, err
	}
	var failing []yardstick.CheckResult
	if len(comps) > 0 {
		if failing, err = s.latestResults(ctx, rules, yardstick.CheckFilter{Entities: comps, States: []yardstick.CheckState{yardstick.StateFail}}); err != nil {
			return "", nil, err
		}
	}
	type key struct {
		sc string
		e  yardstick.EntityRef
	}
	sumBy := map[key]yardstick.ScoreSummary{}
	for _, x := range sums {
		sumBy[key{x.Scorecard, x.Entity}] = x
	}
	failBy := map[yardstick.EntityRef]int{}
	for _, r := range failing {
		failBy[r.Entity]++
		fc := FailingCheck{Entity: r.Entity, EntityTitle: cat.title(r.Entity), Scorecard: r.Scorecard, Check: r.CheckID, CheckTitle: r.CheckID,
			Level: r.Level, Value: r.Value, Message: r.Message}
		if sc, ok := rules.Scorecard(r.Scorecard); ok {
			if ch, ok := sc.Check(r.CheckID); ok {
				fc.CheckTitle, fc.Remediation, fc.Link = orDefault(ch.Title, ch.ID), ch.Remediation, ch.Link
			}
		}
		v.Failing = append(v.Failing, fc)
	}
	for _, ref := range comps {
		e := cat.byRef[ref]
		row := ComponentRow{Ref: ref, Title: cat.title(ref), Type: e.Type, Lifecycle: e.Lifecycle, Owner: e.Owner, Failing: failBy[ref]}
		for _, sc := range rules.Scorecards {
			cell := LevelCell{Scorecard: sc.ID}
			if x, ok := sumBy[key{sc.ID, ref}]; ok {
				cell = LevelCell{Scorecard: sc.ID, Level: x.Level, Rank: x.LevelRank, Score: x.Score, Scored: true}
			}
			row.Levels = append(row.Levels, cell)
		}
		v.Components = append(v.Components, row)
	}
	inSquad := cat.within(g.Ref)
	for _, def := range rules.Campaigns {
		whole, err := s.campaignProgress(ctx, def, cat, "")
		if err != nil {
			return "", nil, err
		}
		share := CampaignShare{ID: def.ID, Title: orDefault(def.Title, def.ID), Deadline: def.Deadline}
		for _, sq := range whole.Squads {
			if sq.Subject == g.Ref {
				share.Total, share.Done = sq.Applicable, sq.Done
			}
		}
		if share.Total == 0 {
			continue
		}
		for _, x := range whole.Remaining {
			if inSquad[x.Entity] {
				share.Remaining = append(share.Remaining, x.Entity)
			}
		}
		share.Ratio = float64(share.Done) / float64(share.Total)
		if all := whole.Applicable - whole.Done; all > 0 {
			share.Share = float64(len(share.Remaining)) / float64(all)
		}
		v.Campaigns = append(v.Campaigns, share)
	}
	if v.Panels, err = s.renderDashboard(ctx, s.dashboards["squad"], panelScope{subject: g.Ref, group: g.Ref, window: f.Window, cat: cat}); err != nil {
		return "", nil, err
	}
	return v.Title, v, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// --- component ------------------------------------------------------------

// ComponentView is one entity's page.
type ComponentView struct {
	Filter      filter                     `json:"filter"`
	Ref         yardstick.EntityRef        `json:"ref"`
	Title       string                     `json:"title"`
	Kind        string                     `json:"kind"`
	Type        string                     `json:"type"`
	Lifecycle   string                     `json:"lifecycle"`
	Description string                     `json:"description,omitempty"`
	Owner       yardstick.EntityRef        `json:"owner,omitempty"`
	OwnerTitle  string                     `json:"owner_title,omitempty"`
	System      yardstick.EntityRef        `json:"system,omitempty"`
	Tags        []string                   `json:"tags,omitempty"`
	Scopes      []yardstick.Scope          `json:"scopes"`
	Location    string                     `json:"location,omitempty"`
	Scorecards  []EntityScorecard          `json:"scorecards"`
	Campaigns   []yardstick.CampaignStatus `json:"campaigns"`
	Panels      []Panel                    `json:"panels"`
	Events      []EventRow                 `json:"recent_events"`
}

// EntityScorecard is one scorecard's verdict on an entity, check by check.
type EntityScorecard struct {
	ID     string     `json:"id"`
	Title  string     `json:"title"`
	Level  string     `json:"level"`
	Rank   int        `json:"rank"`
	Score  float64    `json:"score"`
	Scored bool       `json:"scored"`
	RunAt  time.Time  `json:"run_at"`
	Checks []CheckRow `json:"checks"`
}

// CheckRow is one check's state with the value seen and the remediation.
type CheckRow struct {
	ID          string               `json:"id"`
	Title       string               `json:"title"`
	Description string               `json:"description,omitempty"`
	Level       string               `json:"level"`
	State       yardstick.CheckState `json:"state"`
	Value       string               `json:"value"`
	Message     string               `json:"message,omitempty"`
	Remediation string               `json:"remediation,omitempty"`
	Link        string               `json:"link,omitempty"`
}

// EventRow is one recent event.
type EventRow struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Source  string    `json:"source"`
	Scope   string    `json:"scope"`
	ID      string    `json:"id"`
	Actor   string    `json:"actor,omitempty"`
	Summary string    `json:"summary"`
}

func (s *Server) component(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	ctx := c.Request().Context()
	ref := yardstick.NewEntityRef(c.Param("kind"), c.Param("namespace"), c.Param("name"))
	e, err := cat.entity(ref)
	if err != nil {
		return "", nil, err
	}
	v := ComponentView{Filter: f, Ref: ref, Title: cat.title(ref), Kind: e.Kind, Type: e.Type, Lifecycle: e.Lifecycle, Description: e.Description,
		Owner: e.Owner, OwnerTitle: cat.title(e.Owner), System: e.System, Tags: e.Tags, Scopes: cat.scopes[ref], Location: e.Location}
	rules := s.rules()
	results, err := s.latestResults(ctx, rules, yardstick.CheckFilter{Entities: []yardstick.EntityRef{ref}})
	if err != nil {
		return "", nil, err
	}
	sums, err := s.cfg.Scores.ScoreSummariesOf(ctx, []yardstick.EntityRef{ref})
	if err != nil {
		return "", nil, err
	}
	bySC := map[string][]yardstick.CheckResult{}
	for _, r := range results {
		bySC[r.Scorecard] = append(bySC[r.Scorecard], r)
	}
	for _, sc := range rules.Scorecards {
		es := EntityScorecard{ID: sc.ID, Title: orDefault(sc.Title, sc.ID)}
		for _, x := range sums {
			if x.Scorecard == sc.ID && x.Entity == ref {
				es.Level, es.Rank, es.Score, es.Scored, es.RunAt = x.Level, x.LevelRank, x.Score, true, x.RunAt
			}
		}
		seen := map[string]bool{}
		for _, r := range bySC[sc.ID] {
			seen[r.CheckID] = true
			row := CheckRow{ID: r.CheckID, Title: r.CheckID, Level: r.Level, State: r.State, Value: r.Value, Message: r.Message}
			if ch, ok := sc.Check(r.CheckID); ok {
				row.Title, row.Description, row.Remediation, row.Link = orDefault(ch.Title, ch.ID), ch.Description, ch.Remediation, ch.Link
			}
			es.Checks = append(es.Checks, row)
		}
		if !es.Scored && len(es.Checks) == 0 {
			continue // the scorecard does not apply to this entity
		}
		order := map[string]int{}
		for i, ch := range sc.Checks {
			order[ch.ID] = i
		}
		sort.SliceStable(es.Checks, func(i, j int) bool { return order[es.Checks[i].ID] < order[es.Checks[j].ID] })
		v.Scorecards = append(v.Scorecards, es)
	}
	for _, def := range rules.Campaigns {
		st, err := s.cfg.Campaigns.CampaignStatusesOf(ctx, def.ID, []yardstick.EntityRef{ref})
		if err != nil {
			return "", nil, err
		}
		v.Campaigns = append(v.Campaigns, st...)
	}
	if len(v.Scopes) > 0 {
		if v.Panels, err = s.renderDashboard(ctx, s.dashboards["component"], panelScope{subject: ref, window: f.Window, cat: cat}); err != nil {
			return "", nil, err
		}
	}
	events, err := s.cfg.Events.RecentEvents(ctx, v.Scopes, 25)
	if err != nil {
		return "", nil, err
	}
	for _, ev := range events {
		v.Events = append(v.Events, EventRow{Time: ev.Time, Type: ev.Type, Source: ev.Source, Scope: string(ev.Scope), ID: ev.ID, Actor: ev.Actor, Summary: eventSummary(ev)})
	}
	return v.Title, v, nil
}

// eventSummary picks the attributes that say most about an event.
func eventSummary(e yardstick.Event) string {
	var parts []string
	for _, k := range []string{"environment", "workflow", "conclusion", "from", "to", "urgency", "title", "sha", "merge_commit_sha"} {
		if v := e.Str[k]; v != "" {
			if len(v) > 12 && strings.HasSuffix(k, "sha") {
				v = v[:12]
			}
			parts = append(parts, k+"="+v)
		}
	}
	for _, k := range []string{"number", "additions", "deletions", "duration_seconds"} {
		if v, ok := e.Num[k]; ok {
			parts = append(parts, k+"="+formatNumber(v))
		}
	}
	if len(e.Related) > 0 {
		parts = append(parts, fmt.Sprintf("%d commits", len(e.Related)))
	}
	return strings.Join(parts, " ")
}

// latestResults reads f's latest check results one scorecard of the rules
// at a time: scorecard and entity lead the results table's key, so each read
// touches only the rows of f's entities rather than the whole run history.
func (s *Server) latestResults(ctx context.Context, rules Rules, f yardstick.CheckFilter) ([]yardstick.CheckResult, error) {
	var out []yardstick.CheckResult
	for _, sc := range rules.Scorecards {
		f.Scorecard = sc.ID
		rs, err := s.cfg.Scores.LatestCheckResults(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// --- scorecards -----------------------------------------------------------

// ScorecardsView lists scorecards with their level distribution.
type ScorecardsView struct {
	Filter     filter             `json:"filter"`
	Scorecards []ScorecardSummary `json:"scorecards"`
	Chart      template.HTML      `json:"-"`
}

// ScorecardSummary is a scorecard at a glance.
type ScorecardSummary struct {
	ID           string            `json:"id"`
	Title        string            `json:"title"`
	Description  string            `json:"description,omitempty"`
	Levels       []yardstick.Level `json:"levels"`
	Checks       int               `json:"checks"`
	Distribution LevelDistribution `json:"distribution"`
}

func (s *Server) scorecards(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	rules := s.rules()
	dist, err := s.levelDistribution(c.Request().Context(), rules, cat, f.Group)
	if err != nil {
		return "", nil, err
	}
	v := ScorecardsView{Filter: f}
	for i, sc := range rules.Scorecards {
		v.Scorecards = append(v.Scorecards, ScorecardSummary{ID: sc.ID, Title: orDefault(sc.Title, sc.ID), Description: sc.Description,
			Levels: sc.Levels, Checks: len(sc.Checks), Distribution: dist[i]})
	}
	v.Chart = StackedBarChart("Entities per level and scorecard", "entities", distributionSeries(dist))
	return "Scorecards", v, nil
}

// distributionSeries stacks level counts by rank, one bar per scorecard.
func distributionSeries(dist []LevelDistribution) []Series {
	maxRank := 0
	for _, d := range dist {
		maxRank = max(maxRank, len(d.Counts)-1)
	}
	var out []Series
	for rank := 0; rank <= maxRank; rank++ {
		ser := Series{Name: "no level", Class: levelClass(rank)}
		for _, d := range dist {
			if rank < len(d.Counts) {
				if rank > 0 && ser.Name == "no level" {
					ser.Name = d.Counts[rank].Level
				}
				ser.Points = append(ser.Points, Point{Label: orDefault(d.Title, d.Scorecard), Y: float64(d.Counts[rank].Count)})
			}
		}
		out = append(out, ser)
	}
	return out
}

// maxChanges bounds the changes since last week a scorecard page lists
// (biggest first) over all scorecards.
const maxChanges = 500

// ScorecardView is one scorecard: definition, distribution, pass rate per
// check and what changed since last week.
type ScorecardView struct {
	Filter       filter            `json:"filter"`
	Definition   ScorecardDef      `json:"definition"`
	Distribution LevelDistribution `json:"distribution"`
	PassRates    []CheckPassRate   `json:"pass_rates"`
	Changes      []Mover           `json:"changes_since_last_week"`
	Improved     int               `json:"improved"`
	Regressed    int               `json:"regressed"`
	Chart        template.HTML     `json:"-"`
	RateChart    template.HTML     `json:"-"`
}

// CheckPassRate counts one check's states over the scored entities.
type CheckPassRate struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Level   string  `json:"level"`
	Expr    string  `json:"expr"`
	Pass    int     `json:"pass"`
	Fail    int     `json:"fail"`
	Unknown int     `json:"unknown"`
	Exempt  int     `json:"exempt"`
	Rate    float64 `json:"pass_rate"` // pass / (pass + fail)
}

func (s *Server) scorecard(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	ctx := c.Request().Context()
	rules := s.rules()
	def, ok := rules.Scorecard(c.Param("id"))
	if !ok {
		return "", nil, fmt.Errorf("scorecard %q: %w", c.Param("id"), yardstick.ErrNotFound)
	}
	v := ScorecardView{Filter: f, Definition: def}
	dist, err := s.levelDistribution(ctx, Rules{Scorecards: []ScorecardDef{def}}, cat, f.Group)
	if err != nil {
		return "", nil, err
	}
	v.Distribution = dist[0]
	counts, err := s.cfg.Scores.CheckStateCounts(ctx, def.ID, ownersUnder(cat, f.Group))
	if err != nil {
		return "", nil, err
	}
	rates := map[string]*CheckPassRate{}
	for _, ch := range def.Checks {
		r := &CheckPassRate{ID: ch.ID, Title: orDefault(ch.Title, ch.ID), Level: ch.Level, Expr: ch.Expr}
		rates[ch.ID] = r
		v.PassRates = append(v.PassRates, CheckPassRate{})
	}
	for id, byState := range counts {
		pr := rates[id]
		if pr == nil {
			continue
		}
		for state, n := range byState {
			switch state {
			case yardstick.StatePass:
				pr.Pass += n
			case yardstick.StateFail:
				pr.Fail += n
			case yardstick.StateExempt:
				pr.Exempt += n
			default:
				pr.Unknown += n
			}
		}
	}
	pass, fail, unknown, exempt := Series{Name: "pass", Class: "pass"}, Series{Name: "fail", Class: "fail"}, Series{Name: "unknown", Class: "unknown"}, Series{Name: "exempt", Class: "exempt"}
	for i, ch := range def.Checks {
		r := rates[ch.ID]
		if r.Pass+r.Fail > 0 {
			r.Rate = float64(r.Pass) / float64(r.Pass+r.Fail)
		}
		v.PassRates[i] = *r
		pass.Points = append(pass.Points, Point{Label: ch.ID, Y: float64(r.Pass)})
		fail.Points = append(fail.Points, Point{Label: ch.ID, Y: float64(r.Fail)})
		unknown.Points = append(unknown.Points, Point{Label: ch.ID, Y: float64(r.Unknown)})
		exempt.Points = append(exempt.Points, Point{Label: ch.ID, Y: float64(r.Exempt)})
	}
	v.Chart = StackedBarChart("Entities per level", "entities", distributionSeries([]LevelDistribution{v.Distribution}))
	v.RateChart = StackedBarChart("Check results", "entities", []Series{pass, fail, unknown, exempt})
	// "Since last week" to the hour, so that page views share cached movers.
	since := s.now().Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	movers, err := s.topMovers(ctx, cat, f.Group, since, maxChanges)
	if err != nil {
		return "", nil, err
	}
	for _, m := range movers {
		if m.Scorecard != def.ID {
			continue
		}
		v.Changes = append(v.Changes, m)
		if m.Delta > 0 {
			v.Improved++
		} else {
			v.Regressed++
		}
	}
	return orDefault(def.Title, def.ID), v, nil
}

// --- campaigns ------------------------------------------------------------

// CampaignsView lists campaigns at a glance.
type CampaignsView struct {
	Filter    filter            `json:"filter"`
	Campaigns []CampaignSummary `json:"campaigns"`
}

func (s *Server) campaigns(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	sums, err := s.campaignSummaries(c.Request().Context(), cat, f.Group)
	if err != nil {
		return "", nil, err
	}
	return "Campaigns", CampaignsView{Filter: f, Campaigns: sums}, nil
}

// CampaignView is one campaign: burndown, squads, projection, what remains.
type CampaignView struct {
	Filter     filter          `json:"filter"`
	Definition CampaignDef     `json:"definition"`
	Summary    CampaignSummary `json:"summary"`
	Burndown   []Point         `json:"burndown"`
	Squads     []SquadProgress `json:"squads"`
	Remaining  []RemainingRow  `json:"remaining"` // a page of them: see RemainingPaging
	// RemainingPaging places Remaining in the whole list (limit and cursor).
	RemainingPaging Paging        `json:"remaining_paging"`
	Chart           template.HTML `json:"-"`
	CSV             string        `json:"csv"`
}

// SquadProgress is one squad's progress in a campaign.
type SquadProgress struct {
	Squad   yardstick.EntityRef `json:"squad"`
	Title   string              `json:"title"`
	Summary CampaignSummary     `json:"summary"`
}

// RemainingRow is an entity not done yet, with its owner.
type RemainingRow struct {
	Entity     yardstick.EntityRef     `json:"entity"`
	Title      string                  `json:"title"`
	Owner      yardstick.EntityRef     `json:"owner"`
	OwnerTitle string                  `json:"owner_title"`
	State      yardstick.CampaignState `json:"state"`
	Message    string                  `json:"message,omitempty"`
}

func (s *Server) campaignData(c echo.Context, cat *catalogView, f filter) (CampaignView, error) {
	ctx := c.Request().Context()
	def, ok := s.rules().Campaign(c.Param("id"))
	if !ok {
		return CampaignView{}, fmt.Errorf("campaign %q: %w", c.Param("id"), yardstick.ErrNotFound)
	}
	p, err := s.campaignProgress(ctx, def, cat, f.Group)
	if err != nil {
		return CampaignView{}, err
	}
	v := CampaignView{Filter: f, Definition: def, CSV: "/campaigns/" + url.PathEscape(def.ID) + "/remaining.csv?" + filterQuery(f)}
	v.Burndown = points(p.Burndown)
	v.Summary = summarise(def, p.Done, p.Applicable, p.Projected, p.Health)
	for _, x := range p.Remaining {
		v.Remaining = append(v.Remaining, RemainingRow{Entity: x.Entity, Title: cat.title(x.Entity), Owner: x.Owner, OwnerTitle: cat.title(x.Owner), State: x.State, Message: x.Message})
	}
	// The squads table lists squads; tribes above them roll up on their own pages.
	for _, sq := range p.Squads {
		if cat.isSquad(sq.Subject) {
			v.Squads = append(v.Squads, SquadProgress{Squad: sq.Subject, Title: cat.title(sq.Subject), Summary: summarise(def, sq.Done, sq.Applicable, sq.Projected, sq.Health)})
		}
	}
	sort.SliceStable(v.Squads, func(i, j int) bool { return v.Squads[i].Summary.Ratio < v.Squads[j].Summary.Ratio })
	sort.SliceStable(v.Remaining, func(i, j int) bool { return v.Remaining[i].Owner < v.Remaining[j].Owner })
	v.Chart = BurndownChart("Burndown: "+orDefault(def.Title, def.ID), v.Burndown, def.Start, def.Deadline, v.Summary.Projected)
	return v, nil
}

// campaign is the campaign page: its remaining entities a page at a time
// (the CSV has them all).
func (s *Server) campaign(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	p, err := pageOf(c)
	if err != nil {
		return "", nil, err
	}
	v, err := s.campaignData(c, cat, f)
	if err != nil {
		return "", nil, err
	}
	if v.Remaining, v.RemainingPaging, err = paginate(c, v.Remaining, func(r RemainingRow) string { return string(r.Entity) }, p); err != nil {
		return "", nil, err
	}
	return v.Summary.Title, v, nil
}

// campaignCSV exports the remaining entities of a campaign with their owners.
func (s *Server) campaignCSV(c echo.Context) error {
	v, err := prepared(s, c, s.campaignData)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(v.Remaining))
	for _, r := range v.Remaining {
		rows = append(rows, []string{v.Definition.ID, string(r.Entity), csvSafe(r.Title), string(r.Owner), csvSafe(r.OwnerTitle), string(r.State), csvSafe(r.Message), dateISO(v.Definition.Deadline)})
	}
	return sendCSV(c, v.Definition.ID+"-remaining.csv",
		[]string{"campaign", "entity", "title", "owner", "owner_title", "state", "message", "deadline"}, rows)
}

// sendCSV answers with a CSV attachment named filename: the header row, then
// the rows.
func sendCSV(c echo.Context, filename string, header []string, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(append([][]string{header}, rows...)); err != nil {
		return fmt.Errorf("write %s: %w", filename, err)
	}
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, filename)))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// csvSafe keeps spreadsheet programs from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func dateISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// --- search ---------------------------------------------------------------

// SearchView is the entity search.
type SearchView struct {
	Filter  filter      `json:"filter"`
	Query   string      `json:"q"`
	Results []SearchHit `json:"results"`
}

// SearchHit is one entity found.
type SearchHit struct {
	Ref         yardstick.EntityRef `json:"ref"`
	Title       string              `json:"title"`
	Kind        string              `json:"kind"`
	Type        string              `json:"type,omitempty"`
	Owner       yardstick.EntityRef `json:"owner,omitempty"`
	Description string              `json:"description,omitempty"`
	Href        string              `json:"href"`
}

func (s *Server) search(c echo.Context, cat *catalogView, f filter) (string, any, error) {
	q := strings.TrimSpace(c.QueryParam("q"))
	v := SearchView{Filter: f, Query: q, Results: []SearchHit{}}
	for _, e := range cat.search(q, 50) {
		v.Results = append(v.Results, SearchHit{Ref: e.Ref, Title: cat.title(e.Ref), Kind: e.Kind, Type: e.Type, Owner: e.Owner, Description: e.Description, Href: entityPath(e.Ref)})
	}
	return "Search", v, nil
}

// --- metrics and dashboards API -------------------------------------------

func (s *Server) apiMetrics(c echo.Context) error {
	_, f, err := s.prepare(c)
	if err != nil {
		return err
	}
	subject := yardstick.OrgRef
	if sub := c.QueryParam("subject"); sub != "" && sub != string(yardstick.OrgRef) {
		ref, err := yardstick.ParseEntityRef(sub, "component")
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("subject %q: not an entity ref", sub))
		}
		subject = ref
	}
	names := yardstick.MetricNames()
	if n := c.QueryParam("names"); n != "" {
		names = strings.Split(n, ",")
		for _, name := range names {
			if _, ok := yardstick.LookupMetric(name); !ok {
				return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("unknown metric %q; GET /api/v1/dashboards lists them", name))
			}
		}
	}
	reps, err := s.cfg.Metrics.Metrics(c.Request().Context(), yardstick.MetricQuery{Names: names, Subjects: []yardstick.EntityRef{subject}, Window: f.Window, Weekly: c.QueryParam("weekly") != "false"})
	if err != nil {
		return err
	}
	rep := reps[subject]
	out := struct {
		yardstick.MetricReport
		Buckets   map[string]yardstick.DORABucket `json:"buckets"`
		Benchmark string                          `json:"benchmark"`
	}{MetricReport: rep, Buckets: map[string]yardstick.DORABucket{}, Benchmark: s.benchmark.Name}
	for n, v := range rep.Values {
		if b, ok := s.benchmark.Classify(n, v.Value); ok {
			out.Buckets[n] = b
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiDashboards(c echo.Context) error {
	out := make([]Dashboard, 0, len(s.dashboards))
	for _, id := range slices.Sorted(maps.Keys(s.dashboards)) {
		out = append(out, s.dashboards[id])
	}
	return c.JSON(http.StatusOK, map[string]any{"dashboards": out, "metrics": yardstick.MetricCatalog, "benchmark": s.benchmark})
}
