package idempotency_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/idempotency"
)

func newGen(w idempotency.Workload, seed uint64, keys int) workloads.Generator {
	return w.NewGenerator(keys, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
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
	var w workloads.Workload = idempotency.Workload{}
	if w.Name() != "idempotency" || w.Description() == "" {
		t.Errorf("name %q, description %q", w.Name(), w.Description())
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	w := idempotency.Workload{}
	a, b := firstOps(newGen(w, 42, 10), 1000), firstOps(newGen(w, 42, 10), 1000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	if c := firstOps(newGen(w, 43, 10), 1000); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same sequence")
	}
	// The duplicate rate only inserts copies: without them, the requests
	// are the same.
	none := firstOps(newGen(idempotency.Workload{Duplicates: -1}, 42, 10), 1000)
	var deduped []core.Op
	for i, op := range a {
		if i > 0 && reflect.DeepEqual(op, a[i-1]) {
			continue
		}
		deduped = append(deduped, op)
	}
	if !reflect.DeepEqual(deduped, none[:len(deduped)]) {
		t.Error("the requests depend on the duplicate rate")
	}
}

// logical splits the first n operations of g into logical requests and
// returns how many there were and how many of them were handed out twice,
// checking every operation on the way.
func logical(t *testing.T, g workloads.Generator, n, keys, attempts int) (requests, twice int) {
	t.Helper()
	ops := firstOps(g, n)
	seen := map[string]bool{}
	perKey := map[string]int{}
	for i := 0; i < len(ops); i++ {
		op := ops[i]
		r, ok := op.Value.(idempotency.ChargeRequest)
		if op.Type != core.Invoke || op.F != idempotency.Charge || !ok {
			t.Fatalf("op %d is %s %s %#v, want a charge invocation", i, op.Type, op.F, op.Value)
		}
		if r.Amount < 1 || r.Amount > idempotency.MaxAmount || r.MaxAttempts != attempts {
			t.Fatalf("op %d: %+v, want an amount in 1..%d and max_attempts %d", i, r, idempotency.MaxAmount, attempts)
		}
		if seen[r.RequestID] {
			t.Fatalf("op %d: request id %s handed out again, not right after its first", i, r.RequestID)
		}
		seen[r.RequestID] = true
		requests++
		perKey[op.Key]++
		if want := idempotency.RequestID(int64(requests)); r.RequestID != want {
			t.Fatalf("op %d: request id %s, want %s", i, r.RequestID, want)
		}
		if i+1 < len(ops) && reflect.DeepEqual(ops[i+1], op) {
			twice++
			i++
		}
	}
	for i := range keys {
		if c, want := perKey[idempotency.KeyName(i)], requests/keys; c < want*8/10 || c > want*12/10 {
			t.Errorf("account a%d drawn %d times in %d requests, want about %d", i, c, requests, want)
		}
	}
	return requests, twice
}

// TestDuplicateRate: each request is handed out a second time right after
// the first with the workload's probability, and never a third time.
func TestDuplicateRate(t *testing.T) {
	for _, tc := range []struct {
		w    idempotency.Workload
		rate float64
	}{
		{idempotency.Workload{}, idempotency.DefaultDuplicates},
		{idempotency.Workload{Duplicates: 0.5}, 0.5},
		{idempotency.Workload{Duplicates: -1}, 0},
		{idempotency.Workload{Duplicates: 3}, 1},
	} {
		if got := tc.w.DuplicateRate(); got != tc.rate {
			t.Errorf("Duplicates %v: rate %v, want %v", tc.w.Duplicates, got, tc.rate)
		}
		const n = 20_000
		requests, twice := logical(t, newGen(tc.w, 7, 5), n, 5, idempotency.DefaultMaxAttempts)
		got := float64(twice) / float64(requests)
		// Three standard deviations of a binomial share, and a little.
		tol := 3*math.Sqrt(tc.rate*(1-tc.rate)/float64(requests)) + 1e-9
		if math.Abs(got-tc.rate) > tol {
			t.Errorf("Duplicates %v: %d of %d requests handed out twice (%.4f), want %.2f ± %.4f", tc.w.Duplicates, twice, requests, got, tc.rate, tol)
		}
		if requests+twice != n {
			t.Errorf("%d requests and %d repeats in %d operations", requests, twice, n)
		}
	}
}

func TestMaxAttempts(t *testing.T) {
	for _, tc := range []struct{ set, want int }{{0, idempotency.DefaultMaxAttempts}, {-2, idempotency.DefaultMaxAttempts}, {5, 5}} {
		w := idempotency.Workload{MaxAttempts: tc.set}
		if w.Attempts() != tc.want {
			t.Errorf("MaxAttempts %d: Attempts() %d, want %d", tc.set, w.Attempts(), tc.want)
		}
		logical(t, newGen(w, 1, 2), 2000, 2, tc.want)
	}
}

func TestFinalReads(t *testing.T) {
	for _, keys := range []int{0, 1, 5} {
		reads := newGen(idempotency.Workload{}, 1, keys).FinalReads()
		want := max(keys, 1)
		if len(reads) != want {
			t.Fatalf("%d final reads for %d keys, want %d", len(reads), keys, want)
		}
		for i, op := range reads {
			if op.Type != core.Invoke || op.F != idempotency.Ledger || op.Key != fmt.Sprintf("a%d", i) ||
				op.Value != (idempotency.LedgerRead{From: 0, Count: idempotency.PageSize}) {
				t.Errorf("final read %d is %+v, want the first page of a%d", i, op, i)
			}
		}
	}
	// Enough pages for a row per try of every charge handed out, and one
	// more.
	g := newGen(idempotency.Workload{MaxAttempts: 2}, 1, 2)
	issued := map[string]int64{}
	for _, op := range firstOps(g, 5000) {
		issued[op.Key]++
	}
	pages := map[string][]int64{}
	for _, op := range g.FinalReads() {
		pages[op.Key] = append(pages[op.Key], op.Value.(idempotency.LedgerRead).From)
	}
	for k, n := range issued {
		want := 2*n/idempotency.PageSize + 1
		if int64(len(pages[k])) != want || pages[k][len(pages[k])-1] != (want-1)*idempotency.PageSize {
			t.Errorf("%s: %d charges, pages from %v; want %d pages of %d", k, n, pages[k], want, idempotency.PageSize)
		}
	}
}

func TestDecodeValue(t *testing.T) {
	w := idempotency.Workload{}
	good := []struct {
		f    string
		t    core.Type
		raw  string
		want any
	}{
		{idempotency.Charge, core.Invoke, `{"request_id":"r7","amount":42,"max_attempts":3}`, idempotency.ChargeRequest{RequestID: "r7", Amount: 42, MaxAttempts: 3}},
		{idempotency.Charge, core.Invoke, `{"request_id":"r7","amount":42}`, idempotency.ChargeRequest{RequestID: "r7", Amount: 42}},
		{idempotency.Charge, core.OK, `{"attempts":1}`, idempotency.ChargeResult{Attempts: 1}},
		{idempotency.Charge, core.OK, `{"attempts":3,"errors":["timeout","connection reset"]}`, idempotency.ChargeResult{Attempts: 3, Errors: []string{"timeout", "connection reset"}}},
		{idempotency.Charge, core.Fail, `{"attempts":2,"errors":["timeout","insufficient funds"]}`, idempotency.ChargeResult{Attempts: 2, Errors: []string{"timeout", "insufficient funds"}}},
		{idempotency.Charge, core.Info, `null`, nil},
		{idempotency.Charge, core.Info, `{"attempts":3,"errors":["timeout","timeout","timeout"]}`, idempotency.ChargeResult{Attempts: 3, Errors: []string{"timeout", "timeout", "timeout"}}},
		{idempotency.Ledger, core.Invoke, `null`, nil},
		{idempotency.Ledger, core.Invoke, `{"from":2000,"count":2000}`, idempotency.LedgerRead{From: 2000, Count: 2000}},
		{idempotency.Ledger, core.OK, `{"rows":[{"request_id":"r1","amount":10},{"request_id":"r3","amount":30}]}`, idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10), row("r3", 30)}}},
		{idempotency.Ledger, core.OK, `{"rows":[{"request_id":"r9","amount":5}],"from":2000,"total":2001}`, idempotency.LedgerState{Rows: []idempotency.Row{row("r9", 5)}, From: 2000, Total: 2001}},
		{idempotency.Ledger, core.OK, `{"rows":[],"from":4000,"total":2001}`, idempotency.LedgerState{Rows: []idempotency.Row{}, From: 4000, Total: 2001}},
		{idempotency.Ledger, core.Fail, `null`, nil},
		{idempotency.Ledger, core.Info, `null`, nil},
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
		{idempotency.Charge, core.Invoke, `null`},
		{idempotency.Charge, core.Invoke, `42`},
		{idempotency.Charge, core.Invoke, `{"amount":42}`},
		{idempotency.Charge, core.Invoke, `{"request_id":"r1","amount":0}`},
		{idempotency.Charge, core.Invoke, `{"request_id":"r1","amount":5,"max_attempts":-1}`},
		{idempotency.Charge, core.Invoke, `{"request_id":"r1","amount":5,"account":"a0"}`},
		{idempotency.Charge, core.Invoke, `{"request_id":"r1","amount":5}{}`},
		{idempotency.Charge, core.OK, `null`},
		{idempotency.Charge, core.Fail, `null`},
		{idempotency.Charge, core.OK, `{"attempts":0}`},
		{idempotency.Charge, core.OK, `{"attempts":2,"errors":["timeout","timeout"]}`},
		{idempotency.Charge, core.Fail, `{"attempts":1,"errors":["a","b"]}`},
		{idempotency.Charge, core.Info, `{"attempt":1}`},
		{idempotency.Charge, core.Info, `[1]`},
		{idempotency.Ledger, core.Invoke, `{}`},
		{idempotency.Ledger, core.Invoke, `{"from":-1,"count":5}`},
		{idempotency.Ledger, core.OK, `null`},
		{idempotency.Ledger, core.OK, `[]`},
		{idempotency.Ledger, core.OK, `{"rows":[{"request_id":"r1","amount":1,"note":"x"}]}`},
		{idempotency.Ledger, core.OK, `{"rows":[{"request_id":"r1","amount":1},{"request_id":"r2","amount":1}],"from":1,"total":2}`},
		{idempotency.Ledger, core.Info, `{"rows":[],"from":-3}`},
		{"refund", core.Invoke, `null`},
	}
	for _, c := range bad {
		_, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("DecodeValue(%s, %s, %s) error %v, want one wrapping ErrBadInput", c.f, c.t, c.raw, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "idempotency: ") || !strings.Contains(err.Error(), c.f) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line naming idempotency and %s", err, c.f)
		}
	}
}

