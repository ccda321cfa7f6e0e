package register_test

import (
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/register"
)

// TestRegisterOpDescribesSteps checks RegisterOp against Step: a read is
// legal exactly in the state it names, a write sets its value, a cas
// expects Old and sets Value.
func TestRegisterOpDescribesSteps(t *testing.T) {
	m := register.Model{}
	conv := func(typ core.Type, f string, in, out any) (any, any) {
		i, o, keep, err := m.Operation(checkers.Operation{Type: typ, F: f, Key: "k0", Input: in, Output: out})
		if err != nil || !keep {
			t.Fatalf("Operation(%s %s): keep %v, %v", typ, f, keep, err)
		}
		return i, o
	}
	// States: absent, then 5 (written), then 6 (cas).
	absent := m.Init()
	in, out := conv(core.OK, register.Write, int64(5), int64(5))
	_, five := m.Step(absent, in, out)
	in, out = conv(core.OK, register.CAS, [2]int64{5, 6}, [2]int64{5, 6})
	_, six := m.Step(five, in, out)

	cases := []struct {
		name       string
		in, out    any
		kind       checkers.RegisterKind
		value, old any
		legalIn    any // a state where Step accepts it
		illegalIn  any // one where it does not (nil: none)
		afterLegal any
	}{
		{"read of a value", nil, nil, checkers.RegisterRead, five, nil, five, six, five},
		{"read of absent", nil, nil, checkers.RegisterRead, absent, nil, absent, five, absent},
		{"write", nil, nil, checkers.RegisterWrite, five, nil, six, nil, five},
		{"cas", nil, nil, checkers.RegisterCAS, six, five, five, six, six},
	}
	cases[0].in, cases[0].out = conv(core.OK, register.Read, nil, int64(5))
	cases[1].in, cases[1].out = conv(core.OK, register.Read, nil, nil)
	cases[2].in, cases[2].out = conv(core.OK, register.Write, int64(5), int64(5))
	cases[3].in, cases[3].out = conv(core.OK, register.CAS, [2]int64{5, 6}, [2]int64{5, 6})
	for _, c := range cases {
		op, ok := m.RegisterOp(c.in, c.out)
		if !ok || op.Kind != c.kind || op.Value != c.value || op.Old != c.old {
			t.Errorf("%s: RegisterOp = %+v, %v; want kind %d value %v old %v", c.name, op, ok, c.kind, c.value, c.old)
		}
		if legal, after := m.Step(c.legalIn, c.in, c.out); !legal || after != c.afterLegal {
			t.Errorf("%s: Step in %v = %v, %v; want legal, %v", c.name, c.legalIn, legal, after, c.afterLegal)
		}
		if c.illegalIn != nil {
			if legal, _ := m.Step(c.illegalIn, c.in, c.out); legal {
				t.Errorf("%s: Step legal in %v", c.name, c.illegalIn)
			}
		}
	}
	if _, ok := m.RegisterOp("not an input", nil); ok {
		t.Error("RegisterOp accepted a value Operation did not make")
	}
}

// TestCheckUsesUniqueValues: the workload's values are unique, so its keys
// are decided by the unique-values algorithm; a key where a hand-written
// history writes a value twice goes to porcupine.
func TestCheckUsesUniqueValues(t *testing.T) {
	var b builder
	b.write(0, "k0", 1)
	b.inv(1, register.CAS, "k0", [2]int64{1, 2})
	b.add(1, core.Info, register.CAS, "k0", [2]int64{1, 2})
	b.read(2, "k0", int64(2))
	b.write(0, "k1", 7)
	b.write(0, "k1", 7)
	b.read(2, "k1", int64(7))
	res := check(t, b.h)
	d, ok := res.Details.(*checkers.LinearizabilityDetails)
	if !ok || res.Verdict != core.Valid || len(d.PerKey) != 2 {
		t.Fatalf("verdict %s, details %+v", res.Verdict, res.Details)
	}
	if got := []string{d.PerKey[0].Algorithm, d.PerKey[1].Algorithm}; got[0] != checkers.AlgorithmUniqueValues || got[1] != checkers.AlgorithmPorcupine {
		t.Errorf("algorithms %v, want k0 by %s and k1 by %s", got, checkers.AlgorithmUniqueValues, checkers.AlgorithmPorcupine)
	}
}
