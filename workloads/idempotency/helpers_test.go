package idempotency_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/idempotency"
)

// builder writes idempotency histories by hand. Events get consecutive
// times (a millisecond apart) and indices.
type builder struct {
	t *testing.T
	h core.History
}

func newBuilder(t *testing.T) *builder { return &builder{t: t} }

// ev adds one event and returns its index.
func (b *builder) ev(p int, typ core.Type, f, key string, v any) int {
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: int64(i) * 1e6, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	return i
}

// inv invokes process p's charge of id on key for amt.
func (b *builder) inv(p int, key, id string, amt int64) int {
	return b.ev(p, core.Invoke, idempotency.Charge, key, idempotency.ChargeRequest{RequestID: id, Amount: amt, MaxAttempts: 3})
}

// done completes process p's charge on key with typ after tries attempts
// (nil value when tries is 0): the tries before the last failed with
// "timeout", and the last too unless typ is ok.
func (b *builder) done(p int, typ core.Type, key string, tries int) int {
	if tries == 0 {
		return b.ev(p, typ, idempotency.Charge, key, nil)
	}
	v := idempotency.ChargeResult{Attempts: tries}
	errs := tries
	if typ == core.OK {
		errs--
	}
	for range errs {
		v.Errors = append(v.Errors, "timeout")
	}
	return b.ev(p, typ, idempotency.Charge, key, v)
}

// charge adds a whole charge, and returns its events.
func (b *builder) charge(p int, typ core.Type, key, id string, amt int64, tries int) []int {
	return []int{b.inv(p, key, id, amt), b.done(p, typ, key, tries)}
}

// ledger adds an ok read of key's whole ledger holding rows, and returns
// its events.
func (b *builder) ledger(p int, key string, rows ...idempotency.Row) []int {
	return b.page(p, key, idempotency.LedgerState{Rows: rows})
}

// page adds an ok final read of key returning st, and returns its events.
func (b *builder) page(p int, key string, st idempotency.LedgerState) []int {
	if st.Rows == nil {
		st.Rows = []idempotency.Row{}
	}
	return []int{
		b.ev(p, core.Invoke, idempotency.Ledger, key, idempotency.LedgerRead{From: st.From, Count: idempotency.PageSize}),
		b.ev(p, core.OK, idempotency.Ledger, key, st),
	}
}

// row is a ledger row.
func row(id string, amt int64) idempotency.Row { return idempotency.Row{RequestID: id, Amount: amt} }

// check runs the workload's checker and returns its one result.
func check(t *testing.T, h core.History) (core.CheckResult, *idempotency.Details) {
	t.Helper()
	res := idempotency.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
	if len(res) != 1 || res[0].Checker != idempotency.Checker {
		t.Fatalf("Check returned %d results %+v, want one of %s", len(res), res, idempotency.Checker)
	}
	d, _ := res[0].Details.(*idempotency.Details)
	return res[0], d
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

func cat(evs ...[]int) []int {
	var out []int
	for _, e := range evs {
		out = append(out, e...)
	}
	return out
}
