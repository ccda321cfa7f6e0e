package report

import (
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
)

// This file draws the report's latency and throughput charts as SVG. Every
// text that comes from the run folder (fault names, values) is escaped;
// the rest is numbers and our own words.

// Chart geometry, in SVG user units.
const (
	chartW      = 960.0
	chartH      = 300.0
	chartLeft   = 64.0
	chartRight  = 16.0
	chartTop    = 44.0
	chartBottom = 34.0
	// maxPoints is how many operations the latency chart draws one circle
	// each; above it operations are aggregated into cells of cellPx.
	maxPoints = 4000
	cellPx    = 2.0
	// targetBuckets is about how many time buckets the charts use.
	targetBuckets = 100
)

// Outcome colours, shared with the page's CSS and script.
var outcomeColors = [3]string{"#2da44e", "#cf222e", "#d4a72c"}

var outcomeNames = [3]string{"ok", "fail", "info"}

// Quantile series of the latency chart.
var quantiles = []struct {
	name  string
	q     float64 // 1 for the maximum
	color string
	dash  string
}{
	{"p50", 0.50, "#0550ae", ""},
	{"p95", 0.95, "#8250df", ""},
	{"p99", 0.99, "#bc4c00", ""},
	{"max", 1, "#1f2328", "4 3"},
}

// chartFrame maps run time and a value to SVG coordinates.
type chartFrame struct {
	x0, x1 int64 // time domain, ns
}

func (f chartFrame) x(t int64) float64 {
	span := float64(f.x1 - f.x0)
	if span <= 0 {
		span = 1
	}
	return chartLeft + (float64(t-f.x0)/span)*(chartW-chartLeft-chartRight)
}

const plotBottom = chartH - chartBottom

func fnum(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// niceStep returns a step of 1, 2 or 5 times a power of ten at least raw.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// bucketSize returns a round duration (ns) that cuts [0, end] into about
// targetBuckets buckets.
func bucketSize(end int64) int64 {
	return max(int64(niceStep(float64(end)/targetBuckets)), 1)
}

// formatAxisTime labels a time axis tick.
func formatAxisTime(ns int64, step int64) string {
	decimals := 0
	for s := step; s < int64(time.Second) && decimals < 9; s *= 10 {
		decimals++
	}
	return strconv.FormatFloat(float64(ns)/1e9, 'f', decimals, 64) + "s"
}

// formatLatency labels a latency (ns).
func formatLatency(ns float64) string {
	switch {
	case ns >= 1e9:
		return strconv.FormatFloat(ns/1e9, 'g', 3, 64) + "s"
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'g', 3, 64) + "ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'g', 3, 64) + "µs"
	}
	return strconv.FormatFloat(ns, 'g', 3, 64) + "ns"
}

// svgStart opens a chart: the svg element, a title and the time axis with
// its grid.
func svgStart(b *strings.Builder, id, label string, f chartFrame) {
	b.WriteString(`<svg id="` + id + `" class="chart" viewBox="0 0 ` + fnum(chartW) + ` ` + fnum(chartH) +
		`" role="img" aria-label="` + template.HTMLEscapeString(label) + `" xmlns="http://www.w3.org/2000/svg">`)
	b.WriteString(`<rect x="` + fnum(chartLeft) + `" y="` + fnum(chartTop) + `" width="` + fnum(chartW-chartLeft-chartRight) +
		`" height="` + fnum(plotBottom-chartTop) + `" fill="#fff" stroke="#d0d7de"/>`)
	span := f.x1 - f.x0
	step := max(int64(niceStep(float64(span)/10)), 1)
	b.WriteString(`<g class="axis" font-size="11" fill="#656d76" text-anchor="middle">`)
	for t := (f.x0 + step - 1) / step * step; t <= f.x1; t += step {
		x := fnum(f.x(t))
		b.WriteString(`<line x1="` + x + `" x2="` + x + `" y1="` + fnum(chartTop) + `" y2="` + fnum(plotBottom) + `" stroke="#eaeef2"/>`)
		b.WriteString(`<text x="` + x + `" y="` + fnum(plotBottom+14) + `">` + formatAxisTime(t, step) + `</text>`)
	}
	b.WriteString(`<text x="` + fnum(chartLeft+(chartW-chartLeft-chartRight)/2) + `" y="` + fnum(chartH-4) + `">time since the run started</text>`)
	b.WriteString(`</g>`)
}

