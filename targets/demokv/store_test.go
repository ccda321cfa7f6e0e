package demokv

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func apply(t *testing.T, f *fsm, c command) result {
	t.Helper()
	b, _ := json.Marshal(c)
	res, ok := f.Apply(&raft.Log{Type: raft.LogCommand, Data: b}).(result)
	if !ok {
		t.Fatalf("Apply(%+v) did not return a result", c)
	}
	return res
}

type bufSink struct{ bytes.Buffer }

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { return nil }
func (s *bufSink) Close() error  { return nil }

func TestFSMCommandsAndSnapshot(t *testing.T) {
	f := &fsm{data: map[string]int64{}}
	if res := apply(t, f, command{Op: opRead, Key: "a"}); res.Value != nil {
		t.Fatalf("read of unset key = %v", *res.Value)
	}
	apply(t, f, command{Op: opWrite, Key: "a", Value: 1})
	if res := apply(t, f, command{Op: opCAS, Key: "a", Old: 2, New: 3}); res.OK {
		t.Fatal("cas with the wrong old value succeeded")
	}
	if res := apply(t, f, command{Op: opCAS, Key: "b", Old: 0, New: 3}); res.OK {
		t.Fatal("cas on an unset key succeeded")
	}
	if res := apply(t, f, command{Op: opCAS, Key: "a", Old: 1, New: 4}); !res.OK {
		t.Fatal("cas with the right old value failed")
	}
	if res := apply(t, f, command{Op: opRead, Key: "a"}); res.Value == nil || *res.Value != 4 {
		t.Fatalf("read after cas = %v", res.Value)
	}
	if res := apply(t, f, command{Op: "delete", Key: "a"}); res.Err == "" {
		t.Fatal("unknown command accepted")
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	apply(t, f, command{Op: opWrite, Key: "a", Value: 5}) // after the snapshot
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := &fsm{data: map[string]int64{"stale": 1}}
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"a": 4}; !maps.Equal(g.data, want) {
		t.Fatalf("restored %v, want %v", g.data, want)
	}
}

func TestLoadLogDropsTornTailAndCompacts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logFile)
	content := `{"k":"a","v":1}` + "\n" + `{"k":"b","v":2}` + "\n" + `{"k":"a","v":3}` + "\n" + `{"k":"b","v`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := loadLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"a": 3, "b": 2}; !maps.Equal(data, want) {
		t.Fatalf("loaded %v, want %v", data, want)
	}
	again, err := loadLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(again, data) {
		t.Fatalf("after compaction loaded %v, want %v", again, data)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Fatalf("compacted log has %d lines, want 2:\n%s", n, b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}
