package idempotency_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/idempotency"
)

const (
	duplicate  = string(effects.Duplicate)
	missing    = string(effects.Missing)
	unexpected = string(effects.Unexpected)
	phantom    = string(effects.Phantom)
	mismatch   = string(effects.Mismatch)
)

// TestChargesValid: histories whose ledgers hold each request at most
// once and each acknowledged one exactly once, charges of unknown
// outcome, retries and duplicate deliveries included.
func TestChargesValid(t *testing.T) {
	cases := map[string]struct {
		build func(b *builder)
		want  effects.Counts
	}{
		"acknowledged and charged once": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a1", "r2", 20, 1)
			b.ledger(1, "a0", row("r1", 10))
			b.ledger(1, "a1", row("r2", 20))
		}, effects.Counts{IDs: 2, Attempts: 2, Acknowledged: 2, Effects: 2}},
		"failed and not charged": {func(b *builder) {
			b.charge(0, core.Fail, "a0", "r1", 10, 3)
			b.ledger(1, "a0")
		}, effects.Counts{IDs: 1, Attempts: 1, Failed: 1}},
		"unknown outcome, charged": {func(b *builder) {
			b.charge(0, core.Info, "a0", "r1", 10, 3)
			b.ledger(1, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 1, Indeterminate: 1, IndeterminateApplied: 1, Effects: 1}},
		"unknown outcome, not charged": {func(b *builder) {
			b.charge(0, core.Info, "a0", "r1", 10, 0)
			b.ledger(1, "a0")
		}, effects.Counts{IDs: 1, Attempts: 1, Indeterminate: 1, IndeterminateNotApplied: 1}},
		"never completed, charged": {func(b *builder) {
			b.inv(0, "a0", "r1", 10)
			b.ledger(1, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 1, Indeterminate: 1, IndeterminateApplied: 1, Effects: 1}},
		"acknowledged on the third try, charged once": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 3)
			b.ledger(1, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 1, Acknowledged: 1, Effects: 1}},
		"delivered twice at once, both acknowledged, charged once": {func(b *builder) {
			b.inv(0, "a0", "r1", 10)
			b.inv(1, "a0", "r1", 10)
			b.done(1, core.OK, "a0", 1)
			b.done(0, core.OK, "a0", 2)
			b.ledger(2, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 2, Acknowledged: 1, Effects: 1}},
		"delivered twice, one acknowledged, one of unknown outcome": {func(b *builder) {
			b.inv(0, "a0", "r1", 10)
			b.inv(1, "a0", "r1", 10)
			b.done(0, core.Info, "a0", 3)
			b.done(1, core.OK, "a0", 1)
			b.ledger(2, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 2, Acknowledged: 1, Effects: 1}},
		"delivered twice, both of unknown outcome, charged once": {func(b *builder) {
			b.charge(0, core.Info, "a0", "r1", 10, 3)
			b.charge(1, core.Info, "a0", "r1", 10, 3)
			b.ledger(2, "a0", row("r1", 10))
		}, effects.Counts{IDs: 1, Attempts: 2, Indeterminate: 1, IndeterminateApplied: 1, Effects: 1}},
		"ledger read in pages": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a0", "r2", 20, 1)
			b.charge(0, core.Info, "a0", "r3", 30, 3)
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10), row("r3", 30)}, From: 0, Total: 3})
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r2", 20)}, From: 2, Total: 3})
			b.page(1, "a0", idempotency.LedgerState{From: 4, Total: 3})
		}, effects.Counts{IDs: 3, Attempts: 3, Acknowledged: 2, Indeterminate: 1, IndeterminateApplied: 1, Effects: 3}},
		"the last ok read of a page counts": {func(b *builder) {
			b.ledger(1, "a0", row("r1", 10))
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.ledger(1, "a0", row("r1", 10))
			b.ev(1, core.Invoke, idempotency.Ledger, "a0", nil)
			b.ev(1, core.Fail, idempotency.Ledger, "a0", nil)
		}, effects.Counts{IDs: 1, Attempts: 1, Acknowledged: 1, Effects: 1}},
		"no charges, empty ledgers": {func(b *builder) {
			b.ledger(1, "a0")
			b.ledger(1, "a1")
		}, effects.Counts{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			res, d := check(t, b.h)
			if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
				t.Fatalf("verdict %s (%s), want valid:%s", res.Verdict, res.Summary, dump(res.Anomalies))
			}
			if !strings.HasPrefix(res.Summary, "no duplicate charges: ") {
				t.Errorf("summary %q", res.Summary)
			}
			if d.Requests != tc.want || len(d.NoLedger) != 0 {
				t.Errorf("counts %+v, want %+v; no ledger of %v", d.Requests, tc.want, d.NoLedger)
			}
		})
	}
}

