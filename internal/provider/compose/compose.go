// Package compose is the compose provider: its nodes are the containers of
// a user's running Docker Compose stack, found by Compose's own labels
// (com.docker.compose.project, .service, .container-number; Compose v1 and
// v2 set the same), which faultline never creates or removes. Faults need
// nothing in the user's images: partitions and packet loss are iptables
// rules (package netfilter) installed from a helper container per node,
// made from faultline's node image, that shares the node's network
// namespace with NET_ADMIN and idles until it is removed; kill is SIGKILL
// through the engine and a start at the window's end; pause is the
// engine's pause. Latency is not offered.
//
// Everything a cluster creates (the helpers and the run's reaper) carries
// faultline's labels with the run's id. Close, like the reaper when the
// controller dies and `faultline cleanup` after that, leaves the stack as
// it was found: every node running and unpaused, the chains and the jumps
// to them gone, every helper removed (docker.RestoreHelped).
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/netfilter"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// Defaults and bounds.
const (
	// DefaultReadyTimeout bounds a wait for restarted nodes when the
	// caller sets none.
	DefaultReadyTimeout = lifecycle.DefaultReadyTimeout
	// defaultProbePort is the port a link probe connects to on a node
	// whose container exposes no TCP port: a refusal shows the link
	// carries traffic as well as a connection does.
	defaultProbePort = 9
	// apiTimeout bounds a group of engine requests.
	apiTimeout = 2 * time.Minute
	// execTimeout bounds one command run in a helper.
	execTimeout = 20 * time.Second
	// stateTimeout bounds the wait for a kill, start or pause to show in
	// the engine's view of a container.
	stateTimeout = 30 * time.Second
	// probeShort is how long a probe across a link waits for a connection.
	probeShort = 250 * time.Millisecond
	// probeLong is the second chance of a link that should carry traffic
	// but did not connect within probeShort (a busy machine).
	probeLong = 3 * time.Second
	// poll is the pause between two looks at the engine or the nodes.
	poll = 50 * time.Millisecond
)

