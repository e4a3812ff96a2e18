package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
)

// Dashboard is a built-in dashboard definition: panels, each a named query and
// a chart type. The YAML files live in the dashboards folder.
type Dashboard struct {
	ID          string      `yaml:"id" json:"id"`
	Title       string      `yaml:"title" json:"title"`
	Description string      `yaml:"description" json:"description,omitempty"`
	Panels      []PanelSpec `yaml:"panels" json:"panels"`
	File        string      `yaml:"-" json:"-"`
}

// PanelSpec is one panel of a dashboard definition.
type PanelSpec struct {
	ID          string   `yaml:"id" json:"id"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Query       string   `yaml:"query" json:"query"`
	Chart       string   `yaml:"chart" json:"chart"`
	Metrics     []string `yaml:"metrics" json:"metrics,omitempty"`
	Wide        bool     `yaml:"wide" json:"wide,omitempty"`
	Line        int      `yaml:"-" json:"-"`
}

// Named queries and the charts each may be drawn as.
var panelQueries = map[string][]string{
	"dora":               {"stat"},
	"metric_stats":       {"stat"},
	"metric_series":      {"line", "bar", "stacked"},
	"level_distribution": {"stacked", "bar", "table"},
	"squad_health":       {"bar", "table"},
	"campaigns":          {"table"},
	"top_movers":         {"table"},
	"ci_workflows":       {"table", "bar"},
}

// LoadDashboards reads every *.yaml file of fsys's root and checks each panel's
// query, chart and metric names. Errors name file:line.
func LoadDashboards(fsys fs.FS) (map[string]Dashboard, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	out := map[string]Dashboard{}
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read dashboard %s: %w", name, err))
			continue
		}
		d, err := parseDashboard(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := out[d.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: dashboard id %q already used by %s: %w", name, d.ID, prev.File, yardstick.ErrInvalid))
			continue
		}
		out[d.ID] = d
	}
	return out, errors.Join(errs...)
}

func parseDashboard(file string, data []byte) (Dashboard, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w: %w", file, err, yardstick.ErrInvalid)
	}
	var d Dashboard
	if err := root.Decode(&d); err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w: %w", file, err, yardstick.ErrInvalid)
	}
	d.File = file
	if d.ID == "" {
		d.ID = strings.TrimSuffix(path.Base(file), ".yaml")
	}
	// Panel line numbers, for errors.
	if len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "panels" && m.Content[i+1].Kind == yaml.SequenceNode {
				for j, p := range m.Content[i+1].Content {
					if j < len(d.Panels) {
						d.Panels[j].Line = p.Line
					}
				}
			}
		}
	}
	var errs []error
	seen := map[string]bool{}
	for i := range d.Panels {
		p := &d.Panels[i]
		where := fmt.Sprintf("%s:%d: panel %q", file, p.Line, p.ID)
		if p.ID == "" {
			errs = append(errs, fmt.Errorf("%s:%d: panel without id: %w", file, p.Line, yardstick.ErrInvalid))
		} else if seen[p.ID] {
			errs = append(errs, fmt.Errorf("%s: id used twice: %w", where, yardstick.ErrInvalid))
		}
		seen[p.ID] = true
		charts, ok := panelQueries[p.Query]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown query %q (known: %s): %w", where, p.Query, strings.Join(slices.Sorted(maps.Keys(panelQueries)), ", "), yardstick.ErrInvalid))
			continue
		}
		if p.Chart == "" {
			p.Chart = charts[0]
		}
		if !slices.Contains(charts, p.Chart) {
			errs = append(errs, fmt.Errorf("%s: query %s cannot be drawn as %q (use %s): %w", where, p.Query, p.Chart, strings.Join(charts, ", "), yardstick.ErrInvalid))
		}
		if (p.Query == "metric_stats" || p.Query == "metric_series") && len(p.Metrics) == 0 {
			errs = append(errs, fmt.Errorf("%s: query %s needs metrics: %w", where, p.Query, yardstick.ErrInvalid))
		}
		for _, m := range p.Metrics {
			if _, ok := yardstick.LookupMetric(m); !ok {
				errs = append(errs, fmt.Errorf("%s: unknown metric %q: %w", where, m, yardstick.ErrInvalid))
			}
		}
	}
	return d, errors.Join(errs...)
}

// Panel is a rendered panel: its data (for the JSON API) and its chart.
type Panel struct {
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Description string        `json:"description,omitempty"`
	Query       string        `json:"query"`
	Chart       string        `json:"chart"`
	Wide        bool          `json:"wide,omitempty"`
	Stats       []Stat        `json:"stats,omitempty"`
	Series      []Series      `json:"series,omitempty"`
	Table       *Table        `json:"table,omitempty"`
	Note        string        `json:"note,omitempty"`
	SVG         template.HTML `json:"-"`
}

// Stat is one metric with its DORA bucket and its change from the previous window.
type Stat struct {
	Metric   string               `json:"metric"`
	Title    string               `json:"title"`
	Unit     string               `json:"unit"`
	Has      bool                 `json:"has_value"`
	Value    float64              `json:"value"`
	Count    int64                `json:"count"`
	Text     string               `json:"text"`
	Bucket   yardstick.DORABucket `json:"bucket,omitempty"`
	Previous *float64             `json:"previous,omitempty"`
	Change   string               `json:"change,omitempty"`
	// ChangeNote says why no change is given: the previous period is not
	// covered by the data, so a comparison would mislead.
	ChangeNote string `json:"change_note,omitempty"`
	Better     bool   `json:"better"`
	// Evidence links the figure to the rows behind it.
	Evidence string                  `json:"evidence,omitempty"`
	Series   []yardstick.MetricPoint `json:"series,omitempty"`
	Spark    template.HTML           `json:"-"`
}

// Table is tabular panel data.
type Table struct {
	Columns []string `json:"columns"`
	Rows    [][]Cell `json:"rows"`
}

// Cell is one table cell; Bar (0..1) draws a progress bar.
type Cell struct {
	Text  string   `json:"text"`
	Href  string   `json:"href,omitempty"`
	Class string   `json:"class,omitempty"`
	Bar   *float64 `json:"bar,omitempty"`
}

// panelScope is what a dashboard is rendered for.
type panelScope struct {
	subject yardstick.EntityRef // component, group, or OrgRef
	group   yardstick.EntityRef // group filter for score panels ("" for all)
	window  yardstick.Window
	cat     *catalogView
}

// renderDashboard computes every panel of d. Metric panels share two metric
// queries: the window with weekly series and the previous window for trends.
func (s *Server) renderDashboard(ctx context.Context, d Dashboard, ps panelScope) ([]Panel, error) {
	var names []string
	seen := map[string]bool{}
	need := func(ms ...string) {
		for _, m := range ms {
			if !seen[m] {
				seen[m] = true
				names = append(names, m)
			}
		}
	}
	var trend []string
	for _, p := range d.Panels {
		switch p.Query {
		case "dora":
			need(yardstick.DORAMetrics...)
			trend = append(trend, yardstick.DORAMetrics...)
		case "metric_stats":
			need(p.Metrics...)
			trend = append(trend, p.Metrics...)
		case "metric_series":
			need(p.Metrics...)
		}
	}
	var (
		cur, prev yardstick.MetricReport
		coverage  map[string]time.Time
	)
	if len(names) > 0 {
		// The range with weekly series, the previous range for trends and where
		// the data starts (whether a trend may be shown), side by side.
		var (
			wg             sync.WaitGroup
			prevErr, cvErr error
		)
		if len(trend) > 0 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				reps, err := s.cfg.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: dedupe(trend), Subjects: []yardstick.EntityRef{ps.subject}, Window: ps.window.Previous()})
				prev, prevErr = reps[ps.subject], err
			}()
			go func() {
				defer wg.Done()
				coverage, cvErr = s.cfg.Metrics.Coverage(ctx, ps.subject, dedupe(trend))
			}()
		}
		reps, err := s.cfg.Metrics.Metrics(ctx, yardstick.MetricQuery{Names: names, Subjects: []yardstick.EntityRef{ps.subject}, Window: ps.window, Weekly: true})
		wg.Wait()
		if err = errors.Join(err, prevErr, cvErr); err != nil {
			return nil, err
		}
		cur = reps[ps.subject]
	}
	out := make([]Panel, 0, len(d.Panels))
	for _, spec := range d.Panels {
		p := Panel{ID: spec.ID, Title: spec.Title, Description: spec.Description, Query: spec.Query, Chart: spec.Chart, Wide: spec.Wide}
		var err error
		switch spec.Query {
		case "dora":
			p.Stats = s.stats(yardstick.DORAMetrics, cur, prev, coverage, true)
		case "metric_stats":
			p.Stats = s.stats(spec.Metrics, cur, prev, coverage, false)
		case "metric_series":
			p.Series = metricSeries(spec.Metrics, cur, s.now())
		case "level_distribution":
			err = s.levelPanel(ctx, &p, ps)
		case "squad_health":
			err = s.squadHealthPanel(ctx, &p, ps)
		case "campaigns":
			err = s.campaignsPanel(ctx, &p, ps)
		case "top_movers":
			err = s.moversPanel(ctx, &p, ps)
		case "ci_workflows":
			err = s.workflowsPanel(ctx, &p, ps)
		}
		if err != nil {
			return nil, fmt.Errorf("dashboard %s panel %s: %w", d.ID, spec.ID, err)
		}
		drawPanel(&p, spec, s.now())
		out = append(out, p)
	}
	return out, nil
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// unitLabel is the axis label of a metric.
func unitLabel(names []string) string {
	if len(names) == 0 {
		return ""
	}
	info, _ := yardstick.LookupMetric(names[0])
	return info.Unit
}

func drawPanel(p *Panel, spec PanelSpec, now time.Time) {
	switch p.Chart {
	case "line":
		if len(p.Series) == 0 || allEmpty(p.Series) {
			p.SVG = emptyChart(p.Title, "No data in this time range")
			return
		}
		p.SVG = LineChart(p.Title, unitLabel(spec.Metrics), p.Series)
	case "bar":
		p.SVG = BarChart(p.Title, unitLabel(spec.Metrics), p.Series)
	case "stacked":
		p.SVG = StackedBarChart(p.Title, unitLabel(spec.Metrics), p.Series)
	case "stat":
		for i := range p.Stats {
			p.Stats[i].Spark = Sparkline(pointsOf(p.Stats[i].Series, now))
		}
	}
}

func allEmpty(series []Series) bool {
	for _, s := range series {
		if len(s.Points) > 0 {
			return false
		}
	}
	return true
}

func pointsOf(ms []yardstick.MetricPoint, now time.Time) []Point {
	out := make([]Point, len(ms))
	for i, m := range ms {
		out[i] = Point{X: m.Week, Y: m.Value, Partial: m.Week.AddDate(0, 0, 7).After(now)}
	}
	return out
}

// formatMetric prints a metric value with its unit.
func formatMetric(name string, v float64) string {
	info, _ := yardstick.LookupMetric(name)
	switch info.Unit {
	case "ratio":
		return trimZeros(fmt.Sprintf("%.1f", v*100)) + "%"
	case "hours":
		if v >= 72 {
			return formatNumber(v/24) + " days"
		}
		return formatNumber(v) + " h"
	case "minutes":
		return formatNumber(v) + " min"
	case "count":
		return formatNumber(v)
	}
	return formatNumber(v) + " " + info.Unit
}

// stats renders metrics as figures. A change against the previous window is
// given only when the subject's data for the metric (coverage, nil for no
// comparison) starts by the previous window's start; otherwise ChangeNote
// says why not.
func (s *Server) stats(names []string, cur, prev yardstick.MetricReport, coverage map[string]time.Time, dora bool) []Stat {
	out := make([]Stat, 0, len(names))
	prevFrom := prev.Window.From
	for _, n := range names {
		info, _ := yardstick.LookupMetric(n)
		st := Stat{Metric: n, Title: info.Title, Unit: info.Unit, Text: "no data", Series: cur.Series[n]}
		if cur.Subject != "" {
			st.Evidence = evidenceHref(n, cur.Subject)
		}
		if v, ok := cur.Values[n]; ok {
			st.Has, st.Value, st.Count, st.Text = true, v.Value, v.Count, formatMetric(n, v.Value)
			if dora {
				if b, ok := s.benchmark.Classify(n, v.Value); ok {
					st.Bucket = b
				}
			}
			start, covered := coverage[n]
			p, hasPrev := prev.Values[n]
			switch {
			case coverage == nil || !hasPrev:
			case !covered || start.After(prevFrom):
				st.ChangeNote = "no comparison: data starts " + start.Format("2 Jan 2006") + ", after the previous period began"
				if !covered {
					st.ChangeNote = "no comparison: no data before this period"
				}
			default:
				pv := p.Value
				st.Previous = &pv
				switch {
				case pv == v.Value:
					st.Change, st.Better = "no change", true
				case pv == 0:
					st.Change, st.Better = "new", !info.LowerBetter
				default:
					pct := (v.Value - pv) / math.Abs(pv) * 100
					st.Change = fmt.Sprintf("%+.0f%%", pct)
					st.Better = (pct < 0) == info.LowerBetter
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// metricSeries turns weekly series into chart series; a week that has not
// ended by now is marked partial.
func metricSeries(names []string, cur yardstick.MetricReport, now time.Time) []Series {
	out := make([]Series, 0, len(names))
	for _, n := range names {
		info, _ := yardstick.LookupMetric(n)
		s := Series{Name: info.Title}
		for _, p := range cur.Series[n] {
			s.Points = append(s.Points, Point{X: p.Week, Y: p.Value, Partial: p.Week.AddDate(0, 0, 7).After(now)})
		}
		out = append(out, s)
	}
	return out
}

// levelClass is the CSS class of a level by rank (0 none).
func levelClass(rank int) string {
	if rank <= 0 {
		return "lvl0"
	}
	return fmt.Sprintf("lvl%d", min(rank, 4))
}

// levelPanel draws each scorecard's level distribution over the filter's entities.
func (s *Server) levelPanel(ctx context.Context, p *Panel, ps panelScope) error {
	rules := s.rules()
	dist, err := s.levelDistribution(ctx, rules, ps.cat, ps.group)
	if err != nil {
		return err
	}
	maxRank := 0
	for _, sc := range rules.Scorecards {
		maxRank = max(maxRank, len(sc.Levels))
	}
	// One series per rank so the stack reads none → top level.
	for rank := 0; rank <= maxRank; rank++ {
		name := "no level"
		if rank > 0 {
			name = fmt.Sprintf("level %d", rank)
			if len(rules.Scorecards) > 0 && rank <= len(rules.Scorecards[0].Levels) {
				name = rules.Scorecards[0].Levels[rank-1].Name
			}
		}
		ser := Series{Name: name, Class: levelClass(rank)}
		for _, d := range dist {
			if rank < len(d.Counts) {
				ser.Points = append(ser.Points, Point{Label: d.Title, Y: float64(d.Counts[rank].Count)})
			}
		}
		p.Series = append(p.Series, ser)
	}
	tbl := &Table{Columns: []string{"Scorecard", "Entities", "Levels", "Average score"}}
	for _, d := range dist {
		var parts []string
		for _, c := range d.Counts {
			parts = append(parts, fmt.Sprintf("%s %d", c.Level, c.Count))
		}
		tbl.Rows = append(tbl.Rows, []Cell{{Text: d.Title, Href: "/scorecards/" + d.Scorecard}, {Text: fmt.Sprint(d.Total)}, {Text: strings.Join(parts, " · ")}, {Text: fmt.Sprintf("%.0f", d.AvgScore)}})
	}
	p.Table = tbl
	if len(dist) == 0 {
		p.Note = "No scorecard results yet."
	}
	return nil
}

// LevelDistribution is how many entities of a scorecard sit at each level.
type LevelDistribution struct {
	Scorecard string       `json:"scorecard"`
	Title     string       `json:"title"`
	Total     int          `json:"total"`
	AvgScore  float64      `json:"avg_score"`
	Counts    []LevelCount `json:"counts"` // index = rank; 0 is "no level"
}

// LevelCount is the entities at one level.
type LevelCount struct {
	Level string `json:"level"`
	Rank  int    `json:"rank"`
	Count int    `json:"count"`
}

// ownersUnder returns the groups at or below g whose entities a group
// filter keeps, nil (every owner) for no filter.
func ownersUnder(cat *catalogView, g yardstick.EntityRef) []yardstick.EntityRef {
	if g == "" {
		return nil
	}
	return cat.descendants(g)
}

// levelDistribution counts each scorecard's entities per level under group,
// from rollups ClickHouse computes.
func (s *Server) levelDistribution(ctx context.Context, rules Rules, cat *catalogView, group yardstick.EntityRef) ([]LevelDistribution, error) {
	rollups, err := s.cfg.Scores.ScoreRollups(ctx, ownersUnder(cat, group))
	if err != nil {
		return nil, err
	}
	return levelDistribution(rules, rollups), nil
}

func levelDistribution(rules Rules, rollups []yardstick.ScoreRollup) []LevelDistribution {
	var out []LevelDistribution
	for _, sc := range rules.Scorecards {
		d := LevelDistribution{Scorecard: sc.ID, Title: sc.Title, Counts: []LevelCount{{Level: "none", Rank: 0}}}
		for _, l := range sc.Levels {
			d.Counts = append(d.Counts, LevelCount{Level: l.Name, Rank: l.Rank})
		}
		total := 0.0
		for _, x := range rollups {
			if x.Scorecard != sc.ID {
				continue
			}
			r := x.LevelRank
			if r < 0 || r >= len(d.Counts) {
				r = 0
			}
			d.Counts[r].Count += x.Entities
			d.Total += x.Entities
			total += x.ScoreSum
		}
		if d.Total > 0 {
			d.AvgScore = total / float64(d.Total)
		}
		out = append(out, d)
	}
	return out
}

// squadAverages returns each owner's average score over every scorecard.
func squadAverages(rollups []yardstick.ScoreRollup) map[yardstick.EntityRef]squadAverage {
	out := map[yardstick.EntityRef]squadAverage{}
	for _, x := range rollups {
		a := out[x.Owner]
		a.n += x.Entities
		a.sum += x.ScoreSum
		out[x.Owner] = a
	}
	return out
}

type squadAverage struct {
	n   int
	sum float64
}

func (a squadAverage) avg() float64 {
	if a.n == 0 {
		return 0
	}
	return a.sum / float64(a.n)
}

// maxHealthSquads bounds the squad health panel: past it, the panel shows the
// lowest averages and the squads page has the rest.
const maxHealthSquads = 25

// squadHealthPanel draws the average score of each squad under the filter
// (the lowest maxHealthSquads when there are more).
func (s *Server) squadHealthPanel(ctx context.Context, p *Panel, ps panelScope) error {
	root := ps.group
	if ps.subject != yardstick.OrgRef && ps.subject.Kind() == "group" {
		root = ps.subject
	}
	rollups, err := s.cfg.Scores.ScoreRollups(ctx, ownersUnder(ps.cat, root))
	if err != nil {
		return err
	}
	avgs := squadAverages(rollups)
	var squads []yardstick.EntityRef
	for _, sq := range ps.cat.squads(root) {
		if avgs[sq].n > 0 {
			squads = append(squads, sq)
		}
	}
	if len(squads) > maxHealthSquads {
		p.Note = fmt.Sprintf("The %d lowest of %d squads; the squads page lists them all.", maxHealthSquads, len(squads))
		sort.SliceStable(squads, func(i, j int) bool { return avgs[squads[i]].avg() < avgs[squads[j]].avg() })
		squads = squads[:maxHealthSquads]
	}
	ser := Series{Name: "average score"}
	tbl := &Table{Columns: []string{"Squad", "Average score"}}
	for _, sq := range squads {
		avg := avgs[sq].avg()
		ser.Points = append(ser.Points, Point{Label: ps.cat.title(sq), Y: math.Round(avg*10) / 10})
		tbl.Rows = append(tbl.Rows, []Cell{{Text: ps.cat.title(sq), Href: squadPath(sq)}, {Text: fmt.Sprintf("%.0f", avg)}})
	}
	p.Series, p.Table = []Series{ser}, tbl
	return nil
}

// campaignsPanel lists campaigns with progress and projection.
func (s *Server) campaignsPanel(ctx context.Context, p *Panel, ps panelScope) error {
	sums, err := s.campaignSummaries(ctx, ps.cat, ps.group)
	if err != nil {
		return err
	}
	tbl := &Table{Columns: []string{"Campaign", "Progress", "Done", "Deadline", "Projected"}}
	for _, c := range sums {
		ratio := c.Ratio
		proj := c.ProjectedText
		cls := "ok"
		if !c.OnTrack {
			cls = "bad"
		}
		tbl.Rows = append(tbl.Rows, []Cell{
			{Text: c.Title, Href: "/campaigns/" + c.ID}, {Text: fmt.Sprintf("%.0f%%", ratio*100), Bar: &ratio},
			{Text: fmt.Sprintf("%d / %d", c.Done, c.Total)}, {Text: dateText(c.Deadline)}, {Text: proj, Class: cls},
		})
	}
	p.Table = tbl
	if len(sums) == 0 {
		p.Note = "No campaigns defined."
	}
	return nil
}

// moversPanel lists the entities whose score changed most over the window.
func (s *Server) moversPanel(ctx context.Context, p *Panel, ps panelScope) error {
	movers, err := s.topMovers(ctx, ps.cat, ps.group, ps.window.From, 10)
	if err != nil {
		return err
	}
	tbl := &Table{Columns: []string{"Entity", "Owner", "Scorecard", "Level", "Score change"}}
	for _, m := range movers {
		cls := "ok"
		if m.Delta < 0 {
			cls = "bad"
		}
		tbl.Rows = append(tbl.Rows, []Cell{
			{Text: ps.cat.title(m.Entity), Href: entityPath(m.Entity)}, {Text: ps.cat.title(m.Owner), Href: squadPath(m.Owner)},
			{Text: m.Scorecard, Href: "/scorecards/" + m.Scorecard}, {Text: yardstick.LevelOrNone(m.FromLevel) + " → " + yardstick.LevelOrNone(m.ToLevel)},
			{Text: fmt.Sprintf("%+.0f", m.Delta), Class: cls},
		})
	}
	p.Table = tbl
	if len(movers) == 0 {
		p.Note = "No score changes in this time range."
	}
	return nil
}

// Mover is an entity whose score changed.
type Mover struct {
	Entity    yardstick.EntityRef `json:"entity"`
	Owner     yardstick.EntityRef `json:"owner"`
	Scorecard string              `json:"scorecard"`
	FromLevel string              `json:"from_level"`
	ToLevel   string              `json:"to_level"`
	From      float64             `json:"from_score"`
	To        float64             `json:"to_score"`
	Delta     float64             `json:"delta"`
}

func (s *Server) topMovers(ctx context.Context, cat *catalogView, group yardstick.EntityRef, since time.Time, n int) ([]Mover, error) {
	moves, err := s.cfg.Scores.ScoreMoves(ctx, since, ownersUnder(cat, group), n)
	if err != nil {
		return nil, err
	}
	out := make([]Mover, 0, len(moves))
	for _, m := range moves {
		out = append(out, Mover{Entity: m.Entity, Owner: m.Owner, Scorecard: m.Scorecard,
			FromLevel: m.FromLevel, ToLevel: m.ToLevel, From: m.From, To: m.To, Delta: m.To - m.From})
	}
	return out, nil
}

// workflowsPanel lists CI health per workflow for the subject.
func (s *Server) workflowsPanel(ctx context.Context, p *Panel, ps panelScope) error {
	stats, err := s.cfg.Metrics.WorkflowStats(ctx, ps.subject, ps.window)
	if err != nil {
		return err
	}
	tbl := &Table{Columns: []string{"Workflow", "Runs", "Success rate", "p50", "p90"}}
	ser := Series{Name: "success rate %"}
	for i, w := range stats {
		rate := w.SuccessRate
		cls := "ok"
		if rate < 0.8 {
			cls = "bad"
		}
		tbl.Rows = append(tbl.Rows, []Cell{{Text: w.Workflow}, {Text: fmt.Sprint(w.Runs)},
			{Text: fmt.Sprintf("%.0f%%", rate*100), Bar: &rate, Class: cls},
			{Text: formatNumber(w.P50Minutes) + " min"}, {Text: formatNumber(w.P90Minutes) + " min"}})
		if i < 12 {
			ser.Points = append(ser.Points, Point{Label: w.Workflow, Y: math.Round(rate * 100)})
		}
	}
	p.Table, p.Series = tbl, []Series{ser}
	if len(stats) == 0 {
		p.Note = "No CI runs in this time range."
	}
	return nil
}
