package serve_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/browsertest"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/report"
	"github.com/faultline/faultline/results/report/serve"
	"github.com/faultline/faultline/results/runfolder"
)

// The browser tests drive Debian's headless Chromium (package
// browsertest). Under CI they always run and fail when Chromium is
// missing; elsewhere they skip, with a message, only when no chromium
// binary is found (testenv.NeedChromium).

func TestMain(m *testing.M) {
	// The real-run test starts nodes: the local provider re-executes this
	// test binary as each node.
	faultline.NodeMain()
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// shared is one Chromium process for every browser test; each test opens
// its own tab.
var shared browsertest.Shared

// page is one browser tab showing reports.
type page struct {
	*browsertest.Page
	t testing.TB
}

// newPage opens a tab in the shared browser; it is closed when t ends.
func newPage(t testing.TB) *page {
	t.Helper()
	return &page{Page: shared.NewPage(t), t: t}
}

// openReport loads a report and waits until its timeline has drawn; it
// returns the time from navigation to drawn.
func (p *page) openReport(u string) time.Duration {
	p.t.Helper()
	start := time.Now()
	p.Open(u, `#verdict`)
	p.WaitFor(`!!(window.faultlineReport && window.faultlineReport.ready)`, 60*time.Second)
	return time.Since(start)
}

// highlightCheck is what the page says after an anomaly link is clicked.
type highlightCheck struct {
	OK          bool    `json:"ok"`
	Count       int     `json:"count"`
	Indices     []int   `json:"indices"`
	ViewStart   float64 `json:"viewStart"`
	ViewEnd     float64 `json:"viewEnd"`
	CanvasTop   float64 `json:"canvasTop"`
	CanvasBot   float64 `json:"canvasBottom"`
	WindowH     float64 `json:"windowHeight"`
	AllInView   bool    `json:"allInView"`
	CanvasShown bool    `json:"canvasShown"`
}

const highlightJS = `(() => {
  const r = window.faultlineReport, v = r.view(), h = r.highlighted();
  const c = document.getElementById("timeline-canvas").getBoundingClientRect();
  const allInView = h.length > 0 && h.every(o => o.start >= v.start && o.end <= v.end);
  const canvasShown = c.top >= 0 && c.bottom <= window.innerHeight;
  return {ok: allInView && canvasShown, count: h.length, indices: h.map(o => o.index),
    viewStart: v.start, viewEnd: v.end, canvasTop: c.top, canvasBottom: c.bottom, windowHeight: window.innerHeight,
    allInView: allInView, canvasShown: canvasShown};
})()`

// clickAnomaly clicks the n-th "show in the timeline" link and waits until
// the highlighted operations are inside the visible time range and the
// timeline is on screen.
func (p *page) clickAnomaly(n int) highlightCheck {
	p.t.Helper()
	sel := chromedp.CSS(fmt.Sprintf(`a.show-ops[data-anomaly="%d"]`, n))
	p.Do(chromedp.ScrollIntoView(sel), chromedp.Click(sel))
	if _, err := chromedp.Run(p.Context(), chromedp.Poll[bool](highlightJS+`.ok`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		hc, _ := chromedp.Run(p.Context(), chromedp.Evaluate[highlightCheck](highlightJS))
		p.t.Fatalf("after clicking the anomaly link: %+v (%v)", hc, err)
	}
	return browsertest.Eval[highlightCheck](p.Page, highlightJS)
}

// clickOp clicks on the k-th highlighted operation in the timeline and
// waits until the page has selected it.
func (p *page) clickOp(k int) {
	p.t.Helper()
	pt := browsertest.Eval[struct{ X, Y float64 }](p.Page, fmt.Sprintf(`window.faultlineReport.opPoint(window.faultlineReport.highlighted()[%d].op)`, k))
	p.Do(chromedp.MouseClickXY(pt.X, pt.Y))
	p.WaitFor(`window.faultlineReport.selected() >= 0`, 5*time.Second)
}

// namedInvocations returns the invocation indices of the operations whose
// events the anomaly names.
func namedInvocations(h core.History, events []int) []int {
	inv := map[int]int{} // event → its operation's invocation
	open := map[int]int{}
	for i, e := range h {
		if e.Process < 0 {
			continue
		}
		if e.Type == core.Invoke {
			open[e.Process] = i
			inv[i] = i
			continue
		}
		inv[i] = open[e.Process]
	}
	var out []int
	for _, e := range events {
		if i, ok := inv[e]; ok && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

func TestBrowserReportOfRealInvalidRun(t *testing.T) {
	p := newPage(t) // skips early when there is no browser
	tt := faultline.DefaultTest()
	tt.TimeLimit = 5 * time.Second
	tt.NemesisInterval = time.Second
	tt.Results = t.TempDir()
	tt.Command = "faultline run --time-limit 5s --nemesis-interval 1s"
	var res *faultline.Result
	for seed := int64(1); seed <= 3; seed++ {
		tt.Seed = seed
		start := time.Now()
		r, err := faultline.Run(context.Background(), tt)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		t.Logf("seed %d: %s in %v: %s", seed, r.Verdict, time.Since(start).Round(time.Millisecond), r.Dir)
		if r.Verdict == faultline.Invalid {
			res = r
			break
		}
	}
	if res == nil {
		t.Fatal("demo-kv unsafe under partitions was not found invalid in three short runs")
	}
	stored, err := runfolder.ReadResults(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, runfolder.HistoryFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	windows := 0
	for _, e := range h {
		if e.Process == core.NemesisProcess && strings.HasPrefix(e.F, "start-") {
			windows++
		}
	}
	if windows == 0 {
		t.Fatal("the run has no fault window")
	}

	took := p.openReport(browsertest.FileURL(filepath.Join(res.Dir, runfolder.ReportFile)))
	t.Logf("report of %d events loaded and drawn in %v", len(h), took.Round(time.Millisecond))

	// The fault windows: in the timeline's drawing, its table and both
	// charts.
	type shown struct{ Drawn, Rows, Latency, Throughput int }
	got := browsertest.Eval[shown](p.Page, `({
		drawn: window.faultlineReport.stats.windows,
		rows: document.querySelectorAll("#fault-windows tr").length - 1,
		latency: document.querySelectorAll("#latency-chart g.fault").length,
		throughput: document.querySelectorAll("#throughput-chart g.fault").length})`)
	if want := (shown{windows, windows, windows, windows}); got != want {
		t.Errorf("fault windows shown: %+v, want %d everywhere", got, windows)
	}
	p.Screenshot("report")

	// Each anomaly link highlights that anomaly's operations inside the
	// visible range, with the timeline on screen.
	anomalies := stored.Checkers[0].Anomalies
	if len(anomalies) == 0 {
		t.Fatal("an invalid run without anomalies")
	}
	for i, a := range anomalies[:min(len(anomalies), 2)] {
		hc := p.clickAnomaly(i)
		slices.Sort(hc.Indices)
		if want := namedInvocations(h, a.Events); !slices.Equal(hc.Indices, want) {
			t.Errorf("anomaly %d highlights invocations %v, want %v", i, hc.Indices, want)
		}
		t.Logf("anomaly %d (key %s): %d operations highlighted, view %.3fs–%.3fs", i, a.Key, hc.Count, hc.ViewStart/1e6, hc.ViewEnd/1e6)
	}
	p.Screenshot("anomaly")

	// A click on a highlighted operation shows it, as text.
	p.clickOp(0)
	details := browsertest.Eval[string](p.Page, `document.getElementById("op-details").textContent`)
	last := anomalies[min(len(anomalies), 2)-1]
	if !strings.Contains(details, "process") || !strings.Contains(details, last.Key) {
		t.Errorf("details of the clicked operation: %q", details)
	}
	p.NoConsoleErrors()
}

func TestBrowserHistoryValuesStayText(t *testing.T) {
	p := newPage(t)
	const (
		keyJS   = `<script>window.pwned=1</script>`
		valueJS = `</script><script>window.pwned=2</script>`
		faultJS = `<img src=x onerror="window.pwned=3">`
		errJS   = `<img src=y onerror="window.pwned=4">`
		logJS   = `<script>window.pwned=5</script>`
		descJS  = `<script>window.pwned=6</script>`
	)
	h := core.History{
		{Time: 1_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "write", Key: keyJS, Value: int64(1)}},
		{Time: 2_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "start-" + faultJS, Value: valueJS}},
		{Time: 3_000_000, Process: 0, Op: core.Op{Type: core.OK, F: "write", Key: keyJS, Value: int64(1), Node: "n1"}},
		{Time: 4_000_000, Process: 1, Op: core.Op{Type: core.Invoke, F: "read", Key: keyJS}},
		{Time: 5_000_000, Process: 1, Op: core.Op{Type: core.OK, F: "read", Key: keyJS, Value: valueJS, Node: "n2"}},
		{Time: 6_000_000, Process: 2, Op: core.Op{Type: core.Invoke, F: "write", Key: keyJS, Value: int64(2)}},
		{Time: 7_000_000, Process: 2, Op: core.Op{Type: core.Fail, F: "write", Key: keyJS, Value: int64(2), Error: errJS}},
		{Time: 8_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "stop-" + faultJS}},
	}
	for i := range h {
		h[i].Index = i
	}
	dir := writeRun(t, runSpec{
		root: t.TempDir(), target: "demo", workload: "register", when: time.Now(),
		test:    map[string]any{"command": "faultline run --key '" + keyJS + "'"},
		history: h,
		checks: []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "summary " + descJS,
			Anomalies: []core.Anomaly{{Kind: "stale-read", Key: keyJS, Description: "read " + valueJS + " " + descJS, Events: []int{2, 4, 6}}}}},
		nodeLog: "line one\n" + logJS + "\n",
	})
	p.openReport(browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile)))
	p.clickAnomaly(0)
	p.clickOp(1) // the read, whose value is a script

	type state struct {
		Pwned, Text, Details string
		Scripts, Imgs        int
	}
	got := browsertest.Eval[state](p.Page, `({
		pwned: typeof window.pwned,
		text: document.body.innerText,
		details: document.getElementById("op-details").textContent,
		scripts: document.scripts.length,
		imgs: document.images.length})`)
	if got.Pwned != "undefined" {
		t.Errorf("window.pwned is %s: a value from the history ran", got.Pwned)
	}
	if got.Scripts != 2 || got.Imgs != 0 {
		t.Errorf("page has %d scripts and %d images, want 2 and 0", got.Scripts, got.Imgs)
	}
	for _, s := range []string{keyJS, valueJS, faultJS, logJS, descJS} {
		if !strings.Contains(got.Text, s) {
			t.Errorf("page text lacks %q", s)
		}
	}
	if !strings.Contains(got.Details, keyJS) || !strings.Contains(got.Details, valueJS) {
		t.Errorf("details of the selected read lack its key and value as text: %q", got.Details)
	}
	p.clickOp(2) // the failed write, whose error is markup
	if d := browsertest.Eval[string](p.Page, `document.getElementById("op-details").textContent`); !strings.Contains(d, errJS) {
		t.Errorf("details of the failed write lack its error as text: %q", d)
	}
	if n := browsertest.Eval[int](p.Page, `document.querySelectorAll("#op-details img, #op-details script").length`); n != 0 {
		t.Errorf("the details hold %d elements made from values", n)
	}
	if pwned := browsertest.Eval[string](p.Page, `typeof window.pwned`); pwned != "undefined" {
		t.Errorf("window.pwned is %s after selecting operations", pwned)
	}
	p.Screenshot("escaped")
	p.NoConsoleErrors()
}

