package saga

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// Name is the --workload name: the workload is about sagas (a target
// that runs another kind of saga over the same steps serves it too), and
// it keeps the name apart from the saga target's role "orders".
const Name = "saga"

// MaxAmount bounds the amounts the generator draws: 1 to MaxAmount.
const MaxAmount = 1000

// Items is how many items the generator draws from: "i0" … "i9".
const Items = 10

// PageSize is how many entries one final read asks for; a page's line in
// the history stays well under a megabyte.
const PageSize = 1000

// SettleWait is how long each settle waits for no saga in flight; the
// final reads begin with SettleReads of them, so the quiet period lasts
// up to their sum (each also bounded by the operation's timeout).
const SettleWait = 10_000 // milliseconds

// SettleReads is how many settle operations open the final reads.
const SettleReads = 2

// deliveries bounds the records a final read expects per order and step,
// for counting pages: a service that applied every delivery of a step may
// hold several rows of it.
const deliveries = 4

// Workload is the saga workload. Its zero value is ready to use.
type Workload struct{}

var _ workloads.Workload = Workload{}

// Name returns "saga".
func (Workload) Name() string { return Name }

// Description returns one line for `faultline list`.
func (Workload) Description() string {
	return "place orders run as sagas (charge, reserve, ship; refund and release when a step fails) over at-least-once messages; each step at most once per order, every order completed or compensated"
}

// KeyName returns the name of account i: "a<i>".
func KeyName(i int) string { return "a" + strconv.Itoa(i) }

// OrderID returns the id of the n-th order of a run, from 1: "o<n>".
func OrderID(n int64) string { return "o" + strconv.FormatInt(n, 10) }

// NewGenerator returns a generator of orders over accounts
// a0..a{keys-1} (at least one) driven by rng; the same seed gives the same
// sequence. A nil rng is treated as one seeded with zero.
func (Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	return &Generator{rng: rng, keys: max(keys, 1)}
}

// Check runs CheckEffects and CheckCompleteness on h. It writes no files.
func (Workload) Check(ctx context.Context, h core.History, _ workloads.CheckOptions) []core.CheckResult {
	return []core.CheckResult{CheckEffects(ctx, h), CheckCompleteness(ctx, h)}
}

// Generator hands out orders. It is not safe for concurrent use; the
// controller calls it from one goroutine at a time.
type Generator struct {
	rng    *rand.Rand
	keys   int
	orders int64
}

var _ workloads.Generator = (*Generator)(nil)

// Next returns an order with the next id, an account drawn uniformly, an
// item drawn uniformly from Items and an amount from 1 to MaxAmount. It
// never runs out.
func (g *Generator) Next() (core.Op, bool) {
	g.orders++
	o := Order{
		ID:      OrderID(g.orders),
		Account: KeyName(g.rng.IntN(g.keys)),
		Item:    "i" + strconv.Itoa(g.rng.IntN(Items)),
		Amount:  1 + g.rng.Int64N(MaxAmount),
	}
	return core.Op{Type: core.Invoke, F: FOrder, Value: o}, true
}

// FinalReads returns SettleReads settles, then every service's record
// page by page (enough pages for deliveries rows of two steps of every
// order handed out, and one more), then the orchestrator's orders page by
// page (enough for every order, and one more).
func (g *Generator) FinalReads() []core.Op {
	var ops []core.Op
	for range SettleReads {
		ops = append(ops, core.Op{Type: core.Invoke, F: FSettle, Value: SettleRead{WaitMS: SettleWait}})
	}
	for _, s := range Services {
		pages := g.orders*2*deliveries/PageSize + 1
		for p := range pages {
			ops = append(ops, core.Op{Type: core.Invoke, F: FEffects, Key: s, Value: Page{From: p * PageSize, Count: PageSize}})
		}
	}
	for p := range g.orders/PageSize + 1 {
		ops = append(ops, core.Op{Type: core.Invoke, F: FOrders, Key: Orchestrator, Value: Page{From: p * PageSize, Count: PageSize}})
	}
	return ops
}

