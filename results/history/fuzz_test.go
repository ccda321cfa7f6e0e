package history

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
)

// The fuzz targets run their seed corpus as ordinary tests; run one with
// go test -fuzz=FuzzRoundTrip ./results/ to search further.

// jsonRoundTrip is what a string becomes after encoding/json writes and
// reads it (invalid UTF-8 turns into U+FFFD).
func jsonRoundTrip(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fuzzValue(sel uint8, s string, i, j int64, fl float64) any {
	if math.IsNaN(fl) || math.IsInf(fl, 0) {
		fl = 0
	}
	switch sel % 11 {
	case 0:
		return nil
	case 1:
		return i
	case 2:
		return int(j)
	case 3:
		return [2]int64{i, j}
	case 4:
		return []int64{i, j, i ^ j}
	case 5:
		return s
	case 6:
		return i%2 == 0
	case 7:
		return fl
	case 8:
		return map[string][]string{s: {s + "x"}, "n1": {"n2", s}}
	case 9:
		return []any{s, fl, nil, map[string]any{s: []any{true}}}
	}
	return struct {
		S string  `json:"s"`
		F float64 `json:"f"`
	}{s, fl}
}

func FuzzRoundTrip(f *testing.F) {
	for i, s := range trickyStrings {
		f.Add(uint16(i), uint8(i*7), s, "k"+s, "n1", s, int64(i)-3, int64(1)<<62, float64(i)/7, int64(i)*1e9)
	}
	f.Add(uint16(65535), uint8(255), "", "", "", "", int64(math.MinInt64), int64(math.MaxInt64), math.MaxFloat64, int64(math.MaxInt64))
	f.Add(uint16(0), uint8(3), "cas", "k2", "n2", "timeout", int64(1), int64(4), 1e-7, int64(1200345))
	f.Fuzz(func(t *testing.T, proc uint16, sel uint8, fname, key, node, errS string, vi, vj int64, fl float64, tm int64) {
		p := int(proc)
		// Times are not negative and never go backwards.
		t0 := tm & (1<<62 - 1)
		t1, t2 := t0+int64(sel%2), t0+int64(sel%2)+int64(proc%3)
		h := core.History{
			{Index: 0, Time: t0, Process: p, Op: core.Op{Type: core.Invoke, F: fname, Key: key, Value: fuzzValue(sel, errS, vi, vj, fl)}},
			{Index: 1, Time: t1, Process: p, Op: core.Op{Type: []core.Type{core.OK, core.Fail, core.Info}[sel%3], F: fname, Key: key,
				Value: fuzzValue(sel/11, fname, vj, vi, -fl), Node: node, Error: errS}},
			{Index: 2, Time: t2, Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: errS, Key: node, Value: fuzzValue(sel/3, key, vi, vj, fl)}},
		}
		var buf bytes.Buffer
		w := NewWriterTo(&buf)
		for _, e := range h {
			if err := w.Write(e); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("written line is not valid JSON: %s", line)
			}
		}
		got, info, err := ReadInfo(bytes.NewReader(buf.Bytes()), "h", nil)
		if err != nil {
			t.Fatalf("read back: %v\n%s", err, buf.Bytes())
		}
		if len(got) != len(h) || info.Torn {
			t.Fatalf("read back %d events (info %+v), want %d", len(got), info, len(h))
		}
		for i, want := range h {
			g := got[i]
			if g.Index != want.Index || g.Time != want.Time || g.Process != want.Process || g.Type != want.Type {
				t.Fatalf("event %d: got %+v, want %+v", i, g, want)
			}
			for _, pair := range [][2]string{{g.F, want.F}, {g.Key, want.Key}, {g.Node, want.Node}, {g.Error, want.Error}} {
				if pair[0] != jsonRoundTrip(t, pair[1]) {
					t.Fatalf("event %d: string %q read back as %q", i, pair[1], pair[0])
				}
			}
			wantRaw := stdJSON(t, want.Value)
			if want.Value == nil || wantRaw == "null" {
				if g.Value != nil {
					t.Fatalf("event %d: null value read back as %#v", i, g.Value)
				}
				continue
			}
			if raw, ok := g.Value.(json.RawMessage); !ok || string(raw) != wantRaw {
				t.Fatalf("event %d: value %#v read back as %s, want %s", i, want.Value, g.Value, wantRaw)
			}
		}
	})
}