// Config describes a compose cluster.
type Config struct {
	// Project is the Compose project whose containers are the nodes.
	Project string
	// Services lists the services whose containers are nodes, in cluster
	// order (see Plan and Start for the node names).
	Services []string
	// Image is faultline's node image (images.EnsureNode): the helpers and
	// the run's reaper run it; it holds the faultline binary, iptables,
	// iproute2 and bash.
	Image string
	// Dir is the run folder: node n's output while the run lasts goes to
	// Dir/nodes/n/node.log and the layout to Dir/nodes/cluster.json. Empty
	// writes neither.
	Dir string
	// RunID names the run in the helpers' names and in the faultline.run
	// label; empty means a fresh one (docker.NewRunID).
	RunID string
	// Engine is the Docker engine; nil means docker.Connect. Close closes
	// only a client Start made itself.
	Engine docker.Engine
	// Logger receives the provider's progress; nil discards it.
	Logger *slog.Logger
	// StartTimeout bounds Start once the nodes are found; zero means
	// ReadyTimeout.
	StartTimeout time.Duration
	// ReadyTimeout bounds each wait for restarted nodes (Restart,
	// HealAll) to run again, healthy where they have a healthcheck; zero
	// means DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Validate reports the first problem with c, as an error wrapping
// core.ErrBadInput.
func (c Config) Validate() error {
	if _, err := Plan(c.Project, c.Services); err != nil {
		return err
	}
	if c.Image == "" {
		return core.BadInput("compose provider: no node image for the helper containers")
	}
	if c.RunID != "" {
		if err := docker.CheckRunID(c.RunID); err != nil {
			return err
		}
	}
	if c.ReadyTimeout < 0 || c.StartTimeout < 0 {
		return core.BadInput("compose provider: negative timeout")
	}
	return nil
}

func (c Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.RunID == "" {
		c.RunID = docker.NewRunID(time.Now())
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
	if c.Dir != "" {
		var err error
		if c.Dir, err = filepath.Abs(c.Dir); err != nil {
			return c, fmt.Errorf("compose provider: %w", err)
		}
	}
	c.Services = slices.Clone(c.Services)
	return c, nil
}

// Cluster is a running compose cluster: the nodes of a user's stack with
// a helper container each. Its methods are safe for concurrent use; fault
// methods are serialised. The caller of Start owns it and must call Close.
type Cluster struct {
	cfg    Config
	eng    docker.Engine
	own    *client.Client // the client Start made, closed by Close
	log    *slog.Logger
	nodes  []*node
	byName map[string]*node
	names  []string
	roles  map[string][]string
	// network is the project network nodes address each other on.
	network string
	// controller is the address the controller's connections to the
	// nodes come from: what a client partition cuts.
	controller netip.Addr
	reaper     *docker.Reaper

	// life is cancelled when Close begins, so that waits inside fault
	// methods stop early and Close can take mu.
	life     context.Context
	stopLife context.CancelFunc
	// logCtx ends the log streams when Close begins.
	logCtx   context.Context
	stopLogs context.CancelFunc
	logs     sync.WaitGroup

	mu        sync.Mutex // serialises fault methods and Close
	closed    bool
	grudge    nemesis.Grudge  // the partition in place between nodes
	clientCut map[string]bool // the nodes the clients are cut off from
	loss      float64         // the loss in place; 0 for none
}

// node is one node: a container of the user's stack. Everything after
// probePort is guarded by Cluster.mu.
type node struct {
	name      string
	service   string
	number    int
	id        string // the container's id
	container string // its name
	health    bool   // it has a healthcheck
	probePort int
	log       *slog.Logger

	ip        netip.Addr   // on the project network
	ips       []netip.Addr // on every network
	startedAt string       // State.StartedAt of the current start
	helper    helper       // the helper in its current network namespace
	old       []helper     // helpers of earlier namespaces, removed after a restart
	made      int          // helpers made for it so far
	killed    bool
	paused    bool
	// stale is set when the node's namespace lacks the current rules (it
	// was down when they changed); Restart brings it in line.
	stale      bool
	stopStream context.CancelFunc
}

// helper is a helper container.
type helper struct{ id, name string }

var (
	_ nemesis.Cluster           = (*Cluster)(nil)
	_ nemesis.MechanismReporter = (*Cluster)(nil)
	_ nemesis.Partitioner       = (*Cluster)(nil)
	_ nemesis.LossInjector      = (*Cluster)(nil)
	_ nemesis.Killer            = (*Cluster)(nil)
	_ nemesis.Pauser            = (*Cluster)(nil)
	_ nemesis.Healer            = (*Cluster)(nil)
)

// Planned returns a cluster of the planned nodes (Plan) that was never
// started and is closed: its fault methods fail with nemesis.ErrClosed. It
// tells nemesis.Available what the compose provider can do before a run:
// partitions (of nodes and of clients), loss, kill and pause, never
// latency.
func Planned(nodes []targets.Node) *Cluster {
	c := &Cluster{names: targets.Names(nodes), roles: targets.RoleMap(nodes), closed: true}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.stopLife()
	return c
}

// Start finds the nodes of cfg.Project's running stack and makes the
// cluster: the run's reaper first (docker.StartReaper), so that a dead
// controller leaves the stack as found, then a helper container per node
// whose chains it sets up empty, and checks that the controller reaches
// every node's address. The nodes are the containers of cfg.Services, in
// that order, each service's by container number (one-off containers of
// `compose run` left out); a node is named after its service, or
// service-N for a service with several containers, and its role is its
// service. A project without containers, a service without any, or a node
// that is not running or is paused gives an error wrapping
// core.ErrBadInput before anything is created. When Start fails it
// removes what it created. The caller closes a returned Cluster.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:       cfg,
		eng:       cfg.Engine,
		log:       cfg.Logger.With("provider", "compose", "run", cfg.RunID),
		byName:    map[string]*node{},
		clientCut: map[string]bool{},
	}
	c.life, c.stopLife = context.WithCancel(context.Background())
	c.logCtx, c.stopLogs = context.WithCancel(context.Background())
	if c.eng == nil {
		cli, err := docker.Connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("compose provider: %w", err)
		}
		c.eng, c.own = cli, cli
	}
	begin := time.Now()
	if err := c.find(ctx); err != nil {
		c.closed = true
		if c.own != nil {
			c.own.Close()
		}
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := c.start(sctx); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil {
			err = lifecycle.JoinErrors(err, fmt.Errorf("clean up after failed start: %w", cerr))
		}
		return nil, err
	}
	c.log.Info("cluster started", "project", cfg.Project, "nodes", len(c.nodes), "network", c.network, "after", time.Since(begin).Round(time.Millisecond))
	return c, nil
}

