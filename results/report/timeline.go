package report

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// This file builds the data behind the report's interactive views: the
// operations paired from the history, laid out in lanes, and the nemesis
// windows. The page receives it as compact JSON (one array per field,
// times in microseconds, starts and indices delta-coded) and draws only
// the visible part of it.

// Limits of the embedded timeline data.
const (
	// maxTimelineValue cuts each value shown in the timeline.
	maxTimelineValue = 80
	// maxTimelineValueBytes bounds the value texts of the whole
	// timeline; past it the timeline shows operations without values.
	maxTimelineValueBytes = 6 << 20
	// maxLaneLabelProcs is how many process ids a lane's label names.
	maxLaneLabelProcs = 3
)

// faultPalette colours the kinds of fault, in order of first appearance.
var faultPalette = []string{"#8250df", "#bf3989", "#0969da", "#bc4c00", "#1b7c83", "#6e7781"}

// timelineJSON is the embedded data of the timeline. Field names are short
// because a run of 100,000 operations repeats them in every op.
type timelineJSON struct {
	// End is the end of the run in µs (the last event's time).
	End int64 `json:"end"`
	// Fs, Keys, Nodes and Errors are the tables the op columns index.
	Fs     []string `json:"fs"`
	Keys   []string `json:"keys"`
	Nodes  []string `json:"nodes"`
	Errors []string `json:"errors"`
	// Lanes labels each lane: the processes drawn in it, in order.
	Lanes []string `json:"lanes"`
	// Ops holds one entry per operation in every column.
	Ops opColumns `json:"ops"`
	// Windows are the nemesis fault windows; Marks the nemesis events
	// that are neither the start nor the stop of a window.
	Windows []windowJSON `json:"windows"`
	Marks   []markJSON   `json:"marks"`
	// Anomalies lists, for each anomaly shown in the page (by its id),
	// the positions in Ops of the operations it involves.
	Anomalies [][]int `json:"anomalies"`
	// ValuesDropped is true when the values were left out to keep the
	// page small.
	ValuesDropped bool `json:"valuesDropped,omitempty"`
}

// opColumns holds the operations column by column.
type opColumns struct {
	S []int64  `json:"s"` // start in µs, as the difference from the previous op's start
	D []int64  `json:"d"` // duration in µs; -1 when the invocation never completed
	P []int    `json:"p"` // process
	L []int    `json:"l"` // lane
	T []int    `json:"t"` // outcome: 0 ok, 1 fail, 2 info
	F []int    `json:"f"` // index into Fs
	K []int    `json:"k"` // index into Keys, -1 for none
	I []int    `json:"i"` // invocation's history index, as the difference from the previous op's
	C []int    `json:"c"` // completion's index minus the invocation's; 0 when none
	N []int    `json:"n"` // index into Nodes, -1 for none
	E []int    `json:"e"` // index into Errors, -1 for none
	V []string `json:"v"` // the invocation's value
	O []any    `json:"o"` // the completion's value, or 0 when it is the invocation's or there is none
}

// windowJSON is one fault window: from a start-X event to the matching
// stop-X event, or to the end of the run when it never stopped.
type windowJSON struct {
	F     string `json:"f"`               // the fault, X
	S     int64  `json:"s"`               // start, µs
	E     int64  `json:"e"`               // end, µs
	Open  bool   `json:"open,omitempty"`  // never stopped
	Color string `json:"color"`           // from faultPalette
	Value string `json:"value,omitempty"` // the start event's value
	Error string `json:"error,omitempty"` // errors of its events
}

