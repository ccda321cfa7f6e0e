// Package targets defines what a target system provides to faultline: its
// cluster as nodes with roles (each node running our own Go code or an
// external server binary), how the controller knows a node is ready, and
// the clients that talk to it. Each of faultline's own targets lives in a
// sub-package and is named in the CLI's registry; a Go test can define its
// own Target in its own package and pass it to faultline.Run directly.
package targets

import (
	"context"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

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
	// Layout returns the cluster a run of spec needs: its roles in order,
	// each with a node count and the program its nodes run. It must give
	// the same layout for the same spec every time (node processes call it
	// again to find their role's program). A spec the target cannot lay
	// out (too few nodes, say) is an error wrapping core.ErrBadInput.
	Layout(spec Spec) (Layout, error)
	// NewClient returns a fresh client for one process of the workload.
	// The caller closes it.
	NewClient(cfg ClientConfig) (core.Client, error)
}

// Imager is implemented by a target that brings its own image recipe for
// the docker provider. Targets without one run on the generic node image,
// which holds the faultline binary, iptables and iproute2.
type Imager interface {
	// Dockerfile returns the recipe of the target's node image, embedded
	// from a Dockerfile in the target's folder. It takes ARG BASE (the base
	// image) and ARG INPUTS (a hash, put into the label faultline.inputs);
	// its build context holds the static faultline binary as "faultline",
	// which it copies to /usr/local/bin/faultline. Nodes need iptables and
	// iproute2 in the image for partitions and packet loss.
	Dockerfile() []byte
}

// Staller is implemented by a target whose clients call ClientConfig.Stall
// at a stall point, so that the client-pause fault can act on them; a
// target without one, or whose clients of the run's workload have none,
// refuses that fault rather than ignore it.
type Staller interface {
	// StallPoint says in a few words where the clients of workload stall,
	// for example "between reading the resource and writing it back";
	// "" means they have no stall point.
	StallPoint(workload string) string
}

// Isolator is implemented by a target whose clients run their
// transactions at an isolation level the run chooses (--isolation).
// Targets without it refuse the flag.
type Isolator interface {
	// Isolations lists the levels, the default first, for example
	// "read-committed", "repeatable-read", "serializable".
	Isolations() []Choice
}

// Storer is implemented by a target whose services keep their state in a
// store the run chooses (--store): an embedded one or a database server
// laid out as a role of its own. Targets without it refuse the flag.
type Storer interface {
	// Stores lists the stores, the default first, for example "embedded",
	// "postgres".
	Stores() []Choice
}

// Defaulter is implemented by a target whose runs want other defaults than
// the embedded default's (demo-kv): more nodes, longer operations, other
// faults. The CLI applies them to the flags the user did not set, and
// faultline.DefaultTestFor to a fresh Test.
type Defaulter interface {
	// Defaults returns the target's defaults for a run of variant (a
	// resolved --variant); zero fields keep the embedded default's.
	Defaults(variant string) Defaults
}

// Defaults are a target's own defaults for a run.
type Defaults struct {
	// Nodes is the --nodes default.
	Nodes int
	// OpTimeout is the --op-timeout default.
	OpTimeout time.Duration
	// Nemesis is the --nemesis default.
	Nemesis []string
	// Hold is the --hold default, for a workload that holds (the lock
	// workload).
	Hold time.Duration
	// Concurrency, Rate and Keys are the --concurrency, --rate and --keys
	// defaults; Rate below zero means unlimited (0 keeps the embedded
	// default's).
	Concurrency int
	Rate        float64
	Keys        int
}

// Spec is what a run asks of a target's cluster.
type Spec struct {
	// Variant is the resolved --variant.
	Variant string
	// Nodes is the --nodes value: the size of the target's replicated
	// role (a target with fixed roles may ignore it).
	Nodes int
	// Store is the resolved --store, "" for a target without stores
	// (targets.Storer).
	Store string
}

// Layout is a target's cluster: its roles in order.
type Layout struct {
	Roles []Role
	// Failover, when set, says the cluster has a primary and replicas that
	// follow it and returns how to switch them over once the cluster runs:
	// the failover fault acts through it. admin reaches the running nodes.
	// It must not use admin before the Promoter's methods are called (the
	// run asks it for a Promoter before any node starts, to validate).
	Failover func(admin Admin) nemesis.Promoter
}

// Admin is the running cluster as the controller reaches it for a target's
// own administration, past the client proxies and the faults on them.
type Admin interface {
	// Roles maps each role to its node names, in cluster order.
	Roles() map[string][]string
	// Addr returns the address where the controller reaches node's API
	// directly now (it may change when the node restarts).
	Addr(node string) (string, error)
	// Peer returns the address node dials to reach other, as in the
	// node's NodeConfig.Peers.
	Peer(node, other string) (string, error)
	// Reset rebuilds node from nothing: it kills the node when it runs,
	// empties its data folder but for the file ResetMarker, starts it
	// again (a Server's Init runs again) and waits until it serves
	// requests. A database whose old primary must be copied afresh from
	// the new one rejoins this way.
	Reset(ctx context.Context, node string) error
}

