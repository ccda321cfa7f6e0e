package lock_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/lock"
)

func resourceCheck(t *testing.T, h core.History) (core.CheckResult, *lock.ResourceDetails) {
	t.Helper()
	res := lock.CheckResource(context.Background(), h)
	if res.Checker != lock.ResourceChecker {
		t.Fatalf("checker %q", res.Checker)
	}
	d, _ := res.Details.(*lock.ResourceDetails)
	return res, d
}

// stalledReadRefused is a fencing cycle of p0 with token 33 that stalled
// past its lease and then found its read rejected; its release was
// refused too.
func stalledReadRefused() lock.CycleValue {
	return lock.CycleValue{
		Holder: "p0", Token: 33,
		Acquire: lock.Done, AcquiredNS: ms(1), StalledNS: ms(40),
		Read:    lock.Refused,
		Release: lock.Refused, ReleaseStartNS: ms(45),
	}
}

// TestResourceSafe: histories whose resource stayed right, indeterminate
// writes and overlapping holders included.
func TestResourceSafe(t *testing.T) {
	cases := map[string]func(b *builder){
		"one holder after the other": func(b *builder) {
			b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.cycle(21, 40, 1, core.OK, "l0", held("p1", 0, 1, 1, 15))
			b.final(50, 2, "l0", record(false, 2, rd("p0", 0, 0), wr("p0", 0, 1), rd("p1", 0, 1), wr("p1", 0, 2)))
		},
		"fencing rejects the read of a holder stalled past its lease": func(b *builder) {
			b.inv(0, 0, "l0")
			b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25))
			b.done(50, 0, core.OK, "l0", stalledReadRefused())
			b.final(60, 2, "l0", record(true, 1, rd("p1", 34, 0), wr("p1", 34, 1), rejected(rd("p0", 33, 1))))
		},
		"fencing rejects the write of a holder that read before stalling": func(b *builder) {
			v := held("p0", 33, 0, 1, 45)
			v.Write, v.Release = lock.Refused, lock.Refused
			b.inv(0, 0, "l0")
			b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25))
			b.done(50, 0, core.OK, "l0", v)
			b.final(60, 2, "l0", record(true, 1, rd("p0", 33, 0), rd("p1", 34, 0), wr("p1", 34, 1), rejected(wr("p0", 33, 1))))
		},
		"write of unknown outcome that took effect": func(b *builder) {
			v := held("p0", 0, 0, 1, 0)
			v.Write, v.Release, v.ReleaseStartNS = lock.Unknown, lock.Skipped, 0
			b.cycle(0, 12, 0, core.Info, "l0", v)
			b.cycle(13, 30, 1, core.OK, "l0", held("p1", 0, 1, 1, 15))
			b.final(50, 2, "l0", record(false, 2, rd("p0", 0, 0), wr("p0", 0, 1), rd("p1", 0, 1), wr("p1", 0, 2)))
		},
		"write of unknown outcome that did not take effect": func(b *builder) {
			v := held("p0", 0, 0, 1, 0)
			v.Write, v.Release, v.ReleaseStartNS = lock.Unknown, lock.Skipped, 0
			b.cycle(0, 12, 0, core.Info, "l0", v)
			b.cycle(13, 30, 1, core.OK, "l0", held("p1", 0, 0, 1, 15))
			b.final(50, 2, "l0", record(false, 1, rd("p0", 0, 0), rd("p1", 0, 0), wr("p1", 0, 1)))
		},
		"acquire and release of unknown outcome": func(b *builder) {
			v := held("p1", 0, 0, 1, 15)
			v.Release = lock.Unknown
			b.cycle(0, 12, 0, core.Info, "l0", lock.CycleValue{Holder: "p0", Acquire: lock.Unknown})
			b.cycle(13, 40, 1, core.Info, "l0", v)
			b.final(50, 2, "l0", record(false, 1, rd("p1", 0, 0), wr("p1", 0, 1)))
		},
		"cycle without a value whose write is recorded": func(b *builder) {
			b.cycle(0, 30, 0, core.Info, "l0", nil)
			b.final(50, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
		},
		"the last ok final read counts": func(b *builder) {
			b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.final(21, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
			b.cycle(22, 40, 1, core.OK, "l0", held("p1", 0, 1, 1, 15))
			b.final(50, 2, "l0", record(false, 2, rd("p0", 0, 0), wr("p0", 0, 1), rd("p1", 0, 1), wr("p1", 0, 2)))
			b.ev(51, 2, core.Invoke, lock.Resource, "l0", nil)
			b.ev(52, 2, core.Info, lock.Resource, "l0", nil)
		},
		"keys are judged apart": func(b *builder) {
			b.inv(0, 0, "l0")
			b.cycle(1, 19, 1, core.OK, "l1", held("p1", 0, 0, 1, 15))
			b.done(20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.final(50, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
			b.final(51, 2, "l1", record(false, 1, rd("p1", 0, 0), wr("p1", 0, 1)))
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			build(b)
			res, d := resourceCheck(t, b.h)
			if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
				t.Fatalf("verdict %s (%s), want valid:%s", res.Verdict, res.Summary, dump(res.Anomalies))
			}
			if !strings.HasPrefix(res.Summary, "resource safe: ") {
				t.Errorf("summary %q", res.Summary)
			}
			if len(d.PerKey) != d.Keys || len(d.NoFinalRead) != 0 {
				t.Errorf("details: %d keys, %d judged, %v without final read", d.Keys, len(d.PerKey), d.NoFinalRead)
			}
		})
	}
}

