// Package bank is the bank workload: clients move money between accounts
// and read every balance in one transaction; the checkers decide whether
// money was created or destroyed (the total) and whether a balance rule
// was broken (no negative balance, or no jointly held pair below zero).
//
// # Accounts
//
// The accounts are a0..a{n-1}, each starting with the same balance
// (Workload.Balance), so the initial total is n × balance. Operations
// carry their accounts in their values; their key is empty.
//
// # Operations
//
// f = "transfer" moves an amount from one account to another (Transfer).
// The client does it the way applications often do: it reads both
// balances, computes the new ones, and writes them back as absolute
// values. A transfer that would take the source below zero is refused
// (fail), under either rule. Every transfer preserves the total, whether it took effect or
// not, so a transfer of unknown outcome (info) never makes a history
// invalid; a lost update among concurrent transfers changes the total.
//
// f = "read" reads every balance in one transaction. Its invocation names
// the accounts and their initial balance (ReadRequest); its ok completion
// holds every balance (Balances). After the faults heal, one read is the
// final read.
//
// Under the joint rule (Workload.Rule = RuleJoint) accounts are held in
// pairs, (a0, a1), (a2, a3), …, and only a pair's sum must stay at zero or
// above: one of its accounts may go negative. f = "withdraw" (Withdrawal)
// takes an amount out of an account, and the client allows it only while
// the account and its pair together hold at least the amount: it reads
// both, checks their sum, and writes only its own account. Two concurrent
// withdrawals from the two accounts of one pair can both pass the check
// and together take the pair below zero: write skew. f = "deposit"
// (Deposit) puts an amount into an account; more is withdrawn than
// deposited, so pairs run low and stay near zero, where write skew shows.
// Transfers under the joint rule move money within a pair only, so that a
// pair's sum changes only by withdrawals and deposits.
//
// # Checkers
//
// Workload.Check runs two checkers on every ok read. CheckTotals decides
// whether the total is right: the initial total under the total rule;
// under the joint rule, the initial total less the withdrawals and plus
// the deposits that were acknowledged before the read began, give or take
// any of those that were concurrent with it or of unknown outcome.
// CheckBalances decides whether a balance rule held: no balance below zero
// under the total rule; no pair below zero under the joint rule. Each
// wrong read is one anomaly naming its history index, its time, what it
// saw, what was expected, and the faults active while it ran.
package bank

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// The operation names of the bank workload.
const (
	// TransferF moves an amount between two accounts.
	TransferF = "transfer"
	// ReadF reads every balance in one transaction.
	ReadF = "read"
	// WithdrawF takes an amount out of an account under the joint rule.
	WithdrawF = "withdraw"
	// DepositF puts an amount into an account under the joint rule.
	DepositF = "deposit"
)

// The rules a Workload checks.
const (
	// RuleTotal: money is only moved, so every read must see the initial
	// total, and no balance may go below zero.
	RuleTotal = "total"
	// RuleJoint: accounts are held in pairs, withdrawals take money out,
	// and only a pair's sum must stay at zero or above.
	RuleJoint = "joint"
)

// DefaultBalance is every account's initial balance under the total rule
// when Workload.Balance is not set.
const DefaultBalance = 100

// DefaultJointBalance is every account's initial balance under the joint
// rule when Workload.Balance is not set: small, so that pairs soon run
// low, where concurrent withdrawals can take them below zero.
const DefaultJointBalance = 10

// MaxAccounts bounds the number of accounts, so that a read's line in the
// history stays well under a megabyte.
const MaxAccounts = 10000

// MaxAmount is the largest amount a transfer or a withdrawal moves; the
// generator draws amounts from 1 to MaxAmount.
const MaxAmount = 5

// Workload is the bank workload. Its zero value is ready to use: the total
// rule, every account starting with DefaultBalance.
type Workload struct {
	// Balance is every account's initial balance; zero or less means
	// DefaultBalance.
	Balance int64
	// Rule is RuleTotal or RuleJoint; anything else (the empty string
	// included) means RuleTotal.
	Rule string
}

var (
	_ workloads.Workload = Workload{}
	_ workloads.Ruler    = Workload{}
)

