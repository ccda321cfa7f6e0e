package serve_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/report"
	"github.com/faultline/faultline/results/runfolder"
)

// runSpec is a run folder written by hand.
type runSpec struct {
	root, target, workload string
	when                   time.Time
	test                   map[string]any // test.json; target and workload are added
	history                core.History
	checks                 []core.CheckResult // nil: no results.json
	nodeLog                string             // nodes/n1/node.log, when not empty
	noReport               bool
}

// writeRun writes the run folder of s and its report, and returns the
// folder.
func writeRun(t testing.TB, s runSpec) string {
	t.Helper()
	r, err := runfolder.New(s.root, s.target, s.workload, s.when)
	if err != nil {
		t.Fatal(err)
	}
	test := map[string]any{"target": s.target, "workload": s.workload}
	for k, v := range s.test {
		test[k] = v
	}
	if err := r.WriteJSON(runfolder.TestFile, test); err != nil {
		t.Fatal(err)
	}
	w, err := history.NewWriter(r.HistoryPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.history {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s.checks != nil {
		res := runfolder.NewResults(s.history, s.checks)
		if n := len(s.history); n > 0 {
			res.DurationNS = s.history[n-1].Time
		}
		res.Start = s.when
		res.End = s.when.Add(time.Duration(res.DurationNS))
		if err := r.WriteResults(res); err != nil {
			t.Fatal(err)
		}
	}
	if s.nodeLog != "" {
		dir, err := r.NodeDir("n1")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "node.log"), []byte(s.nodeLog), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !s.noReport {
		if err := report.Write(r.Dir); err != nil {
			t.Fatal(err)
		}
	}
	return r.Dir
}

// smallHistory is a register history of a few operations with one
// partition window.
func smallHistory() core.History {
	h := core.History{
		{Time: 1_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "write", Key: "k0", Value: int64(1)}},
		{Time: 2_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "start-partition", Value: map[string]any{"grudge": map[string][]string{"n1": {"n2"}}}}},
		{Time: 3_000_000, Process: 0, Op: core.Op{Type: core.OK, F: "write", Key: "k0", Value: int64(1), Node: "n1"}},
		{Time: 4_000_000, Process: 1, Op: core.Op{Type: core.Invoke, F: "read", Key: "k0"}},
		{Time: 9_000_000, Process: 1, Op: core.Op{Type: core.OK, F: "read", Key: "k0", Value: int64(0), Node: "n2"}},
		{Time: 10_000_000, Process: -1, Op: core.Op{Type: core.Info, F: "stop-partition"}},
		{Time: 11_000_000, Process: 0, Op: core.Op{Type: core.Invoke, F: "cas", Key: "k0", Value: [2]int64{1, 2}}},
		{Time: 12_000_000, Process: 0, Op: core.Op{Type: core.Fail, F: "cas", Key: "k0", Value: [2]int64{1, 2}, Node: "n2"}},
	}
	for i := range h {
		h[i].Index = i
	}
	return h
}

// bigRun describes a generated register history.
type bigRun struct {
	history core.History
	anomaly []int // events of one operation pair named by the anomaly
	windows int
}

// bigHistory generates a register history of n operations: ten workers
// over about a minute, latencies from a fraction of a millisecond to tens
// of milliseconds (longer inside fault windows), some failures, and
// timeouts after which the worker continues as a new process. A partition
// window opens every twelve seconds for six.
func bigHistory(n int) bigRun {
	const workers = 10
	rng := rand.New(rand.NewPCG(1, 2))
	type ev struct {
		t   int64
		seq int
		e   core.Event
	}
	evs := make([]ev, 0, 2*n+16)
	span := int64(60 * time.Second)
	perWorker := n / workers
	gap := span / int64(perWorker)
	const window, every = int64(6 * time.Second), int64(12 * time.Second)
	inFault := func(t int64) bool { return t%every >= every-window }
	nextProc := workers
	seq := 0
	for w := range workers {
		p := w
		t := int64(w) * gap / workers
		for range perWorker {
			key := "k" + strconv.Itoa(rng.IntN(100))
			lat := int64(200_000 + rng.ExpFloat64()*1_500_000)
			if inFault(t) {
				lat *= 8
			}
			var inv, comp core.Op
			switch rng.IntN(3) {
			case 0:
				v := int64(rng.IntN(1000))
				inv = core.Op{Type: core.Invoke, F: "write", Key: key, Value: v}
				comp = core.Op{Type: core.OK, F: "write", Key: key, Value: v}
			case 1:
				inv = core.Op{Type: core.Invoke, F: "read", Key: key}
				comp = core.Op{Type: core.OK, F: "read", Key: key, Value: int64(rng.IntN(1000))}
			default:
				v := [2]int64{int64(rng.IntN(1000)), int64(rng.IntN(1000))}
				inv = core.Op{Type: core.Invoke, F: "cas", Key: key, Value: v}
				comp = core.Op{Type: core.Fail, F: "cas", Key: key, Value: v}
				if rng.IntN(2) == 0 {
					comp.Type = core.OK
				}
			}
			retire := false
			if inFault(t) && rng.IntN(40) == 0 {
				comp.Type, comp.Error, lat = core.Info, "timeout after 1s", int64(time.Second)
				retire = true
			}
			comp.Node = "n" + strconv.Itoa(1+rng.IntN(3))
			evs = append(evs, ev{t, seq, core.Event{Time: t, Process: p, Op: inv}})
			evs = append(evs, ev{t + lat, seq + 1, core.Event{Time: t + lat, Process: p, Op: comp}})
			seq += 2
			t += max(lat, gap-lat) + int64(rng.IntN(1000))
			if retire {
				p = nextProc
				nextProc++
			}
		}
	}
	last := int64(0)
	for _, e := range evs {
		last = max(last, e.t)
	}
	windows := 0
	for t := every - window; t+window < last; t += every {
		g := map[string][]string{"n1": {"n2", "n3"}}
		evs = append(evs, ev{t, -1, core.Event{Time: t, Process: -1, Op: core.Op{Type: core.Info, F: "start-partition", Value: g}}})
		evs = append(evs, ev{t + window, -1, core.Event{Time: t + window, Process: -1, Op: core.Op{Type: core.Info, F: "stop-partition", Value: g}}})
		windows++
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		if a.t != b.t {
			if a.t < b.t {
				return -1
			}
			return 1
		}
		return a.seq - b.seq
	})
	h := make(core.History, len(evs))
	for i, e := range evs {
		h[i] = e.e
		h[i].Index = i
	}
	// The anomaly names two operations in the middle of the run: the
	// first read and the first write after 31 s.
	var named []int
	open := map[int]int{}
	want := map[string]bool{"read": true, "write": true}
	for i, e := range h {
		if e.Process < 0 {
			continue
		}
		if e.Type == core.Invoke {
			open[e.Process] = i
			continue
		}
		if e.Time > int64(31*time.Second) && e.Type == core.OK && want[e.F] {
			want[e.F] = false
			named = append(named, open[e.Process], i)
		}
	}
	return bigRun{history: h, anomaly: named, windows: windows}
}
