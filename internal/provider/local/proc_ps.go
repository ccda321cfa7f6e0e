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

// psParents maps every process's pid to its parent's, as ps reports them.
// It is parentsOf where there is no /proc.
func psParents() (map[int]int, error) {
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=").Output()
	if err != nil {
		return nil, fmt.Errorf("ps -A: %w", err)
	}
	parents := map[int]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil {
			parents[pid] = ppid
		}
	}
	return parents, nil
}
