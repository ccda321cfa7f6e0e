package checkers_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/workloads/register"
)

var (
	porcupineCap = flag.Duration("porcupine-cap", 0,
		"run TestPorcupineOnBigHistories, giving porcupine this long per history (for example 40s)")
	bigHistoriesDir = flag.String("big-histories", "",
		"write the big register histories as history.jsonl files into this folder (TestWriteBigHistories)")
)

// searchReduced is the register model with its reduction but without its
// UniqueRegister side: the checker as it was before the unique-values
// algorithm, porcupine after the reduction.
type searchReduced struct {
	checkers.Model
	checkers.Reducer
}

// porcupineAlone checks h (one key) with porcupine on the operations as
// Linearizable converts them, without reduction: failed operations left
// out, indeterminate ones open-ended.
func porcupineAlone(t testing.TB, h core.History, m checkers.Model, timeout time.Duration) porcupine.CheckResult {
	t.Helper()
	ops, err := checkers.Pair(h)
	if err != nil {
		t.Fatal(err)
	}
	var pops []porcupine.Operation
	for _, op := range ops {
		if op.Type == core.Fail {
			continue
		}
		in, out, keep, err := m.Operation(op)
		if err != nil {
			t.Fatal(err)
		}
		if !keep {
			continue
		}
		ret := op.End
		if op.Type == core.Info {
			ret = math.MaxInt64
		}
		pops = append(pops, porcupine.Operation{ClientId: op.Process, Input: in, Output: out, Call: op.Start, Return: ret})
	}
	return porcupine.CheckOperationsTimeout(porcupine.Model{Init: m.Init, Step: m.Step}, pops, timeout)
}

// keyDetails returns the only key's details of a linearizability result.
func keyDetails(t testing.TB, res core.CheckResult) checkers.KeyDetails {
	t.Helper()
	d, ok := res.Details.(*checkers.LinearizabilityDetails)
	if !ok || len(d.PerKey) != 1 {
		t.Fatalf("details %+v, want one key", res.Details)
	}
	return d.PerKey[0]
}

// TestUniqueValuesAgreeWithPorcupine is the differential test: tens of
// thousands of small random register histories (valid and invalid, with
// info operations and invocations that never completed) are checked by
// Linearizable, which reduces them and decides them with the unique-values
// algorithm, and by porcupine alone on the unreduced operations. The
// verdicts must agree on every one.
func TestUniqueValuesAgreeWithPorcupine(t *testing.T) {
	small, medium := 40000, 2000
	if testing.Short() {
		small, medium = 4000, 200
	}
	rng := rand.New(rand.NewPCG(11, 12))
	counts := map[core.Verdict]int{}
	for i := range small + medium {
		var h core.History
		if i < small {
			h = checkers.RandomRegisterHistory(rng, 2+rng.IntN(4), 4+rng.IntN(9), i%3 != 0)
		} else {
			h = checkers.RandomRegisterHistory(rng, 3+rng.IntN(4), 13+rng.IntN(12), i%3 != 0)
		}
		res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := core.Valid
		if porcupineAlone(t, h, register.Model{}, 0) != porcupine.Ok {
			want = core.Invalid
		}
		kd := keyDetails(t, res)
		if res.Verdict != want || kd.Algorithm != checkers.AlgorithmUniqueValues {
			t.Fatalf("history %d: verdict %s by %s, porcupine says %s: %s\n%s",
				i, res.Verdict, kd.Algorithm, want, res.Summary, checkers.FormatHistory(h))
		}
		counts[want]++
		if want == core.Valid {
			continue
		}
		if len(res.Anomalies) != 1 {
			t.Fatalf("history %d: %d anomalies, want 1", i, len(res.Anomalies))
		}
		a := res.Anomalies[0]
		if a.Kind != checkers.NonlinearizableKind || a.Key != "k0" || !strings.HasPrefix(a.Description, "key k0: ") || len(a.Events) == 0 {
			t.Fatalf("history %d: anomaly %+v", i, a)
		}
		for _, e := range a.Events {
			if e < 0 || e >= len(h) {
				t.Fatalf("history %d: anomaly names event %d of %d", i, e, len(h))
			}
		}
	}
	n := small + medium
	if counts[core.Valid] < n/5 || counts[core.Invalid] < n/5 {
		t.Errorf("%v of %d: the generator should give plenty of both", counts, n)
	}
}

// rb writes register histories by hand: each event one millisecond after
// the previous one.
type rb struct{ h core.History }

func (b *rb) add(p int, typ core.Type, f string, v any) int {
	i := len(b.h)
	b.h = append(b.h, core.Event{Index: i, Time: int64(i+1) * 1e6, Process: p, Op: core.Op{Type: typ, F: f, Key: "k0", Value: v}})
	return i
}

