package local

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testenv"
)

// TestPSStateAgreesWithProcState checks the ps reading that stands in for
// /proc where there is none: a running, a stopped and a reaped process.
func TestPSStateAgreesWithProcState(t *testing.T) {
	testenv.NeedBinary(t, "ps", "procps")
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	wantState := func(ok func(byte) bool, what string) {
		t.Helper()
		testenv.Eventually(t, 5*time.Second, what, func() error {
			ps, err := psState(pid)
			if err != nil {
				return err
			}
			if !ok(ps) {
				return fmt.Errorf("ps says %c", ps)
			}
			if st, err := procState(pid); err != nil || !ok(st) {
				return fmt.Errorf("ps says %c, procState %c (%v)", ps, st, err)
			}
			return nil
		})
	}
	wantState(func(s byte) bool { return !stopped(s) && s != 'Z' }, "running")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	wantState(stopped, "stopped")
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wantState(func(s byte) bool { return !stopped(s) }, "continued")
	cmd.Process.Kill()
	cmd.Wait()
	if st, err := psState(pid); err == nil {
		t.Errorf("a reaped process: ps state %c, want an error", st)
	}
}
