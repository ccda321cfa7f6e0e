package transfer_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/transfer"
)

// Aliases for the records' states.
const (
	committed = transfer.Committed
	aborted   = transfer.Aborted
	inDoubt   = transfer.InDoubt
)

// atomicRun builds a history a correct two-phase commit could have
// produced: transfers of every outcome, one within a participant, reads
// and faults in between, the final read and the records.
func atomicRun(b *builder) {
	b.read(0, 1, 0, bal(100, 100, 100, 100))
	b.transfer(2, 4, 1, core.OK, tr("t1", "a0", "a2", 5)) // committed on p1 and p2
	b.start(5, "partition")
	b.transfer(6, 8, 1, core.Fail, tr("t2", "a1", "a3", 3))  // aborted by p1, never prepared by p2
	b.transfer(9, 10, 2, core.Fail, tr("t3", "a2", "a0", 1)) // prepared nowhere
	b.read(11, 12, 0, bal(95, 100, 105, 100))
	b.ev(13, 1, core.Invoke, transfer.TransferF, tr("t4", "a3", "a0", 2)) // committed on both
	b.ev(14, 2, core.Invoke, transfer.TransferF, tr("t5", "a2", "a1", 4)) // committed on neither
	b.ev(20, 1, core.Info, transfer.TransferF, tr("t4", "a3", "a0", 2))
	b.ev(21, 2, core.Info, transfer.TransferF, tr("t5", "a2", "a1", 4))
	b.stop(22, "partition")
	b.read(23, 24, 0, bal(97, 100, 105, 98))
	b.transfer(25, 26, 1, core.OK, tr("t6", "a0", "a1", 1)) // both accounts on p1
	b.start(27, "kill")
	b.read(28, 29, 0, bal(96, 101, 105, 98))
	b.stop(30, "kill")
	b.read(31, 32, 3, bal(96, 101, 105, 98)) // the final read
	t5 := rec("t5", aborted, 5000, d{"a2": -4})
	t5.Alone = true
	b.outcomes(33, 34, 4, 0, transfer.Outcomes{
		"p1": {
			rec("t1", committed, 2, d{"a0": -5}),
			rec("t2", aborted, 1, d{"a1": -3}),
			rec("t4", committed, 700, d{"a0": 2}),
			rec("t6", committed, 1, d{"a0": -1, "a1": 1}),
		},
		"p2": {
			rec("t1", committed, 3, d{"a2": 5}),
			rec("t4", committed, 650, d{"a3": -2}),
			t5,
		},
	})
}

// TestAtomicValid: histories with failed and indeterminate transfers,
// transactions on one participant and on two, faults and reads in
// between must be valid, with the right figures.
func TestAtomicValid(t *testing.T) {
	b := newBuilder(t)
	atomicRun(b)
	res, det := atomicity(t, b.h)
	if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
		t.Fatalf("verdict %s (%s), want valid:%s", res.Verdict, res.Summary, dump(res.Anomalies))
	}
	want := transfer.AtomicityDetails{
		Transactions: 6, Committed: 3, Aborted: 3, DecidedAlone: 1, FinalBalances: true,
		Effects: effects.Counts{IDs: 12, Attempts: 12, Acknowledged: 4, Failed: 4,
			Indeterminate: 4, IndeterminateApplied: 2, IndeterminateNotApplied: 2, Effects: 6},
	}
	if !reflect.DeepEqual(det, want) {
		t.Errorf("details\n %+v, want\n %+v", det, want)
	}
	if s := "atomic: 3 transactions committed on every participant they touched, 3 on none; committed changes sum to 0 and make every final balance; 1 record decided by a participant alone"; res.Summary != s {
		t.Errorf("summary %q, want %q", res.Summary, s)
	}
}

