package register_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/register"
)

// builder writes histories by hand: every event is one millisecond after
// the previous one, so the order of calls is the real-time order.
type builder struct{ h core.History }

func (b *builder) add(process int, t core.Type, f, key string, v any) int {
	i := len(b.h)
	b.h = append(b.h, core.Event{
		Index: i, Time: int64(i+1) * 1e6, Process: process,
		Op: core.Op{Type: t, F: f, Key: key, Value: v},
	})
	return i
}

func (b *builder) inv(p int, f, key string, v any) int { return b.add(p, core.Invoke, f, key, v) }
func (b *builder) ok(p int, f, key string, v any) int  { return b.add(p, core.OK, f, key, v) }

// write records a complete, acknowledged write.
func (b *builder) write(p int, key string, v int64) {
	b.inv(p, register.Write, key, v)
	b.ok(p, register.Write, key, v)
}

// read records a complete read returning v and gives the indices of its
// invocation and completion.
func (b *builder) read(p int, key string, v any) (int, int) {
	i := b.inv(p, register.Read, key, nil)
	return i, b.ok(p, register.Read, key, v)
}

func check(t *testing.T, h core.History) core.CheckResult {
	t.Helper()
	res := register.Workload{}.Check(context.Background(), h, workloads.CheckOptions{})
	if len(res) != 1 {
		t.Fatalf("Check returned %d results, want 1", len(res))
	}
	if res[0].Checker != checkers.LinearizabilityName {
		t.Fatalf("checker = %q, want %q", res[0].Checker, checkers.LinearizabilityName)
	}
	return res[0]
}

func TestValidHistories(t *testing.T) {
	cases := map[string]func(b *builder){
		"concurrent reads see before and after a write": func(b *builder) {
			b.inv(0, register.Write, "k0", int64(1))
			b.inv(1, register.Read, "k0", nil)
			b.inv(2, register.Read, "k0", nil)
			b.ok(1, register.Read, "k0", int64(1))
			b.ok(2, register.Read, "k0", nil)
			b.ok(0, register.Write, "k0", int64(1))
			b.read(1, "k0", int64(1))
		},
		"concurrent writes in either order": func(b *builder) {
			b.inv(0, register.Write, "k0", int64(1))
			b.inv(1, register.Write, "k0", int64(2))
			b.inv(2, register.Read, "k0", nil)
			b.ok(2, register.Read, "k0", int64(2))
			b.ok(0, register.Write, "k0", int64(1))
			b.ok(1, register.Write, "k0", int64(2))
			b.read(2, "k0", int64(1))
		},
		"info write that took effect": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.Write, "k0", int64(2))
			b.add(1, core.Info, register.Write, "k0", int64(2))
			b.read(2, "k0", int64(1))
			b.read(2, "k0", int64(2))
		},
		"info write that never took effect": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.Write, "k0", int64(2))
			b.add(1, core.Info, register.Write, "k0", int64(2))
			b.read(2, "k0", int64(1))
			b.read(2, "k0", int64(1))
		},
		"info cas that took effect": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{1, 2})
			b.add(1, core.Info, register.CAS, "k0", [2]int64{1, 2})
			b.read(2, "k0", int64(2))
		},
		"info cas that never took effect": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{1, 2})
			b.add(1, core.Info, register.CAS, "k0", [2]int64{1, 2})
			b.read(2, "k0", int64(1))
			b.write(2, "k0", 3)
			b.read(2, "k0", int64(3))
		},
		"info cas whose compare cannot match": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{7, 2})
			b.add(1, core.Info, register.CAS, "k0", [2]int64{7, 2})
			b.read(2, "k0", int64(1))
		},
		"invocation never completed, later seen": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.Write, "k0", int64(2))
			b.read(2, "k0", int64(1))
			b.read(2, "k0", int64(2))
		},
		"invocation never completed, never seen": func(b *builder) {
			b.write(0, "k0", 1)
			b.read(2, "k0", int64(1))
			b.inv(1, register.CAS, "k0", [2]int64{1, 5})
			b.inv(2, register.Read, "k0", nil)
		},
		"failed operations are ignored": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{1, 5})
			b.add(1, core.Fail, register.CAS, "k0", [2]int64{1, 5})
			b.inv(1, register.Write, "k0", int64(6))
			b.add(1, core.Fail, register.Write, "k0", int64(6))
			b.inv(2, register.Read, "k0", nil)
			b.add(2, core.Fail, register.Read, "k0", nil)
			b.read(2, "k0", int64(1))
		},
		"successful cas chain": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(0, register.CAS, "k0", [2]int64{1, 2})
			b.ok(0, register.CAS, "k0", [2]int64{1, 2})
			b.inv(1, register.CAS, "k0", [2]int64{2, 3})
			b.ok(1, register.CAS, "k0", [2]int64{2, 3})
			b.read(2, "k0", int64(3))
		},
		"indeterminate read is left out": func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.Read, "k0", nil)
			b.add(1, core.Info, register.Read, "k0", int64(42))
			b.read(2, "k0", int64(1))
		},
		"nemesis events are not operations": func(b *builder) {
			b.write(0, "k0", 1)
			b.add(core.NemesisProcess, core.Info, "start-partition", "", map[string][]string{"n1": {"n2"}})
			b.read(2, "k0", int64(1))
			b.add(core.NemesisProcess, core.Info, "stop-partition", "", nil)
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			var b builder
			build(&b)
			res := check(t, b.h)
			if res.Verdict != core.Valid {
				t.Fatalf("verdict = %s (%s), want valid", res.Verdict, res.Summary)
			}
			if len(res.Anomalies) != 0 {
				t.Errorf("valid history has anomalies: %+v", res.Anomalies)
			}
		})
	}
}

