package compose

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/netfilter"
	"github.com/faultline/faultline/nemesis"
)

// rulesFor returns the rules the fault state asks of n: every address of
// each peer it is cut from, the controller's address when the clients are
// cut from it, and every peer's addresses as lossy while loss is on. The
// caller holds mu.
func (c *Cluster) rulesFor(n *node) netfilter.Rules {
	var r netfilter.Rules
	for _, p := range netfilter.CutPeers(netfilter.CutPairs(c.grudge), c.names, n.name) {
		r.Cut = append(r.Cut, c.byName[p].ips...)
	}
	if c.clientCut[n.name] {
		r.Cut = append(r.Cut, c.controller)
	}
	if c.loss > 0 {
		r.Loss = c.loss
		for _, p := range c.nodes {
			if p != n {
				r.Lossy = append(r.Lossy, p.ips...)
			}
		}
	}
	return r
}

// syncRules replaces the content of n's chains with the rules the fault
// state asks of it, in one transaction, and checks the rule counts. A
// killed node only notes that it is stale. The caller holds mu.
func (c *Cluster) syncRules(ctx context.Context, n *node) error {
	if n.killed {
		n.stale = true
		return nil
	}
	if err := netfilter.Install(c.rulesFor(n), func(env []string, script string) (string, error) {
		res, err := c.shell(ctx, n, env, script)
		return res.Stdout, err
	}); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.stale = false
	return nil
}

// syncAll brings every node that is not killed in line with the fault
// state, all at once. The caller holds mu.
func (c *Cluster) syncAll(ctx context.Context) error {
	return c.each(ctx, c.nodes, c.syncRules)
}

// up lists the nodes that are not killed. The caller holds mu.
func (c *Cluster) up() []*node {
	var out []*node
	for _, n := range c.nodes {
		if !n.killed {
			out = append(out, n)
		}
	}
	return out
}

// Partition cuts, in both directions, the links between each node and the
// nodes its grudge names: each node of a cut pair drops every packet from
// and to every address of the other (iptables DROP in its FAULTLINE chain,
// installed through its helper; a killed node gets its rules when it
// restarts, the other side's rules cut the pair meanwhile). Where the
// grudge names nemesis.Clients, the nodes it lists drop every packet from
// and to the controller's address instead (cluster.json's "controller":
// the clients' connections, and anything else coming from that address).
// It replaces any earlier partition in place, each node's rules in one
// transaction. Then it verifies, with TCP connections from inside every
// node that is not killed to each peer and from the controller to each
// node, that every cut link drops traffic and every other link carries it
// (the second check is skipped while packet loss is on). Unknown node
// names are an error and change nothing.
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
	c.grudge = want
	c.clientCut = map[string]bool{}
	for _, n := range clients {
		c.clientCut[n] = true
	}
	start := time.Now()
	if err := c.syncAll(ctx); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if err := c.verifyLinks(ctx, c.loss == 0); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	c.log.Info("partition", "grudge", g, "after", time.Since(start).Round(time.Millisecond))
	return nil
}

