package idempotency

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
)

// Checker is the name of the workload's checker in results.
const Checker = "idempotency"

// The anomalies' Kinds are those of package effects: effects.Duplicate
// ("duplicate-effect"), effects.Missing, effects.Unexpected,
// effects.Phantom and effects.Mismatch. kindWords gives the words a
// summary uses for each, in the order it names them.
var kindWords = []struct {
	kind      effects.Kind
	head      string // what broke
	one, many string // what is counted
}{
	{effects.Duplicate, "duplicate charges", "request id charged more than once", "request ids charged more than once"},
	{effects.Missing, "lost charges", "acknowledged charge not in the ledger", "acknowledged charges not in the ledger"},
	{effects.Unexpected, "failed charges applied", "charge that failed on every attempt is in the ledger", "charges that failed on every attempt are in the ledger"},
	{effects.Phantom, "phantom charges", "request id never sent is in the ledger", "request ids never sent are in the ledger"},
	{effects.Mismatch, "mismatched charges", "ledger row disagrees with its request", "ledger rows disagree with their requests"},
}

// Details is the Details of a result from CheckCharges, which stores it
// as a *Details.
type Details struct {
	// Accounts counts the accounts that charges or final reads name.
	Accounts int `json:"accounts"`
	// NoLedger lists, in natural order, the accounts whose ledger was not
	// read whole: a missing charge cannot be told there.
	NoLedger []string `json:"no_ledger,omitempty"`
	// Charges counts the charge operations; Redelivered the request ids
	// that more than one of them carried; Retried the operations whose
	// client sent its request more than once.
	Charges     int `json:"charges"`
	Redelivered int `json:"redelivered"`
	Retried     int `json:"retried"`
	// Rows counts the ledger rows read back, on every account read whole.
	Rows int `json:"rows"`
	// Requests are the effects checker's counts, by request id.
	Requests effects.Counts `json:"requests"`
	// Anomalies counts the anomalies by kind.
	Anomalies map[string]int `json:"anomalies,omitempty"`
}

// CheckCharges decides whether every request was charged at most once,
// and exactly once when acknowledged.
//
// Every charge operation is an attempt of its request id (a client's
// retries are inside one operation; a duplicate delivery is another
// operation with the same id): ok is acknowledged, fail certainly not
// applied, info (or an invocation that never completed) unknown. Each
// account's ledger is assembled from the last ok final read of each of
// its pages; every row is an effect of the request id it names, in that
// account, of its amount. The effects checker (effects.Check) then
// reports, each naming the request id, the account and the history
// indices of the charges and of the reads of the rows involved:
//   - a request id with more than one row (effects.Duplicate);
//   - an acknowledged request without a row (effects.Missing);
//   - a request that failed on every attempt with a row
//     (effects.Unexpected);
//   - a row naming a request id never sent (effects.Phantom);
//   - a row in another account than its request's, or of another amount
//     (effects.Mismatch).
//
// A request of unknown outcome may have one row or none. When an
// account's ledger was not read whole (a page failed or is missing, or
// the pages disagree on its length), its rows are left out and its
// requests are not judged missing; the verdict is then unknown unless
// something else is wrong.
//
// The verdict is invalid on any anomaly, and the Summary then names each
// kind found, with how many and the first request ids, as in "duplicate
// charges: 2 request ids charged more than once (r17, r40)"; otherwise it
// is unknown when an account has no whole ledger or ctx ended before the
// check did, and valid with a Summary beginning "no duplicate charges"
// otherwise. A malformed history, a value of the wrong type or shape, or
// two charges of one request id with different accounts or amounts give
// unknown with a Summary naming the problem. Details is a *Details.
func CheckCharges(ctx context.Context, h core.History) core.CheckResult {
	res := core.CheckResult{Checker: Checker, Verdict: core.Unknown}
	if ctx.Err() != nil {
		res.Summary = "charges unknown: " + checkers.StopPhrase(ctx) + " before the check began"
		return res
	}
	c, err := collect(h)
	if err != nil {
		res.Summary = "cannot check the charges: " + err.Error()
		return res
	}
	if ctx.Err() != nil {
		res.Summary = "charges unknown: " + checkers.StopPhrase(ctx) + " while reading the history"
		return res
	}
	found, err := effects.Check(c.reqs, c.effects)
	if err != nil {
		res.Summary = "cannot check the charges: " + err.Error()
		return res
	}
	d := c.details
	d.Requests = found.Counts
	for _, a := range found.Anomalies {
		res.Anomalies = append(res.Anomalies, a.Core())
	}
	if len(found.ByKind) > 0 {
		d.Anomalies = map[string]int{}
		for k, n := range found.ByKind {
			d.Anomalies[string(k)] = n
		}
	}
	res.Details = &d
	res.Summary, res.Verdict = summary(found, &d)
	return res
}

