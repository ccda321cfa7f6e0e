package checkers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/core"
)

// testRegister is a register model for this package's own tests (which
// cannot import workloads/register): the same operations and values as
// the register workload (write int64, cas [2]int64, read nil or int64),
// the same wording, and its state is the value held or absent.
type testRegister struct{}

type trState struct {
	present bool
	v       int64
}

type trIn struct {
	f        string
	arg, new int64
}

type trOut struct {
	known bool
	st    trState
}

func (testRegister) Operation(op Operation) (any, any, bool, error) {
	known := op.Type == core.OK
	switch op.F {
	case "read":
		if !known {
			return nil, nil, false, nil
		}
		o := trOut{known: true}
		if op.Output != nil {
			o.st = trState{true, op.Output.(int64)}
		}
		return trIn{f: "read"}, o, true, nil
	case "write":
		return trIn{f: "write", arg: op.Input.(int64)}, trOut{known: known}, true, nil
	case "cas":
		p := op.Input.([2]int64)
		return trIn{f: "cas", arg: p[0], new: p[1]}, trOut{known: known}, true, nil
	}
	return nil, nil, false, core.BadInput("unknown f %q", op.F)
}

func (testRegister) Init() any { return trState{} }

func (testRegister) Step(s, in, out any) (bool, any) {
	st, i, o := s.(trState), in.(trIn), out.(trOut)
	switch i.f {
	case "read":
		return !o.known || o.st == st, st
	case "write":
		return true, trState{true, i.arg}
	}
	if st == (trState{true, i.arg}) {
		return true, trState{true, i.new}
	}
	return !o.known, st
}

func (testRegister) DescribeOperation(in, out any) string {
	i, o := in.(trIn), out.(trOut)
	switch i.f {
	case "read":
		if !o.st.present {
			return "read returned null"
		}
		return fmt.Sprintf("read returned %d", o.st.v)
	case "write":
		if !o.known {
			return fmt.Sprintf("write %d (outcome unknown)", i.arg)
		}
		return fmt.Sprintf("write %d", i.arg)
	}
	if !o.known {
		return fmt.Sprintf("cas %d → %d (outcome unknown)", i.arg, i.new)
	}
	return fmt.Sprintf("cas %d → %d succeeded", i.arg, i.new)
}

func (testRegister) DescribeState(s any) string {
	if st := s.(trState); st.present {
		return fmt.Sprint(st.v)
	}
	return "absent"
}

func (testRegister) RegisterOp(in, out any) (RegisterOp, bool) {
	i, o := in.(trIn), out.(trOut)
	switch i.f {
	case "read":
		return RegisterOp{Kind: RegisterRead, Value: o.st}, true
	case "write":
		return RegisterOp{Kind: RegisterWrite, Value: trState{true, i.arg}}, true
	}
	return RegisterOp{Kind: RegisterCAS, Value: trState{true, i.new}, Old: trState{true, i.arg}}, true
}

var _ UniqueRegister = testRegister{}

