// Package saga is the saga workload: clients place orders with an
// orchestrator that runs each one as a saga over services (charge the
// account, reserve the item, ship it), each step with a compensation
// (refund, release) for when a later step fails; at the end, once no saga
// is in flight, every service's record of what it did and the
// orchestrator's order states are read back.
//
// # Operations
//
// f = "order", no key: place one order (Order: a client-chosen id, an
// account, an item, an amount). The completion is ok once the saga ended,
// its value (Outcome) saying whether it completed or was compensated and,
// when compensated, which step failed; fail when the order was certainly
// never recorded; info otherwise (a timeout, a lost connection). Whether
// an order fails at a step is decided by its id (FailsAt): about one in
// seven is out of stock (the reservation fails: refund), about one in
// seven undeliverable (the shipment fails: release, then refund).
//
// # Final reads
//
// First "settle" (no key): wait until the orchestrator reports no saga in
// flight, up to SettleRead.WaitMS or the operation's timeout; its value
// (Settled) is how many were still in flight. Then "effects" with key =
// a service ("payment", "inventory", "shipping"): the service's record of
// the steps it carried out, page by page (Page, EffectsPage); then
// "orders" with key "orders": the orchestrator's order states, page by
// page (OrdersPage).
//
// # Checkers
//
// Workload.Check runs two checkers. CheckEffects ("side-effects") hands
// every step of every order to the effects checker (package
// checkers/effects): each charge, refund, reservation, release and
// shipment at most once per order, and exactly the steps its outcome
// implies for an acknowledged order. CheckCompleteness
// ("saga-completeness") judges each order's steps as a whole: completed
// (charged, reserved, shipped, nothing compensated) or compensated (every
// step done undone by its compensation, nothing shipped), never in
// between; a compensation of a step that never happened is an anomaly; an
// order still in flight after the quiet period makes the verdict unknown.
package saga

import (
	"hash/fnv"

	"github.com/faultline/faultline/core"
)

// The operation names of the saga workload.
const (
	// FOrder places one order.
	FOrder = "order"
	// FSettle waits for the orchestrator to have no saga in flight.
	FSettle = "settle"
	// FEffects reads one page of a service's record of its steps.
	FEffects = "effects"
	// FOrders reads one page of the orchestrator's order states.
	FOrders = "orders"
)

// The services, and the key of the orchestrator's final reads.
const (
	// Payment charges and refunds.
	Payment = "payment"
	// Inventory reserves and releases items.
	Inventory = "inventory"
	// Shipping ships items.
	Shipping = "shipping"
	// Orchestrator is the key of the "orders" final reads.
	Orchestrator = "orders"
)

// Services lists the services in the order a saga visits them.
var Services = []string{Payment, Inventory, Shipping}

// The steps of a saga and their compensations.
const (
	// Charge charges the order's amount to its account (payment).
	Charge = "charge"
	// Reserve reserves the order's item (inventory).
	Reserve = "reserve"
	// Ship ships the order's item (shipping); it has no compensation, and
	// it is the last step.
	Ship = "ship"
	// Release undoes a Reserve (inventory).
	Release = "release"
	// Refund undoes a Charge (payment).
	Refund = "refund"
)

// Steps lists every step, forward steps first.
var Steps = []string{Charge, Reserve, Ship, Release, Refund}

// ServiceOf returns the service that carries out step, or "" for an
// unknown step.
func ServiceOf(step string) string {
	switch step {
	case Charge, Refund:
		return Payment
	case Reserve, Release:
		return Inventory
	case Ship:
		return Shipping
	}
	return ""
}

// CompensationOf returns the step that undoes step, or "" when it has none.
func CompensationOf(step string) string {
	switch step {
	case Charge:
		return Refund
	case Reserve:
		return Release
	}
	return ""
}

// The outcomes of a saga that ended.
const (
	// Completed: every step was carried out.
	Completed = "completed"
	// Compensated: a step failed and every step before it was undone.
	Compensated = "compensated"
)

// Order is the invocation value of an order.
type Order struct {
	// ID names the order; it is unique per order of a run.
	ID      string `json:"id"`
	Account string `json:"account"`
	Item    string `json:"item"`
	// Amount is what the order costs, at least 1.
	Amount int64 `json:"amount"`
}

// Validate reports what makes o impossible, as an error wrapping
// core.ErrBadInput.
func (o Order) Validate() error {
	switch {
	case o.ID == "":
		return core.BadInput("no id")
	case o.Account == "":
		return core.BadInput("no account")
	case o.Item == "":
		return core.BadInput("no item")
	case o.Amount < 1:
		return core.BadInput("amount %d: want at least 1", o.Amount)
	}
	return nil
}

