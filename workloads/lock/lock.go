package lock

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// DefaultHold is how long a client works on what it read, holding the
// lock, before it writes back, when Workload.Hold is not set.
const DefaultHold = 10 * time.Millisecond

// Workload is the lock workload. Its zero value is ready to use and holds
// each lock DefaultHold.
type Workload struct {
	// Hold is how long a client holds the lock between reading the
	// resource and writing it back (its work on what it read): the HoldNS
	// of every CycleRequest. Zero or less means DefaultHold.
	Hold time.Duration
}

var _ workloads.Workload = Workload{}

// Name returns "lock".
func (Workload) Name() string { return "lock" }

// Description returns one line for `faultline list`.
func (Workload) Description() string {
	return "acquire a lock, read the resource it guards, hold (work on it), write it back plus one, release; checked for mutual exclusion and a safe resource"
}

// WithHold returns the workload holding each lock for d between its read
// and its write.
func (w Workload) WithHold(d time.Duration) workloads.Workload {
	w.Hold = d
	return w
}

var _ workloads.Holder = Workload{}

// HoldTime returns the hold time the workload's cycles ask for: Hold, or
// DefaultHold when Hold is zero or less.
func (w Workload) HoldTime() time.Duration {
	if w.Hold <= 0 {
		return DefaultHold
	}
	return w.Hold
}

// NewGenerator returns a generator of cycles over locks l0..l{keys-1} (at
// least one lock) driven by rng; the same seed gives the same sequence. A
// nil rng is treated as one seeded with zero.
func (w Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	keys = max(keys, 1)
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	g := &Generator{rng: rng, hold: w.HoldTime().Nanoseconds(), keys: make([]string, keys), issued: make([]int64, keys)}
	for i := range g.keys {
		g.keys[i] = KeyName(i)
	}
	return g
}

// KeyName returns the name of lock i, which is also the name of the
// resource key it guards: "l<i>".
func KeyName(i int) string { return "l" + strconv.Itoa(i) }

// Check runs the workload's two checkers on h, mutual exclusion and then
// resource safety (see CheckMutualExclusion and CheckResource). It writes
// no files. The run's verdict follows the resource: the mutual-exclusion
// result reports overlapping holders as a finding with a valid verdict.
func (Workload) Check(ctx context.Context, h core.History, _ workloads.CheckOptions) []core.CheckResult {
	return []core.CheckResult{CheckMutualExclusion(ctx, h), CheckResource(ctx, h)}
}

// Generator hands out cycle operations. It is not safe for concurrent use;
// the controller calls it from one goroutine at a time.
type Generator struct {
	rng    *rand.Rand
	hold   int64
	keys   []string
	issued []int64 // cycles handed out per key
}

var _ workloads.Generator = (*Generator)(nil)

// Next returns a cycle on a lock drawn uniformly by the generator's rng,
// asking to hold it the workload's hold time. It never runs out: Next
// always returns true.
func (g *Generator) Next() (core.Op, bool) {
	i := g.rng.IntN(len(g.keys))
	g.issued[i]++
	return core.Op{Type: core.Invoke, F: Cycle, Key: g.keys[i], Value: CycleRequest{HoldNS: g.hold}}, true
}

// FinalReads returns the "resource" reads of every key's record, in key
// order, page by page (ResourceRead of PageSize accesses): enough pages
// for two accesses (a read and a write) of every cycle the generator
// handed out on the key, and one more.
func (g *Generator) FinalReads() []core.Op {
	var ops []core.Op
	for i, k := range g.keys {
		pages := (2*g.issued[i])/PageSize + 1
		for p := int64(0); p < pages; p++ {
			ops = append(ops, core.Op{Type: core.Invoke, F: Resource, Key: k, Value: ResourceRead{From: p * PageSize, Count: PageSize}})
		}
	}
	return ops
}

// DecodeValue turns the JSON value of a lock event into its typed value:
//   - cycle: the invocation's object into a CycleRequest; an ok or fail
//     completion's object into a CycleValue (checked with
//     CycleValue.Validate); an info completion's object into a CycleValue,
//     or its null into nil;
//   - resource: the invocation's null into nil; an ok completion's object
//     into a ResourceState (checked with ResourceState.Validate); a fail
//     or info completion's null into nil (an object is decoded as for ok).
//
// Objects with fields the type does not have are refused. Any other shape,
// and an unknown f, give an error wrapping core.ErrBadInput.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	switch f {
	case Cycle:
		if t == core.Invoke {
			var r CycleRequest
			if null || workloads.DecodeObject(raw, &r) != nil {
				return nil, core.BadInput("lock: cycle invocation value %s: want {\"hold_ns\": n}", raw)
			}
			if r.HoldNS < 0 {
				return nil, core.BadInput("lock: cycle invocation value %s: negative hold_ns", raw)
			}
			return r, nil
		}
		if null && t == core.Info {
			return nil, nil
		}
		var v CycleValue
		if null || workloads.DecodeObject(raw, &v) != nil {
			return nil, core.BadInput("lock: cycle %s value %s: want a cycle object", t, raw)
		}
		if err := v.validateAs(t); err != nil {
			return nil, core.BadInput("lock: cycle %s value %s: %v", t, raw, err)
		}
		return v, nil
	case Resource:
		if t == core.Invoke {
			if null {
				return nil, nil
			}
			var r ResourceRead
			if workloads.DecodeObject(raw, &r) != nil || r.From < 0 || r.Count < 1 {
				return nil, core.BadInput("lock: resource invocation value %s: want null or {\"from\": N ≥ 0, \"count\": N ≥ 1}", raw)
			}
			return r, nil
		}
		if null && t != core.OK {
			return nil, nil
		}
		var s ResourceState
		if null || workloads.DecodeObject(raw, &s) != nil {
			return nil, core.BadInput("lock: resource %s value %s: want a resource state object", t, raw)
		}
		if err := s.Validate(); err != nil {
			return nil, core.BadInput("lock: resource %s value %s: %v", t, raw, err)
		}
		return s, nil
	}
	return nil, core.BadInput("lock: unknown operation %q with value %s (want cycle or resource)", f, raw)
}
