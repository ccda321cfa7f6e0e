package bank

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// The names of the bank checkers in results.
const (
	// TotalsChecker is the name of CheckTotals' results.
	TotalsChecker = "bank-totals"
	// BalancesChecker is the name of CheckBalances' results.
	BalancesChecker = "bank-balances"
)

// The Kinds of the anomalies the bank checkers report.
const (
	// WrongTotalKind: a read saw a total other than the one expected.
	WrongTotalKind = "wrong-total"
	// WrongAccountsKind: a read did not hold exactly the accounts its
	// request named.
	WrongAccountsKind = "wrong-accounts"
	// NegativeBalanceKind: under the total rule, a read saw an account
	// below zero.
	NegativeBalanceKind = "negative-balance"
	// WriteSkewKind: under the joint rule, a read saw a pair of accounts
	// whose sum is below zero.
	WriteSkewKind = "write-skew"
)

// Window is one nemesis fault window (checkers.Window).
type Window = checkers.Window

// Finding is one wrong read: what it saw that broke a rule.
type Finding struct {
	// Kind is one of the anomaly kinds.
	Kind string `json:"kind"`
	// Invoke and Complete are the history indices of the read; Process
	// its client; Start and End its times.
	Invoke   int   `json:"invoke"`
	Complete int   `json:"complete"`
	Process  int   `json:"process"`
	Start    int64 `json:"start_ns"`
	End      int64 `json:"end_ns"`
	// Key is the account (NegativeBalanceKind) or the pair, as "a0+a1"
	// (WriteSkewKind); empty otherwise.
	Key string `json:"key,omitempty"`
	// Got is what the read saw: the total, the balance or the pair's sum
	// (WrongAccountsKind: the number of accounts).
	Got int64 `json:"got"`
	// WantMin and WantMax bound what was expected; WantMax is absent when
	// there is no upper bound.
	WantMin int64  `json:"want_min"`
	WantMax *int64 `json:"want_max,omitempty"`
	// Missing and Unexpected are the accounts the read lacked and those
	// it held that its request did not name (WrongAccountsKind).
	Missing    []string `json:"missing,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	// Faults are the fault windows that overlapped the read.
	Faults []Window `json:"faults,omitempty"`
}

// Events returns the history indices of the finding's read.
func (f Finding) Events() []int { return []int{f.Invoke, f.Complete} }

// Outcomes counts operations by completion type; Info includes
// invocations that never completed.
type Outcomes struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// add counts one operation of type t.
func (o *Outcomes) add(t core.Type) {
	switch t {
	case core.OK:
		o.OK++
	case core.Fail:
		o.Fail++
	default:
		o.Info++
	}
}

// TotalsDetails is the Details of a result from CheckTotals, which stores
// it as a *TotalsDetails.
type TotalsDetails struct {
	// Rule is RuleTotal or RuleJoint: the rule the check applied.
	Rule string `json:"rule"`
	// Accounts and Balance are the reads' request; InitialTotal their
	// product.
	Accounts     int   `json:"accounts"`
	Balance      int64 `json:"balance"`
	InitialTotal int64 `json:"initial_total"`
	// Reads counts the reads by outcome; only ok ones are judged.
	Reads       Outcomes `json:"reads"`
	Transfers   Outcomes `json:"transfers"`
	Withdrawals Outcomes `json:"withdrawals"`
	Deposits    Outcomes `json:"deposits"`
	// Withdrawn is the sum of the acknowledged withdrawals' amounts;
	// WithdrawnUnknown that of the withdrawals of unknown outcome.
	Withdrawn        int64 `json:"withdrawn"`
	WithdrawnUnknown int64 `json:"withdrawn_unknown"`
	// Deposited is the sum of the acknowledged deposits' amounts;
	// DepositedUnknown that of the deposits of unknown outcome.
	Deposited        int64 `json:"deposited"`
	DepositedUnknown int64 `json:"deposited_unknown"`
	// LastRead is the history index of the last ok read's completion
	// (-1 when none) and LastTotal the total it saw.
	LastRead  int   `json:"last_read"`
	LastTotal int64 `json:"last_total"`
	// WrongTotals and WrongAccounts count the reads of each kind of
	// finding; Findings lists them in history order.
	WrongTotals   int       `json:"wrong_totals"`
	WrongAccounts int       `json:"wrong_accounts"`
	Findings      []Finding `json:"findings"`
}

// BalancesDetails is the Details of a result from CheckBalances, which
// stores it as a *BalancesDetails.
type BalancesDetails struct {
	// Rule is RuleTotal or RuleJoint: the rule the check applied.
	Rule string `json:"rule"`
	// Reads counts the ok reads judged; WrongReads those with at least
	// one finding.
	Reads      int `json:"reads"`
	WrongReads int `json:"wrong_reads"`
	// Lowest maps each account (total rule) or pair (joint rule) found
	// below zero to the lowest value any read saw.
	Lowest map[string]int64 `json:"lowest,omitempty"`
	// Findings lists one finding per read and account or pair, in
	// history order.
	Findings []Finding `json:"findings"`
}

// readOp is one read with its request and, when ok, its balances.
type readOp struct {
	*checkers.Operation
	b Balances
}

// bankHistory is a history paired and sorted for the checkers.
type bankHistory struct {
	joint   bool
	req     ReadRequest
	names   []string
	index   map[string]int // account name → its number
	reads   []readOp       // ok reads, in invocation order
	counts  TotalsDetails  // counts filled in by parse
	windows []Window
	// withdrawals and deposits: the money that left and came in.
	withdrawals, deposits flow
}

// flow is one kind of money movement, withdrawals or deposits, as a read
// may see it.
type flow struct {
	// outcomes counts the operations; known and unknown sum the amounts
	// of the acknowledged ones and of those of unknown outcome.
	outcomes       *Outcomes
	known, unknown *int64
	// ok are the acknowledged ones by completion time, maybe the
	// acknowledged or unknown ones by invocation time, until sorted into
	// the prefix sums below.
	ok, maybe []timed
	okEnds    []int64 // acknowledged completion times, sorted
	okSums    []int64 // okSums[i]: amounts of the first i of okEnds
	anyStart  []int64 // acknowledged or unknown invocation times, sorted
	anySums   []int64 // anySums[i]: amounts of the first i of anyStart
}

// timed is an amount at a time.
type timed struct{ t, amount int64 }

// add counts op, which moved amount.
func (f *flow) add(op *checkers.Operation, amount int64) {
	f.outcomes.add(op.Type)
	switch op.Type {
	case core.OK:
		*f.known += amount
		f.ok = append(f.ok, timed{op.End, amount})
		f.maybe = append(f.maybe, timed{op.Start, amount})
	case core.Info:
		*f.unknown += amount
		f.maybe = append(f.maybe, timed{op.Start, amount})
	}
}

// sum sorts what add gathered into the prefix sums.
func (f *flow) sum() {
	get := func(x timed) (int64, int64) { return x.t, x.amount }
	f.okEnds, f.okSums = prefixSums(f.ok, get)
	f.anyStart, f.anySums = prefixSums(f.maybe, get)
	f.ok, f.maybe = nil, nil
}

// around returns the amount of the acknowledged operations that completed
// before r began (def) and of those, acknowledged or unknown, invoked no
// later than r ended that are not among them (maybe).
func (f *flow) around(r *checkers.Operation) (def, maybe int64) {
	nDef := sort.Search(len(f.okEnds), func(i int) bool { return f.okEnds[i] >= r.Start })
	def = f.okSums[nDef]
	nAny := sort.Search(len(f.anyStart), func(i int) bool { return f.anyStart[i] > r.End })
	return def, f.anySums[nAny] - def
}

// parse pairs h, checks its values and prepares the withdrawal sums. The
// joint rule applies when rule says so or h holds a withdrawal.
func parse(h core.History, rule string) (*bankHistory, error) {
	ops, err := checkers.Pair(h)
	if err != nil {
		return nil, err
	}
	bh := &bankHistory{joint: rule == RuleJoint}
	c := &bh.counts
	var haveReq bool
	reqAt := -1
	bh.withdrawals = flow{outcomes: &c.Withdrawals, known: &c.Withdrawn, unknown: &c.WithdrawnUnknown}
	bh.deposits = flow{outcomes: &c.Deposits, known: &c.Deposited, unknown: &c.DepositedUnknown}
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case TransferF:
			if err := checkEcho[Transfer](op); err != nil {
				return nil, err
			}
			c.Transfers.add(op.Type)
		case WithdrawF:
			if err := checkEcho[Withdrawal](op); err != nil {
				return nil, err
			}
			bh.joint = true
			bh.withdrawals.add(op, op.Input.(Withdrawal).Amount)
		case DepositF:
			if err := checkEcho[Deposit](op); err != nil {
				return nil, err
			}
			bh.joint = true
			bh.deposits.add(op, op.Input.(Deposit).Amount)
		case ReadF:
			r, ok := op.Input.(ReadRequest)
			if !ok {
				return nil, core.BadInput("event %d: read invoked with %v (%T), want a bank.ReadRequest", op.Invoke, op.Input, op.Input)
			}
			if err := r.Validate(); err != nil {
				return nil, core.BadInput("event %d: read request: %v", op.Invoke, err)
			}
			if !haveReq {
				bh.req, haveReq, reqAt = r, true, op.Invoke
			} else if r != bh.req {
				return nil, core.BadInput("event %d: read asks for %d accounts of %d, but event %d asked for %d of %d",
					op.Invoke, r.Accounts, r.Balance, reqAt, bh.req.Accounts, bh.req.Balance)
			}
			c.Reads.add(op.Type)
			if op.Type != core.OK {
				continue
			}
			b, err := asBalances(op.Output)
			if err != nil {
				return nil, core.BadInput("event %d: ok read: %v", op.Complete, err)
			}
			bh.reads = append(bh.reads, readOp{Operation: op, b: b})
		default:
			return nil, core.BadInput("event %d: unknown operation %q (want transfer, read, withdraw or deposit)", op.Invoke, op.F)
		}
	}
	bh.names = make([]string, bh.req.Accounts)
	bh.index = make(map[string]int, bh.req.Accounts)
	for i := range bh.names {
		bh.names[i] = AccountName(i)
		bh.index[bh.names[i]] = i
	}
	c.Rule = RuleTotal
	if bh.joint {
		c.Rule = RuleJoint
	}
	c.Accounts, c.Balance = bh.req.Accounts, bh.req.Balance
	c.InitialTotal = int64(bh.req.Accounts) * bh.req.Balance
	bh.withdrawals.sum()
	bh.deposits.sum()
	bh.windows = faultWindows(h)
	return bh, nil
}

// prefixSums sorts xs by time and returns the times and the running sums
// of the amounts (sums[i] is the sum of the first i).
func prefixSums[T any](xs []T, get func(T) (t, amount int64)) (times, sums []int64) {
	sort.Slice(xs, func(i, j int) bool {
		a, _ := get(xs[i])
		b, _ := get(xs[j])
		return a < b
	})
	times = make([]int64, len(xs))
	sums = make([]int64, len(xs)+1)
	for i, x := range xs {
		t, a := get(x)
		times[i] = t
		sums[i+1] = sums[i] + a
	}
	return times, sums
}

// checkEcho checks that op's invocation carries a valid T and that its
// completion carries nil or the same T.
func checkEcho[T interface {
	comparable
	Validate() error
}](op *checkers.Operation) error {
	in, ok := op.Input.(T)
	if !ok {
		var zero T
		return core.BadInput("event %d: %s invoked with %v (%T), want a %T", op.Invoke, op.F, op.Input, op.Input, zero)
	}
	if err := in.Validate(); err != nil {
		return core.BadInput("event %d: %s: %v", op.Invoke, op.F, err)
	}
	switch out := op.Output.(type) {
	case nil:
		if op.Type == core.OK {
			return core.BadInput("event %d: ok %s without its value", op.Complete, op.F)
		}
	case T:
		if out != in {
			return core.BadInput("event %d: %s completed with %+v, invoked with %+v at event %d", op.Complete, op.F, out, in, op.Invoke)
		}
	default:
		return core.BadInput("event %d: %s completed with %v (%T), want nil or a %T", op.Complete, op.F, op.Output, op.Output, in)
	}
	return nil
}

// asBalances accepts Balances or map[string]int64, not nil.
func asBalances(v any) (Balances, error) {
	switch x := v.(type) {
	case Balances:
		if x != nil {
			return x, x.Validate()
		}
	case map[string]int64:
		if x != nil {
			return Balances(x), Balances(x).Validate()
		}
	}
	return nil, core.BadInput("value %v (%T): want bank.Balances", v, v)
}

// faultWindows returns h's fault windows (checkers.FaultWindows).
func faultWindows(h core.History) []Window { return checkers.FaultWindows(h) }

// faultsDuring returns the windows that overlap [start, end].
func (bh *bankHistory) faultsDuring(start, end int64) []Window {
	return checkers.During(bh.windows, start, end)
}

// unreadable is the unknown result of a checker that could not read h.
func unreadable(checker string, err error) core.CheckResult {
	return core.CheckResult{Checker: checker, Verdict: core.Unknown, Summary: "cannot check the bank: " + err.Error()}
}

// CheckTotals decides whether every ok read saw the right total.
//
// The reads' requests (ReadRequest) give the accounts a0..a{n-1} and their
// initial balance; every read must ask for the same. Each ok read must hold
// exactly those accounts, or it is a WrongAccountsKind anomaly (and its
// total is not judged). Under the total rule its total must equal the
// initial total: transfers only move money, whatever their outcome.
// Under the joint rule (rule is RuleJoint, or h holds a withdrawal or a
// deposit) the read must reflect every withdrawal and deposit acknowledged
// before it began and may reflect any of those that overlapped it or whose
// outcome is unknown (invoked before it ended): its total must lie between
// the initial total less all those withdrawals plus the acknowledged
// deposits, and the initial total less the acknowledged withdrawals plus
// all those deposits. A total outside is a WrongTotalKind anomaly. Failed
// withdrawals and deposits never count.
//
// Each anomaly is one read, naming its history index, its process and
// times, what it saw and what was expected, and the fault windows that
// overlapped it; its Events are the read's invocation and completion. The
// verdict is invalid on any anomaly, with a Summary such as "wrong totals:
// 3 of 40 reads (2 during partition, 1 with no fault active)"; unknown
// when there is no ok read, when ctx ends first, or when h is malformed or
// holds a value of the wrong type (the Summary names the problem);
// otherwise valid. Details is a *TotalsDetails.
func CheckTotals(ctx context.Context, h core.History, rule string) core.CheckResult {
	bh, err := parse(h, rule)
	if err != nil {
		return unreadable(TotalsChecker, err)
	}
	return bh.checkTotals(ctx)
}

// CheckBalances decides whether every ok read kept the balance rule: under
// the total rule no account below zero (a NegativeBalanceKind anomaly per
// read and account); under the joint rule (rule is RuleJoint, or h holds a
// withdrawal) no pair (a0+a1, a2+a3, …) whose sum is below zero (a
// WriteSkewKind anomaly per read and pair; an account left without a pair
// must not go below zero itself). Accounts missing from a read are left
// to CheckTotals.
//
// Anomalies are phrased as CheckTotals' are. The verdict is invalid on any
// anomaly, with a Summary such as "write skew: pair a0+a1 at -3 in 2
// reads" or "negative balances: a2 at -1 in 1 read"; unknown when there
// is no ok read, when ctx ends first, or when h is malformed; otherwise
// valid. Details is a *BalancesDetails.
func CheckBalances(ctx context.Context, h core.History, rule string) core.CheckResult {
	bh, err := parse(h, rule)
	if err != nil {
		return unreadable(BalancesChecker, err)
	}
	return bh.checkBalances(ctx)
}

// checkTotals is CheckTotals on a parsed history.
func (bh *bankHistory) checkTotals(ctx context.Context) core.CheckResult {
	res := core.CheckResult{Checker: TotalsChecker, Verdict: core.Unknown}
	d := bh.counts
	d.LastRead, d.Findings = -1, []Finding{}
	for i, r := range bh.reads {
		if i%4096 == 0 && ctx.Err() != nil {
			res.Summary = fmt.Sprintf("totals unknown: %s after %d of %d reads", checkers.StopPhrase(ctx), i, len(bh.reads))
			return res
		}
		total := r.b.Total()
		d.LastRead, d.LastTotal = r.Complete, total
		if missing, unexpected := bh.wrongAccounts(r.b); missing != nil || unexpected != nil {
			f := bh.finding(WrongAccountsKind, r, "", int64(len(r.b)))
			f.WantMin, f.WantMax = int64(bh.req.Accounts), ptr(int64(bh.req.Accounts))
			f.Missing, f.Unexpected = missing, unexpected
			d.WrongAccounts++
			d.Findings = append(d.Findings, f)
			res.Anomalies = append(res.Anomalies, bh.anomaly(f, bh.describeAccounts(f)))
			continue
		}
		e := bh.expectedTotal(r.Operation)
		if total < e.lo || total > e.hi {
			f := bh.finding(WrongTotalKind, r, "", total)
			f.WantMin, f.WantMax = e.lo, ptr(e.hi)
			d.WrongTotals++
			d.Findings = append(d.Findings, f)
			res.Anomalies = append(res.Anomalies, bh.anomaly(f, bh.describeTotal(f, e)))
		}
	}
	res.Details = &d
	n := len(bh.reads)
	switch {
	case len(d.Findings) > 0:
		res.Verdict = core.Invalid
		var parts []string
		if d.WrongTotals > 0 {
			parts = append(parts, fmt.Sprintf("wrong totals: %d of %s%s", d.WrongTotals, checkers.Plural(n, "read"), faultBreakdown(d.Findings, WrongTotalKind)))
		}
		if d.WrongAccounts > 0 {
			parts = append(parts, fmt.Sprintf("wrong accounts: %d of %s%s", d.WrongAccounts, checkers.Plural(n, "read"), faultBreakdown(d.Findings, WrongAccountsKind)))
		}
		res.Summary = strings.Join(parts, "; ")
	case n == 0:
		res.Summary = fmt.Sprintf("totals unknown: no ok read to judge (%d failed, %d of unknown outcome)", d.Reads.Fail, d.Reads.Info)
	case bh.joint:
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("totals agree with the withdrawals and deposits in all %s: %d at first, %d acknowledged withdrawn, %d deposited, %d at the last read",
			checkers.Plural(n, "ok read"), d.InitialTotal, d.Withdrawn, d.Deposited, d.LastTotal)
		if d.WithdrawnUnknown > 0 || d.DepositedUnknown > 0 {
			res.Summary += fmt.Sprintf(" (give or take %d withdrawn and %d deposited of unknown outcome)", d.WithdrawnUnknown, d.DepositedUnknown)
		}
	default:
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("total %d in all %s (%s × %d)", d.InitialTotal, checkers.Plural(n, "ok read"), checkers.Plural(d.Accounts, "account"), d.Balance)
	}
	if res.Verdict == core.Valid && d.Transfers.Info > 0 {
		res.Summary += fmt.Sprintf("; %s of unknown outcome", checkers.Plural(d.Transfers.Info, "transfer"))
	}
	return res
}

// expected is the range of totals a read may see, with the amounts that
// make it up.
type expected struct {
	lo, hi int64
	// def and maybe: withdrawn by acknowledged withdrawals that completed
	// before the read began, and by those that may or may not precede it;
	// defIn and maybeIn the same of deposits.
	def, maybe, defIn, maybeIn int64
}

// expectedTotal bounds the total a read may see.
func (bh *bankHistory) expectedTotal(r *checkers.Operation) expected {
	initial := bh.counts.InitialTotal
	if !bh.joint {
		return expected{lo: initial, hi: initial}
	}
	var e expected
	e.def, e.maybe = bh.withdrawals.around(r)
	e.defIn, e.maybeIn = bh.deposits.around(r)
	e.lo = initial - e.def - e.maybe + e.defIn
	e.hi = initial - e.def + e.defIn + e.maybeIn
	return e
}

// wrongAccounts returns the accounts b lacks and those it holds that are
// not a0..a{n-1}, both nil when b holds exactly those.
func (bh *bankHistory) wrongAccounts(b Balances) (missing, unexpected []string) {
	present := 0
	for _, name := range bh.names {
		if _, ok := b[name]; ok {
			present++
		} else {
			missing = append(missing, name)
		}
	}
	if present == len(b) {
		return missing, nil
	}
	for name := range b {
		if _, ok := bh.index[name]; !ok {
			unexpected = append(unexpected, name)
		}
	}
	sort.Slice(unexpected, func(i, j int) bool { return checkers.NaturalLess(unexpected[i], unexpected[j]) })
	return missing, unexpected
}

// checkBalances is CheckBalances on a parsed history.
func (bh *bankHistory) checkBalances(ctx context.Context) core.CheckResult {
	res := core.CheckResult{Checker: BalancesChecker, Verdict: core.Unknown}
	d := BalancesDetails{Rule: bh.counts.Rule, Reads: len(bh.reads), Findings: []Finding{}}
	lowest := map[string]int64{}
	var order []string // keys in order of first finding
	reads := map[string]int{}
	note := func(f Finding, b Balances) {
		if _, seen := lowest[f.Key]; !seen {
			order = append(order, f.Key)
			lowest[f.Key] = f.Got
		}
		lowest[f.Key] = min(lowest[f.Key], f.Got)
		reads[f.Key]++
		d.Findings = append(d.Findings, f)
		res.Anomalies = append(res.Anomalies, bh.anomaly(f, bh.describeBalance(f, b)))
	}
	n := len(bh.names)
	for i, r := range bh.reads {
		if i%4096 == 0 && ctx.Err() != nil {
			res.Summary = fmt.Sprintf("balances unknown: %s after %d of %d reads", checkers.StopPhrase(ctx), i, len(bh.reads))
			return res
		}
		before := len(d.Findings)
		for a := 0; a < n; a++ {
			v, ok := r.b[bh.names[a]]
			if !ok {
				continue
			}
			if !bh.joint || PairOf(a) >= n {
				if v < 0 {
					f := bh.finding(NegativeBalanceKind, r, bh.names[a], v)
					note(f, r.b)
				}
				continue
			}
			if a%2 == 1 {
				continue
			}
			w, ok := r.b[bh.names[a+1]]
			if ok && v+w < 0 {
				f := bh.finding(WriteSkewKind, r, bh.names[a]+"+"+bh.names[a+1], v+w)
				note(f, r.b)
			}
		}
		if len(d.Findings) > before {
			d.WrongReads++
		}
	}
	res.Details = &d
	switch {
	case len(d.Findings) > 0:
		res.Verdict = core.Invalid
		d.Lowest = lowest
		var skew, neg []string
		for _, k := range order {
			phrase := fmt.Sprintf("%s at %d in %s", k, lowest[k], checkers.Plural(reads[k], "read"))
			if strings.Contains(k, "+") {
				skew = append(skew, "pair "+phrase)
			} else {
				neg = append(neg, phrase)
			}
		}
		var parts []string
		if len(skew) > 0 {
			parts = append(parts, "write skew: "+listPhrases(skew))
		}
		if len(neg) > 0 {
			parts = append(parts, "negative balances: "+listPhrases(neg))
		}
		res.Summary = strings.Join(parts, "; ")
	case len(bh.reads) == 0:
		res.Summary = "balances unknown: no ok read to judge"
	case bh.joint:
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("no pair below zero in %s", checkers.Plural(len(bh.reads), "ok read"))
	default:
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("no negative balance in %s", checkers.Plural(len(bh.reads), "ok read"))
	}
	return res
}

// finding starts a finding of kind on read r.
func (bh *bankHistory) finding(kind string, r readOp, key string, got int64) Finding {
	return Finding{Kind: kind, Invoke: r.Invoke, Complete: r.Complete, Process: r.Process, Start: r.Start, End: r.End,
		Key: key, Got: got, Faults: bh.faultsDuring(r.Start, r.End)}
}

// anomaly turns a finding into an anomaly with description desc.
func (bh *bankHistory) anomaly(f Finding, desc string) core.Anomaly {
	return core.Anomaly{Kind: f.Kind, Key: f.Key, Description: desc, Events: f.Events()}
}

// where phrases a read: "read at event 12 (process 3, 1.200s–1.210s,
// during partition 1.000s–3.000s)".
func where(f Finding) string {
	return fmt.Sprintf("read at event %d (process %d, %s–%s, %s)", f.Complete, f.Process, checkers.Seconds(f.Start), checkers.Seconds(f.End), faultPhrase(f.Faults))
}

// faultPhrase names the fault windows overlapping a read, or says that
// none was active.
func faultPhrase(ws []Window) string {
	if len(ws) == 0 {
		return "with no fault active"
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		if w.Open {
			parts[i] = fmt.Sprintf("%s from %s, never stopped", w.Fault, checkers.Seconds(w.Start))
		} else {
			parts[i] = fmt.Sprintf("%s %s–%s", w.Fault, checkers.Seconds(w.Start), checkers.Seconds(w.End))
		}
	}
	return "during " + strings.Join(parts, " and ")
}

// faultLabel names the faults of a finding for the summary's breakdown:
// "during partition", "during kill and pause", "with no fault active".
func faultLabel(ws []Window) string {
	if len(ws) == 0 {
		return "with no fault active"
	}
	var names []string
	for _, w := range ws {
		if !containsString(names, w.Fault) {
			names = append(names, w.Fault)
		}
	}
	return "during " + strings.Join(names, " and ")
}

// faultBreakdown counts the findings of kind by faultLabel, in order of
// first appearance: " (2 during partition, 1 with no fault active)".
func faultBreakdown(fs []Finding, kind string) string {
	var labels []string
	counts := map[string]int{}
	for _, f := range fs {
		if f.Kind != kind {
			continue
		}
		l := faultLabel(f.Faults)
		if counts[l] == 0 {
			labels = append(labels, l)
		}
		counts[l]++
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%d %s", counts[l], l)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// describeTotal phrases a wrong total; def and maybe are what
// expectedTotal returned.
func (bh *bankHistory) describeTotal(f Finding, e expected) string {
	d := bh.counts
	want := fmt.Sprintf("%d (%s × %d)", d.InitialTotal, checkers.Plural(d.Accounts, "account"), d.Balance)
	if bh.joint {
		var why []string
		if e.def > 0 {
			why = append(why, fmt.Sprintf("less %d withdrawn by withdrawals acknowledged before it began", e.def))
		}
		if e.maybe > 0 {
			why = append(why, fmt.Sprintf("less up to %d by withdrawals concurrent with it or of unknown outcome", e.maybe))
		}
		if e.defIn > 0 {
			why = append(why, fmt.Sprintf("plus %d put in by deposits acknowledged before it began", e.defIn))
		}
		if e.maybeIn > 0 {
			why = append(why, fmt.Sprintf("plus up to %d by deposits concurrent with it or of unknown outcome", e.maybeIn))
		}
		switch {
		case len(why) == 0:
			want = fmt.Sprintf("%d (the initial total: no withdrawal or deposit before it)", d.InitialTotal)
		case e.lo != e.hi:
			want = fmt.Sprintf("%d to %d (%d %s)", f.WantMin, *f.WantMax, d.InitialTotal, strings.Join(why, ", "))
		default:
			want = fmt.Sprintf("%d (%d %s)", *f.WantMax, d.InitialTotal, strings.Join(why, ", "))
		}
	}
	gap := fmt.Sprintf("%d lost", f.WantMin-f.Got)
	if f.Got > *f.WantMax {
		gap = fmt.Sprintf("%d created", f.Got-*f.WantMax)
	}
	return fmt.Sprintf("%s saw a total of %d, expected %s: %s", where(f), f.Got, want, gap)
}

// describeAccounts phrases a read that did not hold the accounts asked
// for.
func (bh *bankHistory) describeAccounts(f Finding) string {
	s := fmt.Sprintf("%s held %s, expected the %d accounts a0..a%d", where(f), checkers.Plural(int(f.Got), "account"), bh.req.Accounts, bh.req.Accounts-1)
	if len(f.Missing) > 0 {
		s += ": missing " + checkers.ListNames(f.Missing)
	}
	if len(f.Unexpected) > 0 {
		s += ": unexpected " + checkers.ListNames(f.Unexpected)
	}
	return s
}

// describeBalance phrases a negative balance or a pair below zero, seen
// by a read of b.
func (bh *bankHistory) describeBalance(f Finding, b Balances) string {
	if f.Kind == WriteSkewKind {
		names := strings.SplitN(f.Key, "+", 2)
		return fmt.Sprintf("%s saw pair %s at %d (%s %d, %s %d), expected 0 or more: under the joint rule a withdrawal may not take a pair below zero",
			where(f), f.Key, f.Got, names[0], b[names[0]], names[1], b[names[1]])
	}
	rule := "the total rule lets no balance go below zero"
	if bh.joint {
		rule = "an account without a pair may not go below zero"
	}
	return fmt.Sprintf("%s saw %s at %d, expected 0 or more: %s", where(f), f.Key, f.Got, rule)
}

// listPhrases renders up to five phrases, then how many more.
func listPhrases(ps []string) string {
	if len(ps) <= 5 {
		return strings.Join(ps, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ps[:5], ", "), len(ps)-5)
}

// containsString reports whether s holds x.
func containsString(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// ptr returns a pointer to v.
func ptr(v int64) *int64 { return &v }
