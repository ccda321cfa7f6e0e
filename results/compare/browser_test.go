package compare

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/browsertest"
)

// The browser test drives Debian's headless Chromium (package
// browsertest) as the report's browser tests do: under CI it runs and
// fails when Chromium is missing; elsewhere it skips, with a message,
// only when no chromium binary is found (testenv.NeedChromium).

// shown is what the browser lays out of the page.
type shown struct {
	Heads      []string  `json:"heads"`
	Groups     []string  `json:"groups"`
	Rows       int       `json:"rows"`
	Badges     []string  `json:"badges"`
	Rates      []float64 `json:"rates"`
	P99        []float64 `json:"p99"`
	P50        []float64 `json:"p50"`
	Overflow   []string  `json:"overflow"`
	TableWidth float64   `json:"tableWidth"`
	BodyWidth  float64   `json:"bodyWidth"`
	Pwned      bool      `json:"pwned"`
	Scripts    int       `json:"scripts"`
}

const shownJS = `(() => {
  const w = el => el.getBoundingClientRect().width;
  const texts = s => [...document.querySelectorAll(s)].map(e => e.textContent.trim());
  const overflow = [];
  for (const svg of document.querySelectorAll("svg.chart")) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.right > box.right + 0.5 || r.left < box.left - 0.5) overflow.push(t.textContent);
    }
  }
  return {
    heads: texts("#compare-table thead th.run"),
    groups: texts("#compare-table tr.group th"),
    rows: document.querySelectorAll("#compare-table tbody tr:not(.group)").length,
    badges: texts("#compare-table .badge"),
    rates: [...document.querySelectorAll("#throughput-chart rect.ok-rate")].map(w),
    p99: [...document.querySelectorAll("#latency-chart rect.p99")].map(w),
    p50: [...document.querySelectorAll("#latency-chart rect.p50")].map(w),
    overflow: overflow,
    tableWidth: w(document.getElementById("compare-table")),
    bodyWidth: document.body.clientWidth,
    pwned: window.pwned !== undefined,
    scripts: document.scripts.length,
  };
})()`

func TestBrowserComparePage(t *testing.T) {
	p := browsertest.NewPage(t, browsertest.Width, browsertest.Height)
	root := t.TempDir()
	c := sample(root)
	writeReports(t, c)
	page, err := Write(root, c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Open(browsertest.FileURL(page), `#latency-chart`)
	got := browsertest.Eval[shown](p, shownJS)
	if !slices.Equal(got.Heads, []string{"demo-kv safe #120261201T100000.000Z", "demo-kv unsafe #220261201T100100.000Z"}) {
		t.Errorf("column heads %q", got.Heads)
	}
	if !slices.Equal(got.Groups, []string{"run", "verdict", "throughput (load phase)", "latency of ok ops",
		"availability (ok share · ok/s)", "staleness of reads"}) {
		t.Errorf("groups %q", got.Groups)
	}
	// 8 run rows, verdict + 1 checker + operations, 2 throughput, 3 + 4
	// latency, 2 availability, 4 staleness.
	if got.Rows != 8+3+2+7+2+4 {
		t.Errorf("%d rows", got.Rows)
	}
	if !slices.Equal(got.Badges, []string{"valid", "invalid", "valid", "invalid"}) {
		t.Errorf("badges %q", got.Badges)
	}
	// The bars are drawn in proportion: 90/s is half of 180/s; each
	// latency group is scaled to its largest p99, so the safe run's p99
	// bars are the longest, and each p50 bar within its p99 bar.
	if len(got.Rates) != 2 || got.Rates[1] < 100 || math.Abs(got.Rates[0]/got.Rates[1]-0.5) > 0.01 {
		t.Errorf("throughput bars %v px, want the first half the second", got.Rates)
	}
	if len(got.P99) != 6 || len(got.P50) != 6 {
		t.Fatalf("latency bars: %d p99, %d p50", len(got.P99), len(got.P50))
	}
	for g := 0; g < 3; g++ {
		safe99, unsafe99 := got.P99[2*g], got.P99[2*g+1]
		if safe99 < 100 || unsafe99 >= safe99 {
			t.Errorf("group %d: p99 bars %.1f and %.1f px", g, safe99, unsafe99)
		}
	}
	for i := range got.P50 {
		if got.P50[i] <= 0 || got.P50[i] > got.P99[i] {
			t.Errorf("p50 bar %d is %.1f px, its p99 %.1f", i, got.P50[i], got.P99[i])
		}
	}
	if len(got.Overflow) > 0 {
		t.Errorf("chart texts outside their chart: %q", got.Overflow)
	}
	if got.TableWidth > got.BodyWidth {
		t.Errorf("the table (%.0f px) is wider than the page (%.0f px)", got.TableWidth, got.BodyWidth)
	}
	if got.Pwned || got.Scripts != 0 {
		t.Errorf("markup from a run ran: pwned %v, %d scripts", got.Pwned, got.Scripts)
	}
	p.Screenshot("compare")

	// Each column head links the run's report, relative to the page.
	sel := chromedp.CSS(`#compare-table thead th.run:nth-of-type(3) a.report`)
	browsertest.LoadAfter(p, chromedp.Click(sel))
	title := browsertest.Run(p, chromedp.Title())
	if title != "report of demo-kv unsafe #2" {
		t.Errorf("the link led to %q", title)
	}
	p.NoConsoleErrors()
}
