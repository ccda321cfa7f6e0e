package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/nemesis"
)

// shortWait is how long a request waits before a test calls it cut off.
// A request that should succeed gets okWait, far more than it needs.
const (
	shortWait = 300 * time.Millisecond
	okWait    = 5 * time.Second
)

func testConfig(t *testing.T, nodes int, variant string) Config {
	t.Helper()
	return Config{
		Target:       fakeTarget{},
		Variant:      variant,
		Nodes:        nodes,
		Dir:          t.TempDir(),
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReadyTimeout: 20 * time.Second,
		StopGrace:    3 * time.Second,
	}
}

// startCluster starts a cluster and registers a cleanup that closes it and
// checks that nothing is left behind.
func startCluster(t *testing.T, nodes int) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), testConfig(t, nodes, ""))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeAndCheck(t, c) })
	return c
}

// closeAndCheck closes c and checks that every node process is reaped and
// every port it used can be bound again.
func closeAndCheck(t *testing.T, c *Cluster) {
	t.Helper()
	pids := c.pids()
	addrs := c.usedAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	checkGone(t, pids, addrs)
}

func checkGone(t *testing.T, pids []int, addrs []string) {
	t.Helper()
	for _, pid := range pids {
		// Signal 0 succeeds on a zombie, so ESRCH also means reaped.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Close (kill 0: %v)", pid, err)
		}
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port still bound after Close: %v", err)
			continue
		}
		ln.Close()
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left after Close: %v", kids)
	}
}

// pids lists every node process the cluster ever started that it still
// tracks.
func (c *Cluster) pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, n := range c.nodes {
		if n.proc != nil {
			out = append(out, n.proc.pid)
		}
	}
	return out
}

// usedAddrs lists every node and proxy address of the cluster.
func (c *Cluster) usedAddrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.cfg.APIAddr, n.cfg.PeerAddr)
	}
	for _, l := range c.allLinks() {
		out = append(out, l.Addr)
	}
	return out
}

// children lists the processes whose parent is this test process. The
// tests of this package do not run in parallel, so every child is a node.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(self) {
			out = append(out, pid)
		}
	}
	return out
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// mustAnswer fails unless a request to addr answers want.
func mustAnswer(t *testing.T, addr, line, want string) {
	t.Helper()
	got, err := request(addr, line, okWait)
	if err != nil || got != want {
		t.Fatalf("request %q to %s = %q, %v; want %q", line, addr, got, err, want)
	}
}

// mustTimeOut fails unless a request to addr gets no answer within
// shortWait while its connection stays open.
func mustTimeOut(t *testing.T, addr, line string) {
	t.Helper()
	got, err := request(addr, line, shortWait)
	if !isTimeout(err) {
		t.Fatalf("request %q to %s = %q, %v; want a timeout", line, addr, got, err)
	}
}

func linkAddr(t *testing.T, c *Cluster, from, to string) string {
	t.Helper()
	a, ok := c.LinkAddr(from, to)
	if !ok {
		t.Fatalf("no link %s->%s", from, to)
	}
	return a
}

func TestStartServesAndCloseLeavesNothing(t *testing.T) {
	cfg := testConfig(t, 3, "")
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Nodes(), ","); got != "n1,n2,n3" {
		t.Fatalf("Nodes = %s", got)
	}
	addrs := c.ClientAddrs()
	if len(addrs) != 3 {
		t.Fatalf("ClientAddrs = %v", addrs)
	}
	for i, a := range addrs {
		cfg, _ := c.NodeConfig(c.Nodes()[i])
		if a == cfg.APIAddr {
			t.Errorf("client address of %s is the node's own address, not a proxy", cfg.Name)
		}
		mustAnswer(t, a, "ping", "ok")
	}
	for _, from := range c.Nodes() {
		cfg, ok := c.NodeConfig(from)
		if !ok || cfg.Variant != "ok" || len(cfg.Peers) != 2 {
			t.Fatalf("NodeConfig(%s) = %+v, %v", from, cfg, ok)
		}
		for _, to := range c.Nodes() {
			if from == to {
				continue
			}
			if cfg.Peers[to] != linkAddr(t, c, from, to) {
				t.Errorf("%s reaches %s at %s, want its link proxy %s", from, to, cfg.Peers[to], linkAddr(t, c, from, to))
			}
			mustAnswer(t, linkAddr(t, c, from, to), "echo", "echo")
			mustAnswer(t, addrs[idx(from)], "peer "+to, "ok hello")
		}
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, "nodes", "n2", "node.log"))
	if err != nil || !strings.Contains(string(b), "fake node serving") {
		t.Errorf("n2 log lacks the node's output: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(cfg.Dir, "nodes", "n3", "data")); err != nil || !fi.IsDir() {
		t.Errorf("n3 data dir: %v", err)
	}

	closeAndCheck(t, c)
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Kill(context.Background(), "n1"); !errors.Is(err, nemesis.ErrClosed) {
		t.Errorf("Kill after Close = %v, want nemesis.ErrClosed", err)
	}
	if err := c.HealAll(context.Background()); !errors.Is(err, nemesis.ErrClosed) {
		t.Errorf("HealAll after Close = %v, want nemesis.ErrClosed", err)
	}
}

