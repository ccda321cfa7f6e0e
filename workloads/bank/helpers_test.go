package bank_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
)

// ms converts milliseconds to nanoseconds.
func ms(x int64) int64 { return x * 1e6 }

// req is the read request of the hand-written histories: 4 accounts of 100.
var req = bank.ReadRequest{Accounts: 4, Balance: 100}

// builder writes bank histories by hand. Events must be added in time
// order (times in milliseconds since the run started); each gets the next
// index.
type builder struct {
	t *testing.T
	h core.History
	// req is the request of every read the builder adds.
	req bank.ReadRequest
}

func newBuilder(t *testing.T) *builder { return &builder{t: t, req: req} }

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

// start and stop add nemesis events for fault at ms.
func (b *builder) start(at int64, fault string) int {
	return b.ev(at, core.NemesisProcess, core.Info, "start-"+fault, nil)
}

func (b *builder) stop(at int64, fault string) int {
	return b.ev(at, core.NemesisProcess, core.Info, "stop-"+fault, nil)
}

// read adds a whole read of bal by p, invoked at from and ok at to, and
// returns its events.
func (b *builder) read(from, to int64, p int, bal bank.Balances) []int {
	return []int{b.ev(from, p, core.Invoke, bank.ReadF, b.req), b.ev(to, p, core.OK, bank.ReadF, bal)}
}

// transfer adds a whole transfer completed with typ; an info transfer
// completes with nil.
func (b *builder) transfer(from, to int64, p int, typ core.Type, tr bank.Transfer) []int {
	var out any = tr
	if typ == core.Info {
		out = nil
	}
	return []int{b.ev(from, p, core.Invoke, bank.TransferF, tr), b.ev(to, p, typ, bank.TransferF, out)}
}

// withdraw adds a whole withdrawal completed with typ.
func (b *builder) withdraw(from, to int64, p int, typ core.Type, w bank.Withdrawal) []int {
	return []int{b.ev(from, p, core.Invoke, bank.WithdrawF, w), b.ev(to, p, typ, bank.WithdrawF, w)}
}

// deposit records a deposit invoked at from and completed at to.
func (b *builder) deposit(from, to int64, p int, typ core.Type, d bank.Deposit) []int {
	return []int{b.ev(from, p, core.Invoke, bank.DepositF, d), b.ev(to, p, typ, bank.DepositF, d)}
}

// dep builds a deposit.
func dep(account string, amount int64) bank.Deposit {
	return bank.Deposit{Account: account, Amount: amount}
}

// bal builds balances a0..a{n-1} from vs.
func bal(vs ...int64) bank.Balances {
	b := bank.Balances{}
	for i, v := range vs {
		b[bank.AccountName(i)] = v
	}
	return b
}

// tr and wd build a transfer and a withdrawal.
func tr(from, to string, amount int64) bank.Transfer {
	return bank.Transfer{From: from, To: to, Amount: amount}
}

func wd(account, pair string, amount int64) bank.Withdrawal {
	return bank.Withdrawal{Account: account, Pair: pair, Amount: amount}
}

// checkAll runs the workload's checkers under rule and returns them by
// name.
func checkAll(t *testing.T, rule string, h core.History) (totals, balances core.CheckResult) {
	t.Helper()
	res := bank.Workload{Rule: rule}.Check(context.Background(), h, workloads.CheckOptions{})
	if len(res) != 2 || res[0].Checker != bank.TotalsChecker || res[1].Checker != bank.BalancesChecker {
		t.Fatalf("Check returned %d results, want bank-totals then bank-balances: %+v", len(res), res)
	}
	return res[0], res[1]
}

// kinds counts anomalies by kind.
func kinds(as []core.Anomaly) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		m[a.Kind]++
	}
	return m
}

func dump(as []core.Anomaly) string {
	s := ""
	for _, a := range as {
		s += fmt.Sprintf("\n  %s %s %v: %s", a.Kind, a.Key, a.Events, a.Description)
	}
	return s
}
