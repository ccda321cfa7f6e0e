package checkers

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/core"
)

// The algorithms Linearizable decides a key with, as KeyDetails.Algorithm
// names them.
const (
	// AlgorithmUniqueValues is the polynomial decision for registers whose
	// installed values are unique (see UniqueRegister).
	AlgorithmUniqueValues = "unique-values"
	// AlgorithmPorcupine is porcupine's search.
	AlgorithmPorcupine = "porcupine"
)

// RegisterKind says what an operation on a register does.
type RegisterKind int

// The three kinds of register operations.
const (
	// RegisterRead is legal only when the register holds Value, and
	// changes nothing.
	RegisterRead RegisterKind = iota + 1
	// RegisterWrite is always legal and sets the register to Value.
	RegisterWrite
	// RegisterCAS sets the register to Value when it holds Old. A
	// completed (ok) one is legal only then; an indeterminate one is
	// legal in every state and changes nothing when the register does not
	// hold Old.
	RegisterCAS
)

// RegisterOp is what one operation does to a register, in terms of the
// Model's states: Value is the state a read returned, or the state a write
// or cas sets; Old is the state a cas expects (nil for reads and writes).
type RegisterOp struct {
	Kind  RegisterKind
	Value any
	Old   any
}

// UniqueRegister is an optional extension of Model for models of one
// register with reads, writes and compare-and-set. When a key's operations
// install every value at most once (no two writes or cas set the same
// state, and none sets the initial state), Linearizable decides the key
// without search, in O(n log n), and records AlgorithmUniqueValues for it;
// otherwise it falls back to porcupine.
//
// The model promises that Step behaves as RegisterOp says, with states
// compared with == and Init as the initial state: a read is legal only in
// the state Value and changes nothing, a write sets Value, a completed cas
// is legal only in Old and sets Value, an indeterminate cas sets Value in
// Old and changes nothing elsewhere; and, as Model requires, every
// indeterminate operation (type info) is legal in every state.
type UniqueRegister interface {
	// RegisterOp describes the operation whose input and output
	// Model.Operation made; ok false means it is no register operation,
	// and the key is then checked with porcupine.
	RegisterOp(input, output any) (op RegisterOp, ok bool)
}

// uniqueSweepBudget bounds the configurations the exact explanation of a
// key decided by the unique-values algorithm explores before the
// algorithm's own certificate is used instead.
const uniqueSweepBudget = 1 << 14

// The algorithm.
//
// A linearization of a register whose values are installed at most once
// is a sequence of stretches, one per installed value in version order,
// starting with the initial state: the operation that installs the value,
// then the reads that return it. A value's cluster is its installer and
// its reads. A completed cas [a, b] is legal only right after a, so it
// forces b to follow a immediately; chains of such forced successors are
// segments, and every linearization is the initial segment followed by the
// other segments in some order, each one contiguous.
//
// Which operations take effect: every completed operation, and an
// indeterminate write or cas whose value a completed read needs, or that
// a cas which takes effect needs as its old value, transitively. Every
// other indeterminate operation can be placed last (where it is always
// legal and nothing observes it), so it is left out: leaving an operation
// out never adds a constraint.
//
// Real time: an operation x must precede y when x returned before y was
// invoked. For clusters (or segments) X and Y, X may come before Y only if
// no operation of Y returned before some operation of X was invoked, that
// is hi(X) ≤ lo(Y), where lo is the earliest return and hi the latest
// invocation among their operations (an indeterminate operation returns
// at +∞). Inside a segment the order is fixed, so that condition is
// checked for each pair; inside a cluster the installer comes first, so no
// read may return before it was invoked.
//
// Ordering the segments: S must come before T exactly when lo(S) < hi(T).
// That relation is a Ferrers relation (lo(A) < hi(B) and lo(C) < hi(D)
// give lo(A) < hi(D) or lo(C) < hi(B)), so it has a cycle only if it has a
// cycle of two: two segments that must each precede the other. Sorting the
// segments by (min(lo, hi), hi) puts every forced pair in order, so the
// sorted order either works or shows such a pair at the first place where
// the running maximum of hi exceeds a segment's lo. The whole decision is
// a sort: O(n log n).
//
// Soundness is built in: a valid verdict comes with a linearization that
// is replayed through Step and checked against real time, and an invalid
// one with a certificate (a value nobody sets, two cas from the value set
// once, a cycle of cas, a read that ended before its value's only writer
// began, or two stretches that must each precede the other). When the
// replay fails, or an indeterminate cas with a closed interval is not
// forced (a case this algorithm does not decide), the key goes to
// porcupine.