// Role is a group of nodes that run the same program.
type Role struct {
	// Name names the role in node names, --nemesis selections (role:NAME)
	// and NodeConfig.Roles: lower-case letters, digits and '-', starting
	// with a letter.
	Name string
	// Count is the number of nodes in the role, at least 1.
	Count int
	// Program is what each node of the role runs: a GoProgram or a Server.
	Program Program
	// Ready returns nil once the node whose client port the controller
	// reaches at addr serves requests, and an error otherwise. It makes
	// one attempt and does not wait; the provider polls it under a
	// deadline. Nil means ready as soon as addr accepts a TCP connection.
	Ready func(ctx context.Context, addr string) error
	// OnePort says that nodes of the role listen on one port (APIAddr) for
	// clients and peers alike, as most servers do: links from other nodes
	// lead to it, and PeerAddr is not used.
	OnePort bool
	// Serial says that the role's nodes start one after another, in
	// order, each initialised (Server.Init) only once the one before it
	// serves requests: a replica whose init copies its primary. Otherwise
	// all nodes of a cluster start at once.
	Serial bool
}

// Program is what a node runs: a GoProgram or a Server.
type Program interface {
	program()
}

// GoProgram is a node that runs our own Go code. The provider starts the
// faultline binary (or the test binary, which calls faultline.NodeMain
// first) as the node; that process looks the target up by name, lays it
// out again and calls Run of its role.
type GoProgram struct {
	// Run runs one node until ctx is cancelled, then stops; it returns nil
	// after a clean stop and an error when the node cannot start or fails.
	Run func(ctx context.Context, cfg NodeConfig, log *slog.Logger) error
}

func (GoProgram) program() {}

// Server is a node that runs an external server binary (redis-server,
// postgres, ...). The local provider finds Binary on PATH or in Dirs and,
// when it is missing, says which Debian package brings it; the docker
// provider runs it from the target's image.
type Server struct {
	// Binary is the program's file name, for example "redis-server".
	Binary string
	// Dirs are further folders (glob patterns allowed) searched after PATH,
	// the distribution's usual places, for example
	// "/usr/lib/postgresql/*/bin".
	Dirs []string
	// Package is the Debian package that installs Binary.
	Package string
	// Args returns the program's arguments for one node.
	Args func(cfg NodeConfig) []string
	// Env returns extra environment entries (KEY=value) for one node; nil
	// means none.
	Env func(cfg NodeConfig) []string
	// Init returns commands (each a program and its arguments, the program
	// looked up like Binary) run once, in order, before the node's first
	// start, while its data folder is empty: initdb, say. Nil means none.
	Init func(cfg NodeConfig) [][]string
	// User is the unprivileged account the server runs as when faultline
	// runs as root (PostgreSQL refuses root); empty means faultline's own
	// user. The data folder is handed to that user.
	User string
}

func (Server) program() {}

// NodeConfig is everything one node needs to start: its place in the
// cluster and its addresses. The provider builds it; a GoProgram receives
// it in its node process, a Server's Args, Env and Init receive it in the
// controller.
type NodeConfig struct {
	Target  string `json:"target"`
	Variant string `json:"variant"`
	// SpecNodes is the run's --nodes; with Variant it is the spec a node
	// process lays its target out with.
	SpecNodes int `json:"spec_nodes"`
	// Store is the run's resolved --store ("" for a target without
	// stores); it too is part of the spec.
	Store string `json:"store,omitempty"`
	// Name is this node's name, for example "n1" or "coordinator".
	Name string `json:"name"`
	// Role is this node's role.
	Role string `json:"role"`
	// Nodes lists every node name in cluster order, this one included.
	Nodes []string `json:"nodes"`
	// Roles maps each role to its node names, in cluster order.
	Roles map[string][]string `json:"roles"`
	// APIAddr is where this node listens for clients (and for peers, when
	// its role has OnePort), as host:port.
	APIAddr string `json:"api_addr"`
	// PeerAddr is where this node listens for other nodes.
	PeerAddr string `json:"peer_addr"`
	// Peers maps every other node's name to the address this node dials to
	// reach it (that node's peer listener, or its API listener when its
	// role has OnePort). On the local provider each address is a proxy
	// dedicated to the link from this node to that one.
	Peers map[string]string `json:"peers"`
	// DataDir is this node's data folder; it survives a kill and restart.
	DataDir string `json:"data_dir"`
}

// Spec returns the cluster spec the node was laid out with.
func (c NodeConfig) Spec() Spec { return Spec{Variant: c.Variant, Nodes: c.SpecNodes, Store: c.Store} }

// APIPort returns the port of APIAddr, or 0 when it has none.
func (c NodeConfig) APIPort() int { return port(c.APIAddr) }

// PeerPort returns the port of PeerAddr, or 0 when it has none.
func (c NodeConfig) PeerPort() int { return port(c.PeerAddr) }

