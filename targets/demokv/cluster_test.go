package demokv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/ports"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
)

// freeAddr reserves a port on 127.0.0.1 for a node to bind, outside the
// kernel's ephemeral range, so that no outgoing connection takes it while
// the node is down between a kill and a restart. It is released when the
// test ends.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := ports.Reserve(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Release(p) })
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p[0]))
}

// testLogger writes warnings to the test's output until the test ends, and
// nothing afterwards.
func testLogger(t *testing.T) *slog.Logger {
	w := &gatedWriter{w: t.Output()}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type gatedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	g.w = nil
	g.mu.Unlock()
}

// cluster runs the nodes of one demo-kv cluster in this process.
type cluster struct {
	t     *testing.T
	log   *slog.Logger
	names []string
	cfgs  []targets.NodeConfig
	stops []func() error // per node; nil when stopped
}

func newCluster(t *testing.T, variant string, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, log: testLogger(t)}
	for i := range n {
		c.names = append(c.names, fmt.Sprintf("n%d", i+1))
	}
	for _, name := range c.names {
		c.cfgs = append(c.cfgs, targets.NodeConfig{
			Target: Name, Variant: variant, Name: name, Nodes: c.names, SpecNodes: n, Role: RoleKV,
			APIAddr: freeAddr(t), PeerAddr: freeAddr(t), DataDir: t.TempDir(),
		})
	}
	for i := range c.cfgs {
		c.cfgs[i].Peers = map[string]string{}
		for j, other := range c.cfgs {
			if i != j {
				c.cfgs[i].Peers[other.Name] = other.PeerAddr
			}
		}
	}
	c.stops = make([]func() error, n)
	t.Cleanup(func() {
		for i := range c.stops {
			if c.stops[i] != nil {
				c.stop(i)
			}
		}
	})
	return c
}

func (c *cluster) apiAddrs() []string {
	var out []string
	for _, cfg := range c.cfgs {
		out = append(out, cfg.APIAddr)
	}
	return out
}

// start runs node i until stop(i).
func (c *cluster) start(i int) {
	c.t.Helper()
	if c.stops[i] != nil {
		c.t.Fatalf("%s already running", c.names[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- RunNode(ctx, c.cfgs[i], c.log.With("node", c.names[i])) }()
	c.stops[i] = func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("node did not stop within 15s")
		}
	}
}

// stop cancels node i and waits for RunNode to return; it must return nil.
func (c *cluster) stop(i int) {
	c.t.Helper()
	err := c.stops[i]()
	c.stops[i] = nil
	if err != nil {
		c.t.Errorf("stop %s: %v", c.names[i], err)
	}
}

func (c *cluster) startAll() {
	for i := range c.cfgs {
		c.start(i)
	}
}

// eventually is testenv.Eventually for a cond that answers "" when done
// and otherwise what it sees instead.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	testenv.Eventually(t, timeout, what, func() error {
		if last := cond(); last != "" {
			return fmt.Errorf("still %s", last)
		}
		return nil
	})
}

// waitReady polls Ready on node i until it returns nil.
func (c *cluster) waitReady(i int) {
	c.t.Helper()
	eventually(c.t, 15*time.Second, c.names[i]+" ready", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := Ready(ctx, c.cfgs[i].APIAddr); err != nil {
			return err.Error()
		}
		return ""
	})
}

func (c *cluster) client(first int) *Client {
	c.t.Helper()
	cl, err := Target{}.NewClient(clientConfig(c.cfgs[0].Variant, c.names, c.apiAddrs(), first))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl.(*Client)
}

func invoke(cl *Client, f, key string, v any) core.Op {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: f, Key: key, Value: v})
}

// invokeWant invokes the operation and requires the given type. It tries
// again (at most 500 tries, 15s) after a "not leader" or connection fail,
// which move the client to another node, and after an info, which a busy
// machine can cause (a leader that steps down): an info cas counts as ok if
// the key then holds its new value.
func invokeWant(t *testing.T, cl *Client, want core.Type, f, key string, v any) core.Op {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for try := 0; ; try++ {
		op := invoke(cl, f, key, v)
		if op.Type == core.Info && f == "cas" {
			cas := v.([2]int64)
			if now := invokeWant(t, cl, core.OK, "read", key, nil); now.Value == cas[1] && cas[0] != cas[1] {
				op.Type, op.Error = core.OK, ""
			}
		}
		retry := op.Type == core.Info ||
			op.Type == core.Fail && (strings.HasPrefix(op.Error, "not leader") || strings.HasPrefix(op.Error, "dial:"))
		if !retry {
			if op.Type != want {
				t.Fatalf("%s %s %v: got %s (%s) from %s, want %s", f, key, v, op.Type, op.Error, op.Node, want)
			}
			return op
		}
		if try >= 500 || time.Now().After(deadline) {
			t.Fatalf("%s %s %v: still %s %q after %d tries", f, key, v, op.Type, op.Error, try+1)
		}
		if !strings.HasPrefix(op.Error, "not leader; leader is") { // else straight to the leader
			time.Sleep(30 * time.Millisecond)
		}
	}
}