func TestInvalidHistories(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *builder) (readInvoke, readComplete int)
		// state is what the description must say the key holds.
		state string
	}{
		{"stale read", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			b.write(1, "k0", 2)
			return b.read(2, "k0", int64(1))
		}, "k0 is 2"},
		{"lost write, previous value read", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			b.read(1, "k0", int64(1))
			b.write(0, "k0", 2)
			return b.read(1, "k0", int64(1))
		}, "k0 is 2"},
		{"lost write, key read as absent", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			return b.read(1, "k0", nil)
		}, "k0 is 1"},
		{"failed cas whose value is read", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{1, 2})
			b.add(1, core.Fail, register.CAS, "k0", [2]int64{1, 2})
			return b.read(2, "k0", int64(2))
		}, "k0 is 1"},
		{"value never written", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			return b.read(2, "k0", int64(99))
		}, "k0 is 1"},
		{"read of never-written value on an empty key", func(b *builder) (int, int) {
			return b.read(2, "k0", int64(99))
		}, "k0 is absent"},
		{"successful cas from a value the key did not hold", func(b *builder) (int, int) {
			b.write(0, "k0", 1)
			b.write(0, "k0", 2)
			i := b.inv(1, register.CAS, "k0", [2]int64{1, 3})
			return i, b.ok(1, register.CAS, "k0", [2]int64{1, 3})
		}, "k0 is 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			inv, done := tc.build(&b)
			res := check(t, b.h)
			if res.Verdict != core.Invalid {
				t.Fatalf("verdict = %s (%s), want invalid", res.Verdict, res.Summary)
			}
			if len(res.Anomalies) != 1 {
				t.Fatalf("got %d anomalies, want 1: %+v", len(res.Anomalies), res.Anomalies)
			}
			a := res.Anomalies[0]
			if a.Kind != checkers.NonlinearizableKind || a.Key != "k0" {
				t.Errorf("anomaly kind %q key %q, want %q on k0", a.Kind, a.Key, checkers.NonlinearizableKind)
			}
			if !slices.Contains(a.Events, inv) || !slices.Contains(a.Events, done) {
				t.Errorf("anomaly events %v lack the offending operation's events %d and %d", a.Events, inv, done)
			}
			if !strings.Contains(a.Description, tc.state) {
				t.Errorf("description %q does not say %q", a.Description, tc.state)
			}
			if !strings.Contains(res.Summary, "k0") {
				t.Errorf("summary %q does not name the key", res.Summary)
			}
		})
	}
}

