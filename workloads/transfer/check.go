package transfer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/bank"
)

// The names of the transfer workload's own checkers in results.
const (
	// AtomicityChecker is the name of CheckAtomicity's results.
	AtomicityChecker = "atomicity"
	// BlockingChecker is the name of CheckBlocking's results.
	BlockingChecker = "blocking"
)

// The Kinds of the anomalies CheckAtomicity reports besides those of
// package effects (a change applied twice, an acknowledged transaction
// missing on a participant, a failed one applied, a record of a
// transaction never sent, a record whose change differs from the
// transfer's).
const (
	// SplitKind: a transaction committed on some participants and aborted
	// (or never prepared) on others.
	SplitKind = "split-transaction"
	// InDoubtKind: a transaction still in doubt on a participant when the
	// records were read, and committed nowhere else to decide it: its
	// outcome cannot be judged.
	InDoubtKind = "in-doubt"
	// BalanceKind: a final balance other than the one the committed
	// transactions make.
	BalanceKind = "unexplained-balance"
)

// tx is one transfer of the history with what the participants recorded
// of it.
type tx struct {
	t  bank.Transfer
	op *checkers.Operation
	// records: participant → its record (the first, when it has two).
	records map[string]Record
	order   []string // participants in the order their records came
}

// inDoubt reports whether a participant still held t in doubt when its
// records were read.
func (t *tx) inDoubt() bool {
	for _, r := range t.records {
		if r.State == InDoubt {
			return true
		}
	}
	return false
}

// history is a transfer history read for the checkers.
type history struct {
	ops     []checkers.Operation
	txs     map[string]*tx
	order   []string // transaction ids in invocation order
	records map[string][]Record
	events  map[string][]int // participant → history indices of the reads of its records
	// unread names what could not be read ("" when every participant's
	// records were read whole).
	unread string
	final  *checkers.Operation // the last ok read that began after every transfer ended
	req    bank.ReadRequest
}

// parse reads h.
func parse(h core.History) (*history, error) {
	ops, err := checkers.Pair(h)
	if err != nil {
		return nil, err
	}
	hs := &history{ops: ops, txs: map[string]*tx{}, records: map[string][]Record{}, events: map[string][]int{}}
	pages := map[int]bool{}
	complete := map[string]bool{}
	var lastTransferEnd int64
	var reads []*checkers.Operation  // ok reads
	var failed []*checkers.Operation // outcomes reads that did not succeed
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case TransferF:
			t, ok := op.Input.(bank.Transfer)
			if !ok || t.ID == "" {
				return nil, core.BadInput("event %d: transfer invoked with %v (%T), want a bank.Transfer with an id", op.Invoke, op.Input, op.Input)
			}
			if err := t.Validate(); err != nil {
				return nil, core.BadInput("event %d: %v", op.Invoke, err)
			}
			if _, dup := hs.txs[t.ID]; dup {
				return nil, core.BadInput("event %d: transaction id %s is used twice", op.Invoke, t.ID)
			}
			hs.txs[t.ID] = &tx{t: t, op: op, records: map[string]Record{}}
			hs.order = append(hs.order, t.ID)
			end := op.End
			if !op.Completed() {
				end = 1<<63 - 1
			}
			lastTransferEnd = max(lastTransferEnd, end)
		case ReadF:
			r, ok := op.Input.(bank.ReadRequest)
			if !ok {
				return nil, core.BadInput("event %d: read invoked with %v (%T), want a bank.ReadRequest", op.Invoke, op.Input, op.Input)
			}
			hs.req = r
			if op.Type == core.OK {
				reads = append(reads, op)
			}
		case OutcomesF:
			r, ok := op.Input.(OutcomesRead)
			if !ok {
				return nil, core.BadInput("event %d: outcomes invoked with %v (%T), want a transfer.OutcomesRead", op.Invoke, op.Input, op.Input)
			}
			if op.Type != core.OK {
				failed = append(failed, op)
				continue
			}
			o, ok := op.Output.(Outcomes)
			if !ok {
				return nil, core.BadInput("event %d: ok outcomes read returned %T, want transfer.Outcomes", op.Complete, op.Output)
			}
			if pages[r.From] {
				continue
			}
			pages[r.From] = true
			for p, rs := range o {
				if len(rs) > r.Count {
					return nil, core.BadInput("event %d: %s returned %d records for a page of %d", op.Complete, p, len(rs), r.Count)
				}
				hs.records[p] = append(hs.records[p], rs...)
				hs.events[p] = append(hs.events[p], op.Events()...)
				if len(rs) < r.Count {
					complete[p] = true
				}
			}
		default:
			return nil, core.BadInput("event %d: unknown operation %q (want %s, %s or %s)", op.Invoke, op.F, TransferF, ReadF, OutcomesF)
		}
	}
	for _, op := range reads {
		if op.Start > lastTransferEnd {
			hs.final = op
		}
	}
	// A final read is retried until it succeeds: only the pages never
	// read are missing.
	var problems []string
	for _, op := range failed {
		if r := op.Input.(OutcomesRead); !pages[r.From] {
			problems = append(problems, fmt.Sprintf("%s (%s)", r, op.Type))
		}
	}
	var partial []string
	for p := range hs.records {
		if !complete[p] {
			partial = append(partial, p)
		}
	}
	sort.Strings(partial)
	switch {
	case len(pages) == 0:
		hs.unread = "no outcomes read succeeded"
	case len(problems) > 0:
		hs.unread = "outcomes reads that did not succeed: " + strings.Join(problems, ", ")
	case len(partial) > 0:
		hs.unread = "the records of " + strings.Join(partial, ", ") + " were not read to their end"
	}
	for _, p := range sortedKeys(hs.records) {
		for _, r := range hs.records[p] {
			if t := hs.txs[r.Tx]; t != nil {
				if _, seen := t.records[p]; !seen {
					t.records[p] = r
					t.order = append(t.order, p)
				}
			}
		}
	}
	return hs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AtomicityDetails are the figures of CheckAtomicity, in results.json.
