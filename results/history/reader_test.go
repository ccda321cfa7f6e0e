package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
)

const goodLines = `{"index":0,"time":1200345,"process":3,"type":"invoke","f":"cas","key":"k2","value":[1,4]}
{"index":1,"time":1900871,"process":3,"type":"fail","f":"cas","key":"k2","value":[1,4],"node":"n2"}
{"index":2,"time":2000000,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{"n1":["n2","n3"]}}}
`

func TestReadDesignExample(t *testing.T) {
	h, info, err := ReadInfo(strings.NewReader(goodLines), "history.jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || info.Events != 3 || info.Lines != 3 || info.Torn {
		t.Fatalf("got %d events, info %+v", len(h), info)
	}
	want := core.Event{Index: 1, Time: 1900871, Process: 3, Op: core.Op{Type: core.Fail, F: "cas", Key: "k2", Value: json.RawMessage("[1,4]"), Node: "n2"}}
	if got := h[1]; got.Index != want.Index || got.Time != want.Time || got.Process != want.Process || got.Type != want.Type ||
		got.F != want.F || got.Key != want.Key || got.Node != want.Node || string(got.Value.(json.RawMessage)) != "[1,4]" {
		t.Errorf("event 1 = %+v, want %+v", got, want)
	}
	if got := string(h[2].Value.(json.RawMessage)); got != `{"grudge":{"n1":["n2","n3"]}}` {
		t.Errorf("nemesis value = %s", got)
	}
}