// RandomRegisterHistory returns a random history of register operations
// on key k0 by procs processes with n operations (values written once
// each; a cas mostly expects the last value written, sometimes an
// older one, one never written or one written later): a linearizable
// register is simulated with random delays on a coarse clock (so that
// times often tie), some operations end as info (half of those took
// effect) or never complete, and when corrupt is set one operation is then
// changed (a read's value, a failed cas made ok or an ok one failed, two
// reads' values swapped) so that the history is often, but not always, no
// longer linearizable.
func RandomRegisterHistory(rng *rand.Rand, procs, n int, corrupt bool) core.History {
	type simOp struct {
		proc                     int
		f                        string
		in                       any
		invoke, effect, complete int64
		end                      core.Type // OK or Info; "" never completes
		applied                  bool
		out                      any
	}
	free := make([]int64, procs)
	pid := make([]int, procs)
	alive := make([]int, procs)
	for w := range procs {
		pid[w], alive[w] = w, w
	}
	nextPid, next := procs, int64(1)
	var written []int64
	var ops []*simOp
	for range n {
		if len(alive) == 0 {
			break
		}
		k := rng.IntN(len(alive))
		w := alive[k]
		s := &simOp{proc: pid[w], invoke: free[w] + rng.Int64N(3)}
		dur := rng.Int64N(6)
		s.effect, s.complete = s.invoke+rng.Int64N(dur+1), s.invoke+dur
		switch r := rng.IntN(10); {
		case r < 4:
			s.f = "read"
		case r < 7 || len(written) == 0:
			s.f, s.in = "write", next
			written = append(written, next)
			next++
		default:
			old := written[len(written)-1]
			switch r := rng.IntN(10); {
			case r < 2:
				old = written[rng.IntN(len(written))]
			case r == 2:
				old = 1000 + rng.Int64N(3) // never written
			case r == 3:
				old = next + 1 + rng.Int64N(2) // written later, if at all
			}
			s.f, s.in = "cas", [2]int64{old, next}
			written = append(written, next)
			next++
		}
		switch r := rng.IntN(10); {
		case r < 7:
			s.end, s.applied = core.OK, true
		case r < 9:
			s.end, s.applied = core.Info, rng.IntN(2) == 0
			pid[w] = nextPid
			nextPid++
		default:
			s.applied = rng.IntN(2) == 0
			alive = slices.Delete(alive, k, k+1)
		}
		free[w] = s.complete + rng.Int64N(2)
		ops = append(ops, s)
	}

	// Apply the operations that took effect in the order of their effects
	// (ties in random order).
	order := rng.Perm(len(ops))
	sort.SliceStable(order, func(a, b int) bool { return ops[order[a]].effect < ops[order[b]].effect })
	st := trState{}
	for _, i := range order {
		s := ops[i]
		s.out = s.in
		if !s.applied {
			if s.f == "read" {
				s.out = nil
			}
			continue
		}
		switch s.f {
		case "read":
			s.out = nil
			if st.present {
				s.out = st.v
			}
		case "write":
			st = trState{true, s.in.(int64)}
		case "cas":
			p := s.in.([2]int64)
			if st == (trState{true, p[0]}) {
				st = trState{true, p[1]}
			} else if s.end == core.OK {
				s.end = core.Fail
			}
		}
	}

	if corrupt {
		var reads, fails, oks []*simOp
		var installed []int64 // values of writes and cas that did not fail
		for _, s := range ops {
			switch {
			case s.f == "write" && s.end != core.Fail:
				installed = append(installed, s.in.(int64))
			case s.f == "cas" && s.end != core.Fail:
				installed = append(installed, s.in.([2]int64)[1])
			}
			switch {
			case s.f == "read" && s.end == core.OK:
				reads = append(reads, s)
			case s.end == core.Fail:
				fails = append(fails, s)
			case s.f != "read" && s.end == core.OK:
				oks = append(oks, s)
			}
		}
		values := append(slices.Clone(written), 1000)
		switch r := rng.IntN(6); {
		case r < 3 && len(reads) > 0:
			s := reads[rng.IntN(len(reads))]
			switch r := rng.IntN(10); {
			case r < 7 && len(installed) > 0:
				s.out = installed[rng.IntN(len(installed))]
			case r < 8:
				s.out = nil
			default:
				s.out = values[rng.IntN(len(values))]
			}
		case r == 3 && len(fails) > 0:
			fails[rng.IntN(len(fails))].end = core.OK
		case r == 4 && len(oks) > 0:
			oks[rng.IntN(len(oks))].end = core.Fail
		case len(reads) > 1:
			a, b := reads[rng.IntN(len(reads))], reads[rng.IntN(len(reads))]
			a.out, b.out = b.out, a.out
		}
	}

	type stamped struct {
		time int64
		seq  int
		e    core.Event
	}
	var events []stamped
	for i, s := range ops {
		events = append(events, stamped{s.invoke, 2 * i, core.Event{Time: s.invoke, Process: s.proc,
			Op: core.Op{Type: core.Invoke, F: s.f, Key: "k0", Value: s.in}}})
		if s.end != "" {
			events = append(events, stamped{s.complete, 2*i + 1, core.Event{Time: s.complete, Process: s.proc,
				Op: core.Op{Type: s.end, F: s.f, Key: "k0", Value: s.out}}})
		}
	}
	sort.Slice(events, func(a, b int) bool {
		if events[a].time != events[b].time {
			return events[a].time < events[b].time
		}
		return events[a].seq < events[b].seq
	})
	h := make(core.History, len(events))
	for i, e := range events {
		h[i] = e.e
		h[i].Index = i
	}
	return h
}