// TestAtomicValidMore: more valid histories: pages, retries, transfers
// that never completed, no final read.
func TestAtomicValidMore(t *testing.T) {
	cases := map[string]struct {
		build func(b *builder)
		want  transfer.AtomicityDetails
	}{
		// 300 transactions, each committed on both: two pages of
		// records.
		"records over two pages": {
			want: transfer.AtomicityDetails{Transactions: 300, Committed: 300, FinalBalances: true,
				Effects: effects.Counts{IDs: 600, Attempts: 600, Acknowledged: 600, Effects: 600}},
			build: func(b *builder) {
				o := transfer.Outcomes{}
				for i := range 300 {
					id := transfer.TxID(i + 1)
					b.transfer(int64(i), int64(i), 1, core.OK, tr(id, "a1", "a3", 1))
					o["p1"] = append(o["p1"], rec(id, committed, 1, d{"a1": -1}))
					o["p2"] = append(o["p2"], rec(id, committed, 1, d{"a3": 1}))
				}
				// a1 went below zero: the participants allow overdrafts
				// here; atomicity does not care.
				b.read(400, 401, 2, bal(100, -200, 100, 400))
				n := transfer.PageSize
				b.outcomes(402, 403, 3, 0, transfer.Outcomes{"p1": o["p1"][:n], "p2": o["p2"][:n]})
				b.outcomes(404, 405, 4, 1, transfer.Outcomes{"p1": o["p1"][n:], "p2": o["p2"][n:]})
			},
		},
		// The final reads are retried until they succeed: an outcomes
		// read that failed then succeeded read every record.
		"an outcomes read retried": {
			want: transfer.AtomicityDetails{Transactions: 1, Committed: 1, FinalBalances: true,
				Effects: effects.Counts{IDs: 2, Attempts: 2, Acknowledged: 2, Effects: 2}},
			build: func(b *builder) {
				b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a3", 2))
				b.ev(2, 2, core.Invoke, transfer.ReadF, req)
				b.ev(3, 2, core.Fail, transfer.ReadF, req)
				b.read(4, 5, 3, bal(98, 100, 100, 102))
				b.outcomesFailed(6, 7, 4, 0, core.Fail)
				b.outcomesFailed(8, 9, 5, 0, core.Info)
				b.outcomes(10, 11, 6, 0, transfer.Outcomes{
					"p1": {rec("t1", committed, 1, d{"a0": -2})},
					"p2": {rec("t1", committed, 1, d{"a3": 2})},
				})
			},
		},
		// A transfer still open at the end: no read began after every
		// transfer ended, so the balances are not compared.
		"a transfer that never completed, committed on both": {
			want: transfer.AtomicityDetails{Transactions: 2, Committed: 2,
				Effects: effects.Counts{IDs: 4, Attempts: 4, Acknowledged: 2, Indeterminate: 2, IndeterminateApplied: 2, Effects: 4}},
			build: func(b *builder) {
				b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a3", 2))
				b.ev(2, 2, core.Invoke, transfer.TransferF, tr("t2", "a2", "a1", 3))
				b.read(3, 4, 3, bal(98, 103, 97, 102))
				b.outcomes(5, 6, 4, 0, transfer.Outcomes{
					"p1": {rec("t1", committed, 1, d{"a0": -2}), rec("t2", committed, 1, d{"a1": 3})},
					"p2": {rec("t1", committed, 1, d{"a3": 2}), rec("t2", committed, 1, d{"a2": -3})},
				})
			},
		},
		// The final read failed on every attempt; an earlier read, begun
		// in a quiet moment before the last transfer, is not the final
		// read and must not be compared with every committed change.
		"no ok final read, a quiet read before the last transfer": {
			want: transfer.AtomicityDetails{Transactions: 2, Committed: 2,
				Effects: effects.Counts{IDs: 4, Attempts: 4, Acknowledged: 4, Effects: 4}},
			build: func(b *builder) {
				b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a3", 2))
				b.read(2, 3, 2, bal(98, 100, 100, 102))
				b.transfer(4, 5, 1, core.OK, tr("t2", "a2", "a1", 3))
				b.ev(6, 3, core.Invoke, transfer.ReadF, req)
				b.ev(7, 3, core.Fail, transfer.ReadF, req)
				b.outcomes(8, 9, 4, 0, transfer.Outcomes{
					"p1": {rec("t1", committed, 1, d{"a0": -2}), rec("t2", committed, 1, d{"a1": 3})},
					"p2": {rec("t1", committed, 1, d{"a3": 2}), rec("t2", committed, 1, d{"a2": -3})},
				})
			},
		},
		// A participant that prepared no transaction returns an empty
		// page.
		"a participant with no records": {
			want: transfer.AtomicityDetails{Transactions: 1, Committed: 1, FinalBalances: true,
				Effects: effects.Counts{IDs: 2, Attempts: 2, Acknowledged: 2, Effects: 2}},
			build: func(b *builder) {
				b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a1", 2))
				b.read(2, 3, 2, bal(98, 102, 100, 100))
				b.outcomes(4, 5, 4, 0, transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -2, "a1": 2})}, "p2": {}})
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			res, det := atomicity(t, b.h)
			if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
				t.Fatalf("verdict %s (%s), want valid:%s", res.Verdict, res.Summary, dump(res.Anomalies))
			}
			if !reflect.DeepEqual(det, tc.want) {
				t.Errorf("details\n %+v, want\n %+v", det, tc.want)
			}
			if tail := "; no final read to compare"; strings.HasSuffix(res.Summary, tail) == tc.want.FinalBalances {
				t.Errorf("summary %q: final balances compared %v", res.Summary, tc.want.FinalBalances)
			}
		})
	}
}

