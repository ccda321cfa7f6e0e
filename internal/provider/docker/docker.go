// Package docker is the docker provider: it runs a target's nodes as
// containers of the node image on a bridge network made for the run, and
// injects faults from the controller. A partition is a set of iptables DROP
// rules inside the nodes' network namespaces, packet loss is the iptables
// statistic match, a kill is SIGKILL to the container, a pause is the
// engine's cgroup freeze, and latency is tc netem where the kernel has it,
// else a toxic on the in-process toxiproxy proxy every client passes.
//
// Everything a cluster creates carries the labels faultline=1 and
// faultline.run=<run id>; Close removes it all. A reaper container per run
// removes it all too when the controller dies without Close (see
// MainIfReaper), and Cleanup removes whatever is left after that.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/moby/moby/client"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/proxylink"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// Default values for the optional Config fields.
const (
	DefaultReadyTimeout = lifecycle.DefaultReadyTimeout
	DefaultStopGrace    = lifecycle.DefaultStopGrace
)

// NodeBinary is where the node image holds the faultline binary. A node
// container runs it unless Config.Cmd says otherwise; it becomes the node
// its environment describes.
const NodeBinary = "/usr/local/bin/faultline"

// MaxNodes is the largest cluster Start accepts (lifecycle.MaxNodes).
const MaxNodes = lifecycle.MaxNodes

// Where a node listens inside its container, and where its data lives.
const (
	// APIPort is the port of each node's client API; it is published on
	// 127.0.0.1 at a port the engine picks.
	APIPort = 8000
	// PeerPort is the port each node listens on for other nodes.
	PeerPort = 8001
	// DataDir is each node's data directory inside its container, bound
	// to Dir/nodes/<name>/data on the host.
	DataDir = "/data"
)

// runIDPattern is what a run id may look like: it becomes part of
// container and network names.
var runIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// Config describes a docker cluster.
type Config struct {
	// Target is the system under test. Its layout says which nodes run: a
	// node of a GoProgram role runs the faultline binary of the image, a
	// node of a Server role the server's binary from the image's PATH; each
	// role's Ready is polled on its nodes' published API addresses.
	Target targets.Target
	// Variant is the target variant; empty means the target's default (its
	// first variant).
	Variant string
	// Nodes is the --nodes of the target's layout (targets.Spec.Nodes).
	Nodes int
	// Store is the --store of the target's layout (targets.Spec.Store);
	// empty for a target without stores.
	Store string
	// Dir is the run folder. Node n's log (the container's output,
	// appended across restarts) is Dir/nodes/n/node.log, its data
	// directory Dir/nodes/n/data, and the layout Dir/nodes/cluster.json.
	Dir string
	// Image is the node image (a tag or id) every container runs; it holds
	// the faultline binary, iptables, tc and bash, and the servers the
	// target's Server roles run.
	Image string
	// Cmd is the command each container of a GoProgram role runs; empty
	// means NodeBinary alone. The node configuration arrives in the
	// environment.
	Cmd []string
	// ReaperImage is the image of the run's reaper container: it must
	// hold at NodeBinary a faultline binary that calls MainIfReaper first
	// (faultline.NodeMain does). Empty means Image.
	ReaperImage string
	// RunID names the run in container and network names and in the
	// faultline.run label; empty means a fresh random one. It must be
	// unique among the runs on the engine.
	RunID string
	// Engine is the Docker engine; nil means Connect. Close closes only a
	// client Start made itself.
	Engine Engine
	// Logger receives the provider's progress; nil discards it.
	Logger *slog.Logger
	// StartTimeout bounds the wait for every node to serve requests at
	// start; zero means ReadyTimeout.
	StartTimeout time.Duration
	// ReadyTimeout bounds each wait for nodes to serve requests after a
	// fault (on Restart and in HealAll); zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopGrace is how long Close waits after SIGTERM before SIGKILL; zero
	// means DefaultStopGrace.
	StopGrace time.Duration
}

