package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	internalnode "github.com/faultline/faultline/internal/node"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/proxylink"
	"github.com/faultline/faultline/targets"
)

const (
	// apiTimeout bounds a group of engine requests (creating the network
	// and containers, stopping, removing).
	apiTimeout = 2 * time.Minute
	// execTimeout bounds one command run inside a node.
	execTimeout = 20 * time.Second
	// stateTimeout bounds the wait for a kill or pause to show in the
	// engine's view of the container.
	stateTimeout = 10 * time.Second
	// readyPoll is the pause between two readiness probes of one node.
	readyPoll = 50 * time.Millisecond
	// readyAttempt bounds one call of Target.Ready.
	readyAttempt = time.Second
	// logTailLines is how many log lines an error quotes.
	logTailLines = 5
	// startBanner begins the line written to a node log before each start.
	startBanner = "=== faultline: starting "
)

// apiPort is the container port of the node API, as the engine names it.
var apiPort = network.MustParsePort(strconv.Itoa(APIPort) + "/tcp")

// loopback is where the API port is published.
var loopback = netip.MustParseAddr("127.0.0.1")

// node is one node: its fixed configuration and what the engine last told
// about its container. Everything after cfg is guarded by Cluster.mu.
type node struct {
	name      string
	role      targets.Role
	container string // container name
	dir       string
	logPath   string
	log       *slog.Logger
	cfg       targets.NodeConfig

	id       string
	ip       netip.Addr      // on the run's network
	hostAddr string          // published API port, 127.0.0.1:port
	link     *proxylink.Link // the client proxy
	killed   bool
	paused   bool
	// stale is set when the node could not take the current fault state
	// (rules, netem) because it was paused or down; Resume and Restart
	// bring it in line.
	stale bool
	// stopStream ends the log stream of the current container start.
	stopStream context.CancelFunc
}

// labels returns the labels of every object of the run.
func (c *Cluster) labels() map[string]string {
	return map[string]string{LabelFaultline: "1", LabelRun: c.cfg.RunID}
}

// detached returns a context for a request that creates something: it
// does not end with ctx (an abandoned request could leave an object the
// cluster does not know of), only after apiTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
}

// createNetwork creates the run's bridge network. It fails when ctx has
// ended, after the request.
func (c *Cluster) createNetwork(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create network: %w", context.Cause(ctx))
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	res, err := c.eng.NetworkCreate(dctx, c.net.name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: c.labels(),
	})
	if err != nil {
		return fmt.Errorf("create network %s: %w", c.net.name, err)
	}
	c.net.id = res.ID
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create network: %w", context.Cause(ctx))
	}
	in, err := c.eng.NetworkInspect(ctx, res.ID, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect network %s: %w", c.net.name, err)
	}
	for _, cfg := range in.Network.IPAM.Config {
		if cfg.Subnet.Addr().Is4() {
			c.net.subnet = cfg.Subnet.String()
			if cfg.Gateway.IsValid() {
				c.net.gateway = cfg.Gateway.String()
			}
		}
	}
	c.log.Info("network created", "network", c.net.name, "subnet", c.net.subnet)
	return nil
}

// createContainer creates n's container: the node image with the node's
// configuration in its environment, capability NET_ADMIN (for iptables
// and tc inside it) and nothing more, its API port published on
// 127.0.0.1, its data directory bound from the run folder, and the run's
// labels. The node runs as the controller's user, so that its files in
// the run folder belong to that user. It fails when ctx has ended, after
// the request.
func (c *Cluster) createContainer(ctx context.Context, n *node) error {
	cmd, env, user, err := c.command(n)
	if err != nil {
		return fmt.Errorf("create container for %s: %w", n.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create container for %s: %w", n.name, context.Cause(ctx))
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	labels := c.labels()
	labels[LabelNode] = n.name
	useInit := true // docker-init as PID 1 forwards signals and reaps
	res, err := c.eng.ContainerCreate(dctx, client.ContainerCreateOptions{
		Name: n.container,
		Config: &container.Config{
			Image:        c.cfg.Image,
			Cmd:          cmd,
			Env:          env,
			Labels:       labels,
			Hostname:     n.name,
			User:         user,
			ExposedPorts: network.PortSet{apiPort: {}},
		},
		HostConfig: &container.HostConfig{
			NetworkMode:   container.NetworkMode(c.net.name),
			CapAdd:        []string{"NET_ADMIN"},
			PortBindings:  network.PortMap{apiPort: {{HostIP: loopback}}},
			Mounts:        []mount.Mount{{Type: mount.TypeBind, Source: filepath.Join(n.dir, "data"), Target: DataDir}},
			Init:          &useInit,
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		},
		NetworkingConfig: &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{
				c.net.name: {Aliases: []string{n.name}},
			},
		},
	})
	if err != nil {
		return fmt.Errorf("create container for %s from image %s: %w", n.name, c.cfg.Image, err)
	}
	n.id = res.ID
	n.log.Debug("container created", "container", n.container, "id", shortID(n.id))
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create container for %s: %w", n.name, context.Cause(ctx))
	}
	return nil
}

