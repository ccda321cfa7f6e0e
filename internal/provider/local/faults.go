package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/proxylink"
	"github.com/faultline/faultline/nemesis"
)

const (
	// toxicTimeout bounds one change of toxics across the links.
	toxicTimeout = 10 * time.Second
	// reapTimeout bounds the wait for a SIGKILLed process to be reaped.
	reapTimeout = 10 * time.Second
	// linkPoll is the pause between two link checks in HealAll.
	linkPoll = 50 * time.Millisecond
)

// Partition cuts, in both directions, every node-to-node link between a
// node and the nodes its grudge names, by installing a blackhole on both
// proxies of the pair (a->b and b->a); where the grudge names
// nemesis.Clients it cuts the client links of the nodes listed with it. It
// replaces any earlier partition in place: links cut before and not named
// now are restored (their connections are closed, see HealPartition),
// links named in both stay cut undisturbed. Unknown node names are an
// error and change nothing.
func (c *Cluster) Partition(ctx context.Context, g nemesis.Grudge) error {
	if err := c.lockOpen("partition"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	clients, nodes, err := g.Split(func(n string) error {
		_, err := c.node("partition", n)
		return err
	})
	if err != nil {
		return err
	}
	want := map[*proxylink.Link]bool{}
	for _, n := range clients {
		want[c.client[n]] = true
	}
	for a, bs := range nodes {
		for _, b := range bs {
			want[c.pair[[2]string{a, b}]] = true
			want[c.pair[[2]string{b, a}]] = true
		}
	}
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Cut(tctx, c.allLinks(), want, c.cut); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	c.log.Info("partition", "grudge", g, "links_cut", len(c.cut))
	return nil
}

// HealPartition removes the partition toxics from every link and leaves
// latency alone. Toxiproxy closes every connection that was
// blackholed when its toxic goes, so nodes reconnect rather than resume a
// stream with bytes missing. It is idempotent.
func (c *Cluster) HealPartition(ctx context.Context) error {
	if err := c.lockOpen("heal partition"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Apply(tctx, c.allLinks(), func(l *proxylink.Link) error { return proxylink.RemoveToxic(l, proxylink.ToxicPartition) }); err != nil {
		return fmt.Errorf("heal partition: %w", err)
	}
	clear(c.cut)
	c.log.Info("partition healed")
	return nil
}

// SetLatency delays each direction of every link, client and
// node-to-node, by latency ± jitter (uniform, millisecond resolution), so
// a round trip through one link takes about twice latency more. Live
// connections are delayed too. A second call replaces the values in
// place. Negative values and a jitter above the latency are bad input.
func (c *Cluster) SetLatency(ctx context.Context, latency, jitter time.Duration) error {
	if latency < 0 || jitter < 0 || jitter > latency {
		return core.BadInput("latency: want 0 <= jitter <= latency, got %v ± %v", latency, jitter)
	}
	if err := c.lockOpen("latency"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Apply(tctx, c.allLinks(), proxylink.Delay(latency, jitter, proxylink.Upstream, proxylink.Downstream)); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	c.log.Info("latency set", "latency", latency, "jitter", jitter)
	return nil
}

// ClearLatency removes the latency toxics from every link and leaves
// partitions alone. It is idempotent.
func (c *Cluster) ClearLatency(ctx context.Context) error {
	if err := c.lockOpen("clear latency"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	defer cancel()
	if err := proxylink.Apply(tctx, c.allLinks(), func(l *proxylink.Link) error { return proxylink.RemoveToxic(l, proxylink.ToxicLatency) }); err != nil {
		return fmt.Errorf("clear latency: %w", err)
	}
	c.log.Info("latency cleared")
	return nil
}

// Kill sends SIGKILL to a running or paused node's process tree and
// waits until the process is reaped. Killing a node that is neither
// running nor paused fails with nemesis.ErrNodeState.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	if err := c.lockOpen("kill"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("kill", name)
	if err != nil {
		return err
	}
	if st := n.state(); st != stateRunning && st != statePaused {
		return stateError("kill", n, "running or paused")
	}
	if err := c.kill(ctx, n); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	n.log.Info("node killed", "pid", n.proc.pid)
	return nil
}

// kill sends SIGKILL to n's process tree and waits until the process is
// reaped. The caller holds mu.
func (c *Cluster) kill(ctx context.Context, n *nodeProc) error {
	if err := signalTree(n.proc, syscall.SIGKILL); err != nil {
		return err
	}
	n.killed, n.paused = true, false
	// The signal is sent: reaping is part of it even when ctx ends now
	// (a kill at the run's end), so that the node is known killed and a
	// heal restarts it.
	wctx, cancel := c.bounded(context.WithoutCancel(ctx), reapTimeout)
	defer cancel()
	if err := waitExit(wctx, n.proc); err != nil {
		return fmt.Errorf("process %d not reaped: %w", n.proc.pid, err)
	}
	return nil
}

// Restart starts killed (or crashed) nodes again, each with the same
// configuration, addresses and data directory, and waits until every one
// serves requests or ReadyTimeout passes. Restarting a running or paused node
// fails with nemesis.ErrNodeState.
func (c *Cluster) Restart(ctx context.Context, names ...string) error {
	if err := c.lockOpen("restart"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	var nodes []*nodeProc
	for _, name := range names {
		n, err := c.node("restart", name)
		if err != nil {
			return err
		}
		if st := n.state(); st == stateRunning || st == statePaused {
			return stateError("restart", n, "killed or exited")
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := c.startProcess(n); err != nil {
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

// Reset rebuilds a node from nothing: it kills its process tree when it
// runs or is paused, empties its data folder but for targets.ResetMarker,
// runs its Init again and starts it, and waits until it serves requests
// or ReadyTimeout passes.
func (c *Cluster) Reset(ctx context.Context, name string) error {
	if err := c.lockOpen("reset"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("reset", name)
	if err != nil {
		return err
	}
	if st := n.state(); st == stateRunning || st == statePaused {
		if err := c.kill(ctx, n); err != nil {
			return fmt.Errorf("reset %s: %w", name, err)
		}
	}
	if err := lifecycle.EmptyForReset(n.cfg.DataDir); err != nil {
		return fmt.Errorf("reset %s: %w", name, err)
	}
	rctx, cancel := c.bounded(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	if err := c.initNode(rctx, n); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := c.startProcess(n); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := c.waitReady(ctx, []*nodeProc{n}, c.cfg.ReadyTimeout); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	n.log.Info("node reset")
	return nil
}

// Pause sends SIGSTOP to a running node's process tree and returns once
// the kernel reports the process stopped. Pausing a node that is not
// running fails with nemesis.ErrNodeState.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	if err := c.lockOpen("pause"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("pause", name)
	if err != nil {
		return err
	}
	if n.state() != stateRunning {
		return stateError("pause", n, "running")
	}
	if err := signalTree(n.proc, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	n.paused = true
	sctx, cancel := c.bounded(ctx, signalSettle)
	defer cancel()
	if err := waitProcState(sctx, n.proc, stopped); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	n.log.Info("node paused", "pid", n.proc.pid)
	return nil
}

// Resume sends SIGCONT to a paused node's process tree and returns once
// the kernel reports the process running. Resuming a node that is not
// paused fails with nemesis.ErrNodeState.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	if err := c.lockOpen("resume"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node("resume", name)
	if err != nil {
		return err
	}
	if n.state() != statePaused {
		return stateError("resume", n, "paused")
	}
	if err := c.resume(ctx, n); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) resume(ctx context.Context, n *nodeProc) error {
	if err := signalTree(n.proc, syscall.SIGCONT); err != nil {
		return err
	}
	n.paused = false
	sctx, cancel := c.bounded(ctx, signalSettle)
	defer cancel()
	if err := waitProcState(sctx, n.proc, func(s byte) bool { return !stopped(s) }); err != nil {
		return err
	}
	n.log.Info("node resumed", "pid", n.proc.pid)
	return nil
}

// HealAll resumes paused nodes, restarts killed or crashed ones, removes
// every toxic from every link, and then verifies, polling until
// ReadyTimeout: every proxy is running with no toxic, every node process is
// alive and not stopped, every node answers Target.Ready, and every link's
// proxy and upstream accept connections. It returns an error wrapping
// nemesis.ErrNotHealed that names everything still faulty. It is idempotent.
func (c *Cluster) HealAll(ctx context.Context) error {
	if err := c.lockOpen("heal all"); err != nil {
		return err
	}
	defer c.mu.Unlock()
	var problems []string
	for _, n := range c.nodes {
		if n.state() == statePaused {
			if err := c.resume(ctx, n); err != nil {
				problems = append(problems, fmt.Sprintf("resume %s: %v", n.name, err))
			}
		}
	}
	for _, n := range c.nodes {
		if n.killed && n.proc != nil && !n.proc.exited() {
			// Killed, not reaped yet (a kill cut short): let it go first.
			wctx, cancel := c.bounded(ctx, reapTimeout)
			if err := waitExit(wctx, n.proc); err != nil {
				problems = append(problems, fmt.Sprintf("node %s killed but not reaped: %v", n.name, err))
			}
			cancel()
		}
		switch n.state() {
		case stateKilled, stateExited, stateDown:
			if err := c.startProcess(n); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	links := c.allLinks()
	tctx, cancel := c.bounded(ctx, toxicTimeout)
	err := proxylink.Apply(tctx, links, func(l *proxylink.Link) error {
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
	clear(c.cut)

	// Verify.
	for k, err := range c.waitEachReady(ctx, c.nodes, c.cfg.ReadyTimeout) {
		if err != nil {
			problems = append(problems, err.Error())
		} else if p := c.nodes[k].processProblem(); p != "" {
			problems = append(problems, p)
		}
	}
	problems = append(problems, c.checkLinks(ctx, links)...)
	if c.life.Err() != nil {
		return fmt.Errorf("heal all: %w", nemesis.ErrClosed)
	}
	if len(problems) > 0 {
		err := fmt.Errorf("%w: %s", nemesis.ErrNotHealed, strings.Join(problems, "; "))
		c.log.Warn("heal incomplete", "err", err)
		return err
	}
	c.log.Info("all faults healed and verified")
	return nil
}

// processProblem says what is wrong with n's process, or "" when it is
// alive and not stopped.
func (n *nodeProc) processProblem() string {
	if st := n.state(); st != stateRunning {
		return fmt.Sprintf("node %s: process %s", n.name, st)
	}
	st, err := procState(n.proc.pid)
	switch {
	case err != nil:
		return fmt.Sprintf("node %s: process %d: %v", n.name, n.proc.pid, err)
	case stopped(st):
		return fmt.Sprintf("node %s: process %d stopped", n.name, n.proc.pid)
	case st == 'Z' || st == 'X':
		return fmt.Sprintf("node %s: process %d dead", n.name, n.proc.pid)
	}
	return ""
}

// checkLinks polls every link until none has a problem or ReadyTimeout
// passes, and returns the problems left.
func (c *Cluster) checkLinks(ctx context.Context, links []*proxylink.Link) []string {
	ctx, cancel := c.bounded(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(linkPoll)
	defer tick.Stop()
	var last []string // problems of the last complete round
	for {
		var mu sync.Mutex
		found := map[*proxylink.Link]string{}
		err := proxylink.Apply(ctx, links, func(l *proxylink.Link) error {
			if p := proxylink.Problem(ctx, l, "upstream", l.Upstream()); p != "" {
				mu.Lock()
				found[l] = p
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			// The round did not finish: report what the last one found.
			if last == nil {
				last = []string{"check links: " + err.Error()}
			}
			return last
		}
		mu.Lock()
		last = last[:0:0]
		var bad []*proxylink.Link
		for _, l := range links {
			if p, ok := found[l]; ok {
				last = append(last, fmt.Sprintf("link %s: %s", l.Name, p))
				bad = append(bad, l)
			}
		}
		mu.Unlock()
		if len(last) == 0 {
			return nil
		}
		links = bad
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}
