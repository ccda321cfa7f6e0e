package report

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
)

const xss = "<script>alert(1)</script>"

// writeHistory writes h to path as history.jsonl, as a run would.
func writeHistory(t testing.TB, path string, h core.History) {
	t.Helper()
	w, err := history.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// makeRun writes a complete run folder with an anomaly and hostile strings
// in the history, the results and a node log's name.
func makeRun(t *testing.T) *runfolder.Run {
	t.Helper()
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(runfolder.TestFile, map[string]any{
		"target": "demo", "workload": "register", "seed": 42,
		"command": "faultline run --target demo --workload register --seed 42",
	}); err != nil {
		t.Fatal(err)
	}
	h := core.History{
		{Index: 0, Time: 1_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "write", Key: xss, Value: int64(2)}},
		{Index: 1, Time: 2_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "start-partition", Value: map[string]any{"grudge": map[string][]string{"n1": {"n2", "n3"}}}}},
		{Index: 2, Time: 3_000_000, Process: 0, Op: core.Op{Type: core.OK, F: "write", Key: xss, Value: int64(2), Node: "n1"}},
		{Index: 3, Time: 4_000_000, Process: 1, Op: core.Op{Type: core.Invoke, F: "read", Key: xss}},
		{Index: 4, Time: 5_000_000, Process: 1, Op: core.Op{Type: core.OK, F: "read", Key: xss, Value: xss, Node: "n2"}},
		{Index: 5, Time: 6_000_000, Process: 2, Op: core.Op{Type: core.Invoke, F: "cas", Key: "k1", Value: [2]int64{1, 2}}},
		{Index: 6, Time: 2_500_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "stop-partition", Value: "healed"}},
	}
	writeHistory(t, r.HistoryPath(), h)
	res := runfolder.NewResults(h, []core.CheckResult{
		{Checker: "linearizability", Verdict: core.Invalid, Summary: "no linearization of key " + xss,
			Anomalies: []core.Anomaly{{Kind: "stale-read", Key: xss, Description: "read " + xss + " after a write of 2 completed", Events: []int{2, 4, 5, 99}},
				{Kind: "lost-write", Key: xss, Description: "both halves named", Events: []int{0, 2}}},
			Files: []string{"linearizability.html"}, Details: map[string]any{"note": xss}},
		{Checker: "stats", Verdict: core.Valid, Summary: "7 events"},
	})
	res.DurationNS = 2_600_000_000
	res.Errors = []string{"heal: retried " + xss}
	if err := r.WriteResults(res); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFile("linearizability.html", []byte("<html>view</html>")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n1", "n2"} {
		dir, err := r.NodeDir(n)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "stdout.log"), []byte("hello from "+n), 0o644)
	}
	os.WriteFile(filepath.Join(r.Dir, runfolder.NodesDir, "n2", "odd <b> name.log"), nil, 0o644)
	os.MkdirAll(filepath.Join(r.Dir, runfolder.NodesDir, "n1", "data", "deep"), 0o755)
	os.WriteFile(filepath.Join(r.Dir, runfolder.NodesDir, "n1", "data", "deep", "segment-0001"), nil, 0o644)
	os.WriteFile(filepath.Join(r.Dir, "perf.svg"), []byte("<svg/>"), 0o644)
	return r
}