func TestValidSummary(t *testing.T) {
	b := newBuilder(t)
	b.charge(0, core.OK, "a0", "r1", 10, 1)
	b.charge(0, core.OK, "a0", "r2", 20, 2)
	b.charge(0, core.OK, "a0", "r2", 20, 1)
	b.charge(0, core.Fail, "a1", "r3", 30, 3)
	b.charge(1, core.Info, "a1", "r4", 40, 3)
	b.ledger(2, "a0", row("r1", 10), row("r2", 20))
	b.ledger(2, "a1")
	res, d := check(t, b.h)
	want := "no duplicate charges: 2 requests acknowledged and charged once, 1 failed and not charged, 1 of unknown outcome (0 charged once, 1 not) on 2 accounts; 1 request delivered twice, 3 charges retried"
	if res.Summary != want {
		t.Errorf("summary %q\n want %q", res.Summary, want)
	}
	if d.Charges != 5 || d.Redelivered != 1 || d.Retried != 3 || d.Rows != 2 || d.Accounts != 2 {
		t.Errorf("details %+v", d)
	}
}

// TestChargesInvalid: histories whose ledgers went wrong; each must be
// invalid with exactly the anomalies listed, the first naming the events
// and account given, and the summary naming what broke.
func TestChargesInvalid(t *testing.T) {
	type want struct {
		kinds   map[string]int
		key     string
		events  []int // all in the first anomaly
		summary string
	}
	cases := map[string]func(b *builder) want{
		"a retried charge applied twice": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 2)
			b.charge(0, core.OK, "a0", "r2", 20, 1)
			l := b.ledger(1, "a0", row("r1", 10), row("r2", 20), row("r1", 10))
			return want{map[string]int{duplicate: 1}, "a0", cat(c, l),
				"duplicate charges: 1 request id charged more than once (r1)"}
		},
		"a request delivered twice at once, charged twice": func(b *builder) want {
			i0 := b.inv(0, "a0", "r1", 10)
			i1 := b.inv(1, "a0", "r1", 10)
			c0 := b.done(0, core.OK, "a0", 1)
			c1 := b.done(1, core.OK, "a0", 1)
			b.charge(0, core.OK, "a1", "r2", 20, 1)
			b.charge(1, core.OK, "a1", "r2", 20, 1)
			l0 := b.ledger(2, "a0", row("r1", 10), row("r1", 10))
			b.ledger(2, "a1", row("r2", 20), row("r2", 20))
			return want{map[string]int{duplicate: 2}, "a0", cat([]int{i0, i1, c0, c1}, l0),
				"duplicate charges: 2 request ids charged more than once (r1, r2)"}
		},
		"a charge of unknown outcome applied twice": func(b *builder) want {
			c := b.charge(0, core.Info, "a0", "r1", 10, 3)
			l := b.ledger(1, "a0", row("r1", 10), row("r1", 10))
			return want{map[string]int{duplicate: 1}, "a0", cat(c, l),
				"duplicate charges: 1 request id charged more than once (r1)"}
		},
		"an acknowledged charge missing": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.Info, "a0", "r2", 20, 3)
			b.ledger(1, "a0")
			return want{map[string]int{missing: 1}, "a0", c,
				"lost charges: 1 acknowledged charge not in the ledger (r1)"}
		},
		"a redelivered charge acknowledged once, missing": func(b *builder) want {
			c0 := b.charge(0, core.Info, "a0", "r1", 10, 3)
			c1 := b.charge(1, core.OK, "a0", "r1", 10, 1)
			b.ledger(2, "a0")
			return want{map[string]int{missing: 1}, "a0", cat(c0, c1),
				"lost charges: 1 acknowledged charge not in the ledger (r1)"}
		},
		"a failed charge in the ledger": func(b *builder) want {
			c := b.charge(0, core.Fail, "a0", "r1", 10, 3)
			l := b.ledger(1, "a0", row("r1", 10))
			return want{map[string]int{unexpected: 1}, "a0", cat(c, l),
				"failed charges applied: 1 charge that failed on every attempt is in the ledger (r1)"}
		},
		"phantom rows": func(b *builder) want {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			l0 := b.ledger(1, "a0", row("r1", 10), row("r7", 70), row("r7", 70))
			b.ledger(1, "a1", row("", 5))
			return want{map[string]int{phantom: 2}, "a0", l0,
				`phantom charges: 2 request ids never sent are in the ledger (r7, "")`}
		},
		"a row of another amount": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			l := b.ledger(1, "a0", row("r1", 11))
			return want{map[string]int{mismatch: 1}, "a0", cat(c, l),
				"mismatched charges: 1 ledger row disagrees with its request (r1)"}
		},
		"a row in another account": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.ledger(1, "a0")
			l := b.ledger(1, "a1", row("r1", 10))
			return want{map[string]int{missing: 0, mismatch: 1}, "a0", cat(c, l),
				"mismatched charges: 1 ledger row disagrees with its request (r1)"}
		},
		"a duplicate found in the second page": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a0", "r2", 20, 1)
			p0 := b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10), row("r2", 20)}, Total: 3})
			p1 := b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, From: 2, Total: 3})
			return want{map[string]int{duplicate: 1}, "a0", cat(c, p0, p1),
				"duplicate charges: 1 request id charged more than once (r1)"}
		},
		"invalid beats an account without a ledger": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a1", "r2", 20, 1)
			l := b.ledger(1, "a0", row("r1", 10), row("r1", 10))
			return want{map[string]int{duplicate: 1}, "a0", cat(c, l),
				"duplicate charges: 1 request id charged more than once (r1); no whole ledger read of a1"}
		},
		"every kind at once": func(b *builder) want {
			c := b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a0", "r2", 20, 1)
			b.charge(0, core.Fail, "a0", "r3", 30, 3)
			b.charge(0, core.OK, "a0", "r4", 40, 1)
			l := b.ledger(1, "a0", row("r1", 10), row("r1", 10), row("r3", 30), row("r9", 90), row("r4", 41))
			return want{map[string]int{duplicate: 1, missing: 1, unexpected: 1, phantom: 1, mismatch: 1}, "a0", cat(c, l),
				"duplicate charges: 1 request id charged more than once (r1); lost charges: 1 acknowledged charge not in the ledger (r2); " +
					"failed charges applied: 1 charge that failed on every attempt is in the ledger (r3); phantom charges: 1 request id never sent is in the ledger (r9); " +
					"mismatched charges: 1 ledger row disagrees with its request (r4)"}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			w := build(b)
			maps.DeleteFunc(w.kinds, func(_ string, n int) bool { return n == 0 })
			res, d := check(t, b.h)
			if res.Verdict != core.Invalid {
				t.Fatalf("verdict %s (%s), want invalid", res.Verdict, res.Summary)
			}
			if got := kinds(res.Anomalies); !maps.Equal(got, w.kinds) || !maps.Equal(d.Anomalies, w.kinds) {
				t.Fatalf("anomalies %v (details %v), want %v:%s", got, d.Anomalies, w.kinds, dump(res.Anomalies))
			}
			if a := res.Anomalies[0]; a.Key != w.key || !hasEvents(a, w.events...) {
				t.Errorf("first anomaly on %s with events %v, want %s and all of %v: %s", a.Key, a.Events, w.key, w.events, a.Description)
			}
			if res.Summary != w.summary {
				t.Errorf("summary %q\n want %q", res.Summary, w.summary)
			}
		})
	}
}

