package faultline_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
)

// firstInvocation finds, independently of FindFirstAnomaly, the earliest
// invocation time of the operations named by the anomalies of the invalid
// checkers of a run folder's results.json: each named event's own time
// when it is an invocation, else the time of its process's last
// invocation before it.
func firstInvocation(t *testing.T, dir string) (int64, int64) {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(dir, runfolder.HistoryFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runfolder.ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := int64(-1)
	for _, c := range res.Checkers {
		if c.Verdict != faultline.Invalid {
			continue
		}
		for _, a := range c.Anomalies {
			for _, i := range a.Events {
				at := h[i].Time
				if h[i].Type != faultline.Invoke && h[i].Process != faultline.NemesisProcess {
					for j := i - 1; j >= 0; j-- {
						if h[j].Process == h[i].Process && h[j].Type == faultline.Invoke {
							at = h[j].Time
							break
						}
					}
				}
				if first < 0 || at < first {
					first = at
				}
			}
		}
	}
	return first, h[len(h)-1].Time
}

// TestRepeatOfDemoKV measures detection rates on local processes: demo-kv
// unsafe, three seeds of 8 s under the default partitions, is caught in 3
// of 3, each with its first anomalous operation inside the run and the
// fault active then named; demo-kv safe, two seeds of 5 s, in 0 of 2.
func TestRepeatOfDemoKV(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	unsafe := faultline.DefaultTest()
	unsafe.TimeLimit = 8 * time.Second
	unsafe.Results = t.TempDir()
	unsafe.Seed = 501
	var ended []int64
	res, err := faultline.RunRepeat(context.Background(), faultline.Repeat{Test: unsafe, N: 3,
		OnRun: func(_ *faultline.RepeatResult, r faultline.RepeatRun) { ended = append(ended, r.Seed) }})
	if err != nil {
		t.Fatal(err)
	}
	checkEnded(t, "runs", ended, []int64{501, 502, 503})
	r := readSeriesFile[faultline.RepeatResult](t, res.Dir, faultline.RepeatFile)
	t.Log(r.RateLine())
	if d := r.Rate; d.Found != 3 || d.Decided != 3 || d.Runs != 3 || d.Share != 1 || d.High != 1 || d.Low < 0.438 || d.Low > 0.439 {
		t.Fatalf("unsafe rate %+v", d)
	}
	if r.Verdict != faultline.Invalid || r.ExitCode != 1 || !r.Complete || len(r.Runs) != 3 {
		t.Fatalf("repeat.json: verdict %s exit %d complete %v runs %d", r.Verdict, r.ExitCode, r.Complete, len(r.Runs))
	}
	for _, run := range r.Runs {
		a := run.FirstAnomaly
		if run.Verdict != faultline.Invalid || run.Anomalies == 0 || a == nil {
			t.Fatalf("seed %d: %+v", run.Seed, run)
		}
		dir := filepath.Join(res.Dir, filepath.FromSlash(run.RunDir))
		want, last := firstInvocation(t, dir)
		t.Logf("seed %d: %d anomalies, first at %v during %s (%s %s); history ends at %v", run.Seed, run.Anomalies,
			time.Duration(a.TimeNS), a.Fault, a.Checker, a.Key, time.Duration(last))
		if a.TimeNS != want || a.TimeNS <= 0 || a.TimeNS > last {
			t.Errorf("seed %d: first anomaly at %d ns, want %d (history ends at %d)", run.Seed, a.TimeNS, want, last)
		}
		if a.Fault != "partition" && a.Fault != "quiet" {
			t.Errorf("seed %d: fault then %q, want partition or quiet", run.Seed, a.Fault)
		}
	}

	safe := faultline.DefaultTest()
	safe.Variant = "safe"
	safe.TimeLimit = 5 * time.Second
	safe.Results = t.TempDir()
	sres, err := faultline.RunRepeat(context.Background(), faultline.Repeat{Test: safe, N: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sres.RateLine())
	if d := sres.Rate; d.Found != 0 || d.Decided != 2 || d.Low != 0 || d.High < 0.657 || d.High > 0.658 || sres.ExitCode != 0 {
		t.Fatalf("safe rate %+v, exit %d", d, sres.ExitCode)
	}
	for _, run := range sres.Runs {
		if run.Verdict != faultline.Valid || run.FirstAnomaly != nil || run.Anomalies != 0 {
			t.Errorf("safe seed %d: %+v", run.Seed, run)
		}
	}
}
