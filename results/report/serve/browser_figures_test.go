package serve_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/browsertest"
	"github.com/faultline/faultline/results/report"
	"github.com/faultline/faultline/results/runfolder"
)

// partitionedRegister is a register history of six clients on three
// nodes over 3 s: from 1 s to 2 s n3 is cut off from n1 and n2, its
// writes fail and its reads return what it held when the cut began, so
// they grow staler; after 3 s come two final reads.
func partitionedRegister() (core.History, int64) {
	const ms = int64(time.Millisecond)
	type timed struct {
		at  int64
		seq int
		e   core.Event
	}
	var evs []timed
	add := func(at int64, p int, op core.Op) {
		evs = append(evs, timed{at, len(evs), core.Event{Time: at, Process: p, Op: op}})
	}
	grudge := map[string]any{"shape": "isolate", "grudge": map[string][]string{"n1": {"n3"}, "n2": {"n3"}, "n3": {"n1", "n2"}}}
	add(1000*ms, core.NemesisProcess, core.Op{Type: core.Info, F: "start-partition", Value: grudge})
	add(2000*ms, core.NemesisProcess, core.Op{Type: core.Info, F: "stop-partition", Value: grudge})
	current := map[string]int64{}
	var frozen map[string]int64
	next := int64(1)
	for i := 0; ; i++ {
		at := 10*ms + int64(i)*5*ms
		if at > 3000*ms {
			break
		}
		p := i % 6
		node := "n" + strconv.Itoa(1+p%3)
		key := "k" + strconv.Itoa(i%2)
		cut := at >= 1000*ms && at < 2000*ms
		if cut && frozen == nil {
			frozen = map[string]int64{"k0": current["k0"], "k1": current["k1"]}
		}
		lat := ms + int64(i%7)*300_000
		minority := cut && node == "n3"
		if minority {
			lat = 20 * ms
		}
		if i%4 == 0 {
			v := next
			next++
			add(at, p, core.Op{Type: core.Invoke, F: "write", Key: key, Value: v})
			if minority {
				add(at+lat, p, core.Op{Type: core.Fail, F: "write", Key: key, Value: v, Node: node, Error: "no quorum"})
				continue
			}
			current[key] = v
			add(at+lat, p, core.Op{Type: core.OK, F: "write", Key: key, Value: v, Node: node})
			continue
		}
		var got any = current[key]
		if minority {
			got = frozen[key]
		}
		if got == int64(0) {
			got = nil
		}
		add(at, p, core.Op{Type: core.Invoke, F: "read", Key: key})
		add(at+lat, p, core.Op{Type: core.OK, F: "read", Key: key, Value: got, Node: node})
	}
	loadEnd := 3000 * ms
	for i, key := range []string{"k0", "k1"} {
		at := loadEnd + 50*ms + int64(i)*2*ms
		add(at, 6+i, core.Op{Type: core.Invoke, F: "read", Key: key})
		add(at+ms, 6+i, core.Op{Type: core.OK, F: "read", Key: key, Value: current[key], Node: "n1"})
	}
	slices.SortStableFunc(evs, func(a, b timed) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.seq - b.seq
	})
	h := make(core.History, len(evs))
	for i, e := range evs {
		h[i] = e.e
		h[i].Index = i
	}
	return h, loadEnd
}