func FuzzReadHistory(f *testing.F) {
	f.Add([]byte(goodLines))
	f.Add([]byte(goodLines[:len(goodLines)-20]))
	f.Add([]byte(`{"index":0,"time":0,"process":0,"type":"invoke","f":"r","value":{"a":[1,2.5e-3,"\ud83d\ude00",null,true]}}` + "\n"))
	f.Add([]byte(`{"\u0069ndex":0,"time":-0,"process":-1,"type":"info","f":"\u00e9\ud800"}`))
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, info, err := ReadInfo(bytes.NewReader(data), "h", nil)
		if err != nil {
			var le *LineError
			if !strings.HasPrefix(err.Error(), "h line ") || !asLineError(err, &le) || le.Line < 1 {
				t.Fatalf("error %q is not a line error", err)
			}
			return
		}
		// Every accepted line is valid JSON for encoding/json too.
		lines := bytes.Split(data, []byte("\n"))
		if info.Torn {
			lines = lines[:len(lines)-1]
		}
		for _, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 && !json.Valid(l) {
				t.Fatalf("accepted a line encoding/json rejects: %q", l)
			}
		}
		// Writing what was read and reading it again gives the same events.
		var buf bytes.Buffer
		w := NewWriterTo(&buf)
		for i, e := range h {
			if e.Index != i || !e.Type.Valid() || e.Process < -1 {
				t.Fatalf("accepted an invalid event %+v", e)
			}
			if err := w.Write(e); err != nil {
				t.Fatalf("rewrite event %d: %v", i, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		h2, err := Read(bytes.NewReader(buf.Bytes()), nil)
		if err != nil {
			t.Fatalf("reading the rewritten history: %v", err)
		}
		if len(h2) != len(h) {
			t.Fatalf("rewritten history has %d events, want %d", len(h2), len(h))
		}
		for i := range h {
			a, b := h[i], h2[i]
			av, bv := a.Value, b.Value
			a.Value, b.Value = nil, nil
			if a != b {
				t.Fatalf("event %d changed on rewrite: %+v → %+v", i, a, b)
			}
			if (av == nil) != (bv == nil) {
				t.Fatalf("event %d value changed on rewrite: %s → %s", i, av, bv)
			}
			if av != nil {
				var ca bytes.Buffer
				if err := json.Compact(&ca, av.(json.RawMessage)); err != nil {
					t.Fatal(err)
				}
				if ca.String() != string(bv.(json.RawMessage)) {
					t.Fatalf("event %d value changed on rewrite: %s → %s", i, av, bv)
				}
			}
		}
	})
}

func asLineError(err error, le **LineError) bool {
	e, ok := err.(*LineError)
	*le = e
	return ok
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[]`, `-0.5e+10`, `01`, `1.`, `"\u12"`, `"\ud800"`, "\"\xff\"", `[1,]`, `{"a" 1}`, ` true `, `nul`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", data, got, want)
		}
	})
}

func FuzzUnquote(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(stdJSON(f, s))
	}
	for _, s := range []string{`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, `"a\/b"`, `"\q"`, `"abc`, "\"\x01\"", "\"\xc3\"", `"\uD834\uDD1E"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		b := bytes.Trim([]byte(lit), " \t\r\n")
		if string(b) == "null" {
			return // encoding/json reads null into a string as a no-op
		}
		var want string
		stdErr := json.Unmarshal(b, &want)
		ok := len(b) > 0 && b[0] == '"'
		var end int
		var needs bool
		if ok {
			var serr *syntaxError
			end, needs, serr = scanString(b, 0)
			ok = serr == nil && end == len(b)
		}
		if ok != (stdErr == nil) {
			t.Fatalf("scanString(%q) ok=%v, encoding/json error %v", lit, ok, stdErr)
		}
		if !ok {
			return
		}
		got := string(b[1 : end-1])
		if needs {
			got = string(unquote(nil, b[1:end-1]))
		}
		if got != want {
			t.Fatalf("unquote(%q) = %q, encoding/json gives %q", lit, got, want)
		}
	})
}