func TestReadAcceptsVariations(t *testing.T) {
	cases := map[string]string{
		"field order, spaces, CRLF, unknown fields": "{ \"f\" : \"read\" , \"type\":\"invoke\",\"process\":0,\"time\":5,\"index\":0, \"extra\": {\"a\":[1,{\"b\":null}]} }\r\n",
		"escaped names and values":                  `{"\u0069ndex":0,"time":0,"process":0,"type":"\u0069nvoke","f":"r\u00e9ad"}` + "\n",
		"last line without newline":                 `{"index":0,"time":0,"process":0,"type":"invoke","f":"read"}`,
		"blank lines":                               "\n" + `{"index":0,"time":0,"process":0,"type":"invoke","f":"read"}` + "\n\n   \n",
		"null optional fields":                      `{"index":0,"time":0,"process":0,"type":"invoke","f":"read","key":null,"node":null,"error":null,"value":null}` + "\n",
	}
	for name, in := range cases {
		h, info, err := ReadInfo(strings.NewReader(in), "h", nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(h) != 1 || info.Torn || h[0].Type != core.Invoke || h[0].Value != nil {
			t.Errorf("%s: got %+v info %+v", name, h, info)
		}
	}
	h, _ := Read(strings.NewReader(cases["escaped names and values"]), nil)
	if len(h) != 1 || h[0].F != "réad" {
		t.Errorf("escaped f read as %q", h[0].F)
	}
}

func TestReadBadFiles(t *testing.T) {
	ev0 := `{"index":0,"time":1,"process":0,"type":"invoke","f":"read"}`
	cases := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"not JSON", ev0 + "\nhello\n", 2, "not a JSON object"},
		{"JSON array", "[1,2]\n", 1, "not a JSON object"},
		{"broken JSON", `{"index":0,"time":1,` + "\n" + ev0 + "\n", 1, "invalid JSON at column 21"},
		{"trailing data", ev0 + " x\n", 1, "unexpected data after the JSON object"},
		{"missing index", `{"time":1,"process":0,"type":"invoke","f":"read"}` + "\n", 1, `missing field "index"`},
		{"missing time", `{"index":0,"process":0,"type":"invoke","f":"read"}` + "\n", 1, `missing field "time"`},
		{"missing process", `{"index":0,"time":1,"type":"invoke","f":"read"}` + "\n", 1, `missing field "process"`},
		{"missing type", `{"index":0,"time":1,"process":0,"f":"read"}` + "\n", 1, `missing field "type"`},
		{"null type", `{"index":0,"time":1,"process":0,"type":null,"f":"read"}` + "\n", 1, `missing field "type"`},
		{"missing f", `{"index":0,"time":1,"process":0,"type":"invoke"}` + "\n", 1, `missing field "f"`},
		{"index not from 0", `{"index":1,"time":1,"process":0,"type":"invoke","f":"read"}` + "\n", 1, "index 1, want 0"},
		{"index gap", ev0 + "\n" + `{"index":2,"time":1,"process":0,"type":"ok","f":"read"}` + "\n", 2, "index 2, want 1"},
		{"index repeated", ev0 + "\n" + ev0 + "\n", 2, "index 0, want 1"},
		{"bad type", `{"index":0,"time":1,"process":0,"type":"done","f":"read"}` + "\n", 1, `type "done" is not invoke, ok, fail or info`},
		{"process below -1", `{"index":0,"time":1,"process":-2,"type":"info","f":"x"}` + "\n", 1, "process -2 is out of range"},
		{"float index", `{"index":0.5,"time":1,"process":0,"type":"invoke","f":"read"}` + "\n", 1, `field "index": want an integer`},
		{"string time", `{"index":0,"time":"1","process":0,"type":"invoke","f":"read"}` + "\n", 1, `field "time": want an integer`},
		{"huge time", `{"index":0,"time":99999999999999999999,"process":0,"type":"invoke","f":"read"}` + "\n", 1, `field "time": integer out of range`},
		{"number f", `{"index":0,"time":1,"process":0,"type":"invoke","f":3}` + "\n", 1, `field "f": want a string`},
		{"bad value", `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":[1,}` + "\n", 1, "invalid JSON"},
		{"bad escape", `{"index":0,"time":1,"process":0,"type":"invoke","f":"r\qead"}` + "\n", 1, "invalid escape"},
		{"control char", "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"r\x01\"}\n", 1, "control character"},
		{"two invocations open", ev0 + "\n" + `{"index":1,"time":1,"process":0,"type":"invoke","f":"read"}` + "\n", 2, "still open"},
		{"completion without invocation", `{"index":0,"time":1,"process":0,"type":"ok","f":"read"}` + "\n", 1, "without an open invocation"},
		{"completion of another f", ev0 + "\n" + `{"index":1,"time":1,"process":0,"type":"ok","f":"write"}` + "\n", 2, `completes f "write"`},
		{"completion of another key", ev0 + "\n" + `{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":"k9"}` + "\n", 2, `key "k9"`},
		{"bad last line that parses", ev0 + "\n" + `{"index":7,"time":1,"process":0,"type":"ok","f":"read"}`, 2, "index 7, want 1"},
		{"torn line in the middle", `{"index":0,"ti` + "\n" + ev0 + "\n", 1, "invalid JSON"},
		{"only line torn", `{"index":0,"ti`, 1, "no complete event comes before it"},
		{"blank lines then a torn line", "\n \n" + `{"index":0,"ti`, 3, "no complete event comes before it"},
		{"only line garbage without newline", "\x7fELF\x02\x01\x01\x00\x00", 1, `not a JSON object (the line is cut off, and no complete event comes before it): "\x7fELF`},
		{"negative time", `{"index":0,"time":-1,"process":0,"type":"invoke","f":"read"}` + "\n", 1, "time -1 is negative"},
		{"time backwards", ev0 + "\n" + `{"index":1,"time":5,"process":-1,"type":"info","f":"start-kill"}` + "\n" +
			`{"index":2,"time":4,"process":0,"type":"ok","f":"read"}` + "\n", 3, "time 4 is before the time 5 of line 2"},
		{"time backwards after a blank line", ev0 + "\n\n" + `{"index":1,"time":0,"process":0,"type":"ok","f":"read"}` + "\n", 3, "time 0 is before the time 1 of line 1"},
	}
	for _, c := range cases {
		_, err := readNamed(c.in)
		if err == nil {
			t.Errorf("%s: read succeeded, want an error", c.name)
			continue
		}
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: %v does not wrap ErrBadInput", c.name, err)
		}
		var le *LineError
		if !errors.As(err, &le) || le.Line != c.line {
			t.Errorf("%s: %v: want line %d", c.name, err, c.line)
		}
		wantPrefix := "history.jsonl line " + strconv.Itoa(c.line) + ": "
		if !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line starting %q containing %q", c.name, err, wantPrefix, c.msg)
		}
	}
}

