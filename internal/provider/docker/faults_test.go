package docker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/netfilter"
	"github.com/faultline/faultline/nemesis"
)

// wantDropped returns the ordered pairs "a->b" that g cuts, sorted.
func wantDropped(g nemesis.Grudge) []string {
	var out []string
	for p := range netfilter.CutPairs(g) {
		out = append(out, p[0]+"->"+p[1], p[1]+"->"+p[0])
	}
	slices.Sort(out)
	return out
}

func TestPartitionEveryShape(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 5, "")
	nodes := c.Nodes()
	if got := reachability(t, c, nodes); len(got) > 0 {
		t.Fatalf("links dropped before any fault: %v", got)
	}
	shapes := []struct {
		name string
		g    nemesis.Grudge
	}{
		{nemesis.ShapeHalves, nemesis.Halves(nodes)},
		{nemesis.ShapeIsolate, nemesis.Isolate(nodes, "n3")},
		{nemesis.ShapeMajoritiesRing, nemesis.MajoritiesRing(nodes)},
		{nemesis.ShapeBridge, nemesis.Bridge(nodes)},
	}
	for _, s := range shapes {
		// Each shape replaces the one before in place.
		begin := time.Now()
		if err := c.Partition(t.Context(), s.g); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Logf("%s applied and verified in %v", s.name, time.Since(begin).Round(time.Millisecond))
		want := wantDropped(s.g)
		if got := reachability(t, c, nodes); !slices.Equal(got, want) {
			t.Errorf("%s: dropped %v, want %v", s.name, got, want)
		}
		for _, n := range nodes {
			rules := chainRules(t, c, n, netfilter.ChainPartition)
			if want := 2 * len(netfilter.CutPeers(netfilter.CutPairs(s.g), nodes, n)); len(rules) != want {
				t.Errorf("%s: %s has %d rules, want %d: %v", s.name, n, len(rules), want, rules)
			}
		}
	}
	begin := time.Now()
	if err := c.HealPartition(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("healed and verified in %v", time.Since(begin).Round(time.Millisecond))
	if got := reachability(t, c, nodes); len(got) > 0 {
		t.Errorf("links dropped after heal: %v", got)
	}
	for _, n := range nodes {
		if rules := chainRules(t, c, n, netfilter.ChainPartition); len(rules) > 0 {
			t.Errorf("%s keeps rules after heal: %v", n, rules)
		}
	}
	// Heal is idempotent; bad grudges change nothing.
	if err := c.HealPartition(t.Context()); err != nil {
		t.Errorf("second heal: %v", err)
	}
	if err := c.Partition(t.Context(), nemesis.Grudge{"n1": {"n9"}}); !errors.Is(err, nemesis.ErrUnknownNode) {
		t.Errorf("grudge with an unknown node: %v", err)
	}
	if err := c.Partition(t.Context(), nemesis.Grudge{"n1": {"n1"}}); err == nil {
		t.Error("grudge naming a node itself was accepted")
	}
	if got := reachability(t, c, nodes); len(got) > 0 {
		t.Errorf("links dropped after rejected grudges: %v", got)
	}
}

func TestPartitionStopsReplication(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 3, "")
	n1, _ := c.HostAPIAddr("n1")
	n2, _ := c.HostAPIAddr("n2")
	w, r := newKV(n1, 5*time.Second), newKV(n2, 5*time.Second)
	seen := func(v int64) func() bool {
		return func() bool { got, err := r.read("k"); return err == nil && got == v }
	}
	if err := w.write("k", 1); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, seen(1)) {
		t.Fatal("the write never replicated before the partition")
	}
	if err := c.Partition(t.Context(), nemesis.Isolate(c.Nodes(), "n1")); err != nil {
		t.Fatal(err)
	}
	if err := w.write("k", 2); err != nil {
		t.Fatalf("clients still reach an isolated node: %v", err)
	}
	// The replication attempt times out after half a second and is
	// dropped; three seconds cover it with room.
	if eventually(3*time.Second, seen(2)) {
		t.Fatal("a write replicated across the partition")
	}
	if err := c.HealPartition(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := w.write("k", 3); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, seen(3)) {
		t.Fatal("replication did not resume after the heal")
	}
}

