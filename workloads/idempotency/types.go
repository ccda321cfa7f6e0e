// Package idempotency is the idempotency workload: clients charge accounts
// with requests named by client-chosen ids, retry them on timeouts and
// errors, and sometimes deliver the same request twice at once; at the end
// every account's ledger is read back, and the checker decides whether
// each request was charged at most once, and exactly once when it was
// acknowledged.
//
// # Operations
//
// f = "charge", key = the account ("a0", "a1", ...): one logical request
// to charge the account an amount. The invocation's value is a
// ChargeRequest: the request id, unique per logical request, the amount,
// and how many times the client may try. The client sends the request,
// and when a try times out or fails it tries again with the same id, up
// to that bound; its completion carries a ChargeResult: how many tries it
// made and what went wrong with each one that did not succeed. The
// completion's type is ok when a try was acknowledged, fail when no try
// can have taken effect, and info otherwise.
//
// With probability Workload.Duplicates the generator hands out the same
// request again right after (same id, same account, same amount): the
// controller gives it to another client, so two clients deliver it at
// once, as a network or a message queue that redelivers would.
//
// # Final reads
//
// After the run, operations f = "ledger" read each account's ledger page
// by page (LedgerRead): every row the target holds for the account, each
// naming the request id it was charged for and the amount (LedgerState).
//
// # Checker
//
// Workload.Check runs CheckCharges, which hands the charges (as requests,
// each charge operation an attempt) and the ledger rows (as effects) to
// the effects checker (package checkers/effects): a request id charged
// more than once, an acknowledged charge not in the ledger, a charge that
// failed on every try found in the ledger, a row naming a request never
// sent and a row whose account or amount differs from its request's make
// the run invalid. A charge of unknown outcome may be in the ledger once
// or not at all.
package idempotency

import "github.com/faultline/faultline/core"

// The operation names of the idempotency workload.
const (
	// Charge is one logical request to charge an account.
	Charge = "charge"
	// Ledger is the final read of one account's ledger.
	Ledger = "ledger"
)

// ChargeRequest is the invocation value of a charge.
type ChargeRequest struct {
	// RequestID names the logical request; every try and every delivery
	// of it carries the same id.
	RequestID string `json:"request_id"`
	// Amount is what to charge, at least 1.
	Amount int64 `json:"amount"`
	// MaxAttempts is how many times the client may send the request
	// before it gives up; 0 means once.
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// ChargeResult is the completion value of a charge: what the client saw
// while it tried.
type ChargeResult struct {
	// Attempts is how many times the client sent the request, at least
	// 1; on an ok completion the last of them was acknowledged.
	Attempts int `json:"attempts"`
	// Errors lists, in order, what went wrong with each try that was not
	// acknowledged ("timeout", the target's error).
	Errors []string `json:"errors,omitempty"`
}

// LedgerRead is the invocation value of a final "ledger" read: the page
// of the account's ledger to read, Count rows from position From. A
// ledger is read in pages so that no history line grows past the reader's
// bound however long the run; a nil value reads it whole.
type LedgerRead struct {
	From  int64 `json:"from"`
	Count int64 `json:"count"`
}

// Row is one row of a ledger: a charge the target applied.
type Row struct {
	// RequestID is the request the row was charged for.
	RequestID string `json:"request_id"`
	Amount    int64  `json:"amount"`
}

// LedgerState is the completion value of an ok final read: one account's
// ledger, every row the target holds for it in the target's order, or one
// page of it (LedgerRead).
type LedgerState struct {
	Rows []Row `json:"rows"`
	// From is the position in the whole ledger of Rows[0]; Total is the
	// length of the whole ledger. Both zero: Rows is the whole ledger.
	From  int64 `json:"from,omitempty"`
	Total int64 `json:"total,omitempty"`
}

// PageSize is how many rows one final read asks for: a page's line in
// the history stays well under a megabyte.
const PageSize = 2000

// Validate reports what makes r impossible, as an error wrapping
// core.ErrBadInput: an empty request id, an amount below 1 or a negative
// bound on the tries.
func (r ChargeRequest) Validate() error {
	switch {
	case r.RequestID == "":
		return core.BadInput("no request_id")
	case r.Amount < 1:
		return core.BadInput("amount %d: want at least 1", r.Amount)
	case r.MaxAttempts < 0:
		return core.BadInput("max_attempts %d: want 0 or more", r.MaxAttempts)
	}
	return nil
}

// Validate reports what makes v impossible as the value of a completion
// of type t, as an error wrapping core.ErrBadInput: fewer than one try,
// more errors than tries, or, for ok, an error for every try (none was
// acknowledged).
func (v ChargeResult) Validate(t core.Type) error {
	switch {
	case v.Attempts < 1:
		return core.BadInput("attempts %d: want at least 1", v.Attempts)
	case len(v.Errors) > v.Attempts:
		return core.BadInput("%d errors for %d attempts", len(v.Errors), v.Attempts)
	case t == core.OK && len(v.Errors) == v.Attempts:
		return core.BadInput("an ok charge with an error for each of its %d attempts", v.Attempts)
	}
	return nil
}

// Validate reports what makes s impossible, as an error wrapping
// core.ErrBadInput: a negative position or length, or a page that reaches
// past the ledger's length.
func (s LedgerState) Validate() error {
	n := int64(len(s.Rows))
	if s.From < 0 || s.Total < 0 || (n > 0 && (s.Total > 0 || s.From > 0) && s.From+n > s.Total) {
		return core.BadInput("page from %d of %d rows over a ledger of %d", s.From, n, s.Total)
	}
	return nil
}