func TestStaleReadNamesOverwritingWrite(t *testing.T) {
	var b builder
	b.write(0, "k0", 1)
	w2 := b.inv(1, register.Write, "k0", int64(2))
	b.ok(1, register.Write, "k0", int64(2))
	_, done := b.read(2, "k0", int64(1))
	a := check(t, b.h).Anomalies
	if len(a) != 1 {
		t.Fatalf("got %d anomalies, want 1", len(a))
	}
	if !slices.Contains(a[0].Events, w2) || !slices.Contains(a[0].Events, done) {
		t.Errorf("events %v should hold write 2 (event %d) and the read (event %d)", a[0].Events, w2, done)
	}
	want := "key k0: read returned 1 (process 2, 0.005s–0.006s), but in every order consistent with real time k0 is 2 while it runs"
	if a[0].Description != want {
		t.Errorf("description %q, want %q", a[0].Description, want)
	}
}

func TestStalenessOfAStaleRead(t *testing.T) {
	// Write 1 returns at 2ms, write 2 runs 3ms–4ms, the read of 1 is
	// invoked at 5ms: one write behind, 1ms stale. Through the Staler
	// seam, as a run's figures reach it.
	var b builder
	b.write(0, "k0", 1)
	b.write(1, "k0", 2)
	b.read(2, "k0", int64(1))
	var wl workloads.Workload = register.Workload{}
	staler, ok := wl.(workloads.Staler)
	if !ok {
		t.Fatal("the register workload is no Staler")
	}
	st := staler.Staleness(b.h, figures.Options{})
	if st.Reads != 1 || st.Stale != 1 || st.MaxNS != 1e6 || st.MaxBehind != 1 || len(st.Samples) != 1 || st.Samples[0].TimeNS != 5e6 {
		t.Errorf("staleness = %+v", *st)
	}
	if st := staler.Staleness(b.h, figures.Options{LoadEnd: 4e6}); st.Reads != 0 || st.Stale != 0 {
		t.Errorf("staleness before the read = %+v", *st)
	}
}

func TestOnlyTheInvalidKeyIsNamed(t *testing.T) {
	var b builder
	for _, k := range []string{"k0", "k1", "k2"} {
		b.write(0, k, 1)
	}
	b.write(1, "k1", 2)
	b.write(1, "k0", 3)
	_, done := b.read(2, "k1", int64(1)) // stale on k1 only
	b.read(2, "k0", int64(3))
	b.read(2, "k2", int64(1))
	res := check(t, b.h)
	if res.Verdict != core.Invalid {
		t.Fatalf("verdict = %s, want invalid", res.Verdict)
	}
	if len(res.Anomalies) != 1 || res.Anomalies[0].Key != "k1" {
		t.Fatalf("anomalies = %+v, want one on k1", res.Anomalies)
	}
	if !slices.Contains(res.Anomalies[0].Events, done) {
		t.Errorf("events %v lack the stale read %d", res.Anomalies[0].Events, done)
	}
	d, ok := res.Details.(*checkers.LinearizabilityDetails)
	if !ok {
		t.Fatalf("details are %T, want *checkers.LinearizabilityDetails", res.Details)
	}
	if d.Keys != 3 || d.InvalidKeys != 1 || d.ValidKeys != 2 {
		t.Errorf("details count %d keys, %d invalid, %d valid; want 3, 1, 2", d.Keys, d.InvalidKeys, d.ValidKeys)
	}
	for _, kd := range d.PerKey {
		want := core.Valid
		if kd.Key == "k1" {
			want = core.Invalid
		}
		if kd.Verdict != want {
			t.Errorf("key %s verdict %s, want %s", kd.Key, kd.Verdict, want)
		}
	}
	if strings.Contains(res.Summary, "k0") || strings.Contains(res.Summary, "k2") {
		t.Errorf("summary %q names a valid key", res.Summary)
	}
}

