// Package nemesis holds the fault kinds, their seeded schedule, and the
// interface through which faults act on a cluster.
package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrUnsupported is returned (wrapped) by a Cluster that cannot inject a
// fault in this environment. It is a capability error, never a silent no-op.
var ErrUnsupported = errors.New("fault not supported by this provider")

// Grudge says, for each node, the nodes it cannot exchange traffic with.
// Every grudge faultline makes is symmetric.
type Grudge map[string][]string

// Cluster is what faults act on; each provider implements it.
type Cluster interface {
	// Nodes lists the node names in order.
	Nodes() []string
	// Partition cuts the links named by g in both directions, replacing
	// any partition in place.
	Partition(ctx context.Context, g Grudge) error
	// HealPartition restores every link cut by Partition.
	HealPartition(ctx context.Context) error
	// SetLatency adds latency (uniformly jittered by ±jitter) to every link.
	SetLatency(ctx context.Context, latency, jitter time.Duration) error
	// ClearLatency removes the latency added by SetLatency.
	ClearLatency(ctx context.Context) error
	// SetLoss drops each packet on every node-to-node link, in each
	// direction, with probability fraction (0 < fraction <= 1), replacing
	// any loss in place. A provider that cannot drop packets returns an
	// error wrapping ErrUnsupported.
	SetLoss(ctx context.Context, fraction float64) error
	// ClearLoss removes the loss added by SetLoss; it is idempotent.
	ClearLoss(ctx context.Context) error
	// Kill stops node's process at once (SIGKILL or equivalent).
	Kill(ctx context.Context, node string) error
	// Restart starts a killed node again with its data and waits until it
	// serves requests.
	Restart(ctx context.Context, node string) error
	// Pause freezes node's process (SIGSTOP or equivalent).
	Pause(ctx context.Context, node string) error
	// Resume unfreezes a paused node.
	Resume(ctx context.Context, node string) error
	// HealAll removes every fault (links, latency, loss, stopped and paused
	// nodes) and then verifies that none is left; it returns an error when
	// the verification fails. It is idempotent.
	HealAll(ctx context.Context) error
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
