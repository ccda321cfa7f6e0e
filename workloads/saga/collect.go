package saga

import (
	"fmt"
	"slices"
	"sort"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// placed is one order operation.
type placed struct {
	order   Order
	typ     core.Type
	outcome *Outcome // on ok
	events  []int
}

// row is one effect read back, with where it was read.
type row struct {
	Effect
	service string
	pos     int64
	events  []int
}

// collected is what both checkers gather from a history.
type collected struct {
	orders []placed
	// rows are the effects of the services read whole, service by
	// service, in each service's order.
	rows []row
	// unread lists the services whose record was not read whole.
	unread []string
	// states maps each order id to the orchestrator's state, when its
	// orders were read whole; statesRead says whether they were.
	states     map[string]stateRead
	stateOrder []string
	statesRead bool
	// settled is the in-flight count of the last ok settle; settles
	// counts the ok settles.
	settled int64
	settles int
}

// stateRead is one order's state with the events of the read.
type stateRead struct {
	OrderState
	events []int
}

// pageKey names one page of a record: whose, and its start.
type pageKey struct {
	key  string
	from int64
}

// collect pairs h and gathers the orders, the services' records read
// whole and the orchestrator's states.
func collect(h core.History) (*collected, error) {
	ops, err := checkers.Pair(h)
	if err != nil {
		return nil, err
	}
	c := &collected{}
	effectPages := map[pageKey]*checkers.Operation{}
	orderPages := map[pageKey]*checkers.Operation{}
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case FOrder:
			o, err := as[Order](op.Input)
			if err == nil {
				err = o.Validate()
			}
			if err != nil {
				return nil, core.BadInput("event %d: order: %v", op.Invoke, err)
			}
			p := placed{order: o, typ: op.Type, events: op.Events()}
			if op.Type == core.OK {
				v, err := as[Outcome](op.Output)
				if err == nil {
					err = v.Validate()
				}
				if err != nil {
					return nil, core.BadInput("event %d: ok order %s: %v", op.Complete, o.ID, err)
				}
				p.outcome = &v
			}
			c.orders = append(c.orders, p)
		case FSettle:
			if op.Type != core.OK {
				continue
			}
			s, err := as[Settled](op.Output)
			if err != nil {
				return nil, core.BadInput("event %d: ok settle: %v", op.Complete, err)
			}
			c.settled = s.InFlight
			c.settles++
		case FEffects:
			if !slices.Contains(Services, op.Key) {
				return nil, core.BadInput("event %d: effects read of %q, which is no service (want payment, inventory or shipping)", op.Invoke, op.Key)
			}
			if op.Type != core.OK {
				continue
			}
			p, err := as[EffectsPage](op.Output)
			if err == nil {
				err = p.Validate()
			}
			if err != nil {
				return nil, core.BadInput("event %d: effects read of %s: %v", op.Complete, op.Key, err)
			}
			pk := pageKey{op.Key, p.From}
			if q, ok := effectPages[pk]; !ok || op.Complete > q.Complete {
				effectPages[pk] = op
			}
		case FOrders:
			if op.Type != core.OK {
				continue
			}
			p, err := as[OrdersPage](op.Output)
			if err == nil {
				err = p.Validate()
			}
			if err != nil {
				return nil, core.BadInput("event %d: orders read: %v", op.Complete, err)
			}
			pk := pageKey{op.Key, p.From}
			if q, ok := orderPages[pk]; !ok || op.Complete > q.Complete {
				orderPages[pk] = op
			}
		default:
			return nil, core.BadInput("event %d: unknown operation %q (want order, settle, effects or orders)", op.Invoke, op.F)
		}
	}
	for _, s := range Services {
		n := len(c.rows)
		if !readWhole(s, effectPages, func(op *checkers.Operation, from int64) (int, int64) {
			p, _ := as[EffectsPage](op.Output)
			for i, e := range p.Effects {
				c.rows = append(c.rows, row{Effect: e, service: s, pos: from + int64(i), events: op.Events()})
			}
			return len(p.Effects), p.Total
		}) {
			c.rows = c.rows[:n]
			c.unread = append(c.unread, s)
		}
	}
	c.states = map[string]stateRead{}
	c.statesRead = readWhole(Orchestrator, orderPages, func(op *checkers.Operation, _ int64) (int, int64) {
		p, _ := as[OrdersPage](op.Output)
		for _, o := range p.Orders {
			if _, dup := c.states[o.ID]; !dup {
				c.stateOrder = append(c.stateOrder, o.ID)
			}
			c.states[o.ID] = stateRead{OrderState: o, events: op.Events()}
		}
		return len(p.Orders), p.Total
	})
	if !c.statesRead {
		c.states, c.stateOrder = map[string]stateRead{}, nil
	}
	return c, nil
}

// readWhole walks key's pages from position 0, the last ok read of each,
// handing each to add (which returns how many entries it held and the
// record's length), until the record's length. It reports false when a
// page is missing or came back empty before the end, or the pages
// disagree on the record's length (it changed during the final reads).
func readWhole(key string, pages map[pageKey]*checkers.Operation, add func(op *checkers.Operation, from int64) (int, int64)) bool {
	var total int64
	for from := int64(0); ; {
		op, ok := pages[pageKey{key, from}]
		if !ok {
			return false
		}
		n, t := add(op, from)
		if from == 0 {
			total = t
		} else if t != total {
			return false
		}
		from += int64(n)
		if from >= total {
			return true
		}
		if n == 0 {
			return false
		}
	}
}

// as accepts a T or a non-nil *T.
func as[T any](v any) (T, error) {
	var zero T
	switch x := v.(type) {
	case T:
		return x, nil
	case *T:
		if x != nil {
			return *x, nil
		}
	}
	return zero, core.BadInput("value %v (%T): want %T", v, v, zero)
}

// sortedKeys returns m's keys in natural order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return checkers.NaturalLess(out[i], out[j]) })
	return out
}

// content phrases what a step of o does, as the effects checker compares
// it: "a3 amount 42" for charges and refunds, "item i2" for the others.
func content(step, account string, amount int64, item string) string {
	if ServiceOf(step) == Payment {
		return fmt.Sprintf("%s amount %d", account, amount)
	}
	return "item " + item
}

// stepID names one step of one order for the effects checker: "o17/charge".
func stepID(order, step string) string { return order + "/" + step }