// collected is what collect gathers from a history.
type collected struct {
	reqs    []effects.Request
	effects []effects.Effect
	details Details
}

// pageKey names one page of an account's ledger: the account and the
// page's start.
type pageKey struct {
	key  string
	from int64
}

// collect pairs h and turns its charges into requests and the rows of its
// ledgers read whole into effects.
func collect(h core.History) (collected, error) {
	var c collected
	ops, err := checkers.Pair(h)
	if err != nil {
		return c, err
	}
	named := map[string]bool{}
	pages := map[pageKey]*checkers.Operation{}
	byID := map[string]int{}
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case Charge:
			named[op.Key] = true
			r, err := asRequest(op.Input)
			if err != nil {
				return c, core.BadInput("event %d: charge on %s: %v", op.Invoke, op.Key, err)
			}
			if err := r.Validate(); err != nil {
				return c, core.BadInput("event %d: charge on %s: %v", op.Invoke, op.Key, err)
			}
			v, err := asResult(op.Output)
			switch {
			case errors.Is(err, errNoValue):
				if op.Type != core.Info {
					return c, core.BadInput("event %d: %s charge of %s on %s without a value", op.Complete, op.Type, r.RequestID, op.Key)
				}
			case err != nil:
				return c, core.BadInput("event %d: charge of %s on %s: %v", op.Complete, r.RequestID, op.Key, err)
			default:
				if err := v.Validate(op.Type); err != nil {
					return c, core.BadInput("event %d: %s charge of %s on %s: %v", op.Complete, op.Type, r.RequestID, op.Key, err)
				}
				if v.Attempts > 1 {
					c.details.Retried++
				}
			}
			c.details.Charges++
			if byID[r.RequestID]++; byID[r.RequestID] == 2 {
				c.details.Redelivered++
			}
			c.reqs = append(c.reqs, effects.Request{
				ID: r.RequestID, Key: op.Key, Content: amount(r.Amount),
				Attempts: []effects.Attempt{{Type: op.Type, Events: op.Events()}},
			})
		case Ledger:
			named[op.Key] = true
			if op.Type != core.OK {
				continue
			}
			st, err := asLedger(op.Output)
			if errors.Is(err, errNoValue) {
				return c, core.BadInput("event %d: ok ledger read of %s without a value", op.Complete, op.Key)
			}
			if err == nil {
				err = st.Validate()
			}
			if err != nil {
				return c, core.BadInput("event %d: ledger read of %s: %v", op.Complete, op.Key, err)
			}
			pk := pageKey{op.Key, st.From}
			if p, ok := pages[pk]; !ok || op.Complete > p.Complete {
				pages[pk] = op
			}
		}
	}
	keys := make([]string, 0, len(named))
	for k := range named {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return checkers.NaturalLess(keys[i], keys[j]) })
	c.details.Accounts = len(keys)
	unread := map[string]bool{}
	for _, k := range keys {
		n := len(c.effects)
		if !c.addLedger(k, pages) {
			c.effects = c.effects[:n]
			unread[k] = true
			c.details.NoLedger = append(c.details.NoLedger, k)
		}
	}
	c.details.Rows = len(c.effects)
	for i := range c.reqs {
		c.reqs[i].Unread = unread[c.reqs[i].Key]
	}
	return c, nil
}

