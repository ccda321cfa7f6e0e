// Package lifecycle holds what the providers' clusters share around their
// fault methods: one-line error joining, contexts bounded both by a
// deadline and by the cluster's closing, running a step on every node at
// once, polling a heal check, the errors for an unknown node, a closed
// cluster and a node in the wrong state, and the run folder's
// cluster.json.
package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// JoinErrors is errors.Join on one line: the non-nil parts are separated
// by "; ", and errors.Is and errors.As see each of them. It returns nil when
// every part is nil. Providers use it so that a failure report stays one
// line.
func JoinErrors(errs ...error) error {
	var out multiError
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type multiError []error

func (m multiError) Error() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m multiError) Unwrap() []error { return m }

// Bounded returns ctx limited by d and also cut short when life ends (the
// cluster began to close), in which case context.Cause of the result is
// closed. The caller calls the returned function once it is done.
func Bounded(ctx, life context.Context, d time.Duration, closed error) (context.Context, context.CancelFunc) {
	ctx, cancelCause := context.WithCancelCause(ctx)
	stop := context.AfterFunc(life, func() { cancelCause(closed) })
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { stop(); cancel(); cancelCause(context.Canceled) }
}

// Each runs fn on every item at once, waits for all of them, and returns
// their errors indexed like items.
func Each[T any](items []T, fn func(T) error) []error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = fn(it) })
	}
	wg.Wait()
	return errs
}

// WriteLayout writes l, a provider's Layout, as indented JSON with a
// final newline to nodes/cluster.json in run folder dir.
func WriteLayout(dir string, l any) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes", "cluster.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write cluster layout: %w", err)
	}
	return nil
}