// wantRead reads key and requires the value want (nil or int64).
func wantRead(t *testing.T, cl *Client, key string, want any) core.Op {
	t.Helper()
	op := invokeWant(t, cl, core.OK, "read", key, nil)
	if op.Value != want {
		t.Fatalf("read %s from %s = %v (%T), want %v", key, op.Node, op.Value, op.Value, want)
	}
	return op
}

// leaderOf returns the name of the node that serves a read for a client
// that starts at node i: in the safe variant, the leader.
func (c *cluster) leaderOf(i int) string {
	c.t.Helper()
	op := invokeWant(c.t, c.client(i), core.OK, "read", "leader-probe", nil)
	return op.Node
}

func TestUnsafeReadWriteCASAndReplication(t *testing.T) {
	c := newCluster(t, VariantUnsafe, 3)
	c.startAll()
	for i := range c.cfgs {
		c.waitReady(i)
	}
	cl := c.client(0)
	wantRead(t, cl, "k", nil)
	if op := invokeWant(t, cl, core.OK, "write", "k", int64(1)); op.Node != "n1" {
		t.Fatalf("write answered by %s, want n1", op.Node)
	}
	wantRead(t, cl, "k", int64(1))
	invokeWant(t, cl, core.OK, "cas", "k", [2]int64{1, 2})
	if op := invokeWant(t, cl, core.Fail, "cas", "k", [2]int64{1, 3}); op.Error != "cas mismatch" {
		t.Fatalf("failed cas error = %q", op.Error)
	}
	invokeWant(t, cl, core.Fail, "cas", "absent", [2]int64{0, 1})
	wantRead(t, cl, "k", int64(2))

	// Replication reaches the other nodes eventually.
	for i := 1; i < 3; i++ {
		other := c.client(i)
		eventually(t, 10*time.Second, c.names[i]+" reads 2", func() string {
			op := invokeWant(t, other, core.OK, "read", "k", nil)
			if op.Node != c.names[i] {
				t.Fatalf("read answered by %s, want %s", op.Node, c.names[i])
			}
			if op.Value != int64(2) {
				return fmt.Sprintf("%v", op.Value)
			}
			return ""
		})
	}
}

func TestUnsafeRestartKeepsData(t *testing.T) {
	c := newCluster(t, VariantUnsafe, 3)
	c.startAll()
	c.waitReady(0)
	cl := c.client(0)
	for v := range int64(20) {
		invokeWant(t, cl, core.OK, "write", fmt.Sprintf("k%d", v%4), v)
	}
	invokeWant(t, cl, core.OK, "cas", "k3", [2]int64{19, 100})
	// Stop every node so that nothing can come back from a peer.
	for i := range c.cfgs {
		c.stop(i)
	}
	c.start(0)
	c.waitReady(0)
	cl = c.client(0)
	for k, want := range map[string]int64{"k0": 16, "k1": 17, "k2": 18, "k3": 100} {
		wantRead(t, cl, k, want)
	}
}

// TestUnsafeStaleRead shows the anomaly the unsafe variant exists for: with
// n1's replication links failing, a write acknowledged by n1 is not seen by
// n2.
func TestUnsafeStaleRead(t *testing.T) {
	c := newCluster(t, VariantUnsafe, 3)
	// n1's links to its peers lead to a listener that drops every
	// connection and counts them.
	var attempts atomic.Int64
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() {
		for {
			conn, err := sink.Accept()
			if err != nil {
				return
			}
			attempts.Add(1)
			conn.Close()
		}
	}()
	for peer := range c.cfgs[0].Peers {
		c.cfgs[0].Peers[peer] = sink.Addr().String()
	}
	c.startAll()
	for i := range c.cfgs {
		c.waitReady(i)
	}
	n1, n2 := c.client(0), c.client(1)

	// n2 → n1 still works: n1 learns k=1.
	invokeWant(t, n2, core.OK, "write", "k", int64(1))
	eventually(t, 10*time.Second, "n1 sees n2's write", func() string {
		if op := invokeWant(t, n1, core.OK, "read", "k", nil); op.Value != int64(1) {
			return fmt.Sprintf("%v", op.Value)
		}
		return ""
	})

	// n1 acknowledges k=2, tries to replicate it and fails.
	invokeWant(t, n1, core.OK, "write", "k", int64(2))
	eventually(t, 10*time.Second, "n1 tries to replicate", func() string {
		if attempts.Load() == 0 {
			return "no attempt"
		}
		return ""
	})
	wantRead(t, n1, "k", int64(2))
	if op := wantRead(t, n2, "k", int64(1)); op.Node != "n2" {
		t.Fatalf("stale read answered by %s, want n2", op.Node)
	}
}