// Name returns "bank".
func (Workload) Name() string { return "bank" }

// Description returns one line for `faultline list`.
func (Workload) Description() string {
	return "transfer money between accounts (read both, write back absolute balances) and read every balance at once; checked for a constant total and no negative balance, or, with the joint rule, for withdrawals that take a pair of accounts below zero (write skew)"
}

// InitialBalance returns every account's initial balance: Balance, or
// when Balance is zero or less DefaultBalance (total rule) or
// DefaultJointBalance (joint rule).
func (w Workload) InitialBalance() int64 {
	switch {
	case w.Balance > 0:
		return w.Balance
	case w.Joint():
		return DefaultJointBalance
	}
	return DefaultBalance
}

// RuleInForce returns RuleJoint under the joint rule, else RuleTotal.
func (w Workload) RuleInForce() string {
	if w.Joint() {
		return RuleJoint
	}
	return RuleTotal
}

// WithRule returns w following rule (RuleTotal or RuleJoint); any other
// rule is bad input.
func (w Workload) WithRule(rule string) (workloads.Workload, error) {
	switch rule {
	case RuleTotal, RuleJoint:
		w.Rule = rule
		return w, nil
	}
	return nil, core.BadInput("--bank-rule %q: the bank workload has rules %s and %s", rule, RuleTotal, RuleJoint)
}

// Joint reports whether w follows the joint rule.
func (w Workload) Joint() bool { return w.Rule == RuleJoint }

// Accounts returns how many accounts a run over keys keys uses: keys, at
// least 2 and at most MaxAccounts, rounded up to an even number under the
// joint rule so that every account has its pair.
func (w Workload) Accounts(keys int) int {
	n := min(max(keys, 2), MaxAccounts)
	if w.Joint() && n%2 == 1 {
		n++
	}
	return n
}

// AccountName returns the name of account i: "a<i>".
func AccountName(i int) string { return "a" + strconv.Itoa(i) }

// PairOf returns the index of the account held jointly with account i
// under the joint rule: a0 with a1, a2 with a3, and so on.
func PairOf(i int) int { return i ^ 1 }

