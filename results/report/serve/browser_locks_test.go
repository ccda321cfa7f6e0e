package serve_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/browsertest"
	"github.com/faultline/faultline/results/internal/histtest"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads/lock"
)

// lockSection is what the page says of one critical section.
type lockSection struct {
	Pos      int     `json:"pos"`
	Lock     string  `json:"lock"`
	Holder   string  `json:"holder"`
	Token    int64   `json:"token"`
	Start    float64 `json:"start"`
	End      float64 `json:"end"`
	Index    int     `json:"index"`
	Overlaps bool    `json:"overlaps"`
}

// pixelJS returns the colour, as "#rrggbb", of the lock canvas at client
// coordinates (x, y). It reads a copy, so that the page's canvas is never
// read back (which Chromium warns about when done often).
const pixelJS = `((x, y) => {
  const c = document.getElementById("locks-canvas"), b = c.getBoundingClientRect(), dpr = c.width / b.width;
  const copy = document.createElement("canvas");
  copy.width = 1;
  copy.height = 1;
  const cc = copy.getContext("2d", {willReadFrequently: true});
  cc.drawImage(c, Math.round((x - b.left) * dpr), Math.round((y - b.top) * dpr), 1, 1, 0, 0, 1, 1);
  const d = cc.getImageData(0, 0, 1, 1).data;
  return "#" + [d[0], d[1], d[2]].map(v => v.toString(16).padStart(2, "0")).join("");
})`

// rgb splits "#rrggbb".
func rgb(c string) (r, g, b int) {
	fmt.Sscanf(c, "#%02x%02x%02x", &r, &g, &b)
	return r, g, b
}

// reddish reports whether c is the overlap red (#cf222e), maybe seen
// through a fault window's veil.
func reddish(c string) bool {
	r, g, b := rgb(c)
	return r > 150 && g < 90 && b < 110
}

// bluish reports whether c is one of the holders' blues and teals.
func bluish(c string) bool {
	r, _, b := rgb(c)
	return b > 100 && b > r+40
}

