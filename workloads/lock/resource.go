package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// ResourceChecker is the name of the resource checker in results.
const ResourceChecker = "resource"

// The Kinds of the anomalies CheckResource reports.
const (
	// LostUpdateKind: the resource accepted a write whose value is not
	// the value before it plus one, so the writer worked from a stale
	// read and the updates since were lost.
	LostUpdateKind = "lost-update"
	// StaleTokenKind: a resource that checks fencing tokens accepted an
	// access whose token is below one it had already seen on that key.
	StaleTokenKind = "stale-token-accepted"
	// CorruptedKind: the resource's final value disagrees with its own
	// record of accepted writes.
	CorruptedKind = "resource-corrupted"
	// MissingWriteKind: a cycle saw its write accepted, but the resource's
	// record holds no such accepted write.
	MissingWriteKind = "acknowledged-write-missing"
	// RefusedWriteKind: a cycle saw its write refused, but the resource's
	// record shows it accepted.
	RefusedWriteKind = "refused-write-accepted"
)

// anomalyKinds lists the kinds in the order summaries name them, with the
// words they use.
var anomalyKinds = []struct{ kind, one, many string }{
	{LostUpdateKind, "lost update", "lost updates"},
	{StaleTokenKind, "stale token accepted", "stale tokens accepted"},
	{CorruptedKind, "corrupted final value", "corrupted final values"},
	{MissingWriteKind, "acknowledged write missing", "acknowledged writes missing"},
	{RefusedWriteKind, "refused write accepted", "refused writes accepted"},
}

// ResourceDetails is the Details of a result from CheckResource, which
// stores it as a *ResourceDetails.
type ResourceDetails struct {
	// Keys counts the keys that cycles or final reads name.
	Keys int `json:"keys"`
	// NoFinalRead lists, in natural order, the keys without an ok final
	// read: the resource could not be judged there.
	NoFinalRead []string `json:"no_final_read,omitempty"`
	// AcknowledgedWrites counts the cycles whose write was accepted
	// (Write Done), on every key.
	AcknowledgedWrites int `json:"acknowledged_writes"`
	// Anomalies counts the anomalies by kind.
	Anomalies map[string]int `json:"anomalies,omitempty"`
	// PerKey holds one entry per key with a final read, in natural order.
	PerKey []ResourceKeyDetails `json:"per_key"`
}

// ResourceKeyDetails is what CheckResource found for one resource key.
type ResourceKeyDetails struct {
	Key string `json:"key"`
	// FinalRead is the history index of the completion of the final read
	// the check used (the last ok one).
	FinalRead int `json:"final_read"`
	// Fencing and Value are the final read's.
	Fencing bool  `json:"fencing"`
	Value   int64 `json:"value"`
	// Accesses counts the accesses in the record; AcceptedWrites the
	// writes it accepted; RejectedWrites and RejectedReads those it
	// rejected (stale tokens).
	Accesses       int `json:"accesses"`
	AcceptedWrites int `json:"accepted_writes"`
	RejectedWrites int `json:"rejected_writes"`
	RejectedReads  int `json:"rejected_reads"`
	// Anomalies counts the anomalies on this key.
	Anomalies int `json:"anomalies"`
}

// writeID identifies a write as both the cycle and the resource name it:
// the key, the holder, the token and the value written.
type writeID struct {
	key, holder  string
	token, value int64
}

// writeUses holds the cycles (indices into the cycle list) that attempted
// one write, by the outcome they saw.
type writeUses struct {
	done, unknown, refused []int
}

// resourceCheck is the state of one CheckResource call.
type resourceCheck struct {
	cycles []cycleOp
	uses   map[writeID]*writeUses
	// order lists each key's writeIDs in order of their first cycle.
	order map[string][]writeID
	// unplaced maps a key and "p<process>" to the cycle without a value
	// that process ran on that key (a process retires after one).
	unplaced map[[2]string]int
	// byHolder maps a key and a holder to the cycles with a value that
	// holder ran on that key.
	byHolder map[[2]string][]int
	// recorded counts the accepted writes of the key being checked.
	recorded map[writeID]int
	// pages holds the last ok final read of each page of each key's
	// record.
	pages  map[pageKey]checkers.Operation
	res    core.CheckResult
	counts map[string]int
}