// TestAnomalyDescription pins the sentence of a duplicate charge.
func TestAnomalyDescription(t *testing.T) {
	b := newBuilder(t)
	b.charge(0, core.Info, "a0", "r1", 10, 3)
	b.charge(1, core.OK, "a0", "r1", 10, 1)
	b.ledger(2, "a0", row("r1", 10), row("r1", 10))
	res, _ := check(t, b.h)
	want := "request r1 took effect 2 times, at most once allowed: row 1 of a0's ledger (read at event 5), row 2 of a0's ledger (read at event 5); attempts: info at events 0, 1; ok at events 2, 3"
	if len(res.Anomalies) != 1 || res.Anomalies[0].Description != want {
		t.Errorf("anomalies:%s\n want one: %s", dump(res.Anomalies), want)
	}
}

func TestChargesUnknown(t *testing.T) {
	cases := map[string]struct {
		build   func(b *builder)
		summary string
	}{
		"no ledger read of an account with charges": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a1", "r2", 20, 1)
			b.ledger(1, "a0", row("r1", 10))
		}, "charges unknown; no whole ledger read of a1 (1 request acknowledged"},
		"the ledger read failed": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.ev(1, core.Invoke, idempotency.Ledger, "a0", nil)
			b.ev(1, core.Fail, idempotency.Ledger, "a0", nil)
		}, "charges unknown; no whole ledger read of a0"},
		"a page missing": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, Total: 2})
		}, "charges unknown; no whole ledger read of a0"},
		"a page came back short": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, Total: 2})
			b.page(1, "a0", idempotency.LedgerState{From: 1, Total: 2})
		}, "charges unknown; no whole ledger read of a0"},
		"pages disagree on the length": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10)}, Total: 2})
			b.page(1, "a0", idempotency.LedgerState{Rows: []idempotency.Row{row("r1", 10), row("r1", 10)}, From: 1, Total: 3})
		}, "charges unknown; no whole ledger read of a0"},
		"an ok charge without a value": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 0)
		}, "cannot check the charges: event 1: ok charge of r1 on a0 without a value"},
		"a charge value of the wrong type": {func(b *builder) {
			b.inv(0, "a0", "r1", 10)
			b.ev(0, core.OK, idempotency.Charge, "a0", int64(1))
		}, "cannot check the charges: event 1: charge of r1 on a0: completion value 1 (int64): want idempotency.ChargeResult"},
		"an invocation without a request": {func(b *builder) {
			b.ev(0, core.Invoke, idempotency.Charge, "a0", nil)
		}, "cannot check the charges: event 0: charge on a0: invocation value <nil> (<nil>): want idempotency.ChargeRequest"},
		"one request id, two amounts": {func(b *builder) {
			b.charge(0, core.OK, "a0", "r1", 10, 1)
			b.charge(0, core.OK, "a0", "r1", 11, 1)
		}, "cannot check the charges: request r1 was sent as amount 10 for a0 (attempts at events 0, 1) and as amount 11 for a0 (attempts at events 2, 3)"},
		"an ok ledger read without a value": {func(b *builder) {
			b.ev(1, core.Invoke, idempotency.Ledger, "a0", nil)
			b.ev(1, core.OK, idempotency.Ledger, "a0", nil)
		}, "cannot check the charges: event 1: ok ledger read of a0 without a value"},
		"a malformed history": {func(b *builder) {
			b.done(0, core.OK, "a0", 1)
		}, "cannot check the charges: event 0: ok completion of charge by process 0 has no open invocation"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			res, _ := check(t, b.h)
			if res.Verdict != core.Unknown || !strings.HasPrefix(res.Summary, tc.summary) {
				t.Errorf("%s %q, want unknown beginning %q", res.Verdict, res.Summary, tc.summary)
			}
		})
	}

	b := newBuilder(t)
	b.charge(0, core.OK, "a0", "r1", 10, 1)
	b.ledger(1, "a0", row("r1", 10))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := idempotency.CheckCharges(ctx, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "interrupted") {
		t.Errorf("cancelled: %s %q, want unknown, interrupted", res.Verdict, res.Summary)
	}
}
