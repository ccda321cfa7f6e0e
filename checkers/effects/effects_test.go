package effects_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers/effects"
	"github.com/faultline/faultline/core"
)

// at is an attempt of type t whose invocation and completion are events
// i and i+1.
func at(t core.Type, i int) effects.Attempt {
	return effects.Attempt{Type: t, Events: []int{i, i + 1}}
}

// req is a request for key "a0" of content "amount 10".
func req(id string, as ...effects.Attempt) effects.Request {
	return effects.Request{ID: id, Key: "a0", Content: "amount 10", Attempts: as}
}

// eff is an effect of id in key "a0" with content "amount 10", read back
// by the read at events read and read+1, named "row <row>".
func eff(id string, row, read int) effects.Effect {
	return effects.Effect{ID: id, Key: "a0", Content: "amount 10", Where: fmt.Sprintf("row %d", row), Events: []int{read, read + 1}}
}

const ok, fail, info = core.OK, core.Fail, core.Info

func check(t *testing.T, reqs []effects.Request, effs []effects.Effect) effects.Result {
	t.Helper()
	res, err := effects.Check(reqs, effs)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func dump(as []effects.Anomaly) string {
	s := ""
	for _, a := range as {
		s += fmt.Sprintf("\n  %s %s %v: %s", a.Kind, a.ID, a.Events(), a.Description)
	}
	return s
}

// TestValid: histories in which every request took effect as often as its
// attempts allow, indeterminate attempts, retries and duplicate
// deliveries included.
func TestValid(t *testing.T) {
	cases := map[string]struct {
		reqs []effects.Request
		effs []effects.Effect
		want effects.Counts
	}{
		"nothing sent, nothing read": {nil, nil, effects.Counts{}},
		"acknowledged once, one effect": {
			[]effects.Request{req("r1", at(ok, 0))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 1, Acknowledged: 1, Effects: 1}},
		"failed, no effect": {
			[]effects.Request{req("r1", at(fail, 0))}, nil,
			effects.Counts{IDs: 1, Attempts: 1, Failed: 1}},
		"indeterminate, applied": {
			[]effects.Request{req("r1", at(info, 0))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 1, Indeterminate: 1, IndeterminateApplied: 1, Effects: 1}},
		"indeterminate, not applied": {
			[]effects.Request{req("r1", at(info, 0))}, nil,
			effects.Counts{IDs: 1, Attempts: 1, Indeterminate: 1, IndeterminateNotApplied: 1}},
		"indeterminate then failed, applied": {
			[]effects.Request{req("r1", at(info, 0), at(fail, 2))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 2, Indeterminate: 1, IndeterminateApplied: 1, Effects: 1}},
		"retried after timeouts, then acknowledged once": {
			[]effects.Request{req("r1", at(info, 0), at(info, 2), at(ok, 4))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 3, Acknowledged: 1, Effects: 1}},
		"delivered twice, both acknowledged, applied once": {
			[]effects.Request{req("r1", at(ok, 0)), req("r1", at(ok, 1))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 2, Acknowledged: 1, Effects: 1}},
		"delivered twice, the second refused": {
			[]effects.Request{req("r1", at(ok, 0)), req("r1", at(fail, 1))}, []effects.Effect{eff("r1", 1, 10)},
			effects.Counts{IDs: 1, Attempts: 2, Acknowledged: 1, Effects: 1}},
		"unread request acknowledged without an effect seen": {
			[]effects.Request{{ID: "r1", Attempts: []effects.Attempt{at(ok, 0)}, Unread: true}}, nil,
			effects.Counts{IDs: 1, Attempts: 1, Unread: 1}},
		"no key or content compared when not given": {
			[]effects.Request{{ID: "r1", Attempts: []effects.Attempt{at(ok, 0)}}}, []effects.Effect{{ID: "r1", Key: "a9", Content: "amount 3"}},
			effects.Counts{IDs: 1, Attempts: 1, Acknowledged: 1, Effects: 1}},
		"many requests, every outcome": {
			[]effects.Request{req("r1", at(ok, 0)), req("r2", at(fail, 2)), req("r3", at(info, 4)), req("r4", at(info, 6)), req("r1", at(info, 8))},
			[]effects.Effect{eff("r4", 1, 20), eff("r1", 2, 20)},
			effects.Counts{IDs: 4, Attempts: 5, Acknowledged: 1, Failed: 1, Indeterminate: 2, IndeterminateApplied: 1, IndeterminateNotApplied: 1, Effects: 2}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := check(t, tc.reqs, tc.effs)
			if !res.Valid() || len(res.ByKind) != 0 {
				t.Fatalf("anomalies, want none:%s", dump(res.Anomalies))
			}
			if res.Counts != tc.want {
				t.Errorf("counts %+v, want %+v", res.Counts, tc.want)
			}
		})
	}
}

