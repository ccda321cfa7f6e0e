package histtest

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/lock"
)

// ms converts milliseconds to nanoseconds.
func ms(x int64) int64 { return x * 1_000_000 }

// timed is an event before it is given its index.
type timed struct {
	seq int
	e   core.Event
}

// events orders evs by time (then by the order they were added) and
// numbers them.
func events(evs []timed) core.History {
	slices.SortStableFunc(evs, func(a, b timed) int {
		if a.e.Time != b.e.Time {
			if a.e.Time < b.e.Time {
				return -1
			}
			return 1
		}
		return a.seq - b.seq
	})
	h := make(core.History, len(evs))
	for i, t := range evs {
		h[i] = t.e
		h[i].Index = i
	}
	return h
}

// lockHistory collects the events of a lock history in any order.
type lockHistory struct{ evs []timed }

func (b *lockHistory) add(at int64, p int, op core.Op) {
	b.evs = append(b.evs, timed{seq: len(b.evs), e: core.Event{Time: at, Process: p, Op: op}})
}

// cycle adds a cycle of p on key invoked at from and completed at to (ns)
// with typ and v.
func (b *lockHistory) cycle(from, to int64, p int, key string, typ core.Type, v lock.CycleValue) {
	b.add(from, p, core.Op{Type: core.Invoke, F: lock.Cycle, Key: key, Value: lock.CycleRequest{HoldNS: ms(10)}})
	b.add(to, p, core.Op{Type: typ, F: lock.Cycle, Key: key, Value: v})
}

// held is a cycle that acquired its lock acq ns after its invocation and
// began to release it rel ns after.
func held(p int, token, acq, rel int64) lock.CycleValue {
	return lock.CycleValue{Holder: "p" + strconv.Itoa(p), Token: token,
		Acquire: lock.Done, AcquiredNS: acq, Read: lock.Done, Write: lock.Done, WriteStartNS: acq + 1000,
		Release: lock.Done, ReleaseStartNS: rel}
}

// Lock is a small lock-workload history written by hand, times in ms:
//
//   - l0: p0 holds it from 105 to 700 (it stalled in a client pause from
//     150 to 650); p1 is refused at 125; p2 holds it from 450 to 520, while
//     p0 still does: the overlap; p1 holds it from 725 to 800.
//   - l1: p3 holds it from 102 to 200 and from 302 to 400; p4 from 505,
//     never released (an info cycle completed at 900); p3 from 960 to 1000.
//   - l10: p5 holds it from 55 to 80.
//
// A client-pause window runs from 150 to 650.
func Lock() core.History {
	var b lockHistory
	b.add(ms(150), core.NemesisProcess, core.Op{Type: core.Info, F: "start-client-pause", Value: map[string]any{"pause": "500ms"}})
	b.add(ms(650), core.NemesisProcess, core.Op{Type: core.Info, F: "stop-client-pause"})
	stalled := held(0, 1, ms(5), ms(600))
	stalled.StalledNS = ms(500)
	b.cycle(ms(100), ms(705), 0, "l0", core.OK, stalled)
	b.cycle(ms(120), ms(125), 1, "l0", core.Fail, lock.CycleValue{Holder: "p1", Acquire: lock.Refused})
	b.cycle(ms(440), ms(525), 2, "l0", core.OK, held(2, 2, ms(10), ms(80)))
	b.cycle(ms(720), ms(805), 1, "l0", core.OK, held(1, 3, ms(5), ms(80)))
	b.cycle(ms(100), ms(202), 3, "l1", core.OK, held(3, 1, ms(2), ms(100)))
	b.cycle(ms(300), ms(402), 3, "l1", core.OK, held(3, 2, ms(2), ms(100)))
	b.cycle(ms(500), ms(900), 4, "l1", core.Info, lock.CycleValue{Holder: "p4", Token: 3,
		Acquire: lock.Done, AcquiredNS: ms(5), Read: lock.Done, Write: lock.Unknown, WriteStartNS: ms(6)})
	b.cycle(ms(950), ms(1005), 3, "l1", core.OK, held(3, 4, ms(10), ms(50)))
	b.cycle(ms(50), ms(85), 5, "l10", core.OK, held(5, 1, ms(5), ms(30)))
	return events(b.evs)
}

// LockCycles builds a lock-workload history of n cycles: ten clients on
// eight locks (about 30 s for 100,000 cycles), each holding its lock a few
// milliseconds under a 50 ms lease; one acquisition in 200 stalls for
// 80 ms, past its lease, so that another client may take the lock while
// it still believes it holds it. A client-pause window opens every twelve
// seconds for six.
func LockCycles(n int) core.History {
	const workers, locks = 10, 8
	const lease = 50_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	var b lockHistory
	expiry := make([]int64, locks) // when each lock's lease ends
	tokens := make([]int64, locks)
	// Each client runs its cycles one after another; the clients are
	// interleaved by always advancing the one furthest behind.
	next := make([]int64, workers)
	for w := range next {
		next[w] = int64(w) * 100_000
	}
	for range n {
		w := 0
		for i := range next {
			if next[i] < next[w] {
				w = i
			}
		}
		from := next[w]
		key := rng.IntN(locks)
		name := "l" + strconv.Itoa(key)
		acq := from + 200_000 + rng.Int64N(300_000)
		if acq < expiry[key] {
			to := acq + 100_000
			b.cycle(from, to, w, name, core.Fail, lock.CycleValue{Holder: "p" + strconv.Itoa(w), Acquire: lock.Refused})
			next[w] = to + rng.Int64N(2_000_000)
			continue
		}
		tokens[key]++
		hold := 1_000_000 + rng.Int64N(3_000_000)
		if rng.IntN(200) == 0 {
			hold = 80_000_000
		}
		rel := acq + hold
		expiry[key] = min(rel, acq+lease)
		to := rel + 300_000
		b.cycle(from, to, w, name, core.OK, held(w, tokens[key], acq-from, rel-from))
		next[w] = to + rng.Int64N(2_000_000)
	}
	end := slices.Max(next)
	for t := int64(0); t+6e9 < end; t += 12e9 {
		b.add(t+6e9, core.NemesisProcess, core.Op{Type: core.Info, F: "start-client-pause"})
		b.add(min(t+12e9-1, end), core.NemesisProcess, core.Op{Type: core.Info, F: "stop-client-pause"})
	}
	return events(b.evs)
}