// TestFencingKeepsResourceSafeWhileLockViolated is the finding that
// matters: a lock whose holders overlapped, a resource that rejected the
// stale one. Mutual exclusion reports the overlap, the resource is safe,
// and the verdict of both is valid.
func TestFencingKeepsResourceSafeWhileLockViolated(t *testing.T) {
	b := newBuilder(t)
	b.inv(0, 0, "l0")
	b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25))
	b.done(50, 0, core.OK, "l0", stalledReadRefused())
	b.final(60, 2, "l0", record(true, 1, rd("p1", 34, 0), wr("p1", 34, 1), rejected(rd("p0", 33, 1))))
	mutex, resource := checkAll(t, b.h)
	if mutex.Verdict != core.Valid || len(mutex.Anomalies) != 1 || !strings.HasPrefix(mutex.Summary, "lock violated") {
		t.Errorf("mutual exclusion: %s %q with %d anomalies, want valid, lock violated, 1", mutex.Verdict, mutex.Summary, len(mutex.Anomalies))
	}
	if resource.Verdict != core.Valid || !strings.Contains(resource.Summary, "1 stale access rejected") {
		t.Errorf("resource: %s %q, want valid naming the rejected access", resource.Verdict, resource.Summary)
	}
	if v := core.Combine(mutex.Verdict, resource.Verdict); v != core.Valid {
		t.Errorf("combined verdict %s, want valid", v)
	}
}

