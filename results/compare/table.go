package compare

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
)

// This file lays a Comparison out as a table, once, for both renderings:
// groups of rows, one cell per run. The terminal and the page show the
// same rows with the same words.

// absent is the text of a cell with nothing to show.
const absent = "—"

// table is a Comparison laid out for showing.
type table struct {
	Heads     []head
	Groups    []group
	Anomalies []anomalyNote
	Notes     []string
}

type head struct {
	Label string
	Name  string
}

type group struct {
	Title string
	Rows  []row
}

type row struct {
	Label string
	Cells []cell
}

// cell is one run's value on a row.
type cell struct {
	Text string
	// Ratio compares a number with the first run's ("×2.3"); empty in
	// the first column and where either is missing or zero.
	Ratio string
	// Verdict, when set, is a verdict the page shows as a badge.
	Verdict core.Verdict
	// Detail is a longer text the page shows under the cell (the first
	// anomaly); the terminal lists it under the table.
	Detail string
}

// Rest is the cell's text after its verdict, which the page shows as a
// badge.
func (c cell) Rest() string {
	if v := string(c.Verdict); len(c.Text) >= len(v) && strings.EqualFold(c.Text[:len(v)], v) {
		return c.Text[len(v):]
	}
	return c.Text
}

// anomalyNote is the first anomaly of one checker of one run.
type anomalyNote struct {
	Run     string
	Checker string
	Text    string
}

