package jepsen_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/jepsen"
)

// FuzzRead: whatever the input, Read returns either a history that
// faultline's checkers accept (dense indices, times rising, processes
// pairing) or one line of bad input; it never panics. The seed corpus runs
// as an ordinary test; go test -fuzz=FuzzRead ./results/jepsen searches
// further.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		handWritten,
		edn("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read 1"),
		"[{:process 0 :type :invoke :f :cas :value [1 [2 3]]}]",
		"{:process :nemesis :type :info :f :start :value #{1 #inst \"x\"}}\n",
		"INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 0\t:info\t:cas\t:timed-out\n",
		"0 :invoke :read nil\n0 :ok :read [1 2]\n",
		"[[[[[[[[[[",
		"#_#_#_",
		"\"\\u12",
		"{:a \\",
		"(#:x{:a 1} ##NaN 0x1F 1/2 -0 +5N)",
		strings.Repeat("[", 2000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, info, err := jepsen.Read(strings.NewReader(string(data)), "h")
		if err != nil {
			if !errors.Is(err, core.ErrBadInput) {
				t.Fatalf("%v does not wrap core.ErrBadInput", err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "h") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			if utf8.ValidString(string(data)) && !utf8.ValidString(msg) {
				t.Fatalf("error is not UTF-8: %q", msg)
			}
			return
		}
		if len(h) == 0 || info.Ops != len(h) {
			t.Fatalf("%d events, %d ops", len(h), info.Ops)
		}
		for i, e := range h {
			if e.Index != i || e.Time < 0 || i > 0 && e.Time <= h[i-1].Time {
				t.Fatalf("event %d: index %d, time %d after %d", i, e.Index, e.Time, h[max(i-1, 0)].Time)
			}
		}
		if _, err := checkers.Pair(h); err != nil {
			t.Fatalf("the history does not pair: %v", err)
		}
	})
}