// TestResourceCorrupted: histories whose resource went wrong; each must be
// invalid with exactly the anomalies listed, naming the right events.
func TestResourceCorrupted(t *testing.T) {
	type want struct {
		kinds map[string]int
		// events must all be in the first anomaly of kinds' first kind
		// (in the order LostUpdate, StaleToken, Corrupted, MissingWrite,
		// RefusedWrite).
		events  []int
		summary string
	}
	cases := map[string]func(b *builder) want{
		"lost update: a stalled holder writes over the next one": func(b *builder) want {
			v := held("p0", 0, 0, 1, 50)
			v.Release = lock.Refused
			b.inv(0, 0, "l0")
			p1 := b.cycle(10, 40, 1, core.OK, "l0", held("p1", 0, 0, 10, 25))
			p0 := []int{0, b.done(55, 0, core.OK, "l0", v)}
			fin := b.final(60, 2, "l0", record(false, 1, rd("p0", 0, 0), rd("p1", 0, 0), wr("p1", 0, 1), wr("p0", 0, 1)))
			return want{map[string]int{lock.LostUpdateKind: 1, lock.CorruptedKind: 1}, append(append(p0, p1...), fin...),
				"resource corrupted: lost update on l0; corrupted final value on l0"}
		},
		"stale token accepted by a resource that checks tokens": func(b *builder) want {
			v := held("p0", 33, 1, 45, 50)
			b.inv(0, 0, "l0")
			p1 := b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25))
			p0 := []int{0, b.done(55, 0, core.OK, "l0", v)}
			fin := b.final(60, 2, "l0", record(true, 2, rd("p1", 34, 0), wr("p1", 34, 1), rd("p0", 33, 1), wr("p0", 33, 2)))
			return want{map[string]int{lock.StaleTokenKind: 2}, append(append(p0, p1...), fin...),
				"resource corrupted: 2 stale tokens accepted on l0"}
		},
		"stale token accepted after a larger one was rejected": func(b *builder) want {
			v := held("p1", 34, 0, 1, 15)
			v.Read, v.Write, v.ReadValue, v.WriteStartNS = lock.Refused, lock.Skipped, 0, 0
			p1 := b.cycle(0, 20, 1, core.OK, "l0", v)
			p0 := b.cycle(21, 40, 0, core.OK, "l0", held("p0", 33, 0, 1, 15))
			fin := b.final(60, 2, "l0", record(true, 1, rejected(rd("p1", 34, 0)), rd("p0", 33, 0), wr("p0", 33, 1)))
			return want{map[string]int{lock.StaleTokenKind: 2}, append(append(p0, p1...), fin...),
				"resource corrupted: 2 stale tokens accepted on l0"}
		},
		"final value disagrees with the last accepted write": func(b *builder) want {
			p0 := b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			fin := b.final(50, 2, "l0", record(false, 5, rd("p0", 0, 0), wr("p0", 0, 1)))
			return want{map[string]int{lock.CorruptedKind: 1}, append(p0, fin...), "resource corrupted: corrupted final value on l0"}
		},
		"final value without any write": func(b *builder) want {
			fin := b.final(50, 2, "l0", record(false, 3))
			return want{map[string]int{lock.CorruptedKind: 1}, fin, "resource corrupted: corrupted final value on l0"}
		},
		"acknowledged write missing from the record": func(b *builder) want {
			p0 := b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			fin := b.final(50, 2, "l0", record(false, 0, rd("p0", 0, 0)))
			return want{map[string]int{lock.MissingWriteKind: 1}, append(p0, fin...), "resource corrupted: acknowledged write missing on l0"}
		},
		"acknowledged write recorded with another token": func(b *builder) want {
			p0 := b.cycle(0, 20, 0, core.OK, "l0", held("p0", 5, 0, 1, 15))
			fin := b.final(50, 2, "l0", record(true, 1, rd("p0", 5, 0), wr("p0", 6, 1)))
			return want{map[string]int{lock.MissingWriteKind: 1}, append(p0, fin...), "resource corrupted: acknowledged write missing on l0"}
		},
		"refused write accepted": func(b *builder) want {
			v := held("p0", 33, 0, 1, 15)
			v.Write = lock.Refused
			p0 := b.cycle(0, 20, 0, core.OK, "l0", v)
			fin := b.final(50, 2, "l0", record(true, 1, rd("p0", 33, 0), wr("p0", 33, 1)))
			return want{map[string]int{lock.RefusedWriteKind: 1}, append(p0, fin...), "resource corrupted: refused write accepted on l0"}
		},
		"invalid beats a key without final read": func(b *builder) want {
			p0 := b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.cycle(21, 40, 1, core.OK, "l1", held("p1", 0, 0, 1, 15))
			fin := b.final(50, 2, "l0", record(false, 0, rd("p0", 0, 0)))
			return want{map[string]int{lock.MissingWriteKind: 1}, append(p0, fin...),
				"resource corrupted: acknowledged write missing on l0; no final read of l1"}
		},
	}
	order := []string{lock.LostUpdateKind, lock.StaleTokenKind, lock.CorruptedKind, lock.MissingWriteKind, lock.RefusedWriteKind}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			w := build(b)
			res, d := resourceCheck(t, b.h)
			if res.Verdict != core.Invalid {
				t.Fatalf("verdict %s (%s), want invalid", res.Verdict, res.Summary)
			}
			if got := kinds(res.Anomalies); !maps.Equal(got, w.kinds) {
				t.Fatalf("anomalies %v, want %v:%s", got, w.kinds, dump(res.Anomalies))
			}
			if !maps.Equal(d.Anomalies, w.kinds) {
				t.Errorf("details count %v, want %v", d.Anomalies, w.kinds)
			}
			for _, k := range order {
				if w.kinds[k] == 0 {
					continue
				}
				for _, a := range res.Anomalies {
					if a.Kind == k {
						if !hasEvents(a, w.events...) || a.Key != "l0" {
							t.Errorf("%s anomaly on %s with events %v, want l0 and all of %v: %s", k, a.Key, a.Events, w.events, a.Description)
						}
						break
					}
				}
				break
			}
			if res.Summary != w.summary {
				t.Errorf("summary %q, want %q", res.Summary, w.summary)
			}
		})
	}
}

func TestLostUpdateDescription(t *testing.T) {
	b := newBuilder(t)
	v := held("p0", 0, 0, 1, 50)
	b.inv(0, 0, "l0")
	b.cycle(10, 40, 1, core.OK, "l0", held("p1", 0, 0, 10, 25))
	b.done(55, 0, core.OK, "l0", v)
	b.final(60, 2, "l0", record(false, 1, rd("p0", 0, 0), rd("p1", 0, 0), wr("p1", 0, 1), wr("p0", 0, 1)))
	res, _ := resourceCheck(t, b.h)
	want := map[string]string{
		lock.LostUpdateKind: "l0: p0 (no token) wrote 1 (access 4) over 1 written by p1 (no token, access 3): it had read 0, so 1 update since was lost",
		lock.CorruptedKind:  "l0: the resource holds 1 after 2 accepted writes that should each have added one: 1 of them lost",
	}
	for _, a := range res.Anomalies {
		if a.Description != want[a.Kind] {
			t.Errorf("%s: %q, want %q", a.Kind, a.Description, want[a.Kind])
		}
	}
}

