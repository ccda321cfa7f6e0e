package checkers_test

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

func ev(i int, t int64, p int, typ core.Type, f, key string, v any) core.Event {
	return core.Event{Index: i, Time: t, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}}
}

func TestPair(t *testing.T) {
	h := core.History{
		ev(0, 10, 0, core.Invoke, "write", "k0", int64(1)),
		ev(1, 20, 1, core.Invoke, "read", "k0", nil),
		ev(2, 25, core.NemesisProcess, core.Info, "start-partition", "", nil),
		ev(3, 30, 1, core.OK, "read", "k0", int64(1)),
		ev(4, 40, 0, core.Info, "write", "k0", int64(1)),
		ev(5, 50, 2, core.Invoke, "cas", "k0", [2]int64{1, 2}),
		ev(6, 60, 2, core.Fail, "cas", "k0", [2]int64{1, 2}),
		ev(7, 70, 2, core.Invoke, "read", "k1", nil),
	}
	h[3].Node = "n2"
	h[4].Error = "timeout"
	ops, err := checkers.Pair(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		process          int
		f                string
		typ              core.Type
		invoke, complete int
		start, end       int64
	}{
		{0, "write", core.Info, 0, 4, 10, 40},
		{1, "read", core.OK, 1, 3, 20, 30},
		{2, "cas", core.Fail, 5, 6, 50, 60},
		{2, "read", core.Info, 7, -1, 70, -1},
	}
	if len(ops) != len(want) {
		t.Fatalf("got %d operations, want %d: %+v", len(ops), len(want), ops)
	}
	for i, w := range want {
		o := ops[i]
		if o.Process != w.process || o.F != w.f || o.Type != w.typ || o.Invoke != w.invoke ||
			o.Complete != w.complete || o.Start != w.start || o.End != w.end {
			t.Errorf("op %d = %+v, want %+v", i, o, w)
		}
	}
	if ops[1].Output != int64(1) || ops[1].Node != "n2" {
		t.Errorf("read carries output %v node %q, want 1 and n2", ops[1].Output, ops[1].Node)
	}
	if ops[0].Error != "timeout" || ops[0].Input != int64(1) {
		t.Errorf("write carries error %q input %v", ops[0].Error, ops[0].Input)
	}
	if ops[3].Completed() || len(ops[3].Events()) != 1 || !ops[1].Completed() || len(ops[1].Events()) != 2 {
		t.Errorf("Completed/Events wrong: %v %v", ops[3].Events(), ops[1].Events())
	}
}

func TestPairMalformed(t *testing.T) {
	cases := map[string]core.History{
		"completion without invocation": {
			ev(0, 10, 0, core.OK, "read", "k0", nil),
		},
		"two open invocations": {
			ev(0, 10, 0, core.Invoke, "read", "k0", nil),
			ev(1, 20, 0, core.Invoke, "read", "k0", nil),
		},
		"completion of another function": {
			ev(0, 10, 0, core.Invoke, "read", "k0", nil),
			ev(1, 20, 0, core.OK, "write", "k0", int64(1)),
		},
		"completion of another key": {
			ev(0, 10, 0, core.Invoke, "read", "k0", nil),
			ev(1, 20, 0, core.OK, "read", "k1", nil),
		},
		"completion before invocation": {
			ev(0, 10, 0, core.Invoke, "read", "k0", nil),
			ev(1, 5, 0, core.OK, "read", "k0", nil),
		},
		"unknown type": {
			ev(0, 10, 0, "done", "read", "k0", nil),
		},
		"negative process": {
			ev(0, 10, -2, core.Invoke, "read", "k0", nil),
		},
		"completion after the process's info": {
			ev(0, 10, 0, core.Invoke, "read", "k0", nil),
			ev(1, 20, 0, core.Info, "read", "k0", nil),
			ev(2, 30, 0, core.OK, "read", "k0", nil),
		},
	}
	for name, h := range cases {
		if _, err := checkers.Pair(h); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: error %v, want one wrapping ErrBadInput", name, err)
		}
	}
}
