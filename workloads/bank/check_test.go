package bank_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/bank"
)

// TestValidHistories: histories a correct bank could have produced, with
// failed and indeterminate transfers and withdrawals, reads during faults,
// and invocations that never completed. Both checkers must pass them.
func TestValidHistories(t *testing.T) {
	cases := map[string]struct {
		rule  string
		build func(b *builder)
		// joint is the rule the checkers must say they applied.
		joint bool
		// reads is how many ok reads they must have judged.
		reads int
	}{
		"transfers of every outcome, reads during a partition": {reads: 6, build: func(b *builder) {
			b.read(0, 1, 0, bal(100, 100, 100, 100))
			b.start(2, "partition")
			b.transfer(3, 5, 1, core.OK, tr("a0", "a1", 3))
			b.read(6, 7, 0, bal(97, 103, 100, 100))
			b.transfer(8, 9, 1, core.Fail, tr("a2", "a3", 500)) // refused: not enough in a2
			b.transfer(10, 12, 1, core.Info, tr("a2", "a3", 4))
			b.read(13, 14, 0, bal(97, 103, 100, 100)) // the info transfer not (yet) applied
			b.stop(15, "partition")
			b.read(16, 17, 0, bal(97, 103, 96, 104))                    // now it is
			b.ev(18, 2, core.Invoke, bank.TransferF, tr("a1", "a0", 5)) // never completes
			b.read(19, 20, 0, bal(102, 98, 96, 104))
			b.read(30, 31, 3, bal(102, 98, 96, 104)) // the final read
		}},
		"a balance at exactly zero, failed and unknown reads": {reads: 2, build: func(b *builder) {
			b.transfer(0, 1, 1, core.OK, tr("a0", "a1", 100))
			b.read(2, 3, 0, bal(0, 200, 100, 100))
			b.ev(4, 0, core.Invoke, bank.ReadF, req)
			b.ev(5, 0, core.Fail, bank.ReadF, nil)
			b.ev(6, 0, core.Invoke, bank.ReadF, req)
			b.ev(7, 0, core.Info, bank.ReadF, nil)
			b.read(8, 9, 0, bal(0, 200, 100, 100))
		}},
		"a kill that never stops": {reads: 2, build: func(b *builder) {
			b.start(0, "kill")
			b.transfer(1, 2, 1, core.Info, tr("a3", "a0", 1))
			b.read(3, 4, 0, bal(101, 100, 100, 99))
			b.read(5, 6, 0, bal(101, 100, 100, 99))
		}},
		"joint: withdrawals acknowledged, failed, concurrent and unknown": {joint: true, reads: 6, build: func(b *builder) {
			b.withdraw(0, 2, 1, core.OK, wd("a0", "a1", 5))
			b.read(3, 4, 0, bal(95, 100, 100, 100)) // 395
			b.withdraw(5, 6, 1, core.Fail, wd("a2", "a3", 500))
			// A withdrawal concurrent with two reads: one sees it, one does not.
			b.ev(7, 1, core.Invoke, bank.WithdrawF, wd("a3", "a2", 4))
			b.read(8, 9, 0, bal(95, 100, 100, 100))  // 395
			b.read(10, 11, 2, bal(95, 100, 100, 96)) // 391
			b.ev(12, 1, core.OK, bank.WithdrawF, wd("a3", "a2", 4))
			// An info withdrawal: not yet applied, then applied.
			b.withdraw(13, 14, 1, core.Info, wd("a1", "a0", 2))
			b.start(15, "partition")
			b.read(16, 17, 0, bal(95, 100, 100, 96)) // 391
			b.read(18, 19, 0, bal(95, 98, 100, 96))  // 389
			b.stop(20, "partition")
			b.read(21, 22, 0, bal(95, 98, 100, 96))
		}},
		"joint: deposits acknowledged, failed, concurrent and unknown": {joint: true, reads: 6, build: func(b *builder) {
			b.deposit(0, 1, 1, core.OK, dep("a0", 5))
			b.read(2, 3, 0, bal(105, 100, 100, 100)) // 405
			b.deposit(4, 5, 1, core.Fail, dep("a1", 9))
			// A deposit concurrent with two reads: one sees it, one does not.
			b.ev(6, 1, core.Invoke, bank.DepositF, dep("a2", 4))
			b.read(7, 8, 0, bal(105, 100, 100, 100))  // 405
			b.read(9, 10, 2, bal(105, 100, 104, 100)) // 409
			b.ev(11, 1, core.OK, bank.DepositF, dep("a2", 4))
			// An info deposit next to an acknowledged withdrawal: not yet
			// applied, then applied.
			b.deposit(12, 13, 1, core.Info, dep("a3", 2))
			b.withdraw(14, 15, 2, core.OK, wd("a0", "a1", 10))
			b.read(16, 17, 0, bal(95, 100, 104, 100)) // 399
			b.read(18, 19, 0, bal(95, 100, 104, 102)) // 401
			b.read(20, 21, 3, bal(95, 100, 104, 102))
		}},
		"joint: an account below zero that its pair covers": {joint: true, reads: 2, build: func(b *builder) {
			b.withdraw(0, 1, 1, core.OK, wd("a0", "a1", 105))
			b.read(2, 3, 0, bal(-5, 100, 100, 100)) // pair a0+a1 at 95
			b.withdraw(4, 5, 1, core.OK, wd("a1", "a0", 95))
			b.read(6, 7, 0, bal(-5, 5, 100, 100)) // pair at 0
		}},
		"joint rule chosen without withdrawals: a negative account is allowed": {rule: bank.RuleJoint, joint: true, reads: 1, build: func(b *builder) {
			b.transfer(0, 1, 1, core.OK, tr("a3", "a2", 103))
			b.read(2, 3, 0, bal(100, 100, 203, -3))
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			totals, balances := checkAll(t, tc.rule, b.h)
			for _, res := range []struct {
				name string
				r    core.CheckResult
			}{{"totals", totals}, {"balances", balances}} {
				if res.r.Verdict != core.Valid || len(res.r.Anomalies) != 0 {
					t.Errorf("%s: verdict %s (%s), want valid:%s", res.name, res.r.Verdict, res.r.Summary, dump(res.r.Anomalies))
				}
			}
			td := totals.Details.(*bank.TotalsDetails)
			bd := balances.Details.(*bank.BalancesDetails)
			wantRule := bank.RuleTotal
			if tc.joint {
				wantRule = bank.RuleJoint
			}
			if td.Rule != wantRule || bd.Rule != wantRule || td.Reads.OK != tc.reads || bd.Reads != tc.reads {
				t.Errorf("rules %s, %s; %d and %d ok reads; want %s and %d", td.Rule, bd.Rule, td.Reads.OK, bd.Reads, wantRule, tc.reads)
			}
		})
	}
}