// Transfer is the value of a transfer, on its invocation and repeated on
// its completion: move Amount from account From to account To. ID names
// the transfer as a transaction where the target keeps a record of each
// one (the transfer workload's; empty in the bank workload's).
type Transfer struct {
	ID     string `json:"id,omitempty"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// Withdrawal is the value of a withdrawal, on its invocation and repeated
// on its completion: take Amount out of Account, allowed only while
// Account and Pair together hold at least Amount.
type Withdrawal struct {
	Account string `json:"account"`
	Pair    string `json:"pair"`
	Amount  int64  `json:"amount"`
}

// Deposit is the value of a deposit, on its invocation and repeated on its
// completion: put Amount into Account. Deposits are always allowed.
type Deposit struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// ReadRequest is the invocation value of a read: read accounts
// a0..a{Accounts-1}, each of which started with Balance. It makes a
// history self-describing: the checkers take the initial state from it.
type ReadRequest struct {
	Accounts int   `json:"accounts"`
	Balance  int64 `json:"balance"`
}

// Balances is the value of an ok read: every account's balance.
type Balances map[string]int64

// Total returns the sum of the balances.
func (b Balances) Total() int64 {
	var t int64
	for _, v := range b {
		t += v
	}
	return t
}

// NewGenerator returns a generator over w.Accounts(keys) accounts driven
// by rng; the same seed gives the same sequence. A nil rng is treated as
// one seeded with zero.
func (w Workload) NewGenerator(keys int, rng *rand.Rand) workloads.Generator {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	n := w.Accounts(keys)
	g := &Generator{rng: rng, joint: w.Joint(), names: make([]string, n),
		read: ReadRequest{Accounts: n, Balance: w.InitialBalance()}}
	for i := range g.names {
		g.names[i] = AccountName(i)
	}
	return g
}

// Generator hands out bank operations. It is not safe for concurrent use;
// the controller calls it from one goroutine at a time.
type Generator struct {
	rng   *rand.Rand
	joint bool
	names []string
	read  ReadRequest
}

var _ workloads.Generator = (*Generator)(nil)

// Next returns the next operation; it never runs out. Under the total
// rule: 40% reads, 60% transfers between two distinct accounts drawn
// uniformly. Under the joint rule: 30% reads, 20% transfers between the
// two accounts of a pair, 30% withdrawals from an account of a pair (its
// Pair the other one), 20% deposits into an account: more is asked out
// than is put in, so pairs run low and stay there, withdrawals refused
// and allowed by turns. Pairs and accounts are drawn uniformly, amounts
// uniformly from 1 to MaxAmount.
func (g *Generator) Next() (core.Op, bool) {
	n := len(g.names)
	roll := g.rng.IntN(10)
	if !g.joint {
		if roll < 4 {
			return g.readOp(), true
		}
		from := g.rng.IntN(n)
		to := g.rng.IntN(n - 1)
		if to >= from {
			to++
		}
		return core.Op{Type: core.Invoke, F: TransferF, Value: Transfer{From: g.names[from], To: g.names[to], Amount: g.amount()}}, true
	}
	if roll < 3 {
		return g.readOp(), true
	}
	a := 2*g.rng.IntN(n/2) + g.rng.IntN(2)
	switch {
	case roll < 5:
		return core.Op{Type: core.Invoke, F: TransferF, Value: Transfer{From: g.names[a], To: g.names[PairOf(a)], Amount: g.amount()}}, true
	case roll < 8:
		return core.Op{Type: core.Invoke, F: WithdrawF, Value: Withdrawal{Account: g.names[a], Pair: g.names[PairOf(a)], Amount: g.amount()}}, true
	}
	return core.Op{Type: core.Invoke, F: DepositF, Value: Deposit{Account: g.names[a], Amount: g.amount()}}, true
}

// amount draws an amount from 1 to MaxAmount.
func (g *Generator) amount() int64 { return 1 + g.rng.Int64N(MaxAmount) }

// readOp is a read of every account.
func (g *Generator) readOp() core.Op {
	return core.Op{Type: core.Invoke, F: ReadF, Value: g.read}
}

// FinalReads returns one read of every account.
func (g *Generator) FinalReads() []core.Op { return []core.Op{g.readOp()} }

// DecodeValue turns the JSON value of a bank event into its typed value:
//   - transfer: an object into a Transfer (checked with Transfer.Validate);
//     a fail or info completion may carry null (nil);
//   - withdraw: an object into a Withdrawal (checked with
//     Withdrawal.Validate); a fail or info completion may carry null;
//   - read: the invocation's object into a ReadRequest (checked with
//     ReadRequest.Validate); an ok completion's object of integers into
//     Balances; a fail or info completion's null into nil (an object is
//     decoded as for ok).
//
// Objects with fields the type does not have are refused. Any other shape,
// and an unknown f, give an error wrapping core.ErrBadInput.
func (Workload) DecodeValue(f string, t core.Type, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	null := len(raw) == 0 || string(raw) == "null"
	if null && t != core.Invoke && t != core.OK && (f == TransferF || f == WithdrawF || f == DepositF || f == ReadF) {
		return nil, nil
	}
	switch f {
	case TransferF:
		var v Transfer
		if null || workloads.DecodeObject(raw, &v) != nil {
			return nil, core.BadInput("bank: transfer %s value %s: want {\"from\": account, \"to\": account, \"amount\": n}", t, raw)
		}
		if err := v.Validate(); err != nil {
			return nil, core.BadInput("bank: transfer %s value %s: %v", t, raw, err)
		}
		return v, nil
	case WithdrawF:
		var v Withdrawal
		if null || workloads.DecodeObject(raw, &v) != nil {
			return nil, core.BadInput("bank: withdraw %s value %s: want {\"account\": account, \"pair\": account, \"amount\": n}", t, raw)
		}
		if err := v.Validate(); err != nil {
			return nil, core.BadInput("bank: withdraw %s value %s: %v", t, raw, err)
		}
		return v, nil
	case DepositF:
		var v Deposit
		if null || workloads.DecodeObject(raw, &v) != nil {
			return nil, core.BadInput("bank: deposit %s value %s: want {\"account\": account, \"amount\": n}", t, raw)
		}
		if err := v.Validate(); err != nil {
			return nil, core.BadInput("bank: deposit %s value %s: %v", t, raw, err)
		}
		return v, nil
	case ReadF:
		if t == core.Invoke {
			var r ReadRequest
			if null || workloads.DecodeObject(raw, &r) != nil {
				return nil, core.BadInput("bank: read invocation value %s: want {\"accounts\": n, \"balance\": n}", raw)
			}
			if err := r.Validate(); err != nil {
				return nil, core.BadInput("bank: read invocation value %s: %v", raw, err)
			}
			return r, nil
		}
		var b Balances
		if null || raw[0] != '{' || json.Unmarshal(raw, &b) != nil {
			return nil, core.BadInput("bank: read %s value %s: want an object of account balances (integers)", t, raw)
		}
		if err := b.Validate(); err != nil {
			return nil, core.BadInput("bank: read %s value %s: %v", t, raw, err)
		}
		return b, nil
	}
	return nil, core.BadInput("bank: unknown operation %q with value %s (want transfer, read, withdraw or deposit)", f, raw)
}

// Validate reports what makes t impossible, as an error wrapping
// core.ErrBadInput: an account without a name, the same account on both
// sides, or an amount below one.
func (t Transfer) Validate() error {
	switch {
	case t.From == "" || t.To == "":
		return core.BadInput("a transfer needs both accounts")
	case t.From == t.To:
		return core.BadInput("a transfer from %s to itself", t.From)
	case t.Amount < 1:
		return core.BadInput("amount %d: want 1 or more", t.Amount)
	}
	return nil
}

// Validate reports what makes w impossible, as an error wrapping
// core.ErrBadInput: an account without a name, an account paired with
// itself, or an amount below one.
func (w Withdrawal) Validate() error {
	switch {
	case w.Account == "" || w.Pair == "":
		return core.BadInput("a withdrawal needs its account and its pair")
	case w.Account == w.Pair:
		return core.BadInput("account %s paired with itself", w.Account)
	case w.Amount < 1:
		return core.BadInput("amount %d: want 1 or more", w.Amount)
	}
	return nil
}

// Validate reports what makes d impossible, as an error wrapping
// core.ErrBadInput: an account without a name, or an amount below one.
func (d Deposit) Validate() error {
	switch {
	case d.Account == "":
		return core.BadInput("a deposit needs its account")
	case d.Amount < 1:
		return core.BadInput("amount %d: want 1 or more", d.Amount)
	}
	return nil
}

// Validate reports what makes r impossible, as an error wrapping
// core.ErrBadInput: fewer than 2 or more than MaxAccounts accounts, or a
// negative balance.
func (r ReadRequest) Validate() error {
	if r.Accounts < 2 || r.Accounts > MaxAccounts {
		return core.BadInput("%d accounts: want 2 to %d", r.Accounts, MaxAccounts)
	}
	if r.Balance < 0 {
		return core.BadInput("initial balance %d: want 0 or more", r.Balance)
	}
	return nil
}

// Validate reports what makes b impossible, as an error wrapping
// core.ErrBadInput: an account without a name. Which accounts a read
// should hold, and the balances, are for the checkers to judge.
func (b Balances) Validate() error {
	if _, ok := b[""]; ok {
		return core.BadInput("a balance without an account name")
	}
	return nil
}

// Check runs the workload's two checkers on h, totals and then balances
// (see CheckTotals and CheckBalances), under w's rule, or under the joint
// rule when h holds a withdrawal. It writes no files.
func (w Workload) Check(ctx context.Context, h core.History, _ workloads.CheckOptions) []core.CheckResult {
	bh, err := parse(h, w.Rule)
	if err != nil {
		return []core.CheckResult{unreadable(TotalsChecker, err), unreadable(BalancesChecker, err)}
	}
	return []core.CheckResult{bh.checkTotals(ctx), bh.checkBalances(ctx)}
}
