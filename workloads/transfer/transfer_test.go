package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
	"github.com/faultline/faultline/workloads/transfer"
)

func newGen(seed uint64, keys int) workloads.Generator {
	return transfer.Workload{}.NewGenerator(keys, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
}

func firstOps(g workloads.Generator, n int) []core.Op {
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
	var w workloads.Workload = transfer.Workload{}
	if w.Name() != "transfer" || w.Description() == "" {
		t.Errorf("name %q, description %q", w.Name(), w.Description())
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	a, b := firstOps(newGen(42, 5), 2000), firstOps(newGen(42, 5), 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	if c := firstOps(newGen(43, 5), 2000); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same sequence")
	}
	if n, m := firstOps(transfer.Workload{}.NewGenerator(5, nil), 100), firstOps(transfer.Workload{}.NewGenerator(5, rand.New(rand.NewPCG(0, 0))), 100); !reflect.DeepEqual(n, m) {
		t.Error("a nil rng is not one seeded with zero")
	}
}

// TestGeneratorOps: transfers named t1, t2, ... in order, between two
// distinct accounts of the run, amounts in range; about ReadShare tenths
// reads of every account.
func TestGeneratorOps(t *testing.T) {
	for _, keys := range []int{0, 2, 7} {
		n := bank.Workload{}.Accounts(keys)
		names := map[string]bool{}
		for i := range n {
			names[bank.AccountName(i)] = true
		}
		const total = 20_000
		reads, txs := 0, 0
		seen := map[string]bool{}
		used := map[string]int{}
		for i, op := range firstOps(newGen(7, keys), total) {
			if op.Type != core.Invoke {
				t.Fatalf("op %d: type %s", i, op.Type)
			}
			switch op.F {
			case transfer.ReadF:
				if op.Value != (bank.ReadRequest{Accounts: n, Balance: bank.DefaultBalance}) {
					t.Fatalf("op %d: read %#v, want every one of %d accounts of %d", i, op.Value, n, bank.DefaultBalance)
				}
				reads++
			case transfer.TransferF:
				tr, ok := op.Value.(bank.Transfer)
				if !ok {
					t.Fatalf("op %d: transfer value %T", i, op.Value)
				}
				txs++
				if want := transfer.TxID(txs); tr.ID != want || seen[tr.ID] {
					t.Fatalf("op %d: transaction %s, want %s (seen before: %v)", i, tr.ID, want, seen[tr.ID])
				}
				seen[tr.ID] = true
				if err := tr.Validate(); err != nil || tr.Amount > bank.MaxAmount {
					t.Fatalf("op %d: %+v: %v", i, tr, err)
				}
				for _, a := range []string{tr.From, tr.To} {
					if !names[a] {
						t.Fatalf("op %d: account %s outside a0..a%d", i, a, n-1)
					}
					used[a]++
				}
			default:
				t.Fatalf("op %d: f %q", i, op.F)
			}
		}
		if len(used) != n {
			t.Errorf("keys %d: accounts used %v, want all %d", keys, used, n)
		}
		share := float64(transfer.ReadShare) / 10
		tol := 3*math.Sqrt(share*(1-share)/total) + 1e-9
		if got := float64(reads) / total; math.Abs(got-share) > tol {
			t.Errorf("keys %d: %d reads in %d ops (%.4f), want %.1f ± %.4f", keys, reads, total, got, share, tol)
		}
	}
	if transfer.TxID(1) != "t1" || transfer.TxID(12) != "t12" {
		t.Errorf("TxID: %s, %s", transfer.TxID(1), transfer.TxID(12))
	}
}

// TestFinalReads: one read of every balance, then pages of outcomes
// enough for a record of every transfer handed out, and one more.
func TestFinalReads(t *testing.T) {
	for _, n := range []int{0, 10, 1000, 3000} {
		g := newGen(3, 4)
		txs := 0
		for _, op := range firstOps(g, n) {
			if op.F == transfer.TransferF {
				txs++
			}
		}
		ops := g.FinalReads()
		if len(ops) == 0 || ops[0].F != transfer.ReadF || ops[0].Type != core.Invoke || ops[0].Value != (bank.ReadRequest{Accounts: 4, Balance: bank.DefaultBalance}) {
			t.Fatalf("%d ops: final reads %+v, want a read first", n, ops)
		}
		pages := ops[1:]
		if want := txs/transfer.PageSize + 1; len(pages) != want {
			t.Errorf("%d transfers: %d pages, want %d", txs, len(pages), want)
		}
		for i, op := range pages {
			if op.Type != core.Invoke || op.F != transfer.OutcomesF || op.Value != (transfer.OutcomesRead{From: i * transfer.PageSize, Count: transfer.PageSize}) {
				t.Errorf("%d transfers: page %d is %+v", txs, i, op)
			}
		}
		if n == 3000 && txs < transfer.PageSize*2 {
			t.Errorf("%d transfers in 3000 ops: want several pages", txs)
		}
	}
}

func TestDecodeValue(t *testing.T) {
	w := transfer.Workload{}
	good := []struct {
		f    string
		t    core.Type
		raw  string
		want any
	}{
		{transfer.TransferF, core.Invoke, `{"id":"t1","from":"a0","to":"a2","amount":3}`, tr("t1", "a0", "a2", 3)},
		{transfer.TransferF, core.OK, `{"id":"t1","from":"a0","to":"a2","amount":3}`, tr("t1", "a0", "a2", 3)},
		{transfer.TransferF, core.Fail, `{"id":"t1","from":"a0","to":"a2","amount":3}`, tr("t1", "a0", "a2", 3)},
		{transfer.TransferF, core.Info, `null`, nil},
		{transfer.TransferF, core.Fail, ``, nil},
		{transfer.ReadF, core.Invoke, `{"accounts":4,"balance":100}`, req},
		{transfer.ReadF, core.OK, `{"a0":95,"a1":100,"a2":105,"a3":100}`, bal(95, 100, 105, 100)},
		{transfer.ReadF, core.Fail, `null`, nil},
		{transfer.ReadF, core.Fail, `{"accounts":4,"balance":100}`, req},
		{transfer.ReadF, core.Info, `{"a0":95,"a1":100,"a2":105,"a3":100}`, bal(95, 100, 105, 100)},
		{transfer.OutcomesF, core.Invoke, ` {"from":250,"count":250} `, transfer.OutcomesRead{From: 250, Count: 250}},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"committed","deltas":{"a0":-5},"in_doubt_ns":1200},{"tx":"t2","state":"aborted","deltas":{"a1":-1,"a0":1},"in_doubt_ns":0,"alone":true}],"p2":[]}`,
			transfer.Outcomes{"p1": {{Tx: "t1", State: committed, Deltas: d{"a0": -5}, InDoubtNs: 1200}, {Tx: "t2", State: aborted, Deltas: d{"a1": -1, "a0": 1}, Alone: true}}, "p2": {}}},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t3","state":"in-doubt","deltas":{"a0":-5},"in_doubt_ns":5}]}`, transfer.Outcomes{"p1": {{Tx: "t3", State: inDoubt, Deltas: d{"a0": -5}, InDoubtNs: 5}}}},
		{transfer.OutcomesF, core.OK, `{}`, transfer.Outcomes{}},
		{transfer.OutcomesF, core.Fail, `null`, nil},
		{transfer.OutcomesF, core.Info, `null`, nil},
		// The clients repeat the request on a failed or indeterminate
		// completion.
		{transfer.OutcomesF, core.Fail, `{"from":0,"count":250}`, transfer.OutcomesRead{Count: 250}},
		{transfer.OutcomesF, core.Info, `{"from":250,"count":250}`, transfer.OutcomesRead{From: 250, Count: 250}},
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
		{transfer.TransferF, core.Invoke, `{"from":"a0","to":"a2","amount":3}`},
		{transfer.TransferF, core.OK, `{"from":"a0","to":"a2","amount":3}`},
		{transfer.TransferF, core.Invoke, `{"id":"t1","from":"a0","to":"a2","amount":3,"note":"x"}`},
		{transfer.TransferF, core.Invoke, `{"id":"t1","from":"a0","to":"a0","amount":3}`},
		{transfer.TransferF, core.Invoke, `{"id":"t1","from":"a0","to":"a2","amount":0}`},
		{transfer.TransferF, core.Invoke, `null`},
		{transfer.ReadF, core.Invoke, `{"accounts":4}{}`},
		{transfer.ReadF, core.Invoke, `{"accounts":4,"balance":100,"rule":"total"}`},
		{transfer.ReadF, core.OK, `null`},
		{transfer.ReadF, core.OK, `{"a0":"x"}`},
		{transfer.OutcomesF, core.Invoke, `null`},
		{transfer.OutcomesF, core.Invoke, `{}`},
		{transfer.OutcomesF, core.Invoke, `{"from":-1,"count":5}`},
		{transfer.OutcomesF, core.Invoke, `{"from":0,"count":0}`},
		{transfer.OutcomesF, core.Invoke, `{"from":0,"count":5,"participant":"p1"}`},
		{transfer.OutcomesF, core.OK, `null`},
		{transfer.OutcomesF, core.OK, `[]`},
		{transfer.OutcomesF, core.OK, `{"p1":{}}`},
		{transfer.OutcomesF, core.OK, `{"":[]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"state":"committed","deltas":{"a0":-5},"in_doubt_ns":1}]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"done","deltas":{"a0":-5},"in_doubt_ns":1}]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"","deltas":{"a0":-5},"in_doubt_ns":1}]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"committed","deltas":{},"in_doubt_ns":1}]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"committed","deltas":{"a0":-5},"in_doubt_ns":-1}]}`},
		{transfer.OutcomesF, core.OK, `{"p1":[{"tx":"t1","state":"committed","deltas":{"a0":-5},"in_doubt_ns":1,"coordinator":"c"}]}`},
		{transfer.OutcomesF, core.OK, `{"from":0,"count":250}`},
		{transfer.OutcomesF, core.Fail, `{"from":-1,"count":250}`},
		{transfer.OutcomesF, core.Info, `[1]`},
		{"withdraw", core.Invoke, `{"account":"a0","pair":"a1","amount":1}`},
		{"deposit", core.Invoke, `{"account":"a0","amount":1}`},
		{"refund", core.Invoke, `null`},
	}
	for _, c := range bad {
		_, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("DecodeValue(%s, %s, %s) error %v, want one wrapping ErrBadInput", c.f, c.t, c.raw, err)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line", err)
		}
	}
}

