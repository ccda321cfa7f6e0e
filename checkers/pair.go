// Package checkers holds faultline's history checkers. Each checker reads a
// core.History and returns a core.CheckResult whose verdict is valid,
// invalid or unknown; a checker that runs out of time says unknown, never
// valid.
package checkers

import (
	"fmt"
	"sort"

	"github.com/faultline/faultline/core"
)

// Operation is one client operation: an invocation paired with its
// completion.
type Operation struct {
	// Process is the client process that performed the operation.
	Process int
	// F and Key are the invocation's function and key.
	F   string
	Key string
	// Type is the outcome: core.OK, core.Fail or core.Info. An invocation
	// that never completed has Type core.Info.
	Type core.Type
	// Input is the invocation's value; Output is the completion's value
	// (nil when the invocation never completed).
	Input  any
	Output any
	// Invoke and Complete are the history indices of the invocation and
	// the completion; Complete is -1 when the invocation never completed.
	Invoke   int
	Complete int
	// Start and End are the times of the invocation and the completion in
	// nanoseconds since the run started; End is -1 when the invocation
	// never completed.
	Start int64
	End   int64
	// Node and Error come from the completion, where known.
	Node  string
	Error string
}

// Completed reports whether the operation's invocation has a completion in
// the history.
func (o Operation) Completed() bool { return o.Complete >= 0 }

// Events returns the history indices of the operation's events: the
// invocation, then the completion if there is one.
func (o Operation) Events() []int {
	if o.Completed() {
		return []int{o.Invoke, o.Complete}
	}
	return []int{o.Invoke}
}

// Pair pairs every client invocation in h with the completion that the same
// process records next, and returns the operations ordered by invocation
// index. Nemesis events (process core.NemesisProcess) are skipped: they are
// not client operations. An invocation left without a completion becomes an
// operation of type core.Info.
//
// A malformed history gives an error wrapping core.ErrBadInput: an unknown
// event type, a negative process other than the nemesis, a completion
// without an open invocation, a second invocation while one is open on the
// same process, a completion whose f or key differs from its invocation's,
// or a completion earlier in time than its invocation.
func Pair(h core.History) ([]Operation, error) {
	ops := make([]Operation, 0, len(h)/2+1)
	open := make(map[int]int) // process -> position in ops
	for _, e := range h {
		if e.Process == core.NemesisProcess {
			continue
		}
		if !e.Type.Valid() {
			return nil, core.BadInput("event %d: unknown type %q", e.Index, e.Type)
		}
		if e.Process < 0 {
			return nil, core.BadInput("event %d: process %d is neither a client (>= 0) nor the nemesis (-1)", e.Index, e.Process)
		}
		if e.Type == core.Invoke {
			if at, busy := open[e.Process]; busy {
				return nil, core.BadInput("event %d: process %d invokes %s while its invocation at event %d is still open",
					e.Index, e.Process, e.F, ops[at].Invoke)
			}
			open[e.Process] = len(ops)
			ops = append(ops, Operation{
				Process:  e.Process,
				F:        e.F,
				Key:      e.Key,
				Type:     core.Info,
				Input:    e.Value,
				Invoke:   e.Index,
				Complete: -1,
				Start:    e.Time,
				End:      -1,
				Node:     e.Node,
			})
			continue
		}
		at, ok := open[e.Process]
		if !ok {
			return nil, core.BadInput("event %d: %s completion of %s by process %d has no open invocation",
				e.Index, e.Type, e.F, e.Process)
		}
		op := &ops[at]
		if e.F != op.F || e.Key != op.Key {
			return nil, core.BadInput("event %d: completion %s %q does not match invocation %s %q at event %d",
				e.Index, e.F, e.Key, op.F, op.Key, op.Invoke)
		}
		if e.Time < op.Start {
			return nil, core.BadInput("event %d: completion at %d ns is earlier than its invocation at %d ns (event %d)",
				e.Index, e.Time, op.Start, op.Invoke)
		}
		delete(open, e.Process)
		op.Type = e.Type
		op.Output = e.Value
		op.Complete = e.Index
		op.End = e.Time
		if e.Node != "" {
			op.Node = e.Node
		}
		op.Error = e.Error
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
	return ops, nil
}

// formatSeconds renders nanoseconds since the run started as seconds with
// millisecond precision, for example "3.210s".
func formatSeconds(ns int64) string {
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}
