// Package local is the local provider: it runs a target's nodes as child
// processes on 127.0.0.1 and routes every client-to-node and node-to-node
// link through its own in-process toxiproxy proxy, so that faults can be
// injected from the controller: a partition blackholes links, latency is a
// toxic on links, a kill is SIGKILL, a pause is SIGSTOP.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/ports"
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

// MaxNodes is the largest cluster Start accepts (lifecycle.MaxNodes).
const MaxNodes = lifecycle.MaxNodes

// Config describes a local cluster.
type Config struct {
	// Target is the system under test. Its layout says which nodes run:
	// a node of a GoProgram role is Exe re-executed, a node of a Server
	// role is the server's binary; each role's Ready is polled on each of
	// its nodes' API addresses.
	Target targets.Target
	// Variant is the target variant; empty means the target's default (its
	// first variant).
	Variant string
	// Nodes is the --nodes of the target's layout (targets.Spec.Nodes).
	Nodes int
	// Store is the --store of the target's layout (targets.Spec.Store);
	// empty for a target without stores.
	Store string
	// Dir is the run folder. Node n's log (stdout and stderr, appended
	// across restarts) is Dir/nodes/n/node.log and its data directory is
	// Dir/nodes/n/data.
	Dir string
	// Exe is the binary started as each node; it must call
	// node.MainIfNode first thing. Empty means os.Executable().
	Exe string
	// Logger receives the provider's progress; nil discards it.
	Logger *slog.Logger
	// StartTimeout bounds the wait for every node to serve requests at
	// start, init commands included; zero means ReadyTimeout.
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
		return core.BadInput("local provider: no target")
	}
	if c.Nodes < 1 {
		return core.BadInput("local provider: nodes must be at least 1, got %d", c.Nodes)
	}
	if c.Dir == "" {
		return core.BadInput("local provider: no run folder")
	}
	if c.ReadyTimeout < 0 || c.StartTimeout < 0 || c.StopGrace < 0 {
		return core.BadInput("local provider: negative timeout")
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
	if c.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("local provider: find own executable: %w", err)
		}
		c.Exe = exe
	}
	var err error
	if c.Exe, err = filepath.Abs(c.Exe); err != nil {
		return c, fmt.Errorf("local provider: %w", err)
	}
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return c, fmt.Errorf("local provider: %w", err)
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
	return c, nil
}

// Cluster is a running local cluster. Its methods are safe for concurrent
// use; fault methods are serialised. The caller of Start owns the Cluster
// and must call Close.
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	plan   []targets.Node
	names  []string
	nodes  []*nodeProc
	byName map[string]*nodeProc
	ports  []int // reserved node ports, released by Close

	server  *toxiproxy.ApiServer
	clients []*proxylink.Link             // indexed like nodes
	client  map[string]*proxylink.Link    // node -> its client link
	peers   []*proxylink.Link             // every directed node-to-node link
	pair    map[[2]string]*proxylink.Link // (from, to) -> link

	// life is cancelled when Close begins, so that waits inside fault
	// methods stop early and Close can take mu.
	life     context.Context
	stopLife context.CancelFunc

	spawn   *spawner
	workers sync.WaitGroup // link workers

	mu     sync.Mutex // serialises fault methods and Close
	closed bool
	cut    map[*proxylink.Link]bool // links partitioned by Partition
}

var (
	_ nemesis.Cluster         = (*Cluster)(nil)
	_ nemesis.Partitioner     = (*Cluster)(nil)
	_ nemesis.Killer          = (*Cluster)(nil)
	_ nemesis.Pauser          = (*Cluster)(nil)
	_ nemesis.Healer          = (*Cluster)(nil)
	_ nemesis.LatencyInjector = (*Cluster)(nil)
)

// Plan lays cfg's target out and checks what the local provider needs
// before anything is made: at most MaxNodes nodes, and every server binary
// (and init program) installed. Errors wrap core.ErrBadInput for a layout
// the provider cannot take and targets.ErrNoBinary for a missing binary.
func Plan(cfg Config) ([]targets.Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nodes, err := lifecycle.Plan("local", cfg.Target, cfg.Variant, cfg.Nodes, cfg.Store)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		s, ok := n.Role.Program.(targets.Server)
		if !ok {
			continue
		}
		if _, err := s.Find(); err != nil {
			return nil, fmt.Errorf("role %s: %w", n.Role.Name, err)
		}
		if s.Init != nil {
			for _, cmd := range s.Init(targets.NodeConfig{}) {
				if len(cmd) == 0 {
					continue
				}
				if _, err := s.FindInit(cmd[0]); err != nil {
					return nil, fmt.Errorf("role %s: %w", n.Role.Name, err)
				}
			}
		}
		if s.User != "" && os.Geteuid() == 0 {
			if _, err := lookupUser(s.User); err != nil {
				return nil, fmt.Errorf("role %s: %w", n.Role.Name, err)
			}
		}
	}
	return nodes, nil
}