// TestValidSummaries: what a valid result says.
func TestValidSummaries(t *testing.T) {
	b := newBuilder(t)
	b.transfer(0, 1, 1, core.Info, tr("a0", "a1", 1))
	b.read(2, 3, 0, bal(100, 100, 100, 100))
	totals, balances := checkAll(t, "", b.h)
	if totals.Summary != "total 400 in all 1 ok read (4 accounts × 100); 1 transfer of unknown outcome" {
		t.Errorf("totals summary %q", totals.Summary)
	}
	if balances.Summary != "no negative balance in 1 ok read" {
		t.Errorf("balances summary %q", balances.Summary)
	}
	b = newBuilder(t)
	b.withdraw(0, 1, 1, core.OK, wd("a0", "a1", 5))
	b.withdraw(2, 3, 1, core.Info, wd("a2", "a3", 2))
	b.read(4, 5, 0, bal(95, 100, 100, 100))
	totals, balances = checkAll(t, "", b.h)
	if totals.Summary != "totals agree with the withdrawals and deposits in all 1 ok read: 400 at first, 5 acknowledged withdrawn, 0 deposited, 395 at the last read (give or take 2 withdrawn and 0 deposited of unknown outcome)" {
		t.Errorf("totals summary %q", totals.Summary)
	}
	if balances.Summary != "no pair below zero in 1 ok read" {
		t.Errorf("balances summary %q", balances.Summary)
	}
}

// wrongRead is what a test expects of one anomaly.
type wrongRead struct {
	kind, key string
	events    []int
	// phrases must all appear in the description.
	phrases []string
}

