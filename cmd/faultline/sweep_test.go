package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline"
)

// TestSweepSIGINTKeepsLevelsDone interrupts a sweep of levels 1, 2 and 4
// once its first level is done and its second is running: the sweep
// exits 3, sweep.json keeps level 1 with its verdict and level 2
// interrupted (its folder and history kept), says interrupted, and no node
// of either level is left running.
func TestSweepSIGINTKeepsLevelsDone(t *testing.T) {
	results := t.TempDir()
	// Each level lasts 5 s: level 1 ends by itself; level 2 is cut short
	// within its first second.
	cmd, out, errb := startSeries(t, "sweep", "--results", results, "--concurrency", "1,2,4",
		"--time-limit", "5s", "--nemesis", "none", "--variant", "safe", "--seed", "7")
	// Level 1 is first: run folders are named by start time.
	level1, level2 := waitSecondRunning(t, filepath.Join(results, "demo-kv-register-sweep", "*", "levels", "demo-kv-register", "*"), "level", errb)
	interruptSeries(t, cmd, out, errb, "sweep", "faultline: sweep interrupted at concurrency 2 (1 of 3 levels done)")
	if !strings.Contains(errb.String(), "faultline: concurrency 1: VALID · ") {
		t.Errorf("no line for level 1 on stderr: %s", errb.String())
	}
	sweepDir := filepath.Dir(filepath.Dir(filepath.Dir(level1)))
	b, err := os.ReadFile(filepath.Join(sweepDir, "sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r faultline.SweepResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Complete || r.ExitCode != 3 || len(r.Levels) != 2 || r.Test.Seed != 7 {
		t.Fatalf("sweep.json: interrupted %v, complete %v, exit %d, %d levels, seed %d", r.Interrupted, r.Complete, r.ExitCode, len(r.Levels), r.Test.Seed)
	}
	l1, l2 := r.Levels[0], r.Levels[1]
	if l1.Concurrency != 1 || l1.Verdict != faultline.Valid || l1.Interrupted || l1.OKPerSec() <= 0 || filepath.Join(sweepDir, l1.RunDir) != level1 {
		t.Errorf("level 1: %+v", l1)
	}
	if l2.Concurrency != 2 || l2.Verdict != "" || !l2.Interrupted || filepath.Join(sweepDir, l2.RunDir) != level2 {
		t.Errorf("level 2: %+v", l2)
	}
	// The interrupted level's test.json repeats that level alone.
	var lt faultline.Test
	if b, err := os.ReadFile(filepath.Join(level2, "test.json")); err != nil || json.Unmarshal(b, &lt) != nil {
		t.Fatalf("level 2's test.json: %v", err)
	}
	want := "faultline run --results " + results + " --time-limit 5s --nemesis none --variant safe --concurrency 2 --seed 7"
	if lt.Command != want || lt.Concurrency != 2 {
		t.Errorf("level 2's command %q, want %q", lt.Command, want)
	}
	for _, dir := range []string{level1, level2} {
		assertNothingLeft(t, dir)
	}
	// What level 2 recorded is kept and checkable.
	if code, out, stderr := cli(t, "check", level2); code > 2 {
		t.Fatalf("check of the interrupted level: exit %d: %s %s", code, out, stderr)
	}
}

func TestLevelCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--target", "redis-lock", "--concurrency", "1,2", "--json", "--keys", "4"},
			"faultline run --target redis-lock --keys 4 --concurrency 8 --seed 42"},
		{[]string{"sweep", "--concurrency=1,2", "--seed", "9", "--json=true", "--rate", "0"},
			"faultline run --rate 0 --concurrency 8 --seed 42"},
		{[]string{"sweep", "--seed=9"}, "faultline run --concurrency 8 --seed 42"},
	} {
		if got := levelCommand(c.args, 8, 42); got != c.want {
			t.Errorf("levelCommand(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
