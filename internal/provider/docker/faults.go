package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/netfilter"
	"github.com/faultline/faultline/internal/provider/proxylink"
	"github.com/faultline/faultline/nemesis"
)

const (
	// probeShort is how long a probe across a link waits for a connection.
	// Nodes share one bridge, so a link that carries traffic connects in
	// well under a millisecond; a dropped one never does.
	probeShort = 250 * time.Millisecond
	// probeLong is the second chance of a link that should carry traffic
	// but did not connect within probeShort (a busy machine).
	probeLong = 3 * time.Second
	// healPoll is the pause between two verification rounds of HealAll.
	healPoll = 100 * time.Millisecond
)

// live reports whether n's network namespace can take commands now: its
// container runs and is not paused. The caller holds mu.
func (n *node) live() bool { return n.id != "" && !n.killed && !n.paused }

// liveNodes lists the live nodes. The caller holds mu.
func (c *Cluster) liveNodes() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.live() {
			out = append(out, n)
		}
	}
	return out
}

// stateError reports a fault that does not apply to a node's state.
func stateError(op string, n *node, st State, want string) error {
	return lifecycle.StateError(op, n.name, st, want)
}

// setup creates n's chains and the jumps to them. The caller holds mu.
func (c *Cluster) setup(ctx context.Context, n *node) error {
	if _, err := c.shell(ctx, n, nil, netfilter.SetupScript); err != nil {
		return fmt.Errorf("node %s: set up iptables chains: %w", n.name, err)
	}
	return nil
}

// rulesFor returns the rules the fault state asks of n. The caller holds
// mu.
func (c *Cluster) rulesFor(n *node) netfilter.Rules {
	var r netfilter.Rules
	for _, p := range netfilter.CutPeers(netfilter.CutPairs(c.grudge), c.names, n.name) {
		if ip := c.byName[p].ip; ip.IsValid() {
			r.Cut = append(r.Cut, ip)
		}
	}
	if c.loss > 0 {
		r.Loss = c.loss
		for _, p := range c.nodes {
			if p != n && p.ip.IsValid() {
				r.Lossy = append(r.Lossy, p.ip)
			}
		}
	}
	return r
}

// syncRules replaces the content of n's chains with the rules the fault
// state asks of it, in one transaction, and checks the rule counts. The
// caller holds mu.
func (c *Cluster) syncRules(ctx context.Context, n *node) error {
	if err := netfilter.Install(c.rulesFor(n), func(env []string, script string) (string, error) {
		res, err := c.shell(ctx, n, env, script)
		return res.Stdout, err
	}); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	return nil
}

// syncNetem installs or removes n's netem qdisc as the latency state asks.
// The caller holds mu.
func (c *Cluster) syncNetem(ctx context.Context, n *node) error {
	switch {
	case c.latency.on && c.latency.netem:
		res, err := c.exec(ctx, n, nil, netemArgs(c.latency.latency, c.latency.jitter)...)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit status %d: %s", res.ExitCode, oneLine(res.Stderr))
		}
		if err != nil {
			return fmt.Errorf("node %s: tc netem: %w", n.name, err)
		}
	case c.netem.ok:
		// Deleting a root qdisc that is not there fails; that is fine.
		if _, err := c.shell(ctx, n, nil, "tc qdisc del dev eth0 root 2>/dev/null || true"); err != nil {
			return fmt.Errorf("node %s: remove netem: %w", n.name, err)
		}
	}
	return nil
}

// syncNode brings n fully in line with the fault state. The caller holds
// mu.
func (c *Cluster) syncNode(ctx context.Context, n *node) error {
	if err := c.syncRules(ctx, n); err != nil {
		return err
	}
	if err := c.syncNetem(ctx, n); err != nil {
		return err
	}
	n.stale = false
	return nil
}

// syncLive runs sync on every live node at once and marks the others
// stale. The caller holds mu.
func (c *Cluster) syncLive(ctx context.Context, sync func(context.Context, *node) error) error {
	for _, n := range c.nodes {
		if !n.live() {
			n.stale = true
		}
	}
	return c.each(ctx, c.liveNodes(), sync)
}

// syncStale brings every live stale node in line. The caller holds mu.
func (c *Cluster) syncStale(ctx context.Context) error {
	var stale []*node
	for _, n := range c.liveNodes() {
		if n.stale {
			stale = append(stale, n)
		}
	}
	return c.each(ctx, stale, c.syncNode)
}