// Planned returns a cluster of the planned nodes that was never started
// and is closed: its fault methods fail with nemesis.ErrClosed. It tells
// nemesis.Available what the local provider can do before a run.
func Planned(nodes []targets.Node) *Cluster {
	c := &Cluster{plan: nodes, names: targets.Names(nodes), closed: true}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.stopLife()
	return c
}

// Start starts a cluster as cfg describes and returns once every node
// serves requests (Target.Ready on its own API address). It fails when a
// node's process exits first, when a node is not ready within
// ReadyTimeout, or when ctx ends; everything already started is then
// stopped before Start returns the error, which names the node at fault
// and quotes its last log lines. The caller closes a returned Cluster.
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
		cfg:    cfg,
		log:    cfg.Logger.With("provider", "local"),
		plan:   plan,
		names:  targets.Names(plan),
		client: map[string]*proxylink.Link{},
		byName: map[string]*nodeProc{},
		pair:   map[[2]string]*proxylink.Link{},
		cut:    map[*proxylink.Link]bool{},
		spawn:  newSpawner(),
	}
	c.life, c.stopLife = context.WithCancel(context.Background())
	if err := c.start(ctx); err != nil {
		// Clean up with a context of our own: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopGrace+30*time.Second)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after failed start: %w", cerr))
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	need := 0
	for _, pn := range c.plan {
		need += portsOf(pn.Role)
	}
	reserved, err := ports.Reserve(need)
	if err != nil {
		return fmt.Errorf("reserve node ports: %w", err)
	}
	c.ports = reserved
	for _, pn := range c.plan {
		dir := filepath.Join(c.cfg.Dir, "nodes", pn.Name)
		np := &nodeProc{
			name:    pn.Name,
			role:    pn.Role,
			dir:     dir,
			logPath: filepath.Join(dir, "node.log"),
			log:     c.log.With("node", pn.Name),
			cfg: targets.NodeConfig{
				Target:    c.cfg.Target.Name(),
				Variant:   c.cfg.Variant,
				SpecNodes: c.cfg.Nodes,
				Store:     c.cfg.Store,
				Name:      pn.Name,
				Role:      pn.Role.Name,
				Nodes:     slices.Clone(c.names),
				Roles:     targets.RoleMap(c.plan),
				APIAddr:   fmt.Sprintf("127.0.0.1:%d", reserved[0]),
				Peers:     map[string]string{},
				DataDir:   filepath.Join(dir, "data"),
			},
		}
		if !pn.Role.OnePort {
			np.cfg.PeerAddr = fmt.Sprintf("127.0.0.1:%d", reserved[1])
		}
		reserved = reserved[portsOf(pn.Role):]
		if err := os.MkdirAll(np.cfg.DataDir, 0o755); err != nil {
			return fmt.Errorf("node %s: %w", pn.Name, err)
		}
		if err := np.prepare(); err != nil {
			return err
		}
		c.nodes = append(c.nodes, np)
		c.byName[pn.Name] = np
	}

	c.server = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	for _, np := range c.nodes {
		l, err := c.newLink(nemesis.Clients, np.name, np.cfg.APIAddr)
		if err != nil {
			return err
		}
		c.clients = append(c.clients, l)
		c.client[np.name] = l
	}
	for _, from := range c.nodes {
		for _, to := range c.nodes {
			if from == to {
				continue
			}
			l, err := c.newLink(from.name, to.name, to.peerListener())
			if err != nil {
				return err
			}
			c.peers = append(c.peers, l)
			c.pair[[2]string{from.name, to.name}] = l
			from.cfg.Peers[to.name] = l.Addr
		}
	}

	if err := c.writeLayout(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline := time.Now().Add(c.cfg.StartTimeout)
	sctx, cancel := c.bounded(ctx, c.cfg.StartTimeout)
	defer cancel()
	// Step by step (a Serial role's nodes one at a time), each step ready
	// before the next one is initialised.
	for _, step := range lifecycle.Steps(c.nodes, func(n *nodeProc) bool { return n.role.Serial }) {
		for _, np := range step {
			if err := c.initNode(sctx, np); err != nil {
				return err
			}
		}
		for _, np := range step {
			if err := c.startProcess(np); err != nil {
				return err
			}
		}
		if err := c.waitReady(ctx, step, time.Until(deadline)); err != nil {
			return err
		}
	}
	return nil
}

// portsOf is how many ports a node of role r listens on.
func portsOf(r targets.Role) int {
	if r.OnePort {
		return 1
	}
	return 2
}

// peerListener is where other nodes' links to n lead: its peer listener,
// or its API listener when its role listens on one port.
func (n *nodeProc) peerListener() string {
	if n.role.OnePort {
		return n.cfg.APIAddr
	}
	return n.cfg.PeerAddr
}

// Roles maps each role to its node names, in cluster order (a fresh map).
func (c *Cluster) Roles() map[string][]string { return targets.RoleMap(c.plan) }

// Endpoints lists every node, in cluster order, with its role and the
// address of its client link.
func (c *Cluster) Endpoints() []targets.Endpoint {
	out := make([]targets.Endpoint, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = targets.Endpoint{Name: n.name, Role: n.role.Name, Addr: c.clients[i].Addr}
	}
	return out
}

// Nodes lists the node names in cluster order.
func (c *Cluster) Nodes() []string { return slices.Clone(c.names) }

// ClientAddrs lists, indexed like Nodes, the addresses through which
// clients reach each node's API: each is a proxy subject to the latency
// fault (a partition cuts only node-to-node links).
func (c *Cluster) ClientAddrs() []string {
	out := make([]string, len(c.clients))
	for i, l := range c.clients {
		out[i] = l.Addr
	}
	return out
}

// NodeConfig returns a copy of the configuration node name is started
// with, and false for an unknown name. Its APIAddr is the node's own
// address, bypassing the client proxy.
func (c *Cluster) NodeConfig(name string) (targets.NodeConfig, bool) {
	np, ok := c.byName[name]
	if !ok {
		return targets.NodeConfig{}, false
	}
	cfg := np.cfg
	cfg.Nodes = slices.Clone(cfg.Nodes)
	cfg.Peers = make(map[string]string, len(np.cfg.Peers))
	for k, v := range np.cfg.Peers {
		cfg.Peers[k] = v
	}
	return cfg, true
}

// AdminAddr returns node name's own API address, bypassing the client
// proxy (it stays the same across restarts), and false for an unknown
// name.
func (c *Cluster) AdminAddr(name string) (string, bool) {
	np, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return np.cfg.APIAddr, true
}

// LinkAddr returns the address of the proxy that carries traffic from node
// from to node to's peer listener (what from's NodeConfig.Peers[to] says),
// and false when there is no such link.
func (c *Cluster) LinkAddr(from, to string) (string, bool) {
	l, ok := c.pair[[2]string{from, to}]
	if !ok {
		return "", false
	}
	return l.Addr, true
}

// Close stops the cluster: it resumes paused nodes, sends SIGTERM to every
// node's process group, waits up to StopGrace, sends SIGKILL to what is
// left, reaps every child, and stops every proxy so no port stays bound.
// It waits for a fault method still running to return (their waits are
// cut short). Close is idempotent: later calls return nil at once. It
// returns an error only when ctx ends before every child is reaped.
func (c *Cluster) Close(ctx context.Context) error {
	c.stopLife()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.stopAll(ctx)
	for _, l := range c.allLinks() {
		l.Close()
	}
	c.spawn.close()
	ports.Release(c.ports)
	done := make(chan struct{})
	go func() { c.workers.Wait(); close(done) }()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		// A toxiproxy link whose destination stopped reading can leave a
		// toxic change blocked for good; the listener is closed regardless.
		c.log.Warn("a proxy worker is still blocked inside toxiproxy after close")
	case <-ctx.Done():
	}
	c.log.Info("cluster closed")
	return err
}