func TestPauseAndResume(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 3, "")
	proxy := newKV(c.ClientAddrs()[1], time.Second)
	if _, err := proxy.read("k"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := c.Pause(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("paused in %v", time.Since(begin).Round(time.Millisecond))
	id, _ := c.ContainerID("n2")
	in, err := eng.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil || !in.Container.State.Paused {
		t.Fatalf("engine does not see n2 paused: %v", err)
	}
	if _, err := proxy.read("k"); err == nil || !isTimeout(err) {
		t.Errorf("a paused node answered: %v", err)
	}
	if _, err := newKV(c.ClientAddrs()[0], 5*time.Second).read("k"); err != nil {
		t.Errorf("n1 stopped serving while n2 is paused: %v", err)
	}
	if err := c.Pause(t.Context(), "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("pausing a paused node: %v", err)
	}
	// A partition while n2 is frozen: the others' rules cut it now, and
	// n2 gets its own when it resumes.
	g := nemesis.Isolate(c.Nodes(), "n2")
	if err := c.Partition(t.Context(), g); err != nil {
		t.Fatalf("partition with a paused node: %v", err)
	}
	begin = time.Now()
	if err := c.Resume(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed in %v", time.Since(begin).Round(time.Millisecond))
	if rules := chainRules(t, c, "n2", netfilter.ChainPartition); len(rules) != 4 {
		t.Errorf("n2 after resume has partition rules %v, want 4", rules)
	}
	if got, want := reachability(t, c, c.Nodes()), wantDropped(g); !slices.Equal(got, want) {
		t.Errorf("after resume dropped %v, want %v", got, want)
	}
	if err := c.HealPartition(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { _, err := proxy.read("k"); return err == nil }) {
		t.Error("n2 does not answer after resume")
	}
	if err := c.Resume(t.Context(), "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("resuming a running node: %v", err)
	}
	if err := c.Pause(t.Context(), "n7"); !errors.Is(err, nemesis.ErrUnknownNode) {
		t.Errorf("pausing an unknown node: %v", err)
	}
}

func TestKillAndRestart(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 3, "")
	proxy := newKV(c.ClientAddrs()[1], 2*time.Second)
	if err := proxy.write("k", 7); err != nil {
		t.Fatal(err)
	}
	// A partition in place when the node dies is back when it restarts.
	if err := c.Partition(t.Context(), nemesis.Isolate(c.Nodes(), "n2")); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := c.Kill(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed in %v", time.Since(begin).Round(time.Millisecond))
	id, _ := c.ContainerID("n2")
	in, err := eng.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil || in.Container.State.Running {
		t.Fatalf("engine sees n2 running after Kill: %v", err)
	}
	if in.Container.State.ExitCode != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL)", in.Container.State.ExitCode)
	}
	if _, err := proxy.read("k"); err == nil {
		t.Error("a killed node answered")
	}
	if err := c.Kill(t.Context(), "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("killing a killed node: %v", err)
	}
	if err := c.Pause(t.Context(), "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("pausing a killed node: %v", err)
	}
	begin = time.Now()
	if err := c.Restart(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted and ready in %v", time.Since(begin).Round(time.Millisecond))
	proxy = newKV(c.ClientAddrs()[1], 2*time.Second) // the same address
	if v, err := proxy.read("k"); err != nil || v != 7 {
		t.Errorf("after restart n2 reads %d, %v; want 7 (its data survives)", v, err)
	}
	if rules := chainRules(t, c, "n2", netfilter.ChainPartition); len(rules) != 4 {
		t.Errorf("restarted n2 has partition rules %v, want 4", rules)
	}
	if got, want := reachability(t, c, c.Nodes()), wantDropped(nemesis.Isolate(c.Nodes(), "n2")); !slices.Equal(got, want) {
		t.Errorf("after restart dropped %v, want %v", got, want)
	}
	if err := c.Restart(t.Context(), "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("restarting a running node: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(c.cfg.Dir, "nodes", "n2", "node.log"))
	if k := strings.Count(string(b), startBanner); k != 2 {
		t.Errorf("n2's log shows %d starts, want 2", k)
	}
	if k := strings.Count(string(b), "node starting"); k != 2 {
		t.Errorf("n2's log holds %d node starts, want 2 (one per container start, no repeats)", k)
	}
	if err := c.HealAll(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// connectShare makes count TCP connections from inside node from to node
// to's peer port, batch at a time, each given wait, and returns the share
// that got an answer.
func connectShare(t *testing.T, c *Cluster, from, to string, count, batch int, wait time.Duration) float64 {
	t.Helper()
	ip, _ := c.IP(to)
	id, _ := c.ContainerID(from)
	script := fmt.Sprintf(`ok=0
for b in $(seq %d); do
  for i in $(seq %d); do ( timeout %.2f bash -c 'echo > /dev/tcp/%s/%d' 2>/dev/null; echo $? ) & done | grep -c '^0$' || true
done`, count/batch, batch, wait.Seconds(), ip, PeerPort)
	res, err := Exec(t.Context(), c.eng, id, nil, "bash", "-c", script)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("connect from %s: %v %s", from, err, res.Stderr)
	}
	ok := 0
	for _, f := range strings.Fields(res.Stdout) {
		k, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("connect output %q", res.Stdout)
		}
		ok += k
	}
	return float64(ok) / float64(count/batch*batch)
}

func TestLossDropsAShare(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 3, "")
	const count, batch, wait = 200, 25, 300 * time.Millisecond
	if s := connectShare(t, c, "n1", "n2", count, batch, wait); s < 0.98 {
		t.Fatalf("only %.0f%% of connections answered before any fault", 100*s)
	}
	begin := time.Now()
	if err := c.SetLoss(t.Context(), 0.5); err != nil {
		t.Fatal(err)
	}
	t.Logf("loss set in %v", time.Since(begin).Round(time.Millisecond))
	for _, n := range c.Nodes() {
		rules := chainRules(t, c, n, netfilter.ChainLoss)
		if len(rules) != 2 || !strings.Contains(rules[0], "statistic") || !strings.Contains(rules[0], "0.5") {
			t.Errorf("%s loss rules %v", n, rules)
		}
	}
	// A connection needs the SYN through the peer's INPUT and the answer
	// through ours, each kept with probability 0.5: a quarter get through
	// before the first retransmission (one second).
	s := connectShare(t, c, "n1", "n2", count, batch, wait)
	t.Logf("with loss 0.5, %.1f%% of %d connections answered within %v (expected 25%%)", 100*s, count, wait)
	if s < 0.10 || s > 0.45 {
		t.Errorf("share answered %.2f, want about 0.25", s)
	}
	// Client links are not lossy.
	for range 20 {
		if _, err := newKV(c.ClientAddrs()[1], 2*time.Second).read("k"); err != nil {
			t.Fatalf("client link lossy: %v", err)
		}
	}
	if err := c.SetLoss(t.Context(), 1.5); err == nil {
		t.Error("loss 1.5 accepted")
	}
	begin = time.Now()
	if err := c.ClearLoss(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("loss cleared in %v", time.Since(begin).Round(time.Millisecond))
	for _, n := range c.Nodes() {
		if rules := chainRules(t, c, n, netfilter.ChainLoss); len(rules) > 0 {
			t.Errorf("%s keeps loss rules: %v", n, rules)
		}
	}
	if s := connectShare(t, c, "n1", "n2", count, batch, wait); s < 0.98 {
		t.Errorf("only %.0f%% of connections answered after ClearLoss", 100*s)
	}
	// Through the nemesis fault, the value says how.
	v, err := (&nemesis.Loss{Fraction: 0.2}).Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lv := v.(nemesis.LossValue); lv.Fraction != 0.2 || !strings.Contains(lv.Via, "statistic") {
		t.Errorf("loss value %+v", lv)
	}
	if _, err := (&nemesis.Loss{}).Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

// roundTrip times one read through addr.
func roundTrip(t *testing.T, addr string) time.Duration {
	t.Helper()
	begin := time.Now()
	if _, err := newKV(addr, 10*time.Second).read("k"); err != nil {
		t.Fatal(err)
	}
	return time.Since(begin)
}

func TestLatency(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 2, "")
	addr := c.ClientAddrs()[0]
	if d := roundTrip(t, addr); d > 200*time.Millisecond {
		t.Fatalf("a read took %v before any fault", d)
	}
	f := &nemesis.Latency{Latency: 150 * time.Millisecond}
	begin := time.Now()
	v, err := f.Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("latency set in %v", time.Since(begin).Round(time.Millisecond))
	lv := v.(nemesis.LatencyValue)
	t.Logf("latency via: %s", lv.Via)
	if lv.Via == "" || lv.Via != c.FaultMechanism("latency") {
		t.Errorf("latency value %+v, mechanism %q", lv, c.FaultMechanism("latency"))
	}
	if !c.netem.ok && !strings.Contains(lv.Via, "netem") {
		t.Errorf("the fallback does not say netem is missing: %q", lv.Via)
	}
	// Request and answer are each delayed once, by the proxy or by netem.
	if d := roundTrip(t, addr); d < 280*time.Millisecond {
		t.Errorf("a read took %v under 150ms latency, want at least 300ms", d)
	}
	if c.netem.ok {
		// Node to node too: a connection from inside takes a round trip.
		if probeFromInside(t.Context(), t, c, "n1", "n2", 200*time.Millisecond) {
			t.Error("a node-to-node connection was not delayed by netem")
		}
	}
	begin = time.Now()
	if _, err := f.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	t.Logf("latency cleared in %v", time.Since(begin).Round(time.Millisecond))
	if d := roundTrip(t, addr); d > 200*time.Millisecond {
		t.Errorf("a read took %v after the latency was cleared", d)
	}
	if err := c.SetLatency(t.Context(), time.Millisecond, time.Second); err == nil {
		t.Error("jitter above latency accepted")
	}
}

func TestHealAllHealsEverything(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 3, "")
	ctx := t.Context()
	for _, step := range []func() error{
		func() error { return c.Partition(ctx, nemesis.Isolate(c.Nodes(), "n1")) },
		func() error { return c.SetLoss(ctx, 0.3) },
		func() error { return c.SetLatency(ctx, 100*time.Millisecond, 10*time.Millisecond) },
		func() error { return c.Pause(ctx, "n2") },
		func() error { return c.Kill(ctx, "n3") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	if err := c.HealAll(ctx); err != nil {
		t.Fatalf("HealAll: %v", err)
	}
	t.Logf("healed everything and verified in %v", time.Since(begin).Round(time.Millisecond))
	for _, n := range c.Nodes() {
		id, _ := c.ContainerID(n)
		in, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil || !in.Container.State.Running || in.Container.State.Paused {
			t.Errorf("%s not running after HealAll: %v", n, err)
		}
		for _, chain := range []string{netfilter.ChainPartition, netfilter.ChainLoss} {
			if rules := chainRules(t, c, n, chain); len(rules) > 0 {
				t.Errorf("%s keeps %s rules: %v", n, chain, rules)
			}
		}
	}
	if got := reachability(t, c, c.Nodes()); len(got) > 0 {
		t.Errorf("links dropped after HealAll: %v", got)
	}
	for _, a := range c.ClientAddrs() {
		if d := roundTrip(t, a); d > 200*time.Millisecond {
			t.Errorf("a read through %s took %v after HealAll", a, d)
		}
	}
	if err := c.HealAll(ctx); err != nil {
		t.Errorf("second HealAll: %v", err)
	}
}

func TestHealAllReportsWhatItCannotHeal(t *testing.T) {
	eng := engine(t)
	c := startCluster(t, eng, 2, "")
	// A rule the cluster did not make, in its chain.
	id, _ := c.ContainerID("n1")
	ip, _ := c.IP("n2")
	res, err := Exec(t.Context(), eng, id, nil, "sh", "-c", fmt.Sprintf(
		"iptables -w 5 -A %s -s %s -j DROP && iptables -w 5 -A INPUT -s %s -j DROP", netfilter.ChainPartition, ip, ip))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("add rules: %v %s", err, res.Stderr)
	}
	// HealAll empties its own chain, and notices the link still dropped
	// by the rule outside it.
	c.cfg.ReadyTimeout = 3 * time.Second
	err = c.HealAll(t.Context())
	if !errors.Is(err, nemesis.ErrNotHealed) || !strings.Contains(err.Error(), "n1->n2") {
		t.Fatalf("HealAll: %v, want nemesis.ErrNotHealed naming n1->n2", err)
	}
	t.Logf("HealAll: %v", err)
	if rules := chainRules(t, c, "n1", netfilter.ChainPartition); len(rules) > 0 {
		t.Errorf("HealAll left %v", rules)
	}
}

// scopedEngine shows Cleanup only the labelled objects of one run (and
// any unlabelled object, which the engine's filter hides anyway): the
// engine may hold other tests' objects, labelled faultline=1 too, which a
// cleanup must not pull from under them while they run.
type scopedEngine struct {
	Engine
	runID string
}

func (s scopedEngine) visible(labels map[string]string) bool {
	return labels[LabelFaultline] != "1" || labels[LabelRun] == s.runID
}

func (s scopedEngine) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	res, err := s.Engine.ContainerList(ctx, o)
	res.Items = slices.DeleteFunc(res.Items, func(c container.Summary) bool { return !s.visible(c.Labels) })
	return res, err
}

