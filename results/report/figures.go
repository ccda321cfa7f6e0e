package report

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

// This file shows the run's figures (package checkers/figures): the
// availability and latency table by fault window and, for register runs,
// the staleness of reads with its plot and histogram. As in charts.go,
// every text from the run folder is escaped: table cells by the template,
// SVG text by template.HTMLEscapeString.

// figuresView is what the report shows of the run's figures.
type figuresView struct {
	// Source says where the figures come from, in a sentence.
	Source string
	// LoadPhase is the load phase's length ("3.004s").
	LoadPhase string
	Rows      []periodRow
	Functions []periodRow
	// Register is true for register runs: the staleness section is shown.
	Register bool
	Stale    *staleView
}

// periodRow is one row of figures, formatted.
type periodRow struct {
	Period, Side, F, Duration string
	Ops                       int
	OK, Fail, Info            string // shares
	OKPerSec                  string
	P50, P99, Max             string
	Sub                       bool // a partition's side row
}

// staleView is the staleness of reads, formatted.
type staleView struct {
	Reads, Stale       int
	StaleShare         string
	P50, P90, P99, Max string
	MaxBehind          int
	Samples            int
	Thinned            bool
	Chart, Histogram   template.HTML
	ChartCaption       string
}

// registerFs are the register workload's operations: a history whose
// client operations are all among them is read as a register history
// when test.json does not say.
var registerFs = map[string]bool{"read": true, "write": true, "cas": true}

// isRegister says whether the run is a register run: test.json's
// workload when it names one, else every client operation of h a read,
// write or cas (and at least one).
func isRegister(workload string, h core.History) bool {
	if workload != "" {
		return workload == "register"
	}
	seen := false
	for _, e := range h {
		if e.Process == core.NemesisProcess {
			continue
		}
		if !registerFs[e.F] {
			return false
		}
		seen = true
	}
	return seen
}

// buildFigures returns the figures to show: results.json's when it has
// them, else computed from the history (runs from before figures were
// measured, runs never checked); nil when there is neither. windows and
// end are the charts' fault windows and time axis.
func buildFigures(res *runfolder.Results, h core.History, register bool, windows []window, end int64) *figuresView {
	var fig *figures.Figures
	v := &figuresView{Register: register}
	switch {
	case res != nil && res.Figures != nil:
		fig = res.Figures
		v.Source = "From results.json."
	case len(h) > 0:
		fig = figures.Compute(h, figures.Options{})
		if register {
			fig.Staleness = figures.RegisterStaleness(h, figures.Options{})
		}
		v.Source = "Computed from history.jsonl, as results.json has no figures (a run from before they were measured, or one never checked): " +
			"the load phase runs to the history's last event, final reads included."
	default:
		return nil
	}
	if len(fig.Availability) > 0 {
		v.LoadPhase = formatDuration(fig.Availability[0].DurationNS)
	}
	for _, p := range fig.Availability {
		v.Rows = append(v.Rows, viewPeriod(p))
	}
	for _, p := range fig.Functions {
		v.Functions = append(v.Functions, viewPeriod(p))
	}
	if st := fig.Staleness; st != nil {
		v.Register = true
		v.Stale = viewStaleness(st, windows, max(end, fig.LoadEndNS))
	}
	return v
}

func viewPeriod(p figures.Period) periodRow {
	r := periodRow{Period: p.Period, F: p.F, Duration: formatDuration(p.DurationNS), Ops: p.Ops,
		OK: percent(p.OKShare), Fail: percent(p.FailShare), Info: percent(p.InfoShare),
		OKPerSec: strconv.FormatFloat(p.OKPerSec, 'f', 1, 64),
		P50:      latencyOrDash(p.P50NS, p.OK), P99: latencyOrDash(p.P99NS, p.OK), Max: latencyOrDash(p.MaxNS, p.OK)}
	switch p.Side {
	case figures.Majority:
		r.Side, r.Sub = "majority side", true
	case figures.Minority:
		r.Side, r.Sub = "minority side", true
	case figures.NoNode:
		r.Side, r.Sub = "node unknown", true
	default:
		r.Side = p.Side
		r.Sub = p.Side != ""
	}
	if p.Ops == 0 {
		r.OK, r.Fail, r.Info = "—", "—", "—"
	}
	return r
}

func viewStaleness(st *figures.Staleness, windows []window, end int64) *staleView {
	v := &staleView{Reads: st.Reads, Stale: st.Stale, MaxBehind: st.MaxBehind, Samples: len(st.Samples),
		Thinned: len(st.Samples) < st.Stale,
		P50:     latencyOrDash(st.P50NS, st.Stale), P90: latencyOrDash(st.P90NS, st.Stale),
		P99: latencyOrDash(st.P99NS, st.Stale), Max: latencyOrDash(st.MaxNS, st.Stale)}
	if st.Reads > 0 {
		v.StaleShare = percent(float64(st.Stale) / float64(st.Reads))
	}
	if len(st.Samples) > 0 {
		for _, s := range st.Samples {
			end = max(end, s.TimeNS)
		}
		v.Chart = stalenessChart(st.Samples, end, windows)
		v.ChartCaption = strconv.Itoa(len(st.Samples)) + " stale reads drawn"
		if v.Thinned {
			v.ChartCaption += " of " + strconv.Itoa(st.Stale) + " (evenly thinned, the stalest kept)"
		}
	}
	if len(st.Buckets) > 0 {
		v.Histogram = stalenessHistogram(st.Buckets)
	}
	return v
}