// uniqueKey is one key prepared for the unique-values algorithm.
type uniqueKey struct {
	m    Model
	ops  []Operation
	pops []porcupine.Operation
	kind []RegisterKind
	def  []bool // the operation completed ok
	val  []int  // value id read or set
	old  []int  // value id a cas expects, -1 otherwise
	// vals holds the states by value id; 0 is the initial state.
	vals []any
	inst []int // value id -> the operation that sets it, -1 if none
}

// prepareUnique classifies j's operations for the unique-values algorithm.
// ok is false when some operation is no register operation, a value is
// installed twice (or is the initial state), or an indeterminate read has
// a closed interval.
func prepareUnique(m Model, ur UniqueRegister, j *keyJob) (*uniqueKey, bool) {
	n := len(j.pops)
	u := &uniqueKey{
		m: m, ops: j.ops, pops: j.pops,
		kind: make([]RegisterKind, n), def: make([]bool, n), val: make([]int, n), old: make([]int, n),
		vals: []any{m.Init()}, inst: []int{-1},
	}
	ids := map[any]int{u.vals[0]: 0}
	id := func(v any) int {
		if i, ok := ids[v]; ok {
			return i
		}
		ids[v] = len(u.vals)
		u.vals = append(u.vals, v)
		u.inst = append(u.inst, -1)
		return len(u.vals) - 1
	}
	for i, p := range j.pops {
		op, ok := ur.RegisterOp(p.Input, p.Output)
		if !ok {
			return nil, false
		}
		u.kind[i], u.def[i], u.old[i] = op.Kind, j.ops[i].Type == core.OK, -1
		switch op.Kind {
		case RegisterRead:
			if !u.def[i] && p.Return != math.MaxInt64 {
				return nil, false
			}
			u.val[i] = id(op.Value)
		case RegisterWrite, RegisterCAS:
			v := id(op.Value)
			if v == 0 || u.inst[v] >= 0 {
				return nil, false
			}
			u.val[i], u.inst[v] = v, i
			if op.Kind == RegisterCAS {
				u.old[i] = id(op.Old)
			}
		default:
			return nil, false
		}
	}
	return u, true
}

// certificate is a proof that a key is not linearizable: the operations
// involved and the sentence that says why.
type certificate struct {
	ops  []int
	text string
}

// uniqueOutcome is what the unique-values algorithm found. When fallback
// is set it decided nothing. order is a linearization for a valid key,
// and for an invalid one an order that follows the algorithm as far as it
// goes (for the visualization).
type uniqueOutcome struct {
	fallback bool
	cert     *certificate
	order    []int
}

// segment is a chain of values, each set by a cas from the previous one.
type segment struct {
	values     []int
	lo, hi     int64
	loOp, hiOp int // the operations that give lo and hi
}