// TestInvalidHistories: each history breaks a rule; the checkers must say
// which, on which read (its events, process and time), what it saw and
// what was expected, and the fault active while it ran.
func TestInvalidHistories(t *testing.T) {
	type want struct {
		totals, balances []wrongRead
		// summaries are the exact summaries of the checkers that fail.
		totalsSummary, balancesSummary string
	}
	cases := map[string]func(b *builder) want{
		"joint: a deposit lost": func(b *builder) want {
			b.deposit(0, 1, 1, core.OK, dep("a0", 5))
			b.withdraw(2, 3, 1, core.OK, wd("a1", "a0", 3))
			r := b.read(4, 5, 0, bal(100, 97, 100, 100))
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"saw a total of 397, expected 402 (400 less 3 withdrawn by withdrawals acknowledged before it began, plus 5 put in by deposits acknowledged before it began): 5 lost"}}},
				totalsSummary: "wrong totals: 1 of 1 read (1 with no fault active)",
			}
		},
		"joint: more money than every possible deposit put in": func(b *builder) want {
			b.deposit(0, 1, 1, core.Info, dep("a0", 5))
			b.ev(2, 2, core.Invoke, bank.DepositF, dep("a1", 3))
			r := b.read(3, 4, 0, bal(105, 104, 100, 100))
			b.ev(5, 2, core.OK, bank.DepositF, dep("a1", 3))
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"saw a total of 409, expected 400 to 408 (400 plus up to 8 by deposits concurrent with it or of unknown outcome): 1 created"}}},
				totalsSummary: "wrong totals: 1 of 1 read (1 with no fault active)",
			}
		},
		"joint: write skew with deposits about": func(b *builder) want {
			b.deposit(0, 1, 1, core.OK, dep("a0", 2))
			b.withdraw(2, 3, 1, core.OK, wd("a0", "a1", 100))
			// Two withdrawals at once each see the pair at 102 and take 60.
			b.ev(4, 1, core.Invoke, bank.WithdrawF, wd("a0", "a1", 60))
			b.ev(4, 2, core.Invoke, bank.WithdrawF, wd("a1", "a0", 60))
			b.ev(5, 1, core.OK, bank.WithdrawF, wd("a0", "a1", 60))
			b.ev(5, 2, core.OK, bank.WithdrawF, wd("a1", "a0", 60))
			r := b.read(6, 7, 0, bal(-58, 40, 100, 100))
			return want{
				balances:        []wrongRead{{kind: bank.WriteSkewKind, key: "a0+a1", events: r, phrases: []string{"pair a0+a1", "-18"}}},
				balancesSummary: "write skew: pair a0+a1 at -18 in 1 read",
			}
		},
		"a wrong total": func(b *builder) want {
			b.read(0, 1, 0, bal(100, 100, 100, 100))
			b.transfer(2, 3, 1, core.OK, tr("a0", "a1", 3))
			r := b.read(6, 7, 2, bal(97, 100, 100, 100))
			b.read(8, 9, 0, bal(97, 103, 100, 100))
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"read at event 5 (process 2, 0.006s–0.007s, with no fault active)",
					"saw a total of 397, expected 400 (4 accounts × 100): 3 lost"}}},
				totalsSummary: "wrong totals: 1 of 3 reads (1 with no fault active)",
			}
		},
		"lost update: two transfers read the same balance and write absolute values": func(b *builder) want {
			b.ev(0, 1, core.Invoke, bank.TransferF, tr("a0", "a1", 3))
			b.ev(0, 2, core.Invoke, bank.TransferF, tr("a0", "a2", 2))
			b.ev(5, 1, core.OK, bank.TransferF, tr("a0", "a1", 3))
			b.ev(6, 2, core.OK, bank.TransferF, tr("a0", "a2", 2))
			r := b.read(7, 8, 0, bal(98, 103, 102, 100))
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"read at event 5 (process 0, 0.007s–0.008s", "saw a total of 403, expected 400 (4 accounts × 100): 3 created"}}},
				totalsSummary: "wrong totals: 1 of 1 read (1 with no fault active)",
			}
		},
		"a read during a partition, named with the fault": func(b *builder) want {
			b.read(0, 1, 0, bal(100, 100, 100, 100))
			b.start(2, "partition")
			b.transfer(3, 4, 1, core.Info, tr("a0", "a1", 3))
			r1 := b.read(5, 6, 0, bal(100, 103, 100, 100))
			b.stop(9, "partition")
			b.start(10, "kill")
			r2 := b.read(11, 12, 0, bal(100, 103, 100, 100))
			b.start(13, "pause")
			r3 := b.read(14, 1500, 0, bal(100, 103, 99, 100))
			b.stop(1600, "pause")
			return want{
				totals: []wrongRead{
					{kind: bank.WrongTotalKind, events: r1, phrases: []string{"read at event 6 (process 0, 0.005s–0.006s, during partition 0.002s–0.009s)", "total of 403", "3 created"}},
					{kind: bank.WrongTotalKind, events: r2, phrases: []string{"(process 0, 0.011s–0.012s, during kill from 0.010s, never stopped)"}},
					{kind: bank.WrongTotalKind, events: r3, phrases: []string{"during kill from 0.010s, never stopped and pause 0.013s–1.600s)", "total of 402"}},
				},
				totalsSummary: "wrong totals: 3 of 4 reads (1 during partition, 1 during kill, 1 during kill and pause)",
			}
		},
		"a negative balance": func(b *builder) want {
			b.transfer(0, 1, 1, core.OK, tr("a2", "a0", 100))
			b.start(2, "partition")
			b.transfer(3, 4, 1, core.OK, tr("a2", "a1", 3))
			r := b.read(5, 6, 0, bal(200, 103, -3, 100))
			b.stop(7, "partition")
			r2 := b.read(8, 9, 0, bal(200, 103, -3, 100))
			return want{
				balances: []wrongRead{
					{kind: bank.NegativeBalanceKind, key: "a2", events: r, phrases: []string{
						"read at event 6 (process 0, 0.005s–0.006s, during partition 0.002s–0.007s) saw a2 at -3, expected 0 or more"}},
					{kind: bank.NegativeBalanceKind, key: "a2", events: r2, phrases: []string{"with no fault active) saw a2 at -3"}},
				},
				balancesSummary: "negative balances: a2 at -3 in 2 reads",
			}
		},
		"write skew on a pair": func(b *builder) want {
			b.req = bank.ReadRequest{Accounts: 4, Balance: 5}
			b.withdraw(0, 1, 1, core.OK, wd("a0", "a1", 5)) // pair a0+a1 at 5
			// Both see the pair at 5 and each writes only its own account.
			b.ev(2, 1, core.Invoke, bank.WithdrawF, wd("a0", "a1", 4))
			b.ev(2, 2, core.Invoke, bank.WithdrawF, wd("a1", "a0", 4))
			b.ev(3, 1, core.OK, bank.WithdrawF, wd("a0", "a1", 4))
			b.ev(3, 2, core.OK, bank.WithdrawF, wd("a1", "a0", 4))
			b.start(4, "latency")
			r1 := b.read(5, 6, 0, bal(-4, 1, 5, 5))
			b.withdraw(7, 8, 1, core.Fail, wd("a2", "a3", 11))
			r2 := b.read(9, 10, 0, bal(-4, 1, 5, 5))
			return want{
				balances: []wrongRead{
					{kind: bank.WriteSkewKind, key: "a0+a1", events: r1, phrases: []string{
						"read at event 8 (process 0, 0.005s–0.006s, during latency from 0.004s, never stopped) saw pair a0+a1 at -3 (a0 -4, a1 1), expected 0 or more"}},
					{kind: bank.WriteSkewKind, key: "a0+a1", events: r2, phrases: []string{"read at event 12 (process 0, 0.009s–0.010s", "pair a0+a1 at -3"}},
				},
				balancesSummary: "write skew: pair a0+a1 at -3 in 2 reads",
			}
		},
		"joint: an acknowledged withdrawal missing from a later read": func(b *builder) want {
			b.withdraw(0, 1, 1, core.OK, wd("a0", "a1", 5))
			r := b.read(2, 3, 0, bal(100, 100, 100, 100))
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"saw a total of 400, expected 395 (400 less 5 withdrawn by withdrawals acknowledged before it began): 5 created"}}},
				totalsSummary: "wrong totals: 1 of 1 read (1 with no fault active)",
			}
		},
		"joint: more gone than every possible withdrawal took": func(b *builder) want {
			b.withdraw(0, 1, 1, core.OK, wd("a0", "a1", 5))
			b.withdraw(2, 3, 1, core.Info, wd("a2", "a3", 3))
			b.ev(4, 1, core.Invoke, bank.WithdrawF, wd("a1", "a0", 2)) // overlaps the read, never completes
			b.withdraw(5, 6, 2, core.Fail, wd("a3", "a2", 4))
			r := b.read(7, 8, 0, bal(95, 98, 97, 96))
			b.withdraw(9, 10, 2, core.OK, wd("a3", "a2", 1)) // after the read: never counts for it
			return want{
				totals: []wrongRead{{kind: bank.WrongTotalKind, events: r, phrases: []string{
					"saw a total of 386, expected 390 to 395 (400 less 5 withdrawn by withdrawals acknowledged before it began, less up to 5 by withdrawals concurrent with it or of unknown outcome): 4 lost"}}},
				totalsSummary: "wrong totals: 1 of 1 read (1 with no fault active)",
			}
		},
		"joint: a total changed before any withdrawal": func(b *builder) want {
			r1 := b.read(0, 1, 0, bal(100, 100, 97, 100))
			b.ev(2, 1, core.Invoke, bank.WithdrawF, wd("a2", "a3", 5))
			r2 := b.read(3, 4, 0, bal(100, 100, 97, 120))
			b.ev(5, 1, core.Info, bank.WithdrawF, nil)
			return want{
				totals: []wrongRead{
					{kind: bank.WrongTotalKind, events: r1, phrases: []string{"saw a total of 397, expected 400 (the initial total: no withdrawal or deposit before it): 3 lost"}},
					// The withdrawal of unknown outcome may have taken
					// effect before the read: a range.
					{kind: bank.WrongTotalKind, events: r2, phrases: []string{"saw a total of 417, expected 395 to 400 (400 less up to 5 by withdrawals concurrent with it or of unknown outcome): 17 created"}},
				},
				totalsSummary: "wrong totals: 2 of 2 reads (2 with no fault active)",
			}
		},
		"a read without every account": func(b *builder) want {
			r := b.read(0, 1, 0, bank.Balances{"a0": 100, "a1": 100, "a2": 200, "a7": 0})
			return want{
				totals: []wrongRead{{kind: bank.WrongAccountsKind, events: r, phrases: []string{
					"held 4 accounts, expected the 4 accounts a0..a3: missing a3: unexpected a7"}}},
				totalsSummary: "wrong accounts: 1 of 1 read (1 with no fault active)",
			}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			w := build(b)
			totals, balances := checkAll(t, "", b.h)
			expect(t, "totals", totals, w.totals, w.totalsSummary)
			expect(t, "balances", balances, w.balances, w.balancesSummary)
		})
	}
}