func TestBrowserLockLanes(t *testing.T) {
	p := newPage(t)
	h := histtest.Lock()
	me := lock.CheckMutualExclusion(context.Background(), h)
	if len(me.Anomalies) != 1 || me.Anomalies[0].Kind != lock.OverlapKind {
		t.Fatalf("the hand-made run's mutual exclusion: %+v, want one overlap", me)
	}
	resource := core.CheckResult{Checker: "resource", Verdict: core.Valid, Summary: "not checked in this test"}
	dir := writeRun(t, runSpec{
		root: t.TempDir(), target: "redis-lock", workload: "lock", when: time.Now(), history: h,
		test:   map[string]any{"variant": "naive", "nemesis": []string{"client-pause"}},
		checks: []core.CheckResult{me, resource},
	})
	p.openReport(browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile)))

	// Three lanes, eight sections, p0's and p2's overlapping on l0 from
	// 450 ms to 520 ms, all drawn with the client-pause window.
	type lanes struct {
		Lanes, Sections, Overlapping, Spans int
		Drawn                               struct{ Sections, Spans, Windows int }
	}
	got := browsertest.Eval[lanes](p.Page, `({...window.faultlineReport.locks, drawn: window.faultlineReport.lockStats})`)
	if got.Lanes != 3 || got.Sections != 8 || got.Overlapping != 2 || got.Spans != 1 ||
		got.Drawn.Sections != 8 || got.Drawn.Spans != 1 || got.Drawn.Windows != 1 {
		t.Errorf("lock lanes: %+v, want 3 lanes, 8 sections (2 overlapping), 1 span, all drawn with 1 fault window", got)
	}
	secs := browsertest.Eval[[]lockSection](p.Page, `window.faultlineReport.sections()`)
	var red []string
	for _, s := range secs {
		if s.Overlaps {
			red = append(red, s.Lock+" "+s.Holder)
		}
	}
	if !slices.Equal(red, []string{"l0 p0", "l0 p2"}) {
		t.Errorf("overlapping sections %v, want l0's of p0 and p2", red)
	}
	p2 := slices.IndexFunc(secs, func(s lockSection) bool { return s.Holder == "p2" })
	p1 := slices.IndexFunc(secs, func(s lockSection) bool { return s.Holder == "p1" })

	// What is drawn: an overlapping section red (p0's, sampled at its
	// end, past the overlap and the fault window), another holder's in
	// blue, and the overlapping time marked along the lane's top.
	type box struct{ Left, Right, Top, Bottom float64 }
	colourAt := func(b box) string {
		return browsertest.Eval[string](p.Page, fmt.Sprintf(`%s(%f, %f)`, pixelJS, b.Right-4, b.Bottom-1.5))
	}
	p0 := slices.IndexFunc(secs, func(s lockSection) bool { return s.Holder == "p0" })
	if c := colourAt(browsertest.Eval[box](p.Page, fmt.Sprintf(`window.faultlineReport.lockBox(%d)`, p0))); !reddish(c) {
		t.Errorf("p0's overlapping section is drawn %s, want red", c)
	}
	if c := colourAt(browsertest.Eval[box](p.Page, fmt.Sprintf(`window.faultlineReport.lockBox(%d)`, p1))); !bluish(c) {
		t.Errorf("p1's section, which overlaps nothing, is drawn %s, want a blue", c)
	}
	sp := browsertest.Eval[box](p.Page, `window.faultlineReport.spanBox(0)`)
	if c := browsertest.Eval[string](p.Page, fmt.Sprintf(`%s(%f, %f)`, pixelJS, (sp.Left+sp.Right)/2, sp.Top+1)); c != "#a40e26" {
		t.Errorf("the overlapping time is marked %s, want #a40e26", c)
	}

	// Hovering a section names its holder and token.
	p.Do(chromedp.ScrollIntoView(chromedp.CSS(`#locks-canvas`)))
	pt := browsertest.Eval[struct{ X, Y float64 }](p.Page, fmt.Sprintf(`window.faultlineReport.lockPoint(%d)`, p2))
	p.Do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pt.X, pt.Y))
	p.WaitFor(`document.getElementById("locks-canvas").title !== ""`, 5*time.Second)
	if title := browsertest.Eval[string](p.Page, `document.getElementById("locks-canvas").title`); !strings.Contains(title, "l0: p2, token 2") ||
		!strings.Contains(title, "overlaps another holder's section") {
		t.Errorf("hover title of p2's section: %q", title)
	}
	p.Screenshot("locks")
	p.SaveScreenshot("locks-lanes", chromedp.Screenshot(chromedp.CSS(`#locks-wrap`)))

	// The overlap anomaly's link selects both sections and zooms to the
	// time they overlapped, with the lock lanes on screen; the timeline
	// shows the same time and highlights both cycles.
	sel := chromedp.CSS(`a.show-lock[data-lock-anomaly="0"]`)
	p.Do(chromedp.ScrollIntoView(sel), chromedp.Click(sel))
	p.WaitFor(`window.faultlineReport.lockSelected().length === 2`, 5*time.Second)
	type selection struct {
		Selected []lockSection
		Span     struct {
			Lock       string
			Start, End float64
		}
		View                                  struct{ Start, End float64 }
		TimelineView                          [2]string
		LocksView                             [2]string
		Highlighted                           []struct{ Index int }
		CanvasTop, CanvasBottom, WindowHeight float64
		Details                               string
	}
	st := browsertest.Eval[selection](p.Page, `(() => {
		const r = window.faultlineReport, c = document.getElementById("locks-canvas"), tc = document.getElementById("timeline-canvas");
		const b = c.getBoundingClientRect();
		return {selected: r.lockSelected(), span: r.lockSpan(), view: r.view(), highlighted: r.highlighted(),
			timelineView: [tc.dataset.viewStart, tc.dataset.viewEnd], locksView: [c.dataset.viewStart, c.dataset.viewEnd],
			canvasTop: b.top, canvasBottom: b.bottom, windowHeight: window.innerHeight,
			details: document.getElementById("lock-details").textContent};
	})()`)
	var holders []string
	for _, s := range st.Selected {
		holders = append(holders, s.Holder)
	}
	slices.Sort(holders)
	if !slices.Equal(holders, []string{"p0", "p2"}) {
		t.Errorf("the anomaly link selected %v, want p0's and p2's sections", holders)
	}
	if st.Span.Lock != "l0" || st.Span.Start != 450_000 || st.Span.End != 520_000 {
		t.Errorf("selected overlap %+v, want l0 from 450000 to 520000 µs", st.Span)
	}
	if st.View.Start > st.Span.Start || st.View.End < st.Span.End || st.View.End-st.View.Start > 600_000 {
		t.Errorf("view %+v after the link: want the overlap inside it, zoomed in from the whole run", st.View)
	}
	if st.TimelineView != st.LocksView {
		t.Errorf("timeline shows %v, lock lanes %v: not in step", st.TimelineView, st.LocksView)
	}
	if st.CanvasTop < 0 || st.CanvasBottom > st.WindowHeight {
		t.Errorf("lock lanes at %.0f–%.0f px, window %.0f px high: not on screen", st.CanvasTop, st.CanvasBottom, st.WindowHeight)
	}
	var idx []int
	for _, o := range st.Highlighted {
		idx = append(idx, o.Index)
	}
	slices.Sort(idx)
	if want := namedInvocations(h, me.Anomalies[0].Events); !slices.Equal(idx, want) {
		t.Errorf("timeline highlights invocations %v, want %v", idx, want)
	}
	if !strings.Contains(st.Details, "Both held l0 from 0.450000s to 0.520000s") {
		t.Errorf("lock details after the link: %q", st.Details)
	}
	if !strings.Contains(browsertest.Eval[string](p.Page, `document.getElementById("anomaly-0").className`), "active") {
		t.Error("the anomaly is not marked active")
	}
	p.Screenshot("lock-overlap")
	p.SaveScreenshot("lock-overlap-lanes", chromedp.Screenshot(chromedp.CSS(`#locks-wrap`)))

	// A click on a section shows it, with what it overlapped.
	pt = browsertest.Eval[struct{ X, Y float64 }](p.Page, fmt.Sprintf(`window.faultlineReport.lockPoint(%d)`, p0))
	p.Do(chromedp.MouseClickXY(pt.X, pt.Y))
	p.WaitFor(`window.faultlineReport.lockClicked() !== null`, 5*time.Second)
	if c := browsertest.Eval[lockSection](p.Page, `window.faultlineReport.lockClicked()`); c.Holder != "p0" {
		t.Errorf("clicked on p0's section, selected %+v", c)
	}
	if d := browsertest.Eval[string](p.Page, `document.getElementById("lock-details").textContent`); !strings.Contains(d, "p0 (process p0), token 1") ||
		!strings.Contains(d, "overlapsp2, token 2") {
		t.Errorf("details of p0's section: %q", d)
	}

	// Zooming from the lock lanes' toolbar moves the timeline too.
	before := browsertest.Eval[[2]string](p.Page, `[document.getElementById("timeline-canvas").dataset.viewStart, document.getElementById("timeline-canvas").dataset.viewEnd]`)
	p.Do(chromedp.Click(chromedp.CSS(`#lk-zoom-out`)))
	p.WaitFor(`document.getElementById("timeline-canvas").dataset.viewEnd !== `+fmt.Sprintf("%q", before[1]), 5*time.Second)
	views := browsertest.Eval[[2][2]string](p.Page, `[["timeline-canvas"], ["locks-canvas"]].map(([id]) => [document.getElementById(id).dataset.viewStart, document.getElementById(id).dataset.viewEnd])`)
	if views[0] != views[1] {
		t.Errorf("after zooming out from the lock lanes: timeline %v, lock lanes %v", views[0], views[1])
	}
	p.NoConsoleErrors()
}