// command returns what n's container runs, its environment and the user
// it runs as. A GoProgram node runs Cmd (the faultline binary) with its
// configuration in the environment, as the controller's user so that its
// files in the run folder belong to that user. A Server node runs its
// binary with its arguments (init commands first, once, while the data
// folder is empty), as the server's User when set.
func (c *Cluster) command(n *node) (cmd, env []string, user string, err error) {
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	s, ok := n.role.Program.(targets.Server)
	if !ok {
		e, err := internalnode.Env(n.cfg)
		if err != nil {
			return nil, nil, "", err
		}
		return c.cfg.Cmd, []string{e}, owner, nil
	}
	argv := append([]string{s.Binary}, s.Args(n.cfg)...)
	if s.Env != nil {
		env = s.Env(n.cfg)
	}
	if s.User != "" {
		user = s.User
	} else {
		user = owner
	}
	var inits [][]string
	if s.Init != nil {
		inits = s.Init(n.cfg)
	}
	if len(inits) == 0 {
		return argv, env, user, nil
	}
	// Init runs while the data folder is empty or holds only the marker
	// Reset leaves, which it then removes.
	marker := shellQuote(path.Join(DataDir, targets.ResetMarker))
	script := `if [ -z "$(ls -A ` + shellQuote(DataDir) + ` | grep -vx ` + shellQuote(targets.ResetMarker) + `)" ]; then`
	for _, a := range inits {
		script += " " + shellJoin(a) + " &&"
	}
	script += " rm -f " + marker + "; fi && exec " + shellJoin(argv)
	return []string{"sh", "-c", script}, env, user, nil
}

