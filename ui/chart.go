package ui

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are inline SVG drawn on the server: no script, no CDN, readable with
// styles off. Every chart has axes with ticks and labels, and a title element
// for screen readers.

// Point is one value of a series: at a time (line, burndown) or a category label.
type Point struct {
	X     time.Time `json:"x,omitempty"`
	Label string    `json:"label,omitempty"`
	Y     float64   `json:"y"`
	// Partial marks a period still in progress (the current week): charts
	// draw it apart, so an unfinished week does not read as a drop.
	Partial bool `json:"partial,omitempty"`
}

// Series is a named sequence of points.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
	Class  string  `json:"-"` // CSS class for colour (s0…s7, elite, high…)
}

const (
	chartW   = 560
	chartH   = 220
	padLeft  = 52
	padRight = 16
	padTop   = 14
	padBot   = 42
)

// palette classes, cycled by series index.
func seriesClass(i int, s Series) string {
	if s.Class != "" {
		return s.Class
	}
	return fmt.Sprintf("s%d", i%8)
}

// niceTicks returns about n round tick values covering [0, max].
func niceTicks(max float64, n int) []float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := 0.0; v <= max+step*0.999; v += step {
		out = append(out, v)
		if len(out) > 20 {
			break
		}
	}
	return out
}

// formatNumber prints a value compactly for axes and labels.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return trimZeros(fmt.Sprintf("%.1f", v))
	default:
		return trimZeros(fmt.Sprintf("%.2f", v))
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

type frame struct {
	b          strings.Builder
	w, h       float64
	yMax       float64
	ticks      []float64
	plotW      float64
	plotH      float64
	yUnit      string
	chartTitle string
}