// find lists and inspects the project's containers and picks the nodes.
func (c *Cluster) find(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	res, err := c.eng.ContainerList(actx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", LabelProject+"="+c.cfg.Project),
	})
	if err != nil {
		return fmt.Errorf("compose provider: list the containers of project %s: %w", c.cfg.Project, err)
	}
	var cs []found
	for _, s := range res.Items {
		if s.Labels[LabelProject] != c.cfg.Project {
			continue
		}
		in, err := c.eng.ContainerInspect(actx, s.ID, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("compose provider: inspect container %s: %w", s.ID, err)
		}
		cs = append(cs, describe(in.Container))
	}
	d, err := discover(c.cfg.Project, c.cfg.Services, cs)
	if err != nil {
		return err
	}
	c.network = d.network
	c.roles = map[string][]string{}
	for _, dn := range d.nodes {
		n := &node{
			name: dn.name, service: dn.service, number: dn.number, id: dn.id, container: dn.cname,
			health: dn.health, probePort: dn.probePort, log: c.log.With("node", dn.name),
			ip: dn.networks[d.network], ips: dn.ips(), startedAt: dn.state.StartedAt,
		}
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
		c.names = append(c.names, n.name)
		c.roles[n.service] = append(c.roles[n.service], n.name)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	// Where the controller's connections to the nodes come from: the
	// source address the kernel picks for the route to the first node.
	ip, err := sourceAddr(c.nodes[0].ip)
	if err != nil {
		return fmt.Errorf("compose provider: no route from here to node %s at %s: %w", c.nodes[0].name, c.nodes[0].ip, err)
	}
	c.controller = ip
	if c.reaper, err = docker.StartReaper(ctx, c.eng, c.cfg.RunID, c.cfg.Image, c.log); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Dir != "" {
		for _, n := range c.nodes {
			if err := os.MkdirAll(filepath.Join(c.cfg.Dir, "nodes", n.name), 0o755); err != nil {
				return fmt.Errorf("node %s: %w", n.name, err)
			}
		}
	}
	if err := c.each(ctx, c.nodes, func(ctx context.Context, n *node) error {
		if err := c.makeHelper(ctx, n); err != nil {
			return err
		}
		return c.syncRules(ctx, n)
	}); err != nil {
		return err
	}
	for _, n := range c.nodes {
		c.streamLogs(n, time.Now())
	}
	if err := c.writeLayout(); err != nil {
		return err
	}
	// Addresses that do not route from here (Docker Desktop's VM, say)
	// would fail every client: say so now.
	var unreachable []string
	for _, n := range c.nodes {
		if !reach(ctx, n, probeLong) {
			unreachable = append(unreachable, fmt.Sprintf("%s at %s", n.name, n.ip))
		}
	}
	if len(unreachable) > 0 {
		return fmt.Errorf("compose provider: this controller cannot reach node %s on network %s: faultline's clients need the nodes' addresses to route from where it runs", strings.Join(unreachable, ", "), c.network)
	}
	return nil
}