// addLedger appends the rows of key's ledger as effects, page by page from
// position 0 (the last ok read of each page) until the ledger's length.
// It reports false when the ledger was not read whole: a page is missing
// or came back short, or pages disagree on the ledger's length (it
// changed during the final reads).
func (c *collected) addLedger(key string, pages map[pageKey]*checkers.Operation) bool {
	var total int64
	for from := int64(0); ; {
		op, ok := pages[pageKey{key, from}]
		if !ok {
			return false
		}
		st, _ := asLedger(op.Output) // checked by collect
		t := st.Total
		if t == 0 && st.From == 0 {
			t = int64(len(st.Rows)) // a whole ledger in one read
		}
		if from == 0 {
			total = t
		} else if t != total {
			return false
		}
		events := op.Events()
		for i, r := range st.Rows {
			pos := from + int64(i)
			c.effects = append(c.effects, effects.Effect{
				ID: r.RequestID, Key: key, Content: amount(r.Amount),
				Where:  fmt.Sprintf("row %d of %s's ledger", pos+1, key),
				Events: events,
			})
		}
		from += int64(len(st.Rows))
		if from >= total {
			return true
		}
		if len(st.Rows) == 0 {
			return false
		}
	}
}

// amount phrases an amount as the effects checker compares it.
func amount(n int64) string { return fmt.Sprintf("amount %d", n) }

// summary phrases the result and decides the verdict: invalid on any
// anomaly, else unknown when an account's ledger was not read whole, else
// valid.
func summary(found effects.Result, d *Details) (string, core.Verdict) {
	tail := ""
	if len(d.NoLedger) > 0 {
		tail = "; no whole ledger read of " + checkers.ListNames(d.NoLedger)
	}
	if !found.Valid() {
		var parts []string
		for _, w := range kindWords {
			n := found.ByKind[w.kind]
			if n == 0 {
				continue
			}
			var ids []string
			for _, a := range found.Anomalies {
				if a.Kind == w.kind {
					id := a.ID
					if id == "" {
						id = `""`
					}
					if len(ids) == 0 || ids[len(ids)-1] != id {
						ids = append(ids, id)
					}
				}
			}
			what := w.one
			if n > 1 {
				what = w.many
			}
			parts = append(parts, fmt.Sprintf("%s: %d %s (%s)", w.head, n, what, checkers.ListNames(ids)))
		}
		return strings.Join(parts, "; ") + tail, core.Invalid
	}
	n := d.Requests
	judged := fmt.Sprintf("%s acknowledged and charged once, %d failed and not charged, %d of unknown outcome (%d charged once, %d not) on %s",
		checkers.Plural(n.Acknowledged, "request"), n.Failed, n.Indeterminate, n.IndeterminateApplied, n.IndeterminateNotApplied, checkers.Plural(d.Accounts, "account"))
	if d.Redelivered > 0 || d.Retried > 0 {
		judged += fmt.Sprintf("; %s delivered twice, %s retried", checkers.Plural(d.Redelivered, "request"), checkers.Plural(d.Retried, "charge"))
	}
	if tail != "" {
		return "charges unknown" + tail + " (" + judged + ")", core.Unknown
	}
	return "no duplicate charges: " + judged, core.Valid
}

// errNoValue is what asResult and asLedger return for a nil value.
var errNoValue = errors.New("no value")

// asRequest accepts a ChargeRequest or a non-nil *ChargeRequest.
func asRequest(v any) (ChargeRequest, error) {
	switch x := v.(type) {
	case ChargeRequest:
		return x, nil
	case *ChargeRequest:
		if x != nil {
			return *x, nil
		}
	}
	return ChargeRequest{}, core.BadInput("invocation value %v (%T): want idempotency.ChargeRequest", v, v)
}

// asResult accepts a ChargeResult or a non-nil *ChargeResult; nil gives
// errNoValue.
func asResult(v any) (ChargeResult, error) {
	switch x := v.(type) {
	case nil:
		return ChargeResult{}, errNoValue
	case ChargeResult:
		return x, nil
	case *ChargeResult:
		if x == nil {
			return ChargeResult{}, errNoValue
		}
		return *x, nil
	}
	return ChargeResult{}, core.BadInput("completion value %v (%T): want idempotency.ChargeResult", v, v)
}

// asLedger accepts a LedgerState or a non-nil *LedgerState; nil gives
// errNoValue.
func asLedger(v any) (LedgerState, error) {
	switch x := v.(type) {
	case nil:
		return LedgerState{}, errNoValue
	case LedgerState:
		return x, nil
	case *LedgerState:
		if x == nil {
			return LedgerState{}, errNoValue
		}
		return *x, nil
	}
	return LedgerState{}, core.BadInput("ledger value %v (%T): want idempotency.LedgerState", v, v)
}
