package jepsen_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/jepsen"
	"github.com/faultline/faultline/workloads/register"
)

// readString writes content to a file named name in a fresh folder and
// reads it with ReadFile; the error's text has the folder cut away.
func readString(t *testing.T, name, content string) (core.History, jepsen.Info, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h, info, err := jepsen.ReadFile(path)
	if err != nil {
		return h, info, shortErr{err, strings.ReplaceAll(err.Error(), dir+string(os.PathSeparator), "")}
	}
	return h, info, nil
}

// shortErr is an error whose text has the test's folder cut away.
type shortErr struct {
	err error
	msg string
}

func (e shortErr) Error() string { return e.msg }
func (e shortErr) Unwrap() error { return e.err }

func mustRead(t *testing.T, name, content string) (core.History, jepsen.Info) {
	t.Helper()
	h, info, err := readString(t, name, content)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return h, info
}

// ev builds an expected event.
func ev(i int, tm int64, p int, typ core.Type, f, key string, v any) core.Event {
	return core.Event{Index: i, Time: tm, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}}
}

func sameHistory(t *testing.T, what string, got, want core.History) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d:\n%s", what, len(got), len(want), dump(got))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: event %d is\n  %#v\nwant\n  %#v", what, i, got[i], want[i])
		}
	}
}

func dump(h core.History) string {
	var b strings.Builder
	for _, e := range h {
		fmt.Fprintf(&b, "  %#v\n", e)
	}
	return b.String()
}

// handWritten is a Jepsen history as Jepsen writes it, with what a reader
// meets in the wild: comments, commas, a record's tag, a nemesis whose
// operations are recorded twice (begun, then done), a set and a map in a
// nemesis value, an exception as :error, an indeterminate cas, a :node,
// a discarded form and a :time that goes backwards.
const handWritten = `; history.edn of a cas-register test
[{:type :invoke, :f :write, :value 1, :process 0, :time 1000, :index 0}
 {:type :ok, :f :write, :value 1, :process 0, :time 2000, :index 1, :node "n1"}
 {:type :info, :f :start-partition, :value nil, :process :nemesis, :time 2500}
 {:type :info, :f :start-partition, :value [:isolated {"n1" #{"n2" "n3"}}], :process :nemesis, :time 3000}
 #jepsen.history.Op{:type :invoke, :f :cas, :value [1 2], :process 1, :time 3000}
 {:type :info, :f :cas, :value [1 2], :process 1, :time 4000,
  :error #error {:cause "read timed out" :via [{:type java.net.SocketTimeoutException}]}}
 {:type :invoke, :f :read, :value nil, :process 2, :time 5000} #_ {:a "discarded op"}
 {:type :ok, :f :read, :value 2, :process 2, :time 4900} ; recorded a little late
 {:type :info, :f :stop-partition, :value nil, :process :nemesis, :time 7000}
 {:type :info, :f :stop-partition, :value :network-healed, :process :nemesis, :time 8000}
 {:type :invoke, :f :cas, :value [2 2], :process 3, :time 9000}
 {:type :fail, :f :cas, :value [2 2], :process 3, :time 9500, :error :cas-failed}]
`

func handWrittenEvents() core.History {
	h := core.History{
		ev(0, 1000, 0, core.Invoke, "write", "k0", int64(1)),
		ev(1, 2000, 0, core.OK, "write", "k0", int64(1)),
		ev(2, 2500, -1, core.Info, "start-partition", "", nil),
		ev(3, 3000, -1, core.Info, "started-partition", "", []any{":isolated", map[string]any{"n1": []any{"n2", "n3"}}}),
		ev(4, 3001, 1, core.Invoke, "cas", "k0", [2]int64{1, 2}),
		ev(5, 4000, 1, core.Info, "cas", "k0", [2]int64{1, 2}),
		ev(6, 5000, 2, core.Invoke, "read", "k0", nil),
		ev(7, 5001, 2, core.OK, "read", "k0", int64(2)),
		ev(8, 7000, -1, core.Info, "stopping-partition", "", nil),
		ev(9, 8000, -1, core.Info, "stop-partition", "", ":network-healed"),
		ev(10, 9000, 3, core.Invoke, "cas", "k0", [2]int64{2, 2}),
		ev(11, 9500, 3, core.Fail, "cas", "k0", [2]int64{2, 2}),
	}
	h[1].Node = "n1"
	h[5].Error = `#error {:cause "read timed out" :via [{:type java.net.SocketTimeoutException}]}`
	h[11].Error = "cas-failed"
	return h
}

