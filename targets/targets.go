// Package targets defines what a target system provides to faultline: how
// its nodes run and how clients talk to them. Each target lives in its own
// sub-package and is listed in the registry.
package targets

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
)

// NodeConfig is everything one node process needs to start. The provider
// builds it and hands it to the node process as JSON.
type NodeConfig struct {
	Target  string `json:"target"`
	Variant string `json:"variant"`
	// Name is this node's name, for example "n1".
	Name string `json:"name"`
	// Nodes lists every node name of the cluster in order, this one included.
	Nodes []string `json:"nodes"`
	// APIAddr is where this node listens for clients.
	APIAddr string `json:"api_addr"`
	// PeerAddr is where this node listens for other nodes.
	PeerAddr string `json:"peer_addr"`
	// Peers maps every other node's name to the address this node dials to
	// reach that node's peer listener. On the local provider each address is
	// a proxy dedicated to the link from this node to that one.
	Peers map[string]string `json:"peers"`
	// DataDir is this node's data directory; it survives a kill and restart.
	DataDir string `json:"data_dir"`
}

// Choice is a named option with one line of description.
type Choice struct {
	Name        string
	Description string
}

// Target is one system under test.
type Target interface {
	// Name is the --target name.
	Name() string
	// Description is one line for `faultline list`.
	Description() string
	// Variants lists the --variant choices; the first is the default.
	Variants() []Choice
	// Workloads lists the workloads this target has clients for.
	Workloads() []string
	// RunNode runs one node in the current process until ctx is cancelled
	// or the node fails. The node process calls it.
	RunNode(ctx context.Context, cfg NodeConfig, log *slog.Logger) error
	// Ready returns nil once the node whose client API listens at addr
	// serves requests, and an error otherwise. It does not wait.
	Ready(ctx context.Context, addr string) error
	// NewClient returns a fresh client for the workload that talks to the
	// nodes whose client APIs are at addrs (indexed like NodeConfig.Nodes),
	// starting with addrs[first]. The caller closes it.
	NewClient(workload, variant string, nodes []string, addrs []string, first int) (core.Client, error)
}

// VariantNames lists t's variant names, the default first.
func VariantNames(t Target) []string {
	vs := t.Variants()
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return names
}

// ResolveVariant returns variant when t has it, t's default variant when
// variant is empty, and otherwise an error wrapping core.ErrBadInput that
// lists the valid variants.
func ResolveVariant(t Target, variant string) (string, error) {
	names := VariantNames(t)
	switch {
	case variant == "" && len(names) > 0:
		return names[0], nil
	case slices.Contains(names, variant):
		return variant, nil
	}
	return "", core.BadInput("unknown variant %q of target %s; valid variants: %s", variant, t.Name(), strings.Join(names, ", "))
}
