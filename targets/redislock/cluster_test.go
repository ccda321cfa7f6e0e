package redislock

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
)

// cycleRun is one completed cycle as a test worker saw it.
type cycleRun struct {
	start time.Time
	op    core.Op
	v     lock.CycleValue
}

func (r cycleRun) at(ns int64) time.Time { return r.start.Add(time.Duration(ns)) }

// startLocal starts target's cluster of variant with the local provider
// and closes it when the test ends.
func startLocal(t *testing.T, variant string, nodes int) *local.Cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := local.Start(t.Context(), local.Config{
		Target: Target{}, Variant: variant, Nodes: nodes, Dir: dir,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		ReadyTimeout: 30 * time.Second, StopGrace: 3 * time.Second,
	})
	if err != nil {
		t.Fatalf("start %s cluster: %v", variant, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// TestLocksHoldWithoutFaults starts each variant's cluster (real
// redis-server nodes, three for redlock, and the resource node) with the
// local provider, runs 300 cycles from 4 concurrent clients on two locks
// with no faults, and checks every cycle against the resource's record:
// no two holders of a lock overlap in time, every cycle that acquired
// read, wrote and released, the resource saw each holder's read and write
// back to back with nothing between them, its value is the number of
// accepted writes, and the fencing tokens grow. The record survives a
// kill and restart of the resource node.
func TestLocksHoldWithoutFaults(t *testing.T) {
	testenv.NeedBinary(t, "redis-server", "redis-server")
	const workers, perWorker = 4, 75
	keys := []string{"l0", "l1"}
	// A lease far longer than a cycle: a loaded machine must not expire it.
	tg := Target{TTL: 5 * time.Second}
	for _, tc := range []struct {
		variant string
		nodes   int
	}{{VariantNaive, 1}, {VariantFencing, 1}, {VariantRedlock, 3}, {VariantFailover, 1}} {
		t.Run(tc.variant, func(t *testing.T) {
			c := startLocal(t, tc.variant, tc.nodes)
			eps := c.Endpoints()
			client := func(p int) core.Client {
				cl, err := tg.NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: tc.variant, Nodes: eps, Process: p})
				if err != nil {
					t.Fatal(err)
				}
				return cl
			}

			var mu sync.Mutex
			var runs []cycleRun
			var wg sync.WaitGroup
			for w := range workers {
				cl := client(w)
				wg.Go(func() {
					defer cl.Close()
					for j := range perWorker {
						ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
						start := time.Now()
						op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: keys[(w+j)%len(keys)],
							Value: lock.CycleRequest{HoldNS: int64(time.Millisecond)}})
						cancel()
						v, _ := op.Value.(lock.CycleValue)
						mu.Lock()
						runs = append(runs, cycleRun{start: start, op: op, v: v})
						mu.Unlock()
					}
				})
			}
			wg.Wait()

			final := client(workers)
			defer final.Close()
			states := map[string]lock.ResourceState{}
			for _, k := range keys {
				op := final.Invoke(t.Context(), core.Op{Type: core.Invoke, F: lock.Resource, Key: k})
				st, ok := op.Value.(lock.ResourceState)
				if op.Type != core.OK || !ok {
					t.Fatalf("final read of %s: %s %q", k, op.Type, op.Error)
				}
				states[k] = st
			}
			checkRuns(t, tc.variant, runs, states)

			// The record survives a kill and restart of the resource.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := c.Kill(ctx, RoleResource); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(ctx, RoleResource); err != nil {
				t.Fatalf("restart resource: %v", err)
			}
			for _, k := range keys {
				op := final.Invoke(t.Context(), core.Op{Type: core.Invoke, F: lock.Resource, Key: k})
				if op.Type != core.OK || !reflect.DeepEqual(op.Value, states[k]) {
					t.Errorf("%s after the resource restarted: %s %q, %d accesses; want the same %d", k, op.Type, op.Error, len(stateOf(op).Accesses), len(states[k].Accesses))
				}
			}
		})
	}
}

func stateOf(op core.Op) lock.ResourceState {
	st, _ := op.Value.(lock.ResourceState)
	return st
}