func TestReadsAJepsenEDNHistory(t *testing.T) {
	h, info := mustRead(t, "history.edn", handWritten)
	sameHistory(t, "history.edn", h, handWrittenEvents())
	want := jepsen.Info{Format: jepsen.FormatEDN, Ops: 12, Timed: true, Raised: 2}
	if info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
	if notes := info.Notes("history.edn"); len(notes) != 1 || notes[0] != "history.edn: 2 events have a :time not after the previous event's, moved to 1 ns after it to keep the history's order" {
		t.Errorf("notes %q", notes)
	}
	// The partition's window runs from the start's beginning to the stop's
	// end, once.
	ws := checkers.FaultWindows(h)
	if len(ws) != 1 || ws[0] != (checkers.Window{Fault: "partition", Start: 2500, End: 8000}) {
		t.Errorf("fault windows %+v; want one partition window from 2500 to 8000", ws)
	}
}

// TestLayouts: a vector, a list, maps one a line with nothing around them,
// several maps on a line, maps spread over lines with commas and
// comments: the same events.
func TestLayouts(t *testing.T) {
	ops := []string{
		"{:process 0, :type :invoke, :f :write, :value 3}",
		"{:process 0, :type :ok, :f :write, :value 3}",
		"{:process 1, :type :invoke, :f :read, :value nil}",
		"{:process 1, :type :ok, :f :read, :value 3}",
	}
	want := core.History{
		ev(0, 0, 0, core.Invoke, "write", "k0", int64(3)),
		ev(1, 1e6, 0, core.OK, "write", "k0", int64(3)),
		ev(2, 2e6, 1, core.Invoke, "read", "k0", nil),
		ev(3, 3e6, 1, core.OK, "read", "k0", int64(3)),
	}
	layouts := map[string]string{
		"vector":          "[" + strings.Join(ops, "\n ") + "]\n",
		"list":            "(" + strings.Join(ops, "\n ") + ")",
		"one map a line":  strings.Join(ops, "\n") + "\n",
		"maps on a line":  strings.Join(ops, " "),
		"vector, commas":  "[" + strings.Join(ops, ",\n") + ",]",
		"pretty, comment": ";; pretty-printed\n[{:process 0,\n  :type :invoke, ; the write\n  :f :write,\n  :value 3}\n" + strings.Join(ops[1:], "\n") + "\n]\n",
		"records":         "#jepsen.history.Op" + strings.Join(ops, "\n#jepsen.history.Op"),
		"untimed ops with other fields": strings.ReplaceAll(strings.Join(ops, "\n"), "}",
			", :index 7, :extra #{1 2}, :when #inst \"2024-01-01T00:00:00Z\"}"),
	}
	for name, src := range layouts {
		h, info := mustRead(t, "h.edn", src)
		sameHistory(t, name, h, want)
		if info.Timed || info.Ops != 4 || info.Format != jepsen.FormatEDN {
			t.Errorf("%s: info %+v", name, info)
		}
	}
}