func (b *rb) op(p int, typ core.Type, f string, in, out any) {
	b.add(p, core.Invoke, f, in)
	b.add(p, typ, f, out)
}

func (b *rb) write(p int, v int64) { b.op(p, core.OK, register.Write, v, v) }
func (b *rb) read(p int, v any)    { b.op(p, core.OK, register.Read, nil, v) }
func (b *rb) cas(p int, typ core.Type, a, n int64) {
	b.op(p, typ, register.CAS, [2]int64{a, n}, [2]int64{a, n})
}
func (b *rb) infoWrite(p int, v int64)  { b.op(p, core.Info, register.Write, v, v) }
func (b *rb) infoCAS(p int, a, n int64) { b.cas(p, core.Info, a, n) }
func (b *rb) openWrite(p int, v int64)  { b.add(p, core.Invoke, register.Write, v) }
func (b *rb) failCAS(p int, a, n int64) { b.cas(p, core.Fail, a, n) }
func (b *rb) readAt(p int, v any) (inv, done int) {
	return b.add(p, core.Invoke, register.Read, nil), b.add(p, core.OK, register.Read, v)
}
func (b *rb) writeAt(p int, v int64) (inv, done int) {
	return b.add(p, core.Invoke, register.Write, v), b.add(p, core.OK, register.Write, v)
}

// TestUniqueValuesKnownAnswers: hand-written histories with the verdict,
// the algorithm and the anomaly each must get.
func TestUniqueValuesKnownAnswers(t *testing.T) {
	cases := []struct {
		name   string
		build  func(b *rb)
		want   core.Verdict
		events []int
		text   string
	}{
		{"indeterminate writes and cas, some seen, some not", func(b *rb) {
			b.write(0, 1)
			b.infoCAS(1, 1, 2) // took effect: 2 is read
			b.infoWrite(2, 3)  // never seen: left out
			b.read(3, int64(2))
			b.openWrite(4, 4)  // never completed, took effect: 4 is read
			b.infoCAS(5, 2, 5) // never seen: left out
			b.read(3, int64(4))
			b.failCAS(6, 4, 6)
			b.read(3, int64(4))
		}, core.Valid, nil, ""},
		{"cas chain with an indeterminate link", func(b *rb) {
			b.write(0, 1)
			b.cas(0, core.OK, 1, 2)
			b.infoCAS(1, 2, 3)
			b.cas(2, core.OK, 3, 4)
			b.read(0, int64(4))
		}, core.Valid, nil, ""},
		{"stale read", func(b *rb) {
			b.write(0, 1)
			b.write(1, 2)
			b.read(2, int64(1))
		}, core.Invalid, []int{2, 3, 4, 5},
			"key k0: read returned 1 (process 2, 0.005s–0.006s), but in every order consistent with real time k0 is 2 while it runs"},
		{"lost write", func(b *rb) {
			b.write(0, 1)
			b.read(1, int64(1))
			b.write(0, 2)
			b.read(1, int64(1))
		}, core.Invalid, []int{4, 5, 6, 7},
			"key k0: read returned 1 (process 1, 0.007s–0.008s), but in every order consistent with real time k0 is 2 while it runs"},
		{"cas chain broken", func(b *rb) {
			b.write(0, 1)
			b.cas(1, core.OK, 1, 2)
			b.cas(2, core.OK, 1, 3)
		}, core.Invalid, []int{2, 3, 4, 5},
			"key k0: cas 1 → 3 succeeded (process 2, 0.005s–0.006s), but in every order consistent with real time k0 is 2 while it runs"},
		{"read of a value never written", func(b *rb) {
			b.write(0, 1)
			b.failCAS(1, 1, 2)
			b.read(2, int64(2))
		}, core.Invalid, []int{0, 1, 4, 5},
			"key k0: read returned 2 (process 2, 0.005s–0.006s), but in every order consistent with real time k0 is 1 while it runs"},
		{"read before its write was invoked", func(b *rb) {
			b.read(0, int64(1))
			b.write(1, 1)
		}, core.Invalid, []int{0, 1},
			"key k0: read returned 1 (process 0, 0.001s–0.002s), but in every order consistent with real time k0 is absent while it runs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b rb
			c.build(&b)
			res, err := checkers.Linearizable(context.Background(), b.h, register.Model{}, checkers.LinearizabilityOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if kd := keyDetails(t, res); res.Verdict != c.want || kd.Algorithm != checkers.AlgorithmUniqueValues {
				t.Fatalf("verdict %s by %s, want %s by unique-values: %s", res.Verdict, kd.Algorithm, c.want, res.Summary)
			}
			if want := porcupineAlone(t, b.h, register.Model{}, 0) == porcupine.Ok; want != (c.want == core.Valid) {
				t.Fatalf("porcupine disagrees with the expected verdict")
			}
			if c.want == core.Valid {
				if len(res.Anomalies) != 0 {
					t.Errorf("anomalies %+v on a valid history", res.Anomalies)
				}
				return
			}
			if len(res.Anomalies) != 1 {
				t.Fatalf("%d anomalies, want 1", len(res.Anomalies))
			}
			a := res.Anomalies[0]
			if a.Description != c.text || !slices.Equal(a.Events, c.events) {
				t.Errorf("anomaly %q with events %v,\nwant %q with events %v", a.Description, a.Events, c.text, c.events)
			}
		})
	}
}

