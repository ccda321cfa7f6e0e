package faultline

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checkers/usl"
	"github.com/faultline/faultline/results/runfolder"
)

// This file draws sweep.html: self-contained (no script, no network), its
// two charts inline SVG drawn here. Text from the sweep's files (the
// command line, errors, run folder names) is escaped; the rest is numbers
// and our own words.

//go:embed sweep.html.tmpl
var sweepTemplateText string

var sweepTemplate = template.Must(template.New("sweep").Parse(sweepTemplateText))

// Chart geometry, in SVG user units.
const (
	sweepW      = 760.0
	sweepH      = 330.0
	sweepLeft   = 70.0
	sweepRight  = 24.0
	sweepTop    = 34.0
	sweepBottom = 48.0
)

// Colours of the page's series.
const (
	colorMeasured = "#0550ae"
	colorFit      = "#bc4c00"
	colorP50      = "#0550ae"
	colorP99      = "#8250df"
)

// sweepPage is what the template shows.
type sweepPage struct {
	Title, Dir, Verdict, VerdictClass, Command, Nemesis, TimeLimit, Status string
	Seed                                                                   int64
	Levels                                                                 []pageLevel
	Fit                                                                    *pageFit
	FitError                                                               string
	Throughput, Latency                                                    template.HTML
	Errors                                                                 []string
}

type pageLevel struct {
	N                                            int
	Verdict, VerdictClass, Report, Dir, Error    string
	Ops, OK, Fail, Info                          string
	OKPerSec, P50, P99, Max, Predicted, FigsFrom string
}

type pageFit struct {
	Sigma, Kappa, Lambda, PeakN, Ceiling, R2, RelRMSE, Levels, Sentence string
}

