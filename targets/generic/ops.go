package generic

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/idempotency"
)

// defaultOpTimeout bounds an operation whose context has no deadline.
const defaultOpTimeout = 10 * time.Second

// effect is what one request that may change the system did, as far as
// the client can tell: the idempotency workload's Effect, which a charge's
// tries report.
type effect = idempotency.Effect

const (
	// notApplied: it certainly did not take effect (nothing was sent, or
	// the system refused it).
	notApplied = idempotency.NotApplied
	// applied: the system acknowledged it.
	applied = idempotency.Applied
	// unknown: it may or may not have taken effect.
	unknown = idempotency.Unknown
)

// typeOf returns the completion type of a change that had effect e.
func typeOf(e effect) core.Type {
	switch e {
	case applied:
		return core.OK
	case notApplied:
		return core.Fail
	}
	return core.Info
}

// args are an operation's values: the register workload's write value or
// cas pair, a charge's request; Key is already in the run's namespace.
type args struct {
	Key       string
	Value     int64
	Old, New  int64
	RequestID string
	Amount    int64
}

// vars returns the template values of a.
func (a args) vars(op string) map[string]string {
	v := map[string]string{PKey: a.Key}
	switch op {
	case OpWrite:
		v[PValue] = strconv.FormatInt(a.Value, 10)
	case OpCAS:
		v[POld], v[PNew] = strconv.FormatInt(a.Old, 10), strconv.FormatInt(a.New, 10)
	case OpCharge:
		v[PRequestID], v[PAmount] = a.RequestID, strconv.FormatInt(a.Amount, 10)
	}
	return v
}

// param returns the value named name (a placeholder's name) with its Go
// type: a string for key and request_id, an int64 otherwise.
func (a args) param(name string) any {
	switch name {
	case PKey:
		return a.Key
	case PValue:
		return a.Value
	case POld:
		return a.Old
	case PNew:
		return a.New
	case PRequestID:
		return a.RequestID
	case PAmount:
		return a.Amount
	}
	return nil
}

// argsOf reads op's value for its kind, putting its key into namespace
// ns. A value of the wrong type, an empty key or an unknown operation is
// an error: the client fails the operation before it sends anything.
func argsOf(ns string, op core.Op) (args, error) {
	if op.Key == "" {
		return args{}, fmt.Errorf("no key")
	}
	a := args{Key: scoped(ns, op.Key)}
	switch op.F {
	case OpRead, OpLedger:
		return a, nil
	case OpWrite:
		v, ok := op.Value.(int64)
		if !ok {
			return a, fmt.Errorf("write value %v (%T): want int64", op.Value, op.Value)
		}
		a.Value = v
	case OpCAS:
		v, ok := op.Value.([2]int64)
		if !ok {
			return a, fmt.Errorf("cas value %v (%T): want [2]int64{old, new}", op.Value, op.Value)
		}
		a.Old, a.New = v[0], v[1]
	case OpCharge:
		req, err := chargeRequest(op.Value)
		if err != nil {
			return a, err
		}
		a.RequestID, a.Amount = scoped(ns, req.RequestID), req.Amount
	default:
		return a, fmt.Errorf("unknown operation %q", op.F)
	}
	return a, nil
}

// chargeRequest returns the request of a charge's value.
func chargeRequest(v any) (idempotency.ChargeRequest, error) {
	var req idempotency.ChargeRequest
	switch r := v.(type) {
	case idempotency.ChargeRequest:
		req = r
	case *idempotency.ChargeRequest:
		if r == nil {
			return req, fmt.Errorf("charge value nil: want an idempotency.ChargeRequest")
		}
		req = *r
	default:
		return req, fmt.Errorf("charge value %T: want an idempotency.ChargeRequest", v)
	}
	return req, req.Validate()
}

// done completes op with t and msg.
func done(op core.Op, t core.Type, msg string) core.Op {
	op.Type, op.Error = t, msg
	return op
}

// withDeadline gives ctx a deadline of defaultOpTimeout when it has none.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultOpTimeout)
}

// charge performs a charge as the idempotency workload defines it
// (idempotency.Perform), each try sent by try.
func charge(ctx context.Context, op core.Op, a args, try func(ctx context.Context, a args) (effect, string)) core.Op {
	req, _ := chargeRequest(op.Value)
	return idempotency.Perform(ctx, op, req, func(ctx context.Context) (idempotency.Effect, string) { return try(ctx, a) })
}

// ledgerPage completes a ledger read of op with rows, the whole ledger of
// the account as the system returned it, request ids still in namespace
// ns: the page op asks for (idempotency.LedgerRead), or the whole ledger
// when it asks for none.
func ledgerPage(op core.Op, ns string, rows []idempotency.Row) core.Op {
	for i := range rows {
		rows[i].RequestID = unscoped(ns, rows[i].RequestID)
	}
	var page *idempotency.LedgerRead
	switch v := op.Value.(type) {
	case idempotency.LedgerRead:
		page = &v
	case *idempotency.LedgerRead:
		page = v
	}
	st := idempotency.LedgerState{Rows: rows}
	if page != nil {
		total := int64(len(rows))
		from := min(page.From, total)
		to := min(from+page.Count, total)
		st = idempotency.LedgerState{Rows: rows[from:to], From: page.From, Total: total}
		if total == 0 {
			// An empty ledger: a whole, empty one.
			st.From = 0
		}
	}
	if st.Rows == nil {
		st.Rows = []idempotency.Row{}
	}
	op.Value = st
	return done(op, core.OK, "")
}

// checkLedgerValue reports a ledger read's value that is neither nil nor
// a page.
func checkLedgerValue(v any) error {
	switch p := v.(type) {
	case nil:
		return nil
	case idempotency.LedgerRead:
		if p.From < 0 || p.Count < 1 {
			return fmt.Errorf("ledger page from %d of %d rows", p.From, p.Count)
		}
		return nil
	case *idempotency.LedgerRead:
		if p == nil || p.From < 0 || p.Count < 1 {
			return fmt.Errorf("ledger page %v", p)
		}
		return nil
	}
	return fmt.Errorf("ledger value %T: want nil or an idempotency.LedgerRead", v)
}

// intOf turns a value read back into a register's int64: a JSON number
// or a string of digits, an integer column. Anything else is an error.
func intOf(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int:
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	case []byte:
		return intOf(string(x))
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		if err != nil {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

// clip shortens s to one line of at most n bytes, for an error message.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
