package figures

import (
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// PartitionFault is the fault name of partitions in a history
// ("start-partition", "stop-partition"): its windows get per-side rows.
const PartitionFault = "partition"

// clientsName stands for the clients in a partition's grudge (the
// history's format: {"clients": ["n1"], "n1": ["clients"]} cuts the
// clients off from n1). It is no node.
const clientsName = "clients"

// Compute returns the availability and function figures of h under opts
// (Staleness is left nil: see RegisterStaleness).
//
// The load phase is [0, opts.LoadEnd], or [0, the last event's time] when
// LoadEnd is 0. The operations are h's client operations as checkers.Pair
// pairs them (an invocation never completed is Info and has no latency),
// those invoked at or before the load phase's end; the nemesis's events
// are never operations. A history that checkers.Pair refuses gives rows
// without operations.
//
// Fault windows are checkers.FaultWindows(h). An operation belongs to a
// window when its invocation time t has start <= t < end, or start <= t
// when the window never stopped; it belongs to a fault's row when it
// belongs to any of that fault's windows, and to Quiet when it belongs to
// no window at all. A fault's DurationNS is the length of the union of
// its windows clipped to the load phase; Quiet's is the load phase's
// length less the union of every window. A fault gets a row when one of
// its windows starts within the load phase; rows come in the order of
// each fault's first start, after All and Quiet.
//
// Partition rows are followed by one row per side that had operations,
// in the order Majority, Minority, NoNode, each with the partition's
// duration. An operation's side is its node's under the grudge of the
// latest-started partition window it belongs to (a partition replaces
// the one before it): the cluster is every node named in any partition's
// grudge, keys and values, and every node an operation names; a node
// reaches every cluster node but those its grudge lists, itself
// included, and is on the majority side when it reaches more than half
// the cluster. A node the grudge cuts off from the clients (the name
// "clients") is on the minority side, whatever it reaches. An operation
// without a node is NoNode.
//
// Functions rows cover the whole load phase, one per f in name order,
// with Period All and the load phase's duration.
func Compute(h core.History, opts Options) *Figures {
	fig := &Figures{LoadEndNS: opts.LoadEnd, Availability: []Period{}}
	end := opts.LoadEnd
	if end <= 0 {
		end = 0
		for _, e := range h {
			end = max(end, e.Time)
		}
	}
	ops, err := checkers.Pair(h)
	if err != nil {
		ops = nil
	}
	ops = slices.DeleteFunc(ops, func(o checkers.Operation) bool { return o.Start > end })

	windows := checkers.FaultWindows(h)
	grudges := partitionGrudges(h, windows)
	cluster := clusterNodes(grudges, ops)

	// Faults in order of first start within the load phase.
	var faults []string
	byFault := map[string][]span{}
	var all []span
	for _, w := range windows {
		if w.Start > end {
			continue
		}
		if _, seen := byFault[w.Fault]; !seen {
			faults = append(faults, w.Fault)
		}
		s := span{min(max(w.Start, 0), end), min(w.End, end)}
		if s.end < s.start {
			s.end = s.start
		}
		byFault[w.Fault] = append(byFault[w.Fault], s)
		all = append(all, s)
	}

	allRow := newRow(All, "", "", end)
	quietRow := newRow(Quiet, "", "", end-unionLength(all))
	faultRows := map[string]*row{}
	for _, f := range faults {
		faultRows[f] = newRow(f, "", "", unionLength(byFault[f]))
	}
	sideRows := map[string]*row{}
	var partitionDur int64
	if r := faultRows[PartitionFault]; r != nil {
		partitionDur = r.p.DurationNS
	}
	fRows := map[string]*row{}

	in := make(map[string]bool, len(faults))
	for _, op := range ops {
		allRow.add(op)
		fr := fRows[op.F]
		if fr == nil {
			fr = newRow(All, "", op.F, end)
			fRows[op.F] = fr
		}
		fr.add(op)
		clear(in)
		partition := -1 // latest-started partition window op belongs to
		for i, w := range windows {
			if w.Start > op.Start {
				break
			}
			if w.Open || op.Start < w.End {
				in[w.Fault] = true
				if w.Fault == PartitionFault {
					partition = i
				}
			}
		}
		if len(in) == 0 {
			quietRow.add(op)
			continue
		}
		for f := range in {
			if r := faultRows[f]; r != nil {
				r.add(op)
			}
		}
		if partition >= 0 {
			side := sideOf(op.Node, grudges[partition], cluster)
			sr := sideRows[side]
			if sr == nil {
				sr = newRow(PartitionFault, side, "", partitionDur)
				sideRows[side] = sr
			}
			sr.add(op)
		}
	}

	fig.Availability = append(fig.Availability, allRow.done(), quietRow.done())
	for _, f := range faults {
		fig.Availability = append(fig.Availability, faultRows[f].done())
		if f != PartitionFault {
			continue
		}
		for _, side := range []string{Majority, Minority, NoNode} {
			if sr := sideRows[side]; sr != nil {
				fig.Availability = append(fig.Availability, sr.done())
			}
		}
	}
	for _, f := range slices.Sorted(maps.Keys(fRows)) {
		fig.Functions = append(fig.Functions, fRows[f].done())
	}
	return fig
}

// span is a closed-open stretch of time, in ns.
type span struct{ start, end int64 }

// unionLength is the length of the union of ss.
func unionLength(ss []span) int64 {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var total int64
	cur := span{-1, -1}
	for _, s := range ss {
		if s.start > cur.end {
			total += cur.end - cur.start
			cur = s
			continue
		}
		cur.end = max(cur.end, s.end)
	}
	return total + cur.end - cur.start
}

// row accumulates one Period.
type row struct {
	p   Period
	lat []int64
}

func newRow(period, side, f string, duration int64) *row {
	return &row{p: Period{Period: period, Side: side, F: f, DurationNS: max(duration, 0)}}
}

func (r *row) add(op checkers.Operation) {
	r.p.Ops++
	switch op.Type {
	case core.OK:
		r.p.OK++
		r.lat = append(r.lat, op.End-op.Start)
	case core.Fail:
		r.p.Fail++
	default:
		r.p.Info++
	}
}

// done fills in the shares, the throughput and the percentiles.
func (r *row) done() Period {
	p := r.p
	if p.Ops > 0 {
		p.OKShare = float64(p.OK) / float64(p.Ops)
		p.FailShare = float64(p.Fail) / float64(p.Ops)
		p.InfoShare = float64(p.Info) / float64(p.Ops)
	}
	if p.DurationNS > 0 {
		p.OKPerSec = float64(p.OK) / (float64(p.DurationNS) / 1e9)
	}
	slices.Sort(r.lat)
	p.P50NS = nearestRank(r.lat, 0.50)
	p.P99NS = nearestRank(r.lat, 0.99)
	if len(r.lat) > 0 {
		p.MaxNS = r.lat[len(r.lat)-1]
	}
	return p
}

// nearestRank returns the q-quantile of sorted by the nearest-rank
// method: the value of rank ceil(q·n), 1-based; 0 for no value.
func nearestRank(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// partitionGrudges returns, for each window of windows that is a
// partition, the grudge its start event carried (nil when it carried
// none that reads as one).
func partitionGrudges(h core.History, windows []checkers.Window) map[int]map[string][]string {
	out := map[int]map[string][]string{}
	// FaultWindows makes one window per start event, in order.
	var starts []core.Event
	for _, e := range h {
		if e.Process == core.NemesisProcess && strings.HasPrefix(e.F, "start-") && len(e.F) > len("start-") {
			starts = append(starts, e)
		}
	}
	for i, w := range windows {
		if w.Fault != PartitionFault || i >= len(starts) {
			continue
		}
		out[i] = grudgeOf(starts[i].Value)
	}
	return out
}

// grudgeOf reads {"grudge": {node: [nodes]}} from a partition's value,
// whether it is JSON from a history file or the nemesis's own value.
func grudgeOf(v any) map[string][]string {
	var raw []byte
	switch v := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		raw = b
	}
	var pv struct {
		Grudge map[string][]string `json:"grudge"`
	}
	if json.Unmarshal(raw, &pv) != nil {
		return nil
	}
	return pv.Grudge
}

// clusterNodes is every node the partitions' grudges name and every node
// an operation names; "clients" is none.
func clusterNodes(grudges map[int]map[string][]string, ops []checkers.Operation) map[string]bool {
	nodes := map[string]bool{}
	for _, g := range grudges {
		for k, vs := range g {
			nodes[k] = true
			for _, v := range vs {
				nodes[v] = true
			}
		}
	}
	for _, op := range ops {
		if op.Node != "" {
			nodes[op.Node] = true
		}
	}
	delete(nodes, clientsName)
	return nodes
}

// sideOf says which side of grudge's cut node is on.
func sideOf(node string, grudge map[string][]string, cluster map[string]bool) string {
	if node == "" {
		return NoNode
	}
	if slices.Contains(grudge[clientsName], node) || slices.Contains(grudge[node], clientsName) {
		return Minority
	}
	reach := len(cluster)
	cut := map[string]bool{}
	for _, n := range grudge[node] {
		if n != node && cluster[n] && !cut[n] {
			cut[n] = true
			reach--
		}
	}
	if 2*reach > len(cluster) {
		return Majority
	}
	return Minority
}