// sourceAddr returns the local address the kernel uses to reach ip.
func sourceAddr(ip netip.Addr) (netip.Addr, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, defaultProbePort)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// reach probes the link from the controller to n: true when a TCP
// connection to n's probe port connects or is refused within timeout,
// false when it times out (the packets are dropped).
func reach(ctx context.Context, n *node, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(context.WithoutCancel(ctx), "tcp", netip.AddrPortFrom(n.ip, uint16(n.probePort)).String())
	if err == nil {
		conn.Close()
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// makeHelper creates and starts a helper container in n's current network
// namespace and sets its chains up; an earlier helper of n moves to n.old.
// The caller holds mu.
func (c *Cluster) makeHelper(ctx context.Context, n *node) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("node %s: make helper: %w", n.name, context.Cause(ctx))
	}
	n.made++
	name := fmt.Sprintf("faultline-%s-%s-%d", c.cfg.RunID, n.name, n.made)
	labels := map[string]string{
		docker.LabelFaultline:      "1",
		docker.LabelRun:            c.cfg.RunID,
		docker.LabelNode:           n.name,
		docker.LabelKind:           docker.KindComposeHelper,
		docker.LabelHelperOf:       n.id,
		docker.LabelHelperStarted:  n.startedAt,
		docker.LabelHelperIP:       n.ip.String(),
		docker.LabelComposeProject: c.cfg.Project,
	}
	// A request that creates something runs to its end even when ctx
	// ends, so that Close knows of everything the engine made.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	useInit := true
	res, err := c.eng.ContainerCreate(dctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  c.cfg.Image,
			Cmd:    []string{"sleep", "infinity"},
			Labels: labels,
			User:   "0:0",
		},
		HostConfig: &container.HostConfig{
			NetworkMode:   container.NetworkMode("container:" + n.id),
			CapAdd:        []string{"NET_ADMIN"},
			Init:          &useInit,
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		},
	})
	if err != nil {
		return fmt.Errorf("node %s: create helper from image %s: %w", n.name, c.cfg.Image, err)
	}
	if n.helper.id != "" {
		n.old = append(n.old, n.helper)
	}
	n.helper = helper{id: res.ID, name: name}
	if _, err := c.eng.ContainerStart(dctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("node %s: start helper: %w", n.name, err)
	}
	if _, err := c.shell(ctx, n, nil, netfilter.SetupScript); err != nil {
		return fmt.Errorf("node %s: set up iptables chains: %w", n.name, err)
	}
	n.stale = true
	n.log.Debug("helper ready", "helper", name)
	return nil
}

// dropOld removes n's helpers of earlier network namespaces. The caller
// holds mu.
func (c *Cluster) dropOld(ctx context.Context, n *node) error {
	var errs []error
	for _, h := range n.old {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		_, err := c.eng.ContainerRemove(actx, h.id, client.ContainerRemoveOptions{Force: true})
		cancel()
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("node %s: remove helper %s: %w", n.name, h.name, err))
		}
	}
	n.old = nil
	return lifecycle.JoinErrors(errs...)
}

// Nodes lists the node names in cluster order.
func (c *Cluster) Nodes() []string { return slices.Clone(c.names) }

// Roles maps each role (a service) to its node names, in cluster order (a
// fresh map).
func (c *Cluster) Roles() map[string][]string {
	out := make(map[string][]string, len(c.roles))
	for r, ns := range c.roles {
		out[r] = slices.Clone(ns)
	}
	return out
}

// Endpoints lists every node, in cluster order, with its role (its
// service) and its current IPv4 address on the project network, without a
// port: the clients add the ports they talk to.
func (c *Cluster) Endpoints() []targets.Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]targets.Endpoint, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = targets.Endpoint{Name: n.name, Role: n.service, Addr: n.ip.String()}
	}
	return out
}

// AdminAddr returns node name's current address on the project network,
// without a port, and false for an unknown name.
func (c *Cluster) AdminAddr(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return n.ip.String(), true
}

// NodeConfig returns what the cluster knows of node name as a
// targets.NodeConfig: its name, role, the cluster's nodes and roles, its
// address (APIAddr, without a port) and each peer's (Peers), and false
// for an unknown name. The stack configured its nodes itself: nothing of
// this was given to them.
func (c *Cluster) NodeConfig(name string) (targets.NodeConfig, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.byName[name]
	if !ok {
		return targets.NodeConfig{}, false
	}
	cfg := targets.NodeConfig{
		Name: n.name, Role: n.service, Nodes: slices.Clone(c.names), Roles: c.Roles(),
		APIAddr: n.ip.String(), Peers: map[string]string{},
	}
	for _, o := range c.nodes {
		if o != n {
			cfg.Peers[o.name] = o.ip.String()
		}
	}
	return cfg, true
}

