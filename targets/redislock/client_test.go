package redislock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
)

// hang is the answer of a fake server that never answers.
const hang = ""

// fakeRedis serves RESP on loopback, answering each command with
// answer(command name, arguments) written as is; hang means never answer
// (the connection stays open until the test ends). It records every
// command it read. Everything it starts ends with the test.
type fakeRedis struct {
	addr   string
	mu     sync.Mutex
	seen   []string
	answer func(cmd string, args []string) string
}

func newFakeRedis(t *testing.T, answer func(cmd string, args []string) string) *fakeRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRedis{addr: ln.Addr().String(), answer: answer}
	var wg sync.WaitGroup
	var cmu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Go(func() { f.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return f
}

func (f *fakeRedis) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(args[0])
		f.mu.Lock()
		f.seen = append(f.seen, name)
		f.mu.Unlock()
		a := f.answer(name, args[1:])
		if a == hang {
			continue // read on: the client may send more, nothing is answered
		}
		if _, err := c.Write([]byte(a)); err != nil {
			return
		}
	}
}

// commands returns the names of the commands the server read.
func (f *fakeRedis) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array %q", line)
	}
	args := make([]string, n)
	for i := range args {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "$")))
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := readFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// answers maps a command name to its answer; HELLO is refused (so the
// client talks RESP2), anything unlisted hangs.
func answers(m map[string]string) func(string, []string) string {
	return func(cmd string, _ []string) string {
		if a, ok := m[cmd]; ok {
			return a
		}
		if cmd == "HELLO" {
			return "-ERR unknown command 'HELLO'\r\n"
		}
		return hang
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// resourceServer serves a resource kept in memory.
func resourceServer(t *testing.T, fencing bool) (*resource, string) {
	t.Helper()
	r, err := openResource("", fencing)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.handler())
	t.Cleanup(srv.Close)
	return r, srv.Listener.Addr().String()
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	return newFakeRedis(t, func(string, []string) string { return hang }).addr
}

func testClient(t *testing.T, tg Target, variant string, resourceAddr string, redisAddrs ...string) *Client {
	t.Helper()
	cfg := targets.ClientConfig{Workload: WorkloadLock, Variant: variant, Process: 3}
	for i, a := range redisAddrs {
		cfg.Nodes = append(cfg.Nodes, targets.Endpoint{Name: fmt.Sprintf("redis%d", i+1), Role: RoleRedis, Addr: a})
	}
	cfg.Nodes = append(cfg.Nodes, targets.Endpoint{Name: "resource", Role: RoleResource, Addr: resourceAddr})
	c, err := tg.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c.(*Client)
}

// invoke runs one cycle on lock l0 under a deadline of within and checks
// that it returns within it (and a little slack).
func invoke(t *testing.T, c *Client, within time.Duration) (core.Op, lock.CycleValue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	start := time.Now()
	op := c.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{HoldNS: int64(time.Millisecond)}})
	if took := time.Since(start); took > within+time.Second {
		t.Errorf("Invoke took %v under a deadline of %v", took, within)
	}
	v, ok := op.Value.(lock.CycleValue)
	if !ok {
		t.Fatalf("completion value %T (%+v)", op.Value, op)
	}
	if v.Holder != "p3" {
		t.Errorf("holder %q, want p3", v.Holder)
	}
	return op, v
}

// TestRedisThatNeverAnswers: a Redis that accepts connections and never
// answers gives a definite failure (nothing of the SET was sent: the
// connection handshake got no answer) with a clear error, within the
// operation's deadline, for every variant.
func TestRedisThatNeverAnswers(t *testing.T) {
	_, res := resourceServer(t, false)
	for _, variant := range []string{VariantNaive, VariantFencing, VariantRedlock} {
		t.Run(variant, func(t *testing.T) {
			addrs := []string{hangingServer(t)}
			if variant == VariantRedlock {
				addrs = append(addrs, hangingServer(t), hangingServer(t))
			}
			c := testClient(t, Target{}, variant, res, addrs...)
			op, v := invoke(t, c, 400*time.Millisecond)
			if op.Type != core.Fail || v.Acquire != lock.Refused || v.Read != lock.Skipped {
				t.Fatalf("got %s %+v (%s); want fail with the acquire refused", op.Type, v, op.Error)
			}
			t.Logf("error: %s", op.Error)
			if !strings.Contains(op.Error, "connection handshake") || !strings.Contains(op.Error, "redis1") {
				t.Errorf("error %q does not say that redis1 never answered the handshake", op.Error)
			}
		})
	}
}