func TestBrowserServeListsAndOpensRuns(t *testing.T) {
	p := newPage(t)
	root := t.TempDir()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	valid := []core.CheckResult{{Checker: "linearizability", Verdict: core.Valid, Summary: "linearizable"}}
	invalid := []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "not linearizable",
		Anomalies: []core.Anomaly{{Kind: "stale-read", Key: "k0", Description: "read 0 after write 1", Events: []int{2, 4}}}}}
	writeRun(t, runSpec{root: root, target: "demo-kv", workload: "register", when: base, history: smallHistory(), checks: valid,
		test: map[string]any{"variant": "safe"}})
	newest := writeRun(t, runSpec{root: root, target: "demo-kv", workload: "register", when: base.Add(2 * time.Hour), history: smallHistory(), checks: invalid,
		test: map[string]any{"variant": "unsafe", "nemesis": []string{"partition"}}})
	writeRun(t, runSpec{root: root, target: "other", workload: "bank", when: base.Add(time.Hour), history: smallHistory(), noReport: true})
	if err := (&runfolder.Run{Dir: newest, Root: root}).UpdateLatest(); err != nil {
		t.Fatal(err)
	}

	srv, err := serve.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	type row struct{ Verdict, Test, Title string }
	const rowsJS = `[...document.querySelectorAll("#runs tr.run")].map(r => ({
		verdict: r.dataset.verdict, test: r.dataset.test, title: r.querySelector("a.report").textContent}))`
	p.Do(chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#runs`)))
	want := []row{
		{"invalid", "demo-kv-register", "demo-kv (unsafe) / register · partition"},
		{serve.NotChecked, "other-bank", "other / bank"},
		{"valid", "demo-kv-register", "demo-kv (safe) / register"},
	}
	if got := browsertest.Eval[[]row](p.Page, rowsJS); !slices.Equal(got, want) {
		t.Errorf("listing (newest first):\n got %+v\nwant %+v", got, want)
	}
	p.Screenshot("runs")

	// Filter by verdict with the select element: the form submits on
	// change (SetValue fires the change event).
	browsertest.LoadAfter(p.Page, chromedp.SetValue(chromedp.CSS(`#verdict`), "valid"))
	if q := browsertest.Eval[string](p.Page, `location.search`); q != "?verdict=valid&test=" {
		t.Errorf("the filter form loaded %q", q)
	}
	if got := browsertest.Eval[[]row](p.Page, rowsJS); len(got) != 1 || got[0].Verdict != "valid" {
		t.Errorf("filtered by verdict=valid: %+v", got)
	}
	p.Do(chromedp.Navigate(ts.URL+"/?test=other-bank"), chromedp.WaitVisible(chromedp.CSS(`#runs`)))
	if got := browsertest.Eval[[]row](p.Page, rowsJS); len(got) != 1 || got[0].Test != "other-bank" {
		t.Errorf("filtered by test=other-bank: %+v", got)
	}

	// Open the newest run's report from the listing.
	p.Do(chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#runs`)))
	browsertest.LoadAfter(p.Page, chromedp.Click(chromedp.CSS(`#runs tr.run a.report`)))
	p.WaitFor(`!!(window.faultlineReport && window.faultlineReport.ready)`, 10*time.Second)
	verdict := browsertest.Eval[string](p.Page, `document.getElementById("verdict").textContent`)
	path := browsertest.Eval[string](p.Page, `location.pathname`)
	if verdict != "invalid" || !strings.HasPrefix(path, "/runs/demo-kv-register/") || !strings.HasSuffix(path, "/report.html") {
		t.Errorf("opened %s showing %q, want the newest run's report", path, verdict)
	}
	p.clickAnomaly(0)
	p.Screenshot("opened")
	// The report's relative links work from the server.
	if status := browsertest.Eval[int](p.Page, `fetch("history.jsonl").then(r => r.status)`, chromedp.EvalAwaitPromise); status != 200 {
		t.Errorf("history.jsonl linked from the served report: status %d", status)
	}
	p.NoConsoleErrors()
}

func TestBrowserLargeReport(t *testing.T) {
	p := newPage(t)
	const ops = 100_000
	big := bigHistory(ops)
	dir := writeRun(t, runSpec{
		root: t.TempDir(), target: "demo-kv", workload: "register", when: time.Now(), history: big.history,
		test: map[string]any{"command": "generated"},
		checks: []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "generated",
			Anomalies: []core.Anomaly{{Kind: "stale-read", Key: "k1", Description: "generated anomaly", Events: big.anomaly}}}},
		noReport: true,
	})
	start := time.Now()
	if err := report.Write(dir); err != nil {
		t.Fatal(err)
	}
	renderGo := time.Since(start)
	st, err := os.Stat(filepath.Join(dir, runfolder.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d operations (%d events): report written in %v, %.1f MiB", ops, len(big.history), renderGo.Round(time.Millisecond), float64(st.Size())/(1<<20))
	if st.Size() >= 20_000_000 {
		t.Errorf("report of %d operations is %d bytes, want under 20 MB", ops, st.Size())
	}

	took := p.openReport(browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile)))
	type metrics struct {
		ReadyMs, DrawMs     float64
		Operations, Windows int
	}
	m := browsertest.Eval[metrics](p.Page, `({readyMs: window.faultlineReport.readyMs, drawMs: window.faultlineReport.drawMs,
		operations: window.faultlineReport.operations, windows: window.faultlineReport.stats.windows})`)
	t.Logf("browser: loaded and drawn in %v (script ready %.0f ms after navigation start; drawing the whole run takes %.1f ms)",
		took.Round(time.Millisecond), m.ReadyMs, m.DrawMs)
	if m.Operations != ops {
		t.Errorf("timeline holds %d operations, want %d", m.Operations, ops)
	}
	if m.Windows != big.windows {
		t.Errorf("timeline draws %d fault windows, want %d", m.Windows, big.windows)
	}
	// Zooming draws only the visible window (BenchmarkBrowserLargeReport
	// times it).
	draws := browsertest.Eval[[]float64](p.Page, `[[0, 60e6], [30e6, 31e6], [30.5e6, 30.51e6], [0, 1e6]].map(v => window.faultlineReport.zoom(v[0], v[1]))`)
	t.Logf("draw times (ms) of the whole run, 1 s, 10 ms and the first second: %.1f", draws)
	if len(draws) != 4 {
		t.Errorf("zoom answered %v, want four draw times", draws)
	}
	hc := p.clickAnomaly(0)
	slices.Sort(hc.Indices)
	if want := namedInvocations(big.history, big.anomaly); !slices.Equal(hc.Indices, want) {
		t.Errorf("anomaly highlights invocations %v, want %v", hc.Indices, want)
	}
	t.Logf("anomaly: view %.4fs–%.4fs", hc.ViewStart/1e6, hc.ViewEnd/1e6)
	p.Screenshot("large")
	p.NoConsoleErrors()
}

