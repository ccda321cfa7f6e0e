package local

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// spawner starts every child process from one goroutine locked to its OS
// thread, with Pdeathsig set, so that a node dies with a controller killed
// by SIGKILL. Pdeathsig fires when the thread that forked the child exits,
// not the process; the Go runtime may retire an unlocked thread at any
// time, so children are forked from a thread that lives until close.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
	once sync.Once
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	// The goroutine exits still locked, so its thread ends with it; by then
	// every child has been reaped (a child that somehow outlived Close gets
	// SIGKILL from Pdeathsig, which is what we want).
	runtime.LockOSThread()
	defer close(s.done)
	for r := range s.reqs {
		r.reply <- r.cmd.Start()
	}
}

// start starts cmd from the spawner's thread, adding Pdeathsig to its
// SysProcAttr.
func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	reply := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, reply: reply}
	return <-reply
}

func (s *spawner) close() {
	s.once.Do(func() { close(s.reqs) })
	<-s.done
}

// procState returns the state letter of /proc/<pid>/stat (R, S, D, T, t,
// Z, X, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return b[i+2], nil
}

// parentsOf maps every process's pid to its parent's, from /proc.
func parentsOf() (map[int]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			out[pid] = ppid
		}
	}
	return out, nil
}