func (s scopedEngine) NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	res, err := s.Engine.NetworkList(ctx, o)
	res.Items = slices.DeleteFunc(res.Items, func(n network.Summary) bool { return !s.visible(n.Labels) })
	return res, err
}

func TestCleanupRemovesLabelledLeftoversOnly(t *testing.T) {
	eng := engine(t)
	// A run whose controller died: started, never closed.
	cfg := testConfig(t, eng, 2, "")
	crashed, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A container without the label, on the default network.
	img := image(t)
	name := "faultline-unlabelled-" + strconv.FormatUint(rand.Uint64(), 36)
	ct, err := eng.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name: name, Image: img,
		Config: &container.Config{Cmd: []string{"sleep", "300"}, Labels: map[string]string{"faultline.test": "unlabelled"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.ContainerRemove(context.Background(), ct.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := eng.ContainerStart(t.Context(), ct.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	removed, err := Cleanup(t.Context(), scopedEngine{Engine: eng, runID: cfg.RunID}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Cleanup removed %v", removed)
	want := []string{"container faultline-" + cfg.RunID + "-n1", "container faultline-" + cfg.RunID + "-n2",
		"container faultline-" + cfg.RunID + "-reaper", "network faultline-" + cfg.RunID}
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if k := strings.Count(out.String(), "removed "); k != len(want) {
		t.Errorf("output %q", out.String())
	}
	checkNothingLeft(t, eng, cfg.RunID)
	in, err := eng.ContainerInspect(t.Context(), ct.ID, client.ContainerInspectOptions{})
	if err != nil || !in.Container.State.Running {
		t.Errorf("the unlabelled container is gone or stopped: %v", err)
	}
	// The abandoned cluster still closes cleanly.
	if err := crashed.Close(t.Context()); err != nil {
		t.Errorf("Close after Cleanup: %v", err)
	}
	if _, err := eng.ContainerRemove(t.Context(), ct.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Errorf("remove the unlabelled container: %v", err)
	}
}