// TestReadsJepsenLogs: Jepsen's textual log in its three forms, with
// nemesis lines and the lines around the operations that a jepsen.log has.
func TestReadsJepsenLogs(t *testing.T) {
	want := core.History{
		ev(0, 0, 0, core.Invoke, "read", "k0", nil),
		ev(1, 1e6, 1, core.Invoke, "cas", "k0", [2]int64{3, 0}),
		ev(2, 2e6, 0, core.OK, "read", "k0", nil),
		ev(3, 3e6, -1, core.Info, "start-nemesis", "", nil),
		ev(4, 4e6, -1, core.Info, "started-nemesis", "", "Cut off {:n1 #{:n2}}"),
		ev(5, 5e6, 1, core.Info, "cas", "k0", [2]int64{3, 0}),
		ev(6, 6e6, 2, core.Invoke, "write", "k0", int64(4)),
		ev(7, 7e6, 2, core.OK, "write", "k0", int64(4)),
		ev(8, 8e6, 3, core.Invoke, "read", "k0", nil),
		ev(9, 9e6, 3, core.Fail, "read", "k0", nil),
	}
	want[5].Error = "timed-out"
	want[9].Error = "timed-out"
	ops := []string{
		"0\t:invoke\t:read\tnil",
		"1\t:invoke\t:cas\t[3 0]",
		"0\t:ok\t:read\tnil",
		":nemesis\t:info\t:start\tnil",
		":nemesis\t:info\t:start\t\"Cut off {:n1 #{:n2}}\"",
		"1\t:info\t:cas\t:timed-out",
		"2\t:invoke\t:write\t4",
		"2\t:ok\t:write\t4",
		"3\t:invoke\t:read\tnil",
		"3\t:fail\t:read\t:timed-out",
	}
	prefixed := func(prefix string) string {
		var b strings.Builder
		for _, op := range ops {
			b.WriteString(prefix + op + "\n")
		}
		return b.String()
	}
	logs := map[string]struct {
		src     string
		skipped int
	}{
		"history.txt":           {prefixed(""), 0},
		"porcupine's test data": {prefixed("INFO  jepsen.util - "), 0},
		"jepsen.log": {"2017-02-21 10:27:56,100{GMT}\tINFO\t[main] jepsen.core: Running test\n" +
			prefixed("2017-02-21 10:27:56,987{GMT}\tINFO\t[jepsen worker 3] jepsen.util: ") +
			"java.lang.Exception: boom\n\tat clojure.core$eval.invoke(core.clj:1)\n\n" +
			"INFO  jepsen.core - Run complete, writing\n", 4},
	}
	for name, c := range logs {
		h, info := mustRead(t, "x.log", c.src)
		sameHistory(t, name, h, want)
		wantInfo := jepsen.Info{Format: jepsen.FormatLog, Ops: len(ops), Skipped: c.skipped}
		if info != wantInfo {
			t.Errorf("%s: info %+v, want %+v", name, info, wantInfo)
		}
	}
}