// TestCheckResults: Check runs the bank workload's checkers (which never
// see the outcomes reads), then atomicity and blocking.
func TestCheckResults(t *testing.T) {
	names := []string{bank.TotalsChecker, bank.BalancesChecker, transfer.AtomicityChecker, transfer.BlockingChecker}
	check := func(h core.History) []core.CheckResult {
		t.Helper()
		res := transfer.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
		if len(res) != len(names) {
			t.Fatalf("%d results, want %v: %+v", len(res), names, res)
		}
		for i, r := range res {
			if r.Checker != names[i] {
				t.Fatalf("result %d from %q, want %q", i, r.Checker, names[i])
			}
		}
		return res
	}
	b := newBuilder(t)
	atomicRun(b)
	for _, r := range check(b.h) {
		if r.Verdict != core.Valid {
			t.Errorf("%s: %s (%s), want valid:%s", r.Checker, r.Verdict, r.Summary, dump(r.Anomalies))
		}
	}
	// A read whose total is wrong and a balance below zero are the bank
	// checkers' to find; the records are atomicity's.
	b = newBuilder(t)
	b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
	b.read(2, 3, 2, bal(-5, 100, 105, 100))
	b.outcomes(4, 5, 3, 0, transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -5})}, "p2": {}})
	res := check(b.h)
	want := []core.Verdict{core.Invalid, core.Invalid, core.Invalid, core.Valid}
	for i, r := range res {
		if r.Verdict != want[i] {
			t.Errorf("%s: %s (%s), want %s:%s", r.Checker, r.Verdict, r.Summary, want[i], dump(r.Anomalies))
		}
	}
	if k := kinds(res[2].Anomalies); k[transfer.SplitKind] != 1 || k[transfer.BalanceKind] != 2 {
		t.Errorf("atomicity anomalies %v, want a split and two balances:%s", k, dump(res[2].Anomalies))
	}
}

