package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// ErrTargetUnsupported is returned (wrapped) when a fault needs something
// of the target that it does not have: a stall point in its clients, a
// primary to fail over. Like ErrUnsupported it is never a silent no-op.
var ErrTargetUnsupported = errors.New("not supported by this target")

// Promoter is the target's side of the failover fault, for a cluster whose
// nodes (of one role) run as one primary and replicas that follow it: it
// finds the primary, promotes a replica and makes a node follow the
// primary, as a failover manager (Redis Sentinel, Patroni) would. A target
// lays it out with its cluster (targets.Layout.Failover) and the run hands
// it to the faults through Extend.
type Promoter interface {
	// Primary returns the node that serves as primary now and the others
	// that take part in replication, in cluster order. When no node says
	// it is primary, primary is "" and members lists them all; when more
	// than one does, it is an error.
	Primary(ctx context.Context) (primary string, members []string, err error)
	// Promote makes node a primary: it stops following and takes writes.
	Promote(ctx context.Context, node string) error
	// Follow makes node a replica of primary; what node held that primary
	// lacks is gone.
	Follow(ctx context.Context, node, primary string) error
}

// Rebuilder is implemented by a Promoter whose Follow rebuilds the node
// from the new primary (a database whose old primary is copied afresh): it
// takes a killed node as it is, so the failover fault does not restart the
// old primary before Follow, which would bring it back as a second
// primary until then.
type Rebuilder interface {
	Promoter
	// RebuildsOnFollow marks the Promoter; it does nothing.
	RebuildsOnFollow()
}

// The ways a failover window loses the primary.
const (
	// FailoverIsolate cuts the primary off from its replicas and leaves it
	// running: clients that still reach it keep writing there after the
	// promotion (split brain).
	FailoverIsolate = "isolate"
	// FailoverKill cuts the primary off from its replicas and kills it
	// as soon as a replica is promoted, as a failover manager that fences
	// the old primary would: clients on it fail over at once, and a lock
	// it granted that the replica never saw is lost while its holder
	// still works.
	FailoverKill = "kill"
)

// DefaultFailoverLag is how long a failover window keeps the primary cut
// off from its replicas, taking writes they never see, before it promotes
// one: longer than the leases of the lock targets, so that what the
// replica holds of a lease taken before the cut has run out by then.
const DefaultFailoverLag = time.Second

// Failover is the failover fault. Each window cuts the primary off from
// its replicas (a partition), lets it take writes they never see for Lag,
// promotes a random replica, the others following it, and then kills the
// old primary (FailoverKill) or leaves it running (FailoverIsolate). Stop heals the
// partition, restarts a killed primary and makes the old primary follow
// the new one. It needs the target's Promoter, a Partitioner and, to kill,
// a Killer. A Failover serves one window at a time.
type Failover struct {
	// Mode is FailoverIsolate or FailoverKill; "" draws one of them each
	// window.
	Mode string
	// Lag is how long the primary is cut off before the promotion; zero
	// means DefaultFailoverLag.
	Lag time.Duration

	cut, killed   bool
	old, promoted string
}

// FailoverValue describes a failover window: how the primary was lost,
// which node it was and which replica took over.
type FailoverValue struct {
	Mode     string `json:"mode,omitempty"`
	Primary  string `json:"primary,omitempty"`
	Promoted string `json:"promoted,omitempty"`
	// Follower is the old primary, following the promoted one (Stop).
	Follower string `json:"follower,omitempty"`
	Killed   bool   `json:"killed,omitempty"`
}

var (
	_ Fault        = (*Failover)(nil)
	_ Availability = (*Failover)(nil)
)

// Name returns "failover".
func (f *Failover) Name() string { return "failover" }

func (f *Failover) lag() time.Duration {
	if f.Lag > 0 {
		return f.Lag
	}
	return DefaultFailoverLag
}

// promoter returns c's Promoter, or an error wrapping ErrTargetUnsupported.
func promoter(c Cluster) (Promoter, error) {
	p, ok := capabilityOf[Promoter](c)
	if !ok {
		return nil, fmt.Errorf("failover: %w: its cluster has no primary and replicas to switch over", ErrTargetUnsupported)
	}
	return p, nil
}