func TestBrowserLargeLockReport(t *testing.T) {
	p := newPage(t)
	const cycles = 100_000
	h := histtest.LockCycles(cycles)
	me := lock.CheckMutualExclusion(context.Background(), h)
	if len(me.Anomalies) == 0 {
		t.Fatal("the generated lock run has no overlap")
	}
	secs, err := lock.Sections(h)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeRun(t, runSpec{
		root: t.TempDir(), target: "redis-lock", workload: "lock", when: time.Now(), history: h,
		test: map[string]any{"command": "generated"}, checks: []core.CheckResult{me},
	})
	took := p.openReport(browsertest.FileURL(filepath.Join(dir, runfolder.ReportFile)))
	type metrics struct {
		Sections, Overlapping int
		LockDrawMs, DrawMs    float64
		Drawn                 struct{ Sections, Rects, Spans int }
	}
	m := browsertest.Eval[metrics](p.Page, `({sections: window.faultlineReport.locks.sections, overlapping: window.faultlineReport.locks.overlapping,
		lockDrawMs: window.faultlineReport.lockDrawMs, drawMs: window.faultlineReport.drawMs, drawn: window.faultlineReport.lockStats})`)
	t.Logf("%d cycles, %d sections (%d overlapping): loaded and drawn in %v; the whole run's lock lanes drawn in %.1f ms (%d sections as %d rectangles), the timeline in %.1f ms",
		cycles, m.Sections, m.Overlapping, took.Round(time.Millisecond), m.LockDrawMs, m.Drawn.Sections, m.Drawn.Rects, m.DrawMs)
	if m.Sections != len(secs) || m.Drawn.Sections != len(secs) {
		t.Errorf("page holds %d sections and draws %d, want %d", m.Sections, m.Drawn.Sections, len(secs))
	}
	// More sections than pixels: those on one pixel are merged.
	if m.Drawn.Rects >= m.Drawn.Sections/2 {
		t.Errorf("%d sections drawn as %d rectangles: not merged", m.Drawn.Sections, m.Drawn.Rects)
	}
	p.SaveScreenshot("large-locks-lanes", chromedp.Screenshot(chromedp.CSS(`#locks-wrap`)))

	sel := chromedp.CSS(`a.show-lock[data-lock-anomaly="0"]`)
	p.Do(chromedp.ScrollIntoView(sel), chromedp.Click(sel))
	p.WaitFor(`window.faultlineReport.lockSelected().length === 2`, 10*time.Second)
	type state struct {
		Span struct{ Start, End float64 }
		View struct{ Start, End float64 }
	}
	st := browsertest.Eval[state](p.Page, `({span: window.faultlineReport.lockSpan(), view: window.faultlineReport.view()})`)
	if st.View.Start > st.Span.Start || st.View.End < st.Span.End || st.View.End-st.View.Start > 1e6 {
		t.Errorf("view %+v after the link to the overlap %+v: want it inside, zoomed in", st.View, st.Span)
	}
	p.SaveScreenshot("large-lock-overlap-lanes", chromedp.Screenshot(chromedp.CSS(`#locks-wrap`)))
	p.NoConsoleErrors()
}
