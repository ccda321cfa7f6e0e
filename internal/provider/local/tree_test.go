package local

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
)

// TestSignalTreeReachesChildrenInTheirOwnSession: a node whose child left
// its process group (setsid, as PostgreSQL's backends do) is paused,
// resumed and killed whole: a signal to the group alone would miss the
// child.
func TestSignalTreeReachesChildrenInTheirOwnSession(t *testing.T) {
	testenv.NeedBinary(t, "setsid", "util-linux")
	cmd := exec.Command("sh", "-c", "setsid sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child pid %q", line)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL); syscall.Kill(-p.pid, syscall.SIGKILL) })
	testenv.Eventually(t, 5*time.Second, "the child in a session of its own", func() error {
		if pg, err := syscall.Getpgid(child); err != nil || pg == p.pid {
			return fmt.Errorf("child %d in group %d (%v)", child, pg, err)
		}
		return nil
	})
	if kids := descendants(p.pid); !slices.Contains(kids, child) {
		t.Fatalf("descendants of %d = %v, want %d among them", p.pid, kids, child)
	}
	if ps, err := psParents(); err == nil && ps[child] != p.pid {
		t.Errorf("ps says the parent of %d is %d, want %d", child, ps[child], p.pid)
	}
	state := func(want func(byte) bool, what string) {
		t.Helper()
		testenv.Eventually(t, 5*time.Second, what, func() error {
			st, err := procState(child)
			if err != nil {
				return err
			}
			if !want(st) {
				return fmt.Errorf("child state %c", st)
			}
			return nil
		})
	}
	if err := signalTree(p, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	state(stopped, "the child stopped")
	if err := signalTree(p, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	state(func(s byte) bool { return !stopped(s) }, "the child running again")
	if err := signalTree(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the child gone", func() error {
		st, err := procState(child)
		if err != nil || st == 'Z' {
			return nil // reaped, or dead and waiting for its new parent
		}
		if errors.Is(syscall.Kill(child, 0), syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("child state %c", st)
	})
}
