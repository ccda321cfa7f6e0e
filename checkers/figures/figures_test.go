package figures_test

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
)

const ms = int64(1_000_000)

// hist writes a history event by event; indices are dense in call order.
type hist struct{ h core.History }

func (b *hist) ev(at int64, p int, t core.Type, f, key string, v any, node string) {
	b.h = append(b.h, core.Event{Index: len(b.h), Time: at, Process: p, Op: core.Op{Type: t, F: f, Key: key, Value: v, Node: node}})
}
func (b *hist) inv(at int64, p int, f, key string, v any) { b.ev(at, p, core.Invoke, f, key, v, "") }
func (b *hist) ok(at int64, p int, f, key string, v any, node string) {
	b.ev(at, p, core.OK, f, key, v, node)
}
func (b *hist) fail(at int64, p int, f, key string, v any, node string) {
	b.ev(at, p, core.Fail, f, key, v, node)
}
func (b *hist) info(at int64, p int, f, key string, v any, node string) {
	b.ev(at, p, core.Info, f, key, v, node)
}
func (b *hist) nem(at int64, f string, v any) { b.ev(at, core.NemesisProcess, core.Info, f, "", v, "") }

// row is a Period whose floats the test derives from its counts.
func row(period, side, f string, dur int64, ops, ok, fail, info int, p50, p99, mx int64) figures.Period {
	p := figures.Period{Period: period, Side: side, F: f, DurationNS: dur, Ops: ops, OK: ok, Fail: fail, Info: info,
		P50NS: p50, P99NS: p99, MaxNS: mx}
	if ops > 0 {
		p.OKShare, p.FailShare, p.InfoShare = float64(ok)/float64(ops), float64(fail)/float64(ops), float64(info)/float64(ops)
	}
	if dur > 0 {
		p.OKPerSec = float64(ok) / (float64(dur) / 1e9)
	}
	return p
}