func newFrame(title, yUnit string, yMax float64) *frame {
	f := &frame{w: chartW, h: chartH, yUnit: yUnit, chartTitle: title}
	f.ticks = niceTicks(yMax, 4)
	f.yMax = f.ticks[len(f.ticks)-1]
	if f.yMax <= 0 {
		f.yMax = 1
	}
	f.plotW = f.w - padLeft - padRight
	f.plotH = f.h - padTop - padBot
	fmt.Fprintf(&f.b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		f.w, f.h, html.EscapeString(title), html.EscapeString(title))
	for _, t := range f.ticks {
		y := f.y(t)
		fmt.Fprintf(&f.b, `<line class="grid" x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padLeft, y, f.w-padRight, y)
		fmt.Fprintf(&f.b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y+4, html.EscapeString(formatNumber(t)))
	}
	fmt.Fprintf(&f.b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%.1f"/>`, padLeft, padTop, padLeft, f.h-padBot)
	fmt.Fprintf(&f.b, `<line class="axis" x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padLeft, f.h-padBot, f.w-padRight, f.h-padBot)
	if yUnit != "" {
		fmt.Fprintf(&f.b, `<text class="unit" x="12" y="%.1f" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text>`,
			padTop+f.plotH/2, padTop+f.plotH/2, html.EscapeString(yUnit))
	}
	return f
}

func (f *frame) y(v float64) float64 { return padTop + f.plotH - v/f.yMax*f.plotH }

func (f *frame) xLabel(x float64, s string) {
	fmt.Fprintf(&f.b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x, f.h-padBot, x, f.h-padBot+4)
	fmt.Fprintf(&f.b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, f.h-padBot+16, html.EscapeString(s))
}

func (f *frame) legend(series []Series) {
	if len(series) < 2 {
		return
	}
	x := float64(padLeft)
	for i, s := range series {
		fmt.Fprintf(&f.b, `<rect class="%s" x="%.1f" y="%.1f" width="10" height="10"/>`, seriesClass(i, s), x, f.h-14)
		fmt.Fprintf(&f.b, `<text class="legend" x="%.1f" y="%.1f">%s</text>`, x+14, f.h-5, html.EscapeString(s.Name))
		x += 24 + 7*float64(len([]rune(s.Name)))
	}
}

func (f *frame) done() template.HTML {
	f.b.WriteString(`</svg>`)
	return template.HTML(f.b.String()) // #nosec: every text node above is escaped
}

func emptyChart(title, msg string) template.HTML {
	return template.HTML(fmt.Sprintf(`<svg class="chart empty" viewBox="0 0 %d 60" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title><text class="tick" x="%d" y="34" text-anchor="middle">%s</text></svg>`,
		chartW, html.EscapeString(title), html.EscapeString(title), chartW/2, html.EscapeString(msg)))
}

// timeRange returns the earliest and latest X of the series.
func timeRange(series []Series) (time.Time, time.Time) {
	var lo, hi time.Time
	for _, s := range series {
		for _, p := range s.Points {
			if lo.IsZero() || p.X.Before(lo) {
				lo = p.X
			}
			if hi.IsZero() || p.X.After(hi) {
				hi = p.X
			}
		}
	}
	return lo, hi
}

func maxY(series []Series) float64 {
	m := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if p.Y > m {
				m = p.Y
			}
		}
	}
	return m
}

// timeLabels puts up to n date labels along [lo, hi].
func (f *frame) timeLabels(lo, hi time.Time, x func(time.Time) float64, n int) {
	span := hi.Sub(lo)
	if span <= 0 {
		f.xLabel(x(lo), lo.Format("2 Jan"))
		return
	}
	for i := 0; i <= n; i++ {
		t := lo.Add(time.Duration(float64(span) * float64(i) / float64(n)))
		f.xLabel(x(t), t.Format("2 Jan"))
	}
}

// LineChart draws time series as lines with dots.
func LineChart(title, yUnit string, series []Series) template.HTML {
	lo, hi := timeRange(series)
	if lo.IsZero() {
		return emptyChart(title, "No data in this time range")
	}
	f := newFrame(title, yUnit, maxY(series))
	x := func(t time.Time) float64 {
		if !hi.After(lo) {
			return padLeft + f.plotW/2
		}
		return padLeft + float64(t.Sub(lo))/float64(hi.Sub(lo))*f.plotW
	}
	f.timeLabels(lo, hi, x, 4)
	for i, s := range series {
		cls := seriesClass(i, s)
		var pts, partial []string
		for j, p := range s.Points {
			xy := fmt.Sprintf("%.1f,%.1f", x(p.X), f.y(p.Y))
			if p.Partial {
				if j > 0 && len(partial) == 0 {
					partial = append(partial, pts[len(pts)-1])
				}
				partial = append(partial, xy)
				continue
			}
			pts = append(pts, xy)
		}
		fmt.Fprintf(&f.b, `<polyline class="line %s" points="%s"/>`, cls, strings.Join(pts, " "))
		if len(partial) > 0 {
			fmt.Fprintf(&f.b, `<polyline class="line partial %s" points="%s"/>`, cls, strings.Join(partial, " "))
		}
		for _, p := range s.Points {
			dot, note := "dot", ""
			if p.Partial {
				dot, note = "dot partial", " (week so far)"
			}
			fmt.Fprintf(&f.b, `<circle class="%s %s" cx="%.1f" cy="%.1f" r="2.5"><title>%s %s: %s%s</title></circle>`,
				dot, cls, x(p.X), f.y(p.Y), html.EscapeString(s.Name), p.X.Format("2 Jan 2006"), html.EscapeString(formatNumber(p.Y)), note)
		}
	}
	f.legend(series)
	return f.done()
}

// categories returns the category labels in first-seen order.
func categories(series []Series) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range series {
		for _, p := range s.Points {
			l := p.Label
			if l == "" && !p.X.IsZero() {
				l = p.X.Format("2 Jan")
			}
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

func pointLabel(p Point) string {
	if p.Label == "" && !p.X.IsZero() {
		return p.X.Format("2 Jan")
	}
	return p.Label
}

// BarChart draws grouped vertical bars, one group per category.
func BarChart(title, yUnit string, series []Series) template.HTML {
	return bars(title, yUnit, series, false)
}

// StackedBarChart draws one bar per category with the series stacked.
func StackedBarChart(title, yUnit string, series []Series) template.HTML {
	return bars(title, yUnit, series, true)
}

func bars(title, yUnit string, series []Series, stacked bool) template.HTML {
	cats := categories(series)
	if len(cats) == 0 {
		return emptyChart(title, "No data in this time range")
	}
	values := make([]map[string]float64, len(series))
	top := 0.0
	totals := map[string]float64{}
	partial := map[string]bool{}
	for i, s := range series {
		values[i] = map[string]float64{}
		for _, p := range s.Points {
			if p.Partial {
				partial[pointLabel(p)] = true
			}
			values[i][pointLabel(p)] += p.Y
			totals[pointLabel(p)] += p.Y
			top = math.Max(top, p.Y)
		}
	}
	if stacked {
		top = 0
		for _, t := range totals {
			top = math.Max(top, t)
		}
	}
	f := newFrame(title, yUnit, top)
	slot := f.plotW / float64(len(cats))
	every := 1 + len(cats)/12
	for ci, c := range cats {
		x0 := padLeft + slot*float64(ci)
		if ci%every == 0 {
			f.xLabel(x0+slot/2, c)
		}
		base := 0.0
		n := len(series)
		barW := slot * 0.7
		if !stacked && n > 0 {
			barW = slot * 0.8 / float64(n)
		}
		for i, s := range series {
			v := values[i][c]
			if v == 0 {
				continue
			}
			var bx, by, bh float64
			if stacked {
				bx = x0 + slot*0.15
				by = f.y(base + v)
				bh = f.y(base) - by
				base += v
			} else {
				bx = x0 + slot*0.1 + barW*float64(i)
				by = f.y(v)
				bh = f.y(0) - by
			}
			bar, note := "bar", ""
			if partial[c] {
				bar, note = "bar partial", " (week so far)"
			}
			fmt.Fprintf(&f.b, `<rect class="%s %s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s, %s: %s%s</title></rect>`,
				bar, seriesClass(i, s), bx, by, math.Max(barW, 1), math.Max(bh, 0), html.EscapeString(c), html.EscapeString(s.Name), html.EscapeString(formatNumber(v)), note)
		}
	}
	f.legend(series)
	return f.done()
}