// idx maps "nK" to K-1.
func idx(name string) int {
	k, _ := strconv.Atoi(strings.TrimPrefix(name, "n"))
	return k - 1
}

func TestPartitionCutsExactlyTheGrudge(t *testing.T) {
	c := startCluster(t, 3)
	ctx := t.Context()
	clients := c.ClientAddrs()

	// A connection opened before the partition.
	live, err := net.Dial("tcp", linkAddr(t, c, "n1", "n2"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveR := bufio.NewReader(live)
	live.SetDeadline(time.Now().Add(okWait))
	if got, err := exchange(live, liveR, "before"); err != nil || got != "before" {
		t.Fatalf("live link before partition: %q, %v", got, err)
	}

	if err := c.Partition(ctx, nemesis.Grudge{"n1": {"n2"}, "n2": {"n1"}}); err != nil {
		t.Fatal(err)
	}
	mustTimeOut(t, linkAddr(t, c, "n1", "n2"), "x")
	mustTimeOut(t, linkAddr(t, c, "n2", "n1"), "x")
	mustAnswer(t, linkAddr(t, c, "n1", "n3"), "x", "x")
	mustAnswer(t, linkAddr(t, c, "n3", "n2"), "x", "x")
	mustAnswer(t, clients[0], "ping", "ok") // clients are never cut
	mustAnswer(t, clients[0], "peer n3", "ok hello")
	if got, _ := request(clients[0], "peer n2", okWait); !strings.HasPrefix(got, "err") {
		t.Errorf("n1 reached n2 across the partition: %q", got)
	}
	live.SetDeadline(time.Now().Add(shortWait))
	if got, err := exchange(live, liveR, "during"); !isTimeout(err) {
		t.Errorf("live link during partition: %q, %v; want a timeout", got, err)
	}

	// Replace in place: isolate n3 instead.
	if err := c.Partition(ctx, nemesis.Grudge{"n3": {"n1", "n2"}, "n1": {"n3"}, "n2": {"n3"}}); err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, linkAddr(t, c, "n1", "n2"), "x", "x")
	mustAnswer(t, linkAddr(t, c, "n2", "n1"), "x", "x")
	for _, p := range [][2]string{{"n1", "n3"}, {"n3", "n1"}, {"n2", "n3"}, {"n3", "n2"}} {
		mustTimeOut(t, linkAddr(t, c, p[0], p[1]), "x")
	}
	// The connection that lived through the first partition was closed when
	// its link was restored rather than resumed with bytes missing.
	live.SetDeadline(time.Now().Add(okWait))
	if got, err := exchange(live, liveR, "after"); err == nil || isTimeout(err) {
		t.Errorf("live link after heal: %q, %v; want the connection closed", got, err)
	}

	if err := c.HealPartition(ctx); err != nil {
		t.Fatal(err)
	}
	for _, from := range c.Nodes() {
		for _, to := range c.Nodes() {
			if from != to {
				mustAnswer(t, linkAddr(t, c, from, to), "x", "x")
				mustAnswer(t, clients[idx(from)], "peer "+to, "ok hello")
			}
		}
	}
	if err := c.HealPartition(ctx); err != nil {
		t.Errorf("second HealPartition: %v", err)
	}

	if err := c.Partition(ctx, nemesis.Grudge{"n1": {"n9"}}); !errors.Is(err, nemesis.ErrUnknownNode) {
		t.Errorf("grudge with unknown node: %v, want nemesis.ErrUnknownNode", err)
	}
	if err := c.Partition(ctx, nemesis.Grudge{"n1": {"n1"}}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("grudge against itself: %v, want ErrBadInput", err)
	}
	mustAnswer(t, linkAddr(t, c, "n1", "n2"), "x", "x") // rejected grudges change nothing
}

func TestLatencyDelaysEveryLink(t *testing.T) {
	c := startCluster(t, 2)
	ctx := t.Context()
	const lat = 100 * time.Millisecond
	if err := c.SetLatency(ctx, lat, 0); err != nil {
		t.Fatal(err)
	}
	for _, hop := range []struct{ addr, want string }{
		{c.ClientAddrs()[0], "ok"}, // the API answers ok
		{c.ClientAddrs()[1], "ok"},
		{linkAddr(t, c, "n1", "n2"), "ping"}, // peer listeners echo
		{linkAddr(t, c, "n2", "n1"), "ping"},
	} {
		start := time.Now()
		mustAnswer(t, hop.addr, "ping", hop.want)
		// One delay on the way there, one on the way back.
		if took := time.Since(start); took < 2*lat {
			t.Errorf("round trip through %s took %v, want at least %v", hop.addr, took, 2*lat)
		}
	}
	// Replacing in place, with jitter.
	if err := c.SetLatency(ctx, 2*lat, lat/2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustAnswer(t, c.ClientAddrs()[0], "ping", "ok")
	if took := time.Since(start); took < 2*(2*lat-lat/2) {
		t.Errorf("round trip after update took %v, want at least %v", took, 2*(2*lat-lat/2))
	}
	if err := c.ClearLatency(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.allLinks() {
		if ts := l.Proxy.Toxics.GetToxicArray(); len(ts) != 0 {
			t.Errorf("link %s keeps %d toxics after ClearLatency", l.Name, len(ts))
		}
	}
	mustAnswer(t, c.ClientAddrs()[0], "ping", "ok")
	if err := c.SetLatency(ctx, lat, 2*lat); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("jitter above latency: %v, want ErrBadInput", err)
	}
}

func TestKillAndRestart(t *testing.T) {
	c := startCluster(t, 3)
	ctx := t.Context()
	cfg, _ := c.NodeConfig("n2")
	client := c.ClientAddrs()[1]
	before := c.pids()[1]

	if err := c.Kill(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", cfg.APIAddr, okWait); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial killed node: %v, want connection refused", err)
	}
	if got, err := request(client, "ping", okWait); err == nil {
		t.Errorf("killed node answered %q through its proxy", got)
	}
	if got, _ := request(c.ClientAddrs()[0], "peer n2", okWait); !strings.HasPrefix(got, "err") {
		t.Errorf("n1 reached killed n2: %q", got)
	}
	if err := c.Kill(ctx, "n2"); !errors.Is(err, nemesis.ErrNodeState) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("killing a killed node: %v, want nemesis.ErrNodeState naming its state", err)
	}
	if err := c.Pause(ctx, "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("pausing a killed node: %v, want nemesis.ErrNodeState", err)
	}
	if err := c.Kill(ctx, "n9"); !errors.Is(err, nemesis.ErrUnknownNode) {
		t.Errorf("killing n9: %v, want nemesis.ErrUnknownNode", err)
	}

	if err := c.Restart(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	after := c.pids()[1]
	if after == before {
		t.Errorf("restart kept pid %d", before)
	}
	mustAnswer(t, cfg.APIAddr, "ping", "ok") // the same address as before
	mustAnswer(t, client, "ping", "ok")
	mustAnswer(t, c.ClientAddrs()[0], "peer n2", "ok hello")
	if err := c.Restart(ctx, "n2"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("restarting a running node: %v, want nemesis.ErrNodeState", err)
	}
	b, _ := os.ReadFile(filepath.Join(c.cfg.Dir, "nodes", "n2", "node.log"))
	if n := strings.Count(string(b), "fake node serving"); n != 2 {
		t.Errorf("n2 log shows %d starts, want 2 (appended across restart)", n)
	}

	// A paused node can be killed, and restarts.
	if err := c.Pause(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, c.ClientAddrs()[2], "ping", "ok")
}

func TestPauseAndResume(t *testing.T) {
	c := startCluster(t, 2)
	ctx := t.Context()
	cfg, _ := c.NodeConfig("n1")
	if err := c.Pause(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if st, err := procState(c.pids()[0]); err != nil || st != 'T' {
		t.Errorf("paused process state %q, %v; want T", st, err)
	}
	mustTimeOut(t, c.ClientAddrs()[0], "ping")
	mustTimeOut(t, cfg.APIAddr, "ping")
	mustTimeOut(t, linkAddr(t, c, "n2", "n1"), "x")
	mustAnswer(t, c.ClientAddrs()[1], "ping", "ok")
	if err := c.Pause(ctx, "n1"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("pausing a paused node: %v, want nemesis.ErrNodeState", err)
	}
	if err := c.Restart(ctx, "n1"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("restarting a paused node: %v, want nemesis.ErrNodeState", err)
	}
	if err := c.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, c.ClientAddrs()[0], "ping", "ok")
	mustAnswer(t, linkAddr(t, c, "n2", "n1"), "x", "x")
	if err := c.Resume(ctx, "n1"); !errors.Is(err, nemesis.ErrNodeState) {
		t.Errorf("resuming a running node: %v, want nemesis.ErrNodeState", err)
	}
}

func TestHealAllAfterMixedFaults(t *testing.T) {
	c := startCluster(t, 3)
	ctx := t.Context()
	steps := []error{
		c.Partition(ctx, nemesis.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}),
		c.SetLatency(ctx, 50*time.Millisecond, 10*time.Millisecond),
		c.Kill(ctx, "n2"),
		c.Pause(ctx, "n3"),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if err := c.HealAll(ctx); err != nil {
		t.Fatalf("HealAll: %v", err)
	}
	for _, n := range c.nodes {
		if p := n.processProblem(); p != "" {
			t.Errorf("after HealAll: %s", p)
		}
	}
	for _, l := range c.allLinks() {
		if ts := l.Proxy.Toxics.GetToxicArray(); len(ts) != 0 {
			t.Errorf("link %s keeps %d toxics", l.Name, len(ts))
		}
	}
	for k, a := range c.ClientAddrs() {
		mustAnswer(t, a, "ping", "ok")
		for _, to := range c.Nodes() {
			if to != c.Nodes()[k] {
				mustAnswer(t, a, "peer "+to, "ok hello")
			}
		}
	}
	if err := c.HealAll(ctx); err != nil {
		t.Errorf("second HealAll: %v", err)
	}
}

func TestHealAllNamesWhatIsStillFaulty(t *testing.T) {
	cfg := testConfig(t, 2, "norestart")
	cfg.ReadyTimeout = 3 * time.Second
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeAndCheck(t, c) })
	if err := c.Kill(t.Context(), "n2"); err != nil {
		t.Fatal(err)
	}
	err = c.HealAll(t.Context())
	if !errors.Is(err, nemesis.ErrNotHealed) {
		t.Fatalf("HealAll = %v, want nemesis.ErrNotHealed", err)
	}
	for _, want := range []string{"node n2", "refuses to restart", "link n1->n2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("HealAll error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "node n1") {
		t.Errorf("HealAll blames the healthy n1: %v", err)
	}
}

