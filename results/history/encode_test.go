package history

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/faultline/faultline/core"
)

// stdJSON encodes v as encoding/json does without HTML escaping.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var trickyStrings = []string{
	"",
	"plain",
	`say "hi"`,
	`back\slash`,
	"<script>alert(1)</script>",
	"a&b>c<d",
	"tab\there\nnewline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f",
	"héllo wörld — ☃ 😀 中文",
	"\u2028line\u2029para",
	"bad utf8 \xff\xfe end",
	"truncated rune \xe2\x82",
	"\xed\xa0\x80 surrogate bytes",
	"/slash/",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		got := string(appendString(nil, s))
		if want := stdJSON(t, s); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("appendString(%q) = %s is not valid JSON: %v", s, got, err)
		}
	}
}

type customValue struct {
	A int    `json:"a"`
	B string `json:"b"`
}

func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil,
		int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64),
		0, 7, -7,
		int32(-5), uint64(math.MaxUint64),
		[2]int64{1, 4}, [2]int64{-1, math.MaxInt64},
		[]int64{}, []int64{1, 2, 3}, []int64(nil),
		[]int{5, 6}, []int(nil),
		"", "k<1>", "quote\"d",
		[]string{"a", "<b>"}, []string(nil),
		true, false,
		0.0, 1.5, -2.25, 1e21, 1e20, 1e-6, 1e-7, 123456789.125, math.SmallestNonzeroFloat64, math.MaxFloat64, -0.0,
		map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": nil, "<x>": {}},
		map[string][]string(nil),
		map[string][]string{},
		[]any{1, "two", nil, []any{true}, map[string]any{"z": 1, "a": []int64{2}}},
		map[string]any{"grudge": map[string][]string{"n1": {"n2"}}, "k": "v"},
		json.RawMessage(`{ "a" : [1, 2] }`),
		json.RawMessage(nil),
		customValue{A: 1, B: "<b>"},
		&customValue{A: 2},
		map[string]int{"b": 2, "a": 1},
		[]byte("bytes"),
		uint8(3),
	}
	for _, v := range values {
		got, err := appendValue(nil, v)
		if err != nil {
			t.Errorf("appendValue(%#v): %v", v, err)
			continue
		}
		if want := stdJSON(t, v); string(got) != want {
			t.Errorf("appendValue(%#v) = %s, want %s", v, got, want)
		}
	}
}

func TestAppendValueRejects(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), make(chan int), json.RawMessage(`{bad`), func() {}} {
		if _, err := appendValue(nil, v); err == nil {
			t.Errorf("appendValue(%T) succeeded, want an error", v)
		}
	}
	loop := []any{nil}
	loop[0] = loop
	if _, err := appendValue(nil, loop); err == nil {
		t.Error("appendValue(self-referencing slice) succeeded, want an error")
	}
}

func TestAppendEventFormat(t *testing.T) {
	cases := []struct {
		e    core.Event
		want string
	}{
		{
			core.Event{Index: 0, Time: 1200345, Process: 3, Op: core.Op{Type: core.Invoke, F: "cas", Key: "k2", Value: [2]int64{1, 4}}},
			`{"index":0,"time":1200345,"process":3,"type":"invoke","f":"cas","key":"k2","value":[1,4]}`,
		},
		{
			core.Event{Index: 1, Time: 1900871, Process: 3, Op: core.Op{Type: core.Fail, F: "cas", Key: "k2", Value: [2]int64{1, 4}, Node: "n2"}},
			`{"index":1,"time":1900871,"process":3,"type":"fail","f":"cas","key":"k2","value":[1,4],"node":"n2"}`,
		},
		{
			core.Event{Index: 2, Time: 2000000, Process: -1, Op: core.Op{Type: core.Info, F: "start-partition", Value: map[string]any{"grudge": map[string][]string{"n1": {"n2", "n3"}}}}},
			`{"index":2,"time":2000000,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{"n1":["n2","n3"]}}}`,
		},
		{
			core.Event{Index: 3, Time: 5, Process: 0, Op: core.Op{Type: core.Invoke, F: "read", Key: "k1"}},
			`{"index":3,"time":5,"process":0,"type":"invoke","f":"read","key":"k1","value":null}`,
		},
		{
			core.Event{Index: 4, Time: 6, Process: 0, Op: core.Op{Type: core.Info, F: "read", Key: "k1", Node: "n1", Error: "timeout after 1s"}},
			`{"index":4,"time":6,"process":0,"type":"info","f":"read","key":"k1","value":null,"node":"n1","error":"timeout after 1s"}`,
		},
	}
	for _, c := range cases {
		got, err := appendEvent(nil, c.e)
		if err != nil {
			t.Fatalf("appendEvent: %v", err)
		}
		if string(got) != c.want+"\n" {
			t.Errorf("appendEvent =\n%s\nwant\n%s", got, c.want)
		}
	}
}

func TestAppendEventDoesNotAllocate(t *testing.T) {
	e := core.Event{Index: 12345, Time: 987654321, Process: 7, Op: core.Op{Type: core.OK, F: "cas", Key: "k3", Value: [2]int64{3, 4}, Node: "n1"}}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = appendEvent(buf[:0], e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("appendEvent allocates %v times per event, want 0", allocs)
	}
}
