package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// DefaultDuplicates is the share of requests delivered twice when
// Workload.Duplicates is zero.
const DefaultDuplicates = 0.2

// DefaultMaxAttempts is how many times a client may send a request when
// Workload.MaxAttempts is zero or less.
const DefaultMaxAttempts = 3

// MaxAmount bounds the amounts the generator draws: 1 to MaxAmount.
const MaxAmount = 1000

// Workload is the idempotency workload. Its zero value is ready to use:
// it delivers DefaultDuplicates of its requests twice and lets clients
// try each DefaultMaxAttempts times.
type Workload struct {
	// Duplicates is the probability that the generator hands out a
	// request a second time right after the first (the same id, account
	// and amount), so that two clients deliver it at once. Zero means
	// DefaultDuplicates, less than zero none, more than one one.
	Duplicates float64
	// MaxAttempts is how many times a client may send a request (its
	// first try and its retries): the MaxAttempts of every
	// ChargeRequest. Zero or less means DefaultMaxAttempts.
	MaxAttempts int
}

var _ workloads.Workload = Workload{}

// Name returns "idempotency".
func (Workload) Name() string { return "idempotency" }

// Description returns one line for `faultline list`.
func (Workload) Description() string {
	return "charge accounts with client-named requests, retried and sometimes delivered twice; the ledgers read back must hold each request at most once, and each acknowledged one exactly once"
}

// DuplicateRate returns the probability that a request is delivered
// twice: Duplicates, DefaultDuplicates when it is zero, within [0, 1].
func (w Workload) DuplicateRate() float64 {
	switch {
	case w.Duplicates == 0:
		return DefaultDuplicates
	case w.Duplicates < 0:
		return 0
	case w.Duplicates > 1:
		return 1
	}
	return w.Duplicates
}

// Attempts returns how many times a client may send a request:
// MaxAttempts, or DefaultMaxAttempts when it is zero or less.
func (w Workload) Attempts() int {
	if w.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return w.MaxAttempts
}

// KeyName returns the name of account i: "a<i>".
func KeyName(i int) string { return "a" + strconv.Itoa(i) }

// RequestID returns the id of the n-th logical request of a run, from 1:
// "r<n>".
func RequestID(n int64) string { return "r" + strconv.FormatInt(n, 10) }

// NewGenerator returns a generator of charges over accounts a0..a{keys-1}
// (at least one) driven by rng; the same seed gives the same sequence. A
// nil rng is treated as one seeded with zero.
func (w Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	keys = max(keys, 1)
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	g := &Generator{rng: rng, dup: w.DuplicateRate(), attempts: w.Attempts(), keys: make([]string, keys), issued: make([]int64, keys)}
	for i := range g.keys {
		g.keys[i] = KeyName(i)
	}
	return g
}

// Check runs CheckCharges on h. It writes no files.
func (Workload) Check(ctx context.Context, h core.History, _ workloads.CheckOptions) []core.CheckResult {
	return []core.CheckResult{CheckCharges(ctx, h)}
}

// Generator hands out charge operations. It is not safe for concurrent
// use; the controller calls it from one goroutine at a time.
type Generator struct {
	rng      *rand.Rand
	dup      float64
	attempts int
	keys     []string
	issued   []int64 // charge operations handed out per account
	requests int64   // logical requests handed out
	again    *core.Op
}

var _ workloads.Generator = (*Generator)(nil)

// Next returns a charge of a new request, with the next request id, on an
// account drawn uniformly and of an amount drawn uniformly from 1 to
// MaxAmount; or, right after one that the generator chose to deliver
// twice, the same charge again. Each new request draws the same numbers
// from the rng whatever the duplicate rate. It never runs out: Next
// always returns true.
func (g *Generator) Next() (core.Op, bool) {
	if g.again != nil {
		op := *g.again
		g.again = nil
		return op, true
	}
	i := g.rng.IntN(len(g.keys))
	amount := 1 + g.rng.Int64N(MaxAmount)
	twice := g.rng.Float64() < g.dup
	g.requests++
	op := core.Op{Type: core.Invoke, F: Charge, Key: g.keys[i],
		Value: ChargeRequest{RequestID: RequestID(g.requests), Amount: amount, MaxAttempts: g.attempts}}
	g.issued[i]++
	if twice {
		g.again = &op
		g.issued[i]++
	}
	return op, true
}

// FinalReads returns the "ledger" reads of every account, in account
// order, page by page (LedgerRead of PageSize rows): enough pages for a
// row per try of every charge the generator handed out on the account
// (the most a target that applied every try could hold), and one more.
func (g *Generator) FinalReads() []core.Op {
	var ops []core.Op
	for i, k := range g.keys {
		pages := g.issued[i]*int64(g.attempts)/PageSize + 1
		for p := range pages {
			ops = append(ops, core.Op{Type: core.Invoke, F: Ledger, Key: k, Value: LedgerRead{From: p * PageSize, Count: PageSize}})
		}
	}
	return ops
}

// DecodeValue turns the JSON value of an idempotency event into its typed
// value:
//   - charge: the invocation's object into a ChargeRequest (checked with
//     ChargeRequest.Validate); an ok or fail completion's object into a
//     ChargeResult (checked with ChargeResult.Validate); an info
//     completion's object into a ChargeResult, or its null into nil;
//   - ledger: the invocation's null into nil, its object into a
//     LedgerRead; an ok completion's object into a LedgerState (checked
//     with LedgerState.Validate); a fail or info completion's null into
//     nil (an object is decoded as for ok).
//
// Objects with fields the type does not have are refused. Any other shape,
// and an unknown f, give an error wrapping core.ErrBadInput.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	switch f {
	case Charge:
		if t == core.Invoke {
			var r ChargeRequest
			if null || workloads.DecodeObject(raw, &r) != nil {
				return nil, core.BadInput("idempotency: charge invocation value %s: want {\"request_id\": \"…\", \"amount\": N, \"max_attempts\": N}", raw)
			}
			if err := r.Validate(); err != nil {
				return nil, core.BadInput("idempotency: charge invocation value %s: %v", raw, err)
			}
			return r, nil
		}
		if null && t == core.Info {
			return nil, nil
		}
		var v ChargeResult
		if null || workloads.DecodeObject(raw, &v) != nil {
			return nil, core.BadInput("idempotency: charge %s value %s: want {\"attempts\": N, \"errors\": […]}", t, raw)
		}
		if err := v.Validate(t); err != nil {
			return nil, core.BadInput("idempotency: charge %s value %s: %v", t, raw, err)
		}
		return v, nil
	case Ledger:
		if t == core.Invoke {
			if null {
				return nil, nil
			}
			var r LedgerRead
			if workloads.DecodeObject(raw, &r) != nil || r.From < 0 || r.Count < 1 {
				return nil, core.BadInput("idempotency: ledger invocation value %s: want null or {\"from\": N ≥ 0, \"count\": N ≥ 1}", raw)
			}
			return r, nil
		}
		if null && t != core.OK {
			return nil, nil
		}
		var s LedgerState
		if null || workloads.DecodeObject(raw, &s) != nil {
			return nil, core.BadInput("idempotency: ledger %s value %s: want {\"rows\": [{\"request_id\": \"…\", \"amount\": N}, …]}", t, raw)
		}
		if err := s.Validate(); err != nil {
			return nil, core.BadInput("idempotency: ledger %s value %s: %v", t, raw, err)
		}
		return s, nil
	}
	return nil, core.BadInput("idempotency: unknown operation %q with value %s (want charge or ledger)", f, raw)
}