// CheckResource decides whether the resource stayed safe; the run's verdict
// follows it.
//
// It judges each key from the key's last ok final read (f "resource"), a
// ResourceState, replaying its accesses in the order the resource applied
// them:
//   - an accepted write whose value is not the value before it plus one is
//     a lost update (LostUpdateKind): its writer read a stale value, and
//     the updates since were overwritten;
//   - when the resource checks fencing tokens (Fencing), an accepted read
//     or write whose token is below the largest token the resource had
//     seen on that key before it, accepted or not, is a stale token
//     accepted (StaleTokenKind);
//   - the final Value must equal the value of the last accepted write (0
//     when none), and the number of accepted writes must equal the Value,
//     each write having added one; otherwise the final value is corrupted
//     (CorruptedKind: at most one per key, naming how many updates were
//     lost).
//
// It then cross-checks the record with the cycles of the history. A write
// is named by its key, holder, token and value (the ReadValue plus one):
// every cycle whose Write is Done must have its write accepted in the
// record (MissingWriteKind), and a write some cycle saw Refused must not
// be accepted more often than cycles saw it Done or Unknown
// (RefusedWriteKind). A write of Unknown outcome may or may not be in the
// record.
//
// Each anomaly names its key, in Description the holders, tokens, values
// and sequence numbers involved, and in Events the history indices of the
// cycles involved and of the final read. The verdict is invalid on any
// anomaly, and the Summary then begins "resource corrupted:" and names
// each kind found with its keys; otherwise it is unknown when a key named
// by a cycle or a final read has no ok final read, or when ctx ends before
// the check does; otherwise valid, with a Summary that begins "resource
// safe". A malformed history, or a value of the wrong type or shape, gives
// unknown with a Summary naming the problem. Details is a
// *ResourceDetails.
func CheckResource(ctx context.Context, h core.History) core.CheckResult {
	rc := &resourceCheck{
		uses:     map[writeID]*writeUses{},
		order:    map[string][]writeID{},
		unplaced: map[[2]string]int{},
		byHolder: map[[2]string][]int{},
		res:      core.CheckResult{Checker: ResourceChecker, Verdict: core.Unknown},
		pages:    map[pageKey]checkers.Operation{},
		counts:   map[string]int{},
	}
	finals, keys, err := rc.collect(h)
	if err != nil {
		rc.res.Summary = "cannot check the resource: " + err.Error()
		return rc.res
	}
	d := &ResourceDetails{Keys: len(keys), PerKey: []ResourceKeyDetails{}}
	for _, c := range rc.cycles {
		if c.has && c.v.Write == Done {
			d.AcknowledgedWrites++
		}
	}
	stopped := ""
	for i, k := range keys {
		if ctx.Err() != nil {
			stopped = fmt.Sprintf("%s after %d of %d keys", checkers.StopPhrase(ctx), i, len(keys))
			break
		}
		fin, ok := finals[k]
		if !ok {
			d.NoFinalRead = append(d.NoFinalRead, k)
			continue
		}
		st, err := asResource(fin.Output)
		if err == nil {
			err = st.Validate()
		}
		if err != nil {
			rc.res.Anomalies = nil
			rc.res.Summary = fmt.Sprintf("cannot check the resource: event %d: final read of %s: %v", fin.Complete, k, err)
			return rc.res
		}
		kd := ResourceKeyDetails{Key: k, FinalRead: fin.Complete, Fencing: st.Fencing, Value: st.Value, Accesses: len(st.Accesses)}
		if err := rc.replay(ctx, &kd, fin, st); err != nil {
			stopped = fmt.Sprintf("%s in key %s (%d of %d keys done)", checkers.StopPhrase(ctx), k, i, len(keys))
			break
		}
		rc.crossCheck(&kd, fin)
		d.PerKey = append(d.PerKey, kd)
	}
	if len(rc.counts) > 0 {
		d.Anomalies = rc.counts
	}
	rc.res.Details = d
	rc.res.Summary, rc.res.Verdict = rc.summary(d, stopped)
	return rc.res
}

// collect pairs h, indexes its cycles' writes and returns the last ok final
// read of each key and every key named, in natural order.
func (rc *resourceCheck) collect(h core.History) (map[string]checkers.Operation, []string, error) {
	ops, err := checkers.Pair(h)
	if err != nil {
		return nil, nil, err
	}
	finals := map[string]checkers.Operation{}
	named := map[string]bool{}
	rc.cycles = make([]cycleOp, 0, countCycles(ops))
	for i := range ops {
		op := &ops[i]
		switch op.F {
		case Cycle:
			c, err := cycleOf(op)
			if err != nil {
				return nil, nil, err
			}
			named[op.Key] = true
			rc.index(c)
		case Resource:
			named[op.Key] = true
			if op.Type != core.OK {
				continue
			}
			st, err := asResource(op.Output)
			if errors.Is(err, errNoValue) {
				return nil, nil, core.BadInput("event %d: ok final read of %s without a value", op.Complete, op.Key)
			}
			if err == nil {
				err = st.Validate()
			}
			if err != nil {
				return nil, nil, core.BadInput("event %d: final read of %s: %v", op.Complete, op.Key, err)
			}
			pk := pageKey{op.Key, st.From}
			if f, ok := rc.pages[pk]; !ok || op.Complete > f.Complete {
				rc.pages[pk] = *op
			}
		}
	}
	keys := make([]string, 0, len(named))
	for k := range named {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return checkers.NaturalLess(keys[i], keys[j]) })
	for _, k := range keys {
		if fin, ok, err := rc.assemble(k); err != nil {
			return nil, nil, err
		} else if ok {
			finals[k] = fin
		}
	}
	return finals, keys, nil
}

