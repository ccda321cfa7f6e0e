package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/internal/histtest"
	"github.com/faultline/faultline/results/runfolder"
)

// pageDataOf decodes the JSON the page's script reads.
func pageDataOf(t *testing.T, page string) pageData {
	t.Helper()
	var d pageData
	if err := json.Unmarshal([]byte(scriptData(t, page)), &d); err != nil {
		t.Fatalf("the page's data is not JSON: %v", err)
	}
	return d
}

func TestReportViews(t *testing.T) {
	r := makeRun(t)
	page := readReport(t, r.Dir)
	tl := pageDataOf(t, page).Timeline
	if tl == nil {
		t.Fatal("no timeline data")
	}
	// Three operations: write (ok), read (ok) and cas (never completed).
	c := tl.Ops
	if len(c.D) != 3 || !slices.Equal(c.T, []int{0, 0, 2}) || c.D[2] != -1 || !slices.Equal(c.S, []int64{1000, 3000, 2000}) ||
		!slices.Equal(c.D[:2], []int64{2000, 1000}) || !slices.Equal(c.I, []int{0, 3, 2}) || !slices.Equal(c.C, []int{2, 1, 0}) {
		t.Errorf("ops = %+v", c)
	}
	// The three processes never overlap: they share one lane.
	if tl.End != 2_500_000 || !slices.Equal(tl.Lanes, []string{"p0 p1 p2"}) {
		t.Errorf("end %d µs, lanes %v", tl.End, tl.Lanes)
	}
	if tl.Keys[c.K[0]] != xss || tl.Fs[c.F[2]] != "cas" || tl.Nodes[c.N[1]] != "n2" || c.N[2] != -1 {
		t.Errorf("tables: keys %q fs %q nodes %q", tl.Keys, tl.Fs, tl.Nodes)
	}
	if c.V[0] != "2" || c.O[0] != float64(0) || c.O[1] != `"<script>alert(1)</script>"` {
		t.Errorf("values %q, outputs %v", c.V, c.O)
	}
	if len(tl.Windows) != 1 || tl.Windows[0].F != "partition" || tl.Windows[0].S != 2000 || tl.Windows[0].E != 2_500_000 || tl.Windows[0].Open {
		t.Errorf("windows = %+v", tl.Windows)
	}
	// The first anomaly names events 2, 4, 5 and 99 (not in the history):
	// the write, the read and the cas. The second names both halves of
	// the write.
	if len(tl.Anomalies) != 2 || !slices.Equal(tl.Anomalies[0], []int{0, 1, 2}) || !slices.Equal(tl.Anomalies[1], []int{0}) {
		t.Errorf("anomalies = %v", tl.Anomalies)
	}

	for _, s := range []string{
		`<p class="verdict-text" id="verdict-text">The history could not have happened`,
		`<a class="show-ops" href="#timeline" data-anomaly="0">show in the timeline</a>`,
		`data-anomaly="1"`,
		`<canvas id="timeline-canvas"`,
		`<svg id="latency-chart"`,
		`<svg id="throughput-chart"`,
		`<tr><th>seed</th><td><code>42</code></td></tr>`,
		`<tr><th>command</th><td><code>faultline run --target demo --workload register --seed 42</code></td></tr>`,
		`<pre class="log">hello from n1</pre>`,
		`<td class="n">0.002s</td><td class="n">2.500s</td>`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	for _, chart := range []string{"latency-chart", "throughput-chart"} {
		svg := page[strings.Index(page, `<svg id="`+chart+`"`):]
		svg = svg[:strings.Index(svg, "</svg>")]
		if n := strings.Count(svg, `<g class="fault">`); n != 1 {
			t.Errorf("%s shades %d fault windows, want 1", chart, n)
		}
	}
	// The odd node log name is linked, escaped, and its (empty) tail shown.
	if !strings.Contains(page, `nodes/n2/odd%20%3Cb%3E%20name.log`) {
		t.Error("the odd node log is not linked")
	}
}

func TestReportOfEmptyHistoryHasNoTimeline(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.HistoryPath(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	page := readReport(t, r.Dir)
	if strings.Contains(page, `id="timeline"`) || pageDataOf(t, page).Timeline != nil {
		t.Error("a run without history has a timeline")
	}
}

func TestPackLanesReusesRetiredProcesses(t *testing.T) {
	ops := []checkers.Operation{
		{Process: 0, Start: 0, End: 10, Complete: 1},
		{Process: 1, Start: 1, End: 5, Complete: 3},   // retires after this
		{Process: 2, Start: 6, End: 9, Complete: 5},   // takes p1's lane
		{Process: 3, Start: 7, End: -1, Complete: -1}, // never completes
		{Process: 4, Start: 20, End: 21, Complete: 9}, // p0 done: its lane
	}
	lane, labels := packLanes(ops)
	if lane[0] != 0 || lane[1] != 1 || lane[2] != 1 || lane[3] != 2 || lane[4] != 0 {
		t.Errorf("lanes = %v", lane)
	}
	if !slices.Equal(labels, []string{"p0 p4", "p1 p2", "p3"}) {
		t.Errorf("labels = %q", labels)
	}
}

func TestFaultWindows(t *testing.T) {
	n := func(t int64, f string) core.Event {
		return core.Event{Time: t, Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: f}}
	}
	h := core.History{
		n(10, "start-partition"), n(15, "start-kill"), n(20, "stop-partition"), n(25, "stop-pause"),
		n(30, "start-partition"), n(35, "heal"), n(40, "stop-kill"),
	}
	w, marks := faultWindows(h, 100)
	if len(w) != 3 {
		t.Fatalf("windows = %+v", w)
	}
	if w[0].F != "partition" || w[0].Start != 10 || w[0].End != 20 || w[0].Open ||
		w[1].F != "kill" || w[1].Start != 15 || w[1].End != 40 || w[1].Color == w[0].Color ||
		w[2].F != "partition" || w[2].End != 100 || !w[2].Open || w[2].Color != w[0].Color {
		t.Errorf("windows = %+v", w)
	}
	if len(marks) != 2 || marks[0].F != "stop-pause" || marks[1].F != "heal" {
		t.Errorf("marks = %+v", marks)
	}
}

func TestTailLogAndConfigFields(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 5000 {
		b.WriteString("line " + strings.Repeat("x", i%7) + "\n")
	}
	b.WriteString("last line")
	path := filepath.Join(dir, "node.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	nl, err := tailLog(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(nl.Tail, "\n")
	if !nl.Truncated || nl.Lines != maxLogLines || len(lines) != maxLogLines || lines[len(lines)-1] != "last line" {
		t.Errorf("tail: %d lines, truncated %v, last %q", nl.Lines, nl.Truncated, lines[len(lines)-1])
	}

	fields := topLevelFields([]byte(`{"target":"demo","nodes":3,"nemesis":["partition", "kill"],"x":{"a": 1}}`))
	want := []configField{{"target", "demo"}, {"nodes", "3"}, {"nemesis", `["partition","kill"]`}, {"x", `{"a":1}`}}
	if !slices.Equal(fields, want) {
		t.Errorf("fields = %+v", fields)
	}
}

// TestReportOf100kOperations checks the size and render time of the
// report of a 100,000-operation run.
func TestReportOf100kOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("large report skipped with -short")
	}
	h := histtest.Register(200_000)
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	writeHistory(t, r.HistoryPath(), h)
	if err := r.WriteResults(runfolder.NewResults(h, []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "test",
		Anomalies: []core.Anomaly{{Kind: "stale-read", Description: "test", Events: []int{100_001, 100_002}}}}})); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Write(r.Dir); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	st, err := os.Stat(r.Path(runfolder.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of %d events: %.1f MB in %v", len(h), float64(st.Size())/1e6, took.Round(time.Millisecond))
	if st.Size() >= 20_000_000 {
		t.Errorf("report is %d bytes, want under 20 MB", st.Size())
	}
}

func TestReportOfBadHistory(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	// The completion is recorded earlier than its invocation: the history
	// is bad from line 2, and the report says so and shows line 1.
	lines := `{"index":0,"time":5000000,"process":0,"type":"invoke","f":"read","key":"k","value":null}
{"index":1,"time":1000000,"process":0,"type":"ok","f":"read","key":"k","value":3}
`
	if err := os.WriteFile(r.HistoryPath(), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	page := readReport(t, r.Dir)
	if !strings.Contains(page, "history.jsonl line 2: time 1000000 is before the time 5000000 of line 1") {
		t.Error("the report of a bad history does not say which line is bad")
	}
	if tl := pageDataOf(t, page).Timeline; tl == nil {
		t.Error("the events before the bad line are not shown")
	}
}
