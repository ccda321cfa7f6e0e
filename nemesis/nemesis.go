// Package nemesis holds the fault kinds, their seeded schedule, and the
// interface through which faults act on a cluster.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrUnsupported is returned (wrapped) when a cluster lacks the capability a
// fault needs, or its environment cannot inject the fault. It is a
// capability error, never a silent no-op.
var ErrUnsupported = errors.New("fault not supported by this provider")

// Grudge says, for each node, the nodes it cannot exchange traffic with.
// The key Clients stands for the clients: Grudge{Clients: {"n1"}, "n1":
// {Clients}} cuts the clients off from n1. Every grudge faultline makes is
// symmetric.
type Grudge map[string][]string

// Clients is the name that stands for the clients in a grudge; no node or
// role may take it.
const Clients = "clients"

// Cluster is what every fault acts on: the cluster's nodes and their roles.
// What a fault needs beyond that is a capability, a small interface of its
// own (Partitioner, LatencyInjector, LossInjector, Killer, Pauser) that a
// provider's cluster implements or not; a fault asserts it where it is used
// and Available says before a run whether a cluster can take the fault.
type Cluster interface {
	// Nodes lists the node names in cluster order.
	Nodes() []string
	// Roles maps each role to its node names, in cluster order.
	Roles() map[string][]string
}

// Partitioner cuts links. Its grudge may name Clients: then the links from
// the clients to the nodes it lists are cut.
type Partitioner interface {
	// Partition cuts the links named by g in both directions, replacing
	// any partition in place.
	Partition(ctx context.Context, g Grudge) error
	// HealPartition restores every link cut by Partition.
	HealPartition(ctx context.Context) error
}

// LatencyInjector delays traffic.
type LatencyInjector interface {
	// SetLatency adds latency (uniformly jittered by ±jitter) to every link.
	SetLatency(ctx context.Context, latency, jitter time.Duration) error
	// ClearLatency removes the latency added by SetLatency.
	ClearLatency(ctx context.Context) error
}

// LossInjector drops packets.
type LossInjector interface {
	// SetLoss drops each packet on every node-to-node link, in each
	// direction, with probability fraction (0 < fraction <= 1), replacing
	// any loss in place.
	SetLoss(ctx context.Context, fraction float64) error
	// ClearLoss removes the loss added by SetLoss; it is idempotent.
	ClearLoss(ctx context.Context) error
}

// Killer kills and restarts nodes.
type Killer interface {
	// Kill stops node's process at once (SIGKILL or equivalent).
	Kill(ctx context.Context, node string) error
	// Restart starts killed nodes again with their data, all of them
	// before it waits, and waits until every one serves requests (nodes
	// that need a quorum of each other become ready together).
	Restart(ctx context.Context, nodes ...string) error
}

// Pauser freezes and unfreezes nodes.
type Pauser interface {
	// Pause freezes node's process (SIGSTOP or equivalent).
	Pause(ctx context.Context, node string) error
	// Resume unfreezes a paused node.
	Resume(ctx context.Context, node string) error
}

// Healer removes every fault at the end of a run.
type Healer interface {
	// HealAll removes every fault (links, latency, loss, stopped and paused
	// nodes) and then verifies that none is left; it returns an error
	// wrapping ErrNotHealed when the verification fails. It is idempotent.
	HealAll(ctx context.Context) error
}

// Sentinel errors every provider returns (wrapped), so that callers can
// branch on them with errors.Is whichever provider is in use.
var (
	// ErrClosed is returned by every fault method after the cluster closed.
	ErrClosed = errors.New("cluster is closed")
	// ErrUnknownNode is returned for a node name the cluster does not have.
	ErrUnknownNode = errors.New("unknown node")
	// ErrNodeState is returned when a fault does not apply to the node's
	// current state, for example killing a node that is already killed.
	ErrNodeState = errors.New("wrong node state")
	// ErrNotHealed is returned by HealAll when its verification finds a
	// fault still in place.
	ErrNotHealed = errors.New("cluster not healed")
	// ErrNotApplied is returned when a fault was requested but the check
	// that follows it finds it not in effect.
	ErrNotApplied = errors.New("fault not in effect")
)

// capability returns c as the capability T, or an error wrapping
// ErrUnsupported that names the fault.
func capability[T any](c Cluster, fault string) (T, error) {
	v, ok := capabilityOf[T](c)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s: %w", fault, ErrUnsupported)
	}
	return v, nil
}

// Availability is implemented by faults that can tell before a run whether
// a cluster can take them: the capability they need, the roles they name,
// enough nodes for their shapes.
type Availability interface {
	// Available returns nil when the fault can act on c, and otherwise an
	// error saying why (wrapping ErrUnsupported for a missing capability).
	Available(c Cluster) error
}

// Available returns nil when f can act on c: f's own answer when it has
// one (see Availability), else nil.
func Available(f Fault, c Cluster) error {
	if a, ok := f.(Availability); ok {
		return a.Available(c)
	}
	return nil
}

// MechanismReporter is implemented by a Cluster whose way of injecting a
// fault depends on the environment (for example latency through the
// kernel's netem qdisc or, where that is missing, through proxies on the
// client links only). Faults that have such a choice put the answer into
// the value they return, so that the history says what was done.
type MechanismReporter interface {
	// FaultMechanism describes, in a few words, how the fault kind (a
	// --nemesis name such as "latency") was injected last, or "" when the
	// cluster has nothing to say about it.
	FaultMechanism(kind string) string
}

// Fault is one kind of fault, injected in windows: Start opens a window and
// Stop closes it. The returned values describe what was done and go into the
// history as the nemesis event's value.
type Fault interface {
	// Name is the --nemesis name, for example "partition".
	Name() string
	// Start injects the fault, choosing its shape with rng.
	Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error)
	// Stop heals what Start did.
	Stop(ctx context.Context, c Cluster) (any, error)
}