// TestIndependentKeys: [key value] tuples (map entries, as Jepsen prints
// them, or tuple records) put each operation on its key; integer, string
// and keyword keys.
func TestIndependentKeys(t *testing.T) {
	src := `[{:process 0, :type :invoke, :f :write, :value [7 1]}
{:process 1, :type :invoke, :f :read, :value ["x" nil]}
{:process 0, :type :ok, :f :write, :value [7 1]}
{:process 1, :type :ok, :f :read, :value ["x" 5]}
{:process 2, :type :invoke, :f :cas, :value [:k [1 2]]}
{:process 2, :type :fail, :f :cas, :value [:k [1 2]]}
{:process 3, :type :invoke, :f :read, :value [7 nil]}
{:process 3, :type :ok, :f :read, :value [7 nil]}
{:process 4, :type :invoke, :f :write, :value #jepsen.independent.Tuple{:key :k, :value 9}}
{:process 4, :type :ok, :f :write, :value #jepsen.independent.Tuple{:key :k, :value 9}}]`
	h, info := mustRead(t, "independent.edn", src)
	sameHistory(t, "independent.edn", h, core.History{
		ev(0, 0, 0, core.Invoke, "write", "7", int64(1)),
		ev(1, 1e6, 1, core.Invoke, "read", "x", nil),
		ev(2, 2e6, 0, core.OK, "write", "7", int64(1)),
		ev(3, 3e6, 1, core.OK, "read", "x", int64(5)),
		ev(4, 4e6, 2, core.Invoke, "cas", "k", [2]int64{1, 2}),
		ev(5, 5e6, 2, core.Fail, "cas", "k", [2]int64{1, 2}),
		ev(6, 6e6, 3, core.Invoke, "read", "7", nil),
		ev(7, 7e6, 3, core.OK, "read", "7", nil),
		ev(8, 8e6, 4, core.Invoke, "write", "k", int64(9)),
		ev(9, 9e6, 4, core.OK, "write", "k", int64(9)),
	})
	if !info.Independent {
		t.Errorf("info %+v; want independent", info)
	}
	// Key 7 was written 1 and then read absent; key x was read 5, which
	// nothing wrote; key k saw a failed cas and a write.
	res, err := checkers.Linearizable(t.Context(), h, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Details.(*checkers.LinearizabilityDetails)
	got := map[string]core.Verdict{}
	for _, k := range d.PerKey {
		got[k.Key] = k.Verdict
	}
	if want := map[string]core.Verdict{"7": core.Invalid, "x": core.Invalid, "k": core.Valid}; !reflect.DeepEqual(got, want) || res.Verdict != core.Invalid {
		t.Errorf("verdicts %v (overall %s), want %v, invalid", got, res.Verdict, want)
	}
}

// edn numbers the operations given as [process type f value] into a
// vector of op maps, one a line.
func edn(ops ...string) string {
	var b strings.Builder
	b.WriteString("[\n")
	for _, op := range ops {
		f := strings.Fields(op)
		fmt.Fprintf(&b, "{:process %s, :type %s, :f %s, :value %s}\n", f[0], f[1], f[2], strings.Join(f[3:], " "))
	}
	b.WriteString("]\n")
	return b.String()
}

// TestVerdicts judges hand-written histories with the register workload's
// model, as `faultline check --format jepsen` does. Values repeat, as in
// Jepsen's tests; :fail did not happen and :info may have.
func TestVerdicts(t *testing.T) {
	infoWrite := []string{
		"0 :invoke :write 1", // 0
		"0 :ok :write 1",     // 1
		"1 :invoke :write 2", // 2
		"1 :info :write 2",   // 3: may take effect at any later time
		"2 :invoke :read nil",
		"2 :ok :read 1", // 5: not yet
		"2 :invoke :read nil",
		"2 :ok :read 2", // 7: now it has
		"3 :invoke :write 1",
		"3 :ok :write 1", // 9: 1 again
		"2 :invoke :read nil",
		"2 :ok :read 1",
		"0 :invoke :cas [1 1]",
		"0 :ok :cas [1 1]", // 13: cas to the same value
		"0 :invoke :read nil",
		"0 :ok :read 1",
	}
	failWrite := slices.Clone(infoWrite)
	failWrite[3] = "1 :fail :write 2"
	cases := []struct {
		name   string
		ops    []string
		want   core.Verdict
		events []int // events the anomaly must name
	}{
		{"an info write read later, repeated values", infoWrite, core.Valid, nil},
		{"the same write failed: its value read anyway", failWrite, core.Invalid, []int{6, 7}},
		{"stale read", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :write 2", "0 :ok :write 2",
			"1 :invoke :read nil", "1 :ok :read 1",
		}, core.Invalid, []int{4, 5}},
		// Knossos would accept this read of nil: to it, nil is an unknown
		// value; here it is the register found empty.
		{"lost write", []string{
			"0 :invoke :write 3", "0 :ok :write 3",
			"1 :invoke :read nil", "1 :ok :read 3",
			"2 :invoke :read nil", "2 :ok :read nil",
		}, core.Invalid, []int{4, 5}},
		{"cas on a value never there", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"1 :invoke :cas [4 0]", "1 :ok :cas [4 0]",
		}, core.Invalid, []int{2, 3}},
		{"a value written twice, the older read after the newer", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :write 2", "0 :ok :write 2",
			"0 :invoke :write 1", "0 :ok :write 1",
			"1 :invoke :read nil", "1 :ok :read 2",
		}, core.Invalid, []int{6, 7}},
		{"a failed cas did not happen, even where it would have matched", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"1 :invoke :cas [1 2]", "1 :fail :cas [1 2]",
			"2 :invoke :read nil", "2 :ok :read 1",
		}, core.Valid, nil},
		{"an info cas may have happened", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"1 :invoke :cas [1 2]", "1 :info :cas [1 2]",
			"2 :invoke :read nil", "2 :ok :read 1",
			"2 :invoke :read nil", "2 :ok :read 2",
		}, core.Valid, nil},
		{"an info read says nothing", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"1 :invoke :read nil", "1 :info :read 9",
			"2 :invoke :read nil", "2 :ok :read 1",
		}, core.Valid, nil},
		{"concurrent writes of the same value", []string{
			"0 :invoke :write 1", "1 :invoke :write 2", "2 :invoke :write 1",
			"0 :ok :write 1", "1 :ok :write 2", "2 :ok :write 1",
			"3 :invoke :read nil", "3 :ok :read 1",
			"3 :invoke :read nil", "3 :ok :read 1",
		}, core.Valid, nil},
		{"the register read absent before any write", []string{
			"0 :invoke :read nil", "0 :ok :read nil",
			"0 :invoke :cas [0 1]", "0 :fail :cas [0 1]",
		}, core.Valid, nil},
		{"nemesis operations among them", []string{
			":nemesis :info :start nil",
			"0 :invoke :write 1",
			":nemesis :info :start \"Cut off\"",
			"0 :ok :write 1",
			":nemesis :info :stop nil",
			"1 :invoke :read nil", "1 :ok :read 1",
			":nemesis :info :stop :network-healed",
		}, core.Valid, nil},
	}
	for _, c := range cases {
		h, _ := mustRead(t, "h.edn", edn(c.ops...))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		res, err := checkers.Linearizable(ctx, h, register.Model{}, checkers.LinearizabilityOptions{})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Verdict != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, res.Verdict, res.Summary, c.want)
			continue
		}
		if c.want != core.Invalid {
			continue
		}
		if len(res.Anomalies) != 1 || res.Anomalies[0].Key != jepsen.SingleKey {
			t.Errorf("%s: anomalies %+v; want one on key %s", c.name, res.Anomalies, jepsen.SingleKey)
			continue
		}
		for _, e := range c.events {
			if !slices.Contains(res.Anomalies[0].Events, e) {
				t.Errorf("%s: the anomaly names events %v; want it to name %d (%s)", c.name, res.Anomalies[0].Events, e, res.Anomalies[0].Description)
			}
		}
	}
}