// decodeJSONL reads a history in the history.jsonl format, decoding client
// values with the register workload.
func decodeJSONL(t *testing.T, text string) core.History {
	t.Helper()
	var h core.History
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var raw struct {
			Index   int             `json:"index"`
			Time    int64           `json:"time"`
			Process int             `json:"process"`
			Type    core.Type       `json:"type"`
			F       string          `json:"f"`
			Key     string          `json:"key"`
			Value   json.RawMessage `json:"value"`
			Node    string          `json:"node"`
			Error   string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		e := core.Event{Index: raw.Index, Time: raw.Time, Process: raw.Process,
			Op: core.Op{Type: raw.Type, F: raw.F, Key: raw.Key, Node: raw.Node, Error: raw.Error}}
		if raw.Process != core.NemesisProcess {
			v, err := register.Workload{}.DecodeValue(raw.F, raw.Type, raw.Value)
			if err != nil {
				t.Fatalf("decode %q: %v", line, err)
			}
			e.Value = v
		}
		h = append(h, e)
	}
	return h
}

func TestJSONLHistories(t *testing.T) {
	valid := `
{"index":0,"time":1000,"process":0,"type":"invoke","f":"write","key":"k1","value":5}
{"index":1,"time":2000,"process":1,"type":"invoke","f":"cas","key":"k1","value":[5,6]}
{"index":2,"time":3000,"process":0,"type":"ok","f":"write","key":"k1","value":5,"node":"n1"}
{"index":3,"time":3500,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{"n1":["n2","n3"]}}}
{"index":4,"time":4000,"process":1,"type":"info","f":"cas","key":"k1","value":[5,6],"error":"timeout"}
{"index":5,"time":5000,"process":2,"type":"invoke","f":"read","key":"k1","value":null}
{"index":6,"time":6000,"process":2,"type":"ok","f":"read","key":"k1","value":6}
{"index":7,"time":7000,"process":2,"type":"invoke","f":"cas","key":"k1","value":[5,7]}
{"index":8,"time":8000,"process":2,"type":"fail","f":"cas","key":"k1","value":[5,7]}
{"index":9,"time":9000,"process":2,"type":"invoke","f":"read","key":"k2","value":null}
{"index":10,"time":10000,"process":2,"type":"ok","f":"read","key":"k2","value":null}
`
	if res := check(t, decodeJSONL(t, valid)); res.Verdict != core.Valid {
		t.Errorf("valid JSONL history: verdict %s (%s)", res.Verdict, res.Summary)
	}

	// The cas that failed would have set 7; reading 7 afterwards is not
	// linearizable.
	invalid := valid + `
{"index":11,"time":11000,"process":2,"type":"invoke","f":"read","key":"k1","value":null}
{"index":12,"time":12000,"process":2,"type":"ok","f":"read","key":"k1","value":7}
`
	res := check(t, decodeJSONL(t, invalid))
	if res.Verdict != core.Invalid {
		t.Fatalf("invalid JSONL history: verdict %s (%s)", res.Verdict, res.Summary)
	}
	if len(res.Anomalies) != 1 || res.Anomalies[0].Key != "k1" || !slices.Contains(res.Anomalies[0].Events, 12) {
		t.Errorf("anomalies = %+v, want one on k1 holding event 12", res.Anomalies)
	}
}