// expect checks one result against the wrong reads it must report, in
// order, and its summary; no wrong reads means a valid result.
func expect(t *testing.T, name string, res core.CheckResult, want []wrongRead, summary string) {
	t.Helper()
	if len(want) == 0 {
		if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
			t.Errorf("%s: verdict %s (%s), want valid:%s", name, res.Verdict, res.Summary, dump(res.Anomalies))
		}
		return
	}
	if res.Verdict != core.Invalid || len(res.Anomalies) != len(want) {
		t.Fatalf("%s: verdict %s with %d anomalies (%s), want invalid with %d:%s", name, res.Verdict, len(res.Anomalies), res.Summary, len(want), dump(res.Anomalies))
	}
	if res.Summary != summary {
		t.Errorf("%s: summary %q, want %q", name, res.Summary, summary)
	}
	for i, w := range want {
		a := res.Anomalies[i]
		if a.Kind != w.kind || a.Key != w.key || !slices.Equal(a.Events, w.events) {
			t.Errorf("%s: anomaly %d is %s %q %v, want %s %q %v", name, i, a.Kind, a.Key, a.Events, w.kind, w.key, w.events)
		}
		for _, p := range w.phrases {
			if !strings.Contains(a.Description, p) {
				t.Errorf("%s: anomaly %d says %q, which lacks %q", name, i, a.Description, p)
			}
		}
	}
}

