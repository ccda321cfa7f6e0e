package demokv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/targets"
)

// TestMain lets the test binary run as a demo-kv node process, the way the
// local provider starts nodes.
func TestMain(m *testing.M) {
	node.MainIfNode(func(name string) (targets.Target, bool) { return Target{}, name == Name })
	os.Exit(m.Run())
}

// procs runs a cluster's nodes as child processes of the test binary.
type procs struct {
	*cluster
	cmds []*exec.Cmd
	outs []*syncBuffer
	done []chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newProcs(t *testing.T, variant string) *procs {
	p := &procs{cluster: newCluster(t, variant, 3)}
	p.cmds = make([]*exec.Cmd, 3)
	p.outs = make([]*syncBuffer, 3)
	p.done = make([]chan error, 3)
	t.Cleanup(func() {
		for i, cmd := range p.cmds {
			if cmd != nil {
				cmd.Process.Kill()
				<-p.done[i]
			}
		}
		if t.Failed() {
			for i, out := range p.outs {
				if out != nil {
					t.Logf("%s output:\n%s", p.names[i], out)
				}
			}
		}
	})
	return p
}

func (p *procs) start(i int) {
	p.t.Helper()
	env, err := node.Env(p.cfgs[i])
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	if p.outs[i] == nil {
		p.outs[i] = &syncBuffer{}
	}
	cmd.Stdout, cmd.Stderr = p.outs[i], p.outs[i]
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	p.cmds[i], p.done[i] = cmd, done
}

// signal sends sig to node i; for SIGKILL and SIGTERM it waits for the
// process to exit (at most 10s) and returns its exit error.
func (p *procs) signal(i int, sig syscall.Signal) error {
	p.t.Helper()
	if err := p.cmds[i].Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	if sig != syscall.SIGKILL && sig != syscall.SIGTERM {
		return nil
	}
	select {
	case err := <-p.done[i]:
		p.cmds[i] = nil
		return err
	case <-time.After(10 * time.Second):
		p.t.Fatalf("%s did not exit within 10s of %v", p.names[i], sig)
		return nil
	}
}

// healthLeader returns the leader that node i's health check names, or "".
func (p *procs) healthLeader(i int) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.cfgs[i].APIAddr+RouteHealth, nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r Reply
	json.NewDecoder(resp.Body).Decode(&r)
	return r.Leader
}

func TestSafeProcessesKillPauseAndTerm(t *testing.T) {
	p := newProcs(t, VariantSafe)
	for i := range 3 {
		p.start(i)
	}
	for i := range 3 {
		p.waitReady(i)
	}
	cl := p.client(0)
	invokeWant(t, cl, core.OK, "write", "k", int64(1))

	// SIGKILL the leader: the others take over; it restarts and catches up.
	old := slices.Index(p.names, p.leaderOf(0))
	var exit *exec.ExitError
	if err := p.signal(old, syscall.SIGKILL); !errors.As(err, &exit) {
		t.Fatalf("kill %s: %v", p.names[old], err)
	}
	survivor := (old + 1) % 3
	p.waitReady(survivor)
	invokeWant(t, p.client(survivor), core.OK, "cas", "k", [2]int64{1, 2})
	p.start(old)
	p.waitReady(old)
	wantRead(t, p.client(old), "k", int64(2))

	// SIGSTOP the leader: the others elect a new one and serve; after
	// SIGCONT the old leader refuses and points at the new one.
	paused := slices.Index(p.names, p.leaderOf(0))
	p.signal(paused, syscall.SIGSTOP)
	other := (paused + 1) % 3
	eventually(t, 15*time.Second, "a new leader while the old one is paused", func() string {
		if l := p.healthLeader(other); l == "" || l == p.names[paused] {
			return "leader " + l
		}
		return ""
	})
	invokeWant(t, p.client(other), core.OK, "write", "k", int64(3))
	p.signal(paused, syscall.SIGCONT)
	eventually(t, 15*time.Second, "the resumed leader steps down", func() string {
		op := invoke(p.client(paused), "read", "k", nil)
		if op.Type == core.OK && op.Value != int64(3) {
			t.Fatalf("read after the pause: %+v, want 3", op)
		}
		if op.Type == core.Fail && strings.HasPrefix(op.Error, "not leader; leader is") && op.Node == p.names[paused] {
			return "" // it has stepped down and knows the new leader
		}
		return fmt.Sprintf("%+v", op)
	})
	wantRead(t, p.client(paused), "k", int64(3))

	// SIGTERM: every node stops cleanly (exit status 0).
	for i := range 3 {
		if err := p.signal(i, syscall.SIGTERM); err != nil {
			t.Errorf("%s after SIGTERM: %v", p.names[i], err)
		}
	}
}

func TestUnsafeProcessKillKeepsData(t *testing.T) {
	p := newProcs(t, VariantUnsafe)
	p.start(0)
	p.waitReady(0)
	invokeWant(t, p.client(0), core.OK, "write", "k", int64(7))
	p.signal(0, syscall.SIGKILL)
	p.start(0)
	p.waitReady(0)
	wantRead(t, p.client(0), "k", int64(7))
	if err := p.signal(0, syscall.SIGTERM); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}