func TestDecodeValue(t *testing.T) {
	w := register.Workload{}
	good := []struct {
		f    string
		t    core.Type
		raw  string
		want any
	}{
		{"write", core.Invoke, "5", int64(5)},
		{"write", core.OK, " -12 ", int64(-12)},
		{"write", core.Info, "null", nil},
		{"cas", core.Invoke, "[1, 4]", [2]int64{1, 4}},
		{"cas", core.Fail, "[1,4]", [2]int64{1, 4}},
		{"cas", core.Info, "", nil},
		{"read", core.Invoke, "null", nil},
		{"read", core.Invoke, "", nil},
		{"read", core.OK, "17", int64(17)},
		{"read", core.OK, "null", nil},
		{"read", core.OK, "9223372036854775807", int64(9223372036854775807)},
	}
	for _, c := range good {
		got, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if err != nil {
			t.Errorf("DecodeValue(%s, %s, %q): %v", c.f, c.t, c.raw, err)
			continue
		}
		if got != c.want {
			t.Errorf("DecodeValue(%s, %s, %q) = %#v, want %#v", c.f, c.t, c.raw, got, c.want)
		}
	}
	bad := []struct {
		f   string
		t   core.Type
		raw string
	}{
		{"write", core.Invoke, `"5"`},
		{"write", core.Invoke, "1.5"},
		{"write", core.Invoke, "null"},
		{"write", core.OK, "[1,2]"},
		{"write", core.OK, "9223372036854775808"},
		{"cas", core.Invoke, "[1]"},
		{"cas", core.Invoke, "[1,2,3]"},
		{"cas", core.Invoke, `[1,"x"]`},
		{"cas", core.Invoke, "3"},
		{"cas", core.Invoke, "null"},
		{"read", core.OK, `"17"`},
		{"read", core.OK, "{}"},
		{"read", core.OK, "true"},
		{"append", core.Invoke, "1"},
	}
	for _, c := range bad {
		_, err := w.DecodeValue(c.f, c.t, json.RawMessage(c.raw))
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("DecodeValue(%s, %s, %q) error %v, want one wrapping ErrBadInput", c.f, c.t, c.raw, err)
			continue
		}
		if !strings.Contains(err.Error(), c.f) || (c.raw != "" && !strings.Contains(err.Error(), c.raw)) {
			t.Errorf("error %q does not name %s and %s", err, c.f, c.raw)
		}
	}
}

func TestModelRejectsWrongValueTypes(t *testing.T) {
	var b builder
	b.inv(0, register.Write, "k0", "five")
	b.ok(0, register.Write, "k0", "five")
	_, err := checkers.Linearizable(context.Background(), b.h, register.Model{}, checkers.LinearizabilityOptions{})
	if !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("error %v, want one wrapping ErrBadInput", err)
	}
	res := check(t, b.h)
	if res.Verdict != core.Unknown || !strings.Contains(res.Summary, "five") {
		t.Errorf("result %s %q, want unknown naming the value", res.Verdict, res.Summary)
	}
}

func TestMalformedHistory(t *testing.T) {
	var b builder
	b.write(0, "k0", 1)
	b.ok(1, register.Read, "k0", int64(1)) // no invocation
	_, err := checkers.Linearizable(context.Background(), b.h, register.Model{}, checkers.LinearizabilityOptions{})
	if !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("error %v, want one wrapping ErrBadInput", err)
	}
	res := check(t, b.h)
	if res.Verdict != core.Unknown {
		t.Errorf("verdict %s on a malformed history, want unknown", res.Verdict)
	}
}