// layout builds the table of c.
func layout(c *Comparison) table {
	var t table
	for _, r := range c.Runs {
		t.Heads = append(t.Heads, head{Label: r.Label, Name: r.Name})
	}
	each := func(label string, f func(r *Run) cell) row {
		rw := row{Label: label}
		for i := range c.Runs {
			rw.Cells = append(rw.Cells, f(&c.Runs[i]))
		}
		return rw
	}
	text := func(label string, f func(r *Run) string) row {
		return each(label, func(r *Run) cell { return cell{Text: orAbsent(f(r))} })
	}

	t.Groups = append(t.Groups, group{Title: "run", Rows: []row{
		text("target", func(r *Run) string { return r.Target }),
		text("variant", func(r *Run) string { return r.Variant }),
		text("workload", func(r *Run) string { return r.Workload }),
		text("provider", func(r *Run) string { return r.Provider }),
		text("seed", func(r *Run) string {
			if r.Seed == 0 {
				return ""
			}
			return strconv.FormatInt(r.Seed, 10)
		}),
		text("nemesis", func(r *Run) string {
			if r.Target == "" {
				return ""
			}
			if len(r.Nemesis) == 0 {
				return "none"
			}
			return strings.Join(r.Nemesis, ",")
		}),
		text("concurrency", func(r *Run) string {
			if r.Concurrency == 0 {
				return ""
			}
			return strconv.Itoa(r.Concurrency)
		}),
		text("time limit", func(r *Run) string { return r.TimeLimit }),
	}})

	verdict := group{Title: "verdict", Rows: []row{
		each("verdict", func(r *Run) cell { return cell{Text: strings.ToUpper(string(r.Verdict)), Verdict: r.Verdict} }),
	}}
	var checkerNames []string
	for _, r := range c.Runs {
		for _, ch := range r.Checkers {
			if !slices.Contains(checkerNames, ch.Checker) {
				checkerNames = append(checkerNames, ch.Checker)
			}
		}
	}
	for _, name := range checkerNames {
		verdict.Rows = append(verdict.Rows, each(name, func(r *Run) cell {
			for _, ch := range r.Checkers {
				if ch.Checker == name {
					s := string(ch.Verdict)
					if ch.Anomalies > 0 {
						s += " · " + plural(ch.Anomalies, "anomaly", "anomalies")
					}
					return cell{Text: s, Verdict: ch.Verdict, Detail: ch.FirstAnomaly}
				}
			}
			return cell{Text: absent}
		}))
	}
	verdict.Rows = append(verdict.Rows, each("operations", func(r *Run) cell {
		n := r.Counts
		return cell{Text: fmt.Sprintf("%d ok · %d fail · %d info", n.OK, n.Fail, n.Info)}
	}))
	t.Groups = append(t.Groups, verdict)
	for _, r := range c.Runs {
		for _, ch := range r.Checkers {
			if ch.FirstAnomaly != "" {
				t.Anomalies = append(t.Anomalies, anomalyNote{Run: r.Label, Checker: ch.Checker, Text: ch.FirstAnomaly})
			}
		}
	}

	// numbers makes a row of a number per run, each after the first
	// with its ratio to the first; ok is false where a run has none.
	numbers := func(label string, f func(r *Run) (float64, bool), show func(float64) string) row {
		vals, oks := make([]float64, len(c.Runs)), make([]bool, len(c.Runs))
		for i := range c.Runs {
			vals[i], oks[i] = f(&c.Runs[i])
		}
		base, hasBase := vals[0], oks[0] && vals[0] > 0
		rw := row{Label: label}
		for i := range c.Runs {
			if !oks[i] {
				rw.Cells = append(rw.Cells, cell{Text: absent})
				continue
			}
			cl := cell{Text: show(vals[i])}
			if i > 0 && hasBase && vals[i] > 0 {
				cl.Ratio = ratio(vals[i] / base)
			}
			rw.Cells = append(rw.Cells, cl)
		}
		return rw
	}
	latency := func(p *figures.Period, q string) (float64, bool) {
		if p == nil || p.OK == 0 {
			return 0, false
		}
		switch q {
		case "p50":
			return float64(p.P50NS), true
		case "p99":
			return float64(p.P99NS), true
		}
		return float64(p.MaxNS), true
	}
	dur := func(v float64) string { return Duration(int64(v)) }

	t.Groups = append(t.Groups, group{Title: "throughput (load phase)", Rows: []row{
		numbers("ok ops", func(r *Run) (float64, bool) {
			if r.All == nil {
				return 0, false
			}
			return float64(r.All.OK), true
		}, func(v float64) string { return strconv.Itoa(int(v)) }),
		numbers("ok/s", func(r *Run) (float64, bool) {
			if r.All == nil {
				return 0, false
			}
			return r.All.OKPerSec, true
		}, Rate),
	}})

	lat := group{Title: "latency of ok ops"}
	for _, q := range []string{"p50", "p99", "max"} {
		lat.Rows = append(lat.Rows, numbers(q+" all", func(r *Run) (float64, bool) { return latency(r.All, q) }, dur))
	}
	var fs []string
	for _, r := range c.Runs {
		if r.Figures == nil {
			continue
		}
		for _, p := range r.Figures.Functions {
			if !slices.Contains(fs, p.F) {
				fs = append(fs, p.F)
			}
		}
	}
	slices.Sort(fs)
	for _, f := range fs {
		for _, q := range []string{"p50", "p99"} {
			lat.Rows = append(lat.Rows, numbers(q+" "+f, func(r *Run) (float64, bool) { return latency(function(r.Figures, f), q) }, dur))
		}
	}
	t.Groups = append(t.Groups, lat)

	type periodKey struct{ period, side string }
	var periods []periodKey
	for _, r := range c.Runs {
		if r.Figures == nil {
			continue
		}
		for _, p := range r.Figures.Availability {
			if k := (periodKey{p.Period, p.Side}); !slices.Contains(periods, k) {
				periods = append(periods, k)
			}
		}
	}
	if len(periods) > 0 {
		av := group{Title: "availability (ok share · ok/s)"}
		for _, k := range periods {
			label := k.period
			if k.side != "" {
				label += " · " + k.side
			}
			av.Rows = append(av.Rows, each(label, func(r *Run) cell {
				p := period(r.Figures, k.period, k.side)
				if p == nil {
					return cell{Text: absent}
				}
				return cell{Text: Percent(p.OKShare) + " · " + Rate(p.OKPerSec)}
			}))
		}
		t.Groups = append(t.Groups, av)
	}

	stale := func(r *Run) *figures.Staleness {
		if r.Figures == nil {
			return nil
		}
		return r.Figures.Staleness
	}
	if slices.ContainsFunc(c.Runs, func(r Run) bool { return stale(&r) != nil }) {
		staleDur := func(q string) func(r *Run) (float64, bool) {
			return func(r *Run) (float64, bool) {
				s := stale(r)
				if s == nil || s.Stale == 0 {
					return 0, false
				}
				if q == "p99" {
					return float64(s.P99NS), true
				}
				return float64(s.MaxNS), true
			}
		}
		none := func(rw row) row {
			for i := range rw.Cells {
				if s := stale(&c.Runs[i]); s != nil && s.Stale == 0 {
					rw.Cells[i] = cell{Text: "none"}
				}
			}
			return rw
		}
		t.Groups = append(t.Groups, group{Title: "staleness of reads", Rows: []row{
			each("stale reads", func(r *Run) cell {
				s := stale(r)
				if s == nil {
					return cell{Text: absent}
				}
				txt := fmt.Sprintf("%d of %d", s.Stale, s.Reads)
				if s.Reads > 0 {
					txt += " (" + Percent(float64(s.Stale)/float64(s.Reads)) + ")"
				}
				return cell{Text: txt}
			}),
			none(numbers("p99", staleDur("p99"), dur)),
			none(numbers("max", staleDur("max"), dur)),
			none(each("most writes behind", func(r *Run) cell {
				s := stale(r)
				if s == nil || s.Stale == 0 {
					return cell{Text: absent}
				}
				return cell{Text: strconv.Itoa(s.MaxBehind)}
			})),
		}})
	}

	for _, r := range c.Runs {
		for _, n := range r.Notes {
			t.Notes = append(t.Notes, r.Label+": "+n)
		}
	}
	return t
}

// function returns f's row of the operation function fn, or nil.
func function(f *figures.Figures, fn string) *figures.Period {
	if f == nil {
		return nil
	}
	for i := range f.Functions {
		if f.Functions[i].F == fn {
			return &f.Functions[i]
		}
	}
	return nil
}