// recorder is a slog.Handler that keeps the pid, api, peer and listen
// attributes of every record.
type recorder struct {
	mu    *sync.Mutex
	attrs *[]slog.Attr
	with  []slog.Attr
}

func newRecorder() recorder { return recorder{mu: new(sync.Mutex), attrs: new([]slog.Attr)} }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) WithGroup(string) slog.Handler            { return r }
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	r.with = append(append([]slog.Attr(nil), r.with...), as...)
	return r
}

func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "pid", "api", "peer", "listen":
			*r.attrs = append(*r.attrs, a)
		}
		return true
	})
	return nil
}

func (r recorder) seen() (pids []int, addrs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range *r.attrs {
		if a.Key == "pid" {
			pids = append(pids, int(a.Value.Int64()))
		} else {
			addrs = append(addrs, a.Value.String())
		}
	}
	return pids, addrs
}

func TestFailedStartLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		variant, want string
		nodes         int
	}{
		{"fail-n2", "node n2", 3},
		{"exit", "node n1", 2},
		{"hang", "not ready after", 2},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			rec := newRecorder()
			cfg := testConfig(t, tc.nodes, tc.variant)
			cfg.Logger = slog.New(rec)
			cfg.ReadyTimeout = time.Second
			c, err := Start(t.Context(), cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.variant != "hang" && !strings.Contains(err.Error(), "refuses to start") {
				t.Errorf("error %q does not quote the node's log", err)
			}
			pids, addrs := rec.seen()
			if len(pids) < 1 || len(addrs) < 2*tc.nodes+tc.nodes*tc.nodes {
				t.Fatalf("log recorded %d pids and %d addresses, too few to check", len(pids), len(addrs))
			}
			checkGone(t, pids, addrs)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Target: fakeTarget{}, Nodes: 3, Dir: "x"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no target":   func(c *Config) { c.Target = nil },
		"zero nodes":  func(c *Config) { c.Nodes = 0 },
		"many nodes":  func(c *Config) { c.Nodes = MaxNodes + 1 },
		"many roles":  func(c *Config) { c.Variant, c.Nodes = "roles", MaxNodes },
		"no dir":      func(c *Config) { c.Dir = "" },
		"bad variant": func(c *Config) { c.Variant = "nope" },
		"negative":    func(c *Config) { c.ReadyTimeout = -1 },
	} {
		c := ok
		mut(&c)
		_, err := Plan(c)
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: Plan = %v, want ErrBadInput", name, err)
		}
		if _, err := Start(t.Context(), c); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("%s: Start = %v, want ErrBadInput", name, err)
		}
	}
}

