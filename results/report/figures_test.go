package report

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

// pageSection returns the page from the element with id to the next h2.
func pageSection(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `<h2 id="`+id+`">`)
	if i < 0 {
		t.Fatalf("the page has no section %q", id)
	}
	s := page[i+1:]
	if j := strings.Index(s, "<h2 "); j >= 0 {
		s = s[:j]
	}
	return s
}

// TestReportComputesFiguresOfOlderRuns: makeRun's results.json has no
// figures, so the report measures history.jsonl: a write before the
// partition (quiet), a read on n2 (majority side: the grudge cuts n1 from
// n2 and n3) and a cas that never completed (node unknown) during it,
// over a load phase that runs to the last event at 2.5s.
func TestReportComputesFiguresOfOlderRuns(t *testing.T) {
	r := makeRun(t)
	page := readReport(t, r.Dir)
	av := pageSection(t, page, "availability")
	for _, s := range []string{
		"Computed from history.jsonl, as results.json has no figures",
		"over the whole load phase (2.5s)",
		`<tr><td>all</td><td></td><td class="n">2.5s</td><td class="n">3</td><td class="n">66.7%</td><td class="n">0.0%</td><td class="n">33.3%</td><td class="n">0.8</td><td class="n">1ms</td><td class="n">2ms</td><td class="n">2ms</td></tr>`,
		`<tr><td>quiet</td><td></td><td class="n">2ms</td><td class="n">1</td><td class="n">100.0%</td><td class="n">0.0%</td><td class="n">0.0%</td><td class="n">500.0</td><td class="n">2ms</td><td class="n">2ms</td><td class="n">2ms</td></tr>`,
		`<tr><td>partition</td><td></td><td class="n">2.498s</td><td class="n">2</td><td class="n">50.0%</td><td class="n">0.0%</td><td class="n">50.0%</td><td class="n">0.4</td><td class="n">1ms</td><td class="n">1ms</td><td class="n">1ms</td></tr>`,
		`<tr class="side"><td>partition</td><td>majority side</td><td class="n">2.498s</td><td class="n">1</td><td class="n">100.0%</td><td class="n">0.0%</td><td class="n">0.0%</td><td class="n">0.4</td><td class="n">1ms</td><td class="n">1ms</td><td class="n">1ms</td></tr>`,
		`<tr class="side"><td>partition</td><td>node unknown</td><td class="n">2.498s</td><td class="n">1</td><td class="n">0.0%</td><td class="n">0.0%</td><td class="n">100.0%</td><td class="n">0.0</td><td class="n">—</td><td class="n">—</td><td class="n">—</td></tr>`,
		`<tr><td>cas</td><td class="n">1</td><td class="n">0.0%</td><td class="n">0.0%</td><td class="n">100.0%</td><td class="n">0.0</td><td class="n">—</td><td class="n">—</td><td class="n">—</td></tr>`,
	} {
		if !strings.Contains(av, s) {
			t.Errorf("availability section lacks %q", s)
		}
	}
	if strings.Count(av, "<tr") != 1+5+1+3 {
		t.Errorf("availability section has %d rows, want 10 (two headers, five periods, three functions)", strings.Count(av, "<tr"))
	}
	// The one read returned a string, no register value: looked at, not
	// stale.
	st := pageSection(t, page, "staleness")
	if !strings.Contains(st, `<tr><td class="n">1</td><td class="n">0 (0.0%)</td><td class="n">—</td>`) || !strings.Contains(st, "No stale read.") ||
		strings.Contains(st, "<svg") {
		t.Errorf("staleness section: %s", st)
	}
	if !strings.Contains(page, `<a href="#availability">Availability</a><a href="#staleness">Staleness</a>`) {
		t.Error("the table of contents does not link the figures")
	}
}

