// Package figures measures what a run cost rather than whether it was
// right: for the whole load phase, for quiet periods and for each fault
// kind, the share of operations that succeeded, failed or stayed
// indeterminate, the throughput of successful operations and their
// latency; for partitions, split by the side of the cut the client's node
// was on; and, for register reads, how stale each stale read was.
//
// The figures are exact functions of a history: the same history gives the
// same figures, whether it is read from memory or from history.jsonl. They
// land in results.json under "figures" and are what `faultline sweep` and
// `faultline compare` read.
package figures

// Period names of Period.Period besides the fault names.
const (
	// All is the whole load phase.
	All = "all"
	// Quiet is the load phase outside every fault window.
	Quiet = "quiet"
)

// Sides of a partition (Period.Side).
const (
	// Majority is a node that reaches more than half the cluster
	// (itself included) while the partition lasts.
	Majority = "majority"
	// Minority is a node that reaches half the cluster or fewer.
	Minority = "minority"
	// NoNode is an operation whose node is not known (no completion, or
	// a client that did not say).
	NoNode = "unknown"
)

// Options says which part of a history the figures cover.
type Options struct {
	// LoadEnd is when the workers stopped (ns since the run started):
	// operations invoked after it (the final reads) are not counted, and
	// periods end there. Zero counts every operation, and the load phase
	// ends with the history's last event.
	LoadEnd int64
}

// Figures is the "figures" object of results.json.
type Figures struct {
	// LoadEndNS is Options.LoadEnd (0 when not known).
	LoadEndNS int64 `json:"load_end_ns,omitempty"`
	// Availability holds one row for All, one for Quiet, one per fault
	// kind that ran (in order of first start), and for partitions one
	// more row per side that had operations.
	Availability []Period `json:"availability"`
	// Functions holds one row per operation function (f) over the whole
	// load phase, by name.
	Functions []Period `json:"functions,omitempty"`
	// Staleness is present for register histories only.
	Staleness *Staleness `json:"staleness,omitempty"`
}

// AllRow returns the row of Availability for the whole load phase
// (Period All, no Side), or nil when f is nil or has none. The row is
// f's own, not a copy.
func (f *Figures) AllRow() *Period {
	if f == nil {
		return nil
	}
	for i := range f.Availability {
		if p := &f.Availability[i]; p.Period == All && p.Side == "" {
			return p
		}
	}
	return nil
}

// Period is one row of figures: operations invoked within some periods
// of the load phase (an operation belongs to every fault window its
// invocation falls in; Quiet holds those it falls in none of).
type Period struct {
	// Period is All, Quiet or a fault's name ("partition", "kill", ...).
	Period string `json:"period"`
	// Side is Majority, Minority or NoNode on a partition's per-side
	// rows; empty otherwise.
	Side string `json:"side,omitempty"`
	// F is the operation function on Functions rows.
	F string `json:"f,omitempty"`
	// DurationNS is how long these periods lasted within the load phase
	// (overlapping windows of one fault counted once).
	DurationNS int64 `json:"duration_ns"`
	// Ops counts the operations; OK, Fail and Info their outcomes (an
	// invocation that never completed is Info).
	Ops  int `json:"ops"`
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
	// OKShare, FailShare and InfoShare are OK, Fail and Info over Ops
	// (0 when there is no operation).
	OKShare   float64 `json:"ok_share"`
	FailShare float64 `json:"fail_share"`
	InfoShare float64 `json:"info_share"`
	// OKPerSec is OK over DurationNS in seconds (0 when DurationNS is 0).
	OKPerSec float64 `json:"ok_per_sec"`
	// P50NS, P99NS and MaxNS are latency percentiles of the OK
	// operations (nearest rank), in nanoseconds; 0 without OK operations.
	P50NS int64 `json:"p50_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
}

// Staleness measures the register reads that returned a value already
// overwritten. A read of v is stale when some write or cas that returned
// ok was invoked after v's own write returned ok and itself returned ok
// before the read was invoked (a read of nothing, the initial value, is
// stale when any such write returned ok before the read was invoked).
// Its staleness is the time from the first of those writes' returns to
// the read's invocation, and it is that many writes behind. On a
// linearizable history no read is stale; these are lower bounds elsewhere.
type Staleness struct {
	// Reads counts the ok reads looked at; Stale how many were stale.
	Reads int `json:"reads"`
	Stale int `json:"stale"`
	// P50NS, P90NS, P99NS and MaxNS are percentiles (nearest rank) of
	// the stale reads' staleness, in nanoseconds; 0 without stale reads.
	P50NS int64 `json:"p50_ns"`
	P90NS int64 `json:"p90_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
	// MaxBehind is the most writes a stale read was behind.
	MaxBehind int `json:"max_writes_behind"`
	// Buckets is the distribution of staleness: stale reads counted by
	// powers of two of milliseconds (the first bucket holds everything up
	// to 1 ms).
	Buckets []Bucket `json:"buckets,omitempty"`
	// Reads in time order, at most MaxSamples of them (evenly thinned
	// when there are more, the stalest always kept), for the report's
	// plot.
	Samples []StaleRead `json:"samples,omitempty"`
}

// MaxSamples bounds Staleness.Samples.
const MaxSamples = 2000

// Bucket counts stale reads whose staleness is at most UpToNS and above
// the previous bucket's bound.
type Bucket struct {
	UpToNS int64 `json:"up_to_ns"`
	Count  int   `json:"count"`
}

// StaleRead is one stale read.
type StaleRead struct {
	Key     string `json:"key"`
	Process int    `json:"process"`
	// TimeNS is the read's invocation time.
	TimeNS int64 `json:"time_ns"`
	// StaleNS is its staleness and Behind how many writes behind it was.
	StaleNS int64 `json:"stale_ns"`
	Behind  int   `json:"behind"`
	// Node is the node that answered, where known.
	Node string `json:"node,omitempty"`
}