// TestNemesisF: how Jepsen's nemesis operations are named.
func TestNemesisF(t *testing.T) {
	cases := []struct {
		name                  string
		bare, invoked, answer bool
		want                  string
	}{
		{"start-partition", false, true, false, "start-partition"},
		{"start-partition", false, false, true, "started-partition"},
		{"start-partition", false, false, false, "start-partition"},
		{"stop-partition", false, true, false, "stopping-partition"},
		{"stop-partition", false, false, true, "stop-partition"},
		{"stop-partition", false, false, false, "stop-partition"},
		{"start", true, true, false, "start-nemesis"},
		{"start", true, false, true, "started-nemesis"},
		{"stop", true, true, false, "stopping-nemesis"},
		{"stop", true, false, true, "stop-nemesis"},
		{"start", false, true, false, "start"}, // restarts after :kill
		{"kill", false, true, false, "kill"},
		{"start-", false, false, false, "start-"},
		{"stop-", false, false, false, "stop-"},
	}
	for _, c := range cases {
		if got := jepsen.NemesisF(c.name, c.bare, c.invoked, c.answer); got != c.want {
			t.Errorf("NemesisF(%q, bare %v, invoked %v, answer %v) = %q, want %q", c.name, c.bare, c.invoked, c.answer, got, c.want)
		}
	}
	// In a history with other nemesis operations, :start and :stop keep
	// their names; a lone operation is not paired.
	h, _ := mustRead(t, "h.edn", edn(
		":nemesis :info :kill nil", ":nemesis :info :kill [\"n1\"]",
		":nemesis :info :start nil", ":nemesis :info :start [\"n1\"]",
		":nemesis :info :start-pause nil",
		":nemesis :info :stop-pause nil",
		"0 :invoke :read nil", "0 :ok :read nil",
	))
	var fs []string
	for _, e := range h {
		if e.Process == core.NemesisProcess {
			fs = append(fs, e.F)
		}
	}
	if want := []string{"kill", "kill", "start", "start", "start-pause", "stop-pause"}; !slices.Equal(fs, want) {
		t.Errorf("nemesis fs %q, want %q", fs, want)
	}
}

