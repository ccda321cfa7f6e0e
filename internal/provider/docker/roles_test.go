package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testtargets"
	"github.com/faultline/faultline/nemesis"
)

// redisImage builds (once per test binary) the redis-pair test target's
// image from its own Dockerfile.
var redisImage = sync.OnceValues(func() (string, error) {
	return buildImage(string(testtargets.RedisPair{}.Dockerfile()))
})

// TestServerNodesInContainers runs real redis-server nodes from the
// target's own image: init before the first start, the server's own
// account, readiness by PING on the published port, replication from the
// replica to the primary over the run's network, a partition of the two
// roles, the clients cut off from the primary, and a kill and restart of
// the replica by role.
func TestServerNodesInContainers(t *testing.T) {
	eng := engine(t)
	tag, err := redisImage()
	if err != nil {
		t.Fatalf("redis-pair image: %v", err)
	}
	cfg := testConfig(t, eng, 1, "")
	cfg.Target, cfg.Image = testtargets.RedisPair{}, tag
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNothingLeft(t, eng, cfg.RunID)
	})
	if got := strings.Join(c.Nodes(), " "); got != "primary replica" {
		t.Fatalf("nodes %q", got)
	}
	addr := map[string]string{}
	for _, e := range c.Endpoints() {
		addr[e.Name] = e.Addr
	}
	for _, n := range c.Nodes() {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, "nodes", n, "data", testtargets.InitMarker))
		if err != nil || strings.TrimSpace(string(b)) != "initialised" {
			t.Errorf("%s: init marker %q, %v", n, b, err)
		}
		id, _ := c.ContainerID(n)
		res, err := Exec(t.Context(), eng, id, nil, "sh", "-c", "for p in /proc/[0-9]*; do if grep -q redis-server $p/cmdline 2>/dev/null; then awk '/^Uid:/{print $2}' $p/status; fi; done | head -1")
		if err != nil {
			t.Fatal(err)
		}
		uid := strings.TrimSpace(res.Stdout)
		want, err := Exec(t.Context(), eng, id, nil, "id", "-u", "redis")
		if err != nil || uid == "" || uid != strings.TrimSpace(want.Stdout) {
			t.Errorf("%s: redis-server runs as uid %q, want the account redis (%q, %v)", n, uid, want.Stdout, err)
		}
	}
	layout, err := ReadLayout(cfg.Dir)
	if err != nil || layout.Nodes[0].Role != "primary" || layout.Nodes[0].Program != "redis-server" {
		t.Errorf("cluster.json nodes %+v, %v", layout.Nodes, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	set := func(k, v string) {
		t.Helper()
		if err := testtargets.Set(ctx, addr["primary"], k, v); err != nil {
			t.Fatal(err)
		}
	}
	replicated := func(k, v string, within time.Duration) bool {
		return testtargets.Has(ctx, addr["replica"], k, v, within)
	}
	set("a", "1")
	if !replicated("a", "1", 30*time.Second) {
		t.Fatal("the replica never got a=1 from the primary")
	}

	p := &nemesis.Partition{Role: "replica", Against: "primary"}
	if err := nemesis.Available(p, c); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(ctx, c, nil); err != nil {
		t.Fatalf("partition role:replica/role:primary: %v", err)
	}
	set("b", "2")
	if replicated("b", "2", time.Second) {
		t.Error("the replica got b=2 across the partition")
	}
	if _, err := p.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if !replicated("b", "2", 60*time.Second) {
		t.Error("the replica never got b=2 after the heal")
	}

	cut := &nemesis.Partition{Clients: true, Role: "primary"}
	if _, err := cut.Start(ctx, c, nil); err != nil {
		t.Fatalf("partition clients/role:primary: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if resp, err := testtargets.RedisCmd(short, addr["primary"], "PING"); err == nil {
		t.Errorf("a client reached the primary across the cut: %q", resp)
	}
	cancelShort()
	if resp, err := testtargets.RedisCmd(ctx, addr["replica"], "PING"); err != nil || resp != "+PONG" {
		t.Errorf("client to the replica during the cut: %q, %v", resp, err)
	}
	if _, err := cut.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}

	k := &nemesis.Kill{Selection: nemesis.Selection{Role: "replica", Nodes: nemesis.PickAll}}
	if _, err := k.Start(ctx, c, nil); err != nil {
		t.Fatalf("kill=role:replica: %v", err)
	}
	if _, err := k.Stop(ctx, c); err != nil {
		t.Fatalf("restart of the replica: %v", err)
	}
	set("c", "3")
	if !replicated("c", "3", 60*time.Second) {
		t.Error("the restarted replica never got c=3")
	}
	if err := c.HealAll(ctx); err != nil {
		t.Fatal(err)
	}
}