// HealPartition empties every node's FAULTLINE chain, leaving loss alone,
// and verifies that every link between nodes that are not killed, and
// from the controller to each, carries traffic again (unless packet loss
// is on). It is idempotent.
func (c *Cluster) HealPartition(ctx context.Context) error {
	if err := c.lockOpen("heal partition"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.grudge, c.clientCut = nil, map[string]bool{}
	start := time.Now()
	if err := c.syncAll(ctx); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	if err := c.verifyLinks(ctx, c.loss == 0); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	c.log.Info("partition healed", "after", time.Since(start).Round(time.Millisecond))
	return nil
}

// verifyLinks probes every link and returns an error wrapping
// nemesis.ErrNotApplied when a cut link carries traffic or, with
// strictOpen, a link that is not cut drops it. The caller holds mu.
func (c *Cluster) verifyLinks(ctx context.Context, strictOpen bool) error {
	if ps := c.linkProblems(ctx, strictOpen); len(ps) > 0 {
		return fmt.Errorf("%w: %s", nemesis.ErrNotApplied, strings.Join(ps, "; "))
	}
	return nil
}

// linkProblems probes, from inside each node that is not killed, every
// other node that is not killed, and from the controller every node that
// is not killed, and lists (sorted) each link whose state differs from
// the fault state. The caller holds mu.
func (c *Cluster) linkProblems(ctx context.Context, strictOpen bool) []string {
	cut := netfilter.CutPairs(c.grudge)
	var mu sync.Mutex
	var problems []string
	add := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	up := c.up()
	_ = c.each(ctx, up, func(ctx context.Context, a *node) error {
		var targets []netfilter.Target
		for _, b := range up {
			if b == a {
				continue
			}
			targets = append(targets, netfilter.Target{Peer: b.name, Addr: netip.AddrPortFrom(b.ip, uint16(b.probePort)).String()})
		}
		ps, ok := netfilter.CheckLinks(a.name, targets, cut, strictOpen, probeShort, probeLong,
			func(addrs []string, timeout time.Duration) (map[string]netfilter.ProbeOutcome, error) {
				return c.probe(ctx, a, addrs, timeout)
			})
		mu.Lock()
		problems = append(problems, ps...)
		mu.Unlock()
		if !ok {
			return nil
		}
		// The clients' link, from the controller.
		wantCut := c.clientCut[a.name]
		switch open := reach(ctx, a, probeShort); {
		case wantCut && open:
			add("clients->%s carries traffic across the partition", a.name)
		case !wantCut && !open && strictOpen && !reach(ctx, a, probeLong):
			add("clients->%s drops traffic but is not cut", a.name)
		}
		return nil
	})
	slices.Sort(problems)
	return problems
}

// probe tries a TCP connection from inside a's network namespace (its
// helper) to each target at once. A probe gets its full time even near
// the caller's deadline (it ends when Close begins).
func (c *Cluster) probe(ctx context.Context, a *node, targets []string, timeout time.Duration) (map[string]netfilter.ProbeOutcome, error) {
	pctx, cancel := c.bounded(context.WithoutCancel(ctx), timeout+execTimeout)
	defer cancel()
	return docker.Probe(pctx, c.eng, a.helper.id, targets, timeout)
}

// SetLoss makes every node drop each packet it receives from a peer (any
// of its addresses) with probability fraction (iptables statistic match
// in its FAULTLINE_LOSS chain), so each direction of each node-to-node
// link loses that share. Client links are not affected. A second call
// replaces the fraction in place. A fraction outside (0, 1] is bad input.
func (c *Cluster) SetLoss(ctx context.Context, fraction float64) error {
	if !(fraction > 0 && fraction <= 1) {
		return core.BadInput("loss: want a fraction above 0 and at most 1, got %v", fraction)
	}
	if err := c.lockOpen("loss"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.loss = fraction
	if err := c.syncAll(ctx); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	c.log.Info("loss set", "fraction", fraction)
	return nil
}

// ClearLoss empties every node's FAULTLINE_LOSS chain and leaves
// partitions alone. It is idempotent.
func (c *Cluster) ClearLoss(ctx context.Context) error {
	if err := c.lockOpen("clear loss"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	c.loss = 0
	if err := c.syncAll(ctx); err != nil {
		return fmt.Errorf("clear loss: %w", err)
	}
	c.log.Info("loss cleared")
	return nil
}

// state is the engine's view of a node's container: docker.State, when
// it started, its health, and its addresses.
type state struct {
	docker.State
	startedAt string
	health    string // "" without a healthcheck
	ip        netip.Addr
	ips       []netip.Addr
}

// inspect returns the engine's view of n's container.
func (c *Cluster) inspect(ctx context.Context, n *node) (state, error) {
	ds, in, err := docker.InspectNode(ctx, c.eng, n.id, n.name)
	if err != nil {
		return state{}, err
	}
	st := in.State
	f := describe(in)
	s := state{State: ds, startedAt: st.StartedAt, ip: f.networks[c.network], ips: f.ips()}
	if st.Health != nil && n.health {
		s.health = string(st.Health.Status)
	}
	return s, nil
}

// waitState polls n's container until ok accepts its state, ctx ends or
// d passes.
func (c *Cluster) waitState(ctx context.Context, n *node, d time.Duration, ok func(state) bool) (state, error) {
	ctx, cancel := c.bounded(ctx, d)
	defer cancel()
	return docker.WaitState(ctx, n.name, func(ctx context.Context) (state, error) { return c.inspect(ctx, n) }, ok)
}

// stateError reports a fault that does not apply to a node's state.
func stateError(op string, n *node, st state, want string) error {
	return lifecycle.StateError(op, n.name, st, want)
}

// Kill sends SIGKILL to a running or paused node's container through the
// engine (a paused one is thawed after the signal, so it dies without
// running again) and waits until the engine reports it stopped. Its
// network namespace, and the rules in it, go with it. Killing a node that
// is not running fails with nemesis.ErrNodeState.
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
	if _, err := c.eng.ContainerKill(actx, n.id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	if st.Paused {
		// The signal waits for the thaw; an error means it died already.
		_, _ = c.eng.ContainerUnpause(actx, n.id, client.ContainerUnpauseOptions{})
	}
	n.killed, n.paused, n.stale = true, false, true
	if _, err := c.waitState(ctx, n, stateTimeout, func(s state) bool { return !s.Running || s.startedAt != st.startedAt }); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	n.log.Info("node killed")
	return nil
}

// Restart starts killed (or exited) nodes' containers again through the
// engine, one after another in the order of their old addresses (the
// engine hands out the lowest free address, so each tends to get its own
// back), gives each a new helper in its new network namespace with the
// fault state in place, and waits until every one runs and, where it has
// a healthcheck, is healthy, or ReadyTimeout passes. When a node comes
// back at another address the other nodes' rules follow, and Restart
// returns an error saying so: clients given the old address no longer
// reach it. A node that its own restart policy started again already is
// taken as it is. Restarting a node that runs in the namespace the run
// knows fails with nemesis.ErrNodeState.
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
		if st.Running && st.startedAt == n.startedAt {
			return stateError("restart", n, st, "killed or exited")
		}
		nodes = append(nodes, n)
	}
	if err := c.restart(ctx, nodes); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// restart starts nodes again (see Restart) and waits until they are
// ready. The caller holds mu.
func (c *Cluster) restart(ctx context.Context, nodes []*node) error {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b *node) int { return cmp.Or(a.ip.Compare(b.ip), strings.Compare(a.name, b.name)) })
	var moved []string
	var errs, after []error
	var started []*node
	for _, n := range nodes {
		oldIP := n.ip
		if err := c.startNode(ctx, n); err != nil {
			// Go on with the others: each left stopped is one more fault.
			errs = append(errs, err)
			continue
		}
		started = append(started, n)
		if n.ip != oldIP {
			moved = append(moved, fmt.Sprintf("%s came back at %s, not %s", n.name, n.ip, oldIP))
		}
	}
	if len(moved) > 0 {
		// The other nodes' rules name the old addresses.
		errs = append(errs, c.syncAll(ctx), c.writeLayout())
		after = append(after, fmt.Errorf("%s: clients given the old address no longer reach it", strings.Join(moved, "; ")))
	}
	errs = append(errs, c.waitReady(ctx, started))
	return lifecycle.JoinErrors(append(errs, after...)...)
}