type AtomicityDetails struct {
	// Transactions counts the transfers; Committed those committed on
	// every participant they touched, Aborted those committed on none,
	// Split those committed on some only, InDoubt those left undecided.
	Transactions int `json:"transactions"`
	Committed    int `json:"committed"`
	Aborted      int `json:"aborted"`
	Split        int `json:"split"`
	InDoubt      int `json:"in_doubt"`
	// Sum is the sum of every committed change: zero when money is
	// conserved.
	Sum int64 `json:"sum"`
	// DecidedAlone counts the records of transactions a participant
	// decided without the coordinator.
	DecidedAlone int `json:"decided_alone"`
	// Effects are the duplicate-side-effects checker's counts over the
	// changes (one per transaction and account).
	Effects effects.Counts `json:"effects"`
	// FinalBalances says whether the final read was compared with the
	// committed changes.
	FinalBalances bool `json:"final_balances_compared"`
}

// CheckAtomicity checks the participants' records against the transfers:
//   - every change (a transaction's debit or credit of one account) is
//     applied at most once, on an acknowledged transaction exactly once,
//     on a failed one never, on one of unknown outcome at most once, and
//     as the transfer asked (package effects);
//   - every transaction is committed on every participant it touched or
//     on none (a split transaction is an atomicity violation: money
//     appears or vanishes);
//   - the final read (an ok read begun after every transfer ended), when
//     there is one, holds exactly the initial balance plus the committed
//     changes of each account.
//
// A transaction still in doubt on some participant is not yet decided
// there: its missing changes are not held against it, and unless it is
// committed on every participant it touched it makes the verdict unknown
// (unless something else is invalid), as do records that could not all be
// read (an outcomes page that never succeeded, however often retried).
func CheckAtomicity(ctx context.Context, h core.History) core.CheckResult {
	hs, err := parse(h)
	if err != nil {
		return core.CheckResult{Checker: AtomicityChecker, Verdict: core.Unknown, Summary: "cannot check atomicity: " + err.Error()}
	}
	return hs.atomicity(ctx)
}

