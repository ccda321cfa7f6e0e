// Package demokv is the target "demo-kv": faultline's own small replicated
// key-value store, serving the register workload. It comes in two variants.
// "unsafe" replicates asynchronously and serves every request locally, so it
// loses writes and serves stale reads under faults; "safe" puts every read,
// write and compare-and-set through a Raft log and is linearizable.
//
// A node serves clients over HTTP+JSON on NodeConfig.APIAddr (see the route
// constants) and talks to other nodes only through NodeConfig.PeerAddr and
// the per-link addresses in NodeConfig.Peers.
package demokv

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
)

// Name is the --target name of this target.
const Name = "demo-kv"

// The variants of demo-kv; VariantUnsafe is the default.
const (
	// VariantUnsafe serves everything locally and replicates asynchronously.
	VariantUnsafe = "unsafe"
	// VariantSafe puts every operation through a Raft log.
	VariantSafe = "safe"
)

// WorkloadRegister is the only workload demo-kv has a client for.
const WorkloadRegister = "register"

// ErrNotReady is wrapped by the error Ready returns when a node answers but
// cannot serve operations yet (for the safe variant: it knows no leader).
var ErrNotReady = errors.New("demo-kv node not ready")

// Target is the demo-kv target. Its zero value is ready to use and it holds
// no state, so one value serves any number of nodes and clients.
type Target struct{}

var _ targets.Target = Target{}

// New returns the demo-kv target.
func New() Target { return Target{} }

// Name returns "demo-kv".
func (Target) Name() string { return Name }

// Description is one line for `faultline list`.
func (Target) Description() string {
	return "faultline's own replicated key-value store (async replication or Raft)"
}

// Variants lists unsafe (the default) and safe.
func (Target) Variants() []targets.Choice {
	return []targets.Choice{
		{Name: VariantUnsafe, Description: "asynchronous replication: every node serves reads and writes locally; loses writes and reads stale values under faults"},
		{Name: VariantSafe, Description: "Raft (hashicorp/raft): reads, writes and cas all go through the leader's log; linearizable"},
	}
}

// Workloads lists "register".
func (Target) Workloads() []string { return []string{WorkloadRegister} }

// RoleKV is the name of demo-kv's one role: every node is a replica.
const RoleKV = "kv"

// Layout returns spec.Nodes replicas of role kv, named n1..nN, each running
// RunNode and ready when Ready says so.
func (Target) Layout(spec targets.Spec) (targets.Layout, error) {
	if spec.Nodes < 1 {
		return targets.Layout{}, core.BadInput("demo-kv needs at least 1 node, got %d", spec.Nodes)
	}
	return targets.Layout{Roles: []targets.Role{{
		Name:    RoleKV,
		Count:   spec.Nodes,
		Program: targets.GoProgram{Run: RunNode},
		Ready:   Ready,
	}}}, nil
}

// Dockerfile returns demo-kv's image recipe (its Dockerfile, embedded).
func (Target) Dockerfile() []byte { return dockerfile }

//go:embed Dockerfile
var dockerfile []byte

// RunNode runs one node until ctx is cancelled, then stops its listeners and
// closes its stores. It returns nil after a clean stop and an error when the
// node cannot start or fails.
func RunNode(ctx context.Context, cfg targets.NodeConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	variant, err := checkVariant(cfg.Variant)
	if err != nil {
		return err
	}
	if err := checkConfig(cfg); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if variant == VariantSafe {
		return runSafe(ctx, cfg, log)
	}
	return runUnsafe(ctx, cfg, log)
}

// Ready returns nil when the node whose API listens at addr answers its
// health check: for the unsafe variant as soon as it serves, for the safe
// variant once it knows a leader. It makes one request and does not retry.
func Ready(ctx context.Context, addr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+RouteHealth, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r Reply
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&r); err != nil {
		return fmt.Errorf("health %s: bad reply: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrNotReady, addr, r.Error)
	}
	return nil
}

// NewClient returns a register client that talks first to node
// cfg.Process modulo the cluster size and follows leader hints. The caller
// closes it.
func (Target) NewClient(cfg targets.ClientConfig) (core.Client, error) {
	if cfg.Workload != WorkloadRegister {
		return nil, core.BadInput("demo-kv has no client for workload %q (it has: register)", cfg.Workload)
	}
	if _, err := checkVariant(cfg.Variant); err != nil {
		return nil, err
	}
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("demo-kv client: no nodes")
	}
	nodes := make([]string, len(cfg.Nodes))
	addrs := make([]string, len(cfg.Nodes))
	for i, e := range cfg.Nodes {
		nodes[i], addrs[i] = e.Name, e.Addr
	}
	return newClient(nodes, addrs, cfg.Process%len(nodes))
}

func checkVariant(v string) (string, error) {
	switch v {
	case "":
		return VariantUnsafe, nil
	case VariantUnsafe, VariantSafe:
		return v, nil
	}
	return "", core.BadInput("demo-kv has no variant %q (it has: unsafe, safe)", v)
}

func checkConfig(cfg targets.NodeConfig) error {
	if cfg.Name == "" || !slices.Contains(cfg.Nodes, cfg.Name) {
		return fmt.Errorf("node config: name %q is not among nodes %v", cfg.Name, cfg.Nodes)
	}
	for _, n := range cfg.Nodes {
		if n != cfg.Name && cfg.Peers[n] == "" {
			return fmt.Errorf("node config: no peer address for %s", n)
		}
	}
	if cfg.APIAddr == "" || cfg.PeerAddr == "" || cfg.DataDir == "" {
		return errors.New("node config: api_addr, peer_addr and data_dir are required")
	}
	return nil
}

// listen opens the API and peer listeners, so that a port in use is an error
// at start rather than later.
func listen(cfg targets.NodeConfig) (api, peer net.Listener, err error) {
	api, err = net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen api: %w", err)
	}
	peer, err = net.Listen("tcp", cfg.PeerAddr)
	if err != nil {
		api.Close()
		return nil, nil, fmt.Errorf("listen peer: %w", err)
	}
	return api, peer, nil
}
