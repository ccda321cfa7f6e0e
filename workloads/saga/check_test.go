package saga_test

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/saga"
)

// builder writes saga histories by hand, one event a millisecond.
type builder struct {
	h    core.History
	proc int
}

func (b *builder) ev(p int, typ core.Type, f, key string, v any) int {
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: int64(i) * 1e6, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	return i
}

// order is the order named id, of account a1, amount 5, item i2.
func order(id string) saga.Order {
	return saga.Order{ID: id, Account: "a1", Item: "i2", Amount: 5}
}

// place adds a whole order operation of id ending typ (with outcome on
// ok).
func (b *builder) place(id string, typ core.Type, outcome string, failed string) {
	b.proc++
	b.ev(b.proc, core.Invoke, saga.FOrder, "", order(id))
	var v any
	if typ == core.OK {
		v = saga.Outcome{Outcome: outcome, Failed: failed}
	}
	b.ev(b.proc, typ, saga.FOrder, "", v)
}

// open adds an order invocation that never completes.
func (b *builder) open(id string) {
	b.proc++
	b.ev(b.proc, core.Invoke, saga.FOrder, "", order(id))
}

// effect is step of the order named id as its service records it.
func effect(id, step string) saga.Effect {
	e := saga.Effect{Order: id, Step: step}
	if saga.ServiceOf(step) == saga.Payment {
		e.Account, e.Amount = "a1", 5
	} else {
		e.Item = "i2"
	}
	return e
}

// reads adds a settle and whole reads of every service (the steps given
// as "o1/charge", …) and of the orchestrator's states ("o1=completed",
// "o2=compensated/ship", "o3=shipping").
func (b *builder) reads(steps []string, states ...string) {
	b.proc++
	b.ev(b.proc, core.Invoke, saga.FSettle, "", saga.SettleRead{WaitMS: 10})
	b.ev(b.proc, core.OK, saga.FSettle, "", saga.Settled{})
	by := map[string][]saga.Effect{}
	for _, s := range steps {
		id, step, _ := strings.Cut(s, "/")
		svc := saga.ServiceOf(step)
		by[svc] = append(by[svc], effect(id, step))
	}
	for _, svc := range saga.Services {
		b.effects(svc, saga.EffectsPage{Effects: by[svc], Total: int64(len(by[svc]))})
	}
	var os []saga.OrderState
	for _, s := range states {
		id, st, _ := strings.Cut(s, "=")
		state, failed, _ := strings.Cut(st, "/")
		os = append(os, saga.OrderState{ID: id, State: state, Failed: failed})
	}
	b.orders(saga.OrdersPage{Orders: os, Total: int64(len(os))})
}

func (b *builder) effects(svc string, p saga.EffectsPage) {
	b.proc++
	if p.Effects == nil {
		p.Effects = []saga.Effect{}
	}
	b.ev(b.proc, core.Invoke, saga.FEffects, svc, saga.Page{From: p.From, Count: saga.PageSize})
	b.ev(b.proc, core.OK, saga.FEffects, svc, p)
}

func (b *builder) orders(p saga.OrdersPage) {
	b.proc++
	if p.Orders == nil {
		p.Orders = []saga.OrderState{}
	}
	b.ev(b.proc, core.Invoke, saga.FOrders, saga.Orchestrator, saga.Page{From: p.From, Count: saga.PageSize})
	b.ev(b.proc, core.OK, saga.FOrders, saga.Orchestrator, p)
}

// check runs both checkers on b's history.
func check(t *testing.T, b *builder) (core.CheckResult, core.CheckResult) {
	t.Helper()
	rs := saga.Workload{}.Check(context.Background(), b.h, workloads.CheckOptions{})
	if len(rs) != 2 || rs[0].Checker != saga.EffectsChecker || rs[1].Checker != saga.CompletenessChecker {
		t.Fatalf("checkers: %+v", rs)
	}
	return rs[0], rs[1]
}

var (
	completedSteps = []string{"/charge", "/reserve", "/ship"}
	atReserveSteps = []string{"/charge", "/refund"}
	atShipSteps    = []string{"/charge", "/reserve", "/release", "/refund"}
)

