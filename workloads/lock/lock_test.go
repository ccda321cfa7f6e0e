package lock_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/lock"
)

func firstOps(w lock.Workload, seed uint64, keys, n int) []core.Op {
	g := w.NewGenerator(keys, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	ops := make([]core.Op, n)
	for i := range ops {
		op, ok := g.Next()
		if !ok {
			panic("generator ended")
		}
		ops[i] = op
	}
	return ops
}

func TestWorkloadIdentity(t *testing.T) {
	var w workloads.Workload = lock.Workload{}
	if w.Name() != "lock" || w.Description() == "" {
		t.Errorf("name %q, description %q", w.Name(), w.Description())
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	a, b := firstOps(lock.Workload{}, 42, 10, 1000), firstOps(lock.Workload{}, 42, 10, 1000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	if c := firstOps(lock.Workload{}, 43, 10, 1000); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same sequence")
	}
}

func TestGeneratorCycles(t *testing.T) {
	for _, tc := range []struct {
		hold time.Duration
		want int64
	}{{0, int64(lock.DefaultHold)}, {-time.Second, int64(lock.DefaultHold)}, {250 * time.Millisecond, int64(250 * time.Millisecond)}} {
		const keys, n = 7, 7000
		counts := map[string]int{}
		for i, op := range firstOps(lock.Workload{Hold: tc.hold}, 7, keys, n) {
			if op.Type != core.Invoke || op.F != lock.Cycle {
				t.Fatalf("op %d is %s %s, want a cycle invocation", i, op.Type, op.F)
			}
			if req, ok := op.Value.(lock.CycleRequest); !ok || req.HoldNS != tc.want {
				t.Fatalf("op %d with Hold %v carries %#v, want CycleRequest{HoldNS: %d}", i, tc.hold, op.Value, tc.want)
			}
			counts[op.Key]++
		}
		for i := range keys {
			// Uniform: about n/keys = 1000 each.
			if c := counts[fmt.Sprintf("l%d", i)]; c < 800 || c > 1200 {
				t.Errorf("lock l%d drawn %d times in %d, want about %d", i, c, n, n/keys)
			}
		}
		if len(counts) != keys {
			t.Errorf("cycles on %d locks, want %d: %v", len(counts), keys, counts)
		}
	}
}

func TestFinalReads(t *testing.T) {
	for _, keys := range []int{0, 1, 5} {
		reads := lock.Workload{}.NewGenerator(keys, rand.New(rand.NewPCG(1, 2))).FinalReads()
		want := max(keys, 1)
		if len(reads) != want {
			t.Fatalf("%d final reads for %d keys, want %d", len(reads), keys, want)
		}
		for i, op := range reads {
			if op.Type != core.Invoke || op.F != lock.Resource || op.Key != fmt.Sprintf("l%d", i) ||
				op.Value != (lock.ResourceRead{From: 0, Count: lock.PageSize}) {
				t.Errorf("final read %d is %+v, want the first page of l%d", i, op, i)
			}
		}
	}
	// Enough pages for two accesses of every cycle handed out, and one more.
	g := lock.Workload{}.NewGenerator(2, rand.New(rand.NewPCG(1, 2)))
	issued := map[string]int64{}
	for range 3000 {
		op, _ := g.Next()
		issued[op.Key]++
	}
	pages := map[string][]int64{}
	for _, op := range g.FinalReads() {
		pages[op.Key] = append(pages[op.Key], op.Value.(lock.ResourceRead).From)
	}
	for k, n := range issued {
		want := 2*n/lock.PageSize + 1
		if int64(len(pages[k])) != want || pages[k][len(pages[k])-1] != (want-1)*lock.PageSize {
			t.Errorf("%s: %d cycles, pages from %v; want %d pages of %d", k, n, pages[k], want, lock.PageSize)
		}
	}
}

func TestDecodeValue(t *testing.T) {
	w := lock.Workload{}
	full := held("p3", 9, 4, 1, 15)
	full.StalledNS = 7
	st := record(true, 1, rd("p3", 9, 0), rejected(wr("p4", 8, 1)), wr("p3", 9, 1))
	good := []struct {
		f    string
		t    core.Type
		raw  string
		want any
	}{
		{lock.Cycle, core.Invoke, `{"hold_ns":10000000}`, lock.CycleRequest{HoldNS: 1e7}},
		{lock.Cycle, core.Invoke, `{}`, lock.CycleRequest{}},
		{lock.Cycle, core.OK, mustJSON(full), full},
		{lock.Cycle, core.Fail, `{"holder":"p1","acquire":"fail"}`, refused("p1")},
		{lock.Cycle, core.Info, `null`, nil},
		{lock.Cycle, core.Info, `{"holder":"p1","acquire":"info"}`, lock.CycleValue{Holder: "p1", Acquire: lock.Unknown}},
		{lock.Resource, core.Invoke, `null`, nil},
		{lock.Resource, core.OK, mustJSON(st), st},
		{lock.Resource, core.OK, `{"value":0,"fencing":false,"accesses":[]}`, lock.ResourceState{Accesses: []lock.Access{}}},
		{lock.Resource, core.Fail, `null`, nil},
		{lock.Resource, core.Info, `null`, nil},
	}
	for _, c := range good {
		got, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if err != nil {
			t.Errorf("DecodeValue(%s, %s, %s): %v", c.f, c.t, c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeValue(%s, %s, %s) = %#v, want %#v", c.f, c.t, c.raw, got, c.want)
		}
	}
	bad := []struct {
		f   string
		t   core.Type
		raw string
	}{
		{lock.Cycle, core.Invoke, `null`},
		{lock.Cycle, core.Invoke, `10`},
		{lock.Cycle, core.Invoke, `{"hold":10}`},
		{lock.Cycle, core.Invoke, `{"hold_ns":-1}`},
		{lock.Cycle, core.OK, `null`},
		{lock.Cycle, core.Fail, `null`},
		{lock.Cycle, core.OK, `[1]`},
		{lock.Cycle, core.OK, `{"holder":"p1","acquire":"done"}`},
		{lock.Cycle, core.OK, `{"holder":"p1","acquire":"fail"}`},
		{lock.Cycle, core.OK, `{"holder":"p1","acquire":"ok","write":"ok"}`},
		{lock.Cycle, core.OK, `{"holder":"p1","acquire":"ok","read":"info"}`},
		{lock.Cycle, core.Fail, `{"holder":"p1","acquire":"ok"}`},
		{lock.Cycle, core.Info, `{"holder":"p1","acquire":"fail","read":"ok"}`},
		{lock.Cycle, core.Info, `{"acquire":"ok"}`},
		{lock.Cycle, core.Info, `{"holder":"p1","acquire":"ok","acquired_ns":-5}`},
		{lock.Cycle, core.Info, `{"holder":"p1","acquire":"ok","acquired_ns":5,"release":"ok","release_start_ns":4}`},
		{lock.Cycle, core.Info, `{"holder":"p1","acquire":"ok","colour":"red"}`},
		{lock.Resource, core.Invoke, `{}`},
		{lock.Resource, core.OK, `null`},
		{lock.Resource, core.OK, `7`},
		{lock.Resource, core.OK, `{"value":1,"accesses":[{"seq":1,"op":"cas","holder":"p1","value":1,"accepted":true}]}`},
		{lock.Resource, core.OK, `{"value":1,"accesses":[{"seq":2,"op":"read","holder":"p1","value":0,"accepted":true},{"seq":2,"op":"write","holder":"p1","value":1,"accepted":true}]}`},
		{lock.Resource, core.OK, `{"value":1,"extra":true}`},
		{"acquire", core.Invoke, `null`},
	}
	for _, c := range bad {
		_, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("DecodeValue(%s, %s, %s) error %v, want one wrapping ErrBadInput", c.f, c.t, c.raw, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "lock: ") || !strings.Contains(err.Error(), c.f) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line naming lock and %s", err, c.f)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestHistoryFileRoundTrip writes a lock history with the history writer
// (typed values encoded by encoding/json), reads it back with
// DecodeValue, and checks that the values and the checkers' results are
// the same.
func TestHistoryFileRoundTrip(t *testing.T) {
	b := newBuilder(t)
	v := held("p0", 33, 0, 1, 50)
	v.StalledNS, v.Release = ms(40), lock.Refused
	b.ev(0, core.NemesisProcess, core.Info, "start-client-pause", "", map[string]any{"nodes": []string{"p0"}})
	b.inv(0, 0, "l0")
	b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25))
	b.cycle(41, 42, 1, core.Fail, "l0", refused("p1"))
	b.inv(43, 2, "l0")
	b.done(55, 0, core.OK, "l0", v)
	b.done(56, 2, core.Info, "l0", nil)
	b.final(60, 3, "l0", record(false, 1, rd("p0", 33, 0), rd("p1", 34, 0), wr("p1", 34, 1), wr("p0", 33, 1)))

	var buf bytes.Buffer
	wr := history.NewWriterTo(&buf)
	for _, e := range b.h {
		if err := wr.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := history.Read(&buf, lock.Workload{}.DecodeValue)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(b.h) {
		t.Fatalf("read back %d events, wrote %d", len(back), len(b.h))
	}
	for i := range back {
		if back[i].Process == core.NemesisProcess {
			continue
		}
		if !reflect.DeepEqual(back[i], b.h[i]) {
			t.Errorf("event %d read back as\n %#v, wrote\n %#v", i, back[i], b.h[i])
		}
	}
	m1, r1 := checkAll(t, b.h)
	m2, r2 := checkAll(t, back)
	if !reflect.DeepEqual(m1, m2) || !reflect.DeepEqual(r1, r2) {
		t.Errorf("results differ after the round trip:\n %+v\n %+v\n %+v\n %+v", m1, m2, r1, r2)
	}
	if m1.Verdict != core.Valid || len(m1.Anomalies) != 1 || r1.Verdict != core.Invalid {
		t.Errorf("mutual exclusion %s with %d anomalies, resource %s; want valid with 1, invalid", m1.Verdict, len(m1.Anomalies), r1.Verdict)
	}
}
