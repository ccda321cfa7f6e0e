package idempotency

import (
	"context"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
)

// Effect is what one try of a charge did to the ledger, as far as the
// client can tell.
type Effect int

const (
	// NotApplied: the try certainly did not take effect (nothing was
	// sent, or the system refused it).
	NotApplied Effect = iota
	// Applied: the system acknowledged the try.
	Applied
	// Unknown: the try may or may not have taken effect.
	Unknown
)

// Perform completes the charge op as the workload defines it: it calls try
// with req up to req.MaxAttempts times (at least once), giving each try an
// equal share of the time left on ctx, until one is acknowledged. try
// returns what the try did and, when it was not acknowledged, what went
// wrong in a few words. The completion is ok when a try was acknowledged,
// fail when no try can have taken effect, info otherwise; its value is the
// ChargeResult (how many tries, what went wrong with each one not
// acknowledged), and its error joins those words. When ctx ends before
// the first try, nothing was sent, but a completion that says so needs a
// try: it is info without a value.
func Perform(ctx context.Context, op core.Op, req ChargeRequest, try func(ctx context.Context) (Effect, string)) core.Op {
	tries := max(req.MaxAttempts, 1)
	var res ChargeResult
	maybe := false
	for i := range tries {
		if ctx.Err() != nil {
			break
		}
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			tctx, cancel = context.WithTimeout(ctx, time.Until(dl)/time.Duration(tries-i))
		}
		res.Attempts++
		e, msg := try(tctx)
		cancel()
		if e == Applied {
			op.Value, op.Type, op.Error = res, core.OK, ""
			return op
		}
		if e == Unknown {
			maybe = true
		}
		res.Errors = append(res.Errors, msg)
	}
	if res.Attempts == 0 {
		op.Value, op.Type, op.Error = nil, core.Info, "no time left for a try"
		return op
	}
	op.Value, op.Type, op.Error = res, core.Fail, strings.Join(res.Errors, "; ")
	if maybe {
		op.Type = core.Info
	}
	return op
}