// stepsOf names steps of the order id: stepsOf("o1", completedSteps).
func stepsOf(id string, steps []string) []string {
	var out []string
	for _, s := range steps {
		out = append(out, id+s)
	}
	return out
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestValidHistories: orders completed, compensated at either step,
// failed, of unknown outcome (carried out whole, compensated, or never
// recorded) and never completed: both checkers say valid and count them.
func TestValidHistories(t *testing.T) {
	b := &builder{}
	b.place("o1", core.OK, saga.Completed, "")
	b.place("o2", core.OK, saga.Compensated, saga.Reserve)
	b.place("o3", core.OK, saga.Compensated, saga.Ship)
	b.place("o4", core.Fail, "", "")
	b.place("o5", core.Info, "", "")
	b.place("o6", core.Info, "", "")
	b.place("o7", core.Info, "", "")
	b.open("o8")
	b.reads(concat(stepsOf("o1", completedSteps), stepsOf("o2", atReserveSteps), stepsOf("o3", atShipSteps),
		stepsOf("o5", completedSteps), stepsOf("o6", atShipSteps), stepsOf("o8", atReserveSteps)),
		"o1=completed", "o2=compensated/reserve", "o3=compensated/ship", "o5=completed", "o6=compensated/ship", "o8=compensated/reserve")
	eff, comp := check(t, b)
	if eff.Verdict != core.Valid || !strings.HasPrefix(eff.Summary, "each step at most once: 3 orders acknowledged (1 completed, 2 compensated)") {
		t.Errorf("effects: %s: %s", eff.Verdict, eff.Summary)
	}
	ed := eff.Details.(*saga.EffectsDetails)
	// 3 acknowledged orders × 5 steps, of which 9 carried out; 4 orders of
	// unknown outcome × 5 steps, of which 3+4+2 carried out.
	want := effects.Counts{IDs: 40, Attempts: 40, Acknowledged: 9, Failed: 5 + 6, Indeterminate: 20, IndeterminateApplied: 9, IndeterminateNotApplied: 11, Effects: 18}
	if ed.Steps != want {
		t.Errorf("effects counts %+v, want %+v", ed.Steps, want)
	}
	if comp.Verdict != core.Valid {
		t.Fatalf("completeness: %s: %s", comp.Verdict, comp.Summary)
	}
	cd := comp.Details.(*saga.CompletenessDetails)
	if cd.Completed != 2 || cd.Compensated != 4 || cd.CompensatedAt[saga.Reserve] != 2 || cd.CompensatedAt[saga.Ship] != 2 || cd.NotStarted != 2 || cd.Orders != 8 {
		t.Errorf("completeness details %+v (%s)", cd, comp.Summary)
	}
}

// TestPagedRecords: records read in several pages make one record; a
// missing page leaves the service unread and both verdicts unknown.
func TestPagedRecords(t *testing.T) {
	build := func(withSecond bool) *builder {
		b := &builder{}
		b.place("o1", core.OK, saga.Completed, "")
		b.place("o2", core.OK, saga.Completed, "")
		b.effects(saga.Payment, saga.EffectsPage{Effects: []saga.Effect{effect("o1", saga.Charge)}, From: 0, Total: 2})
		if withSecond {
			b.effects(saga.Payment, saga.EffectsPage{Effects: []saga.Effect{effect("o2", saga.Charge)}, From: 1, Total: 2})
		}
		b.effects(saga.Inventory, saga.EffectsPage{Effects: []saga.Effect{effect("o1", saga.Reserve), effect("o2", saga.Reserve)}, Total: 2})
		b.effects(saga.Shipping, saga.EffectsPage{Effects: []saga.Effect{effect("o1", saga.Ship), effect("o2", saga.Ship)}, Total: 2})
		b.orders(saga.OrdersPage{Orders: []saga.OrderState{{ID: "o1", State: saga.Completed}}, Total: 2})
		b.orders(saga.OrdersPage{Orders: []saga.OrderState{{ID: "o2", State: saga.Completed}}, From: 1, Total: 2})
		return b
	}
	eff, comp := check(t, build(true))
	if eff.Verdict != core.Valid || comp.Verdict != core.Valid {
		t.Errorf("whole: %s %q / %s %q", eff.Verdict, eff.Summary, comp.Verdict, comp.Summary)
	}
	eff, comp = check(t, build(false))
	if eff.Verdict != core.Unknown || !strings.Contains(eff.Summary, "no whole record read of payment") {
		t.Errorf("effects without a page: %s %q", eff.Verdict, eff.Summary)
	}
	if comp.Verdict != core.Unknown || !strings.Contains(comp.Summary, "no whole record read of payment") {
		t.Errorf("completeness without a page: %s %q", comp.Verdict, comp.Summary)
	}
}

// TestInvalidHistories: each wrong history is invalid for the checker
// that must see it, with the anomaly kind and words expected.
func TestInvalidHistories(t *testing.T) {
	cases := map[string]struct {
		build   func(b *builder)
		checker string
		kind    string
		summary string
	}{
		"a charge redelivered and applied twice": {func(b *builder) {
			b.place("o1", core.OK, saga.Completed, "")
			b.reads(concat(stepsOf("o1", completedSteps), []string{"o1/charge"}), "o1=completed")
		}, saga.EffectsChecker, string(effects.Duplicate), "duplicate charges: 1 order charged more than once (o1)"},
		"a refund applied twice, order of unknown outcome": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads(concat(stepsOf("o1", atReserveSteps), []string{"o1/refund"}), "o1=compensated/reserve")
		}, saga.EffectsChecker, string(effects.Duplicate), "duplicate refunds: 1 order refunded more than once (o1)"},
		"a shipment applied twice": {func(b *builder) {
			b.place("o1", core.OK, saga.Completed, "")
			b.reads(concat(stepsOf("o1", completedSteps), []string{"o1/ship"}), "o1=completed")
		}, saga.EffectsChecker, string(effects.Duplicate), "duplicate shipments: 1 order shipped more than once (o1)"},
		"an acknowledged completed order never shipped": {func(b *builder) {
			b.place("o1", core.OK, saga.Completed, "")
			b.reads([]string{"o1/charge", "o1/reserve"}, "o1=completed")
		}, saga.EffectsChecker, string(effects.Missing), "missing steps: 1 step of an acknowledged order not carried out (o1/ship)"},
		"a completed order refunded": {func(b *builder) {
			b.place("o1", core.OK, saga.Completed, "")
			b.reads(concat(stepsOf("o1", completedSteps), []string{"o1/refund"}), "o1=completed")
		}, saga.EffectsChecker, string(effects.Unexpected), "unexpected steps: 1 step carried out that the order's outcome rules out (o1/refund)"},
		"a step of an order never placed": {func(b *builder) {
			b.reads([]string{"o9/charge"}, "o9=compensated/reserve")
		}, saga.EffectsChecker, string(effects.Phantom), "phantom steps"},
		"a completed order, never shipped (unknown outcome)": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads([]string{"o1/charge", "o1/reserve"}, "o1=completed")
		}, saga.CompletenessChecker, saga.KindHalfDone, "half-done: 1 order (o1)"},
		"a compensated order charged but never refunded": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads([]string{"o1/charge"}, "o1=compensated/reserve")
		}, saga.CompletenessChecker, saga.KindHalfDone, "half-done: 1 order (o1)"},
		"a compensated order shipped": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads(concat(stepsOf("o1", atShipSteps), []string{"o1/ship"}), "o1=compensated/ship")
		}, saga.CompletenessChecker, saga.KindHalfDone, "half-done"},
		"a refund without a charge": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads([]string{"o1/refund"}, "o1=compensated/reserve")
		}, saga.CompletenessChecker, saga.KindOrphan, "orphan-compensation: 1 order (o1)"},
		"a release without a reservation": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads([]string{"o1/charge", "o1/release", "o1/refund"}, "o1=compensated/ship")
		}, saga.CompletenessChecker, saga.KindOrphan, "orphan-compensation"},
		"steps of an order the orchestrator never recorded": {func(b *builder) {
			b.place("o1", core.Info, "", "")
			b.reads([]string{"o1/charge"})
		}, saga.CompletenessChecker, saga.KindUnrecorded, "unrecorded-order"},
		"an acknowledged order the orchestrator lost": {func(b *builder) {
			b.place("o1", core.OK, saga.Compensated, saga.Reserve)
			b.reads(stepsOf("o1", atReserveSteps))
		}, saga.CompletenessChecker, saga.KindLost, "lost-order"},
		"an order acknowledged completed, compensated at the end": {func(b *builder) {
			b.place("o1", core.OK, saga.Completed, "")
			b.reads(stepsOf("o1", completedSteps), "o1=compensated/ship")
		}, saga.CompletenessChecker, saga.KindOutcomeChanged, "outcome-changed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := &builder{}
			tc.build(b)
			eff, comp := check(t, b)
			res := eff
			if tc.checker == saga.CompletenessChecker {
				res = comp
			}
			if res.Verdict != core.Invalid || !strings.Contains(res.Summary, tc.summary) {
				t.Fatalf("%s: %s %q; want invalid with %q", res.Checker, res.Verdict, res.Summary, tc.summary)
			}
			found := false
			for _, a := range res.Anomalies {
				if a.Kind == tc.kind && len(a.Events) > 0 && a.Description != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s anomaly with events in %+v", tc.kind, res.Anomalies)
			}
		})
	}
}

