package checkers_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/register"
)

// simOp is one simulated operation: when it was invoked, when it took
// effect and when its completion was recorded.
type simOp struct {
	op                       core.Op
	process                  int
	invoke, effect, complete int64
	info, applied            bool
	result                   core.Op
}

// simulate returns a linearizable register history of n client operations
// over keys keys. procs workers run the register workload's generator
// against an in-memory map of atomic registers: each operation takes
// effect at one instant inside its interval, so intervals overlap freely.
// A fraction infoRate of the operations end as info (about half of those
// took effect); the worker then retires its process for a fresh one.
func simulate(seed uint64, n, keys, procs int, infoRate float64) core.History {
	rng := rand.New(rand.NewPCG(seed, 7))
	gen := register.NewGenerator(keys, rand.New(rand.NewPCG(seed, 11)))
	free := make([]int64, procs)  // when each worker may invoke next
	process := make([]int, procs) // each worker's current process id
	for w := range procs {
		process[w] = w
		free[w] = rng.Int64N(1000)
	}
	nextProcess := procs
	ops := make([]*simOp, 0, n)
	for range n {
		w := 0
		for i := range procs {
			if free[i] < free[w] {
				w = i
			}
		}
		op, _ := gen.Next()
		s := &simOp{op: op, process: process[w], invoke: free[w]}
		s.effect = s.invoke + 1 + rng.Int64N(2_000_000)
		s.complete = s.effect + 1 + rng.Int64N(2_000_000)
		free[w] = s.complete + 1 + rng.Int64N(500_000)
		if rng.Float64() < infoRate {
			s.info = true
			s.applied = rng.IntN(2) == 0
			process[w] = nextProcess
			nextProcess++
		} else {
			s.applied = true
		}
		ops = append(ops, s)
	}

	// Apply the operations in the order they took effect.
	byEffect := make([]*simOp, len(ops))
	copy(byEffect, ops)
	sort.Slice(byEffect, func(a, b int) bool { return byEffect[a].effect < byEffect[b].effect })
	regs := make(map[string]int64)
	for _, s := range byEffect {
		res := s.op
		res.Type = core.OK
		if s.applied {
			switch s.op.F {
			case register.Read:
				res.Value = nil
				if v, ok := regs[s.op.Key]; ok {
					res.Value = v
				}
			case register.Write:
				regs[s.op.Key] = s.op.Value.(int64)
			case register.CAS:
				p := s.op.Value.([2]int64)
				if v, ok := regs[s.op.Key]; ok && v == p[0] {
					regs[s.op.Key] = p[1]
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

	type stamped struct {
		time int64
		seq  int
		e    core.Event
	}
	events := make([]stamped, 0, 2*len(ops))
	for i, s := range ops {
		events = append(events,
			stamped{s.invoke, 2 * i, core.Event{Time: s.invoke, Process: s.process, Op: s.op}},
			stamped{s.complete, 2*i + 1, core.Event{Time: s.complete, Process: s.process, Op: s.result}})
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

func TestSimulatedHistoriesAreLinearizable(t *testing.T) {
	for seed := range uint64(8) {
		h := simulate(seed, 3000, 4, 6, 0.03)
		res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != core.Valid {
			t.Fatalf("seed %d: verdict %s (%s)", seed, res.Verdict, res.Summary)
		}
		d := res.Details.(*checkers.LinearizabilityDetails)
		if d.Keys != 4 || d.Indeterminate == 0 || d.Failed == 0 || d.Operations+d.Failed+d.Skipped != 3000 {
			t.Errorf("seed %d: details %+v do not account for 3000 operations with some info and fail", seed, *d)
		}
	}
}

// TestCorruptedSimulatedHistory changes one read of a linearizable history
// to a value never written and expects exactly that read to be reported.
func TestCorruptedSimulatedHistory(t *testing.T) {
	for seed := range uint64(8) {
		h := simulate(seed, 3000, 4, 6, 0.03)
		// Pick an ok read in the middle of the run.
		target := -1
		for i := len(h) / 2; i < len(h); i++ {
			if h[i].Type == core.OK && h[i].F == register.Read {
				target = i
				break
			}
		}
		if target < 0 {
			t.Fatalf("seed %d: no ok read to corrupt", seed)
		}
		h[target].Value = int64(-7)
		res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != core.Invalid || len(res.Anomalies) != 1 {
			t.Fatalf("seed %d: verdict %s with %d anomalies, want invalid with 1", seed, res.Verdict, len(res.Anomalies))
		}
		a := res.Anomalies[0]
		if a.Key != h[target].Key || !contains(a.Events, target) || !strings.Contains(a.Description, "read returned -7") {
			t.Errorf("seed %d: anomaly on %s with events %v, want %s with event %d: %s",
				seed, a.Key, a.Events, h[target].Key, target, a.Description)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// BenchmarkLinearizable100k checks a 100,000-operation history over 100
// keys written by 10 concurrent workers, 1% of its operations
// indeterminate.
func BenchmarkLinearizable100k(b *testing.B) {
	h := simulate(1, 100_000, 100, 10, 0.01)
	b.ReportAllocs()
	for b.Loop() {
		res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Verdict != core.Valid {
			b.Fatalf("verdict %s (%s)", res.Verdict, res.Summary)
		}
	}
}