// checkRuns checks the cycles of a run without faults against the
// resource's final state of each key.
func checkRuns(t *testing.T, variant string, runs []cycleRun, states map[string]lock.ResourceState) {
	t.Helper()
	byKey := map[string][]cycleRun{}
	count := map[core.Type]int{}
	for _, r := range runs {
		count[r.op.Type]++
		switch r.op.Type {
		case core.OK:
			v := r.v
			if v.Acquire != lock.Done || v.Read != lock.Done || v.Write != lock.Done || v.Release != lock.Done || r.op.Error != "" {
				t.Errorf("ok cycle with a step not done: %+v %q", v, r.op.Error)
			}
			if (variant == VariantFencing) != (v.Token > 0) {
				t.Errorf("%s cycle with token %d", variant, v.Token)
			}
			byKey[r.op.Key] = append(byKey[r.op.Key], r)
		case core.Fail:
			if r.v.Acquire != lock.Refused || r.v.Read != lock.Skipped {
				t.Errorf("failed cycle %+v", r.v)
			}
			if !strings.Contains(r.op.Error, "held by another") && !strings.Contains(r.op.Error, "redlock:") {
				t.Errorf("failed cycle for another reason than a held lock: %q", r.op.Error)
			}
		default:
			t.Errorf("cycle %s without faults: %+v %q", r.op.Type, r.v, r.op.Error)
		}
	}
	t.Logf("%s: %d ok, %d fail, %d info", variant, count[core.OK], count[core.Fail], count[core.Info])

	for k, st := range states {
		rs := byKey[k]
		if len(rs) == 0 {
			t.Errorf("%s: no cycle acquired lock %s", variant, k)
			continue
		}
		// Mutual exclusion, in real time.
		sort.Slice(rs, func(i, j int) bool { return rs[i].at(rs[i].v.AcquiredNS).Before(rs[j].at(rs[j].v.AcquiredNS)) })
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			if cur.at(cur.v.AcquiredNS).Before(prev.at(prev.v.ReleaseStartNS)) {
				t.Errorf("%s: %s held by %s and %s at once", k, variant, prev.v.Holder, cur.v.Holder)
			}
			if variant == VariantFencing && cur.v.Token <= prev.v.Token {
				t.Errorf("%s: token %d after %d", k, cur.v.Token, prev.v.Token)
			}
		}
		// The resource saw each holder's read and write back to back.
		if st.Fencing != (variant == VariantFencing) {
			t.Errorf("%s: resource fencing %v in %s", k, st.Fencing, variant)
		}
		if len(st.Accesses) != 2*len(rs) {
			t.Errorf("%s: %d accesses for %d cycles", k, len(st.Accesses), len(rs))
		}
		var want int64
		var reads []string
		for i := 0; i+1 < len(st.Accesses); i += 2 {
			rd, wr := st.Accesses[i], st.Accesses[i+1]
			if rd.Op != OpRead || wr.Op != OpWrite || rd.Holder != wr.Holder || rd.Token != wr.Token ||
				!rd.Accepted || !wr.Accepted || rd.Value != want || wr.Value != want+1 || wr.Seq <= rd.Seq {
				t.Fatalf("%s: accesses %+v then %+v after value %d: not one holder's read and write", k, rd, wr, want)
			}
			want++
			reads = append(reads, fmt.Sprintf("%s@%d", rd.Holder, rd.Value))
		}
		if st.Value != want || st.Value != int64(len(rs)) {
			t.Errorf("%s: value %d, %d accepted writes, %d cycles", k, st.Value, want, len(rs))
		}
		var cycles []string
		for _, r := range rs {
			cycles = append(cycles, fmt.Sprintf("%s@%d", r.v.Holder, r.v.ReadValue))
		}
		slices.Sort(reads)
		slices.Sort(cycles)
		if !slices.Equal(reads, cycles) {
			t.Errorf("%s: the cycles' reads %v are not the resource's %v", k, cycles, reads)
		}
	}
}