func TestBrowserFiguresSections(t *testing.T) {
	p := newPage(t)
	h, loadEnd := partitionedRegister()
	dir := writeRun(t, runSpec{
		root: t.TempDir(), target: "demo-kv", workload: "register", when: time.Now(), history: h,
		checks:   []core.CheckResult{{Checker: "stats", Verdict: core.Valid, Summary: "ok"}},
		noReport: true,
	})
	res, err := runfolder.ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := figures.Options{LoadEnd: loadEnd}
	fig := figures.Compute(h, opts)
	fig.Staleness = figures.RegisterStaleness(h, opts)
	res.Figures = fig
	if err := (&runfolder.Run{Dir: dir}).WriteResults(res); err != nil {
		t.Fatal(err)
	}
	if err := report.Write(dir); err != nil {
		t.Fatal(err)
	}
	st := fig.Staleness
	if st.Stale == 0 || len(fig.Availability) != 5 {
		t.Fatalf("the history is not what the test needs: %d stale reads, %d availability rows", st.Stale, len(fig.Availability))
	}

	p.openReport(browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile)))
	p.Do(chromedp.ScrollIntoView(chromedp.CSS(`#availability`)))

	// Every part is laid out with a size, and says what the figures say.
	type box struct {
		Shown         bool
		Width, Height float64
	}
	type view struct {
		Table, Functions, Stale, Chart, Histogram box
		Rows                                      []string
		StaleRow                                  string
		Points, Faults, Bars                      int
		Heading                                   string
	}
	got := browsertest.Eval[view](p.Page, `(() => {
		const box = sel => { const e = document.querySelector(sel); if (!e) return {shown: false, width: 0, height: 0};
			const r = e.getBoundingClientRect(), s = getComputedStyle(e);
			return {shown: s.display !== "none" && s.visibility !== "hidden" && r.width > 0 && r.height > 0, width: r.width, height: r.height}; };
		return {
			table: box("#availability-table"), functions: box("#functions-table"), stale: box("#staleness-table"),
			chart: box("#staleness-chart"), histogram: box("#staleness-histogram"),
			rows: [...document.querySelectorAll("#availability-table tr")].slice(1).map(r => r.innerText.replace(/\s+/g, " ").trim()),
			staleRow: document.querySelector("#staleness-table tr:nth-child(2)").innerText.replace(/\s+/g, " ").trim(),
			points: document.querySelectorAll("#staleness-chart g.stale-reads circle").length,
			faults: document.querySelectorAll("#staleness-chart g.fault").length,
			bars: document.querySelectorAll("#staleness-histogram g.bucket rect").length,
			heading: document.querySelector("#availability").innerText};
	})()`)
	for name, b := range map[string]box{"availability table": got.Table, "functions table": got.Functions, "staleness table": got.Stale,
		"staleness chart": got.Chart, "histogram": got.Histogram} {
		if !b.Shown || b.Width < 300 || b.Height < 40 {
			t.Errorf("the %s is not shown: %+v", name, b)
		}
	}
	if got.Heading != "Availability and latency by fault window" {
		t.Errorf("heading %q", got.Heading)
	}
	if len(got.Rows) != 5 {
		t.Fatalf("availability rows %q", got.Rows)
	}
	for i, a := range fig.Availability {
		// Period, side, duration, then the operations.
		prefix := a.Period
		if a.Side != "" {
			prefix += " " + map[string]string{figures.Majority: "majority side", figures.Minority: "minority side"}[a.Side]
		}
		want := prefix + " " + time.Duration(a.DurationNS).Round(time.Millisecond).String() + " " + strconv.Itoa(a.Ops) + " " +
			strconv.FormatFloat(a.OKShare*100, 'f', 1, 64) + "%"
		if !strings.HasPrefix(got.Rows[i], want) {
			t.Errorf("row %d is %q, want it to begin %q", i, got.Rows[i], want)
		}
	}
	if want := strconv.Itoa(st.Reads) + " " + strconv.Itoa(st.Stale) + " ("; !strings.HasPrefix(got.StaleRow, want) ||
		!strings.HasSuffix(got.StaleRow, " "+strconv.Itoa(st.MaxBehind)) {
		t.Errorf("staleness row %q, want %s… %d", got.StaleRow, want, st.MaxBehind)
	}
	nonEmpty := 0
	for _, b := range st.Buckets {
		if b.Count > 0 {
			nonEmpty++
		}
	}
	if got.Points != len(st.Samples) || got.Faults != 1 || got.Bars != nonEmpty {
		t.Errorf("chart draws %d points (want %d), %d fault windows (want 1); histogram %d bars (want %d)",
			got.Points, len(st.Samples), got.Faults, got.Bars, nonEmpty)
	}
	// The stale reads lie inside the shaded window.
	inside := browsertest.Eval[bool](p.Page, `(() => {
		const f = document.querySelector("#staleness-chart g.fault rect").getBoundingClientRect();
		return [...document.querySelectorAll("#staleness-chart g.stale-reads circle")].every(c => {
			const r = c.getBoundingClientRect(), x = (r.left + r.right) / 2;
			return x >= f.left - 1 && x <= f.right + 1; });
	})()`)
	if !inside {
		t.Error("a stale read is drawn outside the partition's window")
	}
	p.SaveScreenshot("figures", chromedp.Screenshot(chromedp.CSS(`#figures`)))
	p.NoConsoleErrors()
}