// finding is what a test expects of a result that is not valid.
type finding struct {
	verdict core.Verdict
	// kinds counts the anomalies by kind, exactly.
	kinds map[string]int
	// kind, key and events: an anomaly of kind about key must involve
	// events, and its description hold every one of phrases.
	kind, key string
	events    []int
	phrases   []string
	// summary must hold every one of these.
	summary []string
}

// TestAtomicInvalid: each history breaks atomicity; the checker must say
// how, name the transaction in its summary and point at its events.
func TestAtomicInvalid(t *testing.T) {
	both := func(id, from, to string, amt int64) transfer.Outcomes {
		return transfer.Outcomes{
			"p1": {rec(id, committed, 1, d{from: -amt})},
			"p2": {rec(id, committed, 1, d{to: amt})},
		}
	}
	cases := map[string]func(b *builder) finding{
		"split: committed by one, aborted by the other": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a1", "a3", 2))
			ev := b.transfer(2, 3, 1, core.Info, tr("t2", "a0", "a2", 5))
			b.read(4, 5, 2, bal(95, 98, 100, 102)) // what was committed
			b.outcomes(6, 7, 3, 0, transfer.Outcomes{
				"p1": {rec("t1", committed, 1, d{"a1": -2}), rec("t2", committed, 2, d{"a0": -5})},
				"p2": {rec("t1", committed, 1, d{"a3": 2}), rec("t2", aborted, 2, d{"a2": 5})},
			})
			return finding{kinds: map[string]int{transfer.SplitKind: 1}, kind: transfer.SplitKind, key: "t2", events: ev,
				phrases: []string{"t2 (5 from a0 to a2) was committed by p1 but not for a2: p2 aborted it; 5 vanished"},
				summary: []string{"1 transaction committed on some participants and not on others (t2)", "committed changes sum to -5 (money lost)"}}
		},
		"split: committed by one, unknown to the other": func(b *builder) finding {
			ev := b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.read(2, 3, 2, bal(100, 100, 105, 100))
			b.outcomes(4, 5, 3, 0, transfer.Outcomes{"p1": {}, "p2": {rec("t1", committed, 1, d{"a2": 5})}})
			return finding{kinds: map[string]int{transfer.SplitKind: 1, string(effects.Missing): 1}, kind: transfer.SplitKind, key: "t1", events: ev,
				phrases: []string{"t1 (5 from a0 to a2) was committed by p2 but not for a0", "5 appeared from nowhere"},
				summary: []string{"(t1)", "1 change of acknowledged transactions not committed", "sum to +5 (money created)"}}
		},
		"an acknowledged transfer committed nowhere": func(b *builder) finding {
			ev := b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.transfer(2, 3, 1, core.OK, tr("t2", "a1", "a3", 1))
			b.outcomes(4, 5, 3, 0, transfer.Outcomes{
				"p1": {rec("t1", aborted, 1, d{"a0": -5}), rec("t2", committed, 1, d{"a1": -1})},
				"p2": {rec("t2", committed, 1, d{"a3": 1})},
			})
			return finding{kinds: map[string]int{string(effects.Missing): 2}, kind: string(effects.Missing), key: "a2", events: ev,
				phrases: []string{"t1@a2 was acknowledged but took no effect"},
				summary: []string{"2 changes of acknowledged transactions not committed (t1)"}}
		},
		"a failed transfer committed on both": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a1", "a3", 1))
			ev := b.transfer(2, 3, 1, core.Fail, tr("t2", "a0", "a2", 5))
			o := both("t2", "a0", "a2", 5)
			o["p1"] = append(o["p1"], rec("t1", committed, 1, d{"a1": -1}))
			o["p2"] = append(o["p2"], rec("t1", committed, 1, d{"a3": 1}))
			rd := b.outcomes(4, 5, 3, 0, o)
			return finding{kinds: map[string]int{string(effects.Unexpected): 2}, kind: string(effects.Unexpected), key: "a0", events: append(ev, rd...),
				phrases: []string{"t2@a0 failed on every attempt, yet took effect: p1's record 0 (t2)"},
				summary: []string{"2 changes of failed transactions committed (t2)"}}
		},
		"a record of a transaction never sent": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a1", "a3", 1))
			o := both("t1", "a1", "a3", 1)
			o["p1"] = append(o["p1"], rec("t9", committed, 1, d{"a0": -4}))
			o["p2"] = append(o["p2"], rec("t9", committed, 1, d{"a2": 4}))
			rd := b.outcomes(2, 3, 3, 0, o)
			return finding{kinds: map[string]int{string(effects.Phantom): 2}, kind: string(effects.Phantom), key: "a0", events: rd,
				phrases: []string{"p1's record 1 (t9)", "names request t9@a0, which was never sent"},
				summary: []string{"2 changes of transactions never sent (t9)"}}
		},
		"a committed change other than the transfer's": func(b *builder) finding {
			ev := b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			o := both("t1", "a0", "a2", 5)
			o["p2"][0].Deltas["a2"] = 7
			b.outcomes(2, 3, 3, 0, o)
			return finding{kinds: map[string]int{string(effects.Mismatch): 1}, kind: string(effects.Mismatch), key: "a2", events: ev,
				phrases: []string{"t1@a2 was sent as +5, but p2's record 0 (t1)", "records +7"},
				summary: []string{"1 change other than the transfer asked (t1)", "sum to +2 (money created)"}}
		},
		"a transaction committed twice by one participant": func(b *builder) finding {
			ev := b.transfer(0, 1, 1, core.Info, tr("t1", "a0", "a2", 5))
			o := both("t1", "a0", "a2", 5)
			o["p1"] = append(o["p1"], rec("t1", committed, 1, d{"a0": -5}))
			b.outcomes(2, 3, 3, 0, o)
			return finding{kinds: map[string]int{string(effects.Duplicate): 1}, kind: string(effects.Duplicate), key: "a0", events: ev,
				phrases: []string{"t1@a0 took effect 2 times", "p1's record 0 (t1)", "p1's record 1 (t1)"},
				summary: []string{"1 change applied more than once (t1)", "sum to -5 (money lost)"}}
		},
		"a final balance the committed changes do not explain": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.transfer(2, 3, 1, core.Fail, tr("t2", "a1", "a3", 1))
			rd := b.read(4, 5, 2, bal(95, 99, 105, 101)) // t2 applied after all
			b.outcomes(6, 7, 3, 0, both("t1", "a0", "a2", 5))
			return finding{kinds: map[string]int{transfer.BalanceKind: 2}, kind: transfer.BalanceKind, key: "a1", events: rd,
				phrases: []string{"the final read finds 99 in a1, but its initial 100 and the changes committed to it make 100"},
				summary: []string{"final balances the committed changes do not explain (a1, a3)"}}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			want := build(b)
			want.verdict = core.Invalid
			res, _ := atomicity(t, b.h)
			expect(t, res, want)
			if !strings.HasPrefix(res.Summary, "not atomic: ") {
				t.Errorf("summary %q", res.Summary)
			}
		})
	}
}