// markJSON is a nemesis event outside the windows.
type markJSON struct {
	F     string `json:"f"`
	T     int64  `json:"t"` // µs
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// window is a fault window in nanoseconds, for the charts.
type window struct {
	F          string
	Start, End int64
	Open       bool
	Color      string
	Value      string
	Error      string
}

// interner numbers distinct strings in order of first use.
type interner struct {
	m    map[string]int
	list []string
}

func (in *interner) id(s string) int {
	if i, ok := in.m[s]; ok {
		return i
	}
	if in.m == nil {
		in.m = make(map[string]int)
	}
	in.m[s] = len(in.list)
	in.list = append(in.list, s)
	return len(in.list) - 1
}

func (in *interner) idOrNone(s string) int {
	if s == "" {
		return -1
	}
	return in.id(s)
}

func (in *interner) strings() []string {
	if in.list == nil {
		return []string{}
	}
	return in.list
}

// outcomeCode numbers an operation's outcome for the page.
func outcomeCode(t core.Type) int {
	switch t {
	case core.OK:
		return 0
	case core.Fail:
		return 1
	}
	return 2
}

// packLanes gives every process a lane. A process lives from its first
// invocation to its last completion (forever when its last invocation
// never completed); a process that starts after another has retired takes
// that process's lane, so the timeline has about as many lanes as workers
// however many processes retired after an info.
func packLanes(ops []checkers.Operation) (laneOf map[int]int, labels []string) {
	type life struct {
		p           int
		first, last int64
	}
	lives := map[int]*life{}
	var order []*life
	for _, op := range ops {
		l := lives[op.Process]
		if l == nil {
			l = &life{p: op.Process, first: op.Start, last: op.Start}
			lives[op.Process] = l
			order = append(order, l)
		}
		l.first = min(l.first, op.Start)
		end := op.End
		if !op.Completed() {
			end = math.MaxInt64
		}
		l.last = max(l.last, end)
	}
	slices.SortStableFunc(order, func(a, b *life) int {
		if a.first != b.first {
			if a.first < b.first {
				return -1
			}
			return 1
		}
		return a.p - b.p
	})
	laneOf = make(map[int]int, len(order))
	var free []int64 // when each lane is free again
	var procs [][]int
	for _, l := range order {
		lane := -1
		for i, f := range free {
			if f < l.first {
				lane = i
				break
			}
		}
		if lane < 0 {
			lane = len(free)
			free = append(free, 0)
			procs = append(procs, nil)
		}
		free[lane] = l.last
		procs[lane] = append(procs[lane], l.p)
		laneOf[l.p] = lane
	}
	labels = make([]string, len(procs))
	for i, ps := range procs {
		var b strings.Builder
		for j, p := range ps {
			if j == maxLaneLabelProcs {
				b.WriteString(" +" + strconv.Itoa(len(ps)-j))
				break
			}
			if j > 0 {
				b.WriteString(" ")
			}
			b.WriteString("p" + strconv.Itoa(p))
		}
		labels[i] = b.String()
	}
	return laneOf, labels
}

// faultWindows pairs the nemesis's start-X and stop-X events into windows
// (a stop closes the oldest open window of X) and returns the other
// nemesis events as marks. end closes windows that never stopped.
func faultWindows(h core.History, end int64) (windows []window, marks []markJSON) {
	colors := map[string]string{}
	color := func(f string) string {
		c, ok := colors[f]
		if !ok {
			c = faultPalette[len(colors)%len(faultPalette)]
			colors[f] = c
		}
		return c
	}
	open := map[string][]int{} // fault → positions in windows, oldest first
	for _, e := range h {
		if e.Process != core.NemesisProcess {
			continue
		}
		switch {
		case strings.HasPrefix(e.F, "start-") && len(e.F) > len("start-"):
			f := strings.TrimPrefix(e.F, "start-")
			open[f] = append(open[f], len(windows))
			windows = append(windows, window{F: f, Start: e.Time, Open: true, Color: color(f),
				Value: valueTextN(e.Value, maxTimelineValue*2), Error: e.Error})
		case strings.HasPrefix(e.F, "stop-") && len(open[strings.TrimPrefix(e.F, "stop-")]) > 0:
			f := strings.TrimPrefix(e.F, "stop-")
			w := &windows[open[f][0]]
			open[f] = open[f][1:]
			w.End, w.Open = e.Time, false
			if e.Error != "" {
				w.Error = strings.TrimPrefix(w.Error+"; "+e.Error, "; ")
			}
		default:
			marks = append(marks, markJSON{F: e.F, T: e.Time, Value: valueTextN(e.Value, maxTimelineValue*2), Error: e.Error})
		}
	}
	for i := range windows {
		if windows[i].Open {
			windows[i].End = max(end, windows[i].Start)
		}
	}
	return windows, marks
}

// buildTimeline turns the paired operations into the page's timeline
// data. opOf maps a history index to the position of its operation in ops
// (-1 for nemesis events); anomalies holds the history indices each shown
// anomaly names.
func buildTimeline(ops []checkers.Operation, end int64, windows []window, marks []markJSON, opOf []int, anomalies [][]int) *timelineJSON {
	var fs, keys, nodes, errs interner
	laneOf, labels := packLanes(ops)
	n := len(ops)
	c := opColumns{
		S: make([]int64, n), D: make([]int64, n), P: make([]int, n), L: make([]int, n), T: make([]int, n),
		F: make([]int, n), K: make([]int, n), I: make([]int, n), C: make([]int, n), N: make([]int, n), E: make([]int, n),
		V: make([]string, n), O: make([]any, n),
	}
	var prevStart int64
	prevIndex := 0
	valueBytes := 0
	for i, op := range ops {
		s := op.Start / 1000
		c.S[i] = s - prevStart
		prevStart = s
		if op.Completed() {
			c.D[i] = op.End/1000 - s
			c.C[i] = op.Complete - op.Invoke
		} else {
			c.D[i] = -1
		}
		c.P[i] = op.Process
		c.L[i] = laneOf[op.Process]
		c.T[i] = outcomeCode(op.Type)
		c.F[i] = fs.id(op.F)
		c.K[i] = keys.idOrNone(op.Key)
		c.I[i] = op.Invoke - prevIndex
		prevIndex = op.Invoke
		c.N[i] = nodes.idOrNone(op.Node)
		c.E[i] = errs.idOrNone(op.Error)
		in := valueTextN(op.Input, maxTimelineValue)
		c.V[i] = in
		c.O[i] = 0
		valueBytes += len(in)
		if op.Completed() {
			if out := valueTextN(op.Output, maxTimelineValue); out != in {
				c.O[i] = out
				valueBytes += len(out)
			}
		}
	}
	t := &timelineJSON{
		End: end / 1000, Lanes: labels, Ops: c,
		Windows: make([]windowJSON, len(windows)), Marks: make([]markJSON, len(marks)),
		Anomalies: make([][]int, len(anomalies)),
	}
	if valueBytes > maxTimelineValueBytes {
		t.Ops.V, t.Ops.O = []string{}, []any{}
		t.ValuesDropped = true
	}
	t.Fs, t.Keys, t.Nodes, t.Errors = fs.strings(), keys.strings(), nodes.strings(), errs.strings()
	if t.Lanes == nil {
		t.Lanes = []string{}
	}
	for i, w := range windows {
		t.Windows[i] = windowJSON{F: w.F, S: w.Start / 1000, E: w.End / 1000, Open: w.Open, Color: w.Color, Value: w.Value, Error: w.Error}
	}
	for i, m := range marks {
		m.T /= 1000
		t.Marks[i] = m
	}
	for i, events := range anomalies {
		pos := []int{}
		seen := map[int]bool{}
		for _, e := range events {
			if e < 0 || e >= len(opOf) || opOf[e] < 0 || seen[opOf[e]] {
				continue
			}
			seen[opOf[e]] = true
			pos = append(pos, opOf[e])
		}
		t.Anomalies[i] = pos
	}
	return t
}

// valueTextN shows a value as compact JSON cut to n bytes.
func valueTextN(v any, n int) string {
	return cutText(valueText(v), n)
}

// cutText cuts s to at most n bytes at a rune boundary, marking the cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