func readNamed(in string) (core.History, error) {
	h, _, err := ReadInfo(strings.NewReader(in), "history.jsonl", nil)
	return h, err
}

func TestReadFileErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(goodLines+"oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path, nil)
	if want := path + ` line 4: not a JSON object: "oops"`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	_, err = ReadFile(filepath.Join(t.TempDir(), "none.jsonl"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
}

func TestReadTornLastLine(t *testing.T) {
	full := []byte(goodLines)
	last := strings.Index(goodLines, `{"index":2`)
	for cut := last + 1; cut < len(full)-1; cut++ {
		h, info, err := ReadInfo(strings.NewReader(string(full[:cut])), "h", nil)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(h) != 2 || !info.Torn || info.TornLine != 3 || info.TornBytes != cut-last {
			t.Fatalf("cut at %d: %d events, info %+v", cut, len(h), info)
		}
	}
	// Cut just before the newline: the last line is whole and is read.
	h, info, err := ReadInfo(strings.NewReader(string(full[:len(full)-1])), "h", nil)
	if err != nil || len(h) != 3 || info.Torn {
		t.Fatalf("whole last line without newline: %d events, %+v, %v", len(h), info, err)
	}
	// NUL bytes left by a crash are a torn line too.
	h, info, err = ReadInfo(strings.NewReader(goodLines+"\x00\x00\x00"), "h", nil)
	if err != nil || len(h) != 3 || !info.Torn {
		t.Fatalf("NUL tail: %d events, %+v, %v", len(h), info, err)
	}
}

func TestReadDecodeErrors(t *testing.T) {
	wantErr := errors.New("want [old,new]")
	decode := func(f string, typ core.Type, raw json.RawMessage) (any, error) {
		if f == "cas" && typ == core.Fail {
			return nil, wantErr
		}
		return string(raw), nil
	}
	_, err := Read(strings.NewReader(goodLines), decode)
	if !errors.Is(err, wantErr) || !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("error %v, want one wrapping the decoder's error and ErrBadInput", err)
	}
	if want := `history line 2: value of "cas" fail: want [old,new]`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// An absent value reaches the decoder as null.
	var seen []string
	_, err = Read(strings.NewReader(`{"index":0,"time":0,"process":0,"type":"invoke","f":"read"}`+"\n"),
		func(f string, typ core.Type, raw json.RawMessage) (any, error) {
			seen = append(seen, string(raw))
			return nil, nil
		})
	if err != nil || len(seen) != 1 || seen[0] != "null" {
		t.Fatalf("absent value passed as %q, err %v", seen, err)
	}
}

func TestReadNemesisValuesBypassDecoder(t *testing.T) {
	lines := `{"index":0,"time":0,"process":-1,"type":"info","f":"start-kill","value":{"nodes":["n3"]}}` + "\n" +
		`{"index":1,"time":1,"process":0,"type":"invoke","f":"write","key":"k0","value":3}` + "\n"
	var fs []string
	h, err := Read(strings.NewReader(lines), func(f string, typ core.Type, raw json.RawMessage) (any, error) {
		fs = append(fs, f)
		if f != "write" {
			return nil, errors.New("not a workload operation")
		}
		return string(raw), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0] != "write" {
		t.Fatalf("decoder saw %v, want only the client write", fs)
	}
	if raw, ok := h[0].Value.(json.RawMessage); !ok || string(raw) != `{"nodes":["n3"]}` {
		t.Fatalf("nemesis value %#v, want its raw JSON", h[0].Value)
	}
}

func TestReadLineCap(t *testing.T) {
	ev := func(i int, f, value string) string {
		return `{"index":` + strconv.Itoa(i) + `,"time":0,"process":-1,"type":"info","f":"` + f + `","value":"` + value + `"}`
	}
	// A line of exactly MaxLineBytes is read.
	short := ev(0, "big", "")
	fits := ev(0, "big", strings.Repeat("x", MaxLineBytes-len(short))) + "\n" + ev(1, "small", "") + "\n"
	h, err := Read(strings.NewReader(fits), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || len(h[0].Value.(json.RawMessage)) != MaxLineBytes-len(short)+2 || h[1].F != "small" {
		t.Fatalf("line of the cap read wrong: %d events", len(h))
	}
	// One byte more is refused with its line number, whether or not it
	// ends the file, and however long it is.
	for _, over := range []int{1, 3 << 20} {
		for _, end := range []string{"\n", ""} {
			in := ev(0, "small", "") + "\n" + ev(1, "big", strings.Repeat("x", MaxLineBytes-len(short)+over)) + end
			_, err := Read(strings.NewReader(in), nil)
			var le *LineError
			if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "longer than 1048576 bytes") || len(err.Error()) > 200 {
				t.Errorf("line %d bytes over the cap (end %q): %v", over, end, err)
			}
		}
	}
}

func TestReadErrorsQuoteLittle(t *testing.T) {
	huge := strings.Repeat("\x01é<", 20_000)
	hugeJSON, _ := json.Marshal(huge)
	otherJSON, _ := json.Marshal(huge[:3000] + "y")
	cases := map[string]string{
		"garbage":       strings.Repeat("\x00\xff garbage ", 10_000) + "\n",
		"bad type":      `{"index":0,"time":0,"process":0,"type":` + string(hugeJSON) + `,"f":"read"}` + "\n",
		"open f":        `{"index":0,"time":0,"process":0,"type":"invoke","f":"x"}` + "\n" + `{"index":1,"time":0,"process":0,"type":"invoke","f":` + string(hugeJSON) + `}` + "\n",
		"other key":     `{"index":0,"time":0,"process":0,"type":"invoke","f":"r","key":` + string(hugeJSON) + `}` + "\n" + `{"index":1,"time":0,"process":0,"type":"ok","f":"r","key":` + string(otherJSON) + `}` + "\n",
		"decoder error": `{"index":0,"time":0,"process":0,"type":"invoke","f":"read","value":` + string(hugeJSON) + `}` + "\n",
	}
	decode := func(f string, _ core.Type, raw json.RawMessage) (any, error) {
		return nil, fmt.Errorf("want an integer, got %s", raw)
	}
	for name, in := range cases {
		var dec DecodeFunc
		if name == "decoder error" {
			dec = decode
		}
		_, err := Read(strings.NewReader(in), dec)
		if err == nil {
			t.Errorf("%s: read succeeded", name)
			continue
		}
		// Two quoted values of at most MaxQuote bytes each, and the text.
		if n := len(err.Error()); n > 2*MaxQuote+200 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error of %d bytes: %.500s", name, n, err)
		}
		if !strings.Contains(err.Error(), "bytes)") {
			t.Errorf("%s: error does not say the value was cut: %.500s", name, err)
		}
	}
}

func TestReadValuesDoNotAlias(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		b.WriteString(`{"index":` + itoaN(i) + `,"time":0,"process":-1,"type":"info","f":"v","value":[` + itoaN(i) + `]}` + "\n")
	}
	h, err := Read(strings.NewReader(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range h {
		if got, want := string(e.Value.(json.RawMessage)), "["+itoaN(i)+"]"; got != want {
			t.Fatalf("event %d value %s, want %s", i, got, want)
		}
	}
	// Appending to one value must not overwrite the next.
	v0 := h[0].Value.(json.RawMessage)
	_ = append(v0, "garbage"...)
	if got := string(h[1].Value.(json.RawMessage)); got != "[1]" {
		t.Fatalf("appending to value 0 changed value 1 to %s", got)
	}
}

func itoaN(n int) string { return strconv.Itoa(n) }

func TestScanHistoryStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Scan(strings.NewReader(goodLines), "h", nil, func(core.Event) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("Scan = %v after %d events, want the callback's error after 2", err, n)
	}
}