// period returns f's availability row of the period and side, or nil.
func period(f *figures.Figures, name, side string) *figures.Period {
	if f == nil {
		return nil
	}
	for i := range f.Availability {
		if p := &f.Availability[i]; p.Period == name && p.Side == side {
			return p
		}
	}
	return nil
}

func orAbsent(s string) string {
	if s == "" {
		return absent
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Duration formats nanoseconds with three significant digits in the
// largest unit below them: "850ns", "12.3µs", "4.56ms", "1.20s".
func Duration(ns int64) string {
	v := float64(ns)
	switch {
	case v < 1e3:
		return strconv.FormatInt(ns, 10) + "ns"
	case v < 1e6:
		return sig3(v/1e3) + "µs"
	case v < 1e9:
		return sig3(v/1e6) + "ms"
	}
	return sig3(v/1e9) + "s"
}

// sig3 formats v (at least 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// Rate formats operations per second: "190.0/s".
func Rate(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
}

// Percent formats a share as a percentage: "98.0%".
func Percent(v float64) string {
	return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
}

// ratio formats how many times the first run's value another is:
// "×2.3", "×0.07", "×12".
func ratio(r float64) string {
	switch {
	case math.IsInf(r, 0) || math.IsNaN(r):
		return ""
	case r >= 10:
		return "×" + strconv.FormatFloat(r, 'f', 0, 64)
	case r >= 0.995:
		return "×" + strconv.FormatFloat(r, 'f', 1, 64)
	case r >= 0.01:
		return "×" + strconv.FormatFloat(r, 'f', 2, 64)
	}
	return "×<0.01"
}

// Widths of the terminal table.
const (
	// maxLabel and maxColumn cap the row label column and each run's
	// column: two runs fit in 100 columns.
	maxLabel  = 22
	maxColumn = 36
	// lineWidth is where the lists under the table wrap.
	lineWidth = 100
)

// WriteTable writes c as a plain-text table, one column per run, rows
// grouped as the page groups them; after it, the first anomaly of each
// checker that found one and the notes. Two runs fit in 100 columns;
// longer cells are cut, ending in "…".
func WriteTable(w io.Writer, c *Comparison) error {
	t := layout(c)
	labelW := 0
	for _, g := range t.Groups {
		labelW = max(labelW, width(g.Title))
		for _, r := range g.Rows {
			labelW = max(labelW, 2+width(r.Label))
		}
	}
	labelW = min(labelW, maxLabel)
	colW := make([]int, len(t.Heads))
	for i, h := range t.Heads {
		colW[i] = max(width(h.Label), width(h.Name))
		for _, g := range t.Groups {
			for _, r := range g.Rows {
				colW[i] = max(colW[i], width(cellText(r.Cells[i])))
			}
		}
		colW[i] = min(colW[i], maxColumn)
	}
	var b strings.Builder
	line := func(label string, cells []string) {
		b.WriteString(pad(cut(label, labelW), labelW))
		for i, s := range cells {
			b.WriteString("  ")
			if i == len(cells)-1 {
				b.WriteString(cut(s, colW[i]))
			} else {
				b.WriteString(pad(cut(s, colW[i]), colW[i]))
			}
		}
		b.WriteString("\n")
	}
	var labels, names []string
	for _, h := range t.Heads {
		labels, names = append(labels, h.Label), append(names, h.Name)
	}
	line("", labels)
	line("", names)
	for _, g := range t.Groups {
		b.WriteString(g.Title + "\n")
		for _, r := range g.Rows {
			cells := make([]string, len(r.Cells))
			for i, cl := range r.Cells {
				cells[i] = cellText(cl)
			}
			line("  "+r.Label, cells)
		}
	}
	if len(t.Anomalies) > 0 {
		b.WriteString("first anomalies:\n")
		for _, a := range t.Anomalies {
			wrap(&b, a.Run+" · "+a.Checker+": "+a.Text, "  ", "      ")
		}
	}
	if len(t.Notes) > 0 {
		b.WriteString("notes:\n")
		for _, n := range t.Notes {
			wrap(&b, n, "  ", "      ")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cellText is a cell as the terminal shows it: the ratio after the
// value.
func cellText(c cell) string {
	s := c.Text
	if c.Ratio != "" {
		s += "  " + c.Ratio
	}
	return s
}

func width(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, n int) string {
	if d := n - width(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// cut shortens s to n characters, the last being "…" when it was longer.
func cut(s string, n int) string {
	if width(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// wrap writes s as lines of at most lineWidth characters, broken at
// spaces, the first indented by first and the others by rest.
func wrap(b *strings.Builder, s, first, rest string) {
	indent := first
	cur := indent
	words := strings.Fields(s)
	for i, word := range words {
		if i > 0 && width(cur)+1+width(word) > lineWidth {
			b.WriteString(cur + "\n")
			indent = rest
			cur = indent + word
			continue
		}
		if i > 0 {
			cur += " "
		}
		cur += word
	}
	b.WriteString(cur + "\n")
}