// TestInvalid: histories with requests that took effect the wrong number
// of times, effects of requests never sent and effects unlike their
// requests. Each must give exactly the anomalies listed, naming the
// request and the events involved.
func TestInvalid(t *testing.T) {
	type want struct {
		kinds  map[effects.Kind]int
		id     string // the request id of the first anomaly
		events []int  // the events of the first anomaly
	}
	cases := map[string]struct {
		reqs []effects.Request
		effs []effects.Effect
		want want
	}{
		"acknowledged, applied twice": {
			[]effects.Request{req("r1", at(ok, 0)), req("r2", at(ok, 2))},
			[]effects.Effect{eff("r1", 1, 10), eff("r2", 2, 10), eff("r1", 3, 12)},
			want{map[effects.Kind]int{effects.Duplicate: 1}, "r1", []int{0, 1, 10, 11, 12, 13}}},
		"delivered twice by two clients, applied twice": {
			[]effects.Request{req("r1", at(ok, 0)), req("r1", at(ok, 1))},
			[]effects.Effect{eff("r1", 1, 10), eff("r1", 2, 10)},
			want{map[effects.Kind]int{effects.Duplicate: 1}, "r1", []int{0, 1, 2, 10, 11}}},
		"retried after a timeout, applied twice": {
			[]effects.Request{req("r1", at(info, 0), at(ok, 2))},
			[]effects.Effect{eff("r1", 1, 10), eff("r1", 2, 10)},
			want{map[effects.Kind]int{effects.Duplicate: 1}, "r1", []int{0, 1, 2, 3, 10, 11}}},
		"indeterminate, applied twice": {
			[]effects.Request{req("r1", at(info, 0))},
			[]effects.Effect{eff("r1", 1, 10), eff("r1", 2, 10)},
			want{map[effects.Kind]int{effects.Duplicate: 1}, "r1", []int{0, 1, 10, 11}}},
		"acknowledged, not applied": {
			[]effects.Request{req("r1", at(ok, 0)), req("r2", at(ok, 2))},
			[]effects.Effect{eff("r2", 1, 10)},
			want{map[effects.Kind]int{effects.Missing: 1}, "r1", []int{0, 1}}},
		"acknowledged on a retry, not applied": {
			[]effects.Request{req("r1", at(info, 0), at(ok, 2))}, nil,
			want{map[effects.Kind]int{effects.Missing: 1}, "r1", []int{0, 1, 2, 3}}},
		"failed, applied": {
			[]effects.Request{req("r1", at(fail, 0), at(fail, 2))},
			[]effects.Effect{eff("r1", 1, 10)},
			want{map[effects.Kind]int{effects.Unexpected: 1}, "r1", []int{0, 1, 2, 3, 10, 11}}},
		"failed, applied twice": {
			[]effects.Request{req("r1", at(fail, 0))},
			[]effects.Effect{eff("r1", 1, 10), eff("r1", 2, 10)},
			want{map[effects.Kind]int{effects.Duplicate: 1, effects.Unexpected: 1}, "r1", []int{0, 1, 10, 11}}},
		"an effect of a request never sent": {
			[]effects.Request{req("r1", at(ok, 0))},
			[]effects.Effect{eff("r1", 1, 10), eff("r9", 2, 12)},
			want{map[effects.Kind]int{effects.Phantom: 1}, "r9", []int{12, 13}}},
		"two effects of one request never sent": {
			nil,
			[]effects.Effect{eff("r9", 1, 10), eff("r9", 2, 12)},
			want{map[effects.Kind]int{effects.Phantom: 1}, "r9", []int{10, 11, 12, 13}}},
		"an effect naming no request": {
			nil,
			[]effects.Effect{eff("", 1, 10)},
			want{map[effects.Kind]int{effects.Phantom: 1}, "", []int{10, 11}}},
		"an effect of another amount": {
			[]effects.Request{req("r1", at(ok, 0))},
			[]effects.Effect{{ID: "r1", Key: "a0", Content: "amount 11", Where: "row 1", Events: []int{10, 11}}},
			want{map[effects.Kind]int{effects.Mismatch: 1}, "r1", []int{0, 1, 10, 11}}},
		"an effect in another account": {
			[]effects.Request{req("r1", at(info, 0))},
			[]effects.Effect{{ID: "r1", Key: "a1", Content: "amount 10", Where: "row 1", Events: []int{10, 11}}},
			want{map[effects.Kind]int{effects.Mismatch: 1}, "r1", []int{0, 1, 10, 11}}},
		"unread, still applied twice": {
			[]effects.Request{{ID: "r1", Key: "a0", Content: "amount 10", Attempts: []effects.Attempt{at(ok, 0)}, Unread: true}},
			[]effects.Effect{eff("r1", 1, 10), eff("r1", 2, 10)},
			want{map[effects.Kind]int{effects.Duplicate: 1}, "r1", []int{0, 1, 10, 11}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := check(t, tc.reqs, tc.effs)
			if res.Valid() {
				t.Fatal("no anomaly")
			}
			got := map[effects.Kind]int{}
			for _, a := range res.Anomalies {
				got[a.Kind]++
			}
			if !maps.Equal(got, tc.want.kinds) || !maps.Equal(res.ByKind, tc.want.kinds) {
				t.Fatalf("anomalies %v (ByKind %v), want %v:%s", got, res.ByKind, tc.want.kinds, dump(res.Anomalies))
			}
			a := res.Anomalies[0]
			if a.ID != tc.want.id || !reflect.DeepEqual(a.Events(), tc.want.events) {
				t.Errorf("first anomaly on %q with events %v, want %q with %v: %s", a.ID, a.Events(), tc.want.id, tc.want.events, a.Description)
			}
			if a.ID != "" && !strings.Contains(a.Description, "request "+a.ID) {
				t.Errorf("description %q does not name request %s", a.Description, a.ID)
			}
			c := a.Core()
			if c.Kind != string(a.Kind) || c.Key != a.Key || c.Description != a.Description || !reflect.DeepEqual(c.Events, a.Events()) {
				t.Errorf("Core() = %+v from %+v", c, a)
			}
		})
	}
}