// yAxis is a chart's vertical scale between the SVG heights top and
// bottom: y maps a value to its height, and ticks are the values that get
// a grid line and a label.
type yAxis struct {
	top, bottom float64
	y           func(float64) float64
	ticks       []float64
	label       func(float64) string
}

// latencyAxis is a log scale of latencies (ns) over whole decades, from
// the decade at or below lo to the one at or above hi (one decade at
// least), with a tick at each decade; values below it are drawn at its
// bottom. lo must be positive and finite.
func latencyAxis(lo, hi, top, bottom float64) yAxis {
	ylo := math.Pow(10, math.Floor(math.Log10(lo)))
	yhi := math.Pow(10, math.Ceil(math.Log10(hi)))
	if yhi <= ylo {
		yhi = ylo * 10
	}
	a := yAxis{top: top, bottom: bottom, label: formatLatency}
	a.y = func(v float64) float64 {
		v = max(v, ylo)
		return bottom - (math.Log10(v)-math.Log10(ylo))/(math.Log10(yhi)-math.Log10(ylo))*(bottom-top)
	}
	for v := ylo; v <= yhi*1.0001; v *= 10 {
		a.ticks = append(a.ticks, v)
	}
	return a
}

// countAxis is a linear scale from 0 to peak (1 at least) rounded up to a
// round step (niceStep of about a steps-th of it), with a tick at each
// step.
func countAxis(peak float64, steps int, top, bottom float64) yAxis {
	step := niceStep(max(peak, 1) / float64(steps))
	hi := math.Ceil(max(peak, 1)/step) * step
	a := yAxis{top: top, bottom: bottom, label: func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }}
	a.y = func(v float64) float64 { return bottom - v/hi*(bottom-top) }
	for v := 0.0; v <= hi*1.0001; v += step {
		a.ticks = append(a.ticks, v)
	}
	return a
}

// svgYAxis draws a's grid lines and tick labels, and title (when set)
// along the axis.
func svgYAxis(b *strings.Builder, a yAxis, title string) {
	b.WriteString(`<g class="axis" font-size="11" fill="#656d76" text-anchor="end">`)
	for _, v := range a.ticks {
		yy := fnum(a.y(v))
		b.WriteString(`<line x1="` + fnum(chartLeft) + `" x2="` + fnum(chartW-chartRight) + `" y1="` + yy + `" y2="` + yy + `" stroke="#eaeef2"/>`)
		b.WriteString(`<text x="` + fnum(chartLeft-6) + `" y="` + fnum(a.y(v)+4) + `">` + a.label(v) + `</text>`)
	}
	if title != "" {
		b.WriteString(`<text transform="rotate(-90)" x="` + fnum(-(a.top+a.bottom)/2) + `" y="12" text-anchor="middle">` + title + `</text>`)
	}
	b.WriteString(`</g>`)
}