func port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// ClientConfig is what a target's NewClient receives.
type ClientConfig struct {
	// Workload is the --workload name.
	Workload string
	// Variant is the resolved --variant.
	Variant string
	// Nodes lists every node in cluster order with the address where this
	// client reaches it (through the provider's client proxy, which
	// latency and client partitions act on).
	Nodes []Endpoint
	// Process is the client's process id; a target spreads its clients
	// over nodes by it.
	Process int
	// Run names the run, unique among runs (the run folder's name, such
	// as 20260101T000000.123Z); a target whose system outlives a run (a
	// user's Compose stack) keeps each run's data apart by it. Empty when
	// the caller names none.
	Run string
	// Isolation is the run's resolved --isolation: one of the target's
	// Isolations (its first when the flag was not given), or "" for a
	// target without isolation levels.
	Isolation string
	// Store is the run's resolved --store: one of the target's Stores
	// (its first when the flag was not given), or "" for a target without
	// stores.
	Store string
	// Stall is the hook of the client-pause fault: a client calls it where
	// a stop-the-world pause would hurt most (a lock holder between reading
	// what it guards and writing it back). It returns at once while the fault is off;
	// while it is on it sleeps the fault's duration, or until ctx ends, and
	// returns how long it slept. Nil means no such fault: call Stall.
	Stall func(ctx context.Context) time.Duration
}

// Stalled calls c.Stall when set and returns how long the client stalled.
func (c ClientConfig) Stalled(ctx context.Context) time.Duration {
	if c.Stall == nil {
		return 0
	}
	return c.Stall(ctx)
}

// Endpoint is one node as a client reaches it.
type Endpoint struct {
	Name string
	Role string
	Addr string
}

// ByRole returns the endpoints of role's nodes, in cluster order.
func (c ClientConfig) ByRole(role string) []Endpoint {
	var out []Endpoint
	for _, e := range c.Nodes {
		if e.Role == role {
			out = append(out, e)
		}
	}
	return out
}

// Choice is a named option with one line of description.
type Choice struct {
	Name        string
	Description string
	// Workloads, for a variant, names the workloads whose clients the
	// variant changes; empty means all of them.
	Workloads []string
}

// About reports whether c concerns workload: Workloads is empty or names
// it.
func (c Choice) About(workload string) bool {
	return len(c.Workloads) == 0 || slices.Contains(c.Workloads, workload)
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

// Clients is the reserved name that stands for the clients in a partition
// grudge; no node or role may take it.
const Clients = "clients"

var roleName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Node is one node of a planned cluster.
type Node struct {
	Name string
	Role Role
}

// Plan lays t out for spec and names its nodes: a role of one node is named
// after the role ("coordinator"); a target with a single role names its
// nodes n1..nN; otherwise a role's nodes are the role's name and a number
// ("participant1"). It checks the layout: at least one role, valid and
// distinct role names, a positive count and a program for every role.
func Plan(t Target, spec Spec) ([]Node, error) {
	l, err := t.Layout(spec)
	if err != nil {
		return nil, err
	}
	if len(l.Roles) == 0 {
		return nil, core.BadInput("target %s lays out no roles", t.Name())
	}
	var out []Node
	seen := map[string]bool{}
	for _, r := range l.Roles {
		switch {
		case !roleName.MatchString(r.Name) || r.Name == Clients:
			return nil, core.BadInput("target %s: role name %q: use lower-case letters, digits and '-', starting with a letter (not %q)", t.Name(), r.Name, Clients)
		case seen[r.Name]:
			return nil, core.BadInput("target %s: role %s laid out twice", t.Name(), r.Name)
		case r.Count < 1:
			return nil, core.BadInput("target %s: role %s has %d nodes", t.Name(), r.Name, r.Count)
		case r.Program == nil:
			return nil, core.BadInput("target %s: role %s has no program", t.Name(), r.Name)
		}
		if s, ok := r.Program.(Server); ok && (s.Binary == "" || s.Args == nil) {
			return nil, core.BadInput("target %s: role %s: a server needs a binary and its arguments", t.Name(), r.Name)
		}
		if g, ok := r.Program.(GoProgram); ok && g.Run == nil {
			return nil, core.BadInput("target %s: role %s: a Go program needs Run", t.Name(), r.Name)
		}
		seen[r.Name] = true
		for i := 1; i <= r.Count; i++ {
			name := r.Name
			switch {
			case len(l.Roles) == 1:
				name = "n" + strconv.Itoa(i)
			case r.Count > 1:
				name += strconv.Itoa(i)
			}
			out = append(out, Node{Name: name, Role: r})
		}
	}
	names := map[string]bool{}
	for _, n := range out {
		if names[n.Name] {
			return nil, core.BadInput("target %s: node name %s is used twice (rename a role)", t.Name(), n.Name)
		}
		names[n.Name] = true
	}
	return out, nil
}

// RoleMap returns, for nodes in order, each role's node names.
func RoleMap(nodes []Node) map[string][]string {
	out := map[string][]string{}
	for _, n := range nodes {
		out[n.Role.Name] = append(out[n.Role.Name], n.Name)
	}
	return out
}

// Names returns the node names of nodes in order.
func Names(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}