func (hs *history) atomicity(ctx context.Context) core.CheckResult {
	res := core.CheckResult{Checker: AtomicityChecker}
	d := AtomicityDetails{Transactions: len(hs.order)}
	var reqs []effects.Request
	for _, id := range hs.order {
		t := hs.txs[id]
		a := []effects.Attempt{{Type: t.op.Type, Events: t.op.Events()}}
		// A transaction in doubt somewhere may still commit there: its
		// changes are not all known yet.
		unread := hs.unread != "" || t.inDoubt()
		reqs = append(reqs,
			effects.Request{ID: id + "@" + t.t.From, Key: t.t.From, Content: delta(-t.t.Amount), Attempts: a, Unread: unread},
			effects.Request{ID: id + "@" + t.t.To, Key: t.t.To, Content: delta(t.t.Amount), Attempts: a, Unread: unread})
	}
	var effs []effects.Effect
	committed := map[string]int64{} // account → sum of committed changes
	for _, p := range sortedKeys(hs.records) {
		for i, r := range hs.records[p] {
			if r.Alone {
				d.DecidedAlone++
			}
			if r.State != Committed {
				continue
			}
			for _, acct := range sortedKeys(r.Deltas) {
				effs = append(effs, effects.Effect{ID: r.Tx + "@" + acct, Key: acct, Content: delta(r.Deltas[acct]),
					Where: fmt.Sprintf("%s's record %d (%s)", p, i, r.Tx), Events: hs.events[p]})
				committed[acct] += r.Deltas[acct]
				d.Sum += r.Deltas[acct]
			}
		}
	}
	er, err := effects.Check(reqs, effs)
	if err != nil {
		res.Verdict, res.Summary = core.Unknown, "cannot check atomicity: "+err.Error()
		return res
	}
	d.Effects = er.Counts
	byKind := map[effects.Kind][]string{} // kind → transaction ids, each once
	for _, a := range er.Anomalies {
		res.Anomalies = append(res.Anomalies, a.Core())
		id := a.ID
		if at := strings.LastIndex(id, "@"); at >= 0 {
			id = id[:at]
		}
		if !slices.Contains(byKind[a.Kind], id) {
			byKind[a.Kind] = append(byKind[a.Kind], id)
		}
	}
	var splits, doubts []string
	for _, id := range hs.order {
		if ctx.Err() != nil {
			res.Verdict, res.Summary = core.Unknown, "atomicity: out of time"
			return res
		}
		t := hs.txs[id]
		var on, off, unsure []string
		accts := map[string]bool{}
		for _, p := range t.order {
			r := t.records[p]
			if r.State == Committed {
				for a := range r.Deltas {
					accts[a] = true
				}
			}
			switch r.State {
			case Committed:
				on = append(on, p)
			case Aborted:
				off = append(off, p)
			case InDoubt:
				unsure = append(unsure, p)
			}
		}
		switch {
		case len(accts) == 0 && len(unsure) == 0:
			d.Aborted++
		case accts[t.t.From] && accts[t.t.To]:
			d.Committed++
		case len(accts) > 0 && len(unsure) == 0 && hs.unread == "":
			d.Split++
			splits = append(splits, id)
			res.Anomalies = append(res.Anomalies, core.Anomaly{Kind: SplitKind, Key: id, Events: t.op.Events(),
				Description: describeSplit(t, on, off)})
		case len(unsure) > 0:
			d.InDoubt++
			doubts = append(doubts, id)
			res.Anomalies = append(res.Anomalies, core.Anomaly{Kind: InDoubtKind, Key: id, Events: t.op.Events(),
				Description: fmt.Sprintf("%s (%s) is still in doubt on %s when the records are read", id, describeTransfer(t.t), strings.Join(unsure, " and "))})
		}
	}
	var bad []string
	if hs.final != nil && hs.unread == "" && len(doubts) == 0 {
		b, ok := hs.final.Output.(bank.Balances)
		if ok {
			d.FinalBalances = true
			for _, acct := range sortedKeys(b) {
				want := hs.req.Balance + committed[acct]
				if b[acct] != want {
					bad = append(bad, acct)
					res.Anomalies = append(res.Anomalies, core.Anomaly{Kind: BalanceKind, Key: acct, Events: hs.final.Events(),
						Description: fmt.Sprintf("the final read finds %d in %s, but its initial %d and the changes committed to it make %d", b[acct], acct, hs.req.Balance, want)})
				}
			}
		}
	}
	res.Details = d
	var wrong []string
	if len(splits) > 0 {
		wrong = append(wrong, fmt.Sprintf("%s committed on some participants and not on others (%s)", checkers.Plural(len(splits), "transaction"), firstFew(splits)))
	}
	for _, k := range effects.Kinds {
		if n := er.ByKind[k]; n > 0 {
			wrong = append(wrong, fmt.Sprintf("%s %s (%s)", checkers.Plural(n, "change"), effectPhrase(k), firstFew(byKind[k])))
		}
	}
	if len(bad) > 0 {
		wrong = append(wrong, fmt.Sprintf("final balances the committed changes do not explain (%s)", firstFew(bad)))
	}
	conserved := "committed changes sum to 0"
	if d.Sum != 0 {
		conserved = fmt.Sprintf("committed changes sum to %+d (money %s)", d.Sum, map[bool]string{true: "created", false: "lost"}[d.Sum > 0])
	}
	alone := ""
	if d.DecidedAlone > 0 {
		alone = fmt.Sprintf("; %s decided by a participant alone", checkers.Plural(d.DecidedAlone, "record"))
	}
	switch {
	case len(wrong) > 0:
		res.Verdict, res.Summary = core.Invalid, "not atomic: "+strings.Join(wrong, "; ")+"; "+conserved+alone
	case hs.unread != "":
		res.Verdict, res.Summary = core.Unknown, "cannot judge atomicity: "+hs.unread
	case len(doubts) > 0:
		res.Verdict, res.Summary = core.Unknown, fmt.Sprintf("undecided: %s still in doubt when read (%s)", checkers.Plural(len(doubts), "transaction"), firstFew(doubts))
	case d.Committed == 0:
		res.Verdict, res.Summary = core.Unknown, fmt.Sprintf("nothing to judge: no transaction of %d committed", d.Transactions)
	default:
		final := "; no final read to compare"
		if d.FinalBalances {
			final = " and make every final balance"
		}
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("atomic: %s committed on every participant they touched, %d on none; %s%s%s",
			checkers.Plural(d.Committed, "transaction"), d.Aborted, conserved, final, alone)
	}
	return res
}