// program names what n runs, for cluster.json: "go" or the server binary.
func (n *node) program() string {
	if s, ok := n.role.Program.(targets.Server); ok {
		return s.Binary
	}
	return "go"
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// shellJoin quotes each word of argv for sh and joins them.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// launch starts n's container and streams its output into its log. The
// caller holds mu.
func (c *Cluster) launch(ctx context.Context, n *node) error {
	if err := appendLine(n.logPath, fmt.Sprintf("%s%s at %s", startBanner, n.name, time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	since := time.Now()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start node %s: %w", n.name, context.Cause(ctx))
	}
	dctx, cancel := detached(ctx)
	_, err := c.eng.ContainerStart(dctx, n.id, client.ContainerStartOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	n.killed, n.paused = false, false
	c.streamLogs(n, since)
	return nil
}

// startError reports a failure after n's container started. A node that
// exits at once fails every step after its start; then the error says
// that, with its last words, rather than which step noticed.
func (c *Cluster) startError(ctx context.Context, n *node, err error) error {
	if st, ierr := c.inspect(context.WithoutCancel(ctx), n); ierr == nil && !st.Running {
		return c.exitedError(ctx, n, nil)
	}
	return fmt.Errorf("start node %s: %w", n.name, err)
}

// startContainer starts one node's container again (Restart, HealAll):
// it learns the container's address and published port, points the
// client proxy there, installs the fault state in its new network
// namespace, and in the other nodes too when its address changed (their
// rules name it). It does not wait for the node to serve. The caller holds
// mu.
func (c *Cluster) startContainer(ctx context.Context, n *node) error {
	if err := c.launch(ctx, n); err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	oldIP := n.ip
	if err := c.refresh(actx, n); err != nil {
		return c.startError(ctx, n, err)
	}
	if oldIP.IsValid() && oldIP != n.ip {
		n.log.Info("node address changed", "old", oldIP, "new", n.ip)
		for _, o := range c.nodes {
			o.stale = true
		}
	}
	if err := c.writeLayout(); err != nil {
		return err
	}
	n.stale = true
	if err := c.setup(ctx, n); err != nil {
		return c.startError(ctx, n, err)
	}
	if err := c.syncStale(ctx); err != nil {
		return c.startError(ctx, n, err)
	}
	n.log.Info("node started", "container", n.container, "ip", n.ip, "api", n.hostAddr)
	return nil
}

// startAll starts every container of a new cluster step by step (a Serial
// role's nodes one at a time, each step ready before the next starts, so
// that a replica's init finds its primary serving), each step in three
// rounds (each node at once within a round): start, learn addresses,
// install chains. The caller holds mu.
func (c *Cluster) startAll(ctx context.Context) error {
	steps := lifecycle.Steps(c.nodes, func(n *node) bool { return n.role.Serial })
	if len(steps) == 1 {
		return c.startStep(ctx, c.nodes)
	}
	deadline := time.Now().Add(c.cfg.StartTimeout)
	for _, step := range steps {
		if err := c.startStep(ctx, step); err != nil {
			return err
		}
		if err := c.waitReady(ctx, step, time.Until(deadline)); err != nil {
			return err
		}
	}
	return nil
}

// startStep starts the containers of nodes, in three rounds: start,
// learn addresses, install chains. The caller holds mu.
func (c *Cluster) startStep(ctx context.Context, nodes []*node) error {
	if err := c.each(ctx, nodes, c.launch); err != nil {
		return err
	}
	err := c.each(ctx, nodes, func(ctx context.Context, n *node) error {
		actx, cancel := c.bounded(ctx, apiTimeout)
		defer cancel()
		if err := c.refresh(actx, n); err != nil {
			return c.startError(ctx, n, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.each(ctx, nodes, func(ctx context.Context, n *node) error {
		if err := c.setup(ctx, n); err != nil {
			return c.startError(ctx, n, err)
		}
		if err := c.syncNode(ctx, n); err != nil {
			return c.startError(ctx, n, err)
		}
		n.log.Info("node started", "container", n.container, "ip", n.ip, "api", n.hostAddr)
		return nil
	})
}

// refresh reads n's address on the run's network and its published API
// port, and points its client proxy at the port. It touches n only. The
// caller holds mu.
func (c *Cluster) refresh(ctx context.Context, n *node) error {
	in, err := c.eng.ContainerInspect(ctx, n.id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	ct := in.Container
	if ct.State == nil || !ct.State.Running {
		return c.exitedError(ctx, n, ct.State)
	}
	if ct.NetworkSettings == nil {
		return errors.New("container has no network settings")
	}
	ep := ct.NetworkSettings.Networks[c.net.name]
	if ep == nil || !ep.IPAddress.IsValid() {
		return fmt.Errorf("container has no address on network %s", c.net.name)
	}
	host := ""
	for _, b := range ct.NetworkSettings.Ports[apiPort] {
		if b.HostPort != "" && (!b.HostIP.IsValid() || b.HostIP == loopback) {
			host = fmt.Sprintf("127.0.0.1:%s", b.HostPort)
			break
		}
	}
	if host == "" {
		return fmt.Errorf("API port %s not published", apiPort)
	}
	n.ip = ep.IPAddress
	moved := n.hostAddr != "" && n.hostAddr != host
	n.hostAddr = host
	if n.link != nil && moved {
		return c.retarget(ctx, n.link, host)
	}
	return nil
}

// State is the engine's view of a node's container: whether it runs
// and whether it is paused, and otherwise its status and exit code.
type State struct {
	Running, Paused bool
	Status          string
	ExitCode        int
}

// String says "paused", "running", or the status with the exit code.
func (s State) String() string {
	switch {
	case s.Paused:
		return "paused"
	case s.Running:
		return "running"
	}
	return fmt.Sprintf("%s (exit code %d)", s.Status, s.ExitCode)
}

// InspectNode returns the engine's view of container id, node name's,
// and the engine's whole answer. Its errors name the node; a container
// the engine reports without a state is one.
func InspectNode(ctx context.Context, eng Engine, id, name string) (State, container.InspectResponse, error) {
	in, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return State{}, container.InspectResponse{}, fmt.Errorf("inspect node %s: %w", name, err)
	}
	st := in.Container.State
	if st == nil {
		return State{}, in.Container, fmt.Errorf("inspect node %s: no state", name)
	}
	return State{Running: st.Running, Paused: st.Paused, Status: string(st.Status), ExitCode: st.ExitCode}, in.Container, nil
}

// WaitState calls inspect (the view of node name's container) at once
// and then every 10 ms until ok accepts a state it returns without error,
// and returns that state. When ctx ends first it returns the last state
// with inspect's last error or, where that call succeeded, an error
// saying what the node is, wrapping context.Cause(ctx).
func WaitState[S fmt.Stringer](ctx context.Context, name string, inspect func(context.Context) (S, error), ok func(S) bool) (S, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := inspect(ctx)
		if err == nil && ok(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, err
			}
			return st, fmt.Errorf("node %s is %s: %w", name, st, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// inspect returns the engine's view of n's container.
func (c *Cluster) inspect(ctx context.Context, n *node) (State, error) {
	st, _, err := InspectNode(ctx, c.eng, n.id, n.name)
	return st, err
}

// waitState polls n's container until ok accepts its state, ctx ends or
// stateTimeout passes.
func (c *Cluster) waitState(ctx context.Context, n *node, ok func(State) bool) (State, error) {
	ctx, cancel := c.bounded(ctx, stateTimeout)
	defer cancel()
	return WaitState(ctx, n.name, func(ctx context.Context) (State, error) { return c.inspect(ctx, n) }, ok)
}

// exec runs cmd in n's container as root, bounded by execTimeout.
func (c *Cluster) exec(ctx context.Context, n *node, env []string, cmd ...string) (ExecResult, error) {
	ctx, cancel := c.bounded(ctx, execTimeout)
	defer cancel()
	return Exec(ctx, c.eng, n.id, env, cmd...)
}

// shell runs script with sh in n's container and fails unless it exits 0.
func (c *Cluster) shell(ctx context.Context, n *node, env []string, script string) (ExecResult, error) {
	ctx, cancel := c.bounded(ctx, execTimeout)
	defer cancel()
	return Shell(ctx, c.eng, n.id, env, script)
}

// streamLogs copies the output of n's container from since on into its
// log file until the container stops or Close ends the stream. The caller
// holds mu.
func (c *Cluster) streamLogs(n *node, since time.Time) {
	if n.stopStream != nil {
		n.stopStream()
	}
	ctx, cancel := context.WithCancel(c.logCtx)
	n.stopStream = cancel
	id, path, log := n.id, n.logPath, n.log
	c.logs.Go(func() {
		defer cancel()
		rc, err := c.eng.ContainerLogs(ctx, id, client.ContainerLogsOptions{
			ShowStdout: true, ShowStderr: true, Follow: true,
			Since: since.UTC().Format(time.RFC3339Nano),
		})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("node log stream failed", "err", err)
			}
			return
		}
		defer rc.Close()
		stop := context.AfterFunc(ctx, func() { rc.Close() })
		defer stop()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			log.Warn("node log", "err", err)
			return
		}
		defer f.Close()
		if _, err := stdcopy.StdCopy(f, f, rc); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
			log.Debug("node log stream ended", "err", err)
		}
	})
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// waitReady polls each node's role's Ready on its published API address
// until all answer, a container stops, timeout passes, ctx ends or Close
// begins. The caller holds mu.
func (c *Cluster) waitReady(ctx context.Context, nodes []*node, timeout time.Duration) error {
	return lifecycle.JoinErrors(c.waitEachReady(ctx, nodes, timeout)...)
}

// waitEachReady is waitReady with one result per node.
func (c *Cluster) waitEachReady(ctx context.Context, nodes []*node, timeout time.Duration) []error {
	ctx, cancel := c.bounded(ctx, timeout)
	defer cancel()
	return lifecycle.Each(nodes, func(n *node) error { return c.waitOneReady(ctx, n) })
}

func (c *Cluster) waitOneReady(ctx context.Context, n *node) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	start := time.Now()
	addr := n.hostAddr
	for {
		actx, cancel := context.WithTimeout(ctx, readyAttempt)
		err := n.role.ReadyFunc()(actx, addr)
		cancel()
		if err == nil {
			n.log.Info("node ready", "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if st, ierr := c.inspect(ctx, n); ierr == nil && !st.Running {
			return c.exitedError(ctx, n, nil)
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return fmt.Errorf("node %s: not ready: %w", n.name, cause)
			}
			return fmt.Errorf("node %s: not ready after %s: %v%s", n.name,
				time.Since(start).Round(time.Millisecond), err, c.logQuote(n))
		case <-tick.C:
		}
	}
}

// exitedError reports a container that stopped on its own, quoting its
// last log lines. st may be nil, then it is looked up.
func (c *Cluster) exitedError(ctx context.Context, n *node, st *container.State) error {
	desc := "stopped"
	if st == nil {
		if in, err := c.eng.ContainerInspect(context.WithoutCancel(ctx), n.id, client.ContainerInspectOptions{}); err == nil {
			st = in.Container.State
		}
	}
	if st != nil {
		desc = fmt.Sprintf("%s, exit code %d", st.Status, st.ExitCode)
		if st.Error != "" {
			desc += ": " + st.Error
		}
	}
	return fmt.Errorf("node %s: container exited before it was ready (%s)%s", n.name, desc, c.logQuote(n))
}

// logQuote returns the last lines the node's container wrote, as a suffix
// for an error message, on one line. It asks the engine, which has every
// line even when the stream into the log file lags.
func (c *Cluster) logQuote(n *node) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := c.eng.ContainerLogs(ctx, n.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(4 * logTailLines),
	})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := stdcopy.StdCopy(&limitWriter{w: &b, n: 64 << 10}, &limitWriter{w: &b, n: 64 << 10}, rc); err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			lines = append(lines, l)
		}
	}
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	if len(lines) == 0 {
		return ""
	}
	return "; last log lines: " + strings.Join(lines, " | ")
}

// stopAll stops every container of the cluster: paused ones are resumed
// first, then each gets SIGTERM and, after StopGrace, SIGKILL. Failures
// are logged; removal follows regardless. The caller holds mu.
func (c *Cluster) stopAll(ctx context.Context) {
	var live []*node
	for _, n := range c.nodes {
		if n.id != "" {
			live = append(live, n)
		}
	}
	grace := int(c.cfg.StopGrace.Round(time.Second) / time.Second)
	if grace < 1 {
		grace = 1
	}
	_ = c.each(ctx, live, func(ctx context.Context, n *node) error {
		actx, cancel := context.WithTimeout(ctx, c.cfg.StopGrace+30*time.Second)
		defer cancel()
		if st, err := c.inspect(actx, n); err == nil && st.Paused {
			if _, err := c.eng.ContainerUnpause(actx, n.id, client.ContainerUnpauseOptions{}); err != nil {
				n.log.Warn("unpause before stop", "err", err)
			}
		}
		if _, err := c.eng.ContainerStop(actx, n.id, client.ContainerStopOptions{Timeout: &grace}); err != nil && !cerrdefs.IsNotFound(err) {
			n.log.Warn("stop container", "err", err)
		}
		return nil
	})
}

// removeRun removes every container and then every network labelled with
// the run's id, the ones the cluster knows and any it lost track of, but
// the reaper (closeReaper ends it).
func (c *Cluster) removeRun(ctx context.Context) []error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	removed, err := removeLabelled(ctx, c.eng, labelFilter(LabelRun, c.cfg.RunID), func(labels map[string]string) bool {
		return labels[LabelFaultline] == "1" && labels[LabelRun] == c.cfg.RunID && labels[LabelReaper] != "1"
	}, nil)
	for _, r := range removed {
		c.log.Debug("removed", "what", r)
	}
	if err != nil {
		return []error{fmt.Errorf("remove run %s: %w", c.cfg.RunID, err)}
	}
	return nil
}