// FormatHistory renders h one event a line, for failure messages.
func FormatHistory(h core.History) string {
	var b strings.Builder
	for _, e := range h {
		fmt.Fprintf(&b, "%d t=%d p=%d %s %s %v\n", e.Index, e.Time, e.Process, e.Type, e.F, e.Value)
	}
	return b.String()
}

// testKey groups h (one key) for testRegister, without any reduction.
func testKey(t *testing.T, h core.History) *keyJob {
	t.Helper()
	jobs, err := groupByKey(h, testRegister{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("%d keys, want 1", len(jobs))
	}
	return jobs[0]
}

// TestUniqueDecisionAgreesWithPorcupine compares the algorithm itself (no
// reduction, no explanation) with porcupine on random small histories, and
// checks that every invalid verdict comes with a certificate and a full
// order for the visualization.
func TestUniqueDecisionAgreesWithPorcupine(t *testing.T) {
	count := 40000
	if testing.Short() {
		count = 4000
	}
	rng := rand.New(rand.NewPCG(3, 4))
	m := testRegister{}
	base := porcupineModel(m)
	var valid, invalid int
	for i := range count {
		h := RandomRegisterHistory(rng, 2+rng.IntN(4), 4+rng.IntN(9), i%3 != 0)
		j := testKey(t, h)
		u, ok := prepareUnique(m, m, j)
		if !ok {
			t.Fatalf("history %d not prepared for the unique-values algorithm:\n%s", i, FormatHistory(h))
		}
		res := u.decide()
		if res.fallback {
			t.Fatalf("history %d fell back to porcupine:\n%s", i, FormatHistory(h))
		}
		want := porcupine.CheckOperations(base, j.pops)
		if got := res.cert == nil; got != want {
			t.Fatalf("history %d: unique-values says linearizable=%v, porcupine %v:\n%s", i, got, want, FormatHistory(h))
		}
		if len(res.order) != len(j.pops) {
			t.Fatalf("history %d: order of %d operations, want %d", i, len(res.order), len(j.pops))
		}
		if res.cert == nil {
			valid++
			continue
		}
		invalid++
		if len(res.cert.ops) == 0 || res.cert.text == "" {
			t.Fatalf("history %d: empty certificate %+v", i, *res.cert)
		}
	}
	if valid < count/5 || invalid < count/5 {
		t.Errorf("%d valid and %d invalid of %d: the generator should give plenty of both", valid, invalid, count)
	}
	t.Logf("%d valid, %d invalid", valid, invalid)
}

// hb writes histories by hand for testRegister: each event one
// millisecond after the previous one.
type hb struct{ h core.History }

func (b *hb) add(p int, typ core.Type, f string, v any) int {
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: int64(i+1) * 1e6, Process: p, Op: core.Op{Type: typ, F: f, Key: "k0", Value: v}})
	return i
}

func (b *hb) op(p int, typ core.Type, f string, in, out any) {
	b.add(p, core.Invoke, f, in)
	b.add(p, typ, f, out)
}

func (b *hb) write(p int, v int64) { b.op(p, core.OK, "write", v, v) }
func (b *hb) read(p int, v any)    { b.op(p, core.OK, "read", nil, v) }
func (b *hb) cas(p int, typ core.Type, a, n int64) {
	b.op(p, typ, "cas", [2]int64{a, n}, [2]int64{a, n})
}

