package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
)

// startSeries starts the faultline binary with args, a series (a sweep
// or a repeat), keeping its stdout and stderr; it is killed at cleanup.
func startSeries(t *testing.T, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(faultlineBinary(t), args...)
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdout, stderr
}

// waitSecondRunning polls the run folders of a series matching glob
// (named by start time: the first run first) until the first run is done
// (its results.json written) and the second has recorded at least 50
// events, and returns the two folders. step names the series' runs in
// messages ("run", "level"); stderr is the series'.
func waitSecondRunning(t *testing.T, glob, step string, stderr *bytes.Buffer) (first, second string) {
	t.Helper()
	testenv.Eventually(t, 90*time.Second, fmt.Sprintf("%s 1 done and %s 2 running", step, step), func() error {
		dirs, _ := filepath.Glob(glob)
		if len(dirs) == 0 {
			return testenv.ErrNotYet
		}
		if _, err := os.Stat(filepath.Join(dirs[0], "results.json")); err != nil {
			return err
		}
		if len(dirs) < 2 {
			return fmt.Errorf("%s 2 has not started; stderr: %s", step, stderr.String())
		}
		if n := countLines(filepath.Join(dirs[1], "history.jsonl")); n < 50 {
			return fmt.Errorf("%s 2 has %d events", step, n)
		}
		first, second = dirs[0], dirs[1]
		return nil
	})
	return first, second
}

// interruptSeries sends SIGINT to the series cmd of kind ("sweep",
// "repeat") and checks that it exits 3 with nothing on stdout and
// lastLine as the last line of its stderr.
func interruptSeries(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer, kind, lastLine string) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, cmd, 60*time.Second); code != 3 {
		t.Fatalf("interrupted %s exit %d, want 3; stderr: %s", kind, code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout of an interrupted %s: %q", kind, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if last := lines[len(lines)-1]; last != lastLine {
		t.Errorf("last line on stderr %q", last)
	}
}