func TestResourceUnknown(t *testing.T) {
	cases := map[string]struct {
		build   func(b *builder)
		summary string
	}{
		"no final read of a key with cycles": {func(b *builder) {
			b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.cycle(21, 40, 1, core.OK, "l1", held("p1", 0, 0, 1, 15))
			b.final(50, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
		}, "resource unknown: no final read of l1"},
		"the final read failed": {func(b *builder) {
			b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.ev(50, 2, core.Invoke, lock.Resource, "l0", nil)
			b.ev(51, 2, core.Fail, lock.Resource, "l0", nil)
		}, "resource unknown: no final read of l0"},
		"an ok final read without a value": {func(b *builder) {
			b.ev(50, 2, core.Invoke, lock.Resource, "l0", nil)
			b.ev(51, 2, core.OK, lock.Resource, "l0", nil)
		}, "cannot check the resource: event 1: ok final read of l0 without a value"},
		"a final read of the wrong type": {func(b *builder) {
			b.ev(50, 2, core.Invoke, lock.Resource, "l0", nil)
			b.ev(51, 2, core.OK, lock.Resource, "l0", int64(3))
		}, "cannot check the resource: event 1: final read of l0: resource value 3 (int64): want lock.ResourceState"},
		"a record out of order": {func(b *builder) {
			st := record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1))
			st.Accesses[1].Seq = 1
			b.final(50, 2, "l0", st)
		}, "cannot check the resource: event 1: final read of l0: access 1: seq 1 after seq 1: want increasing numbers from 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			res, _ := resourceCheck(t, b.h)
			if res.Verdict != core.Unknown || !strings.HasPrefix(res.Summary, tc.summary) {
				t.Errorf("%s %q, want unknown beginning %q", res.Verdict, res.Summary, tc.summary)
			}
		})
	}

	b := newBuilder(t)
	b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
	b.final(50, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := lock.CheckResource(ctx, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "interrupted") {
		t.Errorf("cancelled: %s %q, want unknown, interrupted", res.Verdict, res.Summary)
	}
}

// page returns the page of st from position from, count accesses long.
func page(st lock.ResourceState, from, count int) lock.ResourceState {
	p := st
	p.From, p.Total = int64(from), int64(len(st.Accesses))
	from = min(from, len(st.Accesses))
	p.Accesses = st.Accesses[from:min(len(st.Accesses), from+count)]
	return p
}

// TestResourceReadInPages: a record read in pages is judged as read whole;
// a missing page leaves it unknown; pages that disagree cannot be checked.
func TestResourceReadInPages(t *testing.T) {
	lost := record(false, 1, rd("p0", 0, 0), rd("p1", 0, 0), wr("p1", 0, 1), wr("p0", 0, 1))
	safe := record(false, 2, rd("p0", 0, 0), wr("p0", 0, 1), rd("p1", 0, 1), wr("p1", 0, 2))
	cycles := func(b *builder, st lock.ResourceState) {
		r0, r1 := st.Accesses[0].Value, st.Accesses[2].Value
		if st.Value == 1 {
			r0, r1 = 0, 0
		}
		b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, r0, 1, 15))
		b.cycle(21, 40, 1, core.OK, "l0", held("p1", 0, r1, 1, 15))
	}
	for name, tc := range map[string]struct {
		st    lock.ResourceState
		pages [][2]int // from, count
		want  core.Verdict
		says  string
	}{
		"safe in two pages":         {safe, [][2]int{{0, 2}, {2, 2}}, core.Valid, "resource safe"},
		"safe in three with a tail": {safe, [][2]int{{0, 3}, {3, 3}, {6, 3}}, core.Valid, "resource safe"},
		"lost update across pages":  {lost, [][2]int{{0, 3}, {3, 3}}, core.Invalid, "lost update"},
		"second page missing":       {safe, [][2]int{{0, 2}}, core.Unknown, "l0"},
		"first page missing":        {safe, [][2]int{{2, 2}}, core.Unknown, "l0"},
	} {
		b := newBuilder(t)
		cycles(b, tc.st)
		for i, p := range tc.pages {
			b.final(int64(50+2*i), 2+i, "l0", page(tc.st, p[0], p[1]))
		}
		res, _ := resourceCheck(t, b.h)
		if res.Verdict != tc.want || !strings.Contains(res.Summary, tc.says) {
			t.Errorf("%s: %s %q; want %s saying %q", name, res.Verdict, res.Summary, tc.want, tc.says)
		}
	}
	b := newBuilder(t)
	cycles(b, safe)
	b.final(50, 2, "l0", page(safe, 0, 2))
	later := page(safe, 2, 2)
	later.Total++ // the record grew between the two pages
	b.final(52, 3, "l0", later)
	if res, _ := resourceCheck(t, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "changed during the final reads") {
		t.Errorf("pages that disagree: %s %q", res.Verdict, res.Summary)
	}
}