// TestUniqueCertificates checks the sentence and the events of each kind
// of certificate.
func TestUniqueCertificates(t *testing.T) {
	cases := []struct {
		name   string
		build  func(b *hb)
		text   string
		events []int
	}{
		{"value nobody sets", func(b *hb) {
			b.write(0, 1)
			b.read(1, int64(99))
		}, "read returned 99 (process 1, 0.003s–0.004s), but no operation sets 99", []int{2, 3}},
		{"value only an unset cas could set", func(b *hb) {
			b.write(0, 1)
			b.add(1, core.Invoke, "cas", [2]int64{5, 7})
			b.add(1, core.Info, "cas", [2]int64{5, 7})
			b.read(2, int64(7))
		}, "read returned 7 (process 2, 0.005s–0.006s) needs 7, set only by cas 5 → 7 (outcome unknown) (process 1, from 0.003s, outcome unknown) from 5, but no operation sets 5", []int{2, 3, 4, 5}},
		{"two cas from a value set once", func(b *hb) {
			b.write(0, 1)
			b.cas(1, core.OK, 1, 2)
			b.cas(2, core.OK, 1, 3)
		}, "cas 1 → 2 succeeded (process 1, 0.003s–0.004s) and cas 1 → 3 succeeded (process 2, 0.005s–0.006s) both replaced 1, which is set only once (by write 1 (process 0, 0.001s–0.002s))", []int{0, 1, 2, 3, 4, 5}},
		{"cycle of cas", func(b *hb) {
			b.cas(0, core.OK, 1, 2)
			b.cas(1, core.OK, 2, 1)
		}, "cas 1 → 2 succeeded (process 0, 0.001s–0.002s) and cas 2 → 1 succeeded (process 1, 0.003s–0.004s) each expect a value another of them sets, and nothing else sets those values", []int{0, 1, 2, 3}},
		{"read before its writer began", func(b *hb) {
			b.read(0, int64(5))
			b.add(1, core.Invoke, "write", int64(5))
			b.add(1, core.Info, "write", int64(5))
		}, "read returned 5 (process 0, 0.001s–0.002s) ended before write 5 (outcome unknown) (process 1, from 0.003s, outcome unknown), the only operation that sets 5, began", []int{0, 1, 2, 3}},
		{"cas chain against real time", func(b *hb) {
			b.write(0, 1)
			b.cas(1, core.OK, 1, 2)
			b.read(2, int64(1))
		}, "1 and 2 cannot be ordered: cas 1 → 2 succeeded (process 1, 0.003s–0.004s) sets 2 from 1, so 1 came first, yet cas 1 → 2 succeeded ended before read returned 1 (process 2, 0.005s–0.006s) began, so 2 came first", []int{2, 3, 4, 5}},
		{"stale read", func(b *hb) {
			b.write(0, 1)
			b.write(1, 2)
			b.read(2, int64(1))
		}, "1 and 2 cannot be ordered: write 1 (process 0, 0.001s–0.002s) ended before write 2 (process 1, 0.003s–0.004s) began, so 1 came first, yet write 2 ended before read returned 1 (process 2, 0.005s–0.006s) began, so 2 came first", []int{0, 1, 2, 3, 4, 5}},
		{"initial state read after a write", func(b *hb) {
			b.write(0, 1)
			b.read(1, nil)
		}, "absent and 1 cannot be ordered: absent is the initial state, so absent came first, yet write 1 (process 0, 0.001s–0.002s) ended before read returned null (process 1, 0.003s–0.004s) began, so 1 came first", []int{0, 1, 2, 3}},
		{"chains that cross", func(b *hb) {
			b.write(0, 1)
			b.write(1, 3)
			b.cas(0, core.OK, 1, 2)
			b.cas(1, core.OK, 3, 4)
			b.read(2, int64(2))
		}, "1 → 2 and 3 → 4 cannot be ordered: write 1 (process 0, 0.001s–0.002s) ended before cas 3 → 4 succeeded (process 1, 0.007s–0.008s) began, so 1 → 2 came first, yet write 3 (process 1, 0.003s–0.004s) ended before read returned 2 (process 2, 0.009s–0.010s) began, so 3 → 4 came first", []int{0, 1, 2, 3, 6, 7, 8, 9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b hb
			c.build(&b)
			j := testKey(t, b.h)
			u, ok := prepareUnique(testRegister{}, testRegister{}, j)
			if !ok {
				t.Fatal("not prepared")
			}
			res := u.decide()
			if res.fallback || res.cert == nil {
				t.Fatalf("outcome %+v, want a certificate", res)
			}
			if want := porcupine.CheckOperations(porcupineModel(testRegister{}), j.pops); want {
				t.Fatal("porcupine finds the history linearizable")
			}
			a := u.anomaly("k0", res.cert)
			if a.Description != "key k0: "+c.text {
				t.Errorf("description\n%q, want\n%q", a.Description, "key k0: "+c.text)
			}
			if !slices.Equal(a.Events, c.events) || a.Kind != NonlinearizableKind || a.Key != "k0" {
				t.Errorf("anomaly %s on %s with events %v, want events %v", a.Kind, a.Key, a.Events, c.events)
			}
		})
	}
}

