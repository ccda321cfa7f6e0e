package saga

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
)

// The checkers' names in results.
const (
	// EffectsChecker is CheckEffects' name.
	EffectsChecker = "side-effects"
	// CompletenessChecker is CheckCompleteness' name.
	CompletenessChecker = "saga-completeness"
)

// The kinds of anomaly CheckCompleteness reports (CheckEffects reports
// those of package effects).
const (
	// KindOrphan: a compensation ran for a step that never happened.
	KindOrphan = "orphan-compensation"
	// KindHalfDone: a saga that ended is neither completed nor fully
	// compensated.
	KindHalfDone = "half-done"
	// KindUnrecorded: a service carried out a step of an order the
	// orchestrator never recorded.
	KindUnrecorded = "unrecorded-order"
	// KindLost: an acknowledged order is not among the orchestrator's.
	KindLost = "lost-order"
	// KindOutcomeChanged: the orchestrator's final state of an order is
	// not the outcome the client was told.
	KindOutcomeChanged = "outcome-changed"
)

// stepWords phrase a duplicate of each step in a summary.
var stepWords = map[string][2]string{
	Charge:  {"duplicate charges", "charged"},
	Refund:  {"duplicate refunds", "refunded"},
	Reserve: {"duplicate reservations", "reserved"},
	Release: {"duplicate releases", "released"},
	Ship:    {"duplicate shipments", "shipped"},
}

// kindWords phrase the effects checker's other kinds in a summary.
var kindWords = []struct {
	kind      effects.Kind
	head      string
	one, many string
}{
	{effects.Missing, "missing steps", "step of an acknowledged order not carried out", "steps of acknowledged orders not carried out"},
	{effects.Unexpected, "unexpected steps", "step carried out that the order's outcome rules out", "steps carried out that their orders' outcomes rule out"},
	{effects.Phantom, "phantom steps", "step of an order never placed", "steps of orders never placed"},
	{effects.Mismatch, "mismatched steps", "record disagrees with its order", "records disagree with their orders"},
}

// EffectsDetails is the Details of CheckEffects' result (a
// *EffectsDetails).
type EffectsDetails struct {
	// Orders counts the order operations; Completed and Compensated the
	// acknowledged ones by outcome.
	Orders      int `json:"orders"`
	Completed   int `json:"completed"`
	Compensated int `json:"compensated"`
	// Rows counts the records read back from the services read whole;
	// Unread names the services whose record was not.
	Rows   int      `json:"rows"`
	Unread []string `json:"unread,omitempty"`
	// Steps are the effects checker's counts, by order and step.
	Steps effects.Counts `json:"steps"`
	// Duplicates counts, by step, the orders that had it carried out more
	// than once.
	Duplicates map[string]int `json:"duplicates,omitempty"`
	// Anomalies counts the anomalies by kind.
	Anomalies map[string]int `json:"anomalies,omitempty"`
}

