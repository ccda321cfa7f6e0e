package runfolder

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

var runTime = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("CET", 3600))

func TestNewRunLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "results")
	r, err := New(root, "redis", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "redis-register", "20260304T040607.891Z")
	if r.Dir != want || r.Root != root {
		t.Fatalf("Dir %q Root %q, want Dir %q (UTC) Root %q", r.Dir, r.Root, want, root)
	}
	if st, err := os.Stat(filepath.Join(r.Dir, NodesDir)); err != nil || !st.IsDir() {
		t.Fatalf("nodes/ missing: %v", err)
	}
	if got := r.HistoryPath(); got != filepath.Join(want, "history.jsonl") {
		t.Errorf("HistoryPath = %q", got)
	}

	// Same millisecond: each run still gets its own folder.
	r2, err := New(root, "redis", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := New(root, "redis", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Dir != want+"-2" || r3.Dir != want+"-3" {
		t.Errorf("second and third runs in %q and %q, want suffixes -2 and -3", r2.Dir, r3.Dir)
	}

	nd, err := r.NodeDir("n1")
	if err != nil || nd != filepath.Join(want, "nodes", "n1") {
		t.Fatalf("NodeDir = %q, %v", nd, err)
	}
	if _, err := os.Stat(nd); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "..", "a/b", `a\b`} {
		if _, err := r.NodeDir(bad); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("NodeDir(%q) = %v, want ErrBadInput", bad, err)
		}
		if _, err := New(root, bad, "register", runTime); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("New(target %q) = %v, want ErrBadInput", bad, err)
		}
	}
}

func TestUpdateLatest(t *testing.T) {
	root := t.TempDir()
	r1, err := New(root, "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.UpdateLatest(); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "latest")
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	if target != filepath.Join("demo-register", "20260304T040607.891Z") {
		t.Fatalf("latest → %q, want a relative link to the run", target)
	}
	r2, err := New(root, "demo", "bank", runTime.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.UpdateLatest(); err != nil {
		t.Fatal(err)
	}
	if target, _ = os.Readlink(link); target != filepath.Join("demo-bank", "20260304T040608.891Z") {
		t.Fatalf("latest → %q after the second run", target)
	}
	// Through the link the run's files are reachable.
	if err := r2.WriteJSON("test.json", map[string]int{"seed": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(link, "test.json")); err != nil {
		t.Fatalf("latest/test.json: %v", err)
	}
	// No temp links are left behind.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
	// A moved results root still resolves: the link is relative.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(root, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(moved, "latest", "test.json")); err != nil {
		t.Fatalf("after moving the root: %v", err)
	}

	opened, err := Open(filepath.Join(moved, "demo-bank", "20260304T040608.891Z"))
	if err != nil {
		t.Fatal(err)
	}
	if err := opened.UpdateLatest(); err == nil {
		t.Error("UpdateLatest on an opened run without Root succeeded")
	}
}

func TestUpdateLatestRefusesToReplaceAFolder(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := New(root, "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateLatest(); err == nil || !strings.Contains(err.Error(), "left alone") {
		t.Fatalf("UpdateLatest over a real folder named latest: %v", err)
	}
	if st, err := os.Lstat(filepath.Join(root, "latest")); err != nil || !st.IsDir() {
		t.Fatal("the folder named latest was replaced")
	}
}

func TestWriteJSON(t *testing.T) {
	r, err := New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]any{"command": "faultline run --seed 1 <x>", "n": 1}
	if err := r.WriteJSON("test.json", v); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "test.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"command\": \"faultline run --seed 1 <x>\",\n  \"n\": 1\n}\n"
	if string(b) != want {
		t.Errorf("test.json = %q, want %q", b, want)
	}
	st, _ := os.Stat(filepath.Join(r.Dir, "test.json"))
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	// Replace, and leave no temp files.
	if err := r.WriteJSON("test.json", map[string]int{"n": 2}); err != nil {
		t.Fatal(err)
	}
	var back map[string]int
	if err := r.ReadJSON("test.json", &back); err != nil || back["n"] != 2 {
		t.Fatalf("ReadJSON = %v, %v", back, err)
	}
	entries, _ := os.ReadDir(r.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
	if err := r.WriteJSON("../escape.json", v); err == nil {
		t.Error("WriteJSON outside the run folder succeeded")
	}
	if err := r.WriteJSON("bad.json", make(chan int)); err == nil {
		t.Error("WriteJSON of a channel succeeded")
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "bad.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed WriteJSON left a file")
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadJSON("broken.json", &back); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("ReadJSON of broken JSON = %v, want ErrBadInput", err)
	}
	var raw json.RawMessage
	if err := r.ReadJSON("missing.json", &raw); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadJSON of a missing file = %v, want ErrNotExist", err)
	}
}

func TestOpenRun(t *testing.T) {
	r, err := New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(r.Dir + "/")
	if err != nil || o.Dir != r.Dir || o.Root != "" {
		t.Fatalf("Open = %+v, %v", o, err)
	}
	if _, err := Open(filepath.Join(r.Dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	f := filepath.Join(r.Dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Open(f); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("Open(file) = %v, want ErrBadInput", err)
	}
}