// TestHistoryFileRoundTrip writes histories with the history writer,
// reads them back with DecodeValue, and checks that the events and the
// checkers' results are the same.
func TestHistoryFileRoundTrip(t *testing.T) {
	for name, build := range map[string]func(b *builder){
		"atomic":   atomicRun,
		"blocking": blockingRun,
		"retried": func(b *builder) {
			b.transfer(0, 1, 1, core.Info, tr("t1", "a0", "a2", 5))
			b.transfer(2, 3, 1, core.Fail, tr("t2", "a1", "a3", 1))
			b.ev(4, 2, core.Invoke, transfer.ReadF, req)
			b.ev(5, 2, core.Fail, transfer.ReadF, nil)
			b.read(6, 7, 3, bal(95, 100, 105, 100))
			b.outcomesFailed(8, 9, 4, 0, core.Fail)
			b.outcomesFailed(10, 11, 5, 0, core.Info)
			b.outcomes(12, 13, 6, 0, transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -5})}, "p2": {rec("t1", committed, 1, d{"a2": 5})}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			build(b)
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
			back, err := history.Read(&buf, transfer.Workload{}.DecodeValue)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(b.h) {
				t.Fatalf("read back %d events, wrote %d", len(back), len(b.h))
			}
			for i := range back {
				if back[i].Process != core.NemesisProcess && !reflect.DeepEqual(back[i], b.h[i]) {
					t.Errorf("event %d read back as\n %#v, wrote\n %#v", i, back[i], b.h[i])
				}
			}
			r1 := transfer.Workload{}.Check(context.Background(), b.h, workloads.CheckOptions{})
			r2 := transfer.Workload{}.Check(context.Background(), back, workloads.CheckOptions{})
			if !reflect.DeepEqual(r1, r2) {
				t.Errorf("results differ after the round trip:\n %+v\n %+v", r1, r2)
			}
			for _, r := range r1 {
				if r.Verdict == core.Invalid || strings.Contains(r.Summary, "cannot") {
					t.Errorf("%s: %s (%s)", r.Checker, r.Verdict, r.Summary)
				}
			}
		})
	}
}