func firstOps(seed uint64, keys, n int) []core.Op {
	g := register.Workload{}.NewGenerator(keys, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	ops := make([]core.Op, n)
	for i := range ops {
		op, ok := g.Next()
		if !ok {
			panic("generator ended")
		}
		ops[i] = op
	}
	return ops
}

func TestGeneratorDeterministic(t *testing.T) {
	a, b := firstOps(42, 10, 1000), firstOps(42, 10, 1000)
	if !slices.EqualFunc(a, b, opEqual) {
		t.Fatal("same seed gave different sequences")
	}
	c := firstOps(43, 10, 1000)
	if slices.EqualFunc(a, c, opEqual) {
		t.Fatal("different seeds gave the same sequence")
	}
}

func opEqual(a, b core.Op) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestGeneratorOperations(t *testing.T) {
	const keys, n = 7, 20000
	ops := firstOps(7, keys, n)
	seen := make(map[int64]bool)
	written := make(map[string]map[int64]bool)
	counts := make(map[string]int)
	fresh := func(v int64) {
		if v < 1 {
			t.Fatalf("written value %d, want values from 1", v)
		}
		if seen[v] {
			t.Fatalf("value %d written twice", v)
		}
		seen[v] = true
	}
	for i, op := range ops {
		if op.Type != core.Invoke {
			t.Fatalf("op %d has type %s, want invoke", i, op.Type)
		}
		var k int
		if _, err := fmt.Sscanf(op.Key, "k%d", &k); err != nil || k < 0 || k >= keys || op.Key != fmt.Sprintf("k%d", k) {
			t.Fatalf("op %d key %q outside k0..k%d", i, op.Key, keys-1)
		}
		if written[op.Key] == nil {
			written[op.Key] = make(map[int64]bool)
		}
		counts[op.F]++
		switch op.F {
		case register.Read:
			if op.Value != nil {
				t.Fatalf("read %d carries %v, want nil", i, op.Value)
			}
		case register.Write:
			v, ok := op.Value.(int64)
			if !ok {
				t.Fatalf("write %d carries %T, want int64", i, op.Value)
			}
			fresh(v)
			written[op.Key][v] = true
		case register.CAS:
			p, ok := op.Value.([2]int64)
			if !ok {
				t.Fatalf("cas %d carries %T, want [2]int64", i, op.Value)
			}
			if !written[op.Key][p[0]] {
				t.Fatalf("cas %d expects %d, never written to %s", i, p[0], op.Key)
			}
			fresh(p[1])
			written[op.Key][p[1]] = true
		default:
			t.Fatalf("op %d has f %q", i, op.F)
		}
	}
	for f, lo := range map[string]int{register.Read: n * 2 / 5, register.Write: n / 5, register.CAS: n / 6} {
		if counts[f] < lo {
			t.Errorf("%d %s ops in %d, want at least %d", counts[f], f, n, lo)
		}
	}
}

func TestFinalReadsCoverEveryKey(t *testing.T) {
	for _, keys := range []int{1, 5, 100} {
		g := register.Workload{}.NewGenerator(keys, rand.New(rand.NewPCG(1, 2)))
		reads := g.FinalReads()
		if len(reads) != keys {
			t.Fatalf("%d final reads for %d keys", len(reads), keys)
		}
		got := make(map[string]bool)
		for _, op := range reads {
			if op.F != register.Read || op.Type != core.Invoke || op.Value != nil {
				t.Errorf("final read %+v is not a read invocation", op)
			}
			got[op.Key] = true
		}
		for i := range keys {
			if !got[fmt.Sprintf("k%d", i)] {
				t.Errorf("no final read of k%d", i)
			}
		}
	}
}

// TestGeneratedSequentialRunIsValid runs generated operations one at a
// time against an in-memory register and checks the history.
func TestGeneratedSequentialRunIsValid(t *testing.T) {
	g := register.NewGenerator(3, rand.New(rand.NewPCG(5, 6)))
	regs := make(map[string]int64)
	var b builder
	for range 500 {
		op, _ := g.Next()
		b.inv(0, op.F, op.Key, op.Value)
		switch op.F {
		case register.Read:
			var v any
			if x, ok := regs[op.Key]; ok {
				v = x
			}
			b.ok(0, op.F, op.Key, v)
		case register.Write:
			regs[op.Key] = op.Value.(int64)
			b.ok(0, op.F, op.Key, op.Value)
		case register.CAS:
			p := op.Value.([2]int64)
			if x, ok := regs[op.Key]; ok && x == p[0] {
				regs[op.Key] = p[1]
				b.ok(0, op.F, op.Key, op.Value)
			} else {
				b.add(0, core.Fail, op.F, op.Key, op.Value)
			}
		}
	}
	if res := check(t, b.h); res.Verdict != core.Valid {
		t.Fatalf("sequential run: verdict %s (%s)", res.Verdict, res.Summary)
	}
}

// infoWrite records an indeterminate write of v by process p.
func (b *builder) infoWrite(p int, key string, v int64) {
	b.inv(p, register.Write, key, v)
	b.add(p, core.Info, register.Write, key, v)
}

// TestReductionKeepsVerdicts: the reduction of indeterminate operations
// (leaving out unobserved ones, closing observed ones) must never change a
// verdict, in either direction.
func TestReductionKeepsVerdicts(t *testing.T) {
	cases := []struct {
		name  string
		want  core.Verdict
		build func(b *builder)
	}{
		{"unobserved info writes around a stale read stay invalid", core.Invalid, func(b *builder) {
			b.write(0, "k0", 1)
			b.infoWrite(1, "k0", 7)
			b.write(2, "k0", 2)
			b.infoWrite(3, "k0", 8)
			b.read(4, "k0", int64(1))
		}},
		{"an observed info write closes before its reader and stays valid", core.Valid, func(b *builder) {
			b.write(0, "k0", 1)
			b.infoWrite(1, "k0", 7)
			b.read(2, "k0", int64(7))
			b.read(2, "k0", int64(7))
		}},
		{"a value read before its only writer was invoked stays invalid", core.Invalid, func(b *builder) {
			b.read(0, "k0", int64(5))
			b.infoWrite(1, "k0", 5)
		}},
		{"an observed info write cannot be undone by later reads", core.Invalid, func(b *builder) {
			b.write(0, "k0", 1)
			b.infoWrite(1, "k0", 7)
			b.read(2, "k0", int64(7))
			b.read(2, "k0", int64(1))
		}},
		{"an info cas whose new value is expected by a later info cas is kept", core.Valid, func(b *builder) {
			b.write(0, "k0", 1)
			b.inv(1, register.CAS, "k0", [2]int64{1, 2})
			b.add(1, core.Info, register.CAS, "k0", [2]int64{1, 2})
			b.inv(2, register.CAS, "k0", [2]int64{2, 3})
			b.add(2, core.Info, register.CAS, "k0", [2]int64{2, 3})
			b.read(3, "k0", int64(3))
		}},
		{"the same value written twice is left alone", core.Valid, func(b *builder) {
			b.write(0, "k0", 4)
			b.write(0, "k0", 1)
			b.infoWrite(1, "k0", 4)
			b.read(2, "k0", int64(4))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b builder
			c.build(&b)
			if got := check(t, b.h); got.Verdict != c.want {
				t.Fatalf("verdict %s, want %s: %s", got.Verdict, c.want, got.Summary)
			}
		})
	}
}

// TestReductionTamesManyInfoWrites: many overlapping indeterminate writes
// give porcupine an exponential search (every subset of them may or may not
// have happened); with the reduction the same histories are decided within
// the budget, the valid one valid and the one ending in a stale read
// invalid.
func TestReductionTamesManyInfoWrites(t *testing.T) {
	build := func(stale bool) core.History {
		var b builder
		v := int64(0)
		for round := 0; round < 30; round++ {
			// Ten processes time out on writes nobody reads, then one
			// write is acknowledged and read back.
			for p := 0; p < 10; p++ {
				v++
				b.infoWrite(100*round+p, "k0", v)
			}
			v++
			b.write(100*round+50, "k0", v)
			b.read(100*round+51, "k0", v)
		}
		if stale {
			b.read(9999, "k0", v-11) // the acknowledged write of the round before
		}
		return b.h
	}
	for _, c := range []struct {
		stale bool
		want  core.Verdict
	}{{false, core.Valid}, {true, core.Invalid}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res := register.Workload{}.Check(ctx, build(c.stale), workloads.CheckOptions{})
		cancel()
		if res[0].Verdict != c.want {
			t.Fatalf("stale=%v: verdict %s, want %s: %s", c.stale, res[0].Verdict, c.want, res[0].Summary)
		}
	}
}
