package faultline

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/checkers/usl"
	"github.com/faultline/faultline/internal/browsertest"
)

// peakSweep is a finished sweep of seven levels whose ok throughput
// follows λ = 1000, σ = 0.05, κ = 0.0005 (a peak near 44 clients) within
// ±2%, with latencies that grow with the clients, fitted.
func peakSweep(t *testing.T) *SweepResult {
	t.Helper()
	tt := DefaultTest()
	tt.Variant, tt.Seed, tt.Command = "safe", 42, "faultline sweep --variant safe --concurrency 1,2,4,8,16,32,64"
	r := &SweepResult{Verdict: Valid, Dir: t.TempDir(), Test: tt, Complete: true, Start: time.Now(), End: time.Now()}
	truth := usl.Model{Lambda: 1000, Sigma: 0.05, Kappa: 0.0005}
	noise := []float64{0.02, -0.015, 0.01, -0.02, 0.015, -0.01, 0.02}
	for i, n := range []int{1, 2, 4, 8, 16, 32, 64} {
		r.Concurrency = append(r.Concurrency, n)
		x := truth.Predict(float64(n)) * (1 + noise[i])
		// Latency by Little's law: n clients at x operations per second.
		p50 := int64(float64(n) / x * 1e9)
		r.Levels = append(r.Levels, SweepLevel{Concurrency: n, Verdict: Valid, RunDir: "levels/demo-kv-register/l" + string(rune('0'+i)),
			FiguresFrom: FiguresFromResults, Figures: &figures.Period{Period: figures.All, DurationNS: 20e9,
				OK: int(x * 20), Ops: int(x * 20), OKShare: 1, OKPerSec: x, P50NS: p50, P99NS: 3 * p50, MaxNS: 5 * p50}})
	}
	r.refit()
	if r.Fit == nil || r.Fit.Shape != usl.Peak {
		t.Fatalf("fit %+v (%s)", r.Fit, r.FitError)
	}
	return r
}

// TestBrowserSweepPage opens a sweep's page in headless Chromium: both
// charts draw every measured level as a visible point inside the plot,
// the fitted curve runs through the throughput points and peaks at the
// N* line, and p99 lies above p50 at every level; the console stays
// quiet. It saves a screenshot.
func TestBrowserSweepPage(t *testing.T) {
	p := browsertest.NewPage(t, 1100, 900)
	r := peakSweep(t)
	if err := r.write(); err != nil {
		t.Fatal(err)
	}
	p.Open(browsertest.FileURL(filepath.Join(r.Dir, SweepPage)), `#latency-chart`)
	type box struct{ X, Y, W, H float64 }
	type drawn struct {
		Plot     box
		Measured []box
		P50, P99 []box
		Curve    struct{ Length, MinY, MinYX, Width float64 }
		PeakX    float64
		Gaps     []float64
		Ceiling  bool
	}
	const js = `(() => {
  const b = e => { const r = e.getBoundingClientRect(); return {x: r.x + r.width/2, y: r.y + r.height/2, w: r.width, h: r.height}; };
  const tp = document.getElementById("throughput-chart"), lat = document.getElementById("latency-chart");
  const plot = tp.querySelector("rect").getBoundingClientRect();
  const curve = tp.querySelector("path.fit-curve");
  const m = curve.getScreenCTM(), len = curve.getTotalLength();
  const pts = [];
  for (let i = 0; i <= 400; i++) { const p = curve.getPointAtLength(len * i / 400).matrixTransform(m); pts.push(p); }
  let top = pts[0];
  for (const p of pts) if (p.y < top.y) top = p;
  const xs = pts.map(p => p.x);
  const measured = [...tp.querySelectorAll("circle.measured")].map(b);
  const gaps = measured.map(c => Math.min(...pts.map(p => Math.hypot(p.x - c.x, p.y - c.y))));
  const peak = tp.querySelector("line.peak");
  return {
    plot: {x: plot.x, y: plot.y, w: plot.width, h: plot.height},
    measured: measured,
    p50: [...lat.querySelectorAll("circle.p50")].map(b),
    p99: [...lat.querySelectorAll("circle.p99")].map(b),
    curve: {length: len, minY: top.y, minYX: top.x, width: Math.max(...xs) - Math.min(...xs)},
    peakX: peak ? b(peak).x : -1,
    gaps: gaps,
    ceiling: !!tp.querySelector("line.ceiling"),
  };
})()`
	d := browsertest.Eval[drawn](p, js)
	inside := func(c box) bool {
		return c.W > 3 && c.H > 3 && c.X >= d.Plot.X && c.X <= d.Plot.X+d.Plot.W && c.Y >= d.Plot.Y-1 && c.Y <= d.Plot.Y+d.Plot.H+1
	}
	if len(d.Measured) != 7 || len(d.P50) != 7 || len(d.P99) != 7 {
		t.Fatalf("points drawn: %d measured, %d p50, %d p99; want 7 each", len(d.Measured), len(d.P50), len(d.P99))
	}
	for i := range d.Measured {
		if !inside(d.Measured[i]) {
			t.Errorf("measured point %d at %+v is not visible inside the plot %+v", i, d.Measured[i], d.Plot)
		}
		if i > 0 && d.Measured[i].X <= d.Measured[i-1].X {
			t.Errorf("measured point %d is not right of the one before", i)
		}
		// Within ±2% of the curve, a point sits on it to a few pixels.
		if d.Gaps[i] > 8 {
			t.Errorf("measured point %d is %.1f px from the fitted curve", i, d.Gaps[i])
		}
		if d.P99[i].Y >= d.P50[i].Y || math.Abs(d.P99[i].X-d.P50[i].X) > 0.5 {
			t.Errorf("level %d: p99 at %+v is not above p50 at %+v", i, d.P99[i], d.P50[i])
		}
	}
	if d.Curve.Length < 300 || d.Curve.Width < 0.9*d.Plot.W {
		t.Errorf("fitted curve %+v does not span the plot %+v", d.Curve, d.Plot)
	}
	if d.PeakX < 0 || math.Abs(d.Curve.MinYX-d.PeakX) > 6 || !d.Ceiling {
		t.Errorf("the curve's top is at x %.1f, the N* line at %.1f (ceiling drawn: %v)", d.Curve.MinYX, d.PeakX, d.Ceiling)
	}
	p.Screenshot("sweep")
	p.NoConsoleErrors()
}