// decide runs the unique-values algorithm on u.
func (u *uniqueKey) decide() uniqueOutcome {
	n, nv := len(u.pops), len(u.vals)
	var cert *certificate
	fail := func(c *certificate) {
		if cert == nil {
			cert = c
		}
	}

	// Which operations take effect, and which values appear.
	need := make([]bool, nv)
	why := make([]int, nv) // the operation that needs the value
	taken := make([]bool, n)
	var stack []int
	needVal := func(v, by int) {
		if v != 0 && !need[v] {
			need[v], why[v] = true, by
			stack = append(stack, v)
		}
	}
	take := func(i int) {
		if !taken[i] {
			taken[i] = true
			if u.kind[i] == RegisterCAS {
				needVal(u.old[i], i)
			}
		}
	}
	for i := range n {
		switch {
		case u.kind[i] == RegisterRead:
			if u.def[i] {
				needVal(u.val[i], i)
			}
		case u.def[i]:
			take(i)
		case u.kind[i] == RegisterWrite && u.pops[i].Return != math.MaxInt64:
			take(i) // it must take effect before its closed return
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if u.inst[v] < 0 {
			fail(u.missing(v, why))
			continue
		}
		take(u.inst[v])
	}
	for i := range n {
		if !taken[i] && u.kind[i] == RegisterCAS && u.pops[i].Return != math.MaxInt64 {
			// An indeterminate cas that must be placed before a closed
			// return but may change nothing there: not decided here.
			return uniqueOutcome{fallback: true}
		}
	}
	present := make([]bool, nv)
	present[0] = true
	for v := 1; v < nv; v++ {
		present[v] = u.inst[v] >= 0 && taken[u.inst[v]]
	}

	// Forced successors.
	succ := make([]int, nv) // value -> the taken cas that replaces it
	for v := range succ {
		succ[v] = -1
	}
	for i := range n {
		if !taken[i] || u.kind[i] != RegisterCAS {
			continue
		}
		a := u.old[i]
		if succ[a] >= 0 {
			fail(u.twoCAS(a, succ[a], i, why))
			continue
		}
		succ[a] = i
	}

	// Clusters: reads of each value, and lo/hi over installer and reads.
	reads := make([][]int, nv)
	for i := range n {
		if u.kind[i] == RegisterRead && u.def[i] {
			reads[u.val[i]] = append(reads[u.val[i]], i)
		}
	}
	for v := range reads {
		slices.SortFunc(reads[v], func(a, b int) int {
			return cmp.Or(cmp.Compare(u.pops[a].Return, u.pops[b].Return), cmp.Compare(u.pops[a].Call, u.pops[b].Call), cmp.Compare(a, b))
		})
	}
	cluster := func(v int) segment {
		s := segment{values: []int{v}, lo: math.MaxInt64, hi: math.MinInt64, loOp: -1, hiOp: -1}
		add := func(i int) {
			if p := u.pops[i]; p.Return < s.lo || s.loOp < 0 {
				s.lo, s.loOp = p.Return, i
			}
			if p := u.pops[i]; p.Call > s.hi || s.hiOp < 0 {
				s.hi, s.hiOp = p.Call, i
			}
		}
		if v != 0 {
			add(u.inst[v])
		}
		for _, r := range reads[v] {
			add(r)
		}
		return s
	}

	// Segments, from each value not set by a cas.
	visited := make([]bool, nv)
	var segs []segment
	initSeg := -1
	for h := range nv {
		if !present[h] || (h != 0 && u.kind[u.inst[h]] == RegisterCAS) {
			continue
		}
		if h == 0 {
			initSeg = len(segs)
		}
		var s segment
		for v := h; ; {
			visited[v] = true
			c := cluster(v)
			if len(s.values) == 0 {
				s = c
			} else {
				s.values = append(s.values, v)
				if c.lo < s.lo {
					s.lo, s.loOp = c.lo, c.loOp
				}
				if c.hi > s.hi {
					s.hi, s.hiOp = c.hi, c.hiOp
				}
			}
			if succ[v] < 0 || visited[u.val[succ[v]]] {
				break
			}
			v = u.val[succ[v]]
		}
		segs = append(segs, s)
	}
	if cert == nil {
		for v := range nv {
			if present[v] && !visited[v] {
				fail(u.cycle(v))
				break
			}
		}
	}

	if cert == nil {
		// Inside clusters and segments.
		for _, s := range segs {
			prevHi, prevOp, prevVal := int64(math.MinInt64), -1, -1
			for _, v := range s.values {
				c := cluster(v)
				if v != 0 && len(reads[v]) > 0 {
					w, r := u.inst[v], reads[v][0]
					if u.pops[r].Return < u.pops[w].Call {
						fail(&certificate{ops: []int{r, w}, text: fmt.Sprintf("%s ended before %s, the only operation that sets %s, began",
							u.phrase(r), u.phrase(w), u.state(v))})
					}
				}
				if prevOp >= 0 && prevHi > c.lo {
					fail(u.chainOrder(s.values, prevVal, v, prevOp, c.loOp))
				}
				if c.hi > prevHi {
					prevHi, prevOp, prevVal = c.hi, c.hiOp, v
				}
			}
		}
	}

	// The order of the segments: the initial one, then by (min(lo,hi), hi).
	var order []int
	if initSeg >= 0 {
		order = append(order, initSeg)
	}
	rest := make([]int, 0, len(segs))
	for i := range segs {
		if i != initSeg {
			rest = append(rest, i)
		}
	}
	slices.SortStableFunc(rest, func(a, b int) int {
		sa, sb := segs[a], segs[b]
		return cmp.Or(cmp.Compare(min(sa.lo, sa.hi), min(sb.lo, sb.hi)), cmp.Compare(sa.hi, sb.hi))
	})
	order = append(order, rest...)
	if cert == nil {
		prev := -1
		for _, i := range order {
			if prev >= 0 && segs[prev].hi > segs[i].lo {
				a, b := segs[prev], segs[i]
				if prev != initSeg && a.lo >= b.hi {
					// The sorted order puts every forced pair in order;
					// reaching here would mean the reasoning is wrong.
					return uniqueOutcome{fallback: true}
				}
				fail(u.crossed(a, b, prev == initSeg))
				break
			}
			if prev < 0 || segs[i].hi > segs[prev].hi {
				prev = i
			}
		}
	}

	// The linearization (or as much of it as the algorithm reached).
	placed := make([]bool, n)
	lin := make([]int, 0, n)
	for _, i := range order {
		for _, v := range segs[i].values {
			if v != 0 {
				lin = append(lin, u.inst[v])
				placed[u.inst[v]] = true
			}
			for _, r := range reads[v] {
				lin = append(lin, r)
				placed[r] = true
			}
		}
	}
	tail := make([]int, 0, n-len(lin))
	for i := range n {
		if !placed[i] {
			tail = append(tail, i)
		}
	}
	slices.SortStableFunc(tail, func(a, b int) int { return cmp.Compare(u.pops[a].Call, u.pops[b].Call) })
	lin = append(lin, tail...)

	if cert != nil {
		return uniqueOutcome{cert: cert, order: lin}
	}
	if !u.replay(lin) {
		return uniqueOutcome{fallback: true}
	}
	return uniqueOutcome{order: lin}
}

// replay reports whether order is a linearization: every operation legal
// in turn under the model, and no operation returning before an earlier
// one in order was invoked.
func (u *uniqueKey) replay(order []int) bool {
	if len(order) != len(u.pops) {
		return false
	}
	minRet := int64(math.MaxInt64)
	for k := len(order) - 1; k >= 0; k-- {
		p := u.pops[order[k]]
		if p.Call > minRet {
			return false
		}
		minRet = min(minRet, p.Return)
	}
	state := u.m.Init()
	for _, i := range order {
		ok, next := u.m.Step(state, u.pops[i].Input, u.pops[i].Output)
		if !ok {
			return false
		}
		state = next
	}
	return true
}

// state phrases value v.
func (u *uniqueKey) state(v int) string { return u.m.DescribeState(u.vals[v]) }

// phrase names operation i as explain does: "read returned 3 (process 2,
// 1.000s–1.002s)".
func (u *uniqueKey) phrase(i int) string {
	op, p := u.ops[i], u.pops[i]
	when := fmt.Sprintf("%s–%s", formatSeconds(op.Start), formatSeconds(op.End))
	if op.Type == core.Info {
		when = fmt.Sprintf("from %s, outcome unknown", formatSeconds(op.Start))
	}
	return fmt.Sprintf("%s (process %d, %s)", u.m.DescribeOperation(p.Input, p.Output), op.Process, when)
}

// short names operation i without its process and times, once phrase
// has introduced it.
func (u *uniqueKey) short(i int) string {
	p := u.pops[i]
	return u.m.DescribeOperation(p.Input, p.Output)
}

// namer phrases operations, the first time in full and then short.
type namer struct {
	u    *uniqueKey
	seen map[int]bool
	ops  []int
}

func (u *uniqueKey) namer() *namer { return &namer{u: u, seen: map[int]bool{}} }

func (n *namer) name(i int) string {
	if n.seen[i] {
		return n.u.short(i)
	}
	n.seen[i] = true
	n.ops = append(n.ops, i)
	return n.u.phrase(i)
}

// maxChain is how many links of a chain of cas an explanation names.
const maxChain = 3

// missing explains value v, which an operation that takes effect needs but
// no operation sets. why[x] is the operation that needs x.
func (u *uniqueKey) missing(v int, why []int) *certificate {
	// Walk from the value up to the completed operation that needs it.
	var chain []int // indeterminate cas taken for their value, innermost first
	root := why[v]
	for u.kind[root] == RegisterCAS && !u.def[root] && len(chain) < len(u.pops) {
		chain = append(chain, root)
		root = why[u.val[root]]
	}
	nm := u.namer()
	var b strings.Builder
	b.WriteString(nm.name(root))
	if len(chain) == 0 {
		fmt.Fprintf(&b, ", but no operation sets %s", u.state(v))
		return &certificate{ops: nm.ops, text: b.String()}
	}
	// root needs the value of chain[last], which needs the value of the
	// one before, … which needs v.
	fmt.Fprintf(&b, " needs %s", u.state(u.val[chain[len(chain)-1]]))
	for k := len(chain) - 1; k >= 0; k-- {
		if len(chain)-1-k == maxChain {
			fmt.Fprintf(&b, ", and so on through %d more cas", k+1)
			break
		}
		c := chain[k]
		fmt.Fprintf(&b, ", set only by %s from %s", nm.name(c), u.state(u.old[c]))
	}
	fmt.Fprintf(&b, ", but no operation sets %s", u.state(v))
	return &certificate{ops: nm.ops, text: b.String()}
}

// twoCAS explains the cas c1 and c2, which both take effect from value a,
// set only once.
func (u *uniqueKey) twoCAS(a, c1, c2 int, why []int) *certificate {
	nm := u.namer()
	part := func(c int) string {
		s := nm.name(c)
		if !u.def[c] {
			s += fmt.Sprintf(", which took effect since %s needs %s", nm.name(why[u.val[c]]), u.state(u.val[c]))
		}
		return s
	}
	text := fmt.Sprintf("%s and %s both replaced %s, which is set only once", part(c1), part(c2), u.state(a))
	if w := u.inst[a]; w >= 0 {
		text += fmt.Sprintf(" (by %s)", nm.name(w))
	}
	return &certificate{ops: nm.ops, text: text}
}

// cycle explains the cycle of cas on which value v lies.
func (u *uniqueKey) cycle(v int) *certificate {
	// Walk back through the setters until a value repeats.
	seen := map[int]bool{}
	for !seen[v] {
		seen[v] = true
		v = u.old[u.inst[v]]
	}
	var ops []int
	for x := v; ; {
		ops = append(ops, u.inst[x])
		if x = u.old[u.inst[x]]; x == v {
			break
		}
	}
	slices.Reverse(ops)
	first := slices.Index(ops, slices.Min(ops))
	ops = append(ops[first:], ops[:first]...)
	nm := u.namer()
	names := make([]string, 0, min(len(ops), maxChain+1))
	for k, c := range ops {
		if k == maxChain {
			names = append(names, fmt.Sprintf("%d more cas", len(ops)-k))
			break
		}
		names = append(names, nm.name(c))
	}
	text := fmt.Sprintf("%s each expect a value another of them sets, and nothing else sets those values", joinAnd(names))
	if len(ops) == 1 {
		text = fmt.Sprintf("%s expects the value it sets itself, and nothing else sets %s", names[0], u.state(v))
	}
	return &certificate{ops: nm.ops, text: text}
}

// chainOrder explains a segment whose forced order of values puts a before
// b (a earlier in values) although y, an operation of b's cluster, returned
// before x, one of a's cluster, was invoked.
func (u *uniqueKey) chainOrder(values []int, a, b, x, y int) *certificate {
	from, to := slices.Index(values, a), slices.Index(values, b)
	links := make([]int, 0, to-from)
	for _, v := range values[from+1 : to+1] {
		links = append(links, u.inst[v])
	}
	nm := u.namer()
	var names []string
	for k, c := range links {
		if k == maxChain {
			names = append(names, fmt.Sprintf("%d more cas", len(links)-k))
			break
		}
		names = append(names, nm.name(c))
	}
	verb := "sets"
	if len(links) > 1 {
		verb = "set"
	}
	why := fmt.Sprintf("%s %s %s from %s", joinAnd(names), verb, u.state(b), u.state(a))
	yx := fmt.Sprintf("%s ended before %s began", nm.name(y), nm.name(x))
	return &certificate{ops: nm.ops, text: fmt.Sprintf("%s and %s cannot be ordered: %s, so %s came first, yet %s, so %s came first",
		u.state(a), u.state(b), why, u.state(a), yx, u.state(b))}
}

// crossed explains segments a and b that must each precede the other; a
// comes first in the algorithm's order (it is the initial segment when
// initial is set).
func (u *uniqueKey) crossed(a, b segment, initial bool) *certificate {
	nm := u.namer()
	na, nb := u.segmentName(a), u.segmentName(b)
	var first string
	if initial {
		first = fmt.Sprintf("%s is the initial state", u.state(0))
		if len(a.values) > 1 {
			first = fmt.Sprintf("%s starts from the initial state", na)
		}
	} else {
		first = fmt.Sprintf("%s ended before %s began", nm.name(a.loOp), nm.name(b.hiOp))
	}
	second := fmt.Sprintf("%s ended before %s began", nm.name(b.loOp), nm.name(a.hiOp))
	return &certificate{ops: nm.ops, text: fmt.Sprintf("%s and %s cannot be ordered: %s, so %s came first, yet %s, so %s came first",
		na, nb, first, na, second, nb)}
}

// segmentName names a segment by its values: "3", "3 → 4 → 5" or
// "3 → … → 9 (7 values)".
func (u *uniqueKey) segmentName(s segment) string {
	vs := s.values
	switch {
	case len(vs) <= 3:
		parts := make([]string, len(vs))
		for k, v := range vs {
			parts[k] = u.state(v)
		}
		return strings.Join(parts, " → ")
	}
	return fmt.Sprintf("%s → … → %s (%d values)", u.state(vs[0]), u.state(vs[len(vs)-1]), len(vs))
}

// joinAnd renders "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// anomaly turns a certificate into the key's anomaly.
func (u *uniqueKey) anomaly(key string, c *certificate) core.Anomaly {
	var events []int
	for _, i := range c.ops {
		events = append(events, u.ops[i].Events()...)
	}
	slices.Sort(events)
	events = slices.Compact(events)
	return core.Anomaly{Kind: NonlinearizableKind, Key: key, Description: "key " + key + ": " + c.text, Events: events}
}

// checkUnique decides key j with the unique-values algorithm and records
// the outcome in j.out; it reports false, recording nothing, when the
// algorithm cannot decide the key and porcupine must. For an invalid key
// the explanation is explain's exact one when its sweep finishes within
// uniqueSweepBudget, and the algorithm's certificate otherwise.
func checkUnique(ctx context.Context, m Model, u *uniqueKey, j *keyJob) bool {
	res := u.decide()
	if res.fallback {
		return false
	}
	if res.cert == nil {
		j.out.verdict = core.Valid
		return true
	}
	j.out.verdict = core.Invalid
	j.guide = res.order
	var a core.Anomaly
	if sp, ok := sweep(ctx, m, j.pops, uniqueSweepBudget); ok && sp.exact {
		a = describeStuck(m, j, sp)
	} else {
		a = u.anomaly(j.key, res.cert)
	}
	j.out.anomaly = &a
	return true
}

// guidedInput wraps an operation's input with its position in the key's
// operations, so that a guided model can tell operations apart.
type guidedInput struct {
	id int
	in any
}

// guidedState is a guided model's state: how many operations of the
// guiding order have been applied, and the model's state after them.
type guidedState struct {
	pos   int
	state any
}

// guidedInfo runs porcupine on j with a model that accepts the operations
// only in the order j.guide, so that its partial linearization is the
// longest valid prefix of that order; it returns that model and the
// information to visualize. Porcupine's search is then linear in the
// length of the order times the number of concurrent operations.
func guidedInfo(m Model, base porcupine.Model, j *keyJob) (porcupine.Model, porcupine.LinearizationInfo) {
	pos := make([]int, len(j.pops))
	for k, i := range j.guide {
		pos[i] = k
	}
	pops := make([]porcupine.Operation, len(j.pops))
	for i, p := range j.pops {
		p.Input = guidedInput{id: i, in: p.Input}
		pops[i] = p
	}
	model := base
	model.Init = func() any { return guidedState{state: m.Init()} }
	model.Step = func(s, in, out any) (ok bool, next any) {
		// Step runs in porcupine's goroutines, where a panic would end the
		// process; a model that panics only cuts the visualization short.
		defer func() {
			if recover() != nil {
				ok, next = false, s
			}
		}()
		gs, g := s.(guidedState), in.(guidedInput)
		if pos[g.id] != gs.pos {
			return false, s
		}
		legal, after := m.Step(gs.state, g.in, out)
		if !legal {
			return false, s
		}
		return true, guidedState{pos: gs.pos + 1, state: after}
	}
	model.DescribeOperation = func(in, out any) string { return m.DescribeOperation(in.(guidedInput).in, out) }
	model.DescribeState = func(s any) string { return m.DescribeState(s.(guidedState).state) }
	_, info := porcupine.CheckOperationsVerbose(model, pops, 0)
	return model, info
}
