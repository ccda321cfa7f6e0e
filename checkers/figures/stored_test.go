package figures_test

import (
	"errors"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
)

func TestEstimateLoadEnd(t *testing.T) {
	ev := func(tm int64, p int, typ core.Type) core.Event {
		return core.Event{Time: tm, Process: p, Op: core.Op{Type: typ, F: "read", Key: "k0"}}
	}
	h := core.History{
		{Time: 1_000, Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: "start-partition"}},
		ev(5_000, 0, core.Invoke), // the first client invocation
		ev(6_000, 1, core.Invoke),
		ev(7_000, 0, core.OK),
		ev(8_000, 0, core.Invoke), // the third
		ev(9_000, 1, core.OK),
		ev(10_000, 0, core.OK),
		ev(50_000, 2, core.Invoke), // a final read
		ev(60_000, 2, core.OK),
	}
	for _, tc := range []struct {
		limit time.Duration
		ops   int
		want  int64
	}{
		{0, 0, 60_000},                     // no limit: the last event
		{20 * time.Microsecond, 0, 25_000}, // first invocation + time limit
		{time.Second, 0, 60_000},           // never past the last event
		{time.Second, 3, 8_000},            // the third invocation comes first
		{2 * time.Microsecond, 3, 7_000},   // the time limit comes first
		{0, 10, 60_000},                    // fewer invocations than the op limit
	} {
		if got := figures.EstimateLoadEnd(h, tc.limit, tc.ops); got != tc.want {
			t.Errorf("time limit %v, op limit %d: load end %d, want %d", tc.limit, tc.ops, got, tc.want)
		}
	}
	if got := figures.EstimateLoadEnd(nil, time.Second, 0); got != 0 {
		t.Errorf("empty history: %d", got)
	}
	// Only the nemesis: the last event.
	if got := figures.EstimateLoadEnd(h[:1], time.Nanosecond, 1); got != 1_000 {
		t.Errorf("nemesis only: %d, want 1000", got)
	}
}

func TestFromHistory(t *testing.T) {
	// p0 write 1–2ms ok, p1 read 3–5ms ok, p0 cas 12–13ms fail (after
	// the first invocation plus a 10ms limit: not counted), p2 a final
	// read 30–31ms ok. The load phase is [0, 11ms]: 2 ok in 11ms,
	// latencies 1ms and 2ms.
	var b hist
	b.inv(1*ms, 0, "write", "k0", 1)
	b.ok(2*ms, 0, "write", "k0", 1, "n1")
	b.inv(3*ms, 1, "read", "k0", nil)
	b.ok(5*ms, 1, "read", "k0", 1, "n2")
	b.inv(12*ms, 0, "cas", "k0", []int{1, 2})
	b.fail(13*ms, 0, "cas", "k0", []int{1, 2}, "n1")
	b.inv(30*ms, 2, "read", "k0", nil)
	b.ok(31*ms, 2, "read", "k0", 1, "n1")
	f, err := figures.FromHistory(b.h, 10*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.LoadEndNS != 11*ms || f.Staleness != nil {
		t.Errorf("load end %d, staleness %v; want 11ms and none", f.LoadEndNS, f.Staleness)
	}
	want := row(figures.All, "", "", 11*ms, 2, 2, 0, 0, 1*ms, 2*ms, 2*ms)
	if got := f.AllRow(); got == nil {
		t.Errorf("no all row in %+v", f.Availability)
	} else {
		samePeriods(t, "all row", []figures.Period{*got}, []figures.Period{want})
	}
	// The same as Compute with that load end.
	samePeriods(t, "availability", f.Availability, figures.Compute(b.h, figures.Options{LoadEnd: 11 * ms}).Availability)

	// A completion without its invocation is bad input, not empty figures.
	if f, err := figures.FromHistory(b.h[1:], time.Second, 0); !errors.Is(err, core.ErrBadInput) || f != nil {
		t.Errorf("unpaired history: %v, %v; want bad input", f, err)
	}
}

func TestAllRow(t *testing.T) {
	var none *figures.Figures
	if none.AllRow() != nil || (&figures.Figures{}).AllRow() != nil {
		t.Errorf("an all row out of no figures")
	}
	f := &figures.Figures{Availability: []figures.Period{
		{Period: figures.Quiet, Ops: 1},
		{Period: figures.All, Side: figures.Majority, Ops: 2},
		{Period: figures.All, Ops: 3},
	}}
	if p := f.AllRow(); p != &f.Availability[2] {
		t.Errorf("all row %+v, want the third row", p)
	}
}
