package lock_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/lock"
)

func mutexCheck(t *testing.T, h core.History) (core.CheckResult, *lock.MutualExclusionDetails) {
	t.Helper()
	res := lock.CheckMutualExclusion(context.Background(), h)
	if res.Checker != lock.MutualExclusionChecker {
		t.Fatalf("checker %q", res.Checker)
	}
	d, _ := res.Details.(*lock.MutualExclusionDetails)
	if res.Verdict != core.Unknown && d == nil {
		t.Fatalf("details are %T, want *lock.MutualExclusionDetails", res.Details)
	}
	return res, d
}

// TestMutualExclusionNoOverlap: histories in which no two holders were in
// the critical section at once, indeterminate steps included.
func TestMutualExclusionNoOverlap(t *testing.T) {
	cases := map[string]struct {
		build func(b *builder)
		// unplaced and cutShort are what the details must count.
		unplaced, cutShort int
	}{
		"one holder after the other": {build: func(b *builder) {
			b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.cycle(21, 40, 1, core.OK, "l0", held("p1", 0, 1, 1, 15))
		}},
		"sections that touch do not overlap": {build: func(b *builder) {
			b.inv(0, 0, "l0")
			b.inv(5, 1, "l0")
			b.done(12, 0, core.OK, "l0", held("p0", 0, 0, 1, 10)) // 1..10
			b.done(30, 1, core.OK, "l0", held("p1", 0, 1, 5, 20)) // 10..25
		}},
		"acquire refused while another holds": {build: func(b *builder) {
			b.inv(0, 0, "l0")
			b.cycle(2, 3, 1, core.Fail, "l0", refused("p1"))
			b.done(20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
		}},
		"acquire of unknown outcome while another holds": {build: func(b *builder) {
			b.inv(0, 0, "l0")
			b.cycle(2, 9, 1, core.Info, "l0", lock.CycleValue{Holder: "p1", Acquire: lock.Unknown})
			b.done(20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
		}},
		"release of unknown outcome ends the section where it starts": {build: func(b *builder) {
			v := held("p0", 0, 0, 1, 10)
			v.Release = lock.Unknown
			b.inv(0, 0, "l0")
			b.inv(11, 1, "l0")
			b.done(40, 0, core.Info, "l0", v) // section 1..10, completed late
			b.done(45, 1, core.OK, "l0", held("p1", 0, 1, 1, 20))
		}},
		"release refused: the lock had expired, nobody else took it": {build: func(b *builder) {
			v := held("p0", 0, 0, 1, 50)
			v.Release = lock.Refused
			b.cycle(0, 52, 0, core.OK, "l0", v)
			b.cycle(53, 70, 1, core.OK, "l0", held("p1", 0, 1, 1, 15))
		}},
		"write of unknown outcome, cut short, next holder after completion": {cutShort: 1, build: func(b *builder) {
			v := held("p0", 0, 0, 1, 0)
			v.Write, v.Release, v.ReleaseStartNS = lock.Unknown, lock.Skipped, 0
			b.cycle(0, 12, 0, core.Info, "l0", v) // section 1..12
			b.cycle(12, 30, 1, core.OK, "l0", held("p1", 0, 1, 0, 15))
		}},
		"info cycle without a value is left out": {unplaced: 1, build: func(b *builder) {
			b.inv(0, 0, "l0")
			b.inv(1, 1, "l0")
			b.done(20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.done(30, 1, core.Info, "l0", nil)
		}},
		"invocation that never completed is left out": {unplaced: 1, build: func(b *builder) {
			b.inv(0, 1, "l0")
			b.cycle(1, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
		}},
		"different locks are independent": {build: func(b *builder) {
			b.inv(0, 0, "l0")
			b.inv(0, 1, "l1")
			b.done(20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.done(20, 1, core.OK, "l1", held("p1", 0, 0, 1, 15))
		}},
		"nemesis events and final reads are not cycles": {build: func(b *builder) {
			b.ev(0, core.NemesisProcess, core.Info, "start-client-pause", "", nil)
			b.cycle(1, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
			b.ev(21, core.NemesisProcess, core.Info, "stop-client-pause", "", nil)
			b.final(30, 2, "l0", record(false, 1, rd("p0", 0, 0), wr("p0", 0, 1)))
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			tc.build(b)
			res, d := mutexCheck(t, b.h)
			if res.Verdict != core.Valid || len(res.Anomalies) != 0 {
				t.Fatalf("verdict %s with %d anomalies (%s), want valid without:%s", res.Verdict, len(res.Anomalies), res.Summary, dump(res.Anomalies))
			}
			if !strings.HasPrefix(res.Summary, "no overlap") {
				t.Errorf("summary %q does not begin with \"no overlap\"", res.Summary)
			}
			if d.OverlapCount != 0 || d.Unplaced != tc.unplaced || d.CutShort != tc.cutShort {
				t.Errorf("details: %d overlaps, %d unplaced, %d cut short; want 0, %d, %d", d.OverlapCount, d.Unplaced, d.CutShort, tc.unplaced, tc.cutShort)
			}
		})
	}
}

// TestMutualExclusionFindsOverlaps: histories in which two holders were in
// the critical section at once. Each must be reported, with both cycles'
// events, holders, tokens and the overlap's duration, and the verdict
// stays valid (the resource decides).
func TestMutualExclusionFindsOverlaps(t *testing.T) {
	type want struct {
		first, second []int // the events of the earlier and later section
		holders       [2]string
		tokens        [2]int64
		overlapMS     int64
	}
	cases := map[string]func(b *builder) []want{
		"holder stalled past its lease": func(b *builder) []want {
			v := held("p0", 33, 0, 1, 50)
			v.StalledNS = ms(40)
			v.Release = lock.Refused
			b.inv(0, 0, "l0")                                                  // section 1..50
			p1 := b.cycle(10, 40, 1, core.OK, "l0", held("p1", 34, 0, 10, 25)) // 20..35
			p0 := []int{0, b.done(55, 0, core.OK, "l0", v)}
			return []want{{p0, p1, [2]string{"p0", "p1"}, [2]int64{33, 34}, 15}}
		},
		"cycle cut short holds until it completes": func(b *builder) []want {
			v := held("p0", 0, 0, 1, 0)
			v.Write, v.Release, v.ReleaseStartNS = lock.Unknown, lock.Skipped, 0
			b.inv(0, 0, "l0")                                                 // section 1..40
			p1 := b.cycle(10, 35, 1, core.OK, "l0", held("p1", 0, 0, 10, 20)) // 20..30
			p0 := []int{0, b.done(40, 0, core.Info, "l0", v)}
			return []want{{p0, p1, [2]string{"p0", "p1"}, [2]int64{0, 0}, 10}}
		},
		"release of unknown outcome that starts late": func(b *builder) []want {
			v := held("p0", 0, 0, 1, 25)
			v.Release = lock.Unknown
			b.inv(0, 0, "l0") // section 1..25
			b.inv(10, 1, "l0")
			p0 := []int{0, b.done(30, 0, core.Info, "l0", v)}
			p1 := []int{1, b.done(45, 1, core.OK, "l0", held("p1", 0, 0, 10, 30))} // 20..40
			return []want{{p0, p1, [2]string{"p0", "p1"}, [2]int64{0, 0}, 5}}
		},
		"three holders at once, every pair": func(b *builder) []want {
			b.inv(0, 0, "l0")  // 0..100
			b.inv(10, 1, "l0") // 10..20
			b.inv(15, 2, "l0") // 15..30
			p1 := []int{1, b.done(22, 1, core.OK, "l0", held("p1", 0, 0, 0, 10))}
			p2 := []int{2, b.done(31, 2, core.OK, "l0", held("p2", 0, 0, 0, 15))}
			p0 := []int{0, b.done(101, 0, core.OK, "l0", held("p0", 0, 0, 0, 100))}
			return []want{
				{p0, p1, [2]string{"p0", "p1"}, [2]int64{0, 0}, 10},
				{p0, p2, [2]string{"p0", "p2"}, [2]int64{0, 0}, 15},
				{p1, p2, [2]string{"p1", "p2"}, [2]int64{0, 0}, 5},
			}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			wants := build(b)
			res, d := mutexCheck(t, b.h)
			if res.Verdict != core.Valid {
				t.Fatalf("verdict %s (%s), want valid: overlaps are a finding", res.Verdict, res.Summary)
			}
			if !strings.HasPrefix(res.Summary, "lock violated: ") || !strings.Contains(res.Summary, "(the resource checker decides the verdict)") || !strings.Contains(res.Summary, "l0") {
				t.Errorf("summary %q", res.Summary)
			}
			if len(res.Anomalies) != len(wants) || d.OverlapCount != len(wants) || len(d.Overlaps) != len(wants) {
				t.Fatalf("%d anomalies, %d overlaps counted, want %d:%s", len(res.Anomalies), d.OverlapCount, len(wants), dump(res.Anomalies))
			}
			for i, w := range wants {
				a, o := res.Anomalies[i], d.Overlaps[i]
				if a.Kind != lock.OverlapKind || a.Key != "l0" {
					t.Errorf("anomaly %d: kind %q key %q", i, a.Kind, a.Key)
				}
				if !slices.Equal(a.Events, append(slices.Clone(w.first), w.second...)) {
					t.Errorf("anomaly %d: events %v, want %v then %v", i, a.Events, w.first, w.second)
				}
				if o.First.Holder != w.holders[0] || o.Second.Holder != w.holders[1] || o.First.Token != w.tokens[0] || o.Second.Token != w.tokens[1] {
					t.Errorf("overlap %d: %s/%d and %s/%d, want %v %v", i, o.First.Holder, o.First.Token, o.Second.Holder, o.Second.Token, w.holders, w.tokens)
				}
				if o.OverlapNS != ms(w.overlapMS) {
					t.Errorf("overlap %d lasts %d ns, want %d ms", i, o.OverlapNS, w.overlapMS)
				}
				for _, h := range w.holders {
					if !strings.Contains(a.Description, h) {
						t.Errorf("description %q does not name %s", a.Description, h)
					}
				}
			}
		})
	}
}

func TestMutualExclusionDescription(t *testing.T) {
	b := newBuilder(t)
	v := held("p0", 33, 0, 1000, 3000)
	v.Release = lock.Refused
	b.inv(0, 0, "l3")
	b.cycle(1500, 2600, 1, core.OK, "l3", held("p1", 34, 0, 500, 1000))
	b.done(3100, 0, core.OK, "l3", v)
	res, _ := mutexCheck(t, b.h)
	if len(res.Anomalies) != 1 {
		t.Fatalf("anomalies:%s", dump(res.Anomalies))
	}
	want := "l3: p0 (token 33) and p1 (token 34) both held the lock for 500ms: p0 from 1.000s to 3.000s (events 0, 3); p1 from 2.000s to 2.500s (events 1, 2)"
	if got := res.Anomalies[0].Description; got != want {
		t.Errorf("description\n %q, want\n %q", got, want)
	}
	if want := "lock violated: 1 overlapping pair of critical sections on l3 (the resource checker decides the verdict)"; res.Summary != want {
		t.Errorf("summary %q, want %q", res.Summary, want)
	}
}

func TestMutualExclusionUnknown(t *testing.T) {
	b := newBuilder(t)
	b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := lock.CheckMutualExclusion(ctx, b.h); res.Verdict != core.Unknown || !strings.Contains(res.Summary, "interrupted") {
		t.Errorf("cancelled: %s %q, want unknown, interrupted", res.Verdict, res.Summary)
	}

	bad := map[string]func(b *builder){
		"a value of the wrong type": func(b *builder) { b.cycle(0, 1, 0, core.OK, "l0", "acquired") },
		"an ok cycle that did not acquire": func(b *builder) {
			b.cycle(0, 1, 0, core.OK, "l0", lock.CycleValue{Holder: "p0", Acquire: lock.Unknown})
		},
		"a failed cycle that acquired": func(b *builder) { b.cycle(0, 20, 0, core.Fail, "l0", held("p0", 0, 0, 1, 15)) },
		"an ok cycle without a value":  func(b *builder) { b.cycle(0, 20, 0, core.OK, "l0", nil) },
		"a release before the acquire": func(b *builder) { b.cycle(0, 20, 0, core.OK, "l0", held("p0", 0, 0, 10, 5)) },
		"a completion without invocation": func(b *builder) {
			b.done(0, 0, core.OK, "l0", held("p0", 0, 0, 1, 15))
		},
	}
	for name, build := range bad {
		t.Run(name, func(t *testing.T) {
			b := newBuilder(t)
			build(b)
			res := lock.CheckMutualExclusion(context.Background(), b.h)
			if res.Verdict != core.Unknown || !strings.HasPrefix(res.Summary, "cannot check mutual exclusion: event ") {
				t.Errorf("%s %q, want unknown naming the event", res.Verdict, res.Summary)
			}
		})
	}
}

func TestSections(t *testing.T) {
	b := newBuilder(t)
	cut := held("p1", 7, 0, 2, 0)
	cut.Write, cut.Release, cut.ReleaseStartNS = lock.Unknown, lock.Skipped, 0
	b.inv(10, 0, "l1")
	b.cycle(11, 12, 2, core.Fail, "l1", refused("p2"))
	b.done(30, 0, core.OK, "l1", held("p0", 6, 0, 1, 15))
	b.cycle(40, 45, 1, core.Info, "l1", cut)
	got, err := lock.Sections(b.h)
	if err != nil {
		t.Fatal(err)
	}
	want := []lock.Section{
		{Lock: "l1", Holder: "p0", Token: 6, Process: 0, Start: ms(11), End: ms(25), Invoke: 0, Complete: 3},
		{Lock: "l1", Holder: "p1", Token: 7, Process: 1, Start: ms(42), End: ms(45), CutShort: true, Invoke: 4, Complete: 5},
	}
	if !slices.Equal(got, want) {
		t.Errorf("sections\n %+v, want\n %+v", got, want)
	}
}