// TestFindingDetails: the details of a wrong read carry its fault windows
// and the expected range.
func TestFindingDetails(t *testing.T) {
	b := newBuilder(t)
	b.start(0, "partition")
	b.withdraw(1, 2, 1, core.OK, wd("a0", "a1", 5))
	b.withdraw(3, 4, 1, core.Info, wd("a2", "a3", 3))
	b.read(5, 6, 0, bal(100, 100, 100, 100))
	b.stop(7, "partition")
	totals, _ := checkAll(t, "", b.h)
	d := totals.Details.(*bank.TotalsDetails)
	if len(d.Findings) != 1 {
		t.Fatalf("%d findings: %+v", len(d.Findings), d.Findings)
	}
	f := d.Findings[0]
	if f.Kind != bank.WrongTotalKind || f.Invoke != 5 || f.Complete != 6 || f.Got != 400 || f.WantMin != 392 || f.WantMax == nil || *f.WantMax != 395 {
		t.Errorf("finding %+v, want a wrong total of 400 at events 5, 6 expected 392..395", f)
	}
	if len(f.Faults) != 1 || f.Faults[0] != (bank.Window{Fault: "partition", Start: ms(0), End: ms(7)}) {
		t.Errorf("faults %+v, want the partition from 0 to 7 ms", f.Faults)
	}
	if d.Withdrawn != 5 || d.WithdrawnUnknown != 3 || d.Withdrawals != (bank.Outcomes{OK: 1, Info: 1}) || d.InitialTotal != 400 || d.LastRead != 6 || d.LastTotal != 400 {
		t.Errorf("details %+v", d)
	}
}