func readReport(t *testing.T, dir string) string {
	t.Helper()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, runfolder.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReportContent(t *testing.T) {
	r := makeRun(t)
	page := readReport(t, r.Dir)

	mustContain := []string{
		`<div class="verdict invalid" id="verdict">invalid</div>`,
		"demo / register",
		"stale-read",
		"after a write of 2 completed",
		// The operations the anomaly names, as readable lines: each
		// invocation with its completion, the named events marked.
		`<span class="partner">#0         0.001s  p0      invoke write &lt;script&gt;alert(1)&lt;/script&gt; 2</span>
<span class="named">#2         0.003s  p0      ok     write &lt;script&gt;alert(1)&lt;/script&gt; 2  node=n1</span>

<span class="partner">#3         0.004s  p1      invoke read &lt;script&gt;alert(1)&lt;/script&gt; null</span>
<span class="named">#4         0.005s  p1      ok     read &lt;script&gt;alert(1)&lt;/script&gt; &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;  node=n2</span>

<span class="named">#5         0.006s  p2      invoke cas k1 [1,2]</span>
<span class="partner">        never completed (counts as info)</span>

<span class="named">#99 (not in the history)</span>
</pre>`,
		// Test configuration and the command to repeat it.
		`<pre id="command">faultline run --target demo --workload register --seed 42</pre>`,
		"&#34;seed&#34;: 42",
		// Nemesis events with times.
		"<td class=\"n\">0.002s</td><td>start-partition</td>",
		"<td class=\"n\">2.500s</td><td>stop-partition</td>",
		// Counts.
		`<tr><td>write</td><td class="n">1</td><td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">0</td></tr>`,
		`<tr><td>cas</td><td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">1</td><td class="n">1</td></tr>`,
		// Links.
		`<a href="history.jsonl">history.jsonl</a>`,
		`<a href="results.json">results.json</a>`,
		`<a href="test.json">test.json</a>`,
		`<a href="linearizability.html">linearizability.html</a>`,
		`<a href="nodes/n1/stdout.log">nodes/n1/stdout.log</a>`,
		`<a href="nodes/n2/stdout.log">nodes/n2/stdout.log</a>`,
		`<a href="nodes/n2/odd%20%3Cb%3E%20name.log">nodes/n2/odd &lt;b&gt; name.log</a>`,
		`<a href="nodes/n1/data">nodes/n1/data</a> <span class="muted">(folder)</span>`,
		`<a href="perf.svg">perf.svg</a>`,
		"heal: retried &lt;script&gt;",
		"&#34;note&#34;: &#34;&lt;script&gt;",
		"2.6s",
	}
	for _, s := range mustContain {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// An operation whose invocation and completion are both named is shown
	// once, both lines marked.
	if !strings.Contains(page, `<span class="named">#0         0.001s  p0      invoke write &lt;script&gt;alert(1)&lt;/script&gt; 2</span>
<span class="named">#2         0.003s`) {
		t.Error("an operation named by both halves is not shown once with both marked")
	}
	if n := strings.Count(page, "#0         0.001s"); n != 2 {
		t.Errorf("event 0 shown %d times, want 2 (once per anomaly)", n)
	}
	// The page has exactly two script elements, its data and its code;
	// values from the run folder appear escaped in the data and nowhere
	// else unescaped.
	if n := strings.Count(strings.ToLower(page), "<script"); n != 2 {
		t.Errorf("report has %d script elements, want 2", n)
	}
	data := scriptData(t, page)
	if strings.Contains(strings.ToLower(data), "<script") || strings.Contains(strings.ToLower(data), "</script") {
		t.Error("the embedded data holds an unescaped script tag")
	}
	if !strings.Contains(data, `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Error("the embedded data lacks the history's key, escaped")
	}
	rest := page[:strings.Index(page, `<script type="application/json"`)]
	if strings.Contains(strings.ToLower(rest), "<script") || strings.Contains(rest, "<b>") {
		t.Error("a value from the run folder appears unescaped in the report")
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 5 {
		t.Errorf("escaped script appears %d times, want it in key, value, summary, description and errors", n)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Error("report loads something from the network")
	}

	if strings.Contains(page, "segment-0001") || strings.Contains(page, `href="."`) {
		t.Error("the report lists files inside node data folders, or the run folder itself")
	}

	// Rendering again from the files alone gives the same page, also
	// through the latest link.
	if again := readReport(t, r.Dir); again != page {
		t.Error("rendering the same folder twice gives different pages")
	}
	if err := r.UpdateLatest(); err != nil {
		t.Fatal(err)
	}
	if again := readReport(t, filepath.Join(r.Root, runfolder.LatestLink)); again != page {
		t.Error("rendering through the latest link gives a different page")
	}
}

// scriptData returns the JSON text of the page's data element.
func scriptData(t *testing.T, page string) string {
	t.Helper()
	const open = `<script type="application/json" id="report-data">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatal("report has no data element")
	}
	rest := page[i+len(open):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		t.Fatal("report's data element is not closed")
	}
	return rest[:j]
}

func TestReportOfIncompleteRun(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	// A folder without a history is not a run folder: no page.
	err = Write(r.Dir)
	if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "has no history.jsonl") {
		t.Errorf("report of a folder without a history: %v, want bad input", err)
	}
	if _, err := os.Stat(r.Path(runfolder.ReportFile)); err == nil {
		t.Error("a folder without a history got a report")
	}

	// A run killed before its first event has an empty history.
	os.WriteFile(r.HistoryPath(), nil, 0o644)
	page := readReport(t, r.Dir)
	for _, s := range []string{`<div class="verdict unknown" id="verdict">not checked</div>`, "results.json is missing"} {
		if !strings.Contains(page, s) {
			t.Errorf("report of an empty run lacks %q", s)
		}
	}

	// A torn history and broken results are reported, not fatal.
	os.WriteFile(r.HistoryPath(), []byte(goodLines+`{"index":3,"ti`), 0o644)
	os.WriteFile(filepath.Join(r.Dir, runfolder.ResultsFile), []byte(`{"verdict":`), 0o644)
	page = readReport(t, r.Dir)
	for _, s := range []string{"line 4, 14 bytes) is torn", "results.json could not be read", "invalid JSON", "start-partition"} {
		if !strings.Contains(page, s) {
			t.Errorf("report of a broken run lacks %q", s)
		}
	}

	if err := Write(filepath.Join(r.Dir, "missing")); err == nil {
		t.Error("Write of a missing folder succeeded")
	}
}

var runTime = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("CET", 3600))

// goodLines is the example history of the format's documentation.
const goodLines = `{"index":0,"time":1200345,"process":3,"type":"invoke","f":"cas","key":"k2","value":[1,4]}
{"index":1,"time":1900871,"process":3,"type":"fail","f":"cas","key":"k2","value":[1,4],"node":"n2"}
{"index":2,"time":2000000,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{"n1":["n2","n3"]}}}
`