// startNode starts n's container when it is not running, waits until the
// engine reports it running, learns its addresses, gives it a helper in
// its new namespace with the fault state in place, and removes its old
// helpers. The caller holds mu.
func (c *Cluster) startNode(ctx context.Context, n *node) error {
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	st, err := c.inspect(actx, n)
	if err != nil {
		return err
	}
	if !st.Running {
		// A start runs to its end even when ctx ends: a container the
		// engine started is one the run knows it started.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		_, err := c.eng.ContainerStart(dctx, n.id, client.ContainerStartOptions{})
		cancel()
		if err != nil {
			return fmt.Errorf("start node %s: %w", n.name, err)
		}
	}
	if st, err = c.waitState(ctx, n, stateTimeout, func(s state) bool { return s.Running && !s.Paused && s.ip.IsValid() }); err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	n.killed, n.paused = false, false
	n.ip, n.ips, n.startedAt = st.ip, st.ips, st.startedAt
	c.streamLogs(n, time.Now().Add(-time.Second))
	if err := c.makeHelper(ctx, n); err != nil {
		return err
	}
	if err := c.syncRules(ctx, n); err != nil {
		return err
	}
	if err := c.dropOld(ctx, n); err != nil {
		return err
	}
	if err := c.writeLayout(); err != nil {
		return err
	}
	n.log.Info("node started", "ip", n.ip)
	return nil
}

