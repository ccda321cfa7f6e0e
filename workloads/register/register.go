// Package register is the register workload: reads, writes and
// compare-and-set operations on a set of independent integer registers,
// checked for linearizability key by key.
//
// Operation values (core.Op.Value): a write carries its value as int64; a
// cas carries [2]int64{old, new}; a read is invoked with nil and completes
// with nil (the key is absent) or the int64 read. Every value written (by a
// write or as the new value of a cas) is unique within a run.
package register

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// The operation names of the register workload.
const (
	Read  = "read"
	Write = "write"
	CAS   = "cas"
)

// Workload is the register workload. Its zero value is ready to use.
type Workload struct{}

var (
	_ workloads.Workload = Workload{}
	_ workloads.Staler   = Workload{}
)

// Name returns "register".
func (Workload) Name() string { return "register" }

// Description returns one line for `faultline list`.
func (Workload) Description() string {
	return "read, write and compare-and-set on independent registers, checked for linearizability"
}

// NewGenerator returns a generator over keys k0..k{keys-1} (at least one
// key) driven by rng; the same seed gives the same sequence. A nil rng is
// treated as a generator seeded with zero.
func (Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	return NewGenerator(keys, rng)
}

// DecodeValue turns the JSON value of a register event into its typed
// value: a write's number into int64, a cas's [old,new] into [2]int64, a
// read's null into nil and its number into int64. A completion of a write
// or cas may also carry null (nil). Any other shape is an error wrapping
// core.ErrBadInput, as is an unknown f.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	switch f {
	case Read:
		if null {
			return nil, nil
		}
		v, err := decodeInt(raw)
		if err != nil {
			return nil, core.BadInput("register: read value %s: want null or an integer", raw)
		}
		return v, nil
	case Write:
		if null && t != core.Invoke {
			return nil, nil
		}
		v, err := decodeInt(raw)
		if err != nil {
			return nil, core.BadInput("register: write value %s: want an integer", raw)
		}
		return v, nil
	case CAS:
		if null && t != core.Invoke {
			return nil, nil
		}
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, core.BadInput("register: cas value %s: want [old, new] integers", raw)
		}
		old, err1 := decodeInt(pair[0])
		nw, err2 := decodeInt(pair[1])
		if err1 != nil || err2 != nil {
			return nil, core.BadInput("register: cas value %s: want [old, new] integers", raw)
		}
		return [2]int64{old, nw}, nil
	}
	return nil, core.BadInput("register: unknown operation %q with value %s (want read, write or cas)", f, raw)
}

// decodeInt parses raw as a JSON integer that fits in an int64.
func decodeInt(raw json.RawMessage) (int64, error) {
	return strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
}

// Check runs the linearizability checker on h with Model, writing its
// visualization into opts.Dir when set. It returns one result; a
// malformed history gives an unknown result whose summary names the
// problem.
func (Workload) Check(ctx context.Context, h core.History, opts workloads.CheckOptions) []core.CheckResult {
	res, _ := checkers.Linearizable(ctx, h, Model{}, checkers.LinearizabilityOptions{Dir: opts.Dir})
	return []core.CheckResult{res}
}

// Staleness returns the staleness of h's reads under opts: how long
// after a newer write returned ok each stale read was invoked, and how
// many writes behind it was (figures.RegisterStaleness says exactly).
func (Workload) Staleness(h core.History, opts figures.Options) *figures.Staleness {
	return figures.RegisterStaleness(h, opts)
}

// Generator hands out register operations. It is not safe for concurrent
// use; the controller calls it from one goroutine at a time.
type Generator struct {
	rng  *rand.Rand
	keys []string
	// next is the next unique value to write.
	next int64
	// recent holds, per key, the last values written or cas'd to it by
	// this generator, newest last.
	recent [][]int64
}

var _ workloads.Generator = (*Generator)(nil)

// recentValues is how many recent values per key the generator remembers
// as cas candidates.
const recentValues = 8

// NewGenerator returns a generator over keys k0..k{keys-1}; keys below one
// mean one key. The sequence depends only on rng's seed; a nil rng is
// treated as one seeded with zero. The generator never runs out: Next
// always returns true.
func NewGenerator(keys int, rng *rand.Rand) *Generator {
	keys = max(keys, 1)
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	g := &Generator{rng: rng, keys: make([]string, keys), next: 1, recent: make([][]int64, keys)}
	for i := range g.keys {
		g.keys[i] = "k" + strconv.Itoa(i)
	}
	return g
}

