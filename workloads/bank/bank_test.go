package bank_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
)

func firstOps(w bank.Workload, seed uint64, keys, n int) []core.Op {
	g := w.NewGenerator(keys, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	ops := make([]core.Op, n)
	for i := range ops {
		op, ok := g.Next()
		if !ok {
			panic("generator ended")
		}
		ops[i] = op
	}
	return ops
}

func TestWorkloadIdentity(t *testing.T) {
	var w workloads.Workload = bank.Workload{}
	if w.Name() != "bank" || w.Description() == "" {
		t.Errorf("name %q, description %q", w.Name(), w.Description())
	}
	if b := (bank.Workload{}).InitialBalance(); b != 100 {
		t.Errorf("default balance %d, want 100", b)
	}
	if b := (bank.Workload{Balance: -3}).InitialBalance(); b != 100 {
		t.Errorf("balance -3 gives %d, want the default", b)
	}
	if b := (bank.Workload{Balance: 7}).InitialBalance(); b != 7 {
		t.Errorf("balance 7 gives %d", b)
	}
}

func TestAccounts(t *testing.T) {
	for _, c := range []struct {
		rule        string
		keys, total int
	}{
		{"", 0, 2}, {"", 1, 2}, {"", 3, 3}, {"", 4, 4}, {"", 1e6, bank.MaxAccounts},
		{bank.RuleTotal, 5, 5}, {"nonsense", 5, 5},
		{bank.RuleJoint, 1, 2}, {bank.RuleJoint, 3, 4}, {bank.RuleJoint, 4, 4}, {bank.RuleJoint, 1e6, bank.MaxAccounts},
	} {
		if got := (bank.Workload{Rule: c.rule}).Accounts(c.keys); got != c.total {
			t.Errorf("rule %q, %d keys: %d accounts, want %d", c.rule, c.keys, got, c.total)
		}
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	for _, w := range []bank.Workload{{}, {Rule: bank.RuleJoint, Balance: 10}} {
		a, b := firstOps(w, 42, 6, 2000), firstOps(w, 42, 6, 2000)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("rule %q: same seed gave different sequences", w.Rule)
		}
		if c := firstOps(w, 43, 6, 2000); reflect.DeepEqual(a, c) {
			t.Fatalf("rule %q: different seeds gave the same sequence", w.Rule)
		}
	}
}

// TestGeneratorTotalRule: reads of every account and transfers between two
// distinct accounts, about 40/60, amounts 1..5, no withdrawal.
func TestGeneratorTotalRule(t *testing.T) {
	const keys, n = 5, 10000
	counts := map[string]int{}
	amounts := map[int64]int{}
	pairs := map[[2]string]int{}
	for i, op := range firstOps(bank.Workload{Balance: 30}, 7, keys, n) {
		if op.Type != core.Invoke || op.Key != "" {
			t.Fatalf("op %d: %+v, want an invocation without a key", i, op)
		}
		counts[op.F]++
		switch op.F {
		case bank.ReadF:
			if op.Value != (bank.ReadRequest{Accounts: keys, Balance: 30}) {
				t.Fatalf("op %d: read request %#v", i, op.Value)
			}
		case bank.TransferF:
			v, ok := op.Value.(bank.Transfer)
			if !ok || v.Validate() != nil {
				t.Fatalf("op %d: transfer value %#v", i, op.Value)
			}
			amounts[v.Amount]++
			pairs[[2]string{v.From, v.To}]++
		default:
			t.Fatalf("op %d: f %q under the total rule", i, op.F)
		}
	}
	if r := counts[bank.ReadF]; r < 3700 || r > 4300 {
		t.Errorf("%d reads in %d, want about 40%%", r, n)
	}
	for a := int64(1); a <= bank.MaxAmount; a++ {
		if c := amounts[a]; c < 1000 || c > 1400 {
			t.Errorf("amount %d drawn %d times in %d transfers, want about a fifth", a, c, counts[bank.TransferF])
		}
	}
	if len(amounts) != bank.MaxAmount {
		t.Errorf("amounts drawn: %v", amounts)
	}
	// Every ordered pair of distinct accounts, about equally.
	if len(pairs) != keys*(keys-1) {
		t.Errorf("%d ordered pairs of accounts, want %d: %v", len(pairs), keys*(keys-1), pairs)
	}
	for p, c := range pairs {
		if c < 200 || c > 400 {
			t.Errorf("transfer %s→%s drawn %d times, want about 300", p[0], p[1], c)
		}
	}
}

// TestGeneratorJointRule: reads, transfers and withdrawals about
// 30/30/40; transfers and withdrawals stay within a pair; an odd number of
// keys is rounded up so every account has its pair.
func TestGeneratorJointRule(t *testing.T) {
	const keys, n = 5, 10000
	counts := map[string]int{}
	accounts := map[string]int{}
	for i, op := range firstOps(bank.Workload{Rule: bank.RuleJoint}, 11, keys, n) {
		counts[op.F]++
		switch op.F {
		case bank.ReadF:
			if op.Value != (bank.ReadRequest{Accounts: 6, Balance: bank.DefaultJointBalance}) {
				t.Fatalf("op %d: read request %#v, want 6 accounts of %d", i, op.Value, bank.DefaultJointBalance)
			}
		case bank.TransferF:
			v := op.Value.(bank.Transfer)
			if v.Validate() != nil || !paired(v.From, v.To) {
				t.Fatalf("op %d: transfer %+v is not within a pair", i, v)
			}
		case bank.WithdrawF:
			v, ok := op.Value.(bank.Withdrawal)
			if !ok || v.Validate() != nil || !paired(v.Account, v.Pair) || v.Amount > bank.MaxAmount {
				t.Fatalf("op %d: withdrawal %#v", i, op.Value)
			}
			accounts[v.Account]++
		case bank.DepositF:
			v, ok := op.Value.(bank.Deposit)
			if !ok || v.Validate() != nil || v.Amount > bank.MaxAmount {
				t.Fatalf("op %d: deposit %#v", i, op.Value)
			}
		default:
			t.Fatalf("op %d: f %q", i, op.F)
		}
	}
	for f, want := range map[string]int{bank.ReadF: 3000, bank.TransferF: 2000, bank.WithdrawF: 3000, bank.DepositF: 2000} {
		if c := counts[f]; c < want-300 || c > want+300 {
			t.Errorf("%d %s ops in %d, want about %d", c, f, n, want)
		}
	}
	for i := range 6 {
		if c := accounts[bank.AccountName(i)]; c < 380 || c > 640 {
			t.Errorf("withdrawals from a%d: %d, want about %d", i, c, counts[bank.WithdrawF]/6)
		}
	}
}

// paired reports whether a and b are the two accounts of one pair.
func paired(a, b string) bool {
	var i, j int
	if _, err := fmt.Sscanf(a, "a%d", &i); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "a%d", &j); err != nil {
		return false
	}
	return i != j && i/2 == j/2
}