// Validate reports the first problem with c, as an error wrapping
// core.ErrBadInput.
func (c Config) Validate() error {
	if c.Target == nil {
		return core.BadInput("docker provider: no target")
	}
	if c.Nodes < 1 {
		return core.BadInput("docker provider: nodes must be at least 1, got %d", c.Nodes)
	}
	if c.Dir == "" {
		return core.BadInput("docker provider: no run folder")
	}
	if c.Image == "" {
		return core.BadInput("docker provider: no node image")
	}
	if c.RunID != "" {
		if err := CheckRunID(c.RunID); err != nil {
			return err
		}
	}
	if c.ReadyTimeout < 0 || c.StartTimeout < 0 || c.StopGrace < 0 {
		return core.BadInput("docker provider: negative timeout")
	}
	if c.Variant != "" {
		if _, err := targets.ResolveVariant(c.Target, c.Variant); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults returns c validated, with defaults filled in and paths made
// absolute.
func (c Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.Variant == "" {
		c.Variant, _ = targets.ResolveVariant(c.Target, "")
	}
	if c.RunID == "" {
		c.RunID = NewRunID(time.Now())
	}
	var err error
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return c, fmt.Errorf("docker provider: %w", err)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = c.ReadyTimeout
	}
	if c.StopGrace == 0 {
		c.StopGrace = DefaultStopGrace
	}
	if c.ReaperImage == "" {
		c.ReaperImage = c.Image
	}
	c.Cmd = slices.Clone(c.Cmd)
	if len(c.Cmd) == 0 {
		c.Cmd = []string{NodeBinary}
	}
	return c, nil
}

// CheckRunID returns nil when id may name a run (it becomes part of
// container and network names), and otherwise an error wrapping
// core.ErrBadInput.
func CheckRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return core.BadInput("docker provider: run id %q: use up to 63 letters, digits, '_', '.' or '-', starting with a letter or digit", id)
	}
	return nil
}

// NewRunID returns a fresh run id: the UTC time t to the second and six
// random hex digits, for example "20261126t070012-3fa9c1".
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return strings.ToLower(t.UTC().Format("20060102T150405")) + "-" + hex.EncodeToString(b[:])
}

// Cluster is a running docker cluster. Its methods are safe for concurrent
// use; fault methods are serialised. The caller of Start owns the Cluster
// and must call Close.
type Cluster struct {
	cfg    Config
	eng    Engine
	own    *client.Client // the client Start made, closed by Close
	log    *slog.Logger
	plan   []targets.Node
	names  []string
	nodes  []*node
	byName map[string]*node
	net    netInfo
	reaper *Reaper // nil until startReaper

	server  *toxiproxy.ApiServer
	workers sync.WaitGroup // proxy workers

	// life is cancelled when Close begins, so that waits inside fault
	// methods stop early and Close can take mu.
	life     context.Context
	stopLife context.CancelFunc
	// logCtx ends the log streams once Close has stopped the containers.
	logCtx   context.Context
	stopLogs context.CancelFunc
	logs     sync.WaitGroup

	mu     sync.Mutex // serialises fault methods and Close
	closed bool
	grudge nemesis.Grudge // the partition in place between nodes; nil for none
	// clientCut holds the client links a partition cut.
	clientCut map[*proxylink.Link]bool
	loss      float64 // the loss in place; 0 for none
	latency   latencyState
	netem     netemCapability
	via       map[string]string // fault kind -> how it was injected last
}

// netInfo is the run's network.
type netInfo struct {
	name, id        string
	subnet, gateway string
}

// latencyState is the latency in place.
type latencyState struct {
	on              bool
	latency, jitter time.Duration
	netem           bool // applied with tc netem in the nodes
}

// netemCapability is what the first SetLatency learnt about netem.
type netemCapability struct {
	checked bool
	ok      bool
	reason  string // why not, when !ok
}

var (
	_ nemesis.Cluster           = (*Cluster)(nil)
	_ nemesis.MechanismReporter = (*Cluster)(nil)
	_ nemesis.Partitioner       = (*Cluster)(nil)
	_ nemesis.LatencyInjector   = (*Cluster)(nil)
	_ nemesis.LossInjector      = (*Cluster)(nil)
	_ nemesis.Killer            = (*Cluster)(nil)
	_ nemesis.Pauser            = (*Cluster)(nil)
	_ nemesis.Healer            = (*Cluster)(nil)
)

// Plan lays cfg's target out and checks it fits the docker provider: at
// most MaxNodes nodes. Errors wrap core.ErrBadInput.
func Plan(cfg Config) ([]targets.Node, error) {
	if cfg.Target == nil {
		return nil, core.BadInput("docker provider: no target")
	}
	if cfg.Nodes < 1 {
		return nil, core.BadInput("docker provider: nodes must be at least 1, got %d", cfg.Nodes)
	}
	return lifecycle.Plan("docker", cfg.Target, cfg.Variant, cfg.Nodes, cfg.Store)
}

// Planned returns a cluster of the planned nodes that was never started
// and is closed: its fault methods fail with nemesis.ErrClosed. It tells
// nemesis.Available what the docker provider can do before a run.
func Planned(nodes []targets.Node) *Cluster {
	c := &Cluster{plan: nodes, names: targets.Names(nodes), closed: true}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.stopLife()
	return c
}

