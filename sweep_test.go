package faultline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
)

// TestSweepOfDemoKV runs a real sweep on local processes: demo-kv (safe)
// at 1, 2 and 4 clients, 2 s each, no faults. Every level gets its run
// folder inside the sweep folder, sweep.json lists the three with their
// ok throughput, and the throughput is fitted.
func TestSweepOfDemoKV(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	tt := faultline.DefaultTest()
	tt.Variant = "safe"
	tt.Nemesis = nil
	tt.TimeLimit = 2 * time.Second
	tt.Results = t.TempDir()
	var ended []int
	res, err := faultline.RunSweep(t.Context(), faultline.Sweep{Test: tt, Levels: []int{1, 2, 4},
		OnLevel: func(_ *faultline.SweepResult, l faultline.SweepLevel) { ended = append(ended, l.Concurrency) }})
	if err != nil {
		t.Fatal(err)
	}
	checkEnded(t, "levels", ended, []int{1, 2, 4})
	r := readSeriesFile[faultline.SweepResult](t, res.Dir, faultline.SweepFile)
	if len(r.Levels) != 3 || !r.Complete || r.Interrupted || r.Test.Seed == 0 {
		t.Fatalf("sweep.json: %d levels, complete %v, interrupted %v, seed %d", len(r.Levels), r.Complete, r.Interrupted, r.Test.Seed)
	}
	var vs []faultline.Verdict
	for i, l := range r.Levels {
		vs = append(vs, l.Verdict)
		t.Logf("concurrency %d: %s, %.1f ok/s, p50 %v, p99 %v (figures from %s)", l.Concurrency, l.Verdict, l.OKPerSec(),
			time.Duration(l.Figures.P50NS), time.Duration(l.Figures.P99NS), l.FiguresFrom)
		if l.Concurrency != []int{1, 2, 4}[i] || l.OKPerSec() <= 0 || l.Figures.P50NS <= 0 || l.Figures.P99NS < l.Figures.P50NS {
			t.Errorf("level %d: %+v figures %+v", i, l, l.Figures)
		}
		run := filepath.Join(res.Dir, filepath.FromSlash(l.RunDir))
		if filepath.Dir(filepath.Dir(run)) != filepath.Join(res.Dir, faultline.SweepLevelsDir) {
			t.Errorf("level %d's run folder %s is not under the sweep folder's levels/", l.Concurrency, run)
		}
		for _, f := range []string{"results.json", "history.jsonl", "test.json", "report.html"} {
			if _, err := os.Stat(filepath.Join(run, f)); err != nil {
				t.Errorf("level %d: %v", l.Concurrency, err)
			}
		}
		var lt faultline.Test
		if b, err := os.ReadFile(filepath.Join(run, "test.json")); err != nil || json.Unmarshal(b, &lt) != nil ||
			lt.Concurrency != l.Concurrency || lt.Seed != r.Test.Seed {
			t.Errorf("level %d's test.json: concurrency %d, seed %d (%v)", l.Concurrency, lt.Concurrency, lt.Seed, err)
		}
	}
	if want := core.Combine(vs...); r.Verdict != want || r.ExitCode != want.ExitCode() {
		t.Errorf("sweep verdict %s exit %d, want %s", r.Verdict, r.ExitCode, want)
	}
	if r.Fit == nil || r.Fit.Lambda <= 0 || len(r.FitLevels) != 3 {
		t.Fatalf("no fit: %+v (%s)", r.Fit, r.FitError)
	}
	t.Logf("fit: λ %.1f σ %.4f κ %.5f R² %.3f, %s", r.Fit.Lambda, r.Fit.Sigma, r.Fit.Kappa, r.Fit.R2, r.Fit.Shape)
	if _, err := os.Stat(filepath.Join(res.Dir, faultline.SweepPage)); err != nil {
		t.Error(err)
	}
}