func TestCloseWhileFaultsRun(t *testing.T) {
	c, err := Start(t.Context(), testConfig(t, 3, ""))
	if err != nil {
		t.Fatal(err)
	}
	pids, addrs := c.pids(), c.usedAddrs()
	ctx := t.Context()
	rounds := make(chan int, 1000)
	done := make(chan error, 1)
	go func() {
		for k := 0; k < 1000; k++ {
			for _, f := range []func() error{
				func() error { return c.Partition(ctx, nemesis.Grudge{"n1": {"n2"}, "n2": {"n1"}}) },
				func() error { return c.SetLatency(ctx, time.Millisecond, 0) },
				func() error { return c.Pause(ctx, "n3") },
				func() error { return c.Kill(ctx, "n2") },
				func() error { return c.HealAll(ctx) },
			} {
				if err := f(); err != nil {
					done <- err
					return
				}
			}
			rounds <- k
		}
		done <- errors.New("faults never saw the cluster close")
	}()
	for range 2 {
		select {
		case <-rounds:
		case err := <-done:
			t.Fatalf("faults failed before Close: %v", err)
		case <-time.After(time.Minute):
			t.Fatal("no round of faults within a minute")
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(cctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, nemesis.ErrClosed) {
			t.Errorf("faults ended with %v, want nemesis.ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("faults still running a minute after Close")
	}
	checkGone(t, append(pids, c.pids()...), addrs)
}

func TestNodesDieWithController(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envController+"="+t.TempDir())
	cmd.Stderr = t.Output()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	var pids []int
	select {
	case l := <-line:
		for _, f := range strings.Fields(l) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("controller printed %q", l)
			}
			pids = append(pids, pid)
		}
	case <-time.After(time.Minute):
		t.Fatal("controller did not start its cluster within a minute")
	}
	if len(pids) != 2 {
		t.Fatalf("controller reported pids %v", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("node %d not alive under its controller: %v", pid, err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The orphaned nodes die of Pdeathsig; init may be slow to reap them, so
	// a zombie counts as dead.
	testenv.Eventually(t, 10*time.Second, "the orphaned nodes die", func() error {
		for _, pid := range pids {
			st, err := procState(pid)
			if err == nil && st != 'Z' && st != 'X' {
				return fmt.Errorf("node %d still alive (state %c) after its controller was killed", pid, st)
			}
		}
		return nil
	})
}
