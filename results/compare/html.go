package compare

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
)

//go:embed compare.html.tmpl
var pageTemplateText string

var pageTemplate = template.Must(template.New("compare").Funcs(template.FuncMap{
	"inc": func(n int) int { return n + 1 },
}).Parse(pageTemplateText))

// pageData is everything the page shows.
type pageData struct {
	Title      string
	Heads      []pageHead
	Groups     []group
	Anomalies  []anomalyNote
	Notes      []string
	Throughput chart
	Latency    chart
}

type pageHead struct {
	head
	// Href links the run's report.html relative to the page; empty when
	// the run has no report.
	Href    string
	Color   string
	Verdict core.Verdict
}

// chart is a horizontal bar chart drawn as inline SVG.
type chart struct {
	Height  string
	Caption string
	Texts   []svgText
	Bars    []svgBar
}

type svgText struct {
	X, Y  string
	Text  string
	Class string
}

type svgBar struct {
	X, Y, W, H string
	Color      string
	Class      string
	Title      string
}

// Chart geometry, in SVG user units.
const (
	chartWidth = 900.0
	barLeft    = 220.0
	barSpan    = 440.0
	rowHeight  = 24.0
	barHeight  = 16.0
	chartPad   = 10.0
)

// runColors colour the runs' bars, in order (cycled).
var runColors = []string{"#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0a3069", "#6e7781"}

func runColor(i int) string { return runColors[i%len(runColors)] }

// RenderHTML writes c as a self-contained HTML page to w: the table
// WriteTable prints, with bars for each run's throughput and for its
// p50 and p99 latency over the load phase and per operation function,
// and a link to each run's report.html that is relative to pageDir, the
// folder the page will be written to. Everything from the runs' files is
// escaped; the page loads nothing.
func RenderHTML(w io.Writer, c *Comparison, pageDir string) error {
	t := layout(c)
	d := pageData{Groups: t.Groups, Anomalies: t.Anomalies, Notes: t.Notes}
	var labels []string
	for i, h := range t.Heads {
		r := &c.Runs[i]
		labels = append(labels, h.Label)
		d.Heads = append(d.Heads, pageHead{head: h, Href: relHref(pageDir, r.Report), Color: runColor(i), Verdict: r.Verdict})
	}
	d.Title = "Comparison: " + strings.Join(labels, " · ")
	d.Throughput = throughputChart(c)
	d.Latency = latencyChart(c)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		return fmt.Errorf("render comparison: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// relHref returns the URL of target relative to the folder dir, or ""
// when target is empty or cannot be reached relatively.
func relHref(dir, target string) string {
	if target == "" {
		return ""
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(absDir, absTarget)
	if err != nil {
		return ""
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// throughputChart draws one bar per run: its ok/s over the load phase.
func throughputChart(c *Comparison) chart {
	ch := chart{Caption: "ok operations per second over the load phase"}
	top := 0.0
	for _, r := range c.Runs {
		if r.All != nil {
			top = max(top, r.All.OKPerSec)
		}
	}
	y := chartPad
	for i, r := range c.Runs {
		ch.Texts = append(ch.Texts, svgText{X: "8", Y: fnum(y + barHeight - 3), Text: r.Label, Class: "label"})
		if r.All == nil {
			why := "not measured"
			if r.Figures == nil {
				why = "no figures"
			}
			ch.Texts = append(ch.Texts, svgText{X: fnum(barLeft), Y: fnum(y + barHeight - 3), Text: why, Class: "value muted"})
			y += rowHeight
			continue
		}
		w := scale(r.All.OKPerSec, top)
		ch.Bars = append(ch.Bars, svgBar{X: fnum(barLeft), Y: fnum(y), W: fnum(w), H: fnum(barHeight), Color: runColor(i),
			Class: "bar ok-rate", Title: r.Label + ": " + Rate(r.All.OKPerSec)})
		ch.Texts = append(ch.Texts, svgText{X: fnum(barLeft + w + 8), Y: fnum(y + barHeight - 3), Text: Rate(r.All.OKPerSec), Class: "value"})
		y += rowHeight
	}
	ch.Height = fnum(y + chartPad)
	return ch
}

// latencyChart draws, for the whole load phase and then each operation
// function, one row per run: its p99 as a light bar with its p50 as a
// dark bar over it. Each group is scaled to its own largest p99.
func latencyChart(c *Comparison) chart {
	ch := chart{Caption: "latency of ok operations: p50 (dark) over p99 (light); each group scaled to its largest p99"}
	type source struct {
		title string
		get   func(r *Run) *figures.Period
	}
	sources := []source{{"all operations", func(r *Run) *figures.Period { return r.All }}}
	seen := map[string]bool{}
	var fs []string
	for _, r := range c.Runs {
		if r.Figures == nil {
			continue
		}
		for _, p := range r.Figures.Functions {
			if !seen[p.F] {
				seen[p.F] = true
				fs = append(fs, p.F)
			}
		}
	}
	slices.Sort(fs)
	for _, f := range fs {
		sources = append(sources, source{f, func(r *Run) *figures.Period { return function(r.Figures, f) }})
	}
	y := chartPad
	for _, s := range sources {
		ch.Texts = append(ch.Texts, svgText{X: "8", Y: fnum(y + barHeight - 3), Text: s.title, Class: "group"})
		y += rowHeight
		top := 0.0
		for i := range c.Runs {
			if p := s.get(&c.Runs[i]); p != nil && p.OK > 0 {
				top = max(top, float64(p.P99NS))
			}
		}
		for i := range c.Runs {
			r := &c.Runs[i]
			ch.Texts = append(ch.Texts, svgText{X: "20", Y: fnum(y + barHeight - 3), Text: r.Label, Class: "label"})
			p := s.get(r)
			if p == nil || p.OK == 0 {
				ch.Texts = append(ch.Texts, svgText{X: fnum(barLeft), Y: fnum(y + barHeight - 3), Text: "no ok operations", Class: "value muted"})
				y += rowHeight
				continue
			}
			w99, w50 := scale(float64(p.P99NS), top), scale(float64(p.P50NS), top)
			ch.Bars = append(ch.Bars,
				svgBar{X: fnum(barLeft), Y: fnum(y), W: fnum(w99), H: fnum(barHeight), Color: runColor(i), Class: "bar p99",
					Title: r.Label + " " + s.title + ": p99 " + Duration(p.P99NS)},
				svgBar{X: fnum(barLeft), Y: fnum(y + 3), W: fnum(w50), H: fnum(barHeight - 6), Color: runColor(i), Class: "bar p50",
					Title: r.Label + " " + s.title + ": p50 " + Duration(p.P50NS)})
			ch.Texts = append(ch.Texts, svgText{X: fnum(barLeft + w99 + 8), Y: fnum(y + barHeight - 3),
				Text: "p50 " + Duration(p.P50NS) + " · p99 " + Duration(p.P99NS), Class: "value"})
			y += rowHeight
		}
		y += chartPad
	}
	ch.Height = fnum(y)
	return ch
}

// scale maps v in [0, top] to a bar length; a value above zero is
// always at least one unit long, so that it shows.
func scale(v, top float64) float64 {
	if top <= 0 || v <= 0 {
		return 0
	}
	return max(1, v/top*barSpan)
}

func fnum(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}