// TestRedisUnreachable: a refused connection is a definite failure that
// says so.
func TestRedisUnreachable(t *testing.T) {
	_, res := resourceServer(t, false)
	c := testClient(t, Target{}, VariantNaive, res, closedAddr(t))
	op, v := invoke(t, c, time.Second)
	if op.Type != core.Fail || v.Acquire != lock.Refused || !strings.Contains(op.Error, "cannot connect") {
		t.Fatalf("got %s %+v %q; want fail, cannot connect", op.Type, v, op.Error)
	}
}

// TestSetSentNoAnswer: a SET that was sent and never answered is unknown,
// and the client goes no further.
func TestSetSentNoAnswer(t *testing.T) {
	r, res := resourceServer(t, false)
	f := newFakeRedis(t, answers(nil))
	c := testClient(t, Target{}, VariantNaive, res, f.addr)
	op, v := invoke(t, c, 300*time.Millisecond)
	if op.Type != core.Info || v.Acquire != lock.Unknown || v.Read != lock.Skipped || v.Release != lock.Skipped {
		t.Fatalf("got %s %+v %q; want info with the acquire unknown", op.Type, v, op.Error)
	}
	if got := f.commands(); len(got) != 2 || got[1] != "SET" {
		t.Errorf("server read %v, want HELLO and SET", got)
	}
	if st := r.state("l0", 0, 0); len(st.Accesses) != 0 {
		t.Errorf("the resource was touched: %+v", st)
	}
}

// TestLockHeld: Redis answering that another holds the lock is a definite
// failure, and nothing else is done.
func TestLockHeld(t *testing.T) {
	r, res := resourceServer(t, false)
	f := newFakeRedis(t, answers(map[string]string{"SET": "$-1\r\n"}))
	c := testClient(t, Target{}, VariantNaive, res, f.addr)
	op, v := invoke(t, c, time.Second)
	if op.Type != core.Fail || v.Acquire != lock.Refused || !strings.Contains(op.Error, "held by another") {
		t.Fatalf("got %s %+v %q", op.Type, v, op.Error)
	}
	if st := r.state("l0", 0, 0); len(st.Accesses) != 0 {
		t.Errorf("the resource was touched: %+v", st)
	}
}

