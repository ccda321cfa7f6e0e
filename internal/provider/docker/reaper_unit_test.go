package docker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// These tests need no Docker engine: the reaper's protocol runs over
// loopback TCP, its removal against a fake engine.

// listenLoopback returns a listener on a free loopback port.
func listenLoopback(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// served is what awaitController returned.
type served struct {
	conn net.Conn
	r    *bufio.Reader
	err  error
}

func serve(ln net.Listener, token string, wait time.Duration, engErr error) chan served {
	ch := make(chan served, 1)
	go func() {
		conn, r, err := awaitController(ln, token, wait, engErr, slog.New(slog.DiscardHandler))
		ch <- served{conn, r, err}
	}()
	return ch
}

func receive[T any](t *testing.T, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
		panic("unreachable")
	}
}

func TestReaperRefusesAWrongTokenAndAcceptsTheRightOne(t *testing.T) {
	ln := listenLoopback(t)
	ch := serve(ln, "s3cret", time.Minute, nil)

	// A stranger is refused without an answer and the reaper keeps waiting.
	_, err := hello(t.Context(), ln.Addr().String(), "guess")
	if err == nil {
		t.Fatal("the reaper accepted a wrong token")
	}
	select {
	case s := <-ch:
		t.Fatalf("the reaper stopped waiting after a wrong token: %v", s.err)
	default:
	}

	conn, err := hello(t.Context(), ln.Addr().String(), "s3cret")
	if err != nil {
		t.Fatalf("hello with the token: %v", err)
	}
	defer conn.Close()
	if s := receive(t, ch); s.err != nil || s.conn == nil {
		t.Fatalf("awaitController: %v", s.err)
	}
}

func TestReaperReapsUnlessTheControllerSaysDone(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(net.Conn, *bufio.Reader) (string, error)
		done bool
	}{
		{"done", func(c net.Conn, r *bufio.Reader) (string, error) { return exchange(c, r, "done") }, true},
		{"dropped", func(c net.Conn, _ *bufio.Reader) (string, error) { return "", c.Close() }, false},
		{"unknown line then dropped", func(c net.Conn, _ *bufio.Reader) (string, error) {
			io.WriteString(c, "what\n")
			return "", c.Close()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listenLoopback(t)
			ch := serve(ln, "tok", time.Minute, nil)
			conn, err := hello(t.Context(), ln.Addr().String(), "tok")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			s := receive(t, ch)
			held := make(chan bool, 1)
			go func() { held <- holdController(s.conn, s.r, slog.New(slog.DiscardHandler)) }()
			answer, err := tc.end(conn, bufio.NewReader(conn))
			if got := receive(t, held); got != tc.done {
				t.Fatalf("holdController = %v, want %v", got, tc.done)
			}
			if tc.done && (err != nil || answer != "bye") {
				t.Fatalf("answer to done: %q, %v; want bye", answer, err)
			}
		})
	}
}

func TestReaperStopsWaitingForAControllerThatNeverComes(t *testing.T) {
	ln := listenLoopback(t)
	begin := time.Now()
	s := receive(t, serve(ln, "tok", 200*time.Millisecond, nil))
	if !errors.Is(s.err, os.ErrDeadlineExceeded) {
		t.Fatalf("awaitController without a controller: %v, want the deadline", s.err)
	}
	if d := time.Since(begin); d < 200*time.Millisecond {
		t.Fatalf("gave up after %v, before its wait", d)
	}
}

func TestReaperWithoutEngineRefusesItsController(t *testing.T) {
	ln := listenLoopback(t)
	ch := serve(ln, "tok", time.Minute, errors.New("permission denied"))
	_, err := hello(t.Context(), ln.Addr().String(), "tok")
	var refused reaperRefusal
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("hello to a reaper without engine: %v, want its refusal", err)
	}
	if s := receive(t, ch); s.err == nil {
		t.Fatal("awaitController succeeded without an engine")
	}
}