// Reset is not supported: faultline does not rebuild a container of the
// user's stack. It returns an error wrapping nemesis.ErrUnsupported.
func (c *Cluster) Reset(_ context.Context, name string) error {
	return fmt.Errorf("reset %s: the compose provider does not rebuild the containers of a user's stack: %w", name, nemesis.ErrUnsupported)
}

// RunID returns the run id the helpers and the reaper carry.
func (c *Cluster) RunID() string { return c.cfg.RunID }

// Network returns the name of the project network the nodes are addressed
// on.
func (c *Cluster) Network() string { return c.network }

// ContainerID returns the id of node name's container, and false for an
// unknown name.
func (c *Cluster) ContainerID(name string) (string, bool) {
	n, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return n.id, true
}

// FaultMechanism says how the fault kind ("partition", "loss") is
// injected on this cluster; "" for other kinds.
func (c *Cluster) FaultMechanism(kind string) string {
	switch kind {
	case "partition":
		return "iptables DROP rules in each node's network namespace, from a helper container sharing it"
	case "loss":
		return "iptables statistic match on each node's INPUT, packets from peers, from a helper container sharing its namespace"
	}
	return ""
}

// Close leaves the stack as Start found it and removes what the cluster
// made: through docker.RestoreHelped it resumes paused nodes, starts
// killed ones, removes the chains and the jumps to them from every node
// that kept its namespace and removes the helpers; then it tells the
// reaper it is done (when something could not be restored, it leaves the
// reaper to try once more), ends the log streams and closes the engine
// client if Start made it. It waits for a fault method still running to
// return (their waits are cut short). Close is idempotent: later calls
// return nil at once. It returns an error naming what it could not
// restore or remove.
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
		rctx, cancel := context.WithTimeout(ctx, apiTimeout)
		removed, err := docker.RestoreHelped(rctx, c.eng, c.cfg.RunID, docker.LogLines(c.log))
		cancel()
		for _, r := range removed {
			c.log.Debug("removed", "what", r)
		}
		errs = append(errs, err)
		if c.reaper != nil {
			errs = append(errs, c.reaper.Close(ctx, err == nil))
		}
	}
	c.stopLogs()
	c.logs.Wait()
	if c.own != nil {
		c.own.Close()
	}
	err := lifecycle.JoinErrors(errs...)
	if err != nil {
		c.log.Warn("cluster closed with errors", "err", err)
	} else {
		c.log.Info("cluster closed; the stack is as it was found")
	}
	return err
}

// node returns the node called name, or an error naming the valid nodes.
func (c *Cluster) node(op, name string) (*node, error) {
	return lifecycle.Lookup(c.byName, c.names, op, name)
}

// lockOpen takes mu and fails when the cluster is closed.
func (c *Cluster) lockOpen(op string) error {
	return lifecycle.LockOpen(&c.mu, &c.closed, op)
}

// bounded returns ctx limited by d and cut short when Close begins.
func (c *Cluster) bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return lifecycle.Bounded(ctx, c.life, d, nemesis.ErrClosed)
}

// each runs fn on every node of nodes at once and joins the errors.
func (c *Cluster) each(ctx context.Context, nodes []*node, fn func(context.Context, *node) error) error {
	return lifecycle.JoinErrors(lifecycle.Each(nodes, func(n *node) error { return fn(ctx, n) })...)
}

// exec runs cmd in n's helper as root, bounded by execTimeout.
func (c *Cluster) exec(ctx context.Context, n *node, env []string, cmd ...string) (docker.ExecResult, error) {
	ctx, cancel := c.bounded(ctx, execTimeout)
	defer cancel()
	return docker.Exec(ctx, c.eng, n.helper.id, env, cmd...)
}

