package idempotency_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/idempotency"
)

// This file runs the workload's generator against an in-memory ledger
// that loses requests and replies, refuses some charges, and, depending
// on the mode, deduplicates request ids properly, misses concurrent
// duplicate deliveries, or loses rows. It answers the final reads page by
// page. The simulation counts what went wrong, and the checker must find
// exactly that.

type simMode int

const (
	idempotent simMode = iota // every id charged at most once
	racy                      // a redelivery racing the first misses the dedupe check half the time
	retrying                  // a retry after a lost reply is charged again
	lossy                     // one acknowledged row in fifty is lost
)

type simTruth struct {
	duplicates int // ids with more than one row
	lost       int // acknowledged ids without a row
}

// simulate runs n operations of the generator over keys accounts.
func simulate(mode simMode, seed uint64, n, keys int) (core.History, simTruth) {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := idempotency.Workload{}.NewGenerator(keys, rand.New(rand.NewPCG(seed, 2)))
	var h core.History
	add := func(p int, typ core.Type, f, key string, v any) {
		h = append(h, core.Event{Index: len(h), Time: int64(len(h)), Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	}
	ledger := map[string][]idempotency.Row{}
	rows := map[string]int{} // rows per request id
	acked := map[string]bool{}
	proc := 0
	var prev string // the id of the previous operation
	for range n {
		op, _ := g.Next()
		r := op.Value.(idempotency.ChargeRequest)
		redelivery := r.RequestID == prev
		prev = r.RequestID
		add(proc, core.Invoke, op.F, op.Key, r)
		apply := func() {
			ledger[op.Key] = append(ledger[op.Key], idempotency.Row{RequestID: r.RequestID, Amount: r.Amount})
			rows[r.RequestID]++
		}
		res := idempotency.ChargeResult{}
		typ := core.Info
		replyLost := false
		for try := 1; try <= r.MaxAttempts; try++ {
			res.Attempts = try
			if try == 1 && !redelivery && rng.IntN(20) == 0 {
				res.Errors = append(res.Errors, "insufficient funds")
				typ = core.Fail
				break
			}
			if rng.IntN(10) == 0 { // the request is lost
				res.Errors = append(res.Errors, "timeout")
				continue
			}
			switch {
			case rows[r.RequestID] == 0:
				apply()
			case mode == racy && redelivery && rng.IntN(2) == 0:
				apply()
			case mode == retrying && replyLost:
				apply()
			}
			if rng.IntN(10) == 0 { // the reply is lost
				res.Errors = append(res.Errors, "timeout")
				replyLost = true
				continue
			}
			typ = core.OK
			acked[r.RequestID] = true
			break
		}
		add(proc, typ, op.F, op.Key, res)
		if typ == core.Info {
			proc++
		}
	}
	var truth simTruth
	if mode == lossy {
		for k, rs := range ledger {
			kept := rs[:0]
			for _, row := range rs {
				if acked[row.RequestID] && rows[row.RequestID] == 1 && rng.IntN(50) == 0 {
					rows[row.RequestID] = 0
					continue
				}
				kept = append(kept, row)
			}
			ledger[k] = kept
		}
	}
	for id, c := range rows {
		if c > 1 {
			truth.duplicates++
		}
		if c == 0 && acked[id] {
			truth.lost++
		}
	}
	proc++
	for _, op := range g.FinalReads() {
		rd := op.Value.(idempotency.LedgerRead)
		all := ledger[op.Key]
		from := min(rd.From, int64(len(all)))
		page := idempotency.LedgerState{Rows: all[from:min(int64(len(all)), from+rd.Count)], From: rd.From, Total: int64(len(all))}
		page.Rows = append([]idempotency.Row{}, page.Rows...)
		add(proc, core.Invoke, op.F, op.Key, rd)
		add(proc, core.OK, op.F, op.Key, page)
	}
	return h, truth
}

// TestSimulated: the checker finds exactly the duplicates and lost rows
// the simulation made, and nothing in an idempotent ledger.
func TestSimulated(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode simMode
	}{{"idempotent", idempotent}, {"racy dedupe", racy}, {"retries charged again", retrying}, {"lossy", lossy}} {
		t.Run(tc.name, func(t *testing.T) {
			h, truth := simulate(tc.mode, 5, 12_000, 3)
			res, d := check(t, h)
			got := kinds(res.Anomalies)
			if got[duplicate] != truth.duplicates || got[missing] != truth.lost || len(res.Anomalies) != truth.duplicates+truth.lost {
				t.Errorf("found %v, want %d duplicates and %d lost:%s", got, truth.duplicates, truth.lost, dump(res.Anomalies[:min(5, len(res.Anomalies))]))
			}
			want := core.Valid
			if truth.duplicates+truth.lost > 0 {
				want = core.Invalid
			}
			if res.Verdict != want {
				t.Errorf("verdict %s (%s), want %s", res.Verdict, res.Summary, want)
			}
			if tc.mode != idempotent && want == core.Valid {
				t.Error("the simulation made no anomaly to find")
			}
			if d.Requests.Failed == 0 || d.Requests.Indeterminate == 0 || d.Redelivered == 0 || d.Retried == 0 {
				t.Errorf("the simulation lacks an outcome: %+v", d)
			}
			t.Logf("%d events; %s", len(h), res.Summary)
		})
	}
}

// BenchmarkCheck checks a simulated run of 100k charges over 10 accounts
// against a ledger that misses racing redeliveries.
//
//	go test -run '^$' -bench . -benchmem ./workloads/idempotency
func BenchmarkCheck(b *testing.B) {
	h, truth := simulate(racy, 9, 100_000, 10)
	b.Logf("%d events, %d duplicates", len(h), truth.duplicates)
	b.ResetTimer()
	for range b.N {
		res := idempotency.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
		if res[0].Verdict != core.Invalid {
			b.Fatal(res[0].Summary)
		}
	}
}