// TestDescriptions pins the sentence of each kind.
func TestDescriptions(t *testing.T) {
	reqs := []effects.Request{
		req("r1", at(ok, 0)), req("r1", at(info, 2)),
		req("r2", at(ok, 4)),
		req("r3", at(fail, 6), at(fail, 8)),
		req("r4", at(ok, 10)),
	}
	effs := []effects.Effect{
		eff("r1", 1, 20), eff("r1", 2, 20), eff("r3", 3, 20),
		{ID: "r4", Key: "a1", Content: "amount 12", Where: "row 1 of a1", Events: []int{22, 23}},
		{ID: "r9", Key: "a0"},
	}
	res := check(t, reqs, effs)
	want := []struct {
		kind effects.Kind
		desc string
	}{
		{effects.Duplicate, "request r1 took effect 2 times, at most once allowed: row 1 (read at event 21), row 2 (read at event 21); attempts: ok at events 0, 1; info at events 2, 3"},
		{effects.Missing, "request r2 was acknowledged but took no effect: no effect read back names it; attempt: ok at events 4, 5"},
		{effects.Unexpected, "request r3 failed on every attempt, yet took effect: row 3 (read at event 21); attempts: fail at events 6, 7; fail at events 8, 9"},
		{effects.Phantom, "effect 4 names request r9, which was never sent"},
		{effects.Mismatch, "request r4 was sent for a0, but row 1 of a1 (read at event 23) is in a1; and sent as amount 10, but row 1 of a1 (read at event 23) records amount 12"},
	}
	if len(res.Anomalies) != len(want) {
		t.Fatalf("%d anomalies, want %d:%s", len(res.Anomalies), len(want), dump(res.Anomalies))
	}
	for i, w := range want {
		a := res.Anomalies[i]
		if a.Kind != w.kind || a.Description != w.desc {
			t.Errorf("anomaly %d: %s %q\n want %s %q", i, a.Kind, a.Description, w.kind, w.desc)
		}
	}
	if res.Anomalies[4].Key != "a0" || !reflect.DeepEqual(res.Anomalies[4].Effects, []int{3}) {
		t.Errorf("mismatch on key %q effects %v, want a0 and effect 3", res.Anomalies[4].Key, res.Anomalies[4].Effects)
	}
}

