package yardstick

import (
	"math"
	"time"
)

// CampaignTrendWindow is how much recent history a campaign's projected
// completion date follows: long enough to smooth a slow week, short enough to
// see a squad speed up.
const CampaignTrendWindow = 28 * 24 * time.Hour

// TimePoint is one observation of a series: Value at At.
type TimePoint struct {
	At    time.Time
	Value float64
}

// ProjectZero fits a least-squares line to the points within window of the
// latest one and returns when the line reaches zero: the latest point's time
// when its value is already zero or less, and the zero time when there are
// fewer than two points in the window or the line does not go down. Points
// must be in time order. The CLI and the dashboards both project campaigns
// with it, so they never disagree.
func ProjectZero(points []TimePoint, window time.Duration) time.Time {
	if len(points) == 0 {
		return time.Time{}
	}
	last := points[len(points)-1]
	if last.Value <= 0 {
		return last.At
	}
	var xs, ys []float64
	for _, pt := range points {
		if last.At.Sub(pt.At) <= window {
			xs = append(xs, pt.At.Sub(last.At).Hours()/24) // days, ≤ 0
			ys = append(ys, pt.Value)
		}
	}
	if len(xs) < 2 {
		return time.Time{}
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return time.Time{}
	}
	slope := sxy / sxx // value per day
	if slope >= 0 {
		return time.Time{}
	}
	zero := mx - my/slope // days from the latest point where the line hits zero
	const maxDays = 100 * 365
	if zero > maxDays || math.IsNaN(zero) {
		return time.Time{}
	}
	zero = max(zero, 0)
	return last.At.Add(time.Duration(zero * 24 * float64(time.Hour))).Round(time.Hour)
}