// Next returns the next operation: about half reads, a quarter writes and
// a quarter cas on a random key. A write carries a fresh value; a cas
// expects the value the generator last wrote to the key (most of the time)
// or an older one, and sets a fresh value. A cas on a key never written
// yet is issued as a write instead. Next always returns true.
func (g *Generator) Next() (core.Op, bool) {
	k := g.rng.IntN(len(g.keys))
	op := core.Op{Type: core.Invoke, Key: g.keys[k]}
	roll := g.rng.IntN(100)
	switch {
	case roll < 50:
		op.F = Read
	case roll < 75 || len(g.recent[k]) == 0:
		op.F = Write
		op.Value = g.fresh(k)
	default:
		op.F = CAS
		rec := g.recent[k]
		old := rec[len(rec)-1]
		if len(rec) > 1 && g.rng.IntN(5) == 0 {
			old = rec[g.rng.IntN(len(rec)-1)]
		}
		op.Value = [2]int64{old, g.fresh(k)}
	}
	return op, true
}

// fresh returns a new unique value and remembers it for key k.
func (g *Generator) fresh(k int) int64 {
	v := g.next
	g.next++
	rec := append(g.recent[k], v)
	if len(rec) > recentValues {
		rec = rec[len(rec)-recentValues:]
	}
	g.recent[k] = rec
	return v
}

// FinalReads returns one read of every key, in key order.
func (g *Generator) FinalReads() []core.Op {
	ops := make([]core.Op, len(g.keys))
	for i, k := range g.keys {
		ops[i] = core.Op{Type: core.Invoke, F: Read, Key: k}
	}
	return ops
}

// state is a register's state in Model: absent, or holding v.
type state struct {
	present bool
	v       int64
}

// input is an operation as Model steps it.
type input struct {
	f   string
	arg int64 // write: the value; cas: the expected value
	new int64 // cas: the value set
}

// output is an operation's result as Model steps it.
type output struct {
	known   bool  // false for an indeterminate operation
	present bool  // read: whether a value was read
	v       int64 // read: the value read
}

// Model is the sequential specification of one register for
// checkers.Linearizable. A key starts absent. A read that returned v is
// legal only when the register holds v (nil: only when absent); a write
// sets its value; a successful cas [old,new] is legal only when the
// register holds old, and sets new. An indeterminate write or cas is
// always legal: a write sets its value, a cas sets new when the register
// holds old and changes nothing otherwise (and since its interval stays
// open, it may also take effect never). An indeterminate read is left out.
type Model struct{}

var _ checkers.Model = Model{}

// Operation converts a paired register operation for Step: ok and info
// writes and cas are kept, ok reads are kept, info reads are left out.
// Values are the typed ones of the package comment (int and int32 are also
// accepted for integers, and a two-element []int64 for a cas); any other
// type gives an error wrapping core.ErrBadInput, as does an unknown f.
func (Model) Operation(op checkers.Operation) (in, out any, keep bool, err error) {
	known := op.Type == core.OK
	switch op.F {
	case Read:
		if !known {
			return nil, nil, false, nil
		}
		o := output{known: true}
		if op.Output != nil {
			v, ok := asInt(op.Output)
			if !ok {
				return nil, nil, false, core.BadInput("register: read of %s returned %v (%T): want nil or int64", op.Key, op.Output, op.Output)
			}
			o.present, o.v = true, v
		}
		return input{f: Read}, o, true, nil
	case Write:
		v, ok := asInt(op.Input)
		if !ok {
			return nil, nil, false, core.BadInput("register: write to %s of %v (%T): want int64", op.Key, op.Input, op.Input)
		}
		return input{f: Write, arg: v}, output{known: known}, true, nil
	case CAS:
		pair, ok := asPair(op.Input)
		if !ok {
			return nil, nil, false, core.BadInput("register: cas on %s with %v (%T): want [2]int64", op.Key, op.Input, op.Input)
		}
		return input{f: CAS, arg: pair[0], new: pair[1]}, output{known: known}, true, nil
	}
	return nil, nil, false, core.BadInput("register: unknown operation %q on %s", op.F, op.Key)
}

// asInt accepts the integer types a hand-written history may use.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	}
	return 0, false
}

// asPair accepts [2]int64 and a two-element []int64.
func asPair(v any) ([2]int64, bool) {
	switch x := v.(type) {
	case [2]int64:
		return x, true
	case []int64:
		if len(x) == 2 {
			return [2]int64{x[0], x[1]}, true
		}
	}
	return [2]int64{}, false
}

// Init returns the absent register.
func (Model) Init() any { return state{} }

