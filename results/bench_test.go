package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

// Run with: go test -bench . -benchtime 1x -benchmem -run '^$' ./results/

const benchEvents = 1_000_000

var (
	benchOnce    sync.Once
	benchHistory core.History
)

// registerHistory builds a register-workload history of n events: ten
// processes, writes, reads and cas over ten keys, some failures and
// timeouts, and a partition every 50,000 events.
func registerHistory(n int) core.History {
	h := make(core.History, 0, n)
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	grudge := map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
	t := int64(0)
	for op := 0; len(h) < n; op++ {
		t += 1500
		if op%25000 == 0 {
			f, v := "start-partition", any(map[string]any{"grudge": grudge})
			if op%50000 != 0 {
				f, v = "stop-partition", nil
			}
			h = append(h, core.Event{Index: len(h), Time: t, Process: -1, Op: core.Op{Type: core.Info, F: f, Value: v}})
			continue
		}
		p := op % 10
		key := keys[(op/10)%10]
		var inv, comp core.Op
		switch op % 3 {
		case 0:
			inv = core.Op{Type: core.Invoke, F: "write", Key: key, Value: int64(op)}
			comp = inv
			comp.Type = core.OK
		case 1:
			inv = core.Op{Type: core.Invoke, F: "read", Key: key}
			comp = inv
			comp.Type = core.OK
			comp.Value = int64(op - 1)
		default:
			inv = core.Op{Type: core.Invoke, F: "cas", Key: key, Value: [2]int64{int64(op - 2), int64(op)}}
			comp = inv
			comp.Type = core.Fail
		}
		if op%97 == 0 {
			comp.Type = core.Info
			comp.Error = "timeout after 1s"
		}
		comp.Node = nodes[op%5]
		h = append(h, core.Event{Index: len(h), Time: t, Process: p, Op: inv})
		if len(h) < n {
			h = append(h, core.Event{Index: len(h), Time: t + 700, Process: p, Op: comp})
		}
	}
	return h
}

func benchData() core.History {
	benchOnce.Do(func() { benchHistory = registerHistory(benchEvents) })
	return benchHistory
}

func reportRate(b *testing.B, events int, elapsed time.Duration) {
	b.ReportMetric(float64(events)*float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/history")
}

func BenchmarkWriteHistory1M(b *testing.B) {
	h := benchData()
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, fmt.Sprintf("h%d.jsonl", i))
		w, err := NewHistoryWriter(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range h {
			if err := w.Write(e); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st, err := os.Stat(path); err == nil {
			b.SetBytes(st.Size())
		}
		os.Remove(path)
		b.StartTimer()
	}
	reportRate(b, len(h), time.Since(start))
}

func BenchmarkWriteHistory1MConcurrent(b *testing.B) {
	h := benchData()
	dir := b.TempDir()
	const writers = 4
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, fmt.Sprintf("h%d.jsonl", i))
		w, err := NewHistoryWriter(path)
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					j := next.Add(1) - 1
					if j >= int64(len(h)) {
						return
					}
					if err := w.Write(h[j]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(path)
		b.StartTimer()
	}
	reportRate(b, len(h), time.Since(start))
}

func writeBenchFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), HistoryFile)
	w, err := NewHistoryWriter(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range benchData() {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// registerDecode is a decoder of the kind a workload writes: no
// reflection for the common shapes.
func registerDecode(f string, t core.Type, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	switch f {
	case "write", "read":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %s", raw)
		}
		return n, nil
	case "cas":
		var v [2]int64
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

func benchRead(b *testing.B, decode DecodeFunc) {
	path := writeBenchFile(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		h, err := ReadHistoryFile(path, decode)
		if err != nil {
			b.Fatal(err)
		}
		if len(h) != benchEvents {
			b.Fatalf("read %d events", len(h))
		}
	}
	reportRate(b, benchEvents, time.Since(start))
}

func BenchmarkReadHistory1M(b *testing.B) { benchRead(b, nil) }

func BenchmarkReadHistory1MDecoded(b *testing.B) { benchRead(b, registerDecode) }

func BenchmarkWriteReport1M(b *testing.B) {
	path := writeBenchFile(b)
	dir := filepath.Dir(path)
	r := &Run{Dir: dir}
	if err := r.WriteResults(NewResults(benchData(), []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "bench",
		Anomalies: []core.Anomaly{{Kind: "stale-read", Description: "bench", Events: []int{10, 500_001, 999_999}}}}})); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := WriteReport(dir); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, benchEvents, time.Since(start))
	if st, err := os.Stat(filepath.Join(dir, ReportFile)); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "MB/report")
	}
}
