package docker

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/netfilter"
)

// A helper container is a container of faultline's that shares the network
// namespace of a node container faultline did not create (a user's Compose
// service), to install the iptables chains of package netfilter there. The
// compose provider makes one per node. Besides the run's labels
// (LabelFaultline, LabelRun) a helper carries the labels below, which are
// all that RestoreHelped needs to give the node back as it was found when
// the controller died: the node container is never removed, only started
// again, resumed and rid of the chains.
const (
	// LabelKind says what kind of object of a run a container is; helpers
	// carry KindComposeHelper.
	LabelKind = "faultline.kind"
	// KindComposeHelper is LabelKind's value on the compose provider's
	// helper containers.
	KindComposeHelper = "compose-helper"
	// LabelHelperOf holds the id of the node container whose network
	// namespace the helper shares.
	LabelHelperOf = "faultline.helper-of"
	// LabelHelperStarted holds the node container's State.StartedAt when
	// the helper joined it: a node started again since lives in another
	// network namespace, which holds none of the helper's rules.
	LabelHelperStarted = "faultline.helper-started"
	// LabelHelperIP holds the node's address on its project network when
	// the helper joined it; nodes to start again are started in the order
	// of these addresses, so that each tends to get its own back.
	LabelHelperIP = "faultline.helper-ip"
	// LabelComposeProject holds the Compose project of the helper's node.
	LabelComposeProject = "faultline.compose.project"
)

// restoreTimeout bounds the restoration of one node: resuming or
// starting it, waiting for the engine to report it running, removing the
// chains.
const restoreTimeout = 30 * time.Second

// IsHelper reports whether labels are those of a run's helper container:
// LabelFaultline=1, a run id, LabelKind=KindComposeHelper and a node in
// LabelHelperOf.
func IsHelper(labels map[string]string) bool {
	return labels[LabelFaultline] == "1" && labels[LabelRun] != "" &&
		labels[LabelKind] == KindComposeHelper && labels[LabelHelperOf] != ""
}

// RestoreHelped gives back the node containers of the helper containers of
// run runID ("" for every run) as the run found them, and removes those
// helpers. For each node it resumes a paused container; starts one that
// is not running (every node ran when its run began, so a stopped one was
// killed by the run), in the order of LabelHelperIP, and waits until the
// engine reports it running; and, in a node that kept the network
// namespace a helper joined (same State.StartedAt), removes the chains
// and the jumps to them through that helper (netfilter.TeardownScript,
// starting the helper first when it is not running). A node container that
// no longer exists needs nothing. Only then are the node's helpers
// removed (by force): the helpers of a node it could not restore are
// left, so that a later call can try again, and the failure is returned.
// It finds helpers by their labels only (IsHelper, and LabelRun when
// runID is set), writes one line per action to out (nil for none), and
// returns the descriptions of the helpers it removed.
func RestoreHelped(ctx context.Context, eng Engine, runID string, out io.Writer) (removed []string, err error) {
	filter := labelFilter(LabelFaultline, "1").Add("label", LabelKind+"="+KindComposeHelper)
	if runID != "" {
		filter = filter.Add("label", LabelRun+"="+runID)
	}
	cs, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list helper containers: %w", err)
	}
	byNode := map[string][]container.Summary{}
	for _, ct := range cs.Items {
		if IsHelper(ct.Labels) && (runID == "" || ct.Labels[LabelRun] == runID) {
			byNode[ct.Labels[LabelHelperOf]] = append(byNode[ct.Labels[LabelHelperOf]], ct)
		}
	}
	nodes := make([]string, 0, len(byNode))
	for id := range byNode {
		nodes = append(nodes, id)
	}
	// Start nodes in the order of their old addresses: the engine hands
	// out the lowest free address, so each tends to get its own back.
	addr := func(id string) netip.Addr {
		for _, h := range byNode[id] {
			if a, err := netip.ParseAddr(h.Labels[LabelHelperIP]); err == nil {
				return a
			}
		}
		return netip.Addr{}
	}
	slices.SortFunc(nodes, func(a, b string) int {
		return cmp.Or(addr(a).Compare(addr(b)), strings.Compare(a, b))
	})
	say := func(format string, args ...any) {
		if out != nil {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	var errs []error
	for _, id := range nodes {
		helpers := byNode[id]
		rctx, cancel := context.WithTimeout(ctx, restoreTimeout)
		did, err := restoreNode(rctx, eng, id, helpers)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if did != "" {
			say("restored %s", did)
		}
		for _, h := range helpers {
			name := containerName(h)
			_, err := eng.ContainerRemove(ctx, h.ID, client.ContainerRemoveOptions{Force: true})
			switch {
			case err == nil:
				removed = append(removed, "container "+name)
				say("removed container %s", name)
			case cerrdefs.IsNotFound(err):
			default:
				errs = append(errs, fmt.Errorf("remove helper %s: %w", name, err))
			}
		}
	}
	return removed, lifecycle.JoinErrors(errs...)
}

// containerName is the name of a listed container, or its short id.
func containerName(ct container.Summary) string {
	if len(ct.Names) > 0 {
		return strings.TrimPrefix(ct.Names[0], "/")
	}
	return shortID(ct.ID)
}

// restoreNode restores node container id, whose helpers are helpers, and
// describes what it did ("" for nothing).
func restoreNode(ctx context.Context, eng Engine, id string, helpers []container.Summary) (string, error) {
	in, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("restore node %s: %w", shortID(id), err)
	}
	name := strings.TrimPrefix(in.Container.Name, "/")
	st := in.Container.State
	if st == nil {
		return "", fmt.Errorf("restore node %s: the engine reports no state", name)
	}
	var did []string
	if st.Paused {
		if _, err := eng.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
			return "", fmt.Errorf("restore node %s: unpause: %w", name, err)
		}
		did = append(did, "unpaused")
	}
	if !st.Running {
		if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return "", fmt.Errorf("restore node %s: start: %w", name, err)
		}
		did = append(did, "started")
	}
	if len(did) > 0 {
		if st, err = waitRunning(ctx, eng, id); err != nil {
			return "", fmt.Errorf("restore node %s: %w", name, err)
		}
	}
	for _, h := range helpers {
		if h.Labels[LabelHelperStarted] != st.StartedAt || !st.Running {
			continue // another network namespace than the node's now
		}
		if h.State != container.StateRunning {
			if _, err := eng.ContainerStart(ctx, h.ID, client.ContainerStartOptions{}); err != nil {
				return "", fmt.Errorf("restore node %s: start helper %s to remove the chains: %w", name, containerName(h), err)
			}
		}
		res, err := Exec(ctx, eng, h.ID, nil, "sh", "-c", netfilter.TeardownScript)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit status %d: %s", res.ExitCode, oneLine(res.Stderr))
		}
		var left int
		if err == nil {
			left, err = netfilter.ParseLeft(res.Stdout)
		}
		if err == nil && left != 0 {
			err = fmt.Errorf("%d rules still name the chains", left)
		}
		if err != nil {
			return "", fmt.Errorf("restore node %s: remove the chains: %w", name, err)
		}
		did = append(did, "chains removed")
	}
	if len(did) == 0 {
		return "", nil
	}
	return "node " + name + " (" + strings.Join(did, ", ") + ")", nil
}

// waitRunning polls container id until the engine reports it running and
// not paused, or ctx ends, and returns its state.
func waitRunning(ctx context.Context, eng Engine, id string) (*container.State, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		in, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil && in.Container.State != nil && in.Container.State.Running && !in.Container.State.Paused {
			return in.Container.State, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("not running: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}