// Step reports whether the operation is legal in register state s and
// returns the state after it; it never modifies its arguments.
func (Model) Step(s, in, out any) (bool, any) {
	st, ok1 := s.(state)
	i, ok2 := in.(input)
	o, ok3 := out.(output)
	if !ok1 || !ok2 || !ok3 {
		return false, s
	}
	switch i.f {
	case Read:
		return !o.known || (o.present == st.present && o.v == st.v), st
	case Write:
		return true, state{present: true, v: i.arg}
	case CAS:
		if st.present && st.v == i.arg {
			return true, state{present: true, v: i.new}
		}
		return !o.known, st
	}
	return false, st
}

// DescribeOperation phrases an operation, for example "read returned 17",
// "write 5", "cas 3 → 4 succeeded" or "cas 3 → 4 (outcome unknown)".
func (Model) DescribeOperation(in, out any) string {
	i, _ := in.(input)
	o, _ := out.(output)
	var s string
	switch i.f {
	case Read:
		if !o.present {
			return "read returned null"
		}
		return fmt.Sprintf("read returned %d", o.v)
	case Write:
		s = fmt.Sprintf("write %d", i.arg)
	case CAS:
		s = fmt.Sprintf("cas %d → %d", i.arg, i.new)
		if o.known {
			return s + " succeeded"
		}
	default:
		return fmt.Sprintf("%v -> %v", in, out)
	}
	if !o.known {
		s += " (outcome unknown)"
	}
	return s
}

// DescribeState phrases a register state: its value, or "absent".
func (Model) DescribeState(s any) string {
	st, _ := s.(state)
	if !st.present {
		return "absent"
	}
	return strconv.FormatInt(st.v, 10)
}

var _ checkers.UniqueRegister = Model{}

// RegisterOp describes an operation in the model's states for the
// checker's unique-values algorithm: a read returns the state it saw
// (absent for nil), a write sets its value, and a cas [old, new] expects
// old and sets new. Since the workload writes every value once, its keys
// are decided without search. ok is false for an input Operation did not
// make.
func (Model) RegisterOp(in, out any) (checkers.RegisterOp, bool) {
	i, ok1 := in.(input)
	o, ok2 := out.(output)
	if !ok1 || !ok2 {
		return checkers.RegisterOp{}, false
	}
	switch i.f {
	case Read:
		return checkers.RegisterOp{Kind: checkers.RegisterRead, Value: state{present: o.present, v: o.v}}, true
	case Write:
		return checkers.RegisterOp{Kind: checkers.RegisterWrite, Value: state{present: true, v: i.arg}}, true
	case CAS:
		return checkers.RegisterOp{Kind: checkers.RegisterCAS, Value: state{present: true, v: i.new}, Old: state{present: true, v: i.arg}}, true
	}
	return checkers.RegisterOp{}, false
}

var _ checkers.Reducer = Model{}

// Reduce uses the uniqueness of written values to tame indeterminate
// writes and cas operations, whose open intervals otherwise make the search
// exponential. Only a value installed by exactly one operation is touched:
//   - if nothing ever reads it or expects it in a cas, the indeterminate
//     operation that installs it can be left out: a linearization with it
//     gives one without it (placed last, it changes nothing anybody saw);
//   - if a completed read or cas saw it, the operation that installs it
//     took effect before the earliest such completion, so its interval
//     closes there.
//
// Leaving an operation out can make another value unreferenced, so the
// rules repeat until nothing changes.
func (Model) Reduce(items []checkers.Item) {
	type use struct {
		installers int
		refs       int   // reads that returned it and cas that expect it
		seen       int64 // earliest completion of a definite observation
	}
	for changed := true; changed; {
		changed = false
		uses := map[int64]*use{}
		get := func(v int64) *use {
			u := uses[v]
			if u == nil {
				u = &use{seen: math.MaxInt64}
				uses[v] = u
			}
			return u
		}
		for _, it := range items {
			if it.Drop {
				continue
			}
			in, _ := it.Input.(input)
			out, _ := it.Output.(output)
			switch in.f {
			case Write:
				get(in.arg).installers++
			case CAS:
				get(in.new).installers++
				u := get(in.arg)
				u.refs++
				if out.known {
					u.seen = min(u.seen, it.Return)
				}
			case Read:
				if out.known && out.present {
					u := get(out.v)
					u.refs++
					u.seen = min(u.seen, it.Return)
				}
			}
		}
		for i := range items {
			it := &items[i]
			if !it.Indeterminate || it.Drop {
				continue
			}
			in, _ := it.Input.(input)
			v := in.arg
			switch in.f {
			case CAS:
				v = in.new
			case Write:
			default:
				continue
			}
			u := uses[v]
			if u == nil || u.installers != 1 {
				continue
			}
			if u.refs == 0 {
				it.Drop, changed = true, true
				continue
			}
			if u.seen < it.Return {
				it.Return = u.seen
			}
		}
	}
}