// svgWindows shades the fault windows and labels them above the plot.
func svgWindows(b *strings.Builder, f chartFrame, windows []window) {
	if len(windows) == 0 {
		return
	}
	b.WriteString(`<g class="faults">`)
	for _, w := range windows {
		x0, x1 := f.x(w.Start), f.x(w.End)
		width := max(x1-x0, 1)
		title := w.F + " " + formatTime(w.Start) + " – " + formatTime(w.End)
		if w.Open {
			title += " (never stopped)"
		}
		if w.Value != "" {
			title += " " + w.Value
		}
		if w.Error != "" {
			title += " error: " + w.Error
		}
		b.WriteString(`<g class="fault"><title>` + template.HTMLEscapeString(title) + `</title>`)
		b.WriteString(`<rect x="` + fnum(x0) + `" y="` + fnum(chartTop) + `" width="` + fnum(width) + `" height="` + fnum(plotBottom-chartTop) +
			`" fill="` + w.Color + `" fill-opacity="0.13"/>`)
		b.WriteString(`<rect x="` + fnum(x0) + `" y="` + fnum(chartTop-10) + `" width="` + fnum(width) + `" height="8" fill="` + w.Color + `" fill-opacity="0.7"/>`)
		if x1-x0 > 40 {
			b.WriteString(`<text x="` + fnum(x0+3) + `" y="` + fnum(chartTop-13) + `" font-size="10" fill="` + w.Color + `">` +
				template.HTMLEscapeString(cutText(w.F, 24)) + `</text>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g>`)
}

// svgLegend writes a legend above the plot, right-aligned: a swatch and
// a name for each item ({name, colour, dash}); an item with a dash is a
// line, one without a filled box.
func svgLegend(b *strings.Builder, items [][3]string) {
	const swatch, gap, charW = 14.0, 4.0, 6.5
	width := 0.0
	for _, it := range items {
		width += swatch + gap + charW*float64(len([]rune(it[0]))) + 12
	}
	x := chartW - chartRight - width
	b.WriteString(`<g class="legend" font-size="11">`)
	for _, it := range items {
		if it[2] != "" {
			b.WriteString(`<line x1="` + fnum(x) + `" x2="` + fnum(x+swatch) + `" y1="10" y2="10" stroke="` + it[1] +
				`" stroke-width="2" stroke-dasharray="` + it[2] + `"/>`)
		} else {
			b.WriteString(`<rect x="` + fnum(x) + `" y="7" width="` + fnum(swatch) + `" height="6" fill="` + it[1] + `"/>`)
		}
		x += swatch + gap
		b.WriteString(`<text x="` + fnum(x) + `" y="14" fill="#1f2328">` + template.HTMLEscapeString(it[0]) + `</text>`)
		x += charW*float64(len([]rune(it[0]))) + 12
	}
	b.WriteString(`</g>`)
}

// latencyChart draws every completed operation's latency against its
// invocation time on a log scale, with p50, p95, p99 and max per time
// bucket and the fault windows shaded.
func latencyChart(ops []checkers.Operation, end int64, windows []window) template.HTML {
	f := chartFrame{x0: 0, x1: max(end, 1)}
	var b strings.Builder
	svgStart(&b, "latency-chart", "latency of every operation over time, with p50, p95, p99 and max per time bucket", f)
	svgWindows(&b, f, windows)

	lo, hi := math.Inf(1), 0.0
	completed := 0
	for _, op := range ops {
		if op.Completed() {
			l := float64(max(op.End-op.Start, 1))
			lo, hi = min(lo, l), max(hi, l)
			completed++
		}
	}
	if completed == 0 {
		b.WriteString(`<text x="` + fnum(chartW/2) + `" y="` + fnum(chartH/2) + `" text-anchor="middle" fill="#656d76">no completed operations</text></svg>`)
		return template.HTML(b.String())
	}
	axis := latencyAxis(lo, hi, chartTop, plotBottom)
	y := axis.y
	svgYAxis(&b, axis, "")

	// Points.
	if completed <= maxPoints {
		for t := range 3 {
			b.WriteString(`<g class="points-` + outcomeNames[t] + `" fill="` + outcomeColors[t] + `" fill-opacity="0.75">`)
			for _, op := range ops {
				if op.Completed() && outcomeCode(op.Type) == t {
					b.WriteString(`<circle cx="` + fnum(f.x(op.Start)) + `" cy="` + fnum(y(float64(op.End-op.Start))) + `" r="1.8"/>`)
				}
			}
			b.WriteString(`</g>`)
		}
	} else {
		// One cell per occupied (column, row) and outcome: every operation
		// is in a cell, however many there are.
		type cell struct{ x, y int32 }
		for t := range 3 {
			seen := map[cell]bool{}
			var cells []cell
			for _, op := range ops {
				if op.Completed() && outcomeCode(op.Type) == t {
					c := cell{int32(f.x(op.Start) / cellPx), int32(y(float64(op.End-op.Start)) / cellPx)}
					if !seen[c] {
						seen[c] = true
						cells = append(cells, c)
					}
				}
			}
			b.WriteString(`<g class="points-` + outcomeNames[t] + `" fill="` + outcomeColors[t] + `" fill-opacity="0.75">`)
			for _, c := range cells {
				b.WriteString(`<rect x="` + fnum(float64(c.x)*cellPx) + `" y="` + fnum(float64(c.y)*cellPx) + `" width="2" height="2"/>`)
			}
			b.WriteString(`</g>`)
		}
	}

	// Quantiles per bucket of invocation time.
	bucket := bucketSize(f.x1)
	nb := int(f.x1/bucket) + 1
	lat := make([][]int64, nb)
	for _, op := range ops {
		if op.Completed() {
			i := min(max(int(op.Start/bucket), 0), nb-1)
			lat[i] = append(lat[i], max(op.End-op.Start, 1))
		}
	}
	for _, q := range quantiles {
		var path strings.Builder
		pen := false
		for i, ls := range lat {
			if len(ls) == 0 {
				pen = false
				continue
			}
			if !slices.IsSorted(ls) {
				slices.Sort(ls)
			}
			v := ls[min(int(math.Ceil(q.q*float64(len(ls))))-1, len(ls)-1)]
			if q.q >= 1 {
				v = ls[len(ls)-1]
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			pen = true
			path.WriteString(cmd + fnum(f.x(int64(i)*bucket+bucket/2)) + " " + fnum(y(float64(v))) + " ")
		}
		b.WriteString(`<path class="q-` + q.name + `" d="` + strings.TrimSpace(path.String()) + `" fill="none" stroke="` + q.color + `" stroke-width="1.6"`)
		if q.dash != "" {
			b.WriteString(` stroke-dasharray="` + q.dash + `"`)
		}
		b.WriteString(`/>`)
	}
	items := [][3]string{{"ok", outcomeColors[0], ""}, {"fail", outcomeColors[1], ""}, {"info", outcomeColors[2], ""}}
	for _, q := range quantiles {
		items = append(items, [3]string{q.name, q.color, orSolid(q.dash)})
	}
	svgLegend(&b, items)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func orSolid(dash string) string {
	if dash == "" {
		return "1 0"
	}
	return dash
}

// throughputChart draws completions per second of each outcome per time
// bucket, with the fault windows shaded. Invocations that never completed
// are not counted.
func throughputChart(ops []checkers.Operation, end int64, windows []window) template.HTML {
	f := chartFrame{x0: 0, x1: max(end, 1)}
	var b strings.Builder
	svgStart(&b, "throughput-chart", "completed operations per second over time: ok, fail and info", f)
	svgWindows(&b, f, windows)
	bucket := bucketSize(f.x1)
	nb := int(f.x1/bucket) + 1
	counts := make([][3]int, nb)
	for _, op := range ops {
		if op.Completed() {
			i := min(max(int(op.End/bucket), 0), nb-1)
			counts[i][outcomeCode(op.Type)]++
		}
	}
	perSecond := 1e9 / float64(bucket)
	peak := 0.0
	for _, c := range counts {
		for _, n := range c {
			peak = max(peak, float64(n)*perSecond)
		}
	}
	axis := countAxis(peak, 5, chartTop, plotBottom)
	y := axis.y
	svgYAxis(&b, axis, "ops/s")
	for t := range 3 {
		var path strings.Builder
		for i, c := range counts {
			// The last bucket may be partial: scale by its real length.
			length := bucket
			if start := int64(i) * bucket; start+bucket > f.x1 {
				length = max(f.x1-start, 1)
			}
			v := float64(c[t]) * 1e9 / float64(length)
			if i == len(counts)-1 && length < bucket/4 {
				break // too short to say anything about a rate
			}
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			path.WriteString(cmd + fnum(f.x(int64(i)*bucket+min(bucket, length)/2)) + " " + fnum(y(v)) + " ")
		}
		b.WriteString(`<path class="tp-` + outcomeNames[t] + `" d="` + strings.TrimSpace(path.String()) + `" fill="none" stroke="` +
			outcomeColors[t] + `" stroke-width="1.6"/>`)
	}
	svgLegend(&b, [][3]string{{"ok", outcomeColors[0], "1 0"}, {"fail", outcomeColors[1], "1 0"}, {"info", outcomeColors[2], "1 0"}})
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// chartCaption says what the charts show, in numbers.
func chartCaption(ops []checkers.Operation, end int64) string {
	completed := 0
	for _, op := range ops {
		if op.Completed() {
			completed++
		}
	}
	s := strconv.Itoa(completed) + " completed operations"
	if completed > maxPoints {
		s += " (drawn as " + strconv.FormatFloat(cellPx, 'f', -1, 64) + "-pixel cells: every operation is in one)"
	}
	if unfinished := len(ops) - completed; unfinished > 0 {
		s += "; " + strconv.Itoa(unfinished) + " never completed and are not drawn"
	}
	return s + "; time buckets of " + time.Duration(bucketSize(max(end, 1))).String()
}