// effectPhrase says what a kind of effects anomaly means for a change.
func effectPhrase(k effects.Kind) string {
	switch k {
	case effects.Duplicate:
		return "applied more than once"
	case effects.Missing:
		return "of acknowledged transactions not committed"
	case effects.Unexpected:
		return "of failed transactions committed"
	case effects.Phantom:
		return "of transactions never sent"
	case effects.Mismatch:
		return "other than the transfer asked"
	}
	return string(k)
}

// describeSplit says where t committed and where it did not.
func describeSplit(t *tx, on, off []string) string {
	var missing []string
	for _, a := range []string{t.t.From, t.t.To} {
		found := false
		for _, p := range on {
			if _, ok := t.records[p].Deltas[a]; ok {
				found = true
			}
		}
		if !found {
			missing = append(missing, a)
		}
	}
	lost := "money vanished"
	if slices.Contains(missing, t.t.To) && !slices.Contains(missing, t.t.From) {
		lost = fmt.Sprintf("%d vanished", t.t.Amount)
	} else if slices.Contains(missing, t.t.From) {
		lost = fmt.Sprintf("%d appeared from nowhere", t.t.Amount)
	}
	where := "no participant recorded it"
	if len(off) > 0 {
		where = strings.Join(off, " and ") + " aborted it"
	}
	return fmt.Sprintf("%s (%s) was committed by %s but not for %s: %s; %s",
		t.t.ID, describeTransfer(t.t), strings.Join(on, " and "), strings.Join(missing, " and "), where, lost)
}

func describeTransfer(t bank.Transfer) string {
	return fmt.Sprintf("%d from %s to %s", t.Amount, t.From, t.To)
}