// pageKey names one page of a key's record: the key and the page's start.
type pageKey struct {
	key  string
	from int64
}

// assemble joins the pages of key's record read at the end into one final
// read: the last ok read of each page, from position 0 on, until the
// record's length. It reports false when a page is missing (the record is
// then not known whole) and an error when pages disagree. The joined
// operation is the last page's, with the whole record as its Output.
func (rc *resourceCheck) assemble(key string) (checkers.Operation, bool, error) {
	var whole ResourceState
	var last checkers.Operation
	for from := int64(0); ; {
		op, ok := rc.pages[pageKey{key, from}]
		if !ok {
			return last, false, nil
		}
		st, err := asResource(op.Output)
		if err != nil {
			return last, false, err
		}
		total := st.Total
		if total == 0 && st.From == 0 {
			total = int64(len(st.Accesses)) // a whole record in one read
		}
		if from == 0 {
			whole = ResourceState{Value: st.Value, Fencing: st.Fencing, Accesses: []Access{}, Total: total}
		} else if total != whole.Total || st.Value != whole.Value || st.Fencing != whole.Fencing {
			return last, false, core.BadInput("event %d: page from %d of %s's record says %d accesses and value %d, an earlier page %d and %d: the record changed during the final reads",
				op.Complete, from, key, total, st.Value, whole.Total, whole.Value)
		}
		whole.Accesses = append(whole.Accesses, st.Accesses...)
		if op.Complete > last.Complete || from == 0 {
			last = op
		}
		from += int64(len(st.Accesses))
		if from >= whole.Total {
			whole.Total = 0
			last.Output = whole
			return last, true, nil
		}
		if len(st.Accesses) == 0 {
			return last, false, nil
		}
	}
}

// index records cycle c's write, or c as unplaced when it has no value.
func (rc *resourceCheck) index(c cycleOp) {
	at := len(rc.cycles)
	rc.cycles = append(rc.cycles, c)
	if !c.has {
		rc.unplaced[[2]string{c.Key, fmt.Sprintf("p%d", c.Process)}] = at
		return
	}
	hk := [2]string{c.Key, c.v.Holder}
	rc.byHolder[hk] = append(rc.byHolder[hk], at)
	if c.v.Write == Skipped {
		return
	}
	id := writeID{key: c.Key, holder: c.v.Holder, token: c.v.Token, value: c.v.ReadValue + 1}
	u := rc.uses[id]
	if u == nil {
		u = &writeUses{}
		rc.uses[id] = u
		rc.order[c.Key] = append(rc.order[c.Key], id)
	}
	switch c.v.Write {
	case Done:
		u.done = append(u.done, at)
	case Refused:
		u.refused = append(u.refused, at)
	default:
		u.unknown = append(u.unknown, at)
	}
}