// fakeEngine holds containers and networks in memory; it implements the
// calls reap makes and ignores list filters, so that the label checks of
// the removal itself are what is tested.
type fakeEngine struct {
	Engine // nil: other calls panic

	mu         sync.Mutex
	containers []container.Summary
	networks   []network.Summary
	unpaused   []string
	// refuseUnpaused makes removal of a paused container fail, as some
	// engines do.
	refuseUnpaused bool
}

func (f *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.ContainerListResult{Items: slices.Clone(f.containers)}, nil
}

func (f *fakeEngine) ContainerUnpause(_ context.Context, id string, _ client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.containers {
		if f.containers[i].ID == id {
			f.containers[i].State = container.StateRunning
			f.unpaused = append(f.unpaused, id)
		}
	}
	return client.ContainerUnpauseResult{}, nil
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, opts client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.containers {
		if c.ID == id {
			if c.State == container.StatePaused && f.refuseUnpaused {
				return client.ContainerRemoveResult{}, errors.New("cannot remove a paused container")
			}
			if !opts.Force {
				return client.ContainerRemoveResult{}, errors.New("container is running")
			}
			f.containers = slices.Delete(f.containers, i, i+1)
			return client.ContainerRemoveResult{}, nil
		}
	}
	return client.ContainerRemoveResult{}, errors.New("no such container")
}

func (f *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return client.NetworkListResult{Items: slices.Clone(f.networks)}, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, n := range f.networks {
		if n.ID == id {
			f.networks = slices.Delete(f.networks, i, i+1)
			return client.NetworkRemoveResult{}, nil
		}
	}
	return client.NetworkRemoveResult{}, errors.New("no such network")
}

func (f *fakeEngine) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.containers {
		out = append(out, c.ID)
	}
	for _, n := range f.networks {
		out = append(out, n.ID)
	}
	slices.Sort(out)
	return out
}

func TestReapRemovesTheRunAndNothingElse(t *testing.T) {
	run := map[string]string{LabelFaultline: "1", LabelRun: "r1"}
	with := func(l map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range l {
			out[a] = b
		}
		return out
	}
	ct := func(id string, labels map[string]string, state container.ContainerState) container.Summary {
		return container.Summary{ID: id, Names: []string{"/" + id}, Labels: labels, State: state}
	}
	f := &fakeEngine{
		refuseUnpaused: true,
		containers: []container.Summary{
			ct("node1", with(run, LabelNode, "n1"), container.StateRunning),
			ct("node2-paused", with(run, LabelNode, "n2"), container.StatePaused),
			ct("node3-exited", with(run, LabelNode, "n3"), container.StateExited),
			ct("reaper", with(run, LabelReaper, "1"), container.StateRunning),
			ct("other-run", map[string]string{LabelFaultline: "1", LabelRun: "r2"}, container.StateRunning),
			ct("prefix-run", map[string]string{LabelFaultline: "1", LabelRun: "r1x"}, container.StateRunning),
			ct("no-run-label", map[string]string{LabelFaultline: "1"}, container.StateRunning),
			ct("run-label-only", map[string]string{LabelRun: "r1"}, container.StateRunning),
			ct("unlabelled", nil, container.StateRunning),
		},
		networks: []network.Summary{
			{Network: network.Network{ID: "net-r1", Name: "faultline-r1", Labels: run}},
			{Network: network.Network{ID: "net-r2", Name: "faultline-r2", Labels: map[string]string{LabelFaultline: "1", LabelRun: "r2"}}},
			{Network: network.Network{ID: "bridge", Name: "bridge"}},
		},
	}
	if err := reap(t.Context(), f, "r1", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("reap: %v", err)
	}
	want := []string{"bridge", "net-r2", "no-run-label", "other-run", "prefix-run", "reaper", "run-label-only", "unlabelled"}
	if got := f.names(); !slices.Equal(got, want) {
		t.Fatalf("after reap the engine holds %v, want %v", got, want)
	}
	if !slices.Equal(f.unpaused, []string{"node2-paused"}) {
		t.Fatalf("unpaused %v, want the paused node only", f.unpaused)
	}
}
