package history

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
	"github.com/faultline/faultline/results/internal/histtest"
)

// Run with: go test -bench . -benchtime 1x -benchmem -run '^$' ./results/history

const benchEvents = 1_000_000

var (
	benchOnce    sync.Once
	benchHistory core.History
)

func benchData() core.History {
	benchOnce.Do(func() { benchHistory = histtest.Register(benchEvents) })
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
		w, err := NewWriter(path)
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
		w, err := NewWriter(path)
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
	path := filepath.Join(b.TempDir(), "history.jsonl")
	w, err := NewWriter(path)
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
		h, err := ReadFile(path, decode)
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