// BurndownChart draws what remains over time, the ideal line from the start to
// zero at the deadline, and the projection at the current pace.
func BurndownChart(title string, remaining []Point, start, deadline, projected time.Time) template.HTML {
	if len(remaining) == 0 {
		return emptyChart(title, "No scoring runs yet")
	}
	lo, hi := remaining[0].X, remaining[len(remaining)-1].X
	if !start.IsZero() && start.Before(lo) {
		lo = start
	}
	for _, t := range []time.Time{deadline, projected} {
		if !t.IsZero() && t.After(hi) {
			hi = t
		}
	}
	if !hi.After(lo) {
		hi = lo.Add(24 * time.Hour)
	}
	top := 0.0
	for _, p := range remaining {
		top = math.Max(top, p.Y)
	}
	f := newFrame(title, "remaining", top)
	x := func(t time.Time) float64 { return padLeft + float64(t.Sub(lo))/float64(hi.Sub(lo))*f.plotW }
	f.timeLabels(lo, hi, x, 4)
	first := remaining[0]
	if !deadline.IsZero() {
		s := first
		if !start.IsZero() && start.Before(first.X) {
			s = Point{X: start, Y: first.Y}
		}
		fmt.Fprintf(&f.b, `<line class="ideal" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>ideal pace</title></line>`, x(s.X), f.y(s.Y), x(deadline), f.y(0))
		fmt.Fprintf(&f.b, `<line class="deadline" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f"/>`, x(deadline), padTop, x(deadline), f.h-padBot)
		fmt.Fprintf(&f.b, `<text class="marker" x="%.1f" y="%d" text-anchor="end">deadline %s</text>`, x(deadline)-3, padTop+10, deadline.Format("2 Jan"))
	}
	last := remaining[len(remaining)-1]
	if !projected.IsZero() && last.Y > 0 {
		fmt.Fprintf(&f.b, `<line class="projection" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>projected %s</title></line>`,
			x(last.X), f.y(last.Y), x(projected), f.y(0), projected.Format("2 Jan 2006"))
	}
	var pts []string
	for _, p := range remaining {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.X), f.y(p.Y)))
	}
	fmt.Fprintf(&f.b, `<polyline class="line s0" points="%s"/>`, strings.Join(pts, " "))
	for _, p := range remaining {
		fmt.Fprintf(&f.b, `<circle class="dot s0" cx="%.1f" cy="%.1f" r="2.5"><title>%s: %s remaining</title></circle>`,
			x(p.X), f.y(p.Y), p.X.Format("2 Jan 2006"), formatNumber(p.Y))
	}
	f.legend([]Series{{Name: "remaining", Class: "s0"}, {Name: "ideal", Class: "ideal-key"}, {Name: "projected", Class: "projection-key"}})
	return f.done()
}

// Sparkline is a tiny axis-less line for stat cards.
func Sparkline(points []Point) template.HTML {
	if n := len(points); n > 0 && points[n-1].Partial {
		points = points[:n-1] // too small to draw a partial week apart: leave it out
	}
	if len(points) < 2 {
		return ""
	}
	const w, h = 120.0, 28.0
	lo, hi := points[0].X, points[len(points)-1].X
	top := 0.0
	for _, p := range points {
		top = math.Max(top, p.Y)
	}
	if top == 0 {
		top = 1
	}
	var pts []string
	for _, p := range points {
		x := 0.0
		if hi.After(lo) {
			x = float64(p.X.Sub(lo)) / float64(hi.Sub(lo)) * w
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, h-2-p.Y/top*(h-4)))
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %.0f %.0f" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><polyline class="line s0" points="%s"/></svg>`, w, h, strings.Join(pts, " ")))
}
