package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// MutualExclusionChecker is the name of the mutual-exclusion checker in
// results.
const MutualExclusionChecker = "mutual-exclusion"

// OverlapKind is the Kind of the anomalies CheckMutualExclusion reports:
// two holders in the critical section of one lock at once.
const OverlapKind = "lock-overlap"

// Section is one critical section: the time during which a client believed
// it held a lock. Times are nanoseconds since the run started.
type Section struct {
	// Lock is the lock (the cycle's key).
	Lock string `json:"lock"`
	// Holder and Token are the cycle's; Process is the client process.
	Holder  string `json:"holder"`
	Token   int64  `json:"token,omitempty"`
	Process int    `json:"process"`
	// Start is when the client learnt it holds the lock: the invocation's
	// time plus AcquiredNS.
	Start int64 `json:"start_ns"`
	// End is when the client began to release the lock (the invocation's
	// time plus ReleaseStartNS) or, when it never began to (CutShort), the
	// cycle's completion.
	End int64 `json:"end_ns"`
	// CutShort is true when the release was not attempted, so the section
	// is taken to last until the cycle completed.
	CutShort bool `json:"cut_short,omitempty"`
	// Invoke and Complete are the history indices of the cycle's
	// invocation and completion.
	Invoke   int `json:"invoke"`
	Complete int `json:"complete"`
}

// Events returns the history indices of the section's cycle: its
// invocation and its completion.
func (s Section) Events() []int { return []int{s.Invoke, s.Complete} }

// Overlap is two critical sections of one lock, by different holders, that
// overlap in real time.
type Overlap struct {
	Lock string `json:"lock"`
	// First starts no later than Second.
	First  Section `json:"first"`
	Second Section `json:"second"`
	// OverlapNS is how long both were in the critical section.
	OverlapNS int64 `json:"overlap_ns"`
}

// MutualExclusionDetails is the Details of a result from
// CheckMutualExclusion, which stores it as a *MutualExclusionDetails.
type MutualExclusionDetails struct {
	// Locks counts the locks with at least one cycle.
	Locks int `json:"locks"`
	// Cycles counts the cycles; Sections those that acquired their lock
	// and so have a critical section; CutShort those of them that never
	// began to release; NotAcquired those whose acquire was refused,
	// unknown or not attempted; Unplaced those that carry no value (an
	// info completion with null, or an invocation that never completed),
	// which cannot be placed on the timeline.
	Cycles      int `json:"cycles"`
	Sections    int `json:"sections"`
	CutShort    int `json:"cut_short"`
	NotAcquired int `json:"not_acquired"`
	Unplaced    int `json:"unplaced"`
	// OverlapCount is len(Overlaps); MaxOverlapNS the longest of them.
	OverlapCount int   `json:"overlap_count"`
	MaxOverlapNS int64 `json:"max_overlap_ns"`
	// Overlaps lists every overlapping pair, lock by lock in natural order
	// (l2 before l10), then by the second section's start.
	Overlaps []Overlap `json:"overlaps"`
}

// Sections returns the critical sections of the cycles of h, in the order
// of their invocations, by the rules of CheckMutualExclusion. It is what a
// report draws on each lock's timeline. Cycles that did not acquire their
// lock, or carry no value, have none. A malformed history, or a cycle value
// that is not a valid CycleValue, gives an error wrapping core.ErrBadInput.
func Sections(h core.History) ([]Section, error) {
	ops, err := pairCycles(h)
	if err != nil {
		return nil, err
	}
	secs, _ := sections(ops, historyEnd(h))
	return secs, nil
}

// cycleOp is one paired cycle with its decoded value.
type cycleOp struct {
	*checkers.Operation
	// v is the completion's value; has is false when there is none.
	v   CycleValue
	has bool
}