// DecodeValue turns the JSON value of a saga event into its typed value:
//   - order: the invocation's object into an Order; an ok completion's
//     object into an Outcome; a fail or info completion's null into nil
//     (an object is decoded as for ok);
//   - settle: the invocation's object into a SettleRead; an ok
//     completion's object into a Settled;
//   - effects and orders: the invocation's object into a Page; an ok
//     completion's object into an EffectsPage or an OrdersPage;
//   - a fail or info completion of a read: null into nil.
//
// Every value is checked (Validate); objects with fields the type does
// not have, any other shape, and an unknown f give an error wrapping
// core.ErrBadInput.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	bad := func(want string, err error) error {
		if err != nil {
			return core.BadInput("saga: %s %s value %s: %v", f, t, raw, err)
		}
		return core.BadInput("saga: %s %s value %s: want %s", f, t, raw, want)
	}
	decode := func(v interface{ Validate() error }, want string) error {
		if null || workloads.DecodeObject(raw, v) != nil {
			return bad(want, nil)
		}
		if err := v.Validate(); err != nil {
			return bad(want, err)
		}
		return nil
	}
	switch f {
	case FOrder:
		if t == core.Invoke {
			var o Order
			if err := decode(&o, `{"id": "…", "account": "…", "item": "…", "amount": N}`); err != nil {
				return nil, err
			}
			return o, nil
		}
		if null && t != core.OK {
			return nil, nil
		}
		var v Outcome
		if err := decode(&v, `{"outcome": "completed"} or {"outcome": "compensated", "failed": "reserve" | "ship"}`); err != nil {
			return nil, err
		}
		return v, nil
	case FSettle:
		if t == core.Invoke {
			var r settleRead
			if err := decode(&r, `{"wait_ms": N ≥ 0}`); err != nil {
				return nil, err
			}
			return SettleRead(r), nil
		}
		if null && t != core.OK {
			return nil, nil
		}
		var s settled
		if err := decode(&s, `{"in_flight": N ≥ 0}`); err != nil {
			return nil, err
		}
		return Settled(s), nil
	case FEffects, FOrders:
		if t == core.Invoke {
			var p page
			if err := decode(&p, `{"from": N ≥ 0, "count": N ≥ 1}`); err != nil {
				return nil, err
			}
			return Page(p), nil
		}
		if null && t != core.OK {
			return nil, nil
		}
		if f == FEffects {
			var p EffectsPage
			if err := decode(&p, `{"effects": [{"order": "…", "step": "…", …}, …], "from": N, "total": N}`); err != nil {
				return nil, err
			}
			return p, nil
		}
		var p OrdersPage
		if err := decode(&p, `{"orders": [{"id": "…", "state": "…"}, …], "from": N, "total": N}`); err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, core.BadInput("saga: unknown operation %q with value %s (want order, settle, effects or orders)", f, raw)
}

// settleRead, settled and page are SettleRead, Settled and Page with the
// checks DecodeValue applies.
type (
	settleRead SettleRead
	settled    Settled
	page       Page
)

// Validate refuses a negative wait.
func (r *settleRead) Validate() error {
	if r.WaitMS < 0 {
		return core.BadInput("wait_ms %d: want 0 or more", r.WaitMS)
	}
	return nil
}

// Validate refuses a negative count.
func (s *settled) Validate() error {
	if s.InFlight < 0 {
		return core.BadInput("in_flight %d: want 0 or more", s.InFlight)
	}
	return nil
}

// Validate refuses a negative start or a count below one.
func (p *page) Validate() error {
	if p.From < 0 || p.Count < 1 {
		return core.BadInput("from %d count %d: want from ≥ 0 and count ≥ 1", p.From, p.Count)
	}
	return nil
}
