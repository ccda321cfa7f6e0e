// Package transfer is the workload "transfer": transfers between accounts
// that live on different nodes of a target (participants of a two-phase
// commit, say), each a transaction named by the client, and reads of every
// balance in one transaction. At the end the clients read the balances and
// every participant's record of the transactions it prepared: whether it
// committed or aborted each one, and how long it held it in doubt.
//
// Its checkers: the bank workload's (the total never changes and no
// balance goes negative, in every read), atomicity (every transaction is
// committed on every participant it touched or on none, acknowledged ones
// everywhere, failed ones nowhere; money is conserved and the final
// balances are what the committed transactions made them) and blocking
// (how long prepared transactions stayed in doubt and how long client
// operations were stuck, per fault window: figures, not a judgement).
package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
)

// Name is the --workload name.
const Name = "transfer"

// The operations' f values. Transfers and reads are the bank workload's.
const (
	// TransferF moves money: value a bank.Transfer with its ID set.
	TransferF = bank.TransferF
	// ReadF reads every balance in one transaction: invocation value a
	// bank.ReadRequest, ok completion bank.Balances.
	ReadF = bank.ReadF
	// OutcomesF reads one page of every participant's transaction records
	// (final reads only): invocation value an OutcomesRead, ok completion
	// Outcomes.
	OutcomesF = "outcomes"
)

// The states of a transaction at a participant that prepared it.
const (
	// Committed: the participant applied the transaction's changes.
	Committed = "committed"
	// Aborted: the participant dropped them.
	Aborted = "aborted"
	// InDoubt: the participant voted yes and has not learnt the decision.
	InDoubt = "in-doubt"
)

// PageSize is how many records of each participant an OutcomesRead asks
// for.
const PageSize = 250

// ReadShare is the share of reads among the generated operations, in
// tenths; the rest are transfers. Reads lock every account on every
// participant, so they are kept few.
const ReadShare = 2

// OutcomesRead is the invocation value of an outcomes read: records From
// to From+Count-1 of every participant, in the order it prepared them.
type OutcomesRead struct {
	From  int `json:"from"`
	Count int `json:"count"`
}

// Record is one transaction as a participant knows it.
type Record struct {
	// Tx is the transaction's id (the transfer's ID).
	Tx string `json:"tx"`
	// State is Committed, Aborted or InDoubt.
	State string `json:"state"`
	// Deltas are the changes the participant prepared: account → amount
	// added (negative for a debit).
	Deltas map[string]int64 `json:"deltas"`
	// InDoubtNs is how long the participant held the transaction
	// prepared before it learnt the decision, in nanoseconds (until the
	// read, while still in doubt).
	InDoubtNs int64 `json:"in_doubt_ns"`
	// Alone is true when the participant decided on its own, without the
	// coordinator's word (after a prepare timeout).
	Alone bool `json:"alone,omitempty"`
}

// Outcomes is the value of an ok outcomes read: participant name → the
// records of the page asked for (fewer than Count: the participant's
// last page).
type Outcomes map[string][]Record

// Workload is the transfer workload. Its zero value starts every account
// with bank.DefaultBalance.
type Workload struct{}

var _ workloads.Workload = Workload{}

// Name returns "transfer".
func (Workload) Name() string { return Name }

// Description is one line for `faultline list`.
func (Workload) Description() string {
	return "transfers between accounts on different participants, each a named transaction, and reads of every balance; checks totals, atomicity on every participant's records, and measures how long transactions stayed in doubt"
}

// NewGenerator returns the generator of one run over bank.Accounts(keys)
// accounts, driven by rng (nil: seeded with zero).
func (Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	n := bank.Workload{}.Accounts(keys)
	g := &Generator{rng: rng, names: make([]string, n), read: bank.ReadRequest{Accounts: n, Balance: bank.DefaultBalance}}
	for i := range g.names {
		g.names[i] = bank.AccountName(i)
	}
	return g
}

// Generator hands out transfer operations. It is not safe for concurrent
// use; the controller calls it from one goroutine at a time.
type Generator struct {
	rng   *rand.Rand
	names []string
	read  bank.ReadRequest
	txs   int
}

var _ workloads.Generator = (*Generator)(nil)

// TxID returns the id of the n-th transfer (from 1): "t1", "t2", ...
func TxID(n int) string { return "t" + strconv.Itoa(n) }

// Next returns a read (ReadShare tenths) or a transfer of 1 to
// bank.MaxAmount between two distinct accounts drawn uniformly, with the
// next transaction id. It never runs out.
func (g *Generator) Next() (core.Op, bool) {
	if g.rng.IntN(10) < ReadShare {
		return core.Op{Type: core.Invoke, F: ReadF, Value: g.read}, true
	}
	n := len(g.names)
	from := g.rng.IntN(n)
	to := g.rng.IntN(n - 1)
	if to >= from {
		to++
	}
	g.txs++
	return core.Op{Type: core.Invoke, F: TransferF, Value: bank.Transfer{ID: TxID(g.txs), From: g.names[from], To: g.names[to], Amount: 1 + g.rng.Int64N(bank.MaxAmount)}}, true
}