func (c *Cluster) allLinks() []*proxylink.Link {
	return append(slices.Clone(c.clients), c.peers...)
}

// node returns the node called name, or an error naming the valid nodes.
func (c *Cluster) node(op, name string) (*nodeProc, error) {
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

// Layout is the cluster's shape as written to nodes/cluster.json in the
// run folder: each node's addresses, each link's proxy, and every address
// the cluster binds (so a test or a person can verify none stays bound).
type Layout struct {
	Nodes []LayoutNode `json:"nodes"`
	Links []LayoutLink `json:"links"`
	Addrs []string     `json:"addrs"`
}

// LayoutNode is one node in cluster.json. Program is "go" for our own Go
// code, or the server binary's path.
type LayoutNode struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Program  string `json:"program"`
	User     string `json:"user,omitempty"`
	APIAddr  string `json:"api_addr"`
	PeerAddr string `json:"peer_addr,omitempty"`
	Log      string `json:"log"`
}

// LayoutLink is one proxied link in cluster.json.
type LayoutLink struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Addr     string `json:"addr"`
	Upstream string `json:"upstream"`
}

func (c *Cluster) writeLayout() error {
	var l Layout
	for _, np := range c.nodes {
		rel, _ := filepath.Rel(c.cfg.Dir, np.logPath)
		l.Nodes = append(l.Nodes, LayoutNode{Name: np.name, Role: np.role.Name, Program: np.program(), User: np.user(),
			APIAddr: np.cfg.APIAddr, PeerAddr: np.cfg.PeerAddr, Log: rel})
		l.Addrs = append(l.Addrs, np.cfg.APIAddr)
		if np.cfg.PeerAddr != "" {
			l.Addrs = append(l.Addrs, np.cfg.PeerAddr)
		}
	}
	for _, k := range c.allLinks() {
		l.Links = append(l.Links, LayoutLink{From: k.From, To: k.To, Addr: k.Addr, Upstream: k.Upstream()})
		l.Addrs = append(l.Addrs, k.Addr)
	}
	return lifecycle.WriteLayout(c.cfg.Dir, l)
}