// Outcome is the completion value of an ok order: how its saga ended.
type Outcome struct {
	// Outcome is Completed or Compensated.
	Outcome string `json:"outcome"`
	// Failed is the step that failed (Reserve or Ship) when the saga was
	// compensated; empty when it completed.
	Failed string `json:"failed,omitempty"`
}

// Validate reports what makes v impossible, as an error wrapping
// core.ErrBadInput.
func (v Outcome) Validate() error {
	switch {
	case v.Outcome == Completed && v.Failed == "":
		return nil
	case v.Outcome == Compensated && (v.Failed == Reserve || v.Failed == Ship):
		return nil
	}
	return core.BadInput("outcome %q failed at %q: want completed, or compensated after reserve or ship failed", v.Outcome, v.Failed)
}

// Done returns the steps an order with outcome v carried out, forward
// steps and compensations alike.
func (v Outcome) Done() []string {
	switch {
	case v.Outcome == Completed:
		return []string{Charge, Reserve, Ship}
	case v.Failed == Reserve:
		return []string{Charge, Refund}
	case v.Failed == Ship:
		return []string{Charge, Reserve, Release, Refund}
	}
	return nil
}

// SettleRead is the invocation value of a settle: how long to wait, in
// milliseconds, for no saga to be in flight (the operation's timeout
// bounds it too).
type SettleRead struct {
	WaitMS int64 `json:"wait_ms"`
}

// Settled is the completion value of an ok settle: the sagas still in
// flight when it ended (0: quiet).
type Settled struct {
	InFlight int64 `json:"in_flight"`
}

// Page is the invocation value of an "effects" or "orders" read: Count
// entries from position From.
type Page struct {
	From  int64 `json:"from"`
	Count int64 `json:"count"`
}

// Effect is one step a service carried out, as it records it.
type Effect struct {
	Order string `json:"order"`
	Step  string `json:"step"`
	// Account and Amount are set for charges and refunds, Item for
	// reservations, releases and shipments.
	Account string `json:"account,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
	Item    string `json:"item,omitempty"`
}

// EffectsPage is the completion value of an ok "effects" read: the
// service's record in its own order, Effects[0] at position From of a
// record Total long.
type EffectsPage struct {
	Effects []Effect `json:"effects"`
	From    int64    `json:"from"`
	Total   int64    `json:"total"`
}

// OrderState is one order as the orchestrator records it.
type OrderState struct {
	ID string `json:"id"`
	// State is Completed, Compensated, or the step the saga is waiting
	// for ("charging", "reserving", "shipping", "releasing",
	// "refunding"): still in flight.
	State string `json:"state"`
	// Failed is the step that failed, once one did.
	Failed string `json:"failed,omitempty"`
}

// Terminal reports whether the order's saga ended.
func (s OrderState) Terminal() bool { return s.State == Completed || s.State == Compensated }

// OrdersPage is the completion value of an ok "orders" read: the
// orchestrator's orders in the order they were recorded, Orders[0] at
// position From of Total.
type OrdersPage struct {
	Orders []OrderState `json:"orders"`
	From   int64        `json:"from"`
	Total  int64        `json:"total"`
}

// validPage reports whether n entries from from fit a record of total (a
// page past the end is empty).
func validPage(from, total int64, n int) error {
	if from < 0 || total < 0 || (n > 0 && from+int64(n) > total) {
		return core.BadInput("page from %d of %d entries over a record of %d", from, n, total)
	}
	return nil
}

// Validate reports what makes p impossible, as an error wrapping
// core.ErrBadInput.
func (p EffectsPage) Validate() error {
	if err := validPage(p.From, p.Total, len(p.Effects)); err != nil {
		return err
	}
	for i, e := range p.Effects {
		if e.Order == "" || ServiceOf(e.Step) == "" {
			return core.BadInput("effect %d: order %q step %q: want an order and one of charge, reserve, ship, release, refund", i, e.Order, e.Step)
		}
	}
	return nil
}

// Validate reports what makes p impossible, as an error wrapping
// core.ErrBadInput.
func (p OrdersPage) Validate() error {
	if err := validPage(p.From, p.Total, len(p.Orders)); err != nil {
		return err
	}
	for i, o := range p.Orders {
		if o.ID == "" || o.State == "" {
			return core.BadInput("order %d: id %q state %q: want both", i, o.ID, o.State)
		}
	}
	return nil
}

// FailsAt returns the step at which the order named id fails, decided by
// its id alone so that every service and test agrees: Reserve (out of
// stock) for about one order in seven, Ship (undeliverable) for about one
// in seven, "" for the rest.
func FailsAt(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	switch h.Sum32() % 7 {
	case 0:
		return Reserve
	case 1:
		return Ship
	}
	return ""
}