// FinalReads returns a read of every balance, then enough pages of
// outcomes for a record of every transfer handed out, and one more.
func (g *Generator) FinalReads() []core.Op {
	ops := []core.Op{{Type: core.Invoke, F: ReadF, Value: g.read}}
	for p := range g.txs/PageSize + 1 {
		ops = append(ops, core.Op{Type: core.Invoke, F: OutcomesF, Value: OutcomesRead{From: p * PageSize, Count: PageSize}})
	}
	return ops
}

// Validate reports what makes r impossible, as an error wrapping
// core.ErrBadInput.
func (r OutcomesRead) Validate() error {
	if r.From < 0 || r.Count < 1 {
		return core.BadInput("outcomes read from %d, count %d: want from ≥ 0 and count ≥ 1", r.From, r.Count)
	}
	return nil
}

// Validate reports what makes o impossible, as an error wrapping
// core.ErrBadInput: a participant without a name, a record without a
// transaction id or with an unknown state, no changes, or a negative
// time in doubt.
func (o Outcomes) Validate() error {
	for p, rs := range o {
		if p == "" {
			return core.BadInput("outcomes of a participant without a name")
		}
		for i, r := range rs {
			switch {
			case r.Tx == "":
				return core.BadInput("%s's record %d has no transaction id", p, i)
			case r.State != Committed && r.State != Aborted && r.State != InDoubt:
				return core.BadInput("%s's record of %s: state %q (want %s, %s or %s)", p, r.Tx, r.State, Committed, Aborted, InDoubt)
			case len(r.Deltas) == 0:
				return core.BadInput("%s's record of %s changes no account", p, r.Tx)
			case r.InDoubtNs < 0:
				return core.BadInput("%s's record of %s: in doubt for %d ns", p, r.Tx, r.InDoubtNs)
			}
		}
	}
	return nil
}

// DecodeValue turns the JSON value of a transfer event into its typed
// value: transfers and reads as the bank workload decodes them (a
// transfer must carry its id); outcomes: the invocation's object into an
// OutcomesRead, an ok completion's object into Outcomes (checked with
// Validate), a fail or info completion's null into nil. A fail or info
// completion of a read or an outcomes read may repeat its invocation's
// value (the clients leave it there): it decodes as the invocation's.
// Objects with fields the type does not have are refused; any other
// shape, and an unknown f, give an error wrapping core.ErrBadInput.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	switch f {
	case TransferF:
		v, err := bank.Workload{}.DecodeValue(f, t, raw)
		if err != nil {
			return nil, err
		}
		if tr, ok := v.(bank.Transfer); ok && tr.ID == "" {
			return nil, core.BadInput("transfer: a transfer without an id: %s", raw)
		}
		return v, nil
	case ReadF:
		var r bank.ReadRequest
		if (t == core.Fail || t == core.Info) && !null && workloads.DecodeObject(raw, &r) == nil && r.Validate() == nil {
			return r, nil
		}
		return bank.Workload{}.DecodeValue(f, t, raw)
	case OutcomesF:
		var r OutcomesRead
		switch {
		case (t == core.Fail || t == core.Info) && !null && workloads.DecodeObject(raw, &r) == nil && r.Validate() == nil:
			return r, nil
		case t == core.Invoke:
			if null || workloads.DecodeObject(raw, &r) != nil {
				return nil, core.BadInput("outcomes: invocation value %s: want {\"from\":N,\"count\":N}", raw)
			}
			return r, r.Validate()
		case null && t != core.OK:
			return nil, nil
		}
		var o Outcomes
		if null || workloads.DecodeObject(raw, &o) != nil {
			return nil, core.BadInput("outcomes: completion value %s: want an object of participants' records", short(raw))
		}
		return o, o.Validate()
	}
	return nil, core.BadInput("transfer: unknown operation %q (want %s, %s or %s)", f, TransferF, ReadF, OutcomesF)
}

// short cuts raw for an error message.
func short(raw []byte) string {
	if len(raw) > 80 {
		return string(raw[:80]) + "…"
	}
	return string(raw)
}

// Check runs the bank workload's checkers on the transfers and reads,
// then atomicity and blocking on the whole history.
func (Workload) Check(ctx context.Context, h core.History, _ workloads.CheckOptions) []core.CheckResult {
	var b core.History
	for _, e := range h {
		if e.F != OutcomesF || e.Process == core.NemesisProcess {
			b = append(b, e)
		}
	}
	return []core.CheckResult{
		bank.CheckTotals(ctx, b, bank.RuleTotal),
		bank.CheckBalances(ctx, b, bank.RuleTotal),
		CheckAtomicity(ctx, h),
		CheckBlocking(ctx, h),
	}
}

// String says what r asks, for messages.
func (r OutcomesRead) String() string {
	return fmt.Sprintf("records %d–%d", r.From, r.From+r.Count-1)
}