// Available checks that the target has a primary to fail over and that c
// can partition (and kill, unless the mode is isolate).
func (f *Failover) Available(c Cluster) error {
	if _, err := promoter(c); err != nil {
		return err
	}
	if _, err := capability[Partitioner](c, "failover"); err != nil {
		return err
	}
	if f.Mode != FailoverIsolate {
		if _, err := capability[Killer](c, "failover"); err != nil {
			return err
		}
	}
	return nil
}

// Start loses the primary and promotes a replica; see Failover. When no
// node is primary (a restart left only replicas) it promotes one and does
// nothing else.
func (f *Failover) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	f.cut, f.killed, f.old, f.promoted = false, false, "", ""
	mode := f.Mode
	if mode == "" {
		mode = []string{FailoverIsolate, FailoverKill}[rng.IntN(2)]
	}
	v := FailoverValue{Mode: mode}
	p, err := promoter(c)
	if err != nil {
		return v, err
	}
	part, err := capability[Partitioner](c, "failover")
	if err != nil {
		return v, err
	}
	var kl Killer
	if mode == FailoverKill {
		if kl, err = capability[Killer](c, "failover"); err != nil {
			return v, err
		}
	}
	primary, members, err := p.Primary(ctx)
	if err != nil {
		return v, fmt.Errorf("failover: %w", err)
	}
	if primary == "" {
		if len(members) == 0 {
			return v, errors.New("failover: no replicating nodes")
		}
		v.Mode, v.Promoted = "", members[rng.IntN(len(members))]
		if err := p.Promote(ctx, v.Promoted); err != nil {
			return v, fmt.Errorf("failover: no primary; promote %s: %w", v.Promoted, err)
		}
		return v, nil
	}
	v.Primary = primary
	replicas := slices.DeleteFunc(slices.Clone(members), func(n string) bool { return n == primary })
	if len(replicas) == 0 {
		return v, fmt.Errorf("failover: primary %s has no replica", primary)
	}
	g := Grudge{primary: replicas}
	for _, r := range replicas {
		g[r] = []string{primary}
	}
	f.old = primary
	if err := part.Partition(ctx, g); err != nil {
		return v, fmt.Errorf("failover: cut %s off from its replicas: %w", primary, err)
	}
	f.cut = true
	if !wait(ctx, f.lag()) {
		return v, fmt.Errorf("failover: %w", context.Cause(ctx))
	}
	next := replicas[rng.IntN(len(replicas))]
	if err := p.Promote(ctx, next); err != nil {
		return v, fmt.Errorf("failover: promote %s: %w", next, err)
	}
	f.promoted, v.Promoted = next, next
	var errs []error
	for _, r := range replicas {
		if r != next {
			if err := p.Follow(ctx, r, next); err != nil {
				errs = append(errs, fmt.Errorf("%s follows %s: %w", r, next, err))
			}
		}
	}
	if kl != nil {
		if err := kl.Kill(ctx, primary); err != nil {
			errs = append(errs, fmt.Errorf("kill %s: %w", primary, err))
		} else {
			f.killed, v.Killed = true, true
		}
	}
	return v, joinErr("failover", errs)
}

// Stop heals the partition, restarts a killed primary and makes the old
// primary follow the promoted one; a Rebuilder's Follow takes the killed
// primary as it is.
func (f *Failover) Stop(ctx context.Context, c Cluster) (any, error) {
	v := FailoverValue{Primary: f.promoted}
	defer func() { f.cut, f.killed, f.old, f.promoted = false, false, "", "" }()
	var errs []error
	if f.cut {
		if part, err := capability[Partitioner](c, "failover"); err != nil {
			errs = append(errs, err)
		} else if err := part.HealPartition(ctx); err != nil {
			errs = append(errs, fmt.Errorf("heal: %w", err))
		}
	}
	_, rebuilds := capabilityOf[Rebuilder](c)
	if f.killed && !rebuilds {
		if kl, err := capability[Killer](c, "failover"); err != nil {
			errs = append(errs, err)
		} else if err := kl.Restart(ctx, f.old); err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", f.old, err))
		}
	}
	if f.old != "" && f.promoted != "" {
		if p, err := promoter(c); err != nil {
			errs = append(errs, err)
		} else if err := p.Follow(ctx, f.old, f.promoted); err != nil {
			errs = append(errs, fmt.Errorf("%s follows %s: %w", f.old, f.promoted, err))
		} else {
			v.Follower = f.old
		}
	}
	return v, joinErr("failover", errs)
}
