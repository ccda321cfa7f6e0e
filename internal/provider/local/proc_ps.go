package local

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// psState returns the first letter of the state that ps reports for pid
// (R, S, I, U, D, T, Z, ...). It is procState where there is no /proc.
func psState(pid int) (byte, error) {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	st := strings.TrimSpace(string(out))
	if err != nil || st == "" {
		return 0, fmt.Errorf("ps -p %d: no such process (%v)", pid, err)
	}
	return st[0], nil
}
