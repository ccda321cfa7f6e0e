package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

// typedDecode decodes the values written by TestRoundTripEveryValueType,
// choosing the Go type by f, as a workload's DecodeValue does.
func typedDecode(f string, _ core.Type, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var dst any
	switch f {
	case "int64":
		var v int64
		dst = &v
	case "int":
		var v int
		dst = &v
	case "pair":
		var v [2]int64
		dst = &v
	case "list":
		var v []int64
		dst = &v
	case "string":
		var v string
		dst = &v
	case "bool":
		var v bool
		dst = &v
	case "float":
		var v float64
		dst = &v
	case "grudge":
		var v map[string][]string
		dst = &v
	case "any":
		var v any
		dst = &v
	default:
		return nil, fmt.Errorf("unknown f %q", f)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return nil, err
	}
	return reflect.ValueOf(dst).Elem().Interface(), nil
}

func TestRoundTripEveryValueType(t *testing.T) {
	values := []struct {
		f string
		v any
	}{
		{"nil", nil},
		{"int64", int64(-9223372036854775808)},
		{"int64", int64(42)},
		{"int", 7},
		{"pair", [2]int64{1, 4}},
		{"list", []int64{3, 1, 2}},
		{"list", []int64{}},
		{"string", "<script>alert(1)</script> \"q\" \\ \n\t\x01 ☃ 😀"},
		{"bool", true},
		{"bool", false},
		{"float", 3.25},
		{"float", 1e-9},
		{"grudge", map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}},
		{"any", map[string]any{"a": []any{1.0, "x", nil, true}}},
	}
	var h core.History
	for i, c := range values {
		p := i % 3
		inv := core.Event{Index: len(h), Time: int64(10 * i), Process: p, Op: core.Op{Type: core.Invoke, F: c.f, Key: "k" + strconv.Itoa(i), Value: c.v}}
		h = append(h, inv)
		comp := inv
		comp.Index = len(h)
		comp.Time++
		comp.Type = []core.Type{core.OK, core.Fail, core.Info}[i%3]
		comp.Node = "n" + strconv.Itoa(i%5)
		if i%2 == 0 {
			comp.Error = "error <b>" + strconv.Itoa(i) + "</b>"
		}
		h = append(h, comp)
	}
	h = append(h, core.Event{Index: len(h), Time: 999, Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: "grudge", Value: map[string][]string{"n1": {"n2"}, "n2": {"n1"}}}})

	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h {
		if err := w.Write(e); err != nil {
			t.Fatalf("Write(%d): %v", e.Index, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	decode := func(f string, typ core.Type, raw json.RawMessage) (any, error) {
		if f == "nil" {
			if string(raw) != "null" {
				return nil, fmt.Errorf("nil value written as %s", raw)
			}
			return nil, nil
		}
		return typedDecode(f, typ, raw)
	}
	got, err := ReadFile(path, decode)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	// Nemesis values bypass the decoder and come back as raw JSON.
	want := append(core.History(nil), h...)
	want[len(want)-1].Value = json.RawMessage(`{"n1":["n2"],"n2":["n1"]}`)
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if i >= len(got) || !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("event %d differs:\n got  %#v\n want %#v", i, at(got, i), want[i])
			}
		}
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}

	// With no decoder, values stay raw JSON and null becomes nil.
	raw, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range raw {
		if h[i].Value == nil {
			if e.Value != nil {
				t.Errorf("event %d: nil value read back as %#v", i, e.Value)
			}
			continue
		}
		rm, ok := e.Value.(json.RawMessage)
		if !ok {
			t.Fatalf("event %d: value is %T, want json.RawMessage", i, e.Value)
		}
		if want := stdJSON(t, h[i].Value); string(rm) != want {
			t.Errorf("event %d: raw value %s, want %s", i, rm, want)
		}
	}
}

func at(h core.History, i int) any {
	if i < len(h) {
		return h[i]
	}
	return "missing"
}

// writeEvents writes n client events from the given number of goroutines;
// indices come from a shared counter, so Write calls arrive out of order.
func writeEvents(t *testing.T, w *Writer, goroutines, n int) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				// Nemesis events: no invocation pairing to respect.
				e := core.Event{Index: i, Time: int64(i), Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: "tick", Value: int64(g)}}
				if err := w.Write(e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Write: %v", err)
	}
}

func TestConcurrentWritersProduceDenseFile(t *testing.T) {
	const n = 20000
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, w, 8, n)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h, err := ReadFile(path, nil)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if len(h) != n {
		t.Fatalf("read %d events, want %d", len(h), n)
	}
	for i, e := range h {
		if e.Index != i || e.Time != int64(i) {
			t.Fatalf("event %d has index %d time %d", i, e.Index, e.Time)
		}
	}
}

func TestWriterFlushesWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 10 // far below the size that flushes at once
	for i := range n {
		if err := w.Write(core.Event{Index: i, Time: int64(i), Process: -1, Op: core.Op{Type: core.Info, F: "tick"}}); err != nil {
			t.Fatal(err)
		}
	}
	written := time.Now()
	deadline := written.Add(5 * time.Second)
	for {
		h, err := ReadFile(path, nil)
		if err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		if len(h) == n {
			t.Logf("events visible %v after Write", time.Since(written).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the file holds %d of %d events; the writer does not flush on its own", len(h), n)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a readiness assumption
	}
}

func TestWriterReordersAndRejects(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriterTo(&buf)
	ev := func(i int) core.Event {
		return core.Event{Index: i, Process: -1, Op: core.Op{Type: core.Info, F: "x"}}
	}
	for _, i := range []int{2, 0, 3, 1} {
		if err := w.Write(ev(i)); err != nil {
			t.Fatalf("Write(%d): %v", i, err)
		}
	}
	for _, i := range []int{1, 3} {
		if err := w.Write(ev(i)); err == nil {
			t.Errorf("Write(%d) again succeeded, want an error", i)
		}
	}
	if err := w.Write(ev(6)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ev(6)); err == nil {
		t.Error("Write(6) twice while waiting succeeded, want an error")
	}
	bad := []core.Event{
		{Index: 4, Process: -1, Op: core.Op{Type: "done", F: "x"}},
		{Index: 4, Process: -2, Op: core.Op{Type: core.Info, F: "x"}},
		{Index: -1, Process: 0, Op: core.Op{Type: core.Info, F: "x"}},
		{Index: 4, Process: 0, Op: core.Op{Type: core.Info, F: "x", Value: make(chan int)}},
	}
	for _, e := range bad {
		if err := w.Write(e); err == nil {
			t.Errorf("Write(%+v) succeeded, want an error", e)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	h, err := Read(bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(h) != 4 {
		t.Fatalf("before Close the output holds %d events, want 4 (6 waits for 4 and 5)", len(h))
	}
	err = w.Close()
	if err == nil {
		t.Fatal("Close with a gap at index 4 succeeded, want an error")
	}
	t.Logf("Close: %v", err)
	if err2 := w.Close(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Close = %v, want the first result %v", err2, err)
	}
	_, err = Read(bytes.NewReader(buf.Bytes()), nil)
	if !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("reading a file with a gap: %v, want ErrBadInput", err)
	}
	if err := w.Write(ev(4)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
}

func TestCloseIsIdempotentAndSyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(core.Event{Index: 0, Process: 0, Op: core.Op{Type: core.Invoke, F: "read"}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"index":0,"time":0,"process":0,"type":"invoke","f":"read","value":null}` + "\n"; string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
	if _, err := NewWriter(path); err == nil {
		t.Error("NewWriter over an existing history succeeded, want an error")
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriteErrorIsSticky(t *testing.T) {
	fw := &failingWriter{}
	w := NewWriterTo(fw)
	if err := w.Write(core.Event{Index: 0, Process: -1, Op: core.Op{Type: core.Info, F: "x"}}); err != nil {
		t.Fatal(err) // buffered: no write yet
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush to a failing writer succeeded")
	}
	if err := w.Write(core.Event{Index: 1, Process: -1, Op: core.Op{Type: core.Info, F: "x"}}); err == nil {
		t.Error("Write after a write error succeeded, want the sticky error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a write error succeeded, want the error")
	}
	if fw.n != 1 {
		t.Errorf("underlying writer called %d times, want 1", fw.n)
	}
}

const helperEnv = "FAULTLINE_RESULTS_HELPER_HISTORY"

// TestHelperWriterProcess is not a test: run with helperEnv set, it writes
// events to the named file until it is killed.
func TestHelperWriterProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestKilledWriterLeavesReadablePrefix")
	}
	w, err := NewWriter(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		p := i / 2 % 4
		typ := core.Invoke
		if i%2 == 1 {
			typ = core.OK
		}
		if err := w.Write(core.Event{Index: i, Time: int64(i), Process: p, Op: core.Op{Type: typ, F: "write", Key: "k", Value: int64(i)}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if i%1000 == 999 {
			time.Sleep(time.Millisecond) // pace the writer so the file grows while the parent polls
		}
	}
}

func TestKilledWriterLeavesReadablePrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := os.Stat(path)
		if err == nil && st.Size() > 256<<10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper wrote too little within 20s; stderr: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	h, info, err := ReadFileInfo(path, nil)
	if err != nil {
		t.Fatalf("reading a killed writer's history: %v", err)
	}
	if len(h) < 1000 {
		t.Fatalf("read %d events, want at least 1000", len(h))
	}
	t.Logf("killed writer left %d events, torn=%v", len(h), info.Torn)

	// A kill in the middle of a write(2) can leave a torn last line (the
	// kernel may complete a write partly when a fatal signal arrives): make
	// sure of one by cutting the whole file to its events and appending
	// half a line.
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full = full[:len(full)-info.TornBytes]
	line, _ := appendEvent(nil, core.Event{Index: len(h), Time: 1, Process: 0, Op: core.Op{Type: core.Invoke, F: "write", Value: int64(1)}})
	if err := os.WriteFile(path, append(full, line[:len(line)/2]...), 0o644); err != nil {
		t.Fatal(err)
	}
	h2, info2, err := ReadFileInfo(path, nil)
	if err != nil {
		t.Fatalf("reading a history with a torn last line: %v", err)
	}
	if len(h2) != len(h) || !info2.Torn || info2.TornLine != len(h)+1 || info2.TornBytes != len(line)/2 {
		t.Fatalf("torn read: %d events, info %+v; want %d events and the torn line %d", len(h2), info2, len(h), len(h)+1)
	}
}