// TestUniqueValuesFallBackToPorcupine: a key on which a value is written
// twice is decided by porcupine, and says so.
func TestUniqueValuesFallBackToPorcupine(t *testing.T) {
	var b rb
	b.write(0, 1)
	b.write(1, 2)
	b.write(0, 1)
	b.read(1, int64(1))
	res, err := checkers.Linearizable(context.Background(), b.h, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kd := keyDetails(t, res); res.Verdict != core.Valid || kd.Algorithm != checkers.AlgorithmPorcupine {
		t.Errorf("verdict %s by %s, want valid by porcupine", res.Verdict, kd.Algorithm)
	}
}

// TestUniqueValuesDecideTheHardHistory: the 40 overlapping writes that
// porcupine cannot get through (the deadline tests' history) are decided at
// once, with the read of a value nobody wrote named.
func TestUniqueValuesDecideTheHardHistory(t *testing.T) {
	h := hardHistory(nil, "k0", 40)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := checkers.Linearizable(ctx, h, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kd := keyDetails(t, res)
	if res.Verdict != core.Invalid || kd.Algorithm != checkers.AlgorithmUniqueValues || len(res.Anomalies) != 1 {
		t.Fatalf("verdict %s by %s with %d anomalies, want invalid by unique-values with 1", res.Verdict, kd.Algorithm, len(res.Anomalies))
	}
	want := "key k0: read returned -1 (process 40, 0.000s–0.000s), but no operation sets -1"
	if a := res.Anomalies[0]; a.Description != want || !slices.Equal(a.Events, []int{80, 81}) {
		t.Errorf("anomaly %q with events %v, want %q with events [80 81]", a.Description, a.Events, want)
	}
}

// TestUniqueValuesVisualization: an invalid key decided by the unique-values
// algorithm still gets its visualization.
func TestUniqueValuesVisualization(t *testing.T) {
	dir := t.TempDir()
	h := bigHistory(bigSpec{seed: 5, procs: 20, ops: 2000, info: 0.3, stale: true})
	res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if kd := keyDetails(t, res); res.Verdict != core.Invalid || kd.Algorithm != checkers.AlgorithmUniqueValues ||
		kd.Visualization != "linearizability-k0.html" {
		t.Fatalf("verdict %s by %s, visualization %q", res.Verdict, kd.Algorithm, kd.Visualization)
	}
	page, err := os.ReadFile(filepath.Join(dir, "linearizability-k0.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "read returned") || !strings.Contains(string(page), "process ") {
		t.Error("visualization lacks the operations")
	}
}

// bigSpec describes one generated big history.
type bigSpec struct {
	seed  uint64
	procs int
	ops   int
	// info is the share of operations that end indeterminate.
	info float64
	// stale injects one stale read, which makes the history invalid.
	stale bool
}

func (s bigSpec) name() string {
	kind := "valid"
	if s.stale {
		kind = "stale"
	}
	return fmt.Sprintf("%s-p%d-n%d-i%02.0f-s%d", kind, s.procs, s.ops, s.info*100, s.seed)
}

// bigSpecs are the benchmark's histories: single key, 20–50 processes,
// 2,000–5,000 operations, 30–40 % of them indeterminate, each valid and
// with one stale read. Porcupine (after the reduction) decides the ones
// with 20 and 35 processes in about a second or less, and none of those
// with 50 within 40 s.
var bigSpecs = []bigSpec{
	{seed: 1, procs: 20, ops: 2000, info: 0.30},
	{seed: 2, procs: 35, ops: 3500, info: 0.35},
	{seed: 3, procs: 50, ops: 2000, info: 0.30},
	{seed: 4, procs: 50, ops: 3500, info: 0.35},
	{seed: 5, procs: 50, ops: 5000, info: 0.40},
	{seed: 1, procs: 20, ops: 2000, info: 0.30, stale: true},
	{seed: 2, procs: 35, ops: 3500, info: 0.35, stale: true},
	{seed: 3, procs: 50, ops: 2000, info: 0.30, stale: true},
	{seed: 4, procs: 50, ops: 3500, info: 0.35, stale: true},
	{seed: 5, procs: 50, ops: 5000, info: 0.40, stale: true},
}

// bigHistory simulates spec: its processes run the register workload's
// generator on one key against an atomic register, each operation taking
// effect at one instant between its invocation and its completion, with
// random delays (one operation in twenty is twenty times slower). A share
// spec.info of the operations end as info after a 50 ms timeout; half of
// those take effect, at any time up to 60 ms after their invocation. The
// process is then retired for a fresh one, and a tenth of the info
// operations never complete. With
// spec.stale one read in the middle is changed to return a value that an
// acknowledged write or cas had replaced before the read began, which no
// linearization allows.
func bigHistory(spec bigSpec) core.History {
	rng := rand.New(rand.NewPCG(spec.seed, 0x5eed))
	gen := register.NewGenerator(1, rand.New(rand.NewPCG(spec.seed, 0x9e37)))
	type simOp struct {
		op                       core.Op
		process                  int
		invoke, effect, complete int64
		info, open, applied      bool
		result                   core.Op
	}
	const ms = 1_000_000
	delay := func() int64 {
		d := 1 + rng.Int64N(2*ms)
		if rng.IntN(20) == 0 {
			d *= 20
		}
		return d
	}
	free := make([]int64, spec.procs)
	process := make([]int, spec.procs)
	for w := range spec.procs {
		process[w], free[w] = w, rng.Int64N(ms)
	}
	next := spec.procs
	ops := make([]*simOp, 0, spec.ops)
	for range spec.ops {
		w := 0
		for i := range free {
			if free[i] < free[w] {
				w = i
			}
		}
		op, _ := gen.Next()
		s := &simOp{op: op, process: process[w], invoke: free[w]}
		s.effect = s.invoke + delay()
		s.complete = s.effect + delay()
		s.applied = true
		if rng.Float64() < spec.info {
			s.info, s.applied = true, rng.IntN(2) == 0
			// It times out, and takes effect (if at all) any time before
			// the timeout or shortly after.
			s.effect = s.invoke + 1 + rng.Int64N(60*ms)
			s.complete = s.invoke + 50*ms
			s.open = rng.IntN(10) == 0
			process[w] = next
			next++
		}
		free[w] = s.complete + 1 + rng.Int64N(ms/2)
		ops = append(ops, s)
	}

	byEffect := slices.Clone(ops)
	sort.SliceStable(byEffect, func(a, b int) bool { return byEffect[a].effect < byEffect[b].effect })
	var reg any
	for _, s := range byEffect {
		res := s.op
		res.Type = core.OK
		if s.applied {
			switch s.op.F {
			case register.Read:
				res.Value = reg
			case register.Write:
				reg = s.op.Value
			case register.CAS:
				p := s.op.Value.([2]int64)
				if reg == any(p[0]) {
					reg = p[1]
				} else {
					res.Type = core.Fail
				}
			}
		}
		if s.info {
			res.Type = core.Info
			if s.op.F == register.Read {
				res.Value = nil
			}
		}
		s.result = res
	}

	if spec.stale {
		// r: the first ok read of the second half; w: the acknowledged
		// write or cas that completed last before r began; v: one that
		// completed before w began. v's value was replaced before r began.
		var r, w, v *simOp
		for _, s := range ops[len(ops)/2:] {
			if s.op.F == register.Read && s.result.Type == core.OK {
				r = s
				break
			}
		}
		acked := func(s *simOp) bool { return s.op.F != register.Read && s.result.Type == core.OK }
		for _, s := range ops {
			if acked(s) && s.complete < r.invoke && (w == nil || s.complete > w.complete) {
				w = s
			}
		}
		for _, s := range ops {
			if acked(s) && s.complete < w.invoke && (v == nil || s.complete > v.complete) {
				v = s
			}
		}
		r.result.Value = v.op.Value
		if v.op.F == register.CAS {
			r.result.Value = v.op.Value.([2]int64)[1]
		}
	}

	type stamped struct {
		time int64
		seq  int
		e    core.Event
	}
	events := make([]stamped, 0, 2*len(ops))
	for i, s := range ops {
		events = append(events, stamped{s.invoke, 2 * i, core.Event{Time: s.invoke, Process: s.process, Op: s.op}})
		if !s.open {
			events = append(events, stamped{s.complete, 2*i + 1, core.Event{Time: s.complete, Process: s.process, Op: s.result}})
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

// BenchmarkUniqueValues checks each big history with Linearizable and the
// register model, as a run's check does: the reduction, the unique-values
// algorithm and, for the invalid ones, the explanation.
func BenchmarkUniqueValues(b *testing.B) {
	for _, spec := range bigSpecs {
		h := bigHistory(spec)
		want := core.Valid
		if spec.stale {
			want = core.Invalid
		}
		b.Run(spec.name(), func(b *testing.B) {
			for b.Loop() {
				res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if kd := keyDetails(b, res); res.Verdict != want || kd.Algorithm != checkers.AlgorithmUniqueValues {
					b.Fatalf("verdict %s by %s, want %s by unique-values: %s", res.Verdict, kd.Algorithm, want, res.Summary)
				}
			}
		})
	}
}

// TestBigHistoriesDecidedFast checks the benchmark's histories once each:
// every one decided right, by the unique-values algorithm, within a second
// (they take a few tens of milliseconds; porcupine cannot decide several
// of them in 40 s).
func TestBigHistoriesDecidedFast(t *testing.T) {
	for _, spec := range bigSpecs {
		h := bigHistory(spec)
		start := time.Now()
		res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		want := core.Valid
		if spec.stale {
			want = core.Invalid
		}
		kd := keyDetails(t, res)
		if res.Verdict != want || kd.Algorithm != checkers.AlgorithmUniqueValues {
			t.Fatalf("%s: verdict %s by %s, want %s by unique-values: %s", spec.name(), res.Verdict, kd.Algorithm, want, res.Summary)
		}
		if elapsed > time.Second {
			t.Errorf("%s took %v", spec.name(), elapsed)
		}
		// Every skipped operation is an indeterminate read.
		all, info := kd.Operations+kd.Skipped+kd.Failed, kd.Indeterminate+kd.Skipped
		if all != spec.ops || math.Abs(float64(info)/float64(all)-spec.info) > 0.03 {
			t.Errorf("%s: %d of %d operations indeterminate, want %d operations, about %.0f%% indeterminate",
				spec.name(), info, all, spec.ops, spec.info*100)
		}
		t.Logf("%s: %s in %v: %s", spec.name(), res.Verdict, elapsed.Round(time.Microsecond), res.Summary)
	}
}

// TestPorcupineOnBigHistories measures porcupine on the benchmark's
// histories, the way the checker ran before the unique-values algorithm
// (after the reduction), capped at -porcupine-cap per history. It runs only
// when that flag is given:
//
//	go test ./checkers -run TestPorcupineOnBigHistories -porcupine-cap 40s -v
func TestPorcupineOnBigHistories(t *testing.T) {
	if *porcupineCap <= 0 {
		t.Skip("give -porcupine-cap (for example 40s) to measure porcupine")
	}
	m := searchReduced{register.Model{}, register.Model{}}
	for _, spec := range bigSpecs {
		h := bigHistory(spec)
		start := time.Now()
		u, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
		uniqueTime := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *porcupineCap)
		start = time.Now()
		p, err := checkers.Linearizable(ctx, h, m, checkers.LinearizabilityOptions{})
		porcupineTime := time.Since(start)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if kd := keyDetails(t, p); kd.Algorithm != checkers.AlgorithmPorcupine {
			t.Fatalf("decided by %s, want porcupine", kd.Algorithm)
		}
		if p.Verdict != core.Unknown && p.Verdict != u.Verdict {
			t.Errorf("%s: porcupine says %s, unique-values %s", spec.name(), p.Verdict, u.Verdict)
		}
		start = time.Now()
		raw := porcupineAlone(t, h, register.Model{}, *porcupineCap)
		rawTime := time.Since(start)
		t.Logf("%s: unique-values %s in %v; porcupine after the reduction %s in %v; porcupine on the raw operations %s in %v",
			spec.name(), u.Verdict, uniqueTime.Round(time.Microsecond), p.Verdict, porcupineTime.Round(time.Millisecond),
			raw, rawTime.Round(time.Millisecond))
	}
}

// TestWriteBigHistories writes the benchmark's histories as history.jsonl
// files, for `faultline check FILE --workload register`, when
// -big-histories names a folder.
func TestWriteBigHistories(t *testing.T) {
	if *bigHistoriesDir == "" {
		t.Skip("give -big-histories DIR to write the histories")
	}
	if err := os.MkdirAll(*bigHistoriesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, spec := range bigSpecs {
		w, err := history.NewWriter(filepath.Join(*bigHistoriesDir, spec.name()+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range bigHistory(spec) {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