// TestHistoryFileRoundTrip writes a history with the history writer,
// reads it back with DecodeValue, and checks that the values and the
// checker's result are the same.
func TestHistoryFileRoundTrip(t *testing.T) {
	b := newBuilder(t)
	b.ev(core.NemesisProcess, core.Info, "start-partition", "", map[string]any{"shape": "halves"})
	b.inv(0, "a0", "r1", 10)
	b.inv(1, "a0", "r1", 10)
	b.done(0, core.OK, "a0", 2)
	b.done(1, core.Info, "a0", 0)
	b.charge(2, core.Fail, "a1", "r2", 20, 3)
	b.charge(3, core.Info, "a1", "r3", 30, 3)
	b.page(4, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, Total: 2})
	b.page(4, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, From: 1, Total: 2})
	b.ledger(4, "a1", row("r2", 20))
	b.ev(5, core.Invoke, idempotency.Ledger, "a2", nil)
	b.ev(5, core.Fail, idempotency.Ledger, "a2", nil)

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
	back, err := history.Read(&buf, idempotency.Workload{}.DecodeValue)
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
	r1, _ := check(t, b.h)
	r2, _ := check(t, back)
	if !reflect.DeepEqual(r1, r2) {
		t.Errorf("results differ after the round trip:\n %+v\n %+v", r1, r2)
	}
	if r1.Verdict != core.Invalid || len(r1.Anomalies) != 2 {
		t.Errorf("%s %q with %d anomalies; want invalid with a duplicate and a failed charge applied:%s", r1.Verdict, r1.Summary, len(r1.Anomalies), dump(r1.Anomalies))
	}
}