// TestReportShowsFiguresFromResults: figures in results.json are shown as
// they are, escaped, with the staleness plot (one point per sample, the
// fault window shaded) and histogram (one bar per non-empty bucket).
func TestReportShowsFiguresFromResults(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(runfolder.TestFile, map[string]any{"target": "demo", "workload": "register"}); err != nil {
		t.Fatal(err)
	}
	h := core.History{
		{Index: 0, Time: 1_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "start-" + xss}},
		{Index: 1, Time: 2_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "read", Key: "k"}},
		{Index: 2, Time: 3_000_000, Process: 0, Op: core.Op{Type: core.OK, F: "read", Key: "k", Node: "n1"}},
		{Index: 3, Time: 4_000_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "stop-" + xss}},
	}
	writeHistory(t, r.HistoryPath(), h)
	res := runfolder.NewResults(h, []core.CheckResult{{Checker: "stats", Verdict: core.Valid, Summary: "ok"}})
	res.Figures = &figures.Figures{
		LoadEndNS: 3_500_000_000,
		Availability: []figures.Period{
			{Period: "all", DurationNS: 3_500_000_000, Ops: 1600, OK: 1500, Fail: 60, Info: 40, OKShare: 0.9375, FailShare: 0.0375, InfoShare: 0.025,
				OKPerSec: 428.5714, P50NS: 1_234_000, P99NS: 45_600_000, MaxNS: 1_500_000_000},
			{Period: xss, DurationNS: 1_000_000_000, Ops: 0},
		},
		Staleness: &figures.Staleness{Reads: 800, Stale: 3, P50NS: 3_000_000, P90NS: 70_000_000, P99NS: 70_000_000, MaxNS: 70_000_000, MaxBehind: 4,
			Buckets: []figures.Bucket{{UpToNS: 1_000_000, Count: 0}, {UpToNS: 2_000_000, Count: 0}, {UpToNS: 4_000_000, Count: 2}, {UpToNS: 8_000_000, Count: 0}, {UpToNS: 16_000_000, Count: 0}, {UpToNS: 32_000_000, Count: 0}, {UpToNS: 64_000_000, Count: 0}, {UpToNS: 128_000_000, Count: 1}},
			Samples: []figures.StaleRead{
				{Key: xss, Process: 1, TimeNS: 500_000_000, StaleNS: 3_000_000, Behind: 1, Node: xss},
				{Key: "k", Process: 2, TimeNS: 1_500_000_000, StaleNS: 3_500_000, Behind: 2},
				{Key: "k", Process: 3, TimeNS: 2_500_000_000, StaleNS: 70_000_000, Behind: 4, Node: "n3"},
			}},
	}
	if err := r.WriteResults(res); err != nil {
		t.Fatal(err)
	}
	page := readReport(t, r.Dir)
	av := pageSection(t, page, "availability")
	for _, s := range []string{
		"From results.json.",
		"over the whole load phase (3.5s)",
		`<tr><td>all</td><td></td><td class="n">3.5s</td><td class="n">1600</td><td class="n">93.8%</td><td class="n">3.8%</td><td class="n">2.5%</td><td class="n">428.6</td><td class="n">1.23ms</td><td class="n">45.6ms</td><td class="n">1.5s</td></tr>`,
		`<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td></td><td class="n">1s</td><td class="n">0</td><td class="n">—</td><td class="n">—</td><td class="n">—</td><td class="n">0.0</td><td class="n">—</td>`,
	} {
		if !strings.Contains(av, s) {
			t.Errorf("availability section lacks %q", s)
		}
	}
	st := pageSection(t, page, "staleness")
	for _, s := range []string{
		`<tr><td class="n">800</td><td class="n">3 (0.4%)</td><td class="n">3ms</td><td class="n">70ms</td><td class="n">70ms</td><td class="n">70ms</td><td class="n">4</td></tr>`,
		"3 stale reads drawn.",
		`<svg id="staleness-chart"`,
		`<title>&lt;script&gt;alert(1)&lt;/script&gt; · p1 · read at 0.500s · stale by 3ms · 1 write behind · node &lt;script&gt;alert(1)&lt;/script&gt;</title>`,
		`<title>k · p3 · read at 2.500s · stale by 70ms · 4 writes behind · node n3</title>`,
		`<svg id="staleness-histogram"`,
		`<title>2 stale reads stale by more than 2ms, up to 4ms</title>`,
		`>≤128ms</text>`,
	} {
		if !strings.Contains(st, s) {
			t.Errorf("staleness section lacks %q", s)
		}
	}
	chart := st[strings.Index(st, `<svg id="staleness-chart"`):]
	chart = chart[:strings.Index(chart, "</svg>")]
	if n := strings.Count(chart, "<circle"); n != 3 {
		t.Errorf("the staleness chart draws %d reads, want 3", n)
	}
	if n := strings.Count(chart, `<g class="fault">`); n != 1 {
		t.Errorf("the staleness chart shades %d fault windows, want 1", n)
	}
	hist := st[strings.Index(st, `<svg id="staleness-histogram"`):]
	if n := strings.Count(hist[:strings.Index(hist, "</svg>")], `<g class="bucket">`); n != 8 {
		t.Errorf("the histogram has %d buckets, want 8", n)
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("a value from the run folder is not escaped")
	}
}

// TestReportOfANonRegisterRunHasNoStaleness: a run of another workload
// gets the availability table but no staleness section.
func TestReportOfANonRegisterRunHasNoStaleness(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "redis-lock", "lock", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(runfolder.TestFile, map[string]any{"target": "redis-lock", "workload": "lock"}); err != nil {
		t.Fatal(err)
	}
	writeHistory(t, r.HistoryPath(), []core.Event{
		{Index: 0, Time: 1_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "read", Key: "k"}},
		{Index: 1, Time: 2_000_000, Process: 0, Op: core.Op{Type: core.OK, F: "read", Key: "k", Node: "n1"}},
	})
	page := readReport(t, r.Dir)
	if !strings.Contains(pageSection(t, page, "availability"), `<tr><td>read</td><td class="n">1</td>`) {
		t.Error("no availability figures")
	}
	if strings.Contains(page, `id="staleness"`) || strings.Contains(page, `href="#staleness"`) {
		t.Error("a lock run has a staleness section")
	}
}
