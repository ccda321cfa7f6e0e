package saga_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/saga"
)

// TestDecodeValueRoundTrips: every value the clients write decodes back
// to itself.
func TestDecodeValueRoundTrips(t *testing.T) {
	cases := []struct {
		f   string
		typ core.Type
		v   any
	}{
		{saga.FOrder, core.Invoke, saga.Order{ID: "o1", Account: "a0", Item: "i3", Amount: 7}},
		{saga.FOrder, core.OK, saga.Outcome{Outcome: saga.Completed}},
		{saga.FOrder, core.OK, saga.Outcome{Outcome: saga.Compensated, Failed: saga.Ship}},
		{saga.FOrder, core.Info, nil},
		{saga.FOrder, core.Fail, nil},
		{saga.FSettle, core.Invoke, saga.SettleRead{WaitMS: 10000}},
		{saga.FSettle, core.OK, saga.Settled{InFlight: 3}},
		{saga.FEffects, core.Invoke, saga.Page{From: 1000, Count: 1000}},
		{saga.FEffects, core.OK, saga.EffectsPage{Effects: []saga.Effect{{Order: "o1", Step: saga.Charge, Account: "a1", Amount: 3}, {Order: "o1", Step: saga.Ship, Item: "i1"}}, From: 0, Total: 2}},
		{saga.FEffects, core.Info, nil},
		{saga.FOrders, core.OK, saga.OrdersPage{Orders: []saga.OrderState{{ID: "o1", State: saga.Compensated, Failed: saga.Reserve}}, From: 4, Total: 5}},
	}
	for _, c := range cases {
		raw, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := saga.Workload{}.DecodeValue(c.f, c.typ, raw)
		if err != nil || !reflect.DeepEqual(got, c.v) {
			t.Errorf("%s %s %s: got %#v, %v", c.f, c.typ, raw, got, err)
		}
	}
}

// TestDecodeValueIsStrict: unknown fields, wrong shapes, impossible
// values and unknown operations are bad input.
func TestDecodeValueIsStrict(t *testing.T) {
	cases := []struct {
		f   string
		typ core.Type
		raw string
	}{
		{saga.FOrder, core.Invoke, `{"id":"o1","account":"a0","item":"i1","amount":3,"extra":1}`},
		{saga.FOrder, core.Invoke, `{"id":"","account":"a0","item":"i1","amount":3}`},
		{saga.FOrder, core.Invoke, `{"id":"o1","account":"a0","item":"i1","amount":0}`},
		{saga.FOrder, core.Invoke, `null`},
		{saga.FOrder, core.OK, `null`},
		{saga.FOrder, core.OK, `{"outcome":"done"}`},
		{saga.FOrder, core.OK, `{"outcome":"completed","failed":"ship"}`},
		{saga.FOrder, core.OK, `{"outcome":"compensated","failed":"charge"}`},
		{saga.FOrder, core.OK, `{"outcome":"completed"} {}`},
		{saga.FSettle, core.OK, `{"in_flight":-1}`},
		{saga.FEffects, core.Invoke, `{"from":0,"count":0}`},
		{saga.FEffects, core.OK, `{"effects":[{"order":"o1","step":"steal"}],"from":0,"total":1}`},
		{saga.FEffects, core.OK, `{"effects":[{"order":"o1","step":"charge"}],"from":0,"total":0}`},
		{saga.FOrders, core.OK, `{"orders":[{"id":"o1"}],"from":0,"total":1}`},
		{saga.FOrders, core.OK, `[]`},
		{"cancel", core.Invoke, `null`},
	}
	for _, c := range cases {
		if v, err := (saga.Workload{}).DecodeValue(c.f, c.typ, json.RawMessage(c.raw)); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s %s %s: got %#v, %v; want bad input", c.f, c.typ, c.raw, v, err)
		}
	}
}

// TestGenerator: the same seed gives the same orders, ids count up, and
// the final reads open with the settles and read every service and the
// orchestrator in pages from 0.
func TestGenerator(t *testing.T) {
	gen := func() []core.Op {
		g := saga.Workload{}.NewGenerator(3, rand.New(rand.NewPCG(7, 1)))
		var ops []core.Op
		for range 300 {
			op, ok := g.Next()
			if !ok {
				t.Fatal("generator ran out")
			}
			ops = append(ops, op)
		}
		return append(ops, g.FinalReads()...)
	}
	a, b := gen(), gen()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two sequences")
	}
	for i, op := range a[:300] {
		o := op.Value.(saga.Order)
		if op.F != saga.FOrder || o.ID != saga.OrderID(int64(i+1)) || o.Validate() != nil {
			t.Fatalf("op %d: %+v", i, op)
		}
	}
	final := a[300:]
	for i := range saga.SettleReads {
		if final[i].F != saga.FSettle {
			t.Fatalf("final read %d is %s, want settle", i, final[i].F)
		}
	}
	pages := map[string]int{}
	for _, op := range final[saga.SettleReads:] {
		p := op.Value.(saga.Page)
		if p.From != int64(pages[op.Key])*saga.PageSize || p.Count != saga.PageSize {
			t.Fatalf("page %+v of %s out of order", p, op.Key)
		}
		pages[op.Key]++
	}
	// 300 orders, two steps each of up to four deliveries: 2400 rows,
	// three pages of 1000; one page of orders.
	want := map[string]int{saga.Payment: 3, saga.Inventory: 3, saga.Shipping: 3, saga.Orchestrator: 1}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages %v, want %v", pages, want)
	}
}

// TestFailsAt: about one order in seven fails at each step, and the same
// id always fails at the same step.
func TestFailsAt(t *testing.T) {
	n := map[string]int{}
	for i := range int64(7000) {
		id := saga.OrderID(i + 1)
		if saga.FailsAt(id) != saga.FailsAt(id) {
			t.Fatal("FailsAt is not a function of the id")
		}
		n[saga.FailsAt(id)]++
	}
	for _, step := range []string{saga.Reserve, saga.Ship} {
		if n[step] < 800 || n[step] > 1200 {
			t.Errorf("%d of 7000 orders fail at %s, want about 1000", n[step], step)
		}
	}
}