func TestFinalReads(t *testing.T) {
	for _, w := range []bank.Workload{{}, {Rule: bank.RuleJoint, Balance: 5}} {
		reads := w.NewGenerator(3, nil).FinalReads()
		want := bank.ReadRequest{Accounts: w.Accounts(3), Balance: w.InitialBalance()}
		if len(reads) != 1 || reads[0].Type != core.Invoke || reads[0].F != bank.ReadF || reads[0].Value != want {
			t.Errorf("rule %q: final reads %+v, want one read of %+v", w.Rule, reads, want)
		}
	}
}

func TestDecodeValue(t *testing.T) {
	w := bank.Workload{}
	good := []struct {
		f    string
		t    core.Type
		raw  string
		want any
	}{
		{bank.TransferF, core.Invoke, `{"from":"a0","to":"a3","amount":4}`, tr("a0", "a3", 4)},
		{bank.TransferF, core.OK, `{"from":"a0","to":"a3","amount":4}`, tr("a0", "a3", 4)},
		{bank.TransferF, core.Fail, `{"from":"a0","to":"a3","amount":4}`, tr("a0", "a3", 4)},
		{bank.TransferF, core.Fail, `null`, nil},
		{bank.TransferF, core.Info, `null`, nil},
		{bank.WithdrawF, core.Invoke, `{"account":"a1","pair":"a0","amount":2}`, wd("a1", "a0", 2)},
		{bank.WithdrawF, core.OK, `{"account":"a1","pair":"a0","amount":2}`, wd("a1", "a0", 2)},
		{bank.WithdrawF, core.Info, `null`, nil},
		{bank.ReadF, core.Invoke, `{"accounts":4,"balance":100}`, req},
		{bank.ReadF, core.OK, `{"a0":100,"a1":-3,"a2":0,"a3":103}`, bal(100, -3, 0, 103)},
		{bank.ReadF, core.OK, `{}`, bank.Balances{}},
		{bank.ReadF, core.Fail, `null`, nil},
		{bank.ReadF, core.Info, `null`, nil},
		{bank.ReadF, core.Info, `{"a0":1}`, bank.Balances{"a0": 1}},
	}
	for _, c := range good {
		got, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if err != nil {
			t.Errorf("DecodeValue(%s, %s, %s): %v", c.f, c.t, c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeValue(%s, %s, %s) = %#v, want %#v", c.f, c.t, c.raw, got, c.want)
		}
	}
	bad := []struct {
		f   string
		t   core.Type
		raw string
	}{
		{bank.TransferF, core.Invoke, `null`},
		{bank.TransferF, core.OK, `null`},
		{bank.TransferF, core.Invoke, `[1,2]`},
		{bank.TransferF, core.Invoke, `{"from":"a0","to":"a0","amount":1}`},
		{bank.TransferF, core.Invoke, `{"from":"a0","to":"a1","amount":0}`},
		{bank.TransferF, core.Invoke, `{"from":"a0","amount":1}`},
		{bank.TransferF, core.Invoke, `{"from":"a0","to":"a1","amount":1.5}`},
		{bank.TransferF, core.Invoke, `{"from":"a0","to":"a1","amount":1,"note":"x"}`},
		{bank.WithdrawF, core.Invoke, `null`},
		{bank.WithdrawF, core.OK, `null`},
		{bank.WithdrawF, core.Invoke, `{"account":"a0","pair":"a0","amount":1}`},
		{bank.WithdrawF, core.Invoke, `{"account":"a0","amount":1}`},
		{bank.WithdrawF, core.Invoke, `{"account":"a0","pair":"a1","amount":-2}`},
		{bank.ReadF, core.Invoke, `null`},
		{bank.ReadF, core.Invoke, `{"accounts":1,"balance":100}`},
		{bank.ReadF, core.Invoke, `{"accounts":4,"balance":-1}`},
		{bank.ReadF, core.Invoke, `{"accounts":4,"balance":100,"rule":"joint"}`},
		{bank.ReadF, core.OK, `null`},
		{bank.ReadF, core.OK, `[100,100]`},
		{bank.ReadF, core.OK, `{"a0":"100"}`},
		{bank.ReadF, core.OK, `{"a0":1.5}`},
		{bank.ReadF, core.OK, `{"a0":99999999999999999999}`},
		{bank.ReadF, core.OK, `{"":1}`},
		{"refund", core.Invoke, `{"account":"a0","amount":1}`},
	}
	for _, c := range bad {
		_, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("DecodeValue(%s, %s, %s) error %v, want one wrapping ErrBadInput", c.f, c.t, c.raw, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bank: ") || !strings.Contains(err.Error(), c.f) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line naming bank and %s", err, c.f)
		}
	}
}