// TestCycleSteps runs whole cycles against a fake Redis and a real
// resource handler: the fencing token reaches the resource, the stall hook
// is called and recorded, an unreachable resource makes the read a
// definite failure and the lock is still released, a resource that never
// answers makes the read unknown and the client stops there.
func TestCycleSteps(t *testing.T) {
	t.Run("fencing", func(t *testing.T) {
		r, res := resourceServer(t, true)
		f := newFakeRedis(t, func(cmd string, args []string) string {
			switch {
			case cmd == "EVAL" && strings.Contains(args[0], "INCR"):
				return ":7\r\n" // the acquire script: token 7
			case cmd == "EVAL":
				return ":1\r\n" // the release script: deleted
			}
			return answers(nil)(cmd, args)
		})
		cfg := targets.ClientConfig{Workload: WorkloadLock, Variant: VariantFencing, Process: 3, Nodes: []targets.Endpoint{
			{Name: "redis", Role: RoleRedis, Addr: f.addr}, {Name: "resource", Role: RoleResource, Addr: res}}}
		stalls := 0
		cfg.Stall = func(ctx context.Context) time.Duration { stalls++; return 30 * time.Millisecond }
		cl, err := Target{}.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		op, v := invoke(t, cl.(*Client), time.Second)
		if op.Type != core.OK || v.Token != 7 || v.Acquire != lock.Done || v.Read != lock.Done || v.Write != lock.Done || v.Release != lock.Done {
			t.Fatalf("got %s %+v %q", op.Type, v, op.Error)
		}
		if stalls != 1 || v.StalledNS != int64(30*time.Millisecond) {
			t.Errorf("stall hook called %d times, StalledNS %d", stalls, v.StalledNS)
		}
		if !(0 < v.AcquiredNS && v.AcquiredNS <= v.WriteStartNS && v.WriteStartNS < v.ReleaseStartNS) {
			t.Errorf("times out of order: %+v", v)
		}
		if v.WriteStartNS-v.AcquiredNS < int64(time.Millisecond) {
			t.Errorf("did not hold 1ms between the read and the write: %+v", v)
		}
		st := r.state("l0", 0, 0)
		if st.Value != 1 || len(st.Accesses) != 2 || st.Accesses[0].Token != 7 || st.Accesses[1].Holder != "p3" {
			t.Errorf("resource %+v", st)
		}
		if got := strings.Join(f.commands(), " "); got != "HELLO EVAL EVAL" {
			t.Errorf("redis read %q, want the acquire and release scripts", got)
		}
	})
	t.Run("resource-unreachable", func(t *testing.T) {
		f := newFakeRedis(t, answers(map[string]string{"SET": "+OK\r\n", "EVAL": ":1\r\n"}))
		c := testClient(t, Target{}, VariantNaive, closedAddr(t), f.addr)
		op, v := invoke(t, c, time.Second)
		if op.Type != core.OK || v.Read != lock.Refused || v.Write != lock.Skipped || v.Release != lock.Done {
			t.Fatalf("got %s %+v %q; want ok, read refused, released", op.Type, v, op.Error)
		}
		if !strings.Contains(op.Error, "not sent") {
			t.Errorf("error %q", op.Error)
		}
	})
	t.Run("resource-never-answers", func(t *testing.T) {
		f := newFakeRedis(t, answers(map[string]string{"SET": "+OK\r\n", "EVAL": ":1\r\n"}))
		c := testClient(t, Target{}, VariantNaive, hangingServer(t), f.addr)
		op, v := invoke(t, c, 300*time.Millisecond)
		if op.Type != core.Info || v.Read != lock.Unknown || v.Release != lock.Skipped {
			t.Fatalf("got %s %+v %q; want info, read unknown, no release", op.Type, v, op.Error)
		}
	})
	t.Run("release-too-late", func(t *testing.T) {
		_, res := resourceServer(t, false)
		f := newFakeRedis(t, answers(map[string]string{"SET": "+OK\r\n", "EVAL": ":0\r\n"}))
		c := testClient(t, Target{}, VariantNaive, res, f.addr)
		op, v := invoke(t, c, time.Second)
		if op.Type != core.OK || v.Release != lock.Refused || !strings.Contains(op.Error, "no longer ours") {
			t.Fatalf("got %s %+v %q; want ok with the release refused", op.Type, v, op.Error)
		}
	})
}

// TestRedlockMajority: the acquire needs a majority; without one the
// client releases on every node, and the outcome is unknown when a
// majority may have held its value, refused when none can have.
func TestRedlockMajority(t *testing.T) {
	ok := answers(map[string]string{"SET": "+OK\r\n", "EVAL": ":1\r\n"})
	held := answers(map[string]string{"SET": "$-1\r\n", "EVAL": ":0\r\n"})
	silent := answers(nil)
	tg := Target{TTL: time.Second, RedlockTimeout: 100 * time.Millisecond}
	cases := []struct {
		name    string
		nodes   []func(string, []string) string
		typ     core.Type
		acquire lock.Outcome
	}{
		{"two-of-three", []func(string, []string) string{ok, ok, silent}, core.OK, lock.Done},
		{"one-held-one-silent", []func(string, []string) string{ok, held, silent}, core.Info, lock.Unknown},
		{"two-held", []func(string, []string) string{ok, held, held}, core.Fail, lock.Refused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, res := resourceServer(t, false)
			var fakes []*fakeRedis
			var addrs []string
			for _, a := range tc.nodes {
				f := newFakeRedis(t, a)
				fakes = append(fakes, f)
				addrs = append(addrs, f.addr)
			}
			c := testClient(t, tg, VariantRedlock, res, addrs...)
			op, v := invoke(t, c, time.Second)
			if op.Type != tc.typ || v.Acquire != tc.acquire {
				t.Fatalf("got %s %+v %q; want %s, acquire %q", op.Type, v, op.Error, tc.typ, tc.acquire)
			}
			if tc.typ == core.OK && v.Release != lock.Done {
				t.Errorf("release %q (%s); want done: two of three released", v.Release, op.Error)
			}
			for i, f := range fakes {
				if got := f.commands(); !slices.Contains(got, "EVAL") {
					t.Errorf("node %d read %v; want a release on every node", i+1, got)
				}
			}
		})
	}
}