func TestSafeReadWriteCAS(t *testing.T) {
	c := newCluster(t, VariantSafe, 3)
	c.startAll()
	for i := range c.cfgs {
		c.waitReady(i)
	}
	leader := c.leaderOf(0)
	li := slices.Index(c.names, leader)
	if li < 0 {
		t.Fatalf("leader %q is not a node", leader)
	}
	follower := (li + 1) % 3

	cl := c.client(li)
	wantRead(t, cl, "k", nil)
	invokeWant(t, cl, core.OK, "write", "k", int64(1))
	invokeWant(t, cl, core.OK, "cas", "k", [2]int64{1, 2})
	if op := invokeWant(t, cl, core.Fail, "cas", "k", [2]int64{1, 3}); op.Error != "cas mismatch" {
		t.Fatalf("failed cas error = %q", op.Error)
	}
	invokeWant(t, cl, core.Fail, "cas", "absent", [2]int64{0, 1})
	wantRead(t, cl, "absent", nil)
	wantRead(t, cl, "k", int64(2))

	// A follower refuses without applying, names the leader, and the
	// client moves there.
	// If leadership moves in between (a busy machine), try again.
	eventually(t, 15*time.Second, "a follower refuses a write", func() string {
		fc := c.client(follower)
		op := invoke(fc, "write", "k", int64(99))
		if op.Type == core.Fail && op.Node == c.names[follower] && op.Error == "not leader; leader is "+leader {
			if op := wantRead(t, fc, "k", int64(2)); op.Node != leader {
				t.Fatalf("after the hint the client asked %s, want %s", op.Node, leader)
			}
			return ""
		}
		if op.Type != core.Fail {
			invokeWant(t, cl, core.OK, "write", "k", int64(2))
		}
		leader = c.leaderOf(0)
		li = slices.Index(c.names, leader)
		follower = (li + 1) % 3
		return fmt.Sprintf("%+v", op)
	})

	// Every node's client reads the latest acknowledged write.
	invokeWant(t, cl, core.OK, "write", "k", int64(3))
	for i := range c.cfgs {
		wantRead(t, c.client(i), "k", int64(3))
	}
}

func TestSafeLeaderStopAndRestart(t *testing.T) {
	c := newCluster(t, VariantSafe, 3)
	c.startAll()
	for i := range c.cfgs {
		c.waitReady(i)
	}
	cl := c.client(0)
	invokeWant(t, cl, core.OK, "write", "k", int64(1))
	old := c.leaderOf(0)
	oi := slices.Index(c.names, old)
	c.stop(oi)

	// The other two elect a new leader and keep serving.
	survivor := (oi + 1) % 3
	c.waitReady(survivor)
	sc := c.client(survivor)
	wantRead(t, sc, "k", int64(1))
	if op := invokeWant(t, sc, core.OK, "write", "k", int64(2)); op.Node == old {
		t.Fatalf("write answered by the stopped leader %s", old)
	}

	// The old leader rejoins with its data directory and catches up.
	c.start(oi)
	c.waitReady(oi)
	wantRead(t, c.client(oi), "k", int64(2))
	invokeWant(t, sc, core.OK, "cas", "k", [2]int64{2, 3})

	// Stop everything; after a full restart the data is still there.
	for i := range c.cfgs {
		c.stop(i)
	}
	c.startAll()
	for i := range c.cfgs {
		c.waitReady(i)
	}
	for i := range c.cfgs {
		wantRead(t, c.client(i), "k", int64(3))
	}
}

// TestSafeMinorityRefuses runs one node of three alone: it never learns a
// leader, so it is not ready and refuses writes as a definite fail.
func TestSafeMinorityRefuses(t *testing.T) {
	c := newCluster(t, VariantSafe, 3)
	c.start(0)
	eventually(t, 10*time.Second, "n1 answers its health check", func() string {
		err := Ready(context.Background(), c.cfgs[0].APIAddr)
		if err == nil {
			t.Fatal("a lone node of three says it is ready")
		}
		if !errors.Is(err, ErrNotReady) {
			return err.Error()
		}
		return ""
	})
	op := invoke(c.client(0), "write", "k", int64(1))
	if op.Type != core.Fail || op.Error != "not leader" || op.Node != "n1" {
		t.Fatalf("write to a lone node: %+v", op)
	}
}
