package figures

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// The register workload's operation names, as its histories have them.
const (
	fRead  = "read"
	fWrite = "write"
	fCAS   = "cas"
)

// RegisterStaleness returns the staleness of h's register reads (the
// register workload's vocabulary: read/write/cas with int64 and
// [2]int64 values, every written value unique per key), counting only
// operations invoked up to opts.LoadEnd when it is set.
//
// The reads looked at are the ok reads invoked within the load phase.
// The writes are the write and cas operations that returned ok: a write
// installs its value, a cas [old, new] its new value. A write or cas
// whose outcome is fail or info never returned ok, so it never makes a
// read stale; and a read of a value no ok write installed (an info write's
// value) is never stale either, since when that write took effect is
// unknown. Times compare strictly: a write invoked at the very
// nanosecond v's write returned, or returning at the very nanosecond the
// read was invoked, is concurrent with it and does not count. A history
// that checkers.Pair refuses gives no reads.
//
// Values are the register workload's typed values (int64, [2]int64, nil
// for a read of nothing); JSON numbers and arrays as a history read
// without decoding holds them (json.RawMessage, json.Number, float64
// integers, []any) are read too. A read whose value cannot be read as
// an integer counts among Reads and is never stale.
func RegisterStaleness(h core.History, opts Options) *Staleness {
	st := &Staleness{}
	ops, err := checkers.Pair(h)
	if err != nil {
		return st
	}
	type key struct {
		writes  []staleWrite
		byValue map[int64]int // value → position in writes; -1 when written twice
		reads   []staleRead
	}
	keys := map[string]*key{}
	keyOf := func(k string) *key {
		kk := keys[k]
		if kk == nil {
			kk = &key{byValue: map[int64]int{}}
			keys[k] = kk
		}
		return kk
	}
	for i := range ops {
		op := &ops[i]
		if op.Type != core.OK {
			continue
		}
		switch op.F {
		case fWrite, fCAS:
			kk := keyOf(op.Key)
			v, ok := int64(0), false
			if op.F == fWrite {
				v, ok = asInt(op.Input)
			} else if p, isPair := asPair(op.Input); isPair {
				v, ok = p[1], true
			}
			if ok {
				if _, dup := kk.byValue[v]; dup {
					kk.byValue[v] = -1
				} else {
					kk.byValue[v] = len(kk.writes)
				}
			}
			kk.writes = append(kk.writes, staleWrite{start: op.Start, end: op.End})
		case fRead:
			if opts.LoadEnd > 0 && op.Start > opts.LoadEnd {
				continue
			}
			st.Reads++
			r := staleRead{op: op}
			if op.Output == nil {
				r.initial = true
			} else if v, ok := asInt(op.Output); ok {
				r.value, r.known = v, true
			} else {
				continue
			}
			kk := keyOf(op.Key)
			kk.reads = append(kk.reads, r)
		}
	}

	var stale []StaleRead
	var order []int // invocation index of each of stale
	for _, k := range keys {
		for _, s := range staleOf(k.writes, k.byValue, k.reads) {
			stale = append(stale, s.StaleRead)
			order = append(order, s.invoke)
		}
	}
	idx := make([]int, len(stale))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		sa, sb := stale[idx[a]], stale[idx[b]]
		if sa.TimeNS != sb.TimeNS {
			return sa.TimeNS < sb.TimeNS
		}
		return order[idx[a]] < order[idx[b]]
	})
	sorted := make([]StaleRead, len(stale))
	for i, j := range idx {
		sorted[i] = stale[j]
	}
	stale = sorted

	st.Stale = len(stale)
	if len(stale) == 0 {
		return st
	}
	ns := make([]int64, len(stale))
	for i, s := range stale {
		ns[i] = s.StaleNS
		st.MaxBehind = max(st.MaxBehind, s.Behind)
	}
	slices.Sort(ns)
	st.P50NS = nearestRank(ns, 0.50)
	st.P90NS = nearestRank(ns, 0.90)
	st.P99NS = nearestRank(ns, 0.99)
	st.MaxNS = ns[len(ns)-1]
	st.Buckets = buckets(ns)
	st.Samples = thin(stale, MaxSamples)
	return st
}

type staleWrite struct{ start, end int64 }

type staleRead struct {
	op      *checkers.Operation
	initial bool // read nothing
	known   bool // value is the int64 read
	value   int64
}

type staleResult struct {
	StaleRead
	invoke int
}