// shell runs script with sh in n's helper and fails unless it exits 0.
func (c *Cluster) shell(ctx context.Context, n *node, env []string, script string) (docker.ExecResult, error) {
	ctx, cancel := c.bounded(ctx, execTimeout)
	defer cancel()
	return docker.Shell(ctx, c.eng, n.helper.id, env, script)
}

// streamLogs copies the output of n's container from since on into
// Dir/nodes/n/node.log until the container stops or Close begins. The
// caller holds mu (or Start runs alone).
func (c *Cluster) streamLogs(n *node, since time.Time) {
	if c.cfg.Dir == "" {
		return
	}
	if n.stopStream != nil {
		n.stopStream()
	}
	ctx, cancel := context.WithCancel(c.logCtx)
	n.stopStream = cancel
	path := filepath.Join(c.cfg.Dir, "nodes", n.name, "node.log")
	id, name, log := n.id, n.name, n.log
	c.logs.Go(func() {
		defer cancel()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			log.Warn("node log", "err", err)
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "=== faultline: following %s (container %s) from %s\n", name, id[:min(12, len(id))], since.UTC().Format(time.RFC3339Nano))
		rc, err := c.eng.ContainerLogs(ctx, id, client.ContainerLogsOptions{
			ShowStdout: true, ShowStderr: true, Follow: true, Since: since.UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			return
		}
		defer rc.Close()
		stop := context.AfterFunc(ctx, func() { rc.Close() })
		defer stop()
		// A container with a terminal has one raw stream.
		if _, err := stdcopy.StdCopy(f, f, rc); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			log.Debug("node log stream ended", "err", err)
		}
	})
}

// Layout is the cluster as written to nodes/cluster.json in the run
// folder: the project, its network, the run's reaper and each node with
// its container and helper. It is rewritten when a restart gives a node a
// new helper or address.
type Layout struct {
	Provider string `json:"provider"`
	RunID    string `json:"run_id"`
	Project  string `json:"project"`
	Network  string `json:"network"`
	// Image is the helpers' (and the reaper's) image.
	Image string `json:"image"`
	// Controller is the address the controller's connections to the
	// nodes come from, which a client partition cuts.
	Controller string              `json:"controller"`
	Reaper     docker.LayoutReaper `json:"reaper"`
	Nodes      []LayoutNode        `json:"nodes"`
}

// LayoutNode is one node in cluster.json.
type LayoutNode struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Service string `json:"service"`
	// Number is Compose's container number within the service.
	Number      int    `json:"number"`
	Container   string `json:"container"`
	ContainerID string `json:"container_id"`
	// IP is the node's address on the project network.
	IP string `json:"ip"`
	// Helper and HelperID name its current helper container.
	Helper   string `json:"helper"`
	HelperID string `json:"helper_id"`
	Log      string `json:"log"`
}

// ReadLayout reads the cluster.json of run folder dir.
func ReadLayout(dir string) (Layout, error) {
	return lifecycle.ReadLayout[Layout](dir)
}

// writeLayout writes cluster.json. The caller holds mu.
func (c *Cluster) writeLayout() error {
	if c.cfg.Dir == "" {
		return nil
	}
	l := Layout{
		Provider: "compose", RunID: c.cfg.RunID, Project: c.cfg.Project, Network: c.network,
		Image: c.cfg.Image, Controller: c.controller.String(), Nodes: []LayoutNode{},
	}
	if c.reaper != nil {
		l.Reaper = docker.LayoutReaper{Container: c.reaper.Name(), ContainerID: c.reaper.ID(), Addr: c.reaper.Addr()}
	}
	for _, n := range c.nodes {
		l.Nodes = append(l.Nodes, LayoutNode{
			Name: n.name, Role: n.service, Service: n.service, Number: n.number, Container: n.container,
			ContainerID: n.id, IP: n.ip.String(), Helper: n.helper.name, HelperID: n.helper.id,
			Log: filepath.Join("nodes", n.name, "node.log"),
		})
	}
	return lifecycle.WriteLayout(c.cfg.Dir, l)
}