func delta(v int64) string {
	if v > 0 {
		return "+" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

func firstFew(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
}

// StuckAfter is how long a client operation must take to count as stuck.
const StuckAfter = time.Second

// WindowBlocking is what blocked during one fault window (or outside
// every window: Fault "none").
type WindowBlocking struct {
	checkers.Window
	// InDoubt counts the transactions that began in the window and were
	// in doubt on some participant; LongestInDoubtMs and MedianInDoubtMs
	// are over them.
	InDoubt          int     `json:"in_doubt"`
	LongestInDoubtMs float64 `json:"longest_in_doubt_ms"`
	MedianInDoubtMs  float64 `json:"median_in_doubt_ms"`
	// Stuck counts the client operations that began in the window and
	// took longer than StuckAfter; Refused those refused because an
	// account was held by a transaction in doubt; LongestOpMs is the
	// longest operation that began in the window.
	Stuck       int     `json:"stuck_ops"`
	Refused     int     `json:"refused_in_doubt"`
	LongestOpMs float64 `json:"longest_op_ms"`
}

// BlockingDetails are the figures of CheckBlocking, in results.json.
type BlockingDetails struct {
	// InDoubt counts the transactions some participant prepared (every
	// prepared transaction is in doubt from its yes vote until its
	// decision arrives).
	InDoubt int `json:"in_doubt"`
	// LongestInDoubtMs is the longest time a participant held a
	// transaction in doubt; P99InDoubtMs the 99th percentile.
	LongestInDoubtMs float64 `json:"longest_in_doubt_ms"`
	P99InDoubtMs     float64 `json:"p99_in_doubt_ms"`
	// OverASecond counts the transactions in doubt for a second or more.
	OverASecond int `json:"in_doubt_over_1s"`
	// Stuck, Refused and LongestOpMs are as in WindowBlocking, over the
	// whole run.
	Stuck       int     `json:"stuck_ops"`
	Refused     int     `json:"refused_in_doubt"`
	LongestOpMs float64 `json:"longest_op_ms"`
	// Windows breaks it down per fault window, the time outside every
	// window last (Fault "none").
	Windows []WindowBlocking `json:"windows"`
}

// RefusedInDoubt is what a client's error says when an operation was
// refused because an account it needed was held by a transaction in
// doubt.
const RefusedInDoubt = "held in doubt"

// CheckBlocking measures what two-phase commit's blocking cost: how long
// each prepared transaction stayed in doubt (the longest of its
// participants' records), and which client operations were stuck (took
// StuckAfter or longer) or refused because an account was held in doubt
// (their error says RefusedInDoubt), per fault window. It judges nothing:
// valid once the records were read, unknown when none could be.
func CheckBlocking(ctx context.Context, h core.History) core.CheckResult {
	res := core.CheckResult{Checker: BlockingChecker}
	hs, err := parse(h)
	if err != nil {
		res.Verdict, res.Summary = core.Unknown, "cannot measure blocking: "+err.Error()
		return res
	}
	if len(hs.records) == 0 && hs.unread != "" {
		res.Verdict, res.Summary = core.Unknown, "cannot measure blocking: "+hs.unread
		return res
	}
	windows := checkers.FaultWindows(h)
	per := make([]WindowBlocking, len(windows)+1)
	for i, w := range windows {
		per[i].Window = w
	}
	per[len(windows)].Window = checkers.Window{Fault: "none"}
	pick := func(t int64) []int {
		var in []int
		for i, w := range windows {
			if w.Start <= t && t <= w.End {
				in = append(in, i)
			}
		}
		if len(in) == 0 {
			in = []int{len(windows)}
		}
		return in
	}
	var d BlockingDetails
	var all []float64
	perAll := make([][]float64, len(per))
	for _, id := range hs.order {
		if ctx.Err() != nil {
			res.Verdict, res.Summary = core.Unknown, "blocking: out of time"
			return res
		}
		t := hs.txs[id]
		var longest int64
		for _, r := range t.records {
			longest = max(longest, r.InDoubtNs)
		}
		if len(t.records) == 0 {
			continue
		}
		ms := float64(longest) / 1e6
		all = append(all, ms)
		d.InDoubt++
		if longest >= int64(time.Second) {
			d.OverASecond++
		}
		for _, i := range pick(t.op.Start) {
			per[i].InDoubt++
			perAll[i] = append(perAll[i], ms)
		}
	}
	for i := range hs.ops {
		op := &hs.ops[i]
		if op.F == OutcomesF {
			continue
		}
		took := time.Duration(0)
		if op.Completed() {
			took = time.Duration(op.End - op.Start)
		}
		ms := float64(took) / 1e6
		stuck := took >= StuckAfter
		refused := strings.Contains(op.Error, RefusedInDoubt)
		d.LongestOpMs = max(d.LongestOpMs, ms)
		if stuck {
			d.Stuck++
		}
		if refused {
			d.Refused++
		}
		for _, w := range pick(op.Start) {
			per[w].LongestOpMs = max(per[w].LongestOpMs, ms)
			if stuck {
				per[w].Stuck++
			}
			if refused {
				per[w].Refused++
			}
		}
	}
	d.LongestInDoubtMs, d.P99InDoubtMs = quantile(all, 1), quantile(all, 0.99)
	for i := range per {
		per[i].LongestInDoubtMs, per[i].MedianInDoubtMs = quantile(perAll[i], 1), quantile(perAll[i], 0.5)
	}
	d.Windows = per
	res.Details = d
	res.Verdict = core.Valid
	res.Summary = fmt.Sprintf("measured: %s held in doubt (longest %s, p99 %s, %d for a second or more); %s stuck %v or more, %d refused on accounts held in doubt, longest operation %s",
		checkers.Plural(d.InDoubt, "prepared transaction"), msString(d.LongestInDoubtMs), msString(d.P99InDoubtMs), d.OverASecond,
		checkers.Plural(d.Stuck, "client operation"), StuckAfter, d.Refused, msString(d.LongestOpMs))
	if hs.unread != "" {
		res.Verdict = core.Unknown
		res.Summary += "; incomplete: " + hs.unread
	}
	return res
}

// quantile returns the q-quantile of xs (nearest rank), 0 when empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func msString(ms float64) string {
	return time.Duration(ms * 1e6).Round(time.Millisecond).String()
}