// Start starts a cluster as cfg describes and returns once every node
// serves requests (Target.Ready on its published API address). It first
// starts the run's reaper (a container that removes the run when the
// controller dies; see MainIfReaper) and connects to it, then creates the
// run's network, one container per node (capability NET_ADMIN only, never
// privileged) and a client proxy per node. It fails when a node's
// container exits first, when a node is not ready within ReadyTimeout, or
// when ctx ends; everything already created is then removed before Start
// returns the error, which names the node at fault and quotes its last log
// lines. The caller closes a returned Cluster.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	plan, err := Plan(cfg)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:       cfg,
		plan:      plan,
		names:     targets.Names(plan),
		eng:       cfg.Engine,
		clientCut: map[*proxylink.Link]bool{},
		log:       cfg.Logger.With("provider", "docker", "run", cfg.RunID),
		byName:    map[string]*node{},
		via:       map[string]string{},
	}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.logCtx, c.stopLogs = context.WithCancel(context.Background())
	if c.eng == nil {
		cli, err := Connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("docker provider: %w", err)
		}
		c.eng, c.own = cli, cli
	}
	begin := time.Now()
	if err := c.start(ctx); err != nil {
		// Clean up with a context of our own: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopGrace+time.Minute)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil {
			err = lifecycle.JoinErrors(err, fmt.Errorf("clean up after failed start: %w", cerr))
		}
		return nil, err
	}
	c.log.Info("cluster started", "nodes", len(c.nodes), "network", c.net.name, "after", time.Since(begin).Round(time.Millisecond))
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	c.net.name = "faultline-" + c.cfg.RunID
	for _, pn := range c.plan {
		name := pn.Name
		dir := filepath.Join(c.cfg.Dir, "nodes", name)
		n := &node{
			name:      name,
			role:      pn.Role,
			container: "faultline-" + c.cfg.RunID + "-" + name,
			dir:       dir,
			logPath:   filepath.Join(dir, "node.log"),
			log:       c.log.With("node", name),
			cfg: targets.NodeConfig{
				Target:    c.cfg.Target.Name(),
				Variant:   c.cfg.Variant,
				SpecNodes: c.cfg.Nodes,
				Store:     c.cfg.Store,
				Name:      name,
				Role:      pn.Role.Name,
				Nodes:     slices.Clone(c.names),
				Roles:     targets.RoleMap(c.plan),
				APIAddr:   fmt.Sprintf("0.0.0.0:%d", APIPort),
				Peers:     map[string]string{},
				DataDir:   DataDir,
			},
		}
		if !pn.Role.OnePort {
			n.cfg.PeerAddr = fmt.Sprintf("0.0.0.0:%d", PeerPort)
		}
		for _, other := range c.plan {
			if other.Name != name {
				// The network alias of each container is its node name.
				n.cfg.Peers[other.Name] = fmt.Sprintf("%s:%d", other.Name, peerPort(other.Role))
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if sv, ok := pn.Role.Program.(targets.Server); ok && sv.User != "" {
			// The server's account exists only inside the image: let it
			// write the bound folder whatever its uid.
			if err := os.Chmod(filepath.Join(dir, "data"), 0o777); err != nil {
				return fmt.Errorf("node %s: %w", name, err)
			}
		}
		c.nodes = append(c.nodes, n)
		c.byName[name] = n
	}

	// Requests that create something run to their end even when ctx ends
	// (then Start stops after them), so that every object the engine
	// makes is known to Close, which removes it. The reaper comes first:
	// from then on a dead controller leaves nothing behind.
	if err := c.startReaper(ctx); err != nil {
		return err
	}
	if err := c.createNetwork(ctx); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := c.createContainer(ctx, n); err != nil {
			return err
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.startAll(ctx); err != nil {
		return err
	}
	c.server = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	for _, n := range c.nodes {
		l, err := c.newLink(n)
		if err != nil {
			return err
		}
		n.link = l
	}
	if err := c.writeLayout(); err != nil {
		return err
	}
	return c.waitReady(ctx, c.nodes, c.cfg.StartTimeout)
}

// peerPort is the container port where other nodes reach a node of role r.
func peerPort(r targets.Role) int {
	if r.OnePort {
		return APIPort
	}
	return PeerPort
}

// Nodes lists the node names in cluster order.
func (c *Cluster) Nodes() []string { return slices.Clone(c.names) }

// Roles maps each role to its node names, in cluster order (a fresh map).
func (c *Cluster) Roles() map[string][]string { return targets.RoleMap(c.plan) }

// Endpoints lists every node, in cluster order, with its role and the
// address of its client proxy on 127.0.0.1.
func (c *Cluster) Endpoints() []targets.Endpoint {
	out := make([]targets.Endpoint, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = targets.Endpoint{Name: n.name, Role: n.role.Name, Addr: n.link.Addr}
	}
	return out
}

// RunID returns the run id the cluster's containers and network carry.
func (c *Cluster) RunID() string { return c.cfg.RunID }

// Network returns the name of the run's network.
func (c *Cluster) Network() string { return c.net.name }

// ClientAddrs lists, indexed like Nodes, the addresses through which
// clients reach each node's API: each is a proxy on 127.0.0.1 in front of
// the node's published port, subject to the latency fault (a partition
// and packet loss act on node-to-node links only).
func (c *Cluster) ClientAddrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.link.Addr
	}
	return out
}