// TestUniqueFallsBack: histories the algorithm does not decide go to
// porcupine, which still decides them.
func TestUniqueFallsBack(t *testing.T) {
	var b hb
	b.write(0, 1)
	b.write(1, 1) // written twice
	b.read(2, int64(1))
	j := testKey(t, b.h)
	if _, ok := prepareUnique(testRegister{}, testRegister{}, j); ok {
		t.Fatal("a value written twice was prepared for the unique-values algorithm")
	}
	res, err := Linearizable(context.Background(), b.h, testRegister{}, LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Details.(*LinearizabilityDetails); res.Verdict != core.Valid || d.PerKey[0].Algorithm != AlgorithmPorcupine {
		t.Errorf("verdict %s by %s, want valid by porcupine", res.Verdict, d.PerKey[0].Algorithm)
	}

	// An indeterminate cas whose interval a reduction closed, though no
	// operation needs its value, may take effect or not before that
	// return: left to porcupine.
	b = hb{}
	b.write(0, 1)
	b.add(1, core.Invoke, "cas", [2]int64{1, 2})
	b.add(1, core.Info, "cas", [2]int64{1, 2})
	b.read(2, int64(1))
	j = testKey(t, b.h)
	j.pops[1].Return = j.pops[2].Return
	u, ok := prepareUnique(testRegister{}, testRegister{}, j)
	if !ok {
		t.Fatal("not prepared")
	}
	if res := u.decide(); !res.fallback {
		t.Errorf("outcome %+v, want a fallback", res)
	}
}

// TestGuidedVisualizationFollowsTheOrder: the visualization of a key the
// algorithm found invalid shows the longest valid prefix of its order.
func TestGuidedVisualizationFollowsTheOrder(t *testing.T) {
	var b hb
	b.write(0, 1)
	b.write(1, 2)
	b.read(2, int64(1))
	j := testKey(t, b.h)
	m := testRegister{}
	u, _ := prepareUnique(m, m, j)
	res := u.decide()
	j.guide = res.order
	_, info := guidedInfo(m, porcupineModel(m), j)
	partial := info.PartialLinearizations()
	if len(partial) != 1 || len(partial[0]) == 0 {
		t.Fatalf("partial linearizations %v", partial)
	}
	longest := 0
	for _, p := range partial[0] {
		longest = max(longest, len(p))
		if !slices.Equal(p, res.order[:len(p)]) {
			t.Errorf("partial linearization %v is not a prefix of the order %v", p, res.order)
		}
	}
	// The order is write 1, read 1, write 2: the read cannot come before
	// write 2, which ended before it began.
	if longest != 1 {
		t.Errorf("longest partial linearization has %d operations, want 1", longest)
	}
}
