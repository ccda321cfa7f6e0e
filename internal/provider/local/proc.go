package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/targets"
)

const (
	// readyPoll is the pause between two readiness probes of one node.
	readyPoll = 20 * time.Millisecond
	// readyAttempt bounds one call of Target.Ready.
	readyAttempt = time.Second
	// signalSettle bounds the wait for a SIGSTOP or SIGCONT to show in
	// /proc.
	signalSettle = 5 * time.Second
	// logTailLines is how many log lines an error quotes.
	logTailLines = 5
	// startBanner begins the line written to a node log before each start.
	startBanner = "=== faultline: starting "
)

// nodeState is what a node is doing, as the fault methods see it.
type nodeState string

const (
	stateRunning nodeState = "running"
	statePaused  nodeState = "paused"
	stateKilled  nodeState = "killed"
	stateExited  nodeState = "exited" // the process ended on its own
	stateDown    nodeState = "down"   // never started
)

// nodeProc is one node: its fixed configuration and its current process.
// Everything after log is guarded by Cluster.mu.
type nodeProc struct {
	name    string
	role    targets.Role
	dir     string
	logPath string
	log     *slog.Logger
	cfg     targets.NodeConfig
	// For a Server role: its binary's path and the account it runs as
	// (nil: faultline's own).
	binary string
	cred   *syscall.Credential

	proc   *process
	paused bool
	killed bool
}

// process is one run of a node's binary. err is written before done is
// closed.
type process struct {
	pid  int
	done chan struct{}
	err  error
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (n *nodeProc) state() nodeState {
	switch {
	case n.proc == nil:
		return stateDown
	case n.proc.exited() && n.killed:
		return stateKilled
	case n.proc.exited():
		return stateExited
	case n.paused:
		return statePaused
	}
	return stateRunning
}

// stateError reports a fault that does not apply to a node's state.
func stateError(op string, n *nodeProc, want string) error {
	return lifecycle.StateError(op, n.name, n.state(), want)
}

// command returns the command that runs n: the node binary re-executed
// with n's configuration for a GoProgram role, the server binary with its
// arguments and environment for a Server role.
func (c *Cluster) command(n *nodeProc) (*exec.Cmd, error) {
	s, ok := n.role.Program.(targets.Server)
	if !ok {
		env, err := node.Env(n.cfg)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(c.cfg.Exe)
		cmd.Env = append(environWithout(node.EnvConfig), env)
		return cmd, nil
	}
	cmd := exec.Command(n.binary, s.Args(n.cfg)...)
	cmd.Env = environWithout(node.EnvConfig)
	if s.Env != nil {
		cmd.Env = append(cmd.Env, s.Env(n.cfg)...)
	}
	return cmd, nil
}

// startProcess starts n's program with its configuration, appending its
// output to its log. The caller holds mu.
func (c *Cluster) startProcess(n *nodeProc) error {
	cmd, err := c.command(n)
	if err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	logf, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	defer logf.Close() // the child holds its own descriptor
	fmt.Fprintf(logf, "%s%s at %s\n", startBanner, n.name, time.Now().UTC().Format(time.RFC3339Nano))

	cmd.Dir = n.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true, // signals go to the node and anything it starts
		Credential: n.cred,
	}
	if err := c.spawn.start(cmd); err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		n.log.Info("node process ended", "pid", p.pid, "status", exitStatus(err))
		p.err = err
		close(p.done)
	}()
	n.proc, n.paused, n.killed = p, false, false
	n.log.Info("node started", "pid", p.pid, "api", n.cfg.APIAddr, "peer", n.cfg.PeerAddr)
	return nil
}