// NodeConfig returns a copy of the configuration node name is started
// with (addresses as seen inside the run's network), and false for an
// unknown name.
func (c *Cluster) NodeConfig(name string) (targets.NodeConfig, bool) {
	n, ok := c.byName[name]
	if !ok {
		return targets.NodeConfig{}, false
	}
	cfg := n.cfg
	cfg.Nodes = slices.Clone(cfg.Nodes)
	cfg.Peers = make(map[string]string, len(n.cfg.Peers))
	for k, v := range n.cfg.Peers {
		cfg.Peers[k] = v
	}
	return cfg, true
}

// ContainerID returns the id of node name's container, and false for an
// unknown name.
func (c *Cluster) ContainerID(name string) (string, bool) {
	n, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return n.id, true
}

// IP returns node name's current address on the run's network (it may
// change when the node restarts), and false for an unknown name.
func (c *Cluster) IP(name string) (netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.byName[name]
	if !ok {
		return netip.Addr{}, false
	}
	return n.ip, true
}

// HostAPIAddr returns the address on 127.0.0.1 where node name's API port
// is published (it may change when the node restarts), bypassing the
// client proxy, and false for an unknown name.
func (c *Cluster) HostAPIAddr(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return n.hostAddr, true
}

// AdminAddr returns where the controller reaches node name's API directly
// now: its published port on 127.0.0.1 (HostAPIAddr).
func (c *Cluster) AdminAddr(name string) (string, bool) { return c.HostAPIAddr(name) }

// FaultMechanism says how the fault kind ("latency", "loss", "partition")
// is injected on this cluster; for latency it reflects the last
// SetLatency. It returns "" for other kinds.
func (c *Cluster) FaultMechanism(kind string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch kind {
	case "partition":
		return "iptables DROP rules in each node's network namespace"
	case "loss":
		return "iptables statistic match on each node's INPUT, packets from peers"
	}
	return c.via[kind]
}

// Close stops the cluster: it resumes paused containers, stops every
// container (SIGTERM, then SIGKILL after StopGrace), removes them and every
// other container and network labelled with the run's id, tells the
// reaper it is done (it then exits and the engine removes it; when the
// removal failed, the reaper is left to try once more), stops the log
// streams and the client proxies, and closes the engine client if Start
// made it. It waits for a fault method still running to return (their
// waits are cut short). Close is idempotent: later calls return nil at
// once. It returns an error naming what it could not remove.
func (c *Cluster) Close(ctx context.Context) error {
	c.stopLife()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if c.eng != nil {
		c.stopAll(ctx)
		// Let the streams write the containers' last words, then end them.
		waitGroup(&c.logs, 2*time.Second)
		c.stopLogs()
		errs = append(errs, c.removeRun(ctx)...)
		errs = append(errs, c.closeReaper(ctx, len(errs) == 0))
	}
	c.stopLogs()
	c.logs.Wait()
	for _, n := range c.nodes {
		if n.link != nil {
			n.link.Close()
		}
	}
	if !waitGroup(&c.workers, 2*time.Second) {
		// A toxiproxy link whose destination stopped reading can leave a
		// toxic change blocked for good; the listener is closed regardless.
		c.log.Warn("a proxy worker is still blocked inside toxiproxy after close")
	}
	if c.own != nil {
		c.own.Close()
	}
	err := lifecycle.JoinErrors(errs...)
	if err != nil {
		c.log.Warn("cluster closed with errors", "err", err)
	} else {
		c.log.Info("cluster closed")
	}
	return err
}

// waitGroup waits for wg up to d and reports whether it finished.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// node returns the node called name, or an error naming the valid nodes.
func (c *Cluster) node(op, name string) (*node, error) {
	return lifecycle.Lookup(c.byName, c.names, op, name)
}