// CheckEffects decides whether every step of every order was carried out
// at most once, and exactly the steps its outcome implies when the order
// was acknowledged.
//
// Each order operation makes one request per step (ids "o17/charge", …,
// in the step's service, of the order's account and amount or item) for
// the effects checker (package checkers/effects): for an ok order, the
// steps its Outcome implies (Outcome.Done) are acknowledged and the others
// failed (a refund of a completed order is an anomaly); a failed order
// (never recorded) has every step failed; an order of unknown outcome has
// every step of unknown outcome, each allowed once or not at all. Every
// record a service holds is an effect of the step it names. A step
// carried out twice is effects.Duplicate; the summary then names the
// steps, as in "duplicate charges: 3 orders charged more than once (o4,
// o9, o11)".
//
// A service whose record was not read whole is left out (its steps are
// not judged missing): the verdict is then unknown unless something else
// is wrong. A malformed history gives unknown with a Summary naming the
// problem. Details is an *EffectsDetails.
func CheckEffects(ctx context.Context, h core.History) core.CheckResult {
	res := core.CheckResult{Checker: EffectsChecker, Verdict: core.Unknown}
	if ctx.Err() != nil {
		res.Summary = "side effects unknown: " + checkers.StopPhrase(ctx) + " before the check began"
		return res
	}
	c, err := collect(h)
	if err != nil {
		res.Summary = "cannot check the side effects: " + err.Error()
		return res
	}
	d := EffectsDetails{Orders: len(c.orders), Rows: len(c.rows), Unread: c.unread}
	var reqs []effects.Request
	for _, p := range c.orders {
		var done []string
		if p.outcome != nil {
			done = p.outcome.Done()
			if p.outcome.Outcome == Completed {
				d.Completed++
			} else {
				d.Compensated++
			}
		}
		for _, step := range Steps {
			typ := p.typ
			if typ == core.OK && !slices.Contains(done, step) {
				typ = core.Fail
			}
			reqs = append(reqs, effects.Request{
				ID: stepID(p.order.ID, step), Key: ServiceOf(step),
				Content:  content(step, p.order.Account, p.order.Amount, p.order.Item),
				Attempts: []effects.Attempt{{Type: typ, Events: p.events}},
				Unread:   slices.Contains(c.unread, ServiceOf(step)),
			})
		}
	}
	var effs []effects.Effect
	for _, r := range c.rows {
		effs = append(effs, effects.Effect{
			ID: stepID(r.Order, r.Step), Key: r.service,
			Content: content(r.Step, r.Account, r.Amount, r.Item),
			Where:   fmt.Sprintf("entry %d of %s's record", r.pos+1, r.service),
			Events:  r.events,
		})
	}
	if ctx.Err() != nil {
		res.Summary = "side effects unknown: " + checkers.StopPhrase(ctx) + " while reading the history"
		return res
	}
	found, err := effects.Check(reqs, effs)
	if err != nil {
		res.Summary = "cannot check the side effects: " + err.Error()
		return res
	}
	d.Steps = found.Counts
	dupIDs := map[string][]string{}
	for _, a := range found.Anomalies {
		res.Anomalies = append(res.Anomalies, a.Core())
		if a.Kind == effects.Duplicate {
			order, step, _ := strings.Cut(a.ID, "/")
			dupIDs[step] = append(dupIDs[step], order)
		}
	}
	if len(dupIDs) > 0 {
		d.Duplicates = map[string]int{}
		for step, ids := range dupIDs {
			d.Duplicates[step] = len(ids)
		}
	}
	if len(found.ByKind) > 0 {
		d.Anomalies = map[string]int{}
		for k, n := range found.ByKind {
			d.Anomalies[string(k)] = n
		}
	}
	res.Details = &d
	tail := ""
	if len(c.unread) > 0 {
		tail = "; no whole record read of " + strings.Join(c.unread, ", ")
	}
	if !found.Valid() {
		var parts []string
		for _, step := range Steps {
			ids := dupIDs[step]
			if len(ids) == 0 {
				continue
			}
			w := stepWords[step]
			parts = append(parts, fmt.Sprintf("%s: %s %s more than once (%s)", w[0], checkers.Plural(len(ids), "order"), w[1], checkers.ListNames(ids)))
		}
		for _, w := range kindWords {
			var ids []string
			for _, a := range found.Anomalies {
				if a.Kind == w.kind && (len(ids) == 0 || ids[len(ids)-1] != a.ID) {
					ids = append(ids, a.ID)
				}
			}
			if len(ids) == 0 {
				continue
			}
			what := w.one
			if n := found.ByKind[w.kind]; n > 1 {
				what = w.many
			}
			parts = append(parts, fmt.Sprintf("%s: %d %s (%s)", w.head, found.ByKind[w.kind], what, checkers.ListNames(ids)))
		}
		res.Verdict, res.Summary = core.Invalid, strings.Join(parts, "; ")+tail
		return res
	}
	n := d.Steps
	judged := fmt.Sprintf("%s acknowledged (%d completed, %d compensated), %d read back from the services",
		checkers.Plural(d.Completed+d.Compensated, "order"), d.Completed, d.Compensated, d.Rows)
	judged += fmt.Sprintf("; steps: %d carried out as acknowledged, %d of unknown outcome (%d carried out, %d not)",
		n.Acknowledged, n.Indeterminate, n.IndeterminateApplied, n.IndeterminateNotApplied)
	if tail != "" {
		res.Summary = "side effects unknown" + tail + " (" + judged + ")"
		return res
	}
	res.Verdict, res.Summary = core.Valid, "each step at most once: "+judged
	return res
}

// CompletenessDetails is the Details of CheckCompleteness' result (a
// *CompletenessDetails).
type CompletenessDetails struct {
	// Orders counts the orders judged: placed, recorded by the
	// orchestrator or named by a service's record.
	Orders int `json:"orders"`
	// Completed and Compensated count the orders whose sagas ended so,
	// at the orchestrator and in the services' records alike;
	// CompensatedAt counts the compensated ones by the step that failed.
	Completed     int            `json:"completed"`
	Compensated   int            `json:"compensated"`
	CompensatedAt map[string]int `json:"compensated_at,omitempty"`
	// NotStarted counts the orders the orchestrator never recorded and
	// no service acted on (a failed or indeterminate placement).
	NotStarted int `json:"not_started"`
	// InFlight lists the orders still in flight at the orchestrator after
	// the quiet period.
	InFlight []string `json:"in_flight,omitempty"`
	// Settled is the in-flight count of the last settle (-1: none
	// answered).
	Settled int64 `json:"settled"`
	// Unread names the records not read whole (services, or "orders").
	Unread []string `json:"unread,omitempty"`
	// Anomalies counts the anomalies by kind.
	Anomalies map[string]int `json:"anomalies,omitempty"`
}