func samePeriods(t *testing.T, what string, got, want []figures.Period) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		floats := func(p figures.Period) [4]float64 { return [4]float64{p.OKShare, p.FailShare, p.InfoShare, p.OKPerSec} }
		gf, wf := floats(g), floats(w)
		for j := range gf {
			if math.Abs(gf[j]-wf[j]) > 1e-9*max(1, math.Abs(wf[j])) {
				t.Errorf("%s row %d (%s %s %s): shares/rate %v, want %v", what, i, w.Period, w.Side, w.F, gf, wf)
			}
		}
		g.OKShare, g.FailShare, g.InfoShare, g.OKPerSec = 0, 0, 0, 0
		w.OKShare, w.FailShare, w.InfoShare, w.OKPerSec = 0, 0, 0, 0
		if g != w {
			t.Errorf("%s row %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// isolateN3 cuts n3 off from n1 and n2.
var isolateN3 = map[string]any{"shape": "isolate", "grudge": map[string][]string{"n1": {"n3"}, "n2": {"n3"}, "n3": {"n1", "n2"}}}

func TestQuietAndPartitionWithSides(t *testing.T) {
	var b hist
	// Quiet, before the partition.
	b.inv(10*ms, 0, "write", "k", int64(1))
	b.ok(12*ms, 0, "write", "k", int64(1), "n1") // 2ms
	b.inv(20*ms, 1, "read", "k", nil)
	b.ok(25*ms, 1, "read", "k", int64(1), "n2") // 5ms
	b.inv(30*ms, 0, "read", "k", nil)
	b.fail(31*ms, 0, "read", "k", nil, "n3")
	// n3 is cut off from 40ms to 70ms.
	b.nem(40*ms, "start-partition", isolateN3)
	b.inv(45*ms, 0, "write", "k", int64(2))
	b.ok(46*ms, 0, "write", "k", int64(2), "n1") // majority, 1ms
	b.inv(50*ms, 1, "read", "k", nil)
	b.inv(55*ms, 2, "read", "k", nil)
	b.fail(56*ms, 2, "read", "k", nil, "n3") // minority
	b.info(60*ms, 1, "read", "k", nil, "n3") // minority
	b.inv(65*ms, 3, "write", "k", int64(3))  // never completes: no node
	b.nem(70*ms, "stop-partition", isolateN3)
	// Quiet again.
	b.inv(80*ms, 0, "read", "k", nil)
	b.ok(83*ms, 0, "read", "k", int64(2), "n1") // 3ms
	// The load ends at 100ms; the final read is not counted.
	b.inv(110*ms, 4, "read", "k", nil)
	b.ok(111*ms, 4, "read", "k", int64(2), "n1")

	fig := figures.Compute(b.h, figures.Options{LoadEnd: 100 * ms})
	if fig.LoadEndNS != 100*ms || fig.Staleness != nil {
		t.Errorf("load end %d, staleness %v", fig.LoadEndNS, fig.Staleness)
	}
	samePeriods(t, "availability", fig.Availability, []figures.Period{
		row("all", "", "", 100*ms, 8, 4, 2, 2, 2*ms, 5*ms, 5*ms),
		row("quiet", "", "", 70*ms, 4, 3, 1, 0, 3*ms, 5*ms, 5*ms),
		row("partition", "", "", 30*ms, 4, 1, 1, 2, 1*ms, 1*ms, 1*ms),
		row("partition", "majority", "", 30*ms, 1, 1, 0, 0, 1*ms, 1*ms, 1*ms),
		row("partition", "minority", "", 30*ms, 2, 0, 1, 1, 0, 0, 0),
		row("partition", "unknown", "", 30*ms, 1, 0, 0, 1, 0, 0, 0),
	})
	samePeriods(t, "functions", fig.Functions, []figures.Period{
		row("all", "", "read", 100*ms, 5, 2, 2, 1, 3*ms, 5*ms, 5*ms),
		row("all", "", "write", 100*ms, 3, 2, 0, 1, 1*ms, 2*ms, 2*ms),
	})
}

func TestOverlappingKillAndPartition(t *testing.T) {
	var b hist
	op := func(at int64, p int, node string) {
		b.inv(at, p, "read", "k", nil)
		b.ok(at+ms, p, "read", "k", int64(0), node)
	}
	op(10*ms, 0, "n1") // quiet
	b.nem(20*ms, "start-kill", map[string]any{"nodes": []string{"n3"}})
	op(20*ms, 0, "n1") // kill: a window holds its start
	// A file's partition value is raw JSON: n1 is cut off from n2 and n3.
	b.nem(30*ms, "start-partition", json.RawMessage(`{"shape":"isolate","grudge":{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}}`))
	op(40*ms, 1, "n1") // kill and partition: minority
	b.nem(50*ms, "stop-kill", map[string]any{"nodes": []string{"n3"}})
	op(50*ms, 0, "n2") // partition only (a window does not hold its end): majority
	b.nem(60*ms, "stop-partition", nil)
	op(60*ms, 1, "n2") // quiet
	op(70*ms, 0, "n2") // quiet
	b.inv(95*ms, 0, "read", "k", nil)
	b.ok(100*ms, 0, "read", "k", int64(0), "n2") // quiet, 5ms

	fig := figures.Compute(b.h, figures.Options{})
	// The load phase ends with the last event, at 100ms; the windows'
	// union is [20, 60).
	samePeriods(t, "availability", fig.Availability, []figures.Period{
		row("all", "", "", 100*ms, 7, 7, 0, 0, 1*ms, 5*ms, 5*ms),
		row("quiet", "", "", 60*ms, 4, 4, 0, 0, 1*ms, 5*ms, 5*ms),
		row("kill", "", "", 30*ms, 2, 2, 0, 0, 1*ms, 1*ms, 1*ms),
		row("partition", "", "", 30*ms, 2, 2, 0, 0, 1*ms, 1*ms, 1*ms),
		row("partition", "majority", "", 30*ms, 1, 1, 0, 0, 1*ms, 1*ms, 1*ms),
		row("partition", "minority", "", 30*ms, 1, 1, 0, 0, 1*ms, 1*ms, 1*ms),
	})
	if fig.LoadEndNS != 0 {
		t.Errorf("load end %d, want 0 (not known)", fig.LoadEndNS)
	}
}

func TestOpenWindowAndOpsNeverCompleted(t *testing.T) {
	var b hist
	b.inv(10*ms, 0, "read", "k", nil)
	b.ok(12*ms, 0, "read", "k", nil, "n1")
	b.nem(50*ms, "start-partition", isolateN3) // never stopped
	b.inv(60*ms, 1, "cas", "k", [2]int64{1, 2})
	b.ok(61*ms, 1, "cas", "k", [2]int64{1, 2}, "n3")
	b.inv(70*ms, 2, "write", "k", int64(5)) // never completes
	b.inv(80*ms, 3, "read", "k", nil)       // never completes, at the history's last instant
	fig := figures.Compute(b.h, figures.Options{})
	// The open window runs to the history's end (80ms) and holds the
	// operation invoked at that very instant.
	samePeriods(t, "availability", fig.Availability, []figures.Period{
		row("all", "", "", 80*ms, 4, 2, 0, 2, 1*ms, 2*ms, 2*ms),
		row("quiet", "", "", 50*ms, 1, 1, 0, 0, 2*ms, 2*ms, 2*ms),
		row("partition", "", "", 30*ms, 3, 1, 0, 2, 1*ms, 1*ms, 1*ms),
		row("partition", "minority", "", 30*ms, 1, 1, 0, 0, 1*ms, 1*ms, 1*ms),
		row("partition", "unknown", "", 30*ms, 2, 0, 0, 2, 0, 0, 0),
	})
	samePeriods(t, "functions", fig.Functions, []figures.Period{
		row("all", "", "cas", 80*ms, 1, 1, 0, 0, 1*ms, 1*ms, 1*ms),
		row("all", "", "read", 80*ms, 2, 1, 0, 1, 2*ms, 2*ms, 2*ms),
		row("all", "", "write", 80*ms, 1, 0, 0, 1, 0, 0, 0),
	})
}

func TestLoadEndClipsWindowsAndDropsFinalReads(t *testing.T) {
	var b hist
	b.nem(80*ms, "start-kill", map[string]any{"nodes": []string{"n1"}})
	b.inv(90*ms, 0, "write", "k", int64(1))
	b.ok(93*ms, 0, "write", "k", int64(1), "n2")
	b.inv(100*ms, 1, "read", "k", nil) // invoked at the load's end: counted
	b.ok(104*ms, 1, "read", "k", int64(1), "n2")
	b.nem(105*ms, "start-pause", map[string]any{"nodes": []string{"n2"}}) // after the load: no row
	b.inv(110*ms, 2, "read", "k", nil)                                    // final read
	b.ok(111*ms, 2, "read", "k", int64(1), "n2")
	b.nem(130*ms, "stop-kill", nil)
	b.nem(131*ms, "stop-pause", nil)
	fig := figures.Compute(b.h, figures.Options{LoadEnd: 100 * ms})
	samePeriods(t, "availability", fig.Availability, []figures.Period{
		row("all", "", "", 100*ms, 2, 2, 0, 0, 3*ms, 4*ms, 4*ms),
		row("quiet", "", "", 80*ms, 0, 0, 0, 0, 0, 0, 0),
		row("kill", "", "", 20*ms, 2, 2, 0, 0, 3*ms, 4*ms, 4*ms),
	})
	samePeriods(t, "functions", fig.Functions, []figures.Period{
		row("all", "", "read", 100*ms, 1, 1, 0, 0, 4*ms, 4*ms, 4*ms),
		row("all", "", "write", 100*ms, 1, 1, 0, 0, 3*ms, 3*ms, 3*ms),
	})
}

func TestEmptyAndNemesisOnlyHistories(t *testing.T) {
	fig := figures.Compute(nil, figures.Options{})
	samePeriods(t, "empty", fig.Availability, []figures.Period{row("all", "", "", 0, 0, 0, 0, 0, 0, 0, 0), row("quiet", "", "", 0, 0, 0, 0, 0, 0, 0, 0)})
	if fig.Functions != nil {
		t.Errorf("functions of an empty history: %+v", fig.Functions)
	}
	// The figures of an empty history are still a JSON object with rows.
	raw, err := json.Marshal(fig)
	if err != nil || string(raw) != `{"availability":[{"period":"all","duration_ns":0,"ops":0,"ok":0,"fail":0,"info":0,"ok_share":0,"fail_share":0,"info_share":0,"ok_per_sec":0,"p50_ns":0,"p99_ns":0,"max_ns":0},{"period":"quiet","duration_ns":0,"ops":0,"ok":0,"fail":0,"info":0,"ok_share":0,"fail_share":0,"info_share":0,"ok_per_sec":0,"p50_ns":0,"p99_ns":0,"max_ns":0}]}` {
		t.Errorf("JSON %s, %v", raw, err)
	}

	var b hist
	b.nem(10*ms, "start-partition", isolateN3)
	b.nem(20*ms, "stop-partition", isolateN3)
	fig = figures.Compute(b.h, figures.Options{})
	samePeriods(t, "nemesis only", fig.Availability, []figures.Period{
		row("all", "", "", 20*ms, 0, 0, 0, 0, 0, 0, 0),
		row("quiet", "", "", 10*ms, 0, 0, 0, 0, 0, 0, 0),
		row("partition", "", "", 10*ms, 0, 0, 0, 0, 0, 0, 0),
	})
	if fig.Functions != nil {
		t.Errorf("functions of a nemesis-only history: %+v", fig.Functions)
	}
}

func TestPartitionSides(t *testing.T) {
	// Five nodes, halves {n1,n2} | {n3,n4,n5}, a node only operations
	// name (n6, reaching everyone), and a second partition that cuts the
	// clients off from n4 replacing the first.
	var b hist
	b.nem(0, "start-partition", map[string]any{"grudge": map[string][]string{
		"n1": {"n3", "n4", "n5"}, "n2": {"n3", "n4", "n5"}, "n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}}})
	at := int64(ms)
	op := func(node string) {
		b.inv(at, 0, "read", "k", nil)
		b.ok(at+1, 0, "read", "k", nil, node)
		at += ms
	}
	// Cluster n1..n6: n1 and n2 reach 3 of 6 (not more than half), n3-n5
	// reach 4, n6 reaches 6.
	op("n1")
	op("n2")
	op("n3")
	op("n6")
	b.nem(at, "stop-partition", nil)
	b.nem(at, "start-partition", map[string]any{"shape": "clients", "grudge": map[string][]string{"clients": {"n4"}, "n4": {"clients"}}})
	op("n4") // cut off from the clients: minority
	op("n1") // reaches everyone now
	b.nem(at, "stop-partition", nil)
	fig := figures.Compute(b.h, figures.Options{})
	var sides []string
	for _, p := range fig.Availability {
		if p.Side != "" {
			sides = append(sides, p.Side+":"+fmtInt(p.Ops))
		}
	}
	if want := []string{"majority:3", "minority:3"}; !slices.Equal(sides, want) {
		t.Errorf("sides %v, want %v", sides, want)
	}
}

func fmtInt(n int) string { return strconv.Itoa(n) }

func TestUnpairedHistoryHasNoOperations(t *testing.T) {
	var b hist
	b.ok(10*ms, 0, "read", "k", nil, "n1") // a completion without invocation
	fig := figures.Compute(b.h, figures.Options{})
	if fig.Availability[0].Ops != 0 || fig.Availability[0].DurationNS != 10*ms {
		t.Errorf("all = %+v", fig.Availability[0])
	}
	if st := figures.RegisterStaleness(b.h, figures.Options{}); st.Reads != 0 {
		t.Errorf("staleness = %+v", st)
	}
}

// timed returns the history with its events in time order (in writing
// order at equal times), indices dense again: what a recorder writes
// when operations overlap.
func (b *hist) timed() core.History {
	h := slices.Clone(b.h)
	slices.SortStableFunc(h, func(x, y core.Event) int { return cmp.Compare(x.Time, y.Time) })
	for i := range h {
		h[i].Index = i
	}
	return h
}

// op appends one register operation from invoke to complete.
func (b *hist) op(p int, from, to int64, t core.Type, f, key string, in, out any, node string) {
	b.inv(from, p, f, key, in)
	b.ev(to, p, t, f, key, out, node)
}

func TestStalenessOfLinearizableHistory(t *testing.T) {
	var b hist
	b.op(0, 0, 10*ms, core.OK, "read", "k", nil, nil, "n1")
	b.op(0, 20*ms, 30*ms, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(1, 25*ms, 35*ms, core.OK, "read", "k", nil, nil, "n2") // concurrent with the write: either value
	b.op(1, 40*ms, 41*ms, core.OK, "read", "k", nil, int64(1), "n2")
	b.op(0, 50*ms, 60*ms, core.OK, "cas", "k", [2]int64{1, 2}, [2]int64{1, 2}, "n1")
	b.op(1, 55*ms, 56*ms, core.OK, "read", "k", nil, int64(1), "n2") // concurrent
	b.op(1, 61*ms, 62*ms, core.OK, "read", "k", nil, int64(2), "n2")
	st := figures.RegisterStaleness(b.timed(), figures.Options{})
	if !reflect.DeepEqual(*st, figures.Staleness{Reads: 5}) {
		t.Errorf("staleness = %+v", st)
	}
}

// staleHistory has three writes on k (a cas among them) and reads that
// are 2, 1, 0 and 3 writes behind, and the initial value read before any
// write returned.
func staleHistory() core.History {
	var b hist
	b.op(0, 0, 10*ms, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(1, 5*ms, 6*ms, core.OK, "read", "k", nil, nil, "n1") // initial value, nothing returned yet
	b.op(0, 20*ms, 30*ms, core.OK, "write", "k", int64(2), int64(2), "n1")
	b.op(0, 40*ms, 50*ms, core.OK, "cas", "k", [2]int64{2, 3}, [2]int64{2, 3}, "n1")
	b.op(1, 55*ms, 56*ms, core.OK, "read", "k", nil, int64(2), "n2") // the cas is 5ms old
	b.op(2, 60*ms, 61*ms, core.OK, "read", "k", nil, int64(1), "n3") // write 2 is 30ms old, 2 behind
	b.op(1, 70*ms, 71*ms, core.OK, "read", "k", nil, int64(3), "n1") // fresh
	b.op(3, 80*ms, 81*ms, core.OK, "read", "k", nil, nil, "")        // write 1 is 70ms old, 3 behind
	// Another key's writes make no k read stale.
	b.op(0, 82*ms, 83*ms, core.OK, "write", "j", int64(9), int64(9), "n1")
	b.op(1, 90*ms, 91*ms, core.OK, "read", "j", nil, int64(9), "n1")
	return b.timed()
}

func TestStaleReads(t *testing.T) {
	st := figures.RegisterStaleness(staleHistory(), figures.Options{})
	want := figures.Staleness{
		Reads: 6, Stale: 3,
		P50NS: 30 * ms, P90NS: 70 * ms, P99NS: 70 * ms, MaxNS: 70 * ms, MaxBehind: 3,
		Buckets: []figures.Bucket{{UpToNS: 1 * ms, Count: 0}, {UpToNS: 2 * ms, Count: 0}, {UpToNS: 4 * ms, Count: 0}, {UpToNS: 8 * ms, Count: 1}, {UpToNS: 16 * ms, Count: 0}, {UpToNS: 32 * ms, Count: 1}, {UpToNS: 64 * ms, Count: 0}, {UpToNS: 128 * ms, Count: 1}},
		Samples: []figures.StaleRead{
			{Key: "k", Process: 1, TimeNS: 55 * ms, StaleNS: 5 * ms, Behind: 1, Node: "n2"},
			{Key: "k", Process: 2, TimeNS: 60 * ms, StaleNS: 30 * ms, Behind: 2, Node: "n3"},
			{Key: "k", Process: 3, TimeNS: 80 * ms, StaleNS: 70 * ms, Behind: 3},
		},
	}
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("staleness\n got %+v\nwant %+v", *st, want)
	}

	// LoadEnd leaves out the read at 80ms, and a bucket with it.
	st = figures.RegisterStaleness(staleHistory(), figures.Options{LoadEnd: 75 * ms})
	if st.Reads != 4 || st.Stale != 2 || st.MaxNS != 30*ms || st.MaxBehind != 2 || len(st.Buckets) != 6 || len(st.Samples) != 2 {
		t.Errorf("staleness up to 75ms = %+v", *st)
	}

	// The same history read from history.jsonl without the workload's
	// decoding (raw JSON values) gives the same figures.
	var buf strings.Builder
	w := history.NewWriterTo(&buf)
	for _, e := range staleHistory() {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := history.Read(strings.NewReader(buf.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, isRaw := raw[0].Value.(json.RawMessage); !isRaw {
		t.Fatalf("value read as %T", raw[0].Value)
	}
	if st := figures.RegisterStaleness(raw, figures.Options{}); !reflect.DeepEqual(*st, want) {
		t.Errorf("staleness from raw JSON\n got %+v\nwant %+v", *st, want)
	}
}

func TestConcurrentAndUnacknowledgedWritesAreNotCounted(t *testing.T) {
	var b hist
	b.op(0, 0, 10*ms, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(0, 10*ms, 20*ms, core.OK, "write", "k", int64(2), int64(2), "n1") // invoked as write 1 returned: concurrent with it
	b.op(1, 25*ms, 26*ms, core.OK, "read", "k", nil, int64(1), "n2")       // not stale
	b.op(0, 30*ms, 40*ms, core.OK, "write", "k", int64(4), int64(4), "n1")
	b.op(1, 40*ms, 41*ms, core.OK, "read", "k", nil, int64(2), "n2") // write 4 returned as it was invoked: not stale
	b.op(0, 45*ms, 50*ms, core.OK, "write", "k", int64(5), int64(5), "n1")
	b.op(1, 47*ms, 49*ms, core.OK, "read", "k", nil, int64(4), "n2") // write 5 still running: not stale
	b.op(2, 60*ms, 70*ms, core.Info, "write", "k", int64(6), nil, "n3")
	b.op(3, 60*ms, 70*ms, core.Fail, "write", "k", int64(7), int64(7), "n3")
	b.op(4, 60*ms, 70*ms, core.Fail, "cas", "k", [2]int64{5, 8}, [2]int64{5, 8}, "n3")
	b.op(5, 60*ms, 70*ms, core.Info, "cas", "k", [2]int64{5, 9}, nil, "n3")
	b.op(1, 80*ms, 81*ms, core.OK, "read", "k", nil, int64(5), "n2") // none of those returned ok: not stale
	b.op(1, 82*ms, 83*ms, core.OK, "read", "k", nil, int64(6), "n2") // the info write's value: its return is unknown
	b.op(1, 84*ms, 85*ms, core.OK, "read", "k", nil, int64(9), "n2") // the info cas's value
	b.op(1, 86*ms, 87*ms, core.Fail, "read", "k", nil, nil, "n2")    // not an ok read
	b.inv(90*ms, 6, "read", "k", nil)                                // never completed
	st := figures.RegisterStaleness(b.timed(), figures.Options{})
	if !reflect.DeepEqual(*st, figures.Staleness{Reads: 6}) {
		t.Errorf("staleness = %+v", *st)
	}
}

func TestCASChain(t *testing.T) {
	var b hist
	b.op(0, 0, 1*ms, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(0, 2*ms, 3*ms, core.OK, "cas", "k", [2]int64{1, 2}, [2]int64{1, 2}, "n1")
	b.op(0, 4*ms, 5*ms, core.Fail, "cas", "k", [2]int64{1, 7}, [2]int64{1, 7}, "n1")
	b.op(0, 6*ms, 7*ms, core.OK, "cas", "k", [2]int64{2, 3}, [2]int64{2, 3}, "n1")
	b.op(0, 8*ms, 9*ms, core.OK, "cas", "k", [2]int64{3, 4}, [2]int64{3, 4}, "n1")
	b.op(1, 12*ms, 13*ms, core.OK, "read", "k", nil, int64(2), "n2") // cas 3 (returned 7ms) and cas 4 since
	b.op(1, 14*ms, 15*ms, core.OK, "read", "k", nil, int64(1), "n2") // cas 2, 3, 4 since cas 2 returned at 3ms
	b.op(1, 16*ms, 17*ms, core.OK, "read", "k", nil, int64(4), "n2")
	st := figures.RegisterStaleness(b.h, figures.Options{})
	want := []figures.StaleRead{
		{Key: "k", Process: 1, TimeNS: 12 * ms, StaleNS: 5 * ms, Behind: 2, Node: "n2"},
		{Key: "k", Process: 1, TimeNS: 14 * ms, StaleNS: 11 * ms, Behind: 3, Node: "n2"},
	}
	if st.Reads != 3 || st.Stale != 2 || st.MaxBehind != 3 || st.P50NS != 5*ms || st.MaxNS != 11*ms || !reflect.DeepEqual(st.Samples, want) {
		t.Errorf("staleness = %+v", *st)
	}
	if wantB := []figures.Bucket{{UpToNS: ms, Count: 0}, {UpToNS: 2 * ms, Count: 0}, {UpToNS: 4 * ms, Count: 0}, {UpToNS: 8 * ms, Count: 1}, {UpToNS: 16 * ms, Count: 1}}; !reflect.DeepEqual(st.Buckets, wantB) {
		t.Errorf("buckets %v, want %v", st.Buckets, wantB)
	}
}

func TestBucketBoundsAndSamplesThinning(t *testing.T) {
	// Staleness 1ms exactly falls in the first bucket, more in the
	// second. MaxSamples+500 stale reads, staleness rising with time: the
	// stalest is the last, which an even spread does not pick.
	var b hist
	b.op(0, 0, 1, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(0, 2, 3, core.OK, "write", "k", int64(2), int64(2), "n1")
	n := figures.MaxSamples + 500
	for i := range n {
		at := 3 + ms + int64(i)*10
		b.op(1, at, at+1, core.OK, "read", "k", nil, int64(1), "n1")
	}
	st := figures.RegisterStaleness(b.h, figures.Options{})
	want := []figures.Bucket{{UpToNS: ms, Count: 1}, {UpToNS: 2 * ms, Count: n - 1}}
	if st.Stale != n || !reflect.DeepEqual(st.Buckets, want) || st.MaxNS != ms+int64(n-1)*10 {
		t.Fatalf("stale %d, max %d, buckets %v", st.Stale, st.MaxNS, st.Buckets)
	}
	if len(st.Samples) != figures.MaxSamples {
		t.Fatalf("%d samples, want %d", len(st.Samples), figures.MaxSamples)
	}
	if !sort.SliceIsSorted(st.Samples, func(i, j int) bool { return st.Samples[i].TimeNS < st.Samples[j].TimeNS }) {
		t.Error("samples are not in time order")
	}
	if st.Samples[0].StaleNS != ms || st.Samples[len(st.Samples)-1].StaleNS != st.MaxNS {
		t.Errorf("first sample %+v, last %+v: want the first read and the stalest", st.Samples[0], st.Samples[len(st.Samples)-1])
	}
}

func TestStalestSampleKeptInTheMiddle(t *testing.T) {
	// 2·MaxSamples reads, one key each: the even spread picks the even
	// positions, and the stalest read is at odd position s. Key s's
	// writes come first, so its second write is the oldest overwrite.
	n, s := 2*figures.MaxSamples, 1001
	var b hist
	slot := int64(0)
	write := func(i int) {
		k := "k" + fmtInt(i)
		b.op(0, 4*slot, 4*slot+1, core.OK, "write", k, int64(1), int64(1), "n1")
		b.op(0, 4*slot+2, 4*slot+3, core.OK, "write", k, int64(2), int64(2), "n1")
		slot++
	}
	write(s)
	for i := range n {
		if i != s {
			write(i)
		}
	}
	base := 4*slot + 100
	for i := range n {
		b.op(1, base+int64(i), base+int64(i), core.OK, "read", "k"+fmtInt(i), nil, int64(1), "n1")
	}
	st := figures.RegisterStaleness(b.h, figures.Options{})
	if st.Stale != n || st.MaxNS != base+int64(s)-3 || len(st.Samples) != figures.MaxSamples {
		t.Fatalf("stale %d, max %d, %d samples", st.Stale, st.MaxNS, len(st.Samples))
	}
	found := 0
	for i, r := range st.Samples {
		if r.Key == "k"+fmtInt(s) {
			found++
			if r.StaleNS != st.MaxNS || st.Samples[i-1].TimeNS >= r.TimeNS || st.Samples[i+1].TimeNS <= r.TimeNS {
				t.Errorf("the stalest sample %+v is out of place", r)
			}
		}
	}
	if found != 1 {
		t.Errorf("the stalest read is %d times among the samples", found)
	}
}

// simHistory runs a register against ops of procs processes: each
// operation takes effect at one instant inside its interval (with
// sequential true, the intervals never overlap), so the history is
// linearizable. Some writes and cas end info, half of them applied.
func simHistory(rng *rand.Rand, n, procs, keys int, sequential bool) core.History {
	type simOp struct {
		p                  int
		from, effect, to   int64
		f, key             string
		in                 any
		typ                core.Type
		out                any
		info, applied, did bool
	}
	ops := make([]*simOp, 0, n)
	free := make([]int64, procs)
	var clock int64
	next := int64(1)
	for range n {
		p := rng.IntN(procs)
		o := &simOp{p: p, key: "k" + fmtInt(rng.IntN(keys))}
		if sequential {
			o.from = clock + 1 + rng.Int64N(3)
		} else {
			o.from = free[p] + 1 + rng.Int64N(50)
		}
		o.effect = o.from + rng.Int64N(40)
		o.to = o.effect + rng.Int64N(40)
		if sequential {
			clock = o.to
		}
		free[p] = o.to
		switch r := rng.IntN(4); {
		case r < 2:
			o.f = "read"
		case r == 2:
			o.f, o.in = "write", next
			next++
		default:
			o.f, o.in = "cas", [2]int64{next - 1 - rng.Int64N(2), next}
			next++
		}
		o.info = o.f != "read" && rng.IntN(8) == 0
		o.applied = !o.info || rng.IntN(2) == 0
		ops = append(ops, o)
	}
	// Apply in effect order.
	byEffect := slices.Clone(ops)
	slices.SortStableFunc(byEffect, func(a, b *simOp) int { return int(a.effect - b.effect) })
	state := map[string]any{}
	for _, o := range byEffect {
		switch o.f {
		case "read":
			o.typ, o.out = core.OK, state[o.key]
		case "write":
			o.typ, o.out = core.OK, o.in
			if o.applied {
				state[o.key] = o.in
			}
		case "cas":
			pair := o.in.([2]int64)
			o.out = o.in
			if cur, ok := state[o.key].(int64); ok && cur == pair[0] {
				o.typ = core.OK
				if o.applied {
					state[o.key] = pair[1]
				}
			} else {
				o.typ = core.Fail
			}
		}
		if o.info {
			o.typ, o.out = core.Info, nil
		}
	}
	// Events in time order; a process's next invocation comes after its
	// completion.
	var b hist
	for _, o := range ops {
		b.inv(o.from, o.p, o.f, o.key, o.in)
		b.ev(o.to, o.p, o.typ, o.f, o.key, o.out, "n1")
	}
	return b.timed()
}

func TestLinearizableRegistersAreNeverStale(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 99))
		sequential := seed%2 == 0
		h := simHistory(rng, 200, 1+rng.IntN(5), 1+rng.IntN(3), sequential)
		st := figures.RegisterStaleness(h, figures.Options{})
		if st.Stale != 0 || st.Reads == 0 {
			t.Fatalf("seed %d (sequential %v): %d stale of %d reads: %+v", seed, sequential, st.Stale, st.Reads, st.Samples)
		}
	}
	// The property is not vacuous: a register that serves a read from
	// before the last ok write is caught.
	var b hist
	b.op(0, 0, 1, core.OK, "write", "k", int64(1), int64(1), "n1")
	b.op(0, 2, 3, core.OK, "write", "k", int64(2), int64(2), "n1")
	b.op(0, 4, 5, core.OK, "read", "k", nil, int64(1), "n1")
	if st := figures.RegisterStaleness(b.h, figures.Options{}); st.Stale != 1 || st.MaxNS != 1 {
		t.Errorf("staleness = %+v", *st)
	}
}