// TestNewClientChecks: a workload other than lock is bad input; the
// redis endpoints must fit the variant.
func TestNewClientChecks(t *testing.T) {
	base := []targets.Endpoint{{Name: "redis", Role: RoleRedis, Addr: "127.0.0.1:1"}, {Name: "resource", Role: RoleResource, Addr: "127.0.0.1:2"}}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: "register", Variant: VariantNaive, Nodes: base}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("register workload: %v", err)
	}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: "sentinel", Nodes: base}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("unknown variant: %v", err)
	}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantFailover, Nodes: base}); err == nil || !strings.Contains(err.Error(), "primary and replicas") {
		t.Errorf("failover with one redis: %v", err)
	}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantNaive, Nodes: base[:1]}); err == nil {
		t.Error("no resource: no error")
	}
	c, err := (Target{}).NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantNaive, Nodes: base})
	if err != nil {
		t.Fatal(err)
	}
	op := c.Invoke(t.Context(), core.Op{F: lock.Cycle, Key: "l0", Value: 5})
	if op.Type != core.Fail || !strings.Contains(op.Error, "want lock.CycleRequest") {
		t.Errorf("bad request value: %+v", op)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestLayout: one redis for naive and fencing, --nodes for redlock (odd,
// at least 3), and the resource; the server names its Debian package.
func TestLayout(t *testing.T) {
	names := func(v string, n int) (string, error) {
		nodes, err := targets.Plan(Target{}, targets.Spec{Variant: v, Nodes: n})
		return strings.Join(targets.Names(nodes), " "), err
	}
	for _, tc := range []struct {
		v    string
		n    int
		want string
	}{
		{VariantNaive, 5, "redis resource"},
		{VariantFencing, 1, "redis resource"},
		{VariantRedlock, 3, "redis1 redis2 redis3 resource"},
		{VariantRedlock, 5, "redis1 redis2 redis3 redis4 redis5 resource"},
		{VariantFailover, 5, "redis1 redis2 resource"},
	} {
		if got, err := names(tc.v, tc.n); err != nil || got != tc.want {
			t.Errorf("%s with %d nodes: %q, %v; want %q", tc.v, tc.n, got, err, tc.want)
		}
	}
	for _, n := range []int{0, 1, 2, 4} {
		if _, err := names(VariantRedlock, n); !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "odd") {
			t.Errorf("redlock with %d nodes: %v; want bad input", n, err)
		}
	}
	if _, err := names("sentinel", 3); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("unknown variant: %v", err)
	}
	if got := targets.VariantNames(Target{}); strings.Join(got, ",") != "naive,fencing,redlock,failover" {
		t.Errorf("variants %v", got)
	}
	l, _ := Target{}.Layout(targets.Spec{Variant: VariantNaive})
	srv := l.Roles[0].Program.(targets.Server)
	t.Setenv("PATH", t.TempDir())
	if _, err := srv.Find(); !errors.Is(err, targets.ErrNoBinary) || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Errorf("missing redis-server: %v; want the package named", err)
	}
	if !strings.Contains(string(Target{}.Dockerfile()), "faultline.target=redis-lock") {
		t.Error("Dockerfile without the target label")
	}
}

// TestRedisReady: the readiness probe says PONG is ready, and a server
// that never answers is not, within the probe's context.
func TestRedisReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := RedisReady(ctx, hangingServer(t))
	if err == nil || !strings.Contains(err.Error(), "no answer to PING") || time.Since(start) > time.Second {
		t.Errorf("a silent server: %v after %v", err, time.Since(start))
	}
	if err := RedisReady(t.Context(), inlinePong(t)); err != nil {
		t.Errorf("PONG: %v", err)
	}
	if err := RedisReady(t.Context(), closedAddr(t)); err == nil {
		t.Error("nothing listening: ready")
	}
}

// inlinePong answers each line of each connection with +PONG.
func inlinePong(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte("+PONG\r\n")); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}
