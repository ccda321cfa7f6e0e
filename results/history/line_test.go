package history

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
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

func TestAppendEventRejects(t *testing.T) {
	loop := []any{nil}
	loop[0] = loop
	for _, v := range []any{math.NaN(), math.Inf(1), make(chan int), json.RawMessage(`{bad`), func() {}, loop, strings.Repeat("x", MaxLineBytes)} {
		e := core.Event{Process: 0, Op: core.Op{Type: core.Invoke, F: "write", Value: v}}
		if _, err := appendEvent(nil, e); err == nil {
			t.Errorf("appendEvent(value %T) succeeded, want an error", v)
		}
	}
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyStrings {
		e := core.Event{Index: 1, Time: 2, Process: 3, Op: core.Op{Type: core.OK, F: s, Key: s, Value: s, Node: s, Error: s}}
		got, err := appendEvent(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		q := stdJSON(t, s)
		want := `{"index":1,"time":2,"process":3,"type":"ok","f":` + q
		if s != "" {
			want += `,"key":` + q
		}
		want += `,"value":` + q
		if s != "" {
			want += `,"node":` + q + `,"error":` + q
		}
		if want += "}\n"; string(got) != want {
			t.Errorf("appendEvent(%q) =\n%s\nwant\n%s", s, got, want)
		}
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