// TestStalledHolder replays Kleppmann's scenario on real servers: holder A
// takes the lock, reads, and stalls (the client-pause hook) past its lease;
// B takes the lock meanwhile, reads and writes; A wakes while B holds the
// lock and writes back what it read. Without fencing (naive, redlock) the
// resource accepts A's write and B's update is lost; with fencing it
// refuses A's stale token and records the refusal. In every variant A's release finds the lock no longer its own,
// and B's release succeeds.
func TestStalledHolder(t *testing.T) {
	testenv.NeedBinary(t, "redis-server", "redis-server")
	const ttl, holdB = time.Second, 400 * time.Millisecond
	tg := Target{TTL: ttl}
	for _, tc := range []struct {
		variant string
		nodes   int
	}{{VariantNaive, 1}, {VariantFencing, 1}, {VariantRedlock, 3}, {VariantFailover, 1}} {
		t.Run(tc.variant, func(t *testing.T) {
			c := startLocal(t, tc.variant, tc.nodes)
			acquired, wake := make(chan struct{}), make(chan struct{})
			newClient := func(p int, stall func(context.Context) time.Duration) core.Client {
				cl, err := tg.NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: tc.variant, Nodes: c.Endpoints(), Process: p, Stall: stall})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cl.Close() })
				return cl
			}
			// A stalls between its read and its write until B has
			// written.
			a := newClient(1, func(ctx context.Context) time.Duration {
				start := time.Now()
				close(acquired)
				select {
				case <-ctx.Done():
				case <-wake:
				}
				return time.Since(start)
			})
			b, reader := newClient(2, nil), newClient(3, nil)
			cycle := func(cl core.Client, hold time.Duration) core.Op {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{HoldNS: int64(hold)}})
			}
			state := func() lock.ResourceState {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				return stateOf(reader.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Resource, Key: "l0"}))
			}

			var opA, opB core.Op
			var errB error
			var wg sync.WaitGroup
			wg.Go(func() { opA = cycle(a, 0) })
			select {
			case <-acquired:
			case <-time.After(10 * time.Second):
				wg.Wait()
				t.Fatalf("A never acquired: %+v", opA)
			}
			wg.Go(func() {
				errB = testenv.Poll(3*time.Second, func() error {
					if opB = cycle(b, holdB); opB.Type != core.OK {
						return fmt.Errorf("%s: %s", opB.Type, opB.Error)
					}
					return nil
				})
			})
			errW := testenv.Poll(4*time.Second, func() error {
				for _, x := range state().Accesses {
					if x.Holder == "p2" && x.Op == OpWrite {
						return nil
					}
				}
				return testenv.ErrNotYet
			})
			close(wake)
			wg.Wait()
			if errB != nil || errW != nil {
				t.Fatalf("B never took the lock and wrote after A's lease: %v, %v", errB, errW)
			}
			va, vb := opA.Value.(lock.CycleValue), opB.Value.(lock.CycleValue)
			t.Logf("A: %s %+v %q", opA.Type, va, opA.Error)
			t.Logf("B: %s %+v", opB.Type, vb)
			if va.StalledNS < int64(ttl) || vb.Write != lock.Done || vb.Release != lock.Done {
				t.Fatalf("A stalled %v, B wrote %q released %q (%s)", time.Duration(va.StalledNS), vb.Write, vb.Release, opB.Error)
			}
			if va.Release != lock.Refused {
				t.Errorf("A's release %q; want refused: B holds the lock", va.Release)
			}
			st := state()
			var accA []lock.Access
			for _, x := range st.Accesses {
				if x.Holder == va.Holder {
					accA = append(accA, x)
				}
			}
			if tc.variant == VariantFencing {
				// A read before B took the lock; its write after B's
				// carries the older token and is refused.
				if opA.Type != core.OK || va.Read != lock.Done || va.Write != lock.Refused || st.Value != 1 ||
					len(accA) != 2 || !accA[0].Accepted || accA[1].Accepted || accA[1].Token >= vb.Token {
					t.Errorf("fencing: A %s read %q write %q; A's accesses %+v; value %d; want A's stale write refused and recorded",
						opA.Type, va.Read, va.Write, accA, st.Value)
				}
				return
			}
			// Without fencing A writes back what it read before B wrote:
			// B's update is lost (the value is 1 after two accepted writes).
			if opA.Type != core.OK || va.Read != lock.Done || va.Write != lock.Done || va.ReadValue != 0 || st.Value != 1 ||
				len(accA) != 2 || !accA[0].Accepted || !accA[1].Accepted {
				t.Errorf("%s: A %s read %q (%d) write %q; A's accesses %+v; value %d; want A's read and write accepted around B's, B's update lost",
					tc.variant, opA.Type, va.Read, va.ReadValue, va.Write, accA, st.Value)
			}
		})
	}
}

// TestRedisKilled: while the redis node is killed, cycles fail without an
// unknown outcome once the client's old connection is gone (nothing can
// be sent: a definite failure of the acquire), never succeed, and the
// resource is not touched; after the restart cycles succeed again.
func TestRedisKilled(t *testing.T) {
	testenv.NeedBinary(t, "redis-server", "redis-server")
	c := startLocal(t, VariantNaive, 1)
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantNaive, Nodes: c.Endpoints(), Process: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cycle := func() core.Op {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{}})
	}
	if op := cycle(); op.Type != core.OK {
		t.Fatalf("first cycle: %s %q", op.Type, op.Error)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.Kill(ctx, RoleRedis); err != nil {
		t.Fatal(err)
	}
	var last core.Op
	err = testenv.Poll(5*time.Second, func() error {
		last = cycle()
		switch {
		case last.Type == core.OK:
			t.Fatalf("a cycle succeeded with redis killed: %+v", last)
		case last.Type == core.Fail && strings.Contains(last.Error, "not sent"):
			return nil
		}
		return fmt.Errorf("%s %q", last.Type, last.Error)
	})
	if err != nil {
		t.Fatalf("no definite failure with redis killed: %v", err)
	}
	t.Logf("with redis killed: %s", last.Error)
	if err := c.Restart(ctx, RoleRedis); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "a cycle after the restart", func() error {
		if op := cycle(); op.Type != core.OK {
			return fmt.Errorf("%s %q", op.Type, op.Error)
		}
		return nil
	})
	op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Resource, Key: "l0"})
	if st := stateOf(op); st.Value != 2 {
		t.Errorf("resource value %d after two successful cycles: %+v", st.Value, st)
	}
}