// TestInFlightIsUnknown: an order the orchestrator still runs after the
// quiet period makes completeness unknown, never valid, and names it.
func TestInFlightIsUnknown(t *testing.T) {
	b := &builder{}
	b.place("o1", core.Info, "", "")
	b.place("o2", core.OK, saga.Completed, "")
	b.reads(concat([]string{"o1/charge"}, stepsOf("o2", completedSteps)), "o1=reserving", "o2=completed")
	eff, comp := check(t, b)
	if eff.Verdict != core.Valid {
		t.Errorf("effects: %s %q", eff.Verdict, eff.Summary)
	}
	if comp.Verdict != core.Unknown || !strings.Contains(comp.Summary, "1 order still in flight after the quiet period (o1)") {
		t.Errorf("completeness: %s %q", comp.Verdict, comp.Summary)
	}
}

// TestMalformedHistoryIsUnknown: a value of the wrong type gives unknown
// naming the problem.
func TestMalformedHistoryIsUnknown(t *testing.T) {
	b := &builder{}
	b.ev(1, core.Invoke, saga.FOrder, "", "o1")
	b.ev(1, core.OK, saga.FOrder, "", saga.Outcome{Outcome: saga.Completed})
	eff, comp := check(t, b)
	for _, r := range []core.CheckResult{eff, comp} {
		if r.Verdict != core.Unknown || !strings.Contains(r.Summary, "event 0") {
			t.Errorf("%s: %s %q", r.Checker, r.Verdict, r.Summary)
		}
	}
}