// expect checks res against want.
func expect(t *testing.T, res core.CheckResult, want finding) {
	t.Helper()
	if res.Verdict != want.verdict {
		t.Errorf("verdict %s (%s), want %s:%s", res.Verdict, res.Summary, want.verdict, dump(res.Anomalies))
	}
	if got := kinds(res.Anomalies); !reflect.DeepEqual(got, want.kinds) && (len(got) > 0 || len(want.kinds) > 0) {
		t.Errorf("anomalies %v, want %v:%s", got, want.kinds, dump(res.Anomalies))
	}
	for _, s := range want.summary {
		if !strings.Contains(res.Summary, s) {
			t.Errorf("summary %q does not say %q", res.Summary, s)
		}
	}
	if want.kind == "" {
		return
	}
	for _, a := range res.Anomalies {
		if a.Kind != want.kind || a.Key != want.key {
			continue
		}
		if !hasEvents(a, want.events...) {
			t.Errorf("%s anomaly on %s involves events %v, want %v", a.Kind, a.Key, a.Events, want.events)
		}
		for _, p := range want.phrases {
			if !strings.Contains(a.Description, p) {
				t.Errorf("%s anomaly on %s says %q, not %q", a.Kind, a.Key, a.Description, p)
			}
		}
		return
	}
	t.Errorf("no %s anomaly on %s:%s", want.kind, want.key, dump(res.Anomalies))
}