// TestHistoriesPassHistoryValidation: what the reader makes is a history
// that faultline's own history file can hold: written as history.jsonl and
// read back with the register workload's decoder, it is the same.
func TestHistoriesPassHistoryValidation(t *testing.T) {
	for name, src := range map[string]string{"history.edn": handWritten, "x.log": "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 0\t:info\t:cas\t:timed-out\n"} {
		h, _ := mustRead(t, name, src)
		var buf bytes.Buffer
		w := history.NewWriterTo(&buf)
		for _, e := range h {
			if err := w.Write(e); err != nil {
				t.Fatalf("%s: write event %d: %v", name, e.Index, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		back, err := history.Read(&buf, register.Workload{}.DecodeValue)
		if err != nil {
			t.Fatalf("%s: read back: %v", name, err)
		}
		if len(back) != len(h) {
			t.Fatalf("%s: %d events back, want %d", name, len(back), len(h))
		}
		for i := range h {
			a, b := h[i], back[i]
			if a.Process == core.NemesisProcess {
				a.Value, b.Value = nil, nil // kept as raw JSON by the reader
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: event %d back as %#v, want %#v", name, i, b, a)
			}
		}
		if _, err := checkers.Pair(h); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestRefusesBadInput: each refusal is one line naming the file and, for
// a bad operation, its line, and wraps core.ErrBadInput.
func TestRefusesBadInput(t *testing.T) {
	w := "{:process 0, :type :invoke, :f :write, :value 1}"
	cases := []struct {
		name, file, src, want string
	}{
		{"empty", "h.edn", "", "h.edn is not a history: the file is empty"},
		{"blank", "h.edn", "\n \n", "h.edn is not a history: it holds only blank lines"},
		{"only comments", "h.edn", "; nothing\n;; here\n", "h.edn is not a history: it holds no operations"},
		{"empty vector", "h.edn", "[]", "h.edn is not a history: it holds no operations"},
		{"vector never closed", "h.edn", "[" + w + "\n" + strings.Replace(w, "0", "1", 1), `h.edn line 1: the "[" that opens the history is never closed`},
		{"map never closed", "h.edn", "[\n" + w + "\n{:process 1, :type :invoke\n]", `h.edn line 4: "]" closes the "{" opened at line 3`},
		{"map closed by a bracket", "h.edn", w + "\n{:process 1, :type :invoke]", `h.edn line 2: "]" closes the "{" opened at line 2`},
		{"stray closer", "h.edn", w + "\n)", `h.edn line 2: unexpected ")": nothing open to close`},
		{"string never closed", "h.edn", w + "\n{:process 1 :error \"oops}\n", "h.edn line 2: the string opened at line 2 is never closed"},
		{"odd map", "h.edn", w + "\n{:process 1 :type}", "h.edn line 2: the map opened at line 2 has a key without a value (3 forms)"},
		{"after the vector", "h.edn", "[" + w + "]\n" + w, "h.edn line 2: `{:process 0, :type :invoke, :f :write, :value 1}` after the \"]\" that closes the history: a history is one vector or list, or operation maps one after another"},
		{"not a map", "h.edn", "[" + w + "\n[1 2]]", "h.edn line 2: an operation must be a map {:process … :type … :f … :value …}, not `[1 2]`"},
		{"unknown type", "h.edn", w + "\n{:process 0, :type :pending, :f :write, :value 1}", "h.edn line 2: unknown :type `:pending` (want :invoke, :ok, :fail or :info)"},
		{"type a string", "h.edn", `{:process 0, :type "invoke", :f :write, :value 1}`, "h.edn line 1: unknown :type `\"invoke\"` (want :invoke, :ok, :fail or :info)"},
		{"missing process", "h.edn", w + "\n{:type :ok, :f :write, :value 1}", "h.edn line 2: the operation has no :process"},
		{"missing type", "h.edn", "{:process 0, :f :write, :value 1}", "h.edn line 1: the operation has no :type"},
		{"missing f", "h.edn", "{:process 0, :type :invoke, :value 1}", "h.edn line 1: the operation has no :f"},
		{"bad process", "h.edn", "{:process -2, :type :invoke, :f :read}", "h.edn line 1: :process `-2`: want a client process (an integer, 0 or more) or :nemesis"},
		{"unknown f", "h.edn", "{:process 0, :type :invoke, :f :add, :value 1}", "h.edn line 1: unknown :f `:add`: a cas-register history has :read, :write and :cas"},
		{"completion first", "h.edn", "{:process 4, :type :ok, :f :read, :value 1}", "h.edn line 1: process 4 completes :read (:ok) without an invocation before it"},
		{"two invocations", "h.edn", w + "\n{:process 0, :type :invoke, :f :read, :value nil}", "h.edn line 2: process 0 invokes :read while its :write invoked at line 1 has not completed"},
		{"completion of another f", "h.edn", w + "\n{:process 0, :type :ok, :f :read, :value 1}", "h.edn line 2: process 0 completes :read, but its invocation at line 1 is a :write"},
		{"write of a string", "h.edn", `{:process 0, :type :invoke, :f :write, :value "one"}`, "h.edn line 1: the :value `\"one\"` of a :write invocation: want an integer, or [key integer] for independent keys"},
		{"cas of one value", "h.edn", "{:process 0, :type :invoke, :f :cas, :value [1]}", "h.edn line 1: the :value `[1]` of a :cas invocation: want [old new], or [key [old new]] for independent keys"},
		{"cas of floats", "h.edn", "{:process 0, :type :invoke, :f :cas, :value [1.5 2]}", "h.edn line 1: the :value `[1.5 2]` of a :cas invocation: want [old new] integers"},
		{"read of a value", "h.edn", "{:process 0, :type :invoke, :f :read, :value 3}", "h.edn line 1: the :value `3` of a :read invocation: want nil, or [key nil] for independent keys"},
		{"read returning a keyword", "h.edn", "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value :x}", "h.edn line 2: the :value `:x` of an :ok :read: want nil or an integer"},
		{"huge integer", "h.edn", "{:process 0, :type :invoke, :f :write, :value 99999999999999999999}", "h.edn line 1: the :value `99999999999999999999` of a :write invocation: want an integer, or [key integer] for independent keys"},
		{"tuples after plain values", "h.edn", w + "\n{:process 1, :type :invoke, :f :write, :value [1 2]}", "h.edn line 2: this value is a [key value] tuple (jepsen.independent), but the history's values are not, since line 1"},
		{"plain after tuples", "h.edn", "{:process 1, :type :invoke, :f :write, :value [1 2]}\n" + w, "h.edn line 2: this value is not a [key value] tuple, but the history's values are, since line 1 (jepsen.independent)"},
		{"read answering another key", "h.edn", "{:process 0, :type :invoke, :f :read, :value [1 nil]}\n{:process 0, :type :ok, :f :read, :value [2 5]}", "h.edn line 2: the :ok :read `[2 5]` answers key 2, but its invocation read key 1"},
		{"some ops without :time", "h.edn", "{:process 0, :type :invoke, :f :write, :value 1, :time 5}\n{:process 0, :type :ok, :f :write, :value 1}", "h.edn line 2: the operation has no :time, but the one at line 1 has one (either every operation has a :time or none has)"},
		{"some ops with :time", "h.edn", w + "\n{:process 0, :type :ok, :f :write, :value 1, :time 5}", "h.edn line 2: the operation has a :time, but the one at line 1 has none (either every operation has a :time or none has)"},
		{"negative time", "h.edn", "{:process 0, :type :invoke, :f :write, :value 1, :time -3}", "h.edn line 1: :time `-3`: want an integer, 0 or more (nanoseconds)"},
		{"multi-line map, bad field", "h.edn", "[{:process 0\n  :type :invoke\n  :f :write\n  :value \"x\"}]", "h.edn line 4: the :value `\"x\"` of a :write invocation: want an integer, or [key integer] for independent keys"},
		{"log without operations", "x.log", "INFO jepsen.core - Running test\nsomething else\n", "x.log is not a Jepsen history: none of its lines holds an operation (process, type, f and value, as in \"3 :invoke :read nil\")"},
		{"log with an unknown type", "x.log", "0\t:invoke\t:read\tnil\n0\t:done\t:read\t3\n", "x.log line 2: unknown :type `:done` (want :invoke, :ok, :fail or :info)"},
		{"log with a value cut off", "x.log", "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2\n", "x.log line 1: the \"[\" opened at line 1 is never closed"},
		{"log with a type only", "x.log", "0\t:invoke\n", "x.log line 1: `0 :invoke`: want a process, a type, an f and a value"},
		{"log with a bad f", "x.log", "0\t:invoke\t:txn\t[[:r 1 nil]]\n", "x.log line 1: unknown :f `:txn`: a cas-register history has :read, :write and :cas"},
	}
	for _, c := range cases {
		_, _, err := readString(t, c.file, c.src)
		if err == nil {
			t.Errorf("%s: read without error; want %q", c.name, c.want)
			continue
		}
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: %v does not wrap core.ErrBadInput", c.name, err)
		}
		if got := err.Error(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the error is more than one line", c.name)
		}
	}
}

// TestRefusesWhatIsNotAFile: a folder without a Jepsen history, a named
// pipe (without blocking) and a missing path.
func TestRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, _, err := jepsen.ReadPath(dir); !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "has neither history.edn nor history.txt: not a Jepsen run folder") {
		t.Errorf("empty folder: %v", err)
	}
	if _, _, _, err := jepsen.ReadPath(filepath.Join(dir, "missing.edn")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v; want not exist", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.txt"), []byte("0\t:invoke\t:read\tnil\n0\t:ok\t:read\tnil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, info, file, err := jepsen.ReadPath(dir)
	if err != nil || len(h) != 2 || info.Format != jepsen.FormatLog || file != filepath.Join(dir, "history.txt") {
		t.Errorf("folder with history.txt: %d events, %+v, %s, %v", len(h), info, file, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.edn"), []byte("{:process 0, :type :invoke, :f :read}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, info, file, err = jepsen.ReadPath(dir); err != nil || info.Format != jepsen.FormatEDN || file != filepath.Join(dir, "history.edn") {
		t.Errorf("folder with history.edn too: %+v, %s, %v; want history.edn read", info, file, err)
	}
}
