package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/netfilter"
)

// helperEngine is an engine of node containers (the user's) and helper
// containers that records what RestoreHelped does; it lists every
// container it has, whatever the filter, as a faulty engine might.
type helperEngine struct {
	Engine // nil: other calls panic

	mu      sync.Mutex
	listed  []container.Summary
	nodes   map[string]*container.State
	calls   []string
	scripts map[string]string // helper id -> what the teardown prints
}

func (f *helperEngine) note(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *helperEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: slices.Clone(f.listed)}, nil
}

func (f *helperEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.nodes[id]
	if !ok {
		return client.ContainerInspectResult{}, cerrdefs.ErrNotFound
	}
	cp := *st
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, Name: "/" + id, State: &cp}}, nil
}

func (f *helperEngine) ContainerUnpause(_ context.Context, id string, _ client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error) {
	f.note("unpause " + id)
	f.mu.Lock()
	f.nodes[id].Paused = false
	f.mu.Unlock()
	return client.ContainerUnpauseResult{}, nil
}

func (f *helperEngine) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.note("start " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.nodes[id]; ok {
		st.Running, st.StartedAt = true, "started-again"
	}
	return client.ContainerStartResult{}, nil
}

func (f *helperEngine) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	if !o.Force {
		return client.ContainerRemoveResult{}, errors.New("not forced")
	}
	f.note("remove " + id)
	return client.ContainerRemoveResult{}, nil
}

func (f *helperEngine) ExecCreate(_ context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	if !slices.Contains(o.Cmd, netfilter.TeardownScript) {
		return client.ExecCreateResult{}, errors.New("not the teardown script")
	}
	f.note("teardown in " + id)
	return client.ExecCreateResult{ID: id}, nil
}

func (f *helperEngine) ExecAttach(_ context.Context, execID string, _ client.ExecAttachOptions) (client.ExecAttachResult, error) {
	out, ok := f.scripts[execID]
	if !ok {
		out = "left 0\n"
	}
	a, b := net.Pipe()
	go func() {
		// One frame of the multiplexed stream: the stream, three zero
		// bytes, the length (big-endian), the payload.
		frame := binary.BigEndian.AppendUint32([]byte{byte(stdcopy.Stdout), 0, 0, 0}, uint32(len(out)))
		b.Write(append(frame, out...))
		b.Close()
	}()
	return client.ExecAttachResult{HijackedResponse: client.NewHijackedResponse(a, "")}, nil
}

func (f *helperEngine) ExecInspect(context.Context, string, client.ExecInspectOptions) (client.ExecInspectResult, error) {
	return client.ExecInspectResult{}, nil
}

func TestRestoreHelpedGivesNodesBackAndRemovesHelpers(t *testing.T) {
	helperOf := func(id, run, node, started, ip string, st container.ContainerState) container.Summary {
		return container.Summary{ID: id, Names: []string{"/" + id}, State: st, Labels: map[string]string{
			LabelFaultline: "1", LabelRun: run, LabelKind: KindComposeHelper, LabelHelperOf: node,
			LabelHelperStarted: started, LabelHelperIP: ip,
		}}
	}
	f := &helperEngine{
		nodes: map[string]*container.State{
			"running":   {Running: true, StartedAt: "t1"},
			"paused":    {Running: true, Paused: true, StartedAt: "t2"},
			"killed":    {StartedAt: "t3"},
			"restarted": {Running: true, StartedAt: "t5-later"},
			"stuck":     {Running: true, StartedAt: "t6"},
			"killed2":   {StartedAt: "t7"},
		},
		scripts: map[string]string{"h-stuck": "left 2\n"},
	}
	f.listed = []container.Summary{
		helperOf("h-running", "r1", "running", "t1", "10.0.0.5", container.StateRunning),
		helperOf("h-paused", "r1", "paused", "t2", "10.0.0.4", container.StateRunning),
		// Killed, and a second helper made before the restart that never came.
		helperOf("h-killed", "r1", "killed", "t3", "10.0.0.3", container.StateRunning),
		helperOf("h-killed2", "r1", "killed2", "t7", "10.0.0.2", container.StateRunning),
		helperOf("h-gone", "r1", "gone", "t4", "10.0.0.9", container.StateRunning),
		// The node started again since: its rules went with its old namespace.
		helperOf("h-restarted", "r1", "restarted", "t5", "10.0.0.6", container.StateRunning),
		helperOf("h-stuck", "r1", "stuck", "t6", "10.0.0.7", container.StateRunning),
		helperOf("h-other-run", "r2", "running", "t1", "10.0.0.5", container.StateRunning),
		// Of the run but not helpers: left to the removal that follows.
		{ID: "node-of-run", Labels: map[string]string{LabelFaultline: "1", LabelRun: "r1", LabelNode: "n1"}},
		{ID: "no-node", Labels: map[string]string{LabelFaultline: "1", LabelRun: "r1", LabelKind: KindComposeHelper}},
	}
	var out strings.Builder
	removed, err := RestoreHelped(t.Context(), f, "r1", &out)
	if err == nil || !strings.Contains(err.Error(), "restore node stuck: remove the chains: 2 rules still name the chains") {
		t.Errorf("err %v, want the node whose chains stayed named", err)
	}
	want := []string{
		// Stopped nodes start in the order of their old addresses.
		"start killed2", "remove h-killed2",
		"start killed", "remove h-killed",
		"unpause paused", "teardown in h-paused", "remove h-paused",
		"teardown in h-running", "remove h-running",
		"remove h-restarted",
		"teardown in h-stuck",
		"remove h-gone",
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n%v\nwant\n%v", f.calls, want)
	}
	if len(removed) != 6 || slices.Contains(removed, "container h-stuck") || slices.Contains(removed, "container h-other-run") {
		t.Errorf("removed %v", removed)
	}
	for _, line := range []string{"restored node paused (unpaused, chains removed)", "restored node killed (started)", "restored node running (chains removed)", "removed container h-gone"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
	// Without a run id, every run's helpers.
	f.calls = nil
	if _, err := RestoreHelped(t.Context(), f, "", nil); err == nil {
		t.Error("the stuck node went unnoticed")
	}
	if !slices.Contains(f.calls, "remove h-other-run") {
		t.Errorf("every run's helpers: calls %v", f.calls)
	}
}
