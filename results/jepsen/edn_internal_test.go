package jepsen

import (
	"reflect"
	"strings"
	"testing"
)

// parseAll reads every top-level value of src.
func parseAll(t *testing.T, src string) []value {
	t.Helper()
	p := newParser(src)
	var out []value
	for {
		end, err := p.atEnd()
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if end {
			return out
		}
		v, err := p.value()
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		out = append(out, v)
	}
}

// TestEDNValues: each form reads as its kind, plain Go value and line.
func TestEDNValues(t *testing.T) {
	cases := []struct {
		src  string
		kind kind
		goV  any
	}{
		{"nil", kNil, nil},
		{"true", kBool, true},
		{"false", kBool, false},
		{"42", kInt, int64(42)},
		{"-7", kInt, int64(-7)},
		{"+7", kInt, int64(7)},
		{"12N", kInt, int64(12)},
		{"9223372036854775807", kInt, int64(9223372036854775807)},
		{"9223372036854775808", kNumber, "9223372036854775808"},
		{"1.5", kNumber, "1.5"},
		{"1e3", kNumber, "1e3"},
		{"3/4", kNumber, "3/4"},
		{"1.5M", kNumber, "1.5M"},
		{"007", kNumber, "007"},
		{"0x1a2b", kNumber, "0x1a2b"},
		{"##Inf", kNumber, "##Inf"},
		{`"a \"b\"\n\t\\ \u00e9"`, kString, "a \"b\"\n\t\\ é"},
		{`#"re.*x"`, kString, "re.*x"},
		{`\a`, kChar, `\a`},
		{`\newline`, kChar, `\newline`},
		{`\)`, kChar, `\)`},
		{":read", kKeyword, ":read"},
		{":jepsen.history/op", kKeyword, ":jepsen.history/op"},
		{"::auto", kKeyword, ":auto"},
		{"java.net.SocketTimeoutException", kSymbol, "java.net.SocketTimeoutException"},
		{"-", kSymbol, "-"},
		{"[1 [2 nil] :x]", kVector, []any{int64(1), []any{int64(2), nil}, ":x"}},
		{"(1, 2,3)", kList, []any{int64(1), int64(2), int64(3)}},
		{`#{"n2" "n3"}`, kSet, []any{"n2", "n3"}},
		{`{:a 1, "b" [2], 3 nil}`, kMap, map[string]any{":a": int64(1), "b": []any{int64(2)}, "3": nil}},
		{`#inst "2024-01-01T00:00:00Z"`, kTagged, "2024-01-01T00:00:00Z"},
		{`#jepsen.history.Op{:f :read}`, kTagged, map[string]any{":f": ":read"}},
		{`#object[java.lang.Thread 0x1f "main"]`, kTagged, []any{"java.lang.Thread", "0x1f", "main"}},
		{`#:jepsen{:a 1}`, kTagged, map[string]any{":a": int64(1)}},
		{"[1 #_ 2 3 #_#_ 4 5 6]", kVector, []any{int64(1), int64(3), int64(6)}},
		{"[1 ; two\n 3]", kVector, []any{int64(1), int64(3)}},
	}
	for _, c := range cases {
		vs := parseAll(t, c.src)
		if len(vs) != 1 {
			t.Errorf("%q: %d values, want 1", c.src, len(vs))
			continue
		}
		v := vs[0]
		if v.kind != c.kind || !reflect.DeepEqual(v.goValue(), c.goV) {
			t.Errorf("%q: kind %d, %#v; want kind %d, %#v", c.src, v.kind, v.goValue(), c.kind, c.goV)
		}
		if v.text != c.src || v.line != 1 {
			t.Errorf("%q: text %q at line %d", c.src, v.text, v.line)
		}
	}
}

// TestEDNLines: values know the line they start on, strings and comments
// spanning lines included.
func TestEDNLines(t *testing.T) {
	src := "; one\n{:a \"x\ny\"\n :b 2}\n\n[3\n ; c\n 4] :k"
	vs := parseAll(t, src)
	var lines []int
	for _, v := range vs {
		lines = append(lines, v.line)
	}
	if want := []int{2, 6, 8}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
	if b, ok := vs[0].get("b"); !ok || b.line != 4 || b.i != 2 {
		t.Errorf(":b is %+v, want 2 at line 4", b)
	}
	if _, ok := vs[0].get("c"); ok {
		t.Errorf("found :c in %s", vs[0].text)
	}
}

// TestEDNErrors: a syntax error names the line where the fault is or where
// the form that is not closed opened.
func TestEDNErrors(t *testing.T) {
	cases := map[string]struct {
		line int
		msg  string
	}{
		"[1 2":                                {1, `the "[" opened at line 1 is never closed`},
		"\n\n(1 [2)":                          {3, `")" closes the "[" opened at line 3`},
		"{:a}":                                {1, "the map opened at line 1 has a key without a value (1 forms)"},
		"]":                                   {1, `unexpected "]": nothing open to close`},
		"\"abc":                               {1, "the string opened at line 1 is never closed"},
		":":                                   {1, "a lone ':' is not a keyword"},
		"#":                                   {1, "'#' is followed by neither a tag nor a set"},
		"#inst":                               {1, "the tag #inst tags nothing: the input ends"},
		"#_":                                  {1, "#_ discards nothing: the input ends"},
		"\\":                                  {1, "a character literal \\ ends the input"},
		"#{1 2\n":                             {1, `the "{" opened at line 1 is never closed`},
		"[\"a\nb\" {:x 1]]":                   {2, `"]" closes the "{" opened at line 2`},
		strings.Repeat("[", maxDepth) + "\n[": {2, "values nest deeper than 1000 levels"},
	}
	for src, want := range cases {
		p := newParser(src)
		var err error
		for err == nil {
			var end bool
			if end, err = p.atEnd(); end || err != nil {
				break
			}
			_, err = p.value()
		}
		e, ok := err.(*ednError)
		if !ok || e.line != want.line || e.msg != want.msg {
			t.Errorf("%q: %v; want line %d: %s", src, err, want.line, want.msg)
		}
	}
}

// TestQuoteCuts: quoted input is one line and at most about maxQuote
// bytes.
func TestQuoteCuts(t *testing.T) {
	if got := quote("a\n b\t c"); got != "`a b c`" {
		t.Errorf("quote = %s", got)
	}
	if got := quote("a\x00b\xffc\u200bé"); got != "`a\\x00b\\xffc\\u200bé`" {
		t.Errorf("quote = %s", got)
	}
	long := strings.Repeat("é", 300)
	got := quote(long)
	if !strings.HasSuffix(got, "… (600 bytes)`") || len(got) > maxQuote+30 {
		t.Errorf("quote of 600 bytes = %s", got)
	}
}