// replay replays the record st of key kd.Key, reporting lost updates,
// stale tokens accepted and a corrupted final value, counting into kd, and
// counts the accepted writes by writeID into rc.recorded for crossCheck.
// It returns ctx's error if ctx ends first.
func (rc *resourceCheck) replay(ctx context.Context, kd *ResourceKeyDetails, fin checkers.Operation, st ResourceState) error {
	key := kd.Key
	accepted := map[writeID]int{}
	var cur int64     // the value before the access
	var curBy *Access // the accepted write that set cur; nil: the initial 0
	var maxTok int64  // the largest token seen before the access
	var maxBy *Access // the access that brought it
	for i := range st.Accesses {
		if i%4096 == 4095 && ctx.Err() != nil {
			return ctx.Err()
		}
		a := &st.Accesses[i]
		if st.Fencing && a.Accepted && a.Token < maxTok {
			rc.add(kd, StaleTokenKind, key, fmt.Sprintf("%s: %s's %s of %d with token %d (access %d) was accepted after the resource had seen token %d from %s (access %d)",
				key, a.Holder, a.Op, a.Value, a.Token, a.Seq, maxTok, maxBy.Holder, maxBy.Seq),
				rc.accessEvents(key, a), rc.accessEvents(key, maxBy), fin.Events())
		}
		switch {
		case a.Op == AccessWrite && a.Accepted:
			if a.Value != cur+1 {
				rc.add(kd, LostUpdateKind, key, describeLostUpdate(key, a, cur, curBy),
					rc.accessEvents(key, a), rc.accessEvents(key, curBy), fin.Events())
			}
			kd.AcceptedWrites++
			accepted[writeID{key, a.Holder, a.Token, a.Value}]++
			cur, curBy = a.Value, a
		case a.Op == AccessWrite:
			kd.RejectedWrites++
		case !a.Accepted:
			kd.RejectedReads++
		}
		if a.Token > maxTok {
			maxTok, maxBy = a.Token, a
		}
	}
	switch {
	case st.Value != cur && curBy == nil:
		rc.add(kd, CorruptedKind, key, fmt.Sprintf("%s: the resource holds %d, but its record holds no accepted write", key, st.Value),
			fin.Events())
	case st.Value != cur:
		rc.add(kd, CorruptedKind, key, fmt.Sprintf("%s: the resource holds %d, but its last accepted write, by %s (%s, access %d), wrote %d",
			key, st.Value, curBy.Holder, describeToken(curBy.Token), curBy.Seq, cur),
			rc.accessEvents(key, curBy), fin.Events())
	case int64(kd.AcceptedWrites) != st.Value:
		lost := int64(kd.AcceptedWrites) - st.Value
		what := fmt.Sprintf("%d of them lost", lost)
		if lost < 0 {
			what = fmt.Sprintf("%d more than they account for", -lost)
		}
		rc.add(kd, CorruptedKind, key, fmt.Sprintf("%s: the resource holds %d after %d accepted writes that should each have added one: %s",
			key, st.Value, kd.AcceptedWrites, what), fin.Events())
	}
	rc.recorded = accepted
	return nil
}

// describeLostUpdate phrases the lost update a, which overwrote cur, set
// by curBy (nil: the initial 0).
func describeLostUpdate(key string, a *Access, cur int64, curBy *Access) string {
	over := "the initial 0"
	if curBy != nil {
		over = fmt.Sprintf("%d written by %s (%s, access %d)", cur, curBy.Holder, describeToken(curBy.Token), curBy.Seq)
	}
	s := fmt.Sprintf("%s: %s (%s) wrote %d (access %d) over %s", key, a.Holder, describeToken(a.Token), a.Value, a.Seq, over)
	if n := cur - (a.Value - 1); n > 0 {
		were := "were"
		if n == 1 {
			were = "was"
		}
		return s + fmt.Sprintf(": it had read %d, so %s since %s lost", a.Value-1, checkers.Plural(int(n), "update"), were)
	}
	return s + fmt.Sprintf(": it had read %d, a value the resource did not hold", a.Value-1)
}

// crossCheck compares the accepted writes of key kd.Key (from replay)
// with the cycles that attempted writes on it, counting its anomalies
// into kd.
func (rc *resourceCheck) crossCheck(kd *ResourceKeyDetails, fin checkers.Operation) {
	key := kd.Key
	for _, id := range rc.order[key] {
		u := rc.uses[id]
		got := rc.recorded[id]
		if len(u.done) > got {
			desc := fmt.Sprintf("%s: %s's write of %d (%s) was acknowledged", key, id.holder, id.value, describeToken(id.token))
			if len(u.done) > 1 {
				desc += fmt.Sprintf(" %d times", len(u.done))
			}
			desc += fmt.Sprintf(" (%s), but the resource's record holds %s", eventList(rc.cycleEvents(u.done)), acceptedTimes(got))
			rc.add(kd, MissingWriteKind, key, desc, rc.cycleEvents(u.done), fin.Events())
		}
		if len(u.refused) > 0 && got > len(u.done)+len(u.unknown) {
			desc := fmt.Sprintf("%s: %s's write of %d (%s) was refused (%s), but the resource's record shows it accepted",
				key, id.holder, id.value, describeToken(id.token), eventList(rc.cycleEvents(u.refused)))
			rc.add(kd, RefusedWriteKind, key, desc, rc.cycleEvents(u.refused), fin.Events())
		}
	}
}

// acceptedTimes phrases how often the record accepted a write.
func acceptedTimes(n int) string {
	switch n {
	case 0:
		return "no such accepted write"
	case 1:
		return "it accepted once"
	}
	return fmt.Sprintf("it accepted %d times", n)
}