// lockOpen takes mu and fails when the cluster is closed.
func (c *Cluster) lockOpen(op string) error {
	return lifecycle.LockOpen(&c.mu, &c.closed, op)
}

// bounded returns ctx limited by d and cut short when Close begins, in
// which case context.Cause of the result is nemesis.ErrClosed.
func (c *Cluster) bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return lifecycle.Bounded(ctx, c.life, d, nemesis.ErrClosed)
}

// each runs fn on every node of nodes at once and joins the errors.
func (c *Cluster) each(ctx context.Context, nodes []*node, fn func(context.Context, *node) error) error {
	return lifecycle.JoinErrors(lifecycle.Each(nodes, func(n *node) error { return fn(ctx, n) })...)
}

// Layout is the cluster's shape as written to nodes/cluster.json in the
// run folder: the network, each node's container and addresses, each
// client proxy, and every host address the cluster binds. It is rewritten
// when a restart moves a node to another address.
type Layout struct {
	Provider string        `json:"provider"`
	RunID    string        `json:"run_id"`
	Image    string        `json:"image"`
	Network  LayoutNetwork `json:"network"`
	// Reaper is the run's reaper container and its published port.
	Reaper LayoutReaper `json:"reaper"`
	Nodes  []LayoutNode `json:"nodes"`
	Links  []LayoutLink `json:"links"`
	Addrs  []string     `json:"addrs"`
}

// LayoutNetwork is the run's network in cluster.json.
type LayoutNetwork struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

// LayoutReaper is the run's reaper in cluster.json.
type LayoutReaper struct {
	Container   string `json:"container"`
	ContainerID string `json:"container_id"`
	Addr        string `json:"addr"`
}

// LayoutNode is one node in cluster.json. APIAddr and PeerAddr are its
// addresses on the run's network; HostAPIAddr is the published API port
// on the host.
type LayoutNode struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	Program     string `json:"program"`
	Container   string `json:"container"`
	ContainerID string `json:"container_id"`
	IP          string `json:"ip"`
	APIAddr     string `json:"api_addr"`
	PeerAddr    string `json:"peer_addr,omitempty"`
	HostAPIAddr string `json:"host_api_addr"`
	Log         string `json:"log"`
	Data        string `json:"data"`
}

// LayoutLink is one client proxy in cluster.json.
type LayoutLink struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Addr     string `json:"addr"`
	Upstream string `json:"upstream"`
}

// ReadLayout reads the cluster.json of run folder dir.
func ReadLayout(dir string) (Layout, error) {
	return lifecycle.ReadLayout[Layout](dir)
}

// writeLayout writes cluster.json. The caller holds mu.
func (c *Cluster) writeLayout() error {
	l := Layout{
		Provider: "docker",
		RunID:    c.cfg.RunID,
		Image:    c.cfg.Image,
		Network:  LayoutNetwork{Name: c.net.name, ID: c.net.id, Subnet: c.net.subnet, Gateway: c.net.gateway},
	}
	if c.reaper != nil {
		l.Reaper = LayoutReaper{Container: c.reaper.Name(), ContainerID: c.reaper.ID(), Addr: c.reaper.Addr()}
	}
	for _, n := range c.nodes {
		rel, _ := filepath.Rel(c.cfg.Dir, n.logPath)
		data, _ := filepath.Rel(c.cfg.Dir, filepath.Join(n.dir, "data"))
		ln := LayoutNode{
			Name: n.name, Role: n.role.Name, Program: n.program(), Container: n.container, ContainerID: n.id,
			HostAPIAddr: n.hostAddr, Log: rel, Data: data,
		}
		if n.ip.IsValid() {
			ln.IP = n.ip.String()
			ln.APIAddr = fmt.Sprintf("%s:%d", n.ip, APIPort)
			if !n.role.OnePort {
				ln.PeerAddr = fmt.Sprintf("%s:%d", n.ip, PeerPort)
			}
		}
		l.Nodes = append(l.Nodes, ln)
		if n.hostAddr != "" {
			l.Addrs = append(l.Addrs, n.hostAddr)
		}
	}
	for _, n := range c.nodes {
		if n.link == nil {
			continue
		}
		l.Links = append(l.Links, LayoutLink{From: nemesis.Clients, To: n.name, Addr: n.link.Addr, Upstream: n.link.Upstream()})
		l.Addrs = append(l.Addrs, n.link.Addr)
	}
	if c.reaper != nil && c.reaper.Addr() != "" {
		l.Addrs = append(l.Addrs, c.reaper.Addr())
	}
	return lifecycle.WriteLayout(c.cfg.Dir, l)
}