// TestAtomicUnknown: histories that cannot be judged: undecided
// transactions, records not read whole, nothing committed. Never valid.
func TestAtomicUnknown(t *testing.T) {
	cases := map[string]func(b *builder) finding{
		"a transaction still in doubt, committed nowhere": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a1", "a3", 1))
			ev := b.transfer(2, 3, 1, core.Info, tr("t2", "a0", "a2", 5))
			b.read(4, 5, 2, bal(100, 99, 100, 101))
			b.outcomes(6, 7, 3, 0, transfer.Outcomes{
				"p1": {rec("t1", committed, 1, d{"a1": -1}), rec("t2", inDoubt, 9000, d{"a0": -5})},
				"p2": {rec("t1", committed, 1, d{"a3": 1}), rec("t2", aborted, 1, d{"a2": 5})},
			})
			return finding{kinds: map[string]int{transfer.InDoubtKind: 1}, kind: transfer.InDoubtKind, key: "t2", events: ev,
				phrases: []string{"t2 (5 from a0 to a2) is still in doubt on p1"},
				summary: []string{"undecided: 1 transaction still in doubt when read (t2)"}}
		},
		// The client was told of the commit, but p2 had not learnt it
		// when its records were read: blocking, not a lost change.
		"an acknowledged transaction committed by one, in doubt on the other": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a1", "a3", 1))
			ev := b.transfer(2, 3, 1, core.OK, tr("t2", "a0", "a2", 5))
			b.outcomes(6, 7, 3, 0, transfer.Outcomes{
				"p1": {rec("t1", committed, 1, d{"a1": -1}), rec("t2", committed, 1, d{"a0": -5})},
				"p2": {rec("t1", committed, 1, d{"a3": 1}), rec("t2", inDoubt, 9000, d{"a2": 5})},
			})
			return finding{kinds: map[string]int{transfer.InDoubtKind: 1}, kind: transfer.InDoubtKind, key: "t2", events: ev,
				phrases: []string{"in doubt on p2"},
				summary: []string{"undecided: 1 transaction still in doubt when read (t2)"}}
		},
		"an outcomes read that failed": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.outcomes(2, 3, 3, 0, transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -5})}, "p2": {rec("t1", committed, 1, d{"a2": 5})}})
			b.outcomesFailed(4, 5, 4, 1, core.Fail)
			return finding{summary: []string{"cannot judge atomicity: outcomes reads that did not succeed: records 250–499 (fail)"}}
		},
		"no outcomes read succeeded": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.outcomesFailed(2, 3, 4, 0, core.Info)
			return finding{summary: []string{"cannot judge atomicity: no outcomes read succeeded"}}
		},
		"no outcomes read at all": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.read(2, 3, 2, bal(95, 100, 105, 100))
			return finding{summary: []string{"cannot judge atomicity: no outcomes read succeeded"}}
		},
		// p1's page is full: it may have more records than were read.
		"a participant whose last page was full": func(b *builder) finding {
			b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
			b.transfer(2, 3, 1, core.OK, tr("t2", "a1", "a3", 1))
			b.ev(4, 3, core.Invoke, transfer.OutcomesF, transfer.OutcomesRead{From: 0, Count: 2})
			b.ev(5, 3, core.OK, transfer.OutcomesF, transfer.Outcomes{
				"p1": {rec("t1", committed, 1, d{"a0": -5}), rec("t2", committed, 1, d{"a1": -1})},
				"p2": {rec("t1", committed, 1, d{"a2": 5})},
			})
			return finding{summary: []string{"cannot judge atomicity: the records of p1 were not read to their end"}}
		},
		"no transaction committed": func(b *builder) finding {
			b.transfer(0, 1, 1, core.Fail, tr("t1", "a0", "a2", 5))
			b.transfer(2, 3, 1, core.Info, tr("t2", "a1", "a3", 1))
			b.read(4, 5, 2, bal(100, 100, 100, 100))
			b.outcomes(6, 7, 3, 0, transfer.Outcomes{"p1": {rec("t2", aborted, 1, d{"a1": -1})}, "p2": {}})
			return finding{summary: []string{"nothing to judge: no transaction of 2 committed"}}
		},
		"no transaction at all": func(b *builder) finding {
			b.read(0, 1, 2, bal(100, 100, 100, 100))
			b.outcomes(2, 3, 3, 0, transfer.Outcomes{"p1": {}, "p2": {}})
			return finding{summary: []string{"nothing to judge: no transaction of 0 committed"}}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			want := build(b)
			want.verdict = core.Unknown
			res, _ := atomicity(t, b.h)
			expect(t, res, want)
		})
	}
}