// add appends an anomaly whose events are the sorted union of events.
func (rc *resourceCheck) add(kd *ResourceKeyDetails, kind, key, desc string, events ...[]int) {
	var all []int
	for _, e := range events {
		all = append(all, e...)
	}
	sort.Ints(all)
	all = compactInts(all)
	rc.res.Anomalies = append(rc.res.Anomalies, core.Anomaly{Kind: kind, Key: key, Description: desc, Events: all})
	rc.counts[kind]++
	kd.Anomalies++
}

// accessEvents returns the history events of the cycles that made access
// a (nil: none): for a write, the cycles that attempted a write of its
// holder, token and value; for a read, the cycles of its holder and token
// that attempted a read of its value; failing those, the cycle without a
// value its holder ran on the key.
func (rc *resourceCheck) accessEvents(key string, a *Access) []int {
	if a == nil {
		return nil
	}
	if a.Op == AccessWrite {
		if u := rc.uses[writeID{key, a.Holder, a.Token, a.Value}]; u != nil {
			all := append(append(append([]int(nil), u.done...), u.unknown...), u.refused...)
			return rc.cycleEvents(all)
		}
	} else {
		// A read names the cycles of its holder and token that attempted
		// a read and, if they saw its value, saw that one.
		var at []int
		for _, i := range rc.byHolder[[2]string{key, a.Holder}] {
			v := rc.cycles[i].v
			if v.Token == a.Token && v.Read != Skipped && (v.Read != Done || v.ReadValue == a.Value) {
				at = append(at, i)
			}
		}
		if len(at) > 0 {
			return rc.cycleEvents(at)
		}
	}
	if at, ok := rc.unplaced[[2]string{key, a.Holder}]; ok {
		return rc.cycles[at].Events()
	}
	return nil
}

// cycleEvents returns the history events of the cycles at the given
// positions, in order.
func (rc *resourceCheck) cycleEvents(at []int) []int {
	var out []int
	for _, i := range at {
		out = append(out, rc.cycles[i].Events()...)
	}
	sort.Ints(out)
	return out
}

// eventList phrases event indices: "events 4, 9".
func eventList(ev []int) string {
	if len(ev) == 1 {
		return fmt.Sprintf("event %d", ev[0])
	}
	s := make([]string, len(ev))
	for i, e := range ev {
		s[i] = fmt.Sprint(e)
	}
	return "events " + strings.Join(s, ", ")
}

// compactInts removes adjacent duplicates from a sorted slice.
func compactInts(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// summary phrases the result and decides the verdict: invalid on any
// anomaly, else unknown when a key was not judged or the check stopped,
// else valid.
func (rc *resourceCheck) summary(d *ResourceDetails, stopped string) (string, core.Verdict) {
	var notes []string
	if len(d.NoFinalRead) > 0 {
		notes = append(notes, "no final read of "+checkers.ListNames(d.NoFinalRead))
	}
	if stopped != "" {
		notes = append(notes, "check stopped: "+stopped)
	}
	tail := ""
	if len(notes) > 0 {
		tail = "; " + strings.Join(notes, "; ")
	}
	if len(rc.res.Anomalies) > 0 {
		var parts []string
		for _, k := range anomalyKinds {
			n := rc.counts[k.kind]
			if n == 0 {
				continue
			}
			var keys []string
			seen := map[string]bool{}
			for _, a := range rc.res.Anomalies {
				if a.Kind == k.kind && !seen[a.Key] {
					seen[a.Key] = true
					keys = append(keys, a.Key)
				}
			}
			noun := k.one
			if n > 1 {
				noun = fmt.Sprintf("%d %s", n, k.many)
			}
			parts = append(parts, noun+" on "+checkers.ListNames(keys))
		}
		return "resource corrupted: " + strings.Join(parts, "; ") + tail, core.Invalid
	}
	var writes, rejected int
	for _, kd := range d.PerKey {
		writes += kd.AcceptedWrites
		rejected += kd.RejectedWrites + kd.RejectedReads
	}
	judged := fmt.Sprintf("%s on %s agree with the history", checkers.Plural(writes, "accepted write"), checkers.Plural(len(d.PerKey), "key"))
	if rejected > 0 {
		judged += fmt.Sprintf(", %s rejected", checkers.Plural(rejected, "stale access"))
	}
	if len(notes) > 0 {
		return "resource unknown: " + strings.Join(notes, "; ") + " (" + judged + ")", core.Unknown
	}
	return "resource safe: " + judged, core.Valid
}
