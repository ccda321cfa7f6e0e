package lock_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/lock"
)

// ms converts milliseconds to nanoseconds.
func ms(x int64) int64 { return x * 1e6 }

// builder writes lock histories by hand. Events must be added in time
// order (times in milliseconds since the run started); each gets the next
// index.
type builder struct {
	t *testing.T
	h core.History
}

func newBuilder(t *testing.T) *builder { return &builder{t: t} }

// ev adds one event and returns its index.
func (b *builder) ev(at int64, p int, typ core.Type, f, key string, v any) int {
	b.t.Helper()
	if n := len(b.h); n > 0 && b.h[n-1].Time > ms(at) {
		b.t.Fatalf("event at %d ms added after one at %d ns", at, b.h[n-1].Time)
	}
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: ms(at), Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	return i
}

// inv invokes a cycle on key at ms.
func (b *builder) inv(at int64, p int, key string) int {
	return b.ev(at, p, core.Invoke, lock.Cycle, key, lock.CycleRequest{HoldNS: ms(10)})
}

// done completes process p's cycle on key at ms with typ and v.
func (b *builder) done(at int64, p int, typ core.Type, key string, v any) int {
	return b.ev(at, p, typ, lock.Cycle, key, v)
}

// cycle adds a whole cycle, invoked at from and completed at to, and
// returns its events.
func (b *builder) cycle(from, to int64, p int, typ core.Type, key string, v any) []int {
	return []int{b.inv(from, p, key), b.done(to, p, typ, key, v)}
}

// final adds an ok final read of key at ms returning st, and returns its
// events.
func (b *builder) final(at int64, p int, key string, st lock.ResourceState) []int {
	return []int{
		b.ev(at, p, core.Invoke, lock.Resource, key, nil),
		b.ev(at, p, core.OK, lock.Resource, key, st),
	}
}

// held is a whole successful cycle of holder with token: acquired acq ms
// after the invocation, read read, wrote read+1 a millisecond later, began
// to release rel ms after the invocation.
func held(holder string, token, read, acq, rel int64) lock.CycleValue {
	return lock.CycleValue{
		Holder: holder, Token: token,
		Acquire: lock.Done, AcquiredNS: ms(acq),
		Read: lock.Done, ReadValue: read,
		Write: lock.Done, WriteStartNS: ms(acq + 1),
		Release: lock.Done, ReleaseStartNS: ms(rel),
	}
}

// refused is a cycle whose acquire was refused.
func refused(holder string) lock.CycleValue {
	return lock.CycleValue{Holder: holder, Acquire: lock.Refused}
}

// record builds a resource state, numbering the accesses from 1.
func record(fencing bool, value int64, accs ...lock.Access) lock.ResourceState {
	for i := range accs {
		accs[i].Seq = int64(i + 1)
	}
	return lock.ResourceState{Value: value, Fencing: fencing, Accesses: accs}
}

// rd and wr are accepted reads and writes; rejected makes one rejected.
func rd(holder string, token, v int64) lock.Access {
	return lock.Access{Op: lock.AccessRead, Holder: holder, Token: token, Value: v, Accepted: true}
}

func wr(holder string, token, v int64) lock.Access {
	return lock.Access{Op: lock.AccessWrite, Holder: holder, Token: token, Value: v, Accepted: true}
}

func rejected(a lock.Access) lock.Access { a.Accepted = false; return a }

// checkAll runs the workload's checkers and returns them by name.
func checkAll(t *testing.T, h core.History) (mutex, resource core.CheckResult) {
	t.Helper()
	res := lock.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
	if len(res) != 2 || res[0].Checker != lock.MutualExclusionChecker || res[1].Checker != lock.ResourceChecker {
		t.Fatalf("Check returned %d results %v, want mutual-exclusion then resource", len(res), names(res))
	}
	return res[0], res[1]
}

func names(res []core.CheckResult) []string {
	var out []string
	for _, r := range res {
		out = append(out, r.Checker)
	}
	return out
}

// kinds counts anomalies by kind.
func kinds(as []core.Anomaly) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		m[a.Kind]++
	}
	return m
}

// hasEvents reports whether a's events include every one of want.
func hasEvents(a core.Anomaly, want ...int) bool {
	for _, w := range want {
		if !slices.Contains(a.Events, w) {
			return false
		}
	}
	return true
}

func dump(as []core.Anomaly) string {
	s := ""
	for _, a := range as {
		s += fmt.Sprintf("\n  %s %s %v: %s", a.Kind, a.Key, a.Events, a.Description)
	}
	return s
}