// waitReady waits until every node of nodes runs, unpaused, with an
// address on the project network and, where it has a healthcheck, healthy,
// within ReadyTimeout. The caller holds mu.
func (c *Cluster) waitReady(ctx context.Context, nodes []*node) error {
	ctx, cancel := c.bounded(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			start := time.Now()
			_, err := c.waitState(ctx, n, c.cfg.ReadyTimeout, func(s state) bool {
				return s.Running && !s.Paused && s.ip.IsValid() && (!n.health || s.health == string(container.Healthy))
			})
			if err != nil {
				errs[i] = fmt.Errorf("node %s: not ready after %s: %w", n.name, time.Since(start).Round(time.Millisecond), err)
				return
			}
			n.log.Info("node ready", "after", time.Since(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
	return lifecycle.JoinErrors(errs...)
}

// Pause freezes a running node's container (the engine's cgroup freezer)
// and returns once the engine reports it paused. Its helper keeps
// serving, so rules change in a paused node too. Pausing a node that is
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
	if _, err := c.waitState(ctx, n, stateTimeout, func(s state) bool { return s.Paused }); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	n.log.Info("node paused")
	return nil
}

// Resume thaws a paused node's container and returns once the engine
// reports it running. Resuming a node that is not paused fails with
// nemesis.ErrNodeState.
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

// resume thaws n. The caller holds mu.
func (c *Cluster) resume(ctx context.Context, n *node) error {
	actx, cancel := c.bounded(ctx, apiTimeout)
	defer cancel()
	if _, err := c.eng.ContainerUnpause(actx, n.id, client.ContainerUnpauseOptions{}); err != nil {
		return err
	}
	n.paused = false
	if _, err := c.waitState(ctx, n, stateTimeout, func(s state) bool { return s.Running && !s.Paused }); err != nil {
		return err
	}
	n.log.Info("node resumed")
	return nil
}

// HealAll resumes paused nodes, starts stopped ones again (as Restart
// does), empties every node's chains, and then verifies, polling until
// ReadyTimeout: every node's container runs, unpaused, healthy where it has
// a healthcheck; no node's chains hold a rule; every link between nodes,
// and from the controller to each node, carries traffic. It returns an
// error wrapping nemesis.ErrNotHealed that names everything still faulty.
// The chains themselves stay until Close. It is idempotent.
func (c *Cluster) HealAll(ctx context.Context) error {
	if err := c.lockOpen("heal all"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	start := time.Now()
	var problems []string
	c.grudge, c.clientCut, c.loss = nil, map[string]bool{}, 0
	var down []*node
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
		case !st.Running || st.startedAt != n.startedAt:
			n.killed = true
			down = append(down, n)
		}
	}
	if len(down) > 0 {
		if err := c.restart(ctx, down); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if err := c.syncAll(ctx); err != nil {
		problems = append(problems, err.Error())
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
// returns the problems of the last whole round. The caller holds mu.
func (c *Cluster) checkHealed(ctx context.Context) []string {
	ctx, cancel := c.bounded(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	return lifecycle.PollProblems(ctx, 2*poll, c.healProblems)
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
		case n.health && st.health != string(container.Healthy):
			note(n, fmt.Sprintf("node %s is %s, not healthy", n.name, st.health))
			return nil
		}
		res, err := c.exec(ctx, n, nil, "sh", "-c", netfilter.StateScript)
		if err != nil {
			note(n, fmt.Sprintf("node %s: check rules: %v", n.name, err))
			return nil
		}
		p, l, err := netfilter.ParseCounts(res.Stdout)
		switch {
		case err != nil:
			note(n, fmt.Sprintf("node %s: check rules: %v", n.name, err))
		case p != 0 || l != 0:
			note(n, fmt.Sprintf("node %s: %d partition and %d loss rules left", n.name, p, l))
		}
		return nil
	})
	problems := slices.Sorted(maps.Values(found))
	if len(problems) > 0 {
		return problems
	}
	return c.linkProblems(ctx, true)
}
