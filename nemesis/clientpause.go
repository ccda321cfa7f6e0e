package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// ClientPauser stalls the clients, as a stop-the-world garbage collection
// or a slow page fault stalls a process: the clients run in the
// controller's own process and call a hook (ClientStall.Hook) where such
// a stall hurts most.
type ClientPauser interface {
	// PauseClients makes every later call of the hook stall for d.
	PauseClients(ctx context.Context, d time.Duration) error
	// ResumeClients makes later calls return at once; stalls under way
	// last their full length.
	ResumeClients(ctx context.Context) error
}

// ClientStall is the controller's ClientPauser: Hook is what clients call
// (targets.ClientConfig.Stall). Its zero value stalls nothing. It is safe
// for concurrent use.
type ClientStall struct {
	d atomic.Int64
}

var _ ClientPauser = (*ClientStall)(nil)

// PauseClients makes every later Hook call stall for d.
func (s *ClientStall) PauseClients(_ context.Context, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("client pause of %v: want a positive duration", d)
	}
	s.d.Store(int64(d))
	return nil
}

// ResumeClients makes later Hook calls return at once.
func (s *ClientStall) ResumeClients(context.Context) error {
	s.d.Store(0)
	return nil
}

// Hook stalls for the pause in force, or until ctx ends, and returns how
// long it stalled; with no pause in force it returns 0 at once.
func (s *ClientStall) Hook(ctx context.Context) time.Duration {
	d := time.Duration(s.d.Load())
	if d <= 0 {
		return 0
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return time.Since(start)
}

// DefaultClientPause is how long the client-pause fault stalls a client by
// default: longer than the leases of the lock targets.
const DefaultClientPause = time.Second

// ClientPause is the client-pause fault: during each window every client
// that reaches its stall point stalls for Duration.
type ClientPause struct {
	// Duration is how long each stall lasts.
	Duration time.Duration
}

// ClientPauseValue describes a client-pause window.
type ClientPauseValue struct {
	Stall string `json:"stall"`
}

var (
	_ Fault        = (*ClientPause)(nil)
	_ Availability = (*ClientPause)(nil)
)

// Name returns "client-pause".
func (p *ClientPause) Name() string { return "client-pause" }

// Available checks that the run can stall its clients: the target's client
// has a stall point.
func (p *ClientPause) Available(c Cluster) error {
	if _, ok := capabilityOf[ClientPauser](c); !ok {
		return fmt.Errorf("client-pause: %w: its clients have no stall point, so there is nothing to pause", ErrTargetUnsupported)
	}
	return nil
}

// Start stalls the clients from now on; it draws nothing from rng.
func (p *ClientPause) Start(ctx context.Context, c Cluster, _ *rand.Rand) (any, error) {
	v := ClientPauseValue{Stall: p.Duration.String()}
	cp, err := capability[ClientPauser](c, "client-pause")
	if err != nil {
		return v, err
	}
	if err := cp.PauseClients(ctx, p.Duration); err != nil {
		return v, fmt.Errorf("client-pause: %w", err)
	}
	return v, nil
}

// Stop ends the stalls of later calls.
func (p *ClientPause) Stop(ctx context.Context, c Cluster) (any, error) {
	v := ClientPauseValue{Stall: p.Duration.String()}
	cp, err := capability[ClientPauser](c, "client-pause")
	if err != nil {
		return v, err
	}
	return v, cp.ResumeClients(ctx)
}

// Extend returns c with further capabilities that live outside the
// provider's cluster (the controller's ClientStall, say). Faults find a
// capability on c first, then on the extras in order; Nodes and Roles are
// c's.
func Extend(c Cluster, extras ...any) Cluster {
	return &extended{Cluster: c, extras: extras}
}

type extended struct {
	Cluster
	extras []any
}

// capabilityOf finds the capability T on c, or on the extras of an
// extended cluster.
func capabilityOf[T any](c Cluster) (T, bool) {
	if e, ok := c.(*extended); ok {
		if v, ok := e.Cluster.(T); ok {
			return v, true
		}
		for _, x := range e.extras {
			if v, ok := x.(T); ok {
				return v, true
			}
		}
		var zero T
		return zero, false
	}
	v, ok := c.(T)
	return v, ok
}