// Page renders the sweep's HTML page from r alone.
func (r *SweepResult) Page() ([]byte, error) {
	t := r.Test
	p := sweepPage{
		Title:   fmt.Sprintf("%s (%s) · %s", t.Target, t.Variant, t.Workload),
		Dir:     r.Dir,
		Verdict: string(r.Verdict), VerdictClass: string(r.Verdict),
		Command: t.Command, Seed: t.Seed, TimeLimit: t.TimeLimit.String(),
		Nemesis: strings.Join(t.Nemesis, ","), FitError: r.FitError, Errors: r.Errors,
	}
	if p.Nemesis == "" {
		p.Nemesis = "none"
	}
	switch {
	case r.Interrupted:
		p.Status = fmt.Sprintf("Interrupted: %d of %d levels ran (the last one cut short).", len(r.Levels), len(r.Concurrency))
	case r.Error != "":
		p.Status = "Stopped: " + r.Error
	case !r.Complete:
		p.Status = fmt.Sprintf("Running, or killed: %d of %d levels so far.", len(r.Levels), len(r.Concurrency))
	}
	if r.Error != "" {
		p.Errors = append([]string{r.Error}, p.Errors...)
	}
	for _, l := range r.Levels {
		pl := pageLevel{N: l.Concurrency, Verdict: string(l.Verdict), VerdictClass: string(l.Verdict), Dir: l.RunDir, Error: l.Error, FigsFrom: l.FiguresFrom}
		if l.Verdict == "" {
			pl.Verdict, pl.VerdictClass = "not done", "unknown"
			if l.Interrupted {
				pl.Verdict = "interrupted"
			}
		}
		if l.RunDir != "" {
			pl.Report = path.Join(l.RunDir, runfolder.ReportFile)
		}
		if f := l.Figures; f != nil {
			pl.Ops, pl.OK, pl.Fail, pl.Info = strconv.Itoa(f.Ops), strconv.Itoa(f.OK), strconv.Itoa(f.Fail), strconv.Itoa(f.Info)
			pl.OKPerSec, pl.P50, pl.P99, pl.Max = formatRate(f.OKPerSec), formatNS(f.P50NS), formatNS(f.P99NS), formatNS(f.MaxNS)
		}
		if r.Fit != nil {
			pl.Predicted = formatRate(r.Fit.Predict(float64(l.Concurrency)))
		}
		p.Levels = append(p.Levels, pl)
	}
	if m := r.Fit; m != nil {
		var lv []string
		for _, n := range r.FitLevels {
			lv = append(lv, strconv.Itoa(n))
		}
		f := &pageFit{
			Sigma: formatParam(m.Sigma), Kappa: formatParam(m.Kappa), Lambda: formatRate(m.Lambda) + " ok/s",
			R2: fmt.Sprintf("%.4f", m.R2), RelRMSE: fmt.Sprintf("%.1f%%", 100*m.RelRMSE), Levels: strings.Join(lv, ", "),
			PeakN: "none", Ceiling: "none (unbounded)", Sentence: fitSentence(*m, r.FitLevels),
		}
		if m.Shape == usl.Peak {
			f.PeakN = fmt.Sprintf("%.1f", m.PeakN)
		}
		if m.Ceiling > 0 {
			f.Ceiling = formatRate(m.Ceiling) + " ok/s"
			if m.Shape == usl.Asymptote {
				f.Ceiling += " (λ/σ, approached, never reached)"
			}
		}
		p.Fit = f
	}
	p.Throughput = template.HTML(throughputChart(r))
	p.Latency = template.HTML(latencyChart(r))
	var b bytes.Buffer
	if err := sweepTemplate.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fitSentence says in words what the fit predicts.
func fitSentence(m usl.Model, levels []int) string {
	most := 0
	if len(levels) > 0 {
		most = levels[len(levels)-1]
	}
	switch {
	case m.Shape == usl.Peak && m.PeakN <= 1:
		return fmt.Sprintf("More clients add no throughput: the most, about %s ok/s, comes from one client alone.", formatRate(m.Ceiling))
	case m.Shape == usl.Peak:
		s := fmt.Sprintf("Throughput peaks at about %.0f clients, at %s ok/s; past that, more clients lower it.", m.PeakN, formatRate(m.Ceiling))
		if m.PeakN > float64(most) {
			s += fmt.Sprintf(" The peak lies beyond the levels measured (up to %d): an extrapolation.", most)
		}
		return s
	case m.Shape == usl.Asymptote:
		return fmt.Sprintf("Throughput approaches %s ok/s and never reaches it: contention caps it, and no coherency cost shows.", formatRate(m.Ceiling))
	}
	return "Throughput grows in proportion to the clients over these levels: no ceiling shows."
}

// formatRate formats operations per second.
func formatRate(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "–"
	case x >= 100:
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// axisLabel formats a value on a chart's axis: its shortest form, the
// floating-point noise of adding steps rounded away.
func axisLabel(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// formatNS formats a latency with three significant digits.
func formatNS(ns int64) string {
	d := float64(ns)
	switch {
	case ns <= 0:
		return "0"
	case d < 1e6:
		return strconv.FormatFloat(d/1e3, 'f', sigDecimals(d/1e3), 64) + "µs"
	case d < 1e9:
		return strconv.FormatFloat(d/1e6, 'f', sigDecimals(d/1e6), 64) + "ms"
	}
	return strconv.FormatFloat(d/1e9, 'f', sigDecimals(d/1e9), 64) + "s"
}

// sigDecimals is how many decimals give x three significant digits.
func sigDecimals(x float64) int {
	switch {
	case x >= 100:
		return 0
	case x >= 10:
		return 1
	}
	return 2
}

// formatParam formats σ or κ.
func formatParam(x float64) string {
	if x == 0 {
		return "0"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// logFrame maps a concurrency (log scale) and a value to SVG coordinates.
type logFrame struct{ lo, hi, ymax float64 }

func (f logFrame) x(n float64) float64 {
	return sweepLeft + (math.Log2(n)-f.lo)/(f.hi-f.lo)*(sweepW-sweepLeft-sweepRight)
}

func (f logFrame) y(v float64) float64 {
	return sweepH - sweepBottom - v/f.ymax*(sweepH-sweepTop-sweepBottom)
}

// newLogFrame spans the concurrencies ns (and extra, when not 0) on a
// log2 axis with some room either side, and values up to ymax.
func newLogFrame(ns []float64, extra, ymax float64) logFrame {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, n := range append(ns, extra) {
		if n >= 1 {
			lo, hi = min(lo, math.Log2(n)), max(hi, math.Log2(n))
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	pad := max((hi-lo)*0.06, 0.25)
	if hi-lo < 0.5 {
		pad = 1
	}
	return logFrame{lo: lo - pad, hi: hi + pad, ymax: ymax}
}

// niceStep returns a step of 1, 2 or 5 times a power of ten giving about
// n steps up to max.
func niceStep(most float64, n int) float64 {
	if most <= 0 || math.IsNaN(most) || math.IsInf(most, 0) {
		return 1
	}
	raw := most / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// axes draws the frame, the grid and the tick labels of a chart: the
// concurrency ticks ns along x and values up to f.ymax (in steps of
// step, labelled by label) along y.
func axes(b *strings.Builder, f logFrame, ticks []float64, step float64, label func(float64) string, xTitle, yTitle string) {
	x0, x1 := sweepLeft, sweepW-sweepRight
	y0, y1 := sweepH-sweepBottom, sweepTop
	fmt.Fprintf(b, `<g class="grid" stroke="#d0d7de" stroke-width="1">`)
	for v := 0.0; v <= f.ymax*1.0001; v += step {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, f.y(v), x1, f.y(v))
	}
	for _, n := range ticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke-dasharray="2 3"/>`, f.x(n), y0, f.x(n), y1)
	}
	fmt.Fprintf(b, `</g><g class="axes" font-size="12" fill="#656d76">`)
	for v := 0.0; v <= f.ymax*1.0001; v += step {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, x0-6, f.y(v), html.EscapeString(label(v)))
	}
	for _, n := range ticks {
		fmt.Fprintf(b, `<text class="xtick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, f.x(n), y0+16, strconv.FormatFloat(n, 'f', -1, 64))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#1f2328">%s</text>`, (x0+x1)/2, sweepH-8, html.EscapeString(xTitle))
	fmt.Fprintf(b, `<text x="14" y="%.1f" text-anchor="middle" fill="#1f2328" transform="rotate(-90 14 %.1f)">%s</text>`, (y0+y1)/2, (y0+y1)/2, html.EscapeString(yTitle))
	fmt.Fprintf(b, `</g><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#8c959f"/>`, x0, y1, x1-x0, y0-y1)
}

// xTicks returns the concurrencies to label: every level when there are
// few, else the powers of two within the frame.
func xTicks(f logFrame, ns []float64) []float64 {
	if len(ns) <= 10 {
		return ns
	}
	var out []float64
	for e := math.Ceil(f.lo); e <= f.hi; e++ {
		if e >= 0 {
			out = append(out, math.Exp2(e))
		}
	}
	return out
}

// legend draws a row of series names with their marks at the chart's top.
func legend(b *strings.Builder, items [][2]string) {
	x := sweepLeft
	for _, it := range items {
		fmt.Fprintf(b, `<g class="legend"><line x1="%.1f" y1="16" x2="%.1f" y2="16" stroke="%s" stroke-width="2.5"/><circle cx="%.1f" cy="16" r="4" fill="%s"/><text x="%.1f" y="20" font-size="12" fill="#1f2328">%s</text></g>`,
			x, x+22, it[1], x+11, it[1], x+28, html.EscapeString(it[0]))
		x += 40 + 7*float64(len([]rune(it[0])))
	}
}

// measured returns the levels that ended with figures, as concurrencies
// and levels.
func (r *SweepResult) measured() ([]float64, []SweepLevel) {
	var ns []float64
	var ls []SweepLevel
	for _, l := range r.Levels {
		if l.Ended() && l.Figures != nil {
			ns = append(ns, float64(l.Concurrency))
			ls = append(ls, l)
		}
	}
	return ns, ls
}

// chartStart opens the svg element of the chart id, labelled label, and
// reports whether there are levels to draw in it; with none it writes a
// placeholder and closes the element.
func chartStart(b *strings.Builder, id, label string, levels int) bool {
	fmt.Fprintf(b, `<svg class="chart" id="%s" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, id, sweepW, sweepH, label)
	if levels == 0 {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle" fill="#656d76">No level has ended yet.</text></svg>`, sweepW/2, sweepH/2)
		return false
	}
	return true
}

// throughputChart draws ok throughput against concurrency: the measured
// levels as points, the fitted curve, its peak and its ceiling.
func throughputChart(r *SweepResult) string {
	ns, ls := r.measured()
	var b strings.Builder
	if !chartStart(&b, "throughput-chart", "ok throughput against concurrency", len(ls)) {
		return b.String()
	}
	m := r.Fit
	top := 0.0
	for _, l := range ls {
		top = max(top, l.OKPerSec())
	}
	peak := 0.0
	if m != nil && m.Shape == usl.Peak && m.PeakN > 1 && m.PeakN <= 4*ns[len(ns)-1] {
		peak = m.PeakN
	}
	f := newLogFrame(ns, peak, 1)
	var curve []float64
	const samples = 160
	if m != nil {
		for i := 0; i <= samples; i++ {
			n := math.Exp2(f.lo + (f.hi-f.lo)*float64(i)/samples)
			curve = append(curve, m.Predict(n))
			top = max(top, curve[i])
		}
		if m.Ceiling > 0 && m.Ceiling <= 1.5*top {
			top = max(top, m.Ceiling)
		}
	}
	step := niceStep(top*1.05, 5)
	f.ymax = math.Ceil(top*1.05/step) * step
	axes(&b, f, xTicks(f, ns), step, axisLabel, "concurrency (client processes, log scale)", "ok operations per second")
	items := [][2]string{{"measured", colorMeasured}}
	if m != nil {
		items = append(items, [2]string{"Universal Scalability Law fit", colorFit})
		if m.Ceiling > 0 && m.Ceiling <= f.ymax {
			fmt.Fprintf(&b, `<line class="ceiling" x1="%.1f" y1="%.2f" x2="%.1f" y2="%.2f" stroke="%s" stroke-dasharray="6 4" stroke-width="1.2"/>`,
				sweepLeft, f.y(m.Ceiling), sweepW-sweepRight, f.y(m.Ceiling), colorFit)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.2f" font-size="12" fill="%s">ceiling %s ok/s</text>`,
				sweepLeft+6, f.y(m.Ceiling)-5, colorFit, formatRate(m.Ceiling))
		}
		if peak > 0 {
			fmt.Fprintf(&b, `<line class="peak" x1="%.2f" y1="%.1f" x2="%.2f" y2="%.1f" stroke="%s" stroke-dasharray="3 3" stroke-width="1.2"/>`,
				f.x(peak), sweepH-sweepBottom, f.x(peak), sweepTop, colorFit)
			fmt.Fprintf(&b, `<text x="%.2f" y="%.1f" font-size="12" fill="%s" text-anchor="end">N* ≈ %.1f</text>`,
				f.x(peak)-4, sweepH-sweepBottom-6, colorFit, peak)
		}
		var d strings.Builder
		for i, v := range curve {
			n := math.Exp2(f.lo + (f.hi-f.lo)*float64(i)/samples)
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.2f %.2f ", cmd, f.x(n), f.y(v))
		}
		fmt.Fprintf(&b, `<path class="fit-curve" d="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(d.String()), colorFit)
	}
	fmt.Fprintf(&b, `<g class="points">`)
	for _, l := range ls {
		fmt.Fprintf(&b, `<circle class="measured" cx="%.2f" cy="%.2f" r="5" fill="%s" stroke="#fff" stroke-width="1.5"><title>%d clients: %s ok/s (%s)</title></circle>`,
			f.x(float64(l.Concurrency)), f.y(l.OKPerSec()), colorMeasured, l.Concurrency, formatRate(l.OKPerSec()), l.Verdict)
	}
	b.WriteString(`</g>`)
	legend(&b, items)
	b.WriteString(`</svg>`)
	return b.String()
}

// latencyChart draws the p50 and p99 latency of the ok operations against
// concurrency.
func latencyChart(r *SweepResult) string {
	ns, ls := r.measured()
	var b strings.Builder
	if !chartStart(&b, "latency-chart", "p50 and p99 latency against concurrency", len(ls)) {
		return b.String()
	}
	top := 0.0
	for _, l := range ls {
		top = max(top, float64(l.Figures.P99NS)/1e6, float64(l.Figures.P50NS)/1e6)
	}
	if top <= 0 {
		top = 1
	}
	f := newLogFrame(ns, 0, 1)
	step := niceStep(top*1.05, 5)
	f.ymax = math.Ceil(top*1.05/step) * step
	axes(&b, f, xTicks(f, ns), step, axisLabel, "concurrency (client processes, log scale)", "latency of ok operations (ms)")
	for _, s := range []struct {
		name, color string
		ns          func(SweepLevel) int64
	}{
		{"p50", colorP50, func(l SweepLevel) int64 { return l.Figures.P50NS }},
		{"p99", colorP99, func(l SweepLevel) int64 { return l.Figures.P99NS }},
	} {
		var pts []string
		for _, l := range ls {
			pts = append(pts, fmt.Sprintf("%.2f,%.2f", f.x(float64(l.Concurrency)), f.y(float64(s.ns(l))/1e6)))
		}
		fmt.Fprintf(&b, `<polyline class="%s-line" points="%s" fill="none" stroke="%s" stroke-width="2"/>`, s.name, strings.Join(pts, " "), s.color)
		fmt.Fprintf(&b, `<g class="points">`)
		for _, l := range ls {
			fmt.Fprintf(&b, `<circle class="%s" cx="%.2f" cy="%.2f" r="4.5" fill="%s" stroke="#fff" stroke-width="1.5"><title>%d clients: %s %s</title></circle>`,
				s.name, f.x(float64(l.Concurrency)), f.y(float64(s.ns(l))/1e6), s.color, l.Concurrency, s.name, formatNS(s.ns(l)))
		}
		b.WriteString(`</g>`)
	}
	legend(&b, [][2]string{{"p50", colorP50}, {"p99", colorP99}})
	b.WriteString(`</svg>`)
	return b.String()
}
