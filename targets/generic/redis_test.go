package generic_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/ports"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
	"github.com/faultline/faultline/workloads/register"
)

// startRedis starts a redis-server on a free port of 127.0.0.1, keeping
// nothing on disk, and stops it when the test ends. It returns the port
// and a client of its own.
func startRedis(t *testing.T) (int, *redis.Client) {
	t.Helper()
	bin := testenv.NeedBinary(t, "redis-server", "redis-server")
	ps, err := ports.Reserve(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Release(ps) })
	cmd := exec.Command(bin, "--port", strconv.Itoa(ps[0]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ps[0]), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	testenv.Eventually(t, 10*time.Second, "redis-server answers PING", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		return rc.Ping(ctx).Err()
	})
	return ps[0], rc
}

// redisTarget is the Redis client of one server on port, every
// operation to any node.
func redisTarget(t *testing.T, port int, key string) *generic.Target {
	return newTarget(t, generic.Config{Name: "cache", Services: []string{"redis"},
		Redis: &generic.Redis{URL: fmt.Sprintf("redis://{host}:%d/0", port), Key: key}})
}

var redisNodes = []targets.Endpoint{{Name: "redis", Role: "redis", Addr: "127.0.0.1"}}

// TestRedisOperations: GET, SET and the cas script on a real server, the
// key in the run's namespace through the key template; values that are
// not integers, server errors and missing servers give the outcomes the
// checkers rely on.
func TestRedisOperations(t *testing.T) {
	port, rc := startRedis(t)
	tg := redisTarget(t, port, "app:{key}")
	key := "app:" + ns + "-k0"
	do := func(op core.Op) core.Op { return invoke(t, tg, redisNodes, 0, op, 2*time.Second) }
	for i, st := range []struct {
		op   core.Op
		want core.Op
	}{
		{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK}},
		{core.Op{F: "cas", Key: "k0", Value: [2]int64{1, 2}}, core.Op{Type: core.Fail, Value: [2]int64{1, 2}, Error: "cas: the key does not hold the old value"}},
		{core.Op{F: "write", Key: "k0", Value: int64(1)}, core.Op{Type: core.OK, Value: int64(1)}},
		{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK, Value: int64(1)}},
		{core.Op{F: "cas", Key: "k0", Value: [2]int64{1, 2}}, core.Op{Type: core.OK, Value: [2]int64{1, 2}}},
		{core.Op{F: "cas", Key: "k0", Value: [2]int64{1, 3}}, core.Op{Type: core.Fail, Value: [2]int64{1, 3}, Error: "cas: the key does not hold the old value"}},
		{core.Op{F: "read", Key: "k0"}, core.Op{Type: core.OK, Value: int64(2)}},
	} {
		got := do(st.op)
		st.want.F, st.want.Key, st.want.Node = st.op.F, st.op.Key, "redis"
		if got != st.want {
			t.Errorf("step %d: %+v, want %+v", i, got, st.want)
		}
	}
	if v, err := rc.Get(t.Context(), key).Result(); err != nil || v != "2" {
		t.Fatalf("the server holds %q under %s (%v); want 2", v, key, err)
	}
	// A value that is no integer, or a key of another type: the read fails.
	rc.Set(t.Context(), "app:"+ns+"-k1", "hello", 0)
	rc.RPush(t.Context(), "app:"+ns+"-k2", "x")
	if got := do(core.Op{F: "read", Key: "k1"}); got.Type != core.Fail || !strings.Contains(got.Error, `"hello" is not an integer`) {
		t.Errorf("read of a string: %+v", got)
	}
	if got := do(core.Op{F: "read", Key: "k2"}); got.Type != core.Fail || !strings.Contains(got.Error, "WRONGTYPE") {
		t.Errorf("read of a list: %+v", got)
	}
	// The server refuses writes (as a primary without its replicas does):
	// an error answer means the command did not run.
	if err := rc.ConfigSet(t.Context(), "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if got := do(core.Op{F: "write", Key: "k0", Value: int64(9)}); got.Type != core.Fail || !strings.Contains(got.Error, "NOREPLICAS") {
		t.Errorf("refused write: %+v; want fail with NOREPLICAS", got)
	}
	if got := do(core.Op{F: "cas", Key: "k0", Value: [2]int64{2, 9}}); got.Type != core.Fail || !strings.Contains(got.Error, "NOREPLICAS") {
		t.Errorf("refused cas: %+v; want fail with NOREPLICAS", got)
	}
	rc.ConfigSet(t.Context(), "min-replicas-to-write", "0")
	if v, _ := rc.Get(t.Context(), key).Result(); v != "2" {
		t.Fatalf("a refused write changed the key to %q", v)
	}
}

// TestRedisUnreachable: a write to a port nobody listens on was never
// sent (fail); one to a server that accepts and never answers may have
// been applied (info).
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := ln.Addr().(*net.TCPAddr).Port
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	write := core.Op{F: "write", Key: "k0", Value: int64(1)}
	if got := invoke(t, redisTarget(t, refused, ""), redisNodes, 0, write, time.Second); got.Type != core.Fail || !strings.HasPrefix(got.Error, "not sent: ") {
		t.Errorf("write to a closed port: %s %q; want fail, not sent", got.Type, got.Error)
	}
	if got := invoke(t, redisTarget(t, silent, ""), redisNodes, 0, write, 300*time.Millisecond); got.Type != core.Info || got.Error != "timeout" {
		t.Errorf("write to a silent server: %s %q; want info, timeout", got.Type, got.Error)
	}
	if got := invoke(t, redisTarget(t, silent, ""), redisNodes, 0, core.Op{F: "read", Key: "k0"}, 300*time.Millisecond); got.Type != core.Fail {
		t.Errorf("read from a silent server: %s %q; want fail", got.Type, got.Error)
	}
}

// TestRedisRegisterChecked: register operations from concurrent clients
// against a real redis-server make a history the linearizability checker
// finds valid, with reads of values and cas both ways.
func TestRedisRegisterChecked(t *testing.T) {
	port, _ := startRedis(t)
	tg := redisTarget(t, port, "")
	h, res := drive(t, tg, register.Workload{}, redisNodes, 3, 600, 4)
	if r := verdict(t, res); r.Verdict != core.Valid {
		t.Fatalf("verdict %s: %s", r.Verdict, r.Summary)
	}
	reads, values := counts(h, "read")
	cas, _ := counts(h, "cas")
	if values == 0 || cas[core.OK] == 0 || cas[core.Fail] == 0 || reads[core.Fail]+reads[core.Info] != 0 {
		t.Fatalf("reads %v (%d with a value), cas %v: want values read, cas ok and failed, no failed read", reads, values, cas)
	}
}