// stalenessChart draws each sampled stale read's staleness against its
// invocation time on a log scale, the fault windows shaded.
func stalenessChart(samples []figures.StaleRead, end int64, windows []window) template.HTML {
	f := chartFrame{x0: 0, x1: max(end, 1)}
	var b strings.Builder
	svgStart(&b, "staleness-chart", "staleness of each stale read against the time it was invoked, fault windows shaded", f)
	svgWindows(&b, f, windows)
	lo, hi := math.Inf(1), 0.0
	for _, s := range samples {
		v := float64(max(s.StaleNS, 1))
		lo, hi = min(lo, v), max(hi, v)
	}
	axis := latencyAxis(lo, hi, chartTop, plotBottom)
	y := axis.y
	svgYAxis(&b, axis, "stale by")
	b.WriteString(`<g class="stale-reads" fill="` + staleColor + `" fill-opacity="0.8">`)
	for _, s := range samples {
		title := s.Key + " · p" + strconv.Itoa(s.Process) + " · read at " + formatTime(s.TimeNS) + " · stale by " +
			formatLatency(float64(s.StaleNS)) + " · " + plural(s.Behind, "write") + " behind"
		if s.Node != "" {
			title += " · node " + s.Node
		}
		b.WriteString(`<circle cx="` + fnum(f.x(s.TimeNS)) + `" cy="` + fnum(y(float64(max(s.StaleNS, 1)))) + `" r="3"><title>` +
			template.HTMLEscapeString(title) + `</title></circle>`)
	}
	b.WriteString(`</g>`)
	svgLegend(&b, [][3]string{{"stale read", staleColor, ""}})
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

const staleColor = "#cf222e"

// Histogram geometry.
const (
	histH      = 220.0
	histTop    = 24.0
	histBottom = 40.0
)

// stalenessHistogram draws the stale reads counted by staleness bucket.
func stalenessHistogram(buckets []figures.Bucket) template.HTML {
	var b strings.Builder
	b.WriteString(`<svg id="staleness-histogram" class="chart" viewBox="0 0 ` + fnum(chartW) + ` ` + fnum(histH) +
		`" role="img" aria-label="stale reads by how stale they were" xmlns="http://www.w3.org/2000/svg">`)
	plotW := chartW - chartLeft - chartRight
	bottom := histH - histBottom
	b.WriteString(`<rect x="` + fnum(chartLeft) + `" y="` + fnum(histTop) + `" width="` + fnum(plotW) + `" height="` + fnum(bottom-histTop) +
		`" fill="#fff" stroke="#d0d7de"/>`)
	peak := 0
	for _, bk := range buckets {
		peak = max(peak, bk.Count)
	}
	axis := countAxis(float64(peak), 4, histTop, bottom)
	y := axis.y
	svgYAxis(&b, axis, "reads")
	slot := plotW / float64(len(buckets))
	b.WriteString(`<g class="buckets" font-size="11" text-anchor="middle">`)
	var prev int64
	for i, bk := range buckets {
		x := chartLeft + float64(i)*slot
		w := slot * 0.8
		label := "≤" + formatLatency(float64(bk.UpToNS))
		title := plural(bk.Count, "stale read") + " stale by more than " + formatLatency(float64(prev)) + ", up to " + formatLatency(float64(bk.UpToNS))
		if i == 0 {
			title = plural(bk.Count, "stale read") + " stale by up to " + formatLatency(float64(bk.UpToNS))
		}
		b.WriteString(`<g class="bucket"><title>` + template.HTMLEscapeString(title) + `</title>`)
		if bk.Count > 0 {
			b.WriteString(`<rect x="` + fnum(x+slot*0.1) + `" y="` + fnum(y(float64(bk.Count))) + `" width="` + fnum(w) + `" height="` +
				fnum(bottom-y(float64(bk.Count))) + `" fill="` + staleColor + `" fill-opacity="0.8"/>`)
			b.WriteString(`<text x="` + fnum(x+slot/2) + `" y="` + fnum(y(float64(bk.Count))-4) + `" fill="#1f2328">` + strconv.Itoa(bk.Count) + `</text>`)
		}
		b.WriteString(`<text x="` + fnum(x+slot/2) + `" y="` + fnum(bottom+14) + `" fill="#656d76">` + template.HTMLEscapeString(label) + `</text>`)
		b.WriteString(`</g>`)
		prev = bk.UpToNS
	}
	b.WriteString(`<text x="` + fnum(chartLeft+plotW/2) + `" y="` + fnum(histH-6) + `" fill="#656d76">how stale (each bar: above the bar before, up to its bound)</text>`)
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

func percent(x float64) string {
	return strconv.FormatFloat(x*100, 'f', 1, 64) + "%"
}

// latencyOrDash formats a latency, or a dash when there was nothing to
// measure (n is how many values it summarises).
func latencyOrDash(ns int64, n int) string {
	if n == 0 {
		return "—"
	}
	return formatLatency(float64(ns))
}

func formatDuration(ns int64) string {
	return time.Duration(ns).Round(time.Millisecond).String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
