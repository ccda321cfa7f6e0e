package faultline

import (
	"testing"
	"time"
)

func TestEstimateLoadEnd(t *testing.T) {
	ev := func(tm int64, p int, typ Type) Event {
		return Event{Time: tm, Process: p, Op: Op{Type: typ, F: "read", Key: "k0"}}
	}
	h := History{
		{Time: 1_000, Process: NemesisProcess, Op: Op{Type: Info, F: "start-partition"}},
		ev(5_000, 0, Invoke), // the first client invocation
		ev(6_000, 1, Invoke),
		ev(7_000, 0, OK),
		ev(8_000, 0, Invoke), // the third
		ev(9_000, 1, OK),
		ev(10_000, 0, OK),
		ev(50_000, 2, Invoke), // a final read
		ev(60_000, 2, OK),
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
		if got := estimateLoadEnd(h, tc.limit, tc.ops); got != tc.want {
			t.Errorf("time limit %v, op limit %d: load end %d, want %d", tc.limit, tc.ops, got, tc.want)
		}
	}
	if got := estimateLoadEnd(nil, time.Second, 0); got != 0 {
		t.Errorf("empty history: %d", got)
	}
}