// CheckCompleteness decides whether every order's saga ended completed or
// fully compensated, never in between.
//
// Each order (placed by a client, recorded by the orchestrator, or named
// by a service's record) is judged on the steps the services' records
// hold for it, as a set, and on the orchestrator's final state:
//   - a refund without a charge, or a release without a reservation, is
//     KindOrphan (a compensation for a step that never happened);
//   - an order whose final state is completed must have been charged,
//     reserved and shipped, and neither refunded nor released; one whose
//     final state is compensated must have every charge refunded and every
//     reservation released, and no shipment: anything else is
//     KindHalfDone;
//   - an order the orchestrator never recorded must have no steps
//     (KindUnrecorded) and must not have been acknowledged (KindLost);
//   - an acknowledged order's final state must be the outcome the client
//     was told (KindOutcomeChanged).
//
// An order still in flight at the orchestrator after the quiet period,
// or records not read whole, make the verdict unknown unless something is
// wrong. A malformed history gives unknown with a Summary naming the
// problem. Details is a *CompletenessDetails.
func CheckCompleteness(ctx context.Context, h core.History) core.CheckResult {
	res := core.CheckResult{Checker: CompletenessChecker, Verdict: core.Unknown}
	if ctx.Err() != nil {
		res.Summary = "completeness unknown: " + checkers.StopPhrase(ctx) + " before the check began"
		return res
	}
	c, err := collect(h)
	if err != nil {
		res.Summary = "cannot check completeness: " + err.Error()
		return res
	}
	d := CompletenessDetails{Settled: -1, Unread: slices.Clone(c.unread)}
	if c.settles > 0 {
		d.Settled = c.settled
	}
	if !c.statesRead {
		d.Unread = append(d.Unread, Orchestrator)
	}
	type judged struct {
		steps  map[string][]row
		placed []placed
	}
	byID := map[string]*judged{}
	get := func(id string) *judged {
		j := byID[id]
		if j == nil {
			j = &judged{steps: map[string][]row{}}
			byID[id] = j
		}
		return j
	}
	for _, p := range c.orders {
		get(p.order.ID).placed = append(get(p.order.ID).placed, p)
	}
	for _, id := range c.stateOrder {
		get(id)
	}
	for _, r := range c.rows {
		j := get(r.Order)
		j.steps[r.Step] = append(j.steps[r.Step], r)
	}
	ids := sortedKeys(byID)
	d.Orders = len(ids)
	add := func(kind, id string, desc string, events ...[]int) {
		var ev []int
		for _, e := range events {
			ev = append(ev, e...)
		}
		slices.Sort(ev)
		res.Anomalies = append(res.Anomalies, core.Anomaly{Kind: kind, Key: id, Description: desc, Events: slices.Compact(ev)})
	}
	undecided := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			res.Summary = "completeness unknown: " + checkers.StopPhrase(ctx) + " while judging the orders"
			return res
		}
		j := byID[id]
		has := func(step string) bool { return len(j.steps[step]) > 0 }
		stepEvents := func() []int {
			var ev []int
			for _, rs := range j.steps {
				for _, r := range rs {
					ev = append(ev, r.events...)
				}
			}
			return ev
		}
		var placeEvents []int
		var acked *placed
		for i, p := range j.placed {
			placeEvents = append(placeEvents, p.events...)
			if p.outcome != nil && acked == nil {
				acked = &j.placed[i]
			}
		}
		for _, step := range []string{Charge, Reserve} {
			comp := CompensationOf(step)
			if has(comp) && !has(step) {
				r := j.steps[comp][0]
				add(KindOrphan, id, fmt.Sprintf("order %s: %s %s (entry %d of %s's record) but never %s it", id, r.service, pastTense(comp), r.pos+1, r.service, pastTense(step)), placeEvents, r.events)
			}
		}
		if !c.statesRead {
			undecided++
			continue
		}
		st, recorded := c.states[id]
		if !recorded {
			if len(j.steps) > 0 {
				add(KindUnrecorded, id, fmt.Sprintf("order %s is not among the orchestrator's orders, yet %s", id, describeSteps(j.steps)), placeEvents, stepEvents())
			}
			if acked != nil {
				add(KindLost, id, fmt.Sprintf("order %s was acknowledged as %s (event %d) but is not among the orchestrator's orders", id, acked.outcome.Outcome, acked.events[len(acked.events)-1]), acked.events)
			}
			if len(j.steps) == 0 && acked == nil {
				d.NotStarted++
			}
			continue
		}
		if acked != nil && (acked.outcome.Outcome != st.State || (st.State == Compensated && st.Failed != "" && st.Failed != acked.outcome.Failed)) {
			add(KindOutcomeChanged, id, fmt.Sprintf("order %s was acknowledged as %s (event %d), but the orchestrator's final state is %s", id, describeOutcome(*acked.outcome), acked.events[len(acked.events)-1], describeOutcome(Outcome{Outcome: st.State, Failed: st.Failed})), acked.events, st.events)
		}
		if !st.Terminal() {
			d.InFlight = append(d.InFlight, id)
			continue
		}
		if len(c.unread) > 0 {
			undecided++
			continue
		}
		var wrong []string
		switch st.State {
		case Completed:
			for _, step := range []string{Charge, Reserve, Ship} {
				if !has(step) {
					wrong = append(wrong, "never "+pastTense(step))
				}
			}
			for _, step := range []string{Release, Refund} {
				if has(step) {
					wrong = append(wrong, pastTense(step))
				}
			}
		case Compensated:
			for _, step := range []string{Charge, Reserve} {
				if has(step) && !has(CompensationOf(step)) {
					wrong = append(wrong, pastTense(step)+" but never "+pastTense(CompensationOf(step)))
				}
			}
			if has(Ship) {
				wrong = append(wrong, pastTense(Ship))
			}
		}
		if len(wrong) > 0 {
			steps := "no step was carried out"
			if len(j.steps) > 0 {
				steps = describeSteps(j.steps)
			}
			add(KindHalfDone, id, fmt.Sprintf("order %s ended %s at the orchestrator, yet it was %s: %s", id, st.State, strings.Join(wrong, ", "), steps), placeEvents, st.events, stepEvents())
			continue
		}
		if st.State == Completed {
			d.Completed++
		} else {
			d.Compensated++
			if st.Failed != "" {
				if d.CompensatedAt == nil {
					d.CompensatedAt = map[string]int{}
				}
				d.CompensatedAt[st.Failed]++
			}
		}
	}
	if len(res.Anomalies) > 0 {
		d.Anomalies = map[string]int{}
		for _, a := range res.Anomalies {
			d.Anomalies[a.Kind]++
		}
	}
	res.Details = &d
	counts := fmt.Sprintf("%d completed, %d compensated", d.Completed, d.Compensated)
	if len(d.CompensatedAt) > 0 {
		counts += fmt.Sprintf(" (%d after reserve failed, %d after ship failed)", d.CompensatedAt[Reserve], d.CompensatedAt[Ship])
	}
	counts += fmt.Sprintf(", %d never started", d.NotStarted)
	if len(res.Anomalies) > 0 {
		var parts []string
		for _, k := range []string{KindHalfDone, KindOrphan, KindUnrecorded, KindLost, KindOutcomeChanged} {
			var named []string
			for _, a := range res.Anomalies {
				if a.Kind == k {
					named = append(named, a.Key)
				}
			}
			if len(named) > 0 {
				parts = append(parts, fmt.Sprintf("%s: %s (%s)", k, checkers.Plural(len(named), "order"), checkers.ListNames(named)))
			}
		}
		res.Verdict, res.Summary = core.Invalid, strings.Join(parts, "; ")+"; "+counts
		return res
	}
	var why []string
	if len(d.InFlight) > 0 {
		why = append(why, fmt.Sprintf("%s still in flight after the quiet period (%s)", checkers.Plural(len(d.InFlight), "order"), checkers.ListNames(d.InFlight)))
	}
	if len(d.Unread) > 0 {
		why = append(why, fmt.Sprintf("no whole record read of %s (%s undecided)", strings.Join(d.Unread, ", "), checkers.Plural(undecided, "order")))
	}
	if len(why) > 0 {
		res.Summary = "completeness unknown: " + strings.Join(why, "; ") + "; " + counts
		return res
	}
	res.Verdict, res.Summary = core.Valid, "every order completed or compensated: "+counts
	return res
}

// pastTense phrases a step done: "charged", "shipped".
func pastTense(step string) string { return stepWords[step][1] }

// describeSteps phrases the steps the services carried out for one order,
// with where they were read: "payment charged it (entry 3 of payment's
// record), inventory reserved it (entry 2 of inventory's record)".
func describeSteps(steps map[string][]row) string {
	var parts []string
	for _, step := range Steps {
		for _, r := range steps[step] {
			parts = append(parts, fmt.Sprintf("%s %s it (entry %d of %s's record)", r.service, pastTense(step), r.pos+1, r.service))
		}
	}
	return strings.Join(parts, ", ")
}

// describeOutcome phrases an outcome: "completed", "compensated after
// ship failed".
func describeOutcome(o Outcome) string {
	if o.Failed == "" {
		return o.Outcome
	}
	return fmt.Sprintf("%s after %s failed", o.Outcome, o.Failed)
}