// TestUnknown: no ok read to judge, a malformed history, a value of the
// wrong shape, or a check stopped before it ends: never valid, and the
// summary says why.
func TestUnknown(t *testing.T) {
	cases := map[string]struct {
		build func(b *builder)
		ctx   func() context.Context
		// phrase must appear in both summaries.
		phrase string
	}{
		"no ok read": {phrase: "no ok read to judge", build: func(b *builder) {
			b.transfer(0, 1, 1, core.OK, tr("a0", "a1", 3))
			b.ev(2, 0, core.Invoke, bank.ReadF, req)
			b.ev(3, 0, core.Fail, bank.ReadF, nil)
		}},
		"reads that disagree on the accounts": {phrase: "event 2: read asks for 5 accounts of 100, but event 0 asked for 4 of 100", build: func(b *builder) {
			b.read(0, 1, 0, bal(100, 100, 100, 100))
			b.ev(2, 0, core.Invoke, bank.ReadF, bank.ReadRequest{Accounts: 5, Balance: 100})
			b.ev(3, 0, core.OK, bank.ReadF, bal(100, 100, 100, 100, 100))
		}},
		"a read of the wrong type": {phrase: "event 1: ok read: value 400 (int)", build: func(b *builder) {
			b.ev(0, 0, core.Invoke, bank.ReadF, req)
			b.ev(1, 0, core.OK, bank.ReadF, 400)
		}},
		"a completion that is not its invocation's": {phrase: "event 1: transfer completed with", build: func(b *builder) {
			b.ev(0, 1, core.Invoke, bank.TransferF, tr("a0", "a1", 3))
			b.ev(1, 1, core.OK, bank.TransferF, tr("a0", "a1", 4))
			b.read(2, 3, 0, bal(100, 100, 100, 100))
		}},
		"an unknown operation": {phrase: `event 0: unknown operation "refund"`, build: func(b *builder) {
			b.ev(0, 1, core.Invoke, "refund", tr("a0", "a1", 3))
			b.ev(1, 1, core.OK, "refund", tr("a0", "a1", 3))
		}},
		"a check interrupted": {phrase: "interrupted after 0 of 1 reads", build: func(b *builder) {
			b.read(0, 1, 0, bal(100, 100, 100, 100))
		}, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			for _, res := range []core.CheckResult{bank.CheckTotals(ctx, b.h, ""), bank.CheckBalances(ctx, b.h, "")} {
				if res.Verdict != core.Unknown || !strings.Contains(res.Summary, tc.phrase) {
					t.Errorf("%s: verdict %s, summary %q; want unknown, naming %q", res.Checker, res.Verdict, res.Summary, tc.phrase)
				}
			}
		})
	}
}