// TestHistoryFileRoundTrip writes a joint-rule history with the history
// writer, reads it back with DecodeValue, and checks that the values and
// the checkers' results are the same (a write skew found both times).
func TestHistoryFileRoundTrip(t *testing.T) {
	b := newBuilder(t)
	b.read(0, 1, 0, bal(100, 100, 100, 100))
	b.start(2, "partition")
	b.ev(3, 1, core.Invoke, bank.WithdrawF, wd("a0", "a1", 5))
	b.ev(3, 2, core.Invoke, bank.TransferF, tr("a2", "a3", 2))
	b.ev(5, 1, core.OK, bank.WithdrawF, wd("a0", "a1", 5))
	b.ev(6, 2, core.Info, bank.TransferF, nil)
	b.transfer(6, 7, 3, core.Fail, tr("a3", "a2", 200))
	b.ev(8, 4, core.Invoke, bank.WithdrawF, wd("a1", "a0", 3))
	b.ev(9, 4, core.Info, bank.WithdrawF, nil)
	b.read(10, 11, 0, bal(-100, 95, 98, 102))
	b.stop(12, "partition")

	var buf bytes.Buffer
	wr := history.NewWriterTo(&buf)
	for _, e := range b.h {
		if err := wr.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := history.Read(&buf, bank.Workload{}.DecodeValue)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(b.h) {
		t.Fatalf("read back %d events, wrote %d", len(back), len(b.h))
	}
	for i := range back {
		if back[i].Process == core.NemesisProcess {
			continue
		}
		if !reflect.DeepEqual(back[i], b.h[i]) {
			t.Errorf("event %d read back as\n %#v, wrote\n %#v", i, back[i], b.h[i])
		}
	}
	t1, b1 := checkAll(t, "", b.h)
	t2, b2 := checkAll(t, "", back)
	if !reflect.DeepEqual(t1, t2) || !reflect.DeepEqual(b1, b2) {
		t.Errorf("results differ after the round trip:\n %+v\n %+v\n %+v\n %+v", t1, t2, b1, b2)
	}
	// The withdrawals put the history under the joint rule even though the
	// workload was built with the default rule.
	if t1.Verdict != core.Invalid || b1.Verdict != core.Invalid || kinds(b1.Anomalies)[bank.WriteSkewKind] != 1 {
		t.Errorf("totals %s (%s), balances %s (%s); want both invalid with one write skew", t1.Verdict, t1.Summary, b1.Verdict, b1.Summary)
	}
}

func TestWithRule(t *testing.T) {
	for _, rule := range []string{bank.RuleTotal, bank.RuleJoint} {
		w, err := bank.Workload{}.WithRule(rule)
		if err != nil {
			t.Fatalf("WithRule(%q): %v", rule, err)
		}
		if got := w.(workloads.Ruler).RuleInForce(); got != rule {
			t.Errorf("WithRule(%q).RuleInForce() = %q", rule, got)
		}
	}
	if got := (bank.Workload{}).RuleInForce(); got != bank.RuleTotal {
		t.Errorf("the zero workload's rule is %q, want total", got)
	}
	for _, rule := range []string{"", "Joint", "pairs"} {
		if _, err := (bank.Workload{}).WithRule(rule); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("WithRule(%q) = %v, want bad input", rule, err)
		}
	}
}