// BenchmarkBrowserLargeReport times the report of a 100,000-operation run:
// writing it (render-ms/op), loading it in headless Chromium until its
// timeline has drawn (load-ms/op), and drawing the whole run and a 10 ms
// window again (draw-all-ms/op, draw-10ms-ms/op). For example:
//
//	go test -run '^$' -bench BrowserLargeReport -benchtime 5x -count 3 ./results/serve | benchstat -
func BenchmarkBrowserLargeReport(b *testing.B) {
	p := newPage(b)
	big := bigHistory(100_000)
	dir := writeRun(b, runSpec{
		root: b.TempDir(), target: "demo-kv", workload: "register", when: time.Now(), history: big.history,
		test: map[string]any{"command": "generated"},
		checks: []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "generated",
			Anomalies: []core.Anomaly{{Kind: "stale-read", Key: "k1", Description: "generated anomaly", Events: big.anomaly}}}},
		noReport: true,
	})
	u := browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile))
	var render, load time.Duration
	var drawAll, drawWindow float64
	for b.Loop() {
		start := time.Now()
		if err := report.Write(dir); err != nil {
			b.Fatal(err)
		}
		render += time.Since(start)
		load += p.openReport(u)
		d := browsertest.Eval[[]float64](p.Page, `[[0, 60e6], [30.5e6, 30.51e6]].map(v => window.faultlineReport.zoom(v[0], v[1]))`)
		drawAll += d[0]
		drawWindow += d[1]
	}
	n := float64(b.N)
	b.ReportMetric(float64(render.Milliseconds())/n, "render-ms/op")
	b.ReportMetric(float64(load.Milliseconds())/n, "load-ms/op")
	b.ReportMetric(drawAll/n, "draw-all-ms/op")
	b.ReportMetric(drawWindow/n, "draw-10ms-ms/op")
	p.NoConsoleErrors()
}