// staleOf finds the stale reads among reads of one key, given its ok
// writes and which write installed each value. For a read invoked at r of
// a value whose write returned at t (t = -1 for the initial value), the
// writes that make it stale are those with start > t and end < r: the
// reads are taken in order of invocation, the writes that returned before
// each are added to Fenwick trees over their start times, which count
// them and keep their earliest return among the starts above t.
func staleOf(writes []staleWrite, byValue map[int64]int, reads []staleRead) []staleResult {
	if len(writes) == 0 || len(reads) == 0 {
		return nil
	}
	byEnd := slices.Clone(writes)
	slices.SortFunc(byEnd, func(a, b staleWrite) int { return cmpInt(a.end, b.end) })
	starts := make([]int64, len(writes))
	for i, w := range writes {
		starts[i] = w.start
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	m := len(starts)
	// Position p = m-1-rank(start): the starts above t are a prefix.
	count := make([]int, m+1)
	earliest := make([]int64, m+1)
	for i := range earliest {
		earliest[i] = math.MaxInt64
	}
	insert := func(w staleWrite) {
		rank, _ := slices.BinarySearch(starts, w.start)
		for p := m - rank; p <= m; p += p & -p {
			count[p]++
			earliest[p] = min(earliest[p], w.end)
		}
	}
	query := func(n int) (int, int64) { // over the first n positions
		c, e := 0, int64(math.MaxInt64)
		for p := n; p > 0; p -= p & -p {
			c += count[p]
			e = min(e, earliest[p])
		}
		return c, e
	}
	rs := slices.Clone(reads)
	slices.SortStableFunc(rs, func(a, b staleRead) int {
		if c := cmpInt(a.op.Start, b.op.Start); c != 0 {
			return c
		}
		return a.op.Invoke - b.op.Invoke
	})
	var out []staleResult
	j := 0
	for _, r := range rs {
		for j < len(byEnd) && byEnd[j].end < r.op.Start {
			insert(byEnd[j])
			j++
		}
		t := int64(-1)
		if !r.initial {
			w, ok := byValue[r.value]
			if !r.known || !ok || w < 0 {
				continue // its write's return is unknown
			}
			t = writes[w].end
		}
		// The starts above t are ranks [above, m): positions 1..m-above.
		above := sort.Search(m, func(i int) bool { return starts[i] > t })
		n, first := query(m - above)
		if n == 0 {
			continue
		}
		out = append(out, staleResult{
			StaleRead: StaleRead{Key: r.op.Key, Process: r.op.Process, TimeNS: r.op.Start,
				StaleNS: r.op.Start - first, Behind: n, Node: r.op.Node},
			invoke: r.op.Invoke,
		})
	}
	return out
}

// buckets counts sorted staleness values by powers of two of
// milliseconds: up to 1 ms, 2 ms, 4 ms, … up to the first bound at or
// above the largest value.
func buckets(sorted []int64) []Bucket {
	const ms = int64(1e6)
	top := sorted[len(sorted)-1]
	var out []Bucket
	bound := ms
	for {
		out = append(out, Bucket{UpToNS: bound})
		if bound >= top || bound > math.MaxInt64/2 {
			break
		}
		bound *= 2
	}
	i := 0
	for _, v := range sorted {
		for v > out[i].UpToNS && i < len(out)-1 {
			i++
		}
		out[i].Count++
	}
	return out
}

// thin keeps at most n of reads (in time order), evenly spread, the
// stalest (the first of them) always among them.
func thin(reads []StaleRead, n int) []StaleRead {
	if len(reads) <= n {
		return reads
	}
	stalest := 0
	for i, r := range reads {
		if r.StaleNS > reads[stalest].StaleNS {
			stalest = i
		}
	}
	pick := make([]int, n)
	for i := range pick {
		pick[i] = int(int64(i) * int64(len(reads)) / int64(n))
	}
	if at, found := slices.BinarySearch(pick, stalest); !found {
		// pick[at-1] < stalest < pick[at] (at ≥ 1: pick[0] is 0); taking
		// pick[at-1]'s place keeps the order.
		pick[at-1] = stalest
	}
	out := make([]StaleRead, n)
	for i, p := range pick {
		out[i] = reads[p]
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// asInt reads v as an integer register value.
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case json.RawMessage:
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// asPair reads v as a cas's [old, new].
func asPair(v any) ([2]int64, bool) {
	switch v := v.(type) {
	case [2]int64:
		return v, true
	case []int64:
		if len(v) == 2 {
			return [2]int64{v[0], v[1]}, true
		}
	case []any:
		if len(v) == 2 {
			a, ok1 := asInt(v[0])
			b, ok2 := asInt(v[1])
			return [2]int64{a, b}, ok1 && ok2
		}
	case json.RawMessage:
		var p []json.RawMessage
		if json.Unmarshal(v, &p) == nil && len(p) == 2 {
			a, ok1 := asInt(p[0])
			b, ok2 := asInt(p[1])
			return [2]int64{a, b}, ok1 && ok2
		}
	}
	return [2]int64{}, false
}