// malformed are histories the checkers cannot read, each with a phrase
// of the reason.
func malformed(t *testing.T) map[string]struct {
	h      core.History
	reason string
} {
	out := map[string]struct {
		h      core.History
		reason string
	}{}
	add := func(name, reason string, build func(b *builder)) {
		b := newBuilder(t)
		build(b)
		out[name] = struct {
			h      core.History
			reason string
		}{b.h, reason}
	}
	records := transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -5})}, "p2": {rec("t1", committed, 1, d{"a2": 5})}}
	add("a completion without its invocation", "has no open invocation", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
		b.ev(2, 1, core.OK, transfer.TransferF, tr("t1", "a0", "a2", 5))
		b.outcomes(3, 4, 3, 0, records)
	})
	add("two invocations at once by one process", "still open", func(b *builder) {
		b.ev(0, 1, core.Invoke, transfer.TransferF, tr("t1", "a0", "a2", 5))
		b.ev(1, 1, core.Invoke, transfer.ReadF, req)
		b.outcomes(3, 4, 3, 0, records)
	})
	add("a transfer without an id", "want a bank.Transfer with an id", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("", "a0", "a2", 5))
		b.outcomes(3, 4, 3, 0, records)
	})
	add("an id used twice", "transaction id t1 is used twice", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
		b.transfer(2, 3, 1, core.OK, tr("t1", "a1", "a3", 5))
		b.outcomes(4, 5, 3, 0, records)
	})
	add("a transfer to its own account", "to itself", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a0", 5))
		b.outcomes(3, 4, 3, 0, records)
	})
	add("an unknown operation", `unknown operation "withdraw"`, func(b *builder) {
		b.ev(0, 1, core.Invoke, "withdraw", nil)
		b.ev(1, 1, core.OK, "withdraw", nil)
		b.outcomes(3, 4, 3, 0, records)
	})
	add("an outcomes read of the wrong value", "want transfer.Outcomes", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
		b.ev(2, 3, core.Invoke, transfer.OutcomesF, page(0))
		b.ev(3, 3, core.OK, transfer.OutcomesF, bal(1, 2))
	})
	add("a page longer than asked", "returned 2 records for a page of 1", func(b *builder) {
		b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
		b.ev(2, 3, core.Invoke, transfer.OutcomesF, transfer.OutcomesRead{Count: 1})
		b.ev(3, 3, core.OK, transfer.OutcomesF, transfer.Outcomes{"p1": {rec("t1", committed, 1, d{"a0": -5}), rec("t1", committed, 1, d{"a0": -5})}})
	})
	return out
}

