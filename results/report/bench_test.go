package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/internal/histtest"
	"github.com/faultline/faultline/results/runfolder"
)

// Run with: go test -bench . -benchtime 1x -benchmem -run '^$' ./results/report

const benchEvents = 1_000_000

func BenchmarkWriteReport1M(b *testing.B) {
	h := histtest.Register(benchEvents)
	dir := b.TempDir()
	writeHistory(b, filepath.Join(dir, runfolder.HistoryFile), h)
	r := &runfolder.Run{Dir: dir}
	if err := r.WriteResults(runfolder.NewResults(h, []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "bench",
		Anomalies: []core.Anomaly{{Kind: "stale-read", Description: "bench", Events: []int{10, 500_001, 999_999}}}}})); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := Write(dir); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(benchEvents)*float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/history")
	if st, err := os.Stat(filepath.Join(dir, runfolder.ReportFile)); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "MB/report")
	}
}