// ReadLayout reads nodes/cluster.json in run folder dir, as WriteLayout
// wrote it, into a value of L, a provider's Layout.
func ReadLayout[L any](dir string) (L, error) {
	var l L
	b, err := os.ReadFile(filepath.Join(dir, "nodes", "cluster.json"))
	if err != nil {
		return l, fmt.Errorf("read cluster layout: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("read cluster layout: %w", err)
	}
	return l, nil
}

// Lookup returns the node called name of byName or, when there is none,
// an error for op that wraps nemesis.ErrUnknownNode and lists names.
func Lookup[N any](byName map[string]N, names []string, op, name string) (N, error) {
	n, ok := byName[name]
	if !ok {
		return n, fmt.Errorf("%s %q: %w (nodes are %s)", op, name, nemesis.ErrUnknownNode, strings.Join(names, ", "))
	}
	return n, nil
}

// LockOpen locks mu and returns nil when *closed, read under mu, is
// false; when it is true it unlocks mu again and returns an error for op
// wrapping nemesis.ErrClosed.
func LockOpen(mu *sync.Mutex, closed *bool, op string) error {
	mu.Lock()
	if *closed {
		mu.Unlock()
		return fmt.Errorf("%s: %w", op, nemesis.ErrClosed)
	}
	return nil
}

// StateError reports a fault op that does not apply to node because of
// the state it is in (printed with %s) and says which state op wants; it
// wraps nemesis.ErrNodeState.
func StateError(op, node string, is any, want string) error {
	return fmt.Errorf("%s %s: node is %s, %s needs it %s: %w", op, node, is, op, want, nemesis.ErrNodeState)
}

// PollProblems runs check, and again every interval, until a round finds
// no problem while ctx lasts, and then returns nil. Once ctx ends it
// returns the problems of the last whole round: a round that ctx's end
// cut short does not count unless it was the first.
func PollProblems(ctx context.Context, every time.Duration, check func(context.Context) []string) []string {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last []string
	for {
		ps := check(ctx)
		if len(ps) == 0 && ctx.Err() == nil {
			return nil
		}
		if ctx.Err() != nil && last != nil {
			// The deadline cut this round short: report the last whole one.
			return last
		}
		last = ps
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

// Defaults both providers share.
const (
	// MaxNodes is the largest cluster a provider starts. On the local
	// provider every directed pair of nodes gets its own proxy, so the
	// number of proxies grows with the square of the node count.
	MaxNodes = 32
	// DefaultReadyTimeout bounds a wait for nodes to serve requests when
	// the caller sets none.
	DefaultReadyTimeout = 60 * time.Second
	// DefaultStopGrace is how long a close waits after SIGTERM before
	// SIGKILL when the caller sets none.
	DefaultStopGrace = 5 * time.Second
)

// Plan lays target out for variant (its default when empty), nodes and
// store (targets.Spec.Store) as provider will run it: the variant resolved, the layout checked, and at
// most MaxNodes nodes. Errors wrap core.ErrBadInput and name provider.
func Plan(provider string, target targets.Target, variant string, nodes int, store string) ([]targets.Node, error) {
	variant, err := targets.ResolveVariant(target, variant)
	if err != nil {
		return nil, err
	}
	plan, err := targets.Plan(target, targets.Spec{Variant: variant, Nodes: nodes, Store: store})
	if err != nil {
		return nil, err
	}
	if len(plan) > MaxNodes {
		return nil, core.BadInput("%s provider: at most %d nodes, the layout of %s has %d", provider, MaxNodes, target.Name(), len(plan))
	}
	return plan, nil
}

// Steps splits nodes, in cluster order, into the steps a cluster starts
// in: a node for which serial reports true (a node of a targets.Role with
// Serial) is a step of its own; consecutive other nodes share one step.
// Each step is started, and ready, before the next one is initialised.
func Steps[T any](nodes []T, serial func(T) bool) [][]T {
	var out [][]T
	var run []T
	for _, n := range nodes {
		if !serial(n) {
			run = append(run, n)
			continue
		}
		if len(run) > 0 {
			out = append(out, run)
			run = nil
		}
		out = append(out, []T{n})
	}
	if len(run) > 0 {
		out = append(out, run)
	}
	return out
}

// InitDue reports whether a server node's Init runs before it starts: its
// data folder's entries are none, or only targets.ResetMarker.
func InitDue(entries []string) bool {
	for _, e := range entries {
		if e != targets.ResetMarker {
			return false
		}
	}
	return true
}

// EmptyForReset removes everything in the data folder dir, which it keeps
// (with its owner and mode), and writes targets.ResetMarker into it.
func EmptyForReset(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("empty the data folder: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("empty the data folder: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, targets.ResetMarker), nil, 0o644); err != nil {
		return fmt.Errorf("empty the data folder: %w", err)
	}
	return nil
}

// AdminCluster is what a provider's running cluster offers for
// targets.Admin.
type AdminCluster interface {
	Roles() map[string][]string
	AdminAddr(name string) (string, bool)
	NodeConfig(name string) (targets.NodeConfig, bool)
	Reset(ctx context.Context, name string) error
}

// Admin returns c as targets.Admin: what a target's Layout.Failover and
// tests reach the running nodes through.
func Admin(c AdminCluster) targets.Admin { return admin{c} }

type admin struct{ c AdminCluster }

func (a admin) Roles() map[string][]string { return a.c.Roles() }

func (a admin) Addr(node string) (string, error) {
	addr, ok := a.c.AdminAddr(node)
	if !ok || addr == "" {
		return "", fmt.Errorf("node %s: %w", node, nemesis.ErrUnknownNode)
	}
	return addr, nil
}

func (a admin) Peer(node, other string) (string, error) {
	cfg, ok := a.c.NodeConfig(node)
	if !ok {
		return "", fmt.Errorf("node %s: %w", node, nemesis.ErrUnknownNode)
	}
	addr, ok := cfg.Peers[other]
	if !ok {
		return "", fmt.Errorf("node %s has no link to %s: %w", node, other, nemesis.ErrUnknownNode)
	}
	return addr, nil
}

func (a admin) Reset(ctx context.Context, node string) error { return a.c.Reset(ctx, node) }
