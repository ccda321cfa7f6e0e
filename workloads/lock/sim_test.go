package lock_test

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/lock"
)

// This file simulates runs of the lock workload against an in-memory
// lease lock and resource, driven by the workload's generator, in virtual
// time: clients that stall past their lease, replies that are lost (steps
// of unknown outcome) and a resource that checks fencing tokens or not.
// The simulation keeps its own count of what went wrong, which the
// checkers must find.

// simConfig describes one simulated run.
type simConfig struct {
	seed    uint64
	keys    int
	procs   int   // concurrent clients
	cycles  int   // cycles to invoke
	ttlNS   int64 // the lock's lease
	fencing bool
	// stallPct is the percentage of acquisitions after which the client
	// stalls longer than the lease; lostPct the percentage of requests or
	// replies lost (a step of unknown outcome).
	stallPct, lostPct int
}

// simTruth is what the simulation saw go wrong.
type simTruth struct {
	sections    int // critical sections entered
	overlaps    int // pairs of holders inside one lock at once
	lostUpdates int // accepted writes that were not the value before plus one
	rejected    int // accesses the resource rejected
}

// simStep is one scheduled action.
type simStep struct {
	at  int64
	seq int64
	fn  func(now int64)
}

type stepQueue []simStep

func (q stepQueue) Len() int { return len(q) }
func (q stepQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q stepQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *stepQueue) Push(x any)   { *q = append(*q, x.(simStep)) }
func (q *stepQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type simLock struct {
	owner  string
	expiry int64
}

type simResource struct {
	value, maxToken int64
	accesses        []lock.Access
}

// simCycle is one cycle in flight.
type simCycle struct {
	process int
	key     string
	start   int64
	hold    int64
	token   int64 // granted, whether or not the client learns it
	v       lock.CycleValue
	inside  bool
}

type sim struct {
	cfg       simConfig
	rng       *rand.Rand
	gen       workloads.Generator
	q         stepQueue
	seq       int64
	h         core.History
	locks     map[string]*simLock
	res       map[string]*simResource
	inside    map[string][]*simCycle
	nextToken int64
	nextSeq   int64
	nextProc  int
	issued    int
	truth     simTruth
}

// delay is one network hop: 0.5 to 1.5 ms, so that no two steps
// coincide.
func (s *sim) delay() int64 { return 500_000 + s.rng.Int64N(1_000_000) }

func (s *sim) roll(pct int) bool { return pct > 0 && s.rng.IntN(100) < pct }

func (s *sim) after(now, d int64, fn func(int64)) {
	s.seq++
	heap.Push(&s.q, simStep{at: now + d, seq: s.seq, fn: fn})
}

func (s *sim) record(now int64, p int, typ core.Type, f, key string, v any) {
	s.h = append(s.h, core.Event{Index: len(s.h), Time: now, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
}

// simulate runs cfg and returns the history, final reads included, and
// what went wrong.
func simulate(cfg simConfig) (core.History, simTruth) {
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed+1))
	s := &sim{
		cfg: cfg, rng: rng,
		gen:   lock.Workload{}.NewGenerator(cfg.keys, rand.New(rand.NewPCG(cfg.seed, 7))),
		locks: map[string]*simLock{}, res: map[string]*simResource{}, inside: map[string][]*simCycle{},
		nextProc: cfg.procs,
	}
	for k := range cfg.keys {
		s.locks[lock.KeyName(k)] = &simLock{}
		s.res[lock.KeyName(k)] = &simResource{}
	}
	for p := range cfg.procs {
		s.after(0, int64(p)*1000, func(now int64) { s.invoke(p, now) })
	}
	var now int64
	for s.q.Len() > 0 {
		st := heap.Pop(&s.q).(simStep)
		now = st.at
		st.fn(now)
	}
	p := s.nextProc
	for k := range cfg.keys {
		key := lock.KeyName(k)
		r := s.res[key]
		now += 1000
		s.record(now, p, core.Invoke, lock.Resource, key, nil)
		now += 1000
		s.record(now, p, core.OK, lock.Resource, key, lock.ResourceState{Value: r.value, Fencing: cfg.fencing, Accesses: r.accesses})
	}
	return s.h, s.truth
}

func (s *sim) invoke(p int, now int64) {
	if s.issued >= s.cfg.cycles {
		return
	}
	s.issued++
	op, _ := s.gen.Next()
	c := &simCycle{process: p, key: op.Key, start: now, hold: op.Value.(lock.CycleRequest).HoldNS, v: lock.CycleValue{Holder: fmt.Sprintf("p%d", p)}}
	s.record(now, p, core.Invoke, lock.Cycle, op.Key, op.Value)
	s.after(now, s.delay(), func(now int64) { s.acquire(c, now) })
}

// acquire runs at the lock server.
func (s *sim) acquire(c *simCycle, now int64) {
	l := s.locks[c.key]
	if l.owner != "" && now < l.expiry {
		s.after(now, s.delay(), func(now int64) {
			c.v.Acquire = lock.Refused
			s.complete(c, now, core.Fail)
		})
		return
	}
	l.owner, l.expiry = c.v.Holder, now+s.cfg.ttlNS
	if s.cfg.fencing {
		s.nextToken++
		c.token = s.nextToken
	}
	if s.roll(s.cfg.lostPct) { // the reply is lost: the client never knows
		s.after(now, s.delay(), func(now int64) {
			c.v.Acquire = lock.Unknown
			if s.rng.IntN(2) == 0 {
				s.completeWith(c, now, core.Info, nil)
				return
			}
			s.complete(c, now, core.Info)
		})
		return
	}
	s.after(now, s.delay(), func(now int64) {
		c.v.Acquire, c.v.AcquiredNS, c.v.Token = lock.Done, now-c.start, c.token
		s.enter(c)
		var stall int64
		if s.roll(s.cfg.stallPct) {
			stall = s.cfg.ttlNS + s.rng.Int64N(s.cfg.ttlNS)
			c.v.StalledNS = stall
		}
		s.after(now, stall+s.delay(), func(now int64) { s.read(c, now) })
	})
}

// access applies one access at the resource and reports whether it was
// accepted.
func (s *sim) access(c *simCycle, op string, value int64) (int64, bool) {
	r := s.res[c.key]
	s.nextSeq++
	a := lock.Access{Seq: s.nextSeq, Op: op, Holder: c.v.Holder, Token: c.v.Token, Value: value, Accepted: true}
	if s.cfg.fencing && c.v.Token < r.maxToken {
		a.Accepted = false
		s.truth.rejected++
	}
	r.maxToken = max(r.maxToken, c.v.Token)
	if a.Accepted {
		if op == lock.AccessRead {
			a.Value = r.value
		} else {
			if value != r.value+1 {
				s.truth.lostUpdates++
			}
			r.value = value
		}
	}
	r.accesses = append(r.accesses, a)
	return a.Value, a.Accepted
}

func (s *sim) read(c *simCycle, now int64) {
	v, ok := s.access(c, lock.AccessRead, 0)
	s.after(now, s.delay(), func(now int64) {
		if !ok {
			c.v.Read = lock.Refused
			s.release(c, now)
			return
		}
		c.v.Read, c.v.ReadValue = lock.Done, v
		c.v.Write, c.v.WriteStartNS = lock.Unknown, now-c.start
		lostRequest := s.roll(s.cfg.lostPct / 2)
		s.after(now, s.delay(), func(now int64) {
			ok := false
			if !lostRequest {
				_, ok = s.access(c, lock.AccessWrite, c.v.ReadValue+1)
			}
			lostReply := lostRequest || s.roll(s.cfg.lostPct/2)
			s.after(now, s.delay(), func(now int64) {
				switch {
				case lostReply: // the client gives up, cut short
					s.complete(c, now, core.Info)
				case ok:
					c.v.Write = lock.Done
					s.after(now, c.hold, func(now int64) { s.release(c, now) })
				default:
					c.v.Write = lock.Refused
					s.release(c, now)
				}
			})
		})
	})
}

func (s *sim) release(c *simCycle, now int64) {
	c.v.Release, c.v.ReleaseStartNS = lock.Unknown, now-c.start
	s.exit(c)
	lostRequest := s.roll(s.cfg.lostPct / 2)
	s.after(now, s.delay(), func(now int64) {
		l := s.locks[c.key]
		ours := l.owner == c.v.Holder && now < l.expiry
		if ours && !lostRequest {
			l.owner = ""
		}
		lostReply := lostRequest || s.roll(s.cfg.lostPct/2)
		s.after(now, s.delay(), func(now int64) {
			switch {
			case lostReply:
				s.complete(c, now, core.Info)
			case ours:
				c.v.Release = lock.Done
				s.complete(c, now, core.OK)
			default:
				c.v.Release = lock.Refused
				s.complete(c, now, core.OK)
			}
		})
	})
}

func (s *sim) complete(c *simCycle, now int64, typ core.Type) { s.completeWith(c, now, typ, c.v) }

// completeWith records the completion; an info cycle's process retires
// and a fresh one takes its place.
func (s *sim) completeWith(c *simCycle, now int64, typ core.Type, v any) {
	s.exit(c)
	s.record(now, c.process, typ, lock.Cycle, c.key, v)
	p := c.process
	if typ == core.Info {
		p = s.nextProc
		s.nextProc++
	}
	pause := s.rng.Int64N(1_000_000)
	if typ == core.Fail { // the lock was held: back off 5 to 15 ms
		pause = 5_000_000 + s.rng.Int64N(10_000_000)
	}
	s.after(now, pause, func(now int64) { s.invoke(p, now) })
}

// enter and exit keep the simulation's own account of who is inside.
func (s *sim) enter(c *simCycle) {
	s.truth.sections++
	for _, o := range s.inside[c.key] {
		if o.v.Holder != c.v.Holder {
			s.truth.overlaps++
		}
	}
	c.inside = true
	s.inside[c.key] = append(s.inside[c.key], c)
}

func (s *sim) exit(c *simCycle) {
	if !c.inside {
		return
	}
	c.inside = false
	in := s.inside[c.key]
	for i, o := range in {
		if o == c {
			s.inside[c.key] = append(in[:i], in[i+1:]...)
			return
		}
	}
}

// TestSimulatedRuns checks generated histories: the checkers must find
// exactly what the simulation saw go wrong.
func TestSimulatedRuns(t *testing.T) {
	cases := map[string]struct {
		cfg simConfig
		// overlaps and lost says whether the simulation must have seen
		// some (so the case tests what it means to).
		overlaps, lost bool
	}{
		"a lease longer than every cycle, no stalls": {cfg: simConfig{seed: 1, keys: 3, procs: 8, cycles: 3000, ttlNS: 1e8, lostPct: 5}},
		"naive lock, holders stall past the lease": {cfg: simConfig{seed: 2, keys: 2, procs: 8, cycles: 3000, ttlNS: 3e7, stallPct: 20, lostPct: 5},
			overlaps: true, lost: true},
		"fencing lock, holders stall past the lease": {cfg: simConfig{seed: 3, keys: 2, procs: 8, cycles: 3000, ttlNS: 3e7, fencing: true, stallPct: 20, lostPct: 5},
			overlaps: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, truth := simulate(tc.cfg)
			if (truth.overlaps > 0) != tc.overlaps || (truth.lostUpdates > 0) != tc.lost {
				t.Fatalf("the simulation saw %d overlaps and %d lost updates; the case needs overlaps %v, lost updates %v", truth.overlaps, truth.lostUpdates, tc.overlaps, tc.lost)
			}
			mutex, resource := checkAll(t, h)
			d := mutex.Details.(*lock.MutualExclusionDetails)
			if mutex.Verdict != core.Valid || d.OverlapCount != truth.overlaps || d.Sections != truth.sections {
				t.Errorf("mutual exclusion %s with %d overlaps of %d sections, simulation saw %d of %d: %s",
					mutex.Verdict, d.OverlapCount, d.Sections, truth.overlaps, truth.sections, mutex.Summary)
			}
			k := kinds(resource.Anomalies)
			if k[lock.LostUpdateKind] != truth.lostUpdates {
				t.Errorf("%d lost updates found, simulation saw %d", k[lock.LostUpdateKind], truth.lostUpdates)
			}
			for kind, n := range k {
				if kind != lock.LostUpdateKind && kind != lock.CorruptedKind {
					t.Errorf("%d anomalies of kind %s the simulation cannot make:%s", n, kind, dump(resource.Anomalies[:min(3, len(resource.Anomalies))]))
				}
			}
			want := core.Valid
			if truth.lostUpdates > 0 {
				want = core.Invalid
			}
			if resource.Verdict != want {
				t.Errorf("resource %s (%s), want %s", resource.Verdict, resource.Summary, want)
			}
			t.Logf("%d events; %s; %s", len(h), mutex.Summary, resource.Summary)
		})
	}
}

// benchHistory is a simulated naive-lock run of 100k cycles over 10 locks
// with stalls and lost replies.
func benchHistory(b *testing.B) core.History {
	b.Helper()
	h, truth := simulate(simConfig{seed: 9, keys: 10, procs: 10, cycles: 100_000, ttlNS: 3e7, stallPct: 2, lostPct: 2})
	b.Logf("%d events, %d sections, %d overlaps, %d lost updates", len(h), truth.sections, truth.overlaps, truth.lostUpdates)
	return h
}

func BenchmarkCheckMutualExclusion(b *testing.B) {
	h := benchHistory(b)
	b.ResetTimer()
	for range b.N {
		if res := lock.CheckMutualExclusion(context.Background(), h); res.Verdict != core.Valid {
			b.Fatal(res.Summary)
		}
	}
}

func BenchmarkCheckResource(b *testing.B) {
	h := benchHistory(b)
	b.ResetTimer()
	for range b.N {
		if res := lock.CheckResource(context.Background(), h); res.Verdict == core.Unknown {
			b.Fatal(res.Summary)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	h := benchHistory(b)
	b.ResetTimer()
	for range b.N {
		lock.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
	}
}