func environWithout(key string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waitReady polls each node's role's Ready on its own API address until
// all answer, a process exits, timeout passes, ctx ends or Close begins.
// The caller holds mu.
func (c *Cluster) waitReady(ctx context.Context, nodes []*nodeProc, timeout time.Duration) error {
	return lifecycle.JoinErrors(c.waitEachReady(ctx, nodes, timeout)...)
}

// waitEachReady is waitReady with one result per node.
func (c *Cluster) waitEachReady(ctx context.Context, nodes []*nodeProc, timeout time.Duration) []error {
	ctx, cancel := c.bounded(ctx, timeout)
	defer cancel()
	return lifecycle.Each(nodes, func(n *nodeProc) error { return c.waitOneReady(ctx, n) })
}

func (c *Cluster) waitOneReady(ctx context.Context, n *nodeProc) error {
	p := n.proc
	if p == nil {
		return fmt.Errorf("node %s: not started", n.name)
	}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	start := time.Now()
	for {
		if p.exited() {
			return c.exitedError(n, p)
		}
		actx, cancel := context.WithTimeout(ctx, readyAttempt)
		err := n.role.ReadyFunc()(actx, n.cfg.APIAddr)
		cancel()
		if err == nil {
			n.log.Info("node ready", "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-p.done:
			return c.exitedError(n, p)
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return fmt.Errorf("node %s: not ready: %w", n.name, cause)
			}
			return fmt.Errorf("node %s: not ready after %s: %v%s", n.name,
				time.Since(start).Round(time.Millisecond), err, logQuote(n.logPath))
		case <-tick.C:
		}
	}
}

func (c *Cluster) exitedError(n *nodeProc, p *process) error {
	return fmt.Errorf("node %s: process exited before it was ready (%s)%s", n.name, exitStatus(p.err), logQuote(n.logPath))
}

// signal sends sig to n's process group. A group that is already gone is
// not an error.
func signalGroup(p *process, sig syscall.Signal) error {
	err := syscall.Kill(-p.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// signalTree sends sig to p's process group and to every descendant of p
// that left the group (a server's workers in sessions of their own, as
// PostgreSQL's backends are, which a signal to the group would miss). The
// descendants are found before the signal, so that a SIGKILL also reaches
// the children it orphans; after a SIGSTOP they are looked for again, to
// catch one forked meanwhile. A process already gone is not an error.
func signalTree(p *process, sig syscall.Signal) error {
	kids := descendants(p.pid)
	err := signalGroup(p, sig)
	signalEach(kids, sig)
	if sig == syscall.SIGSTOP {
		signalEach(descendants(p.pid), sig)
	}
	return err
}

// signalEach sends sig to each pid, ignoring those already gone.
func signalEach(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// descendants lists the pids of every process below pid in the process
// tree (children, their children, ...), from the parent of each process.
func descendants(pid int) []int {
	parents, err := parentsOf()
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for child, parent := range parents {
		children[parent] = append(children[parent], child)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, k := range children[next] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// waitExit waits until p is reaped or ctx ends.
func waitExit(ctx context.Context, p *process) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// stopAll stops every node process: SIGCONT and SIGTERM to each group,
// StopGrace, SIGKILL, then waits for every child to be reaped. The caller
// holds mu.
func (c *Cluster) stopAll(ctx context.Context) error {
	var live []*nodeProc
	for _, n := range c.nodes {
		if n.proc != nil && !n.proc.exited() {
			live = append(live, n)
		}
	}
	// Every node's tree as it is now: a server's workers that left its
	// group and outlive it (orphaned) still get the SIGKILL below.
	trees := map[*nodeProc][]int{}
	for _, n := range live {
		trees[n] = descendants(n.proc.pid)
		_ = signalTree(n.proc, syscall.SIGCONT)
		_ = signalGroup(n.proc, syscall.SIGTERM)
		n.paused = false
	}
	grace, cancel := context.WithTimeout(ctx, c.cfg.StopGrace)
	for _, n := range live {
		if waitExit(grace, n.proc) != nil {
			n.log.Warn("node did not stop after SIGTERM; sending SIGKILL", "grace", c.cfg.StopGrace)
		}
	}
	cancel()
	var errs []error
	for _, n := range live {
		// Also sweeps up anything the node started, in its group or not.
		_ = signalGroup(n.proc, syscall.SIGKILL)
		signalEach(trees[n], syscall.SIGKILL)
		if err := waitExit(ctx, n.proc); err != nil {
			errs = append(errs, fmt.Errorf("node %s (pid %d) not reaped: %w", n.name, n.proc.pid, err))
		}
	}
	return lifecycle.JoinErrors(errs...)
}

func stopped(state byte) bool { return state == 'T' || state == 't' }

// waitProcState polls the process state until p's state satisfies ok, p exits, or ctx
// ends.
func waitProcState(ctx context.Context, p *process, ok func(byte) bool) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.exited() {
			return errors.New("process exited")
		}
		st, err := procState(p.pid)
		if err == nil && ok(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process state %q: %w", st, context.Cause(ctx))
		case <-p.done:
		case <-tick.C:
		}
	}
}

// logQuote returns the last lines of a node log as a suffix for an error
// message, on one line.
func logQuote(path string) string {
	lines := logTail(path, logTailLines)
	if len(lines) == 0 {
		return ""
	}
	return "; last log lines: " + strings.Join(lines, " | ")
}

// logTail returns up to n last non-empty lines that the latest run wrote
// to the node log at path, each cut to a readable length.
func logTail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(fi.Size()-window, io.SeekStart); err != nil {
			return nil
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, startBanner) {
			out = out[:0]
			continue
		}
		if l == "" {
			continue
		}
		if len(l) > 300 {
			l = l[:300] + "..."
		}
		out = append(out, l)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