// TestBadInput: requests the checker cannot judge.
func TestBadInput(t *testing.T) {
	other := req("r1", at(ok, 2))
	other.Content = "amount 11"
	elsewhere := req("r1", at(ok, 2))
	elsewhere.Key = "a1"
	for name, tc := range map[string]struct {
		reqs []effects.Request
		says string
	}{
		"no id":                    {[]effects.Request{req("", at(ok, 0))}, "a request without an id (attempts at events 0, 1)"},
		"an attempt of no outcome": {[]effects.Request{req("r1", at(core.Invoke, 0))}, `request r1: attempt at events 0, 1 has outcome "invoke", not ok, fail or info`},
		"one id, two amounts":      {[]effects.Request{req("r1", at(ok, 0)), other}, "request r1 was sent as amount 10 for a0 (attempts at events 0, 1) and as amount 11 for a0 (attempts at events 2, 3)"},
		"one id, two accounts":     {[]effects.Request{req("r1", at(ok, 0)), elsewhere}, "request r1 was sent as amount 10 for a0 (attempts at events 0, 1) and as amount 10 for a1 (attempts at events 2, 3)"},
	} {
		_, err := effects.Check(tc.reqs, nil)
		if !errors.Is(err, core.ErrBadInput) || err.Error() != tc.says {
			t.Errorf("%s: error %v, want %q wrapping ErrBadInput", name, err, tc.says)
		}
	}
}

// TestAnomalyOrder: kinds in the order of Kinds, requests in the order
// they were first given.
func TestAnomalyOrder(t *testing.T) {
	reqs := []effects.Request{req("r3", at(ok, 0)), req("r1", at(ok, 2)), req("r2", at(ok, 4)), req("r3", at(ok, 6))}
	effs := []effects.Effect{eff("r2", 1, 10), eff("r2", 2, 10), eff("r8", 3, 10), eff("r7", 4, 10)}
	res := check(t, reqs, effs)
	var got []string
	for _, a := range res.Anomalies {
		got = append(got, string(a.Kind)+" "+a.ID)
	}
	want := []string{"duplicate-effect r2", "missing-effect r3", "missing-effect r1", "phantom-effect r8", "phantom-effect r7"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("anomalies in order %v, want %v", got, want)
	}
}

// benchInput is 100k requests: a fifth delivered twice, a tenth retried
// after a timeout, a twentieth failed, a twentieth indeterminate (half of
// them applied); every other one applied once. It also returns how many
// duplicates it planted (requests applied twice).
func benchInput(n int, dupEvery int) ([]effects.Request, []effects.Effect, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]effects.Request, 0, n+n/5)
	effs := make([]effects.Effect, 0, n)
	ev, planted := 0, 0
	for i := range n {
		id := fmt.Sprintf("r%d", i)
		key := fmt.Sprintf("a%d", rng.IntN(10))
		content := fmt.Sprintf("amount %d", 1+rng.IntN(1000))
		r := effects.Request{ID: id, Key: key, Content: content}
		applied := 1
		switch x := rng.IntN(20); {
		case x == 0:
			r.Attempts = []effects.Attempt{at(fail, ev)}
			applied = 0
		case x == 1:
			r.Attempts = []effects.Attempt{at(info, ev)}
			applied = rng.IntN(2)
		case x < 4:
			r.Attempts = []effects.Attempt{at(info, ev), at(ok, ev+2)}
		default:
			r.Attempts = []effects.Attempt{at(ok, ev)}
		}
		ev += 4
		reqs = append(reqs, r)
		if rng.IntN(5) == 0 {
			d := r
			d.Attempts = []effects.Attempt{at(ok, ev)}
			ev += 2
			reqs = append(reqs, d)
			applied = max(applied, 1)
		}
		if dupEvery > 0 && i%dupEvery == 0 && applied > 0 {
			applied++
			planted++
		}
		for range applied {
			effs = append(effs, effects.Effect{ID: id, Key: key, Content: content, Events: []int{-1}})
		}
	}
	// The final reads come last.
	for i := range effs {
		effs[i].Events = []int{ev + i}
	}
	return reqs, effs, planted
}

// TestLargeInput: on the benchmark's input with planted duplicates, every
// one is found and nothing else.
func TestLargeInput(t *testing.T) {
	reqs, effs, planted := benchInput(20_000, 97)
	res := check(t, reqs, effs)
	if res.ByKind[effects.Duplicate] != planted || len(res.Anomalies) != planted {
		t.Errorf("found %v, want %d duplicates and nothing else", res.ByKind, planted)
	}
	if c := res.Counts; c.IDs != 20_000 || c.Acknowledged+c.Failed+c.Indeterminate != c.IDs || c.Effects != len(effs) {
		t.Errorf("counts %+v", c)
	}
}

// BenchmarkCheck checks 100k requests (about 120k attempts).
//
//	go test -run '^$' -bench . -benchmem ./checkers/effects
func BenchmarkCheck(b *testing.B) {
	reqs, effs, _ := benchInput(100_000, 0)
	b.ResetTimer()
	for range b.N {
		res, err := effects.Check(reqs, effs)
		if err != nil || !res.Valid() {
			b.Fatal(err, dump(res.Anomalies))
		}
	}
}