// TestMalformed: histories the checkers cannot read give unknown with the
// reason, never valid.
func TestMalformed(t *testing.T) {
	for name, tc := range malformed(t) {
		t.Run(name, func(t *testing.T) {
			res, _ := atomicity(t, tc.h)
			if res.Verdict != core.Unknown || !strings.HasPrefix(res.Summary, "cannot check atomicity: ") || !strings.Contains(res.Summary, tc.reason) {
				t.Errorf("atomicity: %s (%s), want unknown saying %q", res.Verdict, res.Summary, tc.reason)
			}
			res, _ = blocking(t, tc.h)
			if res.Verdict != core.Unknown || !strings.HasPrefix(res.Summary, "cannot measure blocking: ") || !strings.Contains(res.Summary, tc.reason) {
				t.Errorf("blocking: %s (%s), want unknown saying %q", res.Verdict, res.Summary, tc.reason)
			}
		})
	}
}

// TestOutOfTime: a cancelled check is unknown, never valid.
func TestOutOfTime(t *testing.T) {
	b := newBuilder(t)
	atomicRun(b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := transfer.CheckAtomicity(ctx, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "out of time") {
		t.Errorf("atomicity: %s (%s), want unknown, out of time", res.Verdict, res.Summary)
	}
	if res := transfer.CheckBlocking(ctx, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "out of time") {
		t.Errorf("blocking: %s (%s), want unknown, out of time", res.Verdict, res.Summary)
	}
}

// blockingRun builds a history with two fault windows, transactions held
// in doubt for known times, stuck and refused operations.
func blockingRun(b *builder) {
	// Outside every window: t1, in doubt 3 and 4 ms.
	b.transfer(1, 2, 1, core.OK, tr("t1", "a0", "a2", 1))
	b.start(10, "partition")
	// In the partition: t2 in doubt 1200 ms and stuck 1489 ms; t3
	// refused, never prepared; t4 and t5 in doubt 20 and 100 ms.
	b.ev(11, 1, core.Invoke, transfer.TransferF, tr("t2", "a1", "a3", 1))
	t3 := b.transfer(12, 14, 2, core.Fail, tr("t3", "a3", "a1", 1))
	b.errorAt(t3[1], "a3 held in doubt by t2")
	b.transfer(15, 16, 3, core.OK, tr("t4", "a0", "a3", 1))
	b.transfer(16, 17, 4, core.OK, tr("t5", "a2", "a1", 1))
	b.stop(20, "partition")
	b.ev(1500, 1, core.OK, transfer.TransferF, tr("t2", "a1", "a3", 1))
	b.start(2000, "kill")
	// In the kill: t6 in doubt 2500 ms, stuck 1100 ms; a read refused;
	// t7 failed quickly, for another reason.
	b.ev(2100, 1, core.Invoke, transfer.TransferF, tr("t6", "a0", "a3", 1))
	b.ev(2200, 2, core.Invoke, transfer.ReadF, req)
	r := b.ev(2300, 2, core.Fail, transfer.ReadF, req)
	b.errorAt(r, "a3 held in doubt by t6")
	t7 := b.transfer(2400, 2401, 3, core.Fail, tr("t7", "a1", "a0", 1))
	b.errorAt(t7[1], "not enough money in a1")
	b.ev(3200, 1, core.Info, transfer.TransferF, tr("t6", "a0", "a3", 1))
	b.stop(5000, "kill")
	b.read(6000, 6001, 5, bal(99, 100, 100, 101))
	b.outcomes(6002, 6003, 6, 0, transfer.Outcomes{
		"p1": {
			rec("t1", committed, 3, d{"a0": -1}),
			rec("t2", committed, 1200, d{"a1": -1}),
			rec("t4", committed, 10, d{"a0": -1}),
			rec("t5", committed, 100, d{"a1": 1}),
			rec("t6", inDoubt, 2500, d{"a0": -1}),
		},
		"p2": {
			rec("t1", committed, 4, d{"a2": 1}),
			rec("t2", committed, 800, d{"a3": 1}),
			rec("t4", committed, 20, d{"a3": 1}),
			rec("t5", committed, 90, d{"a2": -1}),
			rec("t6", committed, 2400, d{"a3": 1}),
		},
	})
}

// TestBlocking: the figures of a hand-built history, overall and per
// fault window.
func TestBlocking(t *testing.T) {
	b := newBuilder(t)
	blockingRun(b)
	res, det := blocking(t, b.h)
	if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
		t.Fatalf("verdict %s (%s), want valid:%s", res.Verdict, res.Summary, dump(res.Anomalies))
	}
	want := transfer.BlockingDetails{
		InDoubt: 5, LongestInDoubtMs: 2500, P99InDoubtMs: 2500, OverASecond: 2,
		Stuck: 2, Refused: 2, LongestOpMs: 1489,
		Windows: []transfer.WindowBlocking{
			{Window: checkers.Window{Fault: "partition", Start: ms(10), End: ms(20)},
				InDoubt: 3, LongestInDoubtMs: 1200, MedianInDoubtMs: 100, Stuck: 1, Refused: 1, LongestOpMs: 1489},
			{Window: checkers.Window{Fault: "kill", Start: ms(2000), End: ms(5000)},
				InDoubt: 1, LongestInDoubtMs: 2500, MedianInDoubtMs: 2500, Stuck: 1, Refused: 1, LongestOpMs: 1100},
			{Window: checkers.Window{Fault: "none"},
				InDoubt: 1, LongestInDoubtMs: 4, MedianInDoubtMs: 4, LongestOpMs: 1},
		},
	}
	if !reflect.DeepEqual(det, want) {
		t.Errorf("details\n %+v, want\n %+v", det, want)
	}
	if s := "measured: 5 prepared transactions held in doubt (longest 2.5s, p99 2.5s, 2 for a second or more); 2 client operations stuck 1s or more, 2 refused on accounts held in doubt, longest operation 1.489s"; res.Summary != s {
		t.Errorf("summary %q, want %q", res.Summary, s)
	}
	// The transaction in doubt makes atomicity unknown, not blocking.
	if a, _ := atomicity(t, b.h); a.Verdict != core.Unknown || kinds(a.Anomalies)[transfer.InDoubtKind] != 1 {
		t.Errorf("atomicity %s (%s), want unknown with t6 in doubt:%s", a.Verdict, a.Summary, dump(a.Anomalies))
	}
}