// pairCycles pairs h and returns its cycles, in invocation order, with
// their values checked against their completion types. Other operations
// are left out.
func pairCycles(h core.History) ([]cycleOp, error) {
	ops, err := checkers.Pair(h)
	if err != nil {
		return nil, err
	}
	out := make([]cycleOp, 0, countCycles(ops))
	for i := range ops {
		if ops[i].F != Cycle {
			continue
		}
		c, err := cycleOf(&ops[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// countCycles counts the cycles among ops.
func countCycles(ops []checkers.Operation) int {
	n := 0
	for i := range ops {
		if ops[i].F == Cycle {
			n++
		}
	}
	return n
}

// cycleOf decodes and validates one cycle operation.
func cycleOf(op *checkers.Operation) (cycleOp, error) {
	c := cycleOp{Operation: op}
	v, err := asCycle(op.Output)
	switch {
	case errors.Is(err, errNoValue):
		if op.Type != core.Info {
			return c, core.BadInput("event %d: %s cycle on %s without a value", op.Complete, op.Type, op.Key)
		}
		return c, nil
	case err != nil:
		return c, core.BadInput("event %d: %v", op.Complete, err)
	}
	if err := v.validateAs(op.Type); err != nil {
		return c, core.BadInput("event %d: %s cycle on %s: %v", op.Complete, op.Type, op.Key, err)
	}
	c.v, c.has = v, true
	return c, nil
}

// historyEnd returns the time of the last event of h.
func historyEnd(h core.History) int64 {
	var end int64
	for _, e := range h {
		end = max(end, e.Time)
	}
	return end
}

// sections places the critical sections of ops; end is the end of the
// history. It also counts what it saw.
func sections(ops []cycleOp, end int64) ([]Section, MutualExclusionDetails) {
	var d MutualExclusionDetails
	locks := map[string]bool{}
	var secs []Section
	for _, c := range ops {
		d.Cycles++
		locks[c.Key] = true
		if !c.has {
			d.Unplaced++
			continue
		}
		if c.v.Acquire != Done {
			d.NotAcquired++
			continue
		}
		holder := c.v.Holder
		s := Section{
			Lock: c.Key, Holder: holder, Token: c.v.Token, Process: c.Process,
			Start: c.Start + c.v.AcquiredNS, Invoke: c.Invoke, Complete: c.Complete,
		}
		switch {
		case c.v.Release != Skipped:
			s.End = c.Start + c.v.ReleaseStartNS
		case c.Completed():
			s.End, s.CutShort = c.End, true
		default:
			s.End, s.CutShort = end, true
		}
		if s.CutShort {
			d.CutShort++
		}
		s.End = max(s.End, s.Start)
		secs = append(secs, s)
	}
	d.Locks = len(locks)
	d.Sections = len(secs)
	return secs, d
}

// CheckMutualExclusion decides whether the lock kept its holders apart.
//
// Every cycle whose Acquire is Done has a critical section on its client's
// timeline (see Section): from the invocation's time plus AcquiredNS to
// the invocation's time plus ReleaseStartNS. A cycle that never began to
// release (an info cycle cut short) is taken, conservatively, to hold the
// lock until it completed, or until the end of the history if it never
// did: its client may have acted as a holder all that time. A cycle whose
// Acquire is Refused or Unknown never entered: a lock that may have been
// granted but that the client never knew of keeps others out and does
// nothing else. A cycle without a value (an info completion with null,
// or an invocation that never completed) says nothing about its section
// and is left out; the Details count it as unplaced.
//
// Every pair of sections of the same lock by different holders that
// overlap in real time (for a positive time: sections that merely touch do
// not) is an anomaly of kind OverlapKind naming the lock, both holders and
// tokens, the overlap's duration and, in Events, both cycles' invocation
// and completion indices.
//
// Its verdict is not a judgement of the run: the run's verdict follows the
// resource (CheckResource), because a lock whose holders overlap is safe
// to use when the resource rejects the stale holder. So overlaps are a
// finding, not a failure: the verdict stays valid and the Summary says
// "lock violated: N overlapping pairs of critical sections on LOCKS (the
// resource checker decides the verdict)", with the count and every overlap
// in Details (a *MutualExclusionDetails). Without overlaps the verdict is
// valid and the Summary begins "no overlap". The verdict is unknown when
// ctx ends before the check does, and when h is malformed or holds a cycle
// value that is not a valid CycleValue for its completion (the Summary
// names the problem).
func CheckMutualExclusion(ctx context.Context, h core.History) core.CheckResult {
	res := core.CheckResult{Checker: MutualExclusionChecker, Verdict: core.Unknown}
	ops, err := pairCycles(h)
	if err != nil {
		res.Summary = "cannot check mutual exclusion: " + err.Error()
		return res
	}
	secs, d := sections(ops, historyEnd(h))
	byLock := map[string][]Section{}
	var locks []string
	for _, s := range secs {
		if byLock[s.Lock] == nil {
			locks = append(locks, s.Lock)
		}
		byLock[s.Lock] = append(byLock[s.Lock], s)
	}
	sort.Slice(locks, func(i, j int) bool { return checkers.NaturalLess(locks[i], locks[j]) })
	d.Overlaps = []Overlap{}
	var violated []string
	if ctx.Err() != nil {
		res.Summary = "mutual exclusion unknown: " + checkers.StopPhrase(ctx) + " before the check began"
		return res
	}
	for i, l := range locks {
		if err := ctx.Err(); err != nil {
			res.Summary = fmt.Sprintf("mutual exclusion unknown: %s after %d of %d locks", checkers.StopPhrase(ctx), i, len(locks))
			return res
		}
		found, err := overlaps(ctx, byLock[l])
		if err != nil {
			res.Summary = fmt.Sprintf("mutual exclusion unknown: %s in lock %s (%d of %d locks done)", checkers.StopPhrase(ctx), l, i, len(locks))
			return res
		}
		if len(found) > 0 {
			violated = append(violated, l)
		}
		d.Overlaps = append(d.Overlaps, found...)
	}
	for _, o := range d.Overlaps {
		d.MaxOverlapNS = max(d.MaxOverlapNS, o.OverlapNS)
		res.Anomalies = append(res.Anomalies, core.Anomaly{
			Kind:        OverlapKind,
			Key:         o.Lock,
			Description: describeOverlap(o),
			Events:      append(o.First.Events(), o.Second.Events()...),
		})
	}
	d.OverlapCount = len(d.Overlaps)
	res.Verdict = core.Valid
	res.Details = &d
	if d.OverlapCount > 0 {
		res.Summary = fmt.Sprintf("lock violated: %s of critical sections on %s (the resource checker decides the verdict)",
			checkers.Plural(d.OverlapCount, "overlapping pair"), checkers.ListNames(violated))
	} else {
		res.Summary = fmt.Sprintf("no overlap among %s on %s", checkers.Plural(d.Sections, "critical section"), checkers.Plural(d.Locks, "lock"))
	}
	if d.Unplaced > 0 {
		res.Summary += fmt.Sprintf("; %s of unknown outcome without a value left out", checkers.Plural(d.Unplaced, "cycle"))
	}
	return res
}

// overlaps returns every overlapping pair of secs (all of one lock) by
// different holders, ordered by the second section's start. It returns
// ctx's error if ctx ends first.
func overlaps(ctx context.Context, secs []Section) ([]Overlap, error) {
	sort.SliceStable(secs, func(i, j int) bool {
		if secs[i].Start != secs[j].Start {
			return secs[i].Start < secs[j].Start
		}
		return secs[i].Invoke < secs[j].Invoke
	})
	var out []Overlap
	var active []Section // sections that may still overlap a later one
	for i, s := range secs {
		if i%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		kept := active[:0]
		for _, a := range active {
			if a.End > s.Start {
				kept = append(kept, a)
			}
		}
		active = kept
		for _, a := range active {
			if a.Holder == s.Holder {
				continue
			}
			if d := min(a.End, s.End) - s.Start; d > 0 {
				out = append(out, Overlap{Lock: s.Lock, First: a, Second: s, OverlapNS: d})
			}
		}
		active = append(active, s)
	}
	return out, nil
}

// describeOverlap phrases an overlap, for example "l0: p3 (token 12) and
// p5 (token 13) both held the lock for 250ms: p3 from 1.000s to 1.500s
// (events 4, 9), p5 from 1.250s to 2.000s (events 6, 11)".
func describeOverlap(o Overlap) string {
	side := func(s Section) string {
		end := checkers.Seconds(s.End)
		if s.CutShort {
			end += ", never released"
		}
		return fmt.Sprintf("%s from %s to %s (events %d, %d)", s.Holder, checkers.Seconds(s.Start), end, s.Invoke, s.Complete)
	}
	return fmt.Sprintf("%s: %s (%s) and %s (%s) both held the lock for %s: %s; %s",
		o.Lock, o.First.Holder, describeToken(o.First.Token), o.Second.Holder, describeToken(o.Second.Token),
		time.Duration(o.OverlapNS), side(o.First), side(o.Second))
}