// Partition cuts, in both directions, the node-to-node links between each
// node and the nodes its grudge names: every node of a cut pair drops all
// packets from and to the other (iptables DROP in the FAULTLINE chain of
// its network namespace; a paused or killed node gets its rules when it
// resumes or restarts, the other side's rules cut the pair meanwhile).
// Where the grudge names nemesis.Clients, the client proxies of the nodes
// listed with it are blackholed instead. It replaces any earlier partition
// in place, each node's rules in one transaction. Then it verifies from inside every
// running node, with a TCP connection to each peer's peer port, that
// every cut link drops traffic and every other link carries it (the
// second check is skipped while packet loss is on). Unknown node names
// are an error and change nothing.
func (c *Cluster) Partition(ctx context.Context, g nemesis.Grudge) error {
	if err := c.lockOpen("partition"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	clients, want, err := g.Split(func(n string) error {
		_, err := c.node("partition", n)
		return err
	})
	if err != nil {
		return err
	}
	clientCut := map[*proxylink.Link]bool{}
	for _, n := range clients {
		clientCut[c.byName[n].link] = true
	}
	c.grudge = want
	start := time.Now()
	if err := c.cutClients(ctx, clientCut); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if err := c.syncLive(ctx, c.syncRules); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if err := c.verifyLinks(ctx, netfilter.CutPairs(c.grudge), c.loss == 0); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	c.log.Info("partition", "grudge", g, "pairs_cut", len(netfilter.CutPairs(c.grudge)), "after", time.Since(start).Round(time.Millisecond))
	return nil
}

// HealPartition empties every node's FAULTLINE chain, leaving loss and
// latency alone, and verifies that every link between running nodes
// carries traffic again (unless packet loss is on). TCP connections that
// were cut resume. It is idempotent.
func (c *Cluster) HealPartition(ctx context.Context) error {
	if err := c.lockOpen("heal partition"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.grudge = nil
	start := time.Now()
	if err := c.cutClients(ctx, nil); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	if err := c.syncLive(ctx, c.syncRules); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	if err := c.verifyLinks(ctx, nil, c.loss == 0); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	c.log.Info("partition healed", "after", time.Since(start).Round(time.Millisecond))
	return nil
}

// verifyLinks probes every link from each live node to each other node
// that is not killed and returns an error wrapping nemesis.ErrNotApplied when a
// pair in cut carries traffic or, with strictOpen, when a pair not in cut
// drops it. The caller holds mu.
func (c *Cluster) verifyLinks(ctx context.Context, cut map[[2]string]bool, strictOpen bool) error {
	if ps := c.linkProblems(ctx, cut, strictOpen); len(ps) > 0 {
		return fmt.Errorf("%w: %s", nemesis.ErrNotApplied, strings.Join(ps, "; "))
	}
	return nil
}

// linkProblems is verifyLinks' list of problems, sorted.
func (c *Cluster) linkProblems(ctx context.Context, cut map[[2]string]bool, strictOpen bool) []string {
	var mu sync.Mutex
	var problems []string
	_ = c.each(ctx, c.liveNodes(), func(ctx context.Context, a *node) error {
		var targets []netfilter.Target
		for _, b := range c.nodes {
			if b == a || b.killed || !b.ip.IsValid() {
				continue
			}
			targets = append(targets, netfilter.Target{Peer: b.name, Addr: fmt.Sprintf("%s:%d", b.ip, peerPort(b.role))})
		}
		ps, _ := netfilter.CheckLinks(a.name, targets, cut, strictOpen, probeShort, probeLong,
			func(addrs []string, timeout time.Duration) (map[string]netfilter.ProbeOutcome, error) {
				return c.probe(ctx, a, addrs, timeout)
			})
		mu.Lock()
		problems = append(problems, ps...)
		mu.Unlock()
		return nil
	})
	slices.Sort(problems)
	return problems
}

// probe tries a TCP connection from inside a to each target at once. A
// probe gets its full time even near the caller's deadline (it ends when
// Close begins), so that its answer is the link's state, not the
// deadline's.
func (c *Cluster) probe(ctx context.Context, a *node, targets []string, timeout time.Duration) (map[string]netfilter.ProbeOutcome, error) {
	pctx, cancel := c.bounded(context.WithoutCancel(ctx), timeout+execTimeout)
	defer cancel()
	return Probe(pctx, c.eng, a.id, targets, timeout)
}

// SetLatency delays traffic by latency ± jitter (uniform). Where the
// kernel has the netem qdisc (checked with tc on the first call), every
// node delays every packet it sends (so each direction of each
// node-to-node link, and each reply to a client, is delayed once) and the
// client proxies delay each request. Where it has not, only the client
// proxies delay traffic, in both directions, and node-to-node links are
// not delayed; the log says so and FaultMechanism("latency") tells which
// was used. A second call replaces the values in place. Negative values
// and a jitter above the latency are bad input.
func (c *Cluster) SetLatency(ctx context.Context, latency, jitter time.Duration) error {
	if latency < 0 || jitter < 0 || jitter > latency {
		return core.BadInput("latency: want 0 <= jitter <= latency, got %v ± %v", latency, jitter)
	}
	if err := c.lockOpen("latency"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if !c.netem.checked {
		live := c.liveNodes()
		if len(live) == 0 {
			return errors.New("latency: no running node to check for netem")
		}
		res, err := c.exec(ctx, live[0], nil, netemArgs(latency, jitter)...)
		if err != nil {
			return fmt.Errorf("latency: check for netem in %s: %w", live[0].name, err)
		}
		if res.ExitCode == 0 {
			c.netem = netemCapability{checked: true, ok: true}
		} else if why, missing := netemMissing(res); missing {
			c.netem = netemCapability{checked: true, reason: why}
		} else {
			return fmt.Errorf("latency: tc netem in %s: exit status %d: %s", live[0].name, res.ExitCode, oneLine(res.Stderr))
		}
	}
	c.latency = latencyState{on: true, latency: latency, jitter: jitter, netem: c.netem.ok}
	streams := []string{proxylink.Upstream, proxylink.Downstream}
	if c.netem.ok {
		streams = []string{proxylink.Upstream}
		if err := c.syncLive(ctx, c.syncNetem); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		c.via["latency"] = "tc netem on every node (node-to-node traffic and replies to clients) and the client proxies (requests)"
	} else {
		c.via["latency"] = "client proxies only, both directions; node-to-node links are not delayed: " + c.netem.reason
	}
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Apply(tctx, c.links(), proxylink.Delay(latency, jitter, streams...)); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if c.netem.ok {
		c.log.Info("latency set", "latency", latency, "jitter", jitter, "via", c.via["latency"])
	} else {
		c.log.Warn("latency set on client links only", "latency", latency, "jitter", jitter, "via", c.via["latency"])
	}
	return nil
}

// ClearLatency removes the latency toxics from every client proxy and the
// netem qdisc from every node, and leaves partitions and loss alone. It is
// idempotent.
func (c *Cluster) ClearLatency(ctx context.Context) error {
	if err := c.lockOpen("clear latency"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	was := c.latency
	c.latency = latencyState{}
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Apply(tctx, c.links(), func(l *proxylink.Link) error { return proxylink.RemoveToxic(l, proxylink.ToxicLatency) }); err != nil {
		return fmt.Errorf("clear latency: %w", err)
	}
	if was.netem {
		if err := c.syncLive(ctx, c.syncNetem); err != nil {
			return fmt.Errorf("clear latency: %w", err)
		}
	}
	c.log.Info("latency cleared")
	return nil
}

// SetLoss makes every node drop each packet it receives from a peer with
// probability fraction (iptables statistic match in its FAULTLINE_LOSS
// chain), so each direction of each node-to-node link loses that share.
// Client links are not affected. A second call replaces the fraction in
// place. A fraction outside (0, 1] is bad input.
func (c *Cluster) SetLoss(ctx context.Context, fraction float64) error {
	if !(fraction > 0 && fraction <= 1) {
		return core.BadInput("loss: want a fraction above 0 and at most 1, got %v", fraction)
	}
	if err := c.lockOpen("loss"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.loss = fraction
	if err := c.syncLive(ctx, c.syncRules); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	c.log.Info("loss set", "fraction", fraction)
	return nil
}

// ClearLoss empties every node's FAULTLINE_LOSS chain and leaves
// partitions and latency alone. It is idempotent.
func (c *Cluster) ClearLoss(ctx context.Context) error {
	if err := c.lockOpen("clear loss"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.loss = 0
	if err := c.syncLive(ctx, c.syncRules); err != nil {
		return fmt.Errorf("clear loss: %w", err)
	}
	c.log.Info("loss cleared")
	return nil
}

// Kill sends SIGKILL to a running or paused node's container (a paused
// one is thawed after the signal, so it dies without running again) and
// waits until the engine reports it stopped. Killing a node that is not
// running fails with nemesis.ErrNodeState.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	if err := c.lockOpen("kill"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("kill", name)
	if err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	st, err := c.inspect(actx, n)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	if !st.Running {
		return stateError("kill", n, st, "running or paused")
	}
	if err := c.kill(ctx, actx, n, st); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	n.log.Info("node killed")
	return nil
}

// kill sends SIGKILL to n's running container, in state st, thawing it
// when paused, and waits until the engine reports it stopped; actx bounds
// the engine's requests. The caller holds mu.
func (c *Cluster) kill(ctx, actx context.Context, n *node, st State) error {
	if _, err := c.eng.ContainerKill(actx, n.id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return err
	}
	if st.Paused {
		// The signal waits for the thaw; an error means it died already.
		_, _ = c.eng.ContainerUnpause(actx, n.id, client.ContainerUnpauseOptions{})
	}
	n.killed, n.paused, n.stale = true, false, true
	_, err := c.waitState(ctx, n, func(s State) bool { return !s.Running })
	return err
}

// Restart starts killed (or exited) nodes' containers again, each with the
// same configuration and data, reinstalls the faults in place in their new
// network namespaces, and waits until every one serves requests or
// ReadyTimeout passes. A restarted container may get another address on the run's
// network and another published port; the other nodes' rules and its
// client proxy follow. Restarting a running or paused node fails with
// nemesis.ErrNodeState.
func (c *Cluster) Restart(ctx context.Context, names ...string) error {
	if err := c.lockOpen("restart"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	var nodes []*node
	for _, name := range names {
		n, err := c.node("restart", name)
		if err != nil {
			return err
		}
		actx, cancel := c.bounded(ctx, apiTimeout)
		st, err := c.inspect(actx, n)
		cancel()
		if err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		if st.Running {
			return stateError("restart", n, st, "killed or exited")
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := c.startContainer(ctx, n); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	// Wait for all at once: nodes that need each other (a quorum) become
	// ready together.
	if err := c.waitReady(ctx, nodes, c.cfg.ReadyTimeout); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// Reset rebuilds a node from nothing: it kills its container when it runs
// (thawing a paused one), empties its data folder (a folder of the run
// folder, bound into the container) but for targets.ResetMarker, starts
// the container again, so that its Init runs again, and waits until it
// serves requests or ReadyTimeout passes. Emptying the folder needs the
// right to remove what the server's account wrote there: root's, on most
// hosts.
func (c *Cluster) Reset(ctx context.Context, name string) error {
	if err := c.lockOpen("reset"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("reset", name)
	if err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	st, err := c.inspect(actx, n)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if st.Running {
		if err := c.kill(ctx, actx, n, st); err != nil {
			return fmt.Errorf("reset %s: %w", name, err)
		}
	}
	if err := lifecycle.EmptyForReset(filepath.Join(n.dir, "data")); err != nil {
		return fmt.Errorf("reset %s: %w", name, err)
	}
	if err := c.startContainer(ctx, n); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := c.waitReady(ctx, []*node{n}, c.cfg.ReadyTimeout); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	n.log.Info("node reset")
	return nil
}

// Pause freezes a running node's container (the engine's cgroup freezer)
// and returns once the engine reports it paused. Pausing a node that is
// not running, or already paused, fails with nemesis.ErrNodeState.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	if err := c.lockOpen("pause"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("pause", name)
	if err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	st, err := c.inspect(actx, n)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if !st.Running || st.Paused {
		return stateError("pause", n, st, "running")
	}
	if _, err := c.eng.ContainerPause(actx, n.id, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	n.paused = true
	if _, err := c.waitState(ctx, n, func(s State) bool { return s.Paused }); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	n.log.Info("node paused")
	return nil
}

// Resume thaws a paused node's container, returns once the engine reports
// it running, and then installs any fault state it missed while paused.
// Resuming a node that is not paused fails with nemesis.ErrNodeState.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	if err := c.lockOpen("resume"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("resume", name)
	if err != nil {
		return err
	}
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	st, err := c.inspect(actx, n)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if !st.Paused {
		return stateError("resume", n, st, "paused")
	}
	if err := c.resume(ctx, n); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}

// resume thaws n and brings it in line with the fault state. The caller
// holds mu.
func (c *Cluster) resume(ctx context.Context, n *node) error {
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	if _, err := c.eng.ContainerUnpause(actx, n.id, client.ContainerUnpauseOptions{}); err != nil {
		return err
	}
	n.paused = false
	if _, err := c.waitState(ctx, n, func(s State) bool { return s.Running && !s.Paused }); err != nil {
		return err
	}
	if n.stale {
		if err := c.syncNode(ctx, n); err != nil {
			return err
		}
	}
	n.log.Info("node resumed")
	return nil
}

// HealAll resumes paused containers, restarts stopped ones, empties every
// node's FAULTLINE chains, removes every netem qdisc and proxy toxic, and
// then verifies, polling until ReadyTimeout: every container is running
// and not paused, no node has a FAULTLINE rule or a netem qdisc, every
// node answers Target.Ready, every link between nodes carries traffic
// (probed from inside each node), and every client proxy and published
// port accepts connections. It returns an error wrapping nemesis.ErrNotHealed
// that names everything still faulty. It is idempotent.
func (c *Cluster) HealAll(ctx context.Context) error {
	if err := c.lockOpen("heal all"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	start := time.Now()
	var problems []string
	c.grudge, c.loss, c.latency = nil, 0, latencyState{}
	for _, n := range c.nodes {
		actx, cancel := c.bounded(ctx, apiTimeout)
		st, err := c.inspect(actx, n)
		cancel()
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case st.Paused:
			n.paused = true
			if err := c.resume(ctx, n); err != nil {
				problems = append(problems, fmt.Sprintf("resume %s: %v", n.name, err))
			}
		case !st.Running:
			n.killed = true
		}
	}
	for _, n := range c.nodes {
		if n.killed {
			if err := c.startContainer(ctx, n); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if err := c.each(ctx, c.liveNodes(), func(ctx context.Context, n *node) error {
		if err := c.setup(ctx, n); err != nil {
			return err
		}
		return c.syncNode(ctx, n)
	}); err != nil {
		problems = append(problems, err.Error())
	}
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	err := proxylink.Apply(tctx, c.links(), func(l *proxylink.Link) error {
		if err := l.Proxy.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return fmt.Errorf("restart proxy: %w", err)
		}
		l.Proxy.Toxics.ResetToxics(context.Background())
		return nil
	})
	cancel()
	if err != nil {
		problems = append(problems, "remove toxics: "+err.Error())
	}
	clear(c.clientCut)

	// Verify.
	for _, err := range c.waitEachReady(ctx, c.nodes, c.cfg.ReadyTimeout) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	problems = append(problems, c.checkHealed(ctx)...)
	if c.life.Err() != nil {
		return fmt.Errorf("heal all: %w", nemesis.ErrClosed)
	}
	if len(problems) > 0 {
		err := fmt.Errorf("%w: %s", nemesis.ErrNotHealed, strings.Join(problems, "; "))
		c.log.Warn("heal incomplete", "err", err)
		return err
	}
	c.log.Info("all faults healed and verified", "after", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkHealed polls until no fault is left or ReadyTimeout passes, and
// returns the problems of the last round. The caller holds mu.
func (c *Cluster) checkHealed(ctx context.Context) []string {
	ctx, cancel := c.bounded(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	return lifecycle.PollProblems(ctx, healPoll, c.healProblems)
}

// healProblems checks once everything HealAll promises. The caller holds
// mu.
func (c *Cluster) healProblems(ctx context.Context) []string {
	var mu sync.Mutex
	found := map[string]string{}
	note := func(n *node, p string) {
		mu.Lock()
		found[n.name] = p
		mu.Unlock()
	}
	_ = c.each(ctx, c.nodes, func(ctx context.Context, n *node) error {
		st, err := c.inspect(ctx, n)
		switch {
		case err != nil:
			note(n, err.Error())
			return nil
		case st.Paused || !st.Running:
			note(n, fmt.Sprintf("node %s is %s", n.name, st))
			return nil
		}
		res, err := c.exec(ctx, n, nil, "sh", "-c", netfilter.StateScript)
		if err != nil {
			note(n, fmt.Sprintf("node %s: check rules: %v", n.name, err))
			return nil
		}
		p, l, err := netfilter.ParseCounts(res.Stdout)
		q, qerr := parseNetem(res.Stdout)
		switch {
		case err != nil || qerr != nil:
			note(n, fmt.Sprintf("node %s: check rules: %v", n.name, errors.Join(err, qerr)))
		case p != 0 || l != 0:
			note(n, fmt.Sprintf("node %s: %d partition and %d loss rules left", n.name, p, l))
		case q != 0:
			note(n, fmt.Sprintf("node %s: netem qdisc left", n.name))
		}
		if n.link != nil {
			if p := proxylink.Problem(ctx, n.link, "published port", n.hostAddr); p != "" {
				mu.Lock()
				found[n.link.Name] = fmt.Sprintf("link %s: %s", n.link.Name, p)
				mu.Unlock()
			}
		}
		return nil
	})
	problems := slices.Sorted(maps.Values(found))
	if len(problems) > 0 {
		return problems
	}
	return c.linkProblems(ctx, nil, true)
}