// TestBlockingUnknown: without records the checker cannot measure; with
// some but not all it measures and says unknown.
func TestBlockingUnknown(t *testing.T) {
	b := newBuilder(t)
	b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
	b.outcomesFailed(2, 3, 3, 0, core.Fail)
	res, _ := blocking(t, b.h)
	if res.Verdict != core.Unknown || res.Summary != "cannot measure blocking: no outcomes read succeeded" {
		t.Errorf("no records: %s (%s)", res.Verdict, res.Summary)
	}
	b = newBuilder(t)
	b.transfer(0, 1, 1, core.OK, tr("t1", "a0", "a2", 5))
	b.transfer(2, 3, 1, core.OK, tr("t2", "a1", "a3", 5))
	b.ev(4, 3, core.Invoke, transfer.OutcomesF, transfer.OutcomesRead{Count: 1})
	b.ev(5, 3, core.OK, transfer.OutcomesF, transfer.Outcomes{"p1": {rec("t1", committed, 7, d{"a0": -5})}, "p2": {rec("t1", committed, 9, d{"a2": 5})}})
	b.ev(6, 4, core.Invoke, transfer.OutcomesF, transfer.OutcomesRead{From: 1, Count: 1})
	b.ev(7, 4, core.Info, transfer.OutcomesF, nil)
	res, det := blocking(t, b.h)
	if res.Verdict != core.Unknown || !strings.HasSuffix(res.Summary, "; incomplete: outcomes reads that did not succeed: records 1–1 (info)") {
		t.Errorf("some records: %s (%s)", res.Verdict, res.Summary)
	}
	if det.InDoubt != 1 || det.LongestInDoubtMs != 9 {
		t.Errorf("some records: %d in doubt, longest %v ms; want 1 and 9", det.InDoubt, det.LongestInDoubtMs)
	}
}
