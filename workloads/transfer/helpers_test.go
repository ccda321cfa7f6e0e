package transfer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/bank"
	"github.com/faultline/faultline/workloads/transfer"
)

// The hand-written histories run over 4 accounts of 100 on two
// participants: p1 holds a0 and a1, p2 holds a2 and a3.
var req = bank.ReadRequest{Accounts: 4, Balance: 100}

// ms converts milliseconds to nanoseconds.
func ms(x int64) int64 { return x * 1e6 }

// builder writes transfer histories by hand. Events must be added in time
// order (times in milliseconds since the run started); each gets the next
// index.
type builder struct {
	t *testing.T
	h core.History
}

func newBuilder(t *testing.T) *builder { return &builder{t: t} }

// ev adds one event and returns its index.
func (b *builder) ev(at int64, p int, typ core.Type, f string, v any) int {
	b.t.Helper()
	if n := len(b.h); n > 0 && b.h[n-1].Time > ms(at) {
		b.t.Fatalf("event at %d ms added after one at %d ns", at, b.h[n-1].Time)
	}
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: ms(at), Process: p, Op: core.Op{Type: typ, F: f, Value: v}})
	return i
}

// errorAt sets the error of event i.
func (b *builder) errorAt(i int, msg string) { b.h[i].Error = msg }

// start and stop add nemesis events for fault at ms.
func (b *builder) start(at int64, fault string) int {
	return b.ev(at, core.NemesisProcess, core.Info, "start-"+fault, nil)
}

func (b *builder) stop(at int64, fault string) int {
	return b.ev(at, core.NemesisProcess, core.Info, "stop-"+fault, nil)
}

// transfer adds a whole transfer by p, invoked at from and completed with
// typ at to; the completion repeats the transfer, as the clients do.
func (b *builder) transfer(from, to int64, p int, typ core.Type, t bank.Transfer) []int {
	return []int{b.ev(from, p, core.Invoke, transfer.TransferF, t), b.ev(to, p, typ, transfer.TransferF, t)}
}

// read adds a whole ok read of bal by p.
func (b *builder) read(from, to int64, p int, bal bank.Balances) []int {
	return []int{b.ev(from, p, core.Invoke, transfer.ReadF, req), b.ev(to, p, core.OK, transfer.ReadF, bal)}
}

// page is the outcomes read of page n.
func page(n int) transfer.OutcomesRead {
	return transfer.OutcomesRead{From: n * transfer.PageSize, Count: transfer.PageSize}
}

// outcomes adds an ok outcomes read of page n by p returning o.
func (b *builder) outcomes(from, to int64, p, n int, o transfer.Outcomes) []int {
	return []int{b.ev(from, p, core.Invoke, transfer.OutcomesF, page(n)), b.ev(to, p, core.OK, transfer.OutcomesF, o)}
}

// outcomesFailed adds an outcomes read of page n by p completed with typ;
// the completion repeats the request, as the clients do.
func (b *builder) outcomesFailed(from, to int64, p, n int, typ core.Type) []int {
	return []int{b.ev(from, p, core.Invoke, transfer.OutcomesF, page(n)), b.ev(to, p, typ, transfer.OutcomesF, page(n))}
}

// tr builds a transfer.
func tr(id, from, to string, amount int64) bank.Transfer {
	return bank.Transfer{ID: id, From: from, To: to, Amount: amount}
}

// rec builds a record of tx in state, held in doubt for heldMs.
func rec(tx, state string, heldMs int64, deltas map[string]int64) transfer.Record {
	return transfer.Record{Tx: tx, State: state, Deltas: deltas, InDoubtNs: ms(heldMs)}
}

// d is a record's changes.
type d = map[string]int64

// bal builds balances a0..a{n-1} from vs.
func bal(vs ...int64) bank.Balances {
	b := bank.Balances{}
	for i, v := range vs {
		b[bank.AccountName(i)] = v
	}
	return b
}

// atomicity runs CheckAtomicity and returns its result and details.
func atomicity(t *testing.T, h core.History) (core.CheckResult, transfer.AtomicityDetails) {
	t.Helper()
	res := transfer.CheckAtomicity(context.Background(), h)
	if res.Checker != transfer.AtomicityChecker {
		t.Errorf("checker %q, want %q", res.Checker, transfer.AtomicityChecker)
	}
	det, ok := res.Details.(transfer.AtomicityDetails)
	if !ok && res.Details != nil {
		t.Fatalf("details %T, want transfer.AtomicityDetails", res.Details)
	}
	return res, det
}

// blocking runs CheckBlocking and returns its result and details.
func blocking(t *testing.T, h core.History) (core.CheckResult, transfer.BlockingDetails) {
	t.Helper()
	res := transfer.CheckBlocking(context.Background(), h)
	if res.Checker != transfer.BlockingChecker {
		t.Errorf("checker %q, want %q", res.Checker, transfer.BlockingChecker)
	}
	det, ok := res.Details.(transfer.BlockingDetails)
	if !ok && res.Details != nil {
		t.Fatalf("details %T, want transfer.BlockingDetails", res.Details)
	}
	return res, det
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
