package redislock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/lock"
	"github.com/redis/go-redis/v9"
)

// TestFailoverLayout: the failover variant lays out a primary and a
// replica that follows it at the address of its own link, with the
// failover fault's switch-over; no other variant has one.
func TestFailoverLayout(t *testing.T) {
	nodes, err := targets.Plan(Target{}, targets.Spec{Variant: VariantFailover, Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := targets.Names(nodes); !slices.Equal(got, []string{"redis1", "redis2", RoleResource}) {
		t.Fatalf("failover nodes %v", got)
	}
	l, err := Target{}.Layout(targets.Spec{Variant: VariantFailover})
	if err != nil || l.Failover == nil {
		t.Fatalf("failover layout: %v, switch-over set %v", err, l.Failover != nil)
	}
	srv := l.Roles[0].Program.(targets.Server)
	cfg := func(name string) targets.NodeConfig {
		return targets.NodeConfig{Name: name, Role: RoleRedis, APIAddr: "127.0.0.1:7000", DataDir: "/d",
			Roles: map[string][]string{RoleRedis: {"redis1", "redis2"}, RoleResource: {RoleResource}},
			Peers: map[string]string{"redis1": "127.0.0.1:7101", "redis2": "127.0.0.1:7102"}}
	}
	if args := strings.Join(srv.Args(cfg("redis1")), " "); strings.Contains(args, "--replicaof") {
		t.Errorf("the primary follows someone: %s", args)
	}
	if args := strings.Join(srv.Args(cfg("redis2")), " "); !strings.Contains(args, "--replicaof 127.0.0.1 7101") {
		t.Errorf("the replica does not follow the primary through its link: %s", args)
	}
	for _, v := range []string{VariantNaive, VariantFencing, VariantRedlock} {
		l, err := Target{}.Layout(targets.Spec{Variant: v, Nodes: 3})
		if err != nil || l.Failover != nil {
			t.Errorf("%s: %v, switch-over set %v", v, err, l.Failover != nil)
		}
	}
}

// startFailover starts the failover variant's cluster on real
// redis-server nodes and returns it with its switch-over.
func startFailover(t *testing.T) (*local.Cluster, nemesis.Promoter) {
	t.Helper()
	testenv.NeedBinary(t, "redis-server", "redis-server")
	c := startLocal(t, VariantFailover, 1)
	l, err := Target{}.Layout(targets.Spec{Variant: VariantFailover})
	if err != nil {
		t.Fatal(err)
	}
	return c, l.Failover(lifecycle.Admin(c))
}

// TestPromoterSwitchesOver runs the failover variant's switch-over on real
// redis-server nodes: the primary is found, a write replicates, a promoted
// replica makes two primaries (which Primary refuses to choose between,
// and between which clients take either), and after the old primary
// follows the new one, what it took alone is gone and the new primary's
// writes reach it.
func TestPromoterSwitchesOver(t *testing.T) {
	c, p := startFailover(t)
	ctx := t.Context()
	prim, members, err := p.Primary(ctx)
	if err != nil || prim != "redis1" || !slices.Equal(members, []string{"redis1", "redis2"}) {
		t.Fatalf("Primary = %q %v %v", prim, members, err)
	}
	direct := func(node string) *redis.Client {
		addr, _ := c.AdminAddr(node)
		rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	r1, r2 := direct("redis1"), direct("redis2")
	has := func(rc *redis.Client, key, want string) func() error {
		return func() error {
			got, err := rc.Get(ctx, key).Result()
			if got != want {
				return fmt.Errorf("%s = %q (%v), want %q", key, got, err, want)
			}
			return nil
		}
	}
	if err := r1.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the write replicated to redis2", has(r2, "before", "1"))
	if err := r2.Set(ctx, "x", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("a write to the replica: %v, want READONLY", err)
	}

	if err := p.Promote(ctx, "redis2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Primary(ctx); err == nil || !strings.Contains(err.Error(), "all say they are primary") {
		t.Fatalf("Primary with two primaries: %v", err)
	}
	// A client takes either of two primaries, within a bounded count.
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantFailover, Nodes: c.Endpoints(), Process: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fc := cl.(*Client)
	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		fc.found = time.Time{}
		n, err := fc.primary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[n.name] = true
	}
	if len(seen) != 2 {
		t.Fatalf("with two primaries the client took only %v", seen)
	}
	if err := r1.Set(ctx, "alone", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Set(ctx, "after", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}

	if err := p.Follow(ctx, "redis1", "redis2"); err != nil {
		t.Fatal(err)
	}
	if prim, _, err := p.Primary(ctx); err != nil || prim != "redis2" {
		t.Fatalf("Primary after the switch-over = %q %v", prim, err)
	}
	testenv.Eventually(t, 10*time.Second, "redis1 synced from redis2", has(r1, "after", "2"))
	if got, err := r1.Get(ctx, "alone").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("what the old primary took alone survived: %q %v", got, err)
	}
	// Clients take locks from the new primary only.
	for range 20 {
		fc.found = time.Time{}
		if n, err := fc.primary(ctx); err != nil || n.name != "redis2" {
			t.Fatalf("client's primary %v %v, want redis2", n, err)
		}
	}
	op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{HoldNS: 1}})
	if op.Type != core.OK || op.Node != "redis2" {
		t.Fatalf("cycle after the switch-over: %s on %q %q", op.Type, op.Node, op.Error)
	}
}

// TestFailoverClientWithoutAPrimary: when no node says it is primary the
// cycle fails at once (nothing was sent to take a lock) and names why.
func TestFailoverClientWithoutAPrimary(t *testing.T) {
	c, p := startFailover(t)
	ctx := t.Context()
	// Each follows the other: a loop with no primary.
	if err := p.Follow(ctx, "redis1", "redis2"); err != nil {
		t.Fatal(err)
	}
	if prim, members, err := p.Primary(ctx); err != nil || prim != "" || len(members) != 2 {
		t.Fatalf("Primary with none = %q %v %v", prim, members, err)
	}
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadLock, Variant: VariantFailover, Nodes: c.Endpoints(), Process: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{HoldNS: 1}})
	if op.Type != core.Fail || !strings.Contains(op.Error, "no redis node says it is primary") {
		t.Fatalf("cycle with no primary: %s %q", op.Type, op.Error)
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Promote(ctx2, "redis1"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "a cycle once redis1 is primary", func() error {
		op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: lock.Cycle, Key: "l0", Value: lock.CycleRequest{HoldNS: 1}})
		if op.Type != core.OK {
			return fmt.Errorf("%s %q", op.Type, op.Error)
		}
		return nil
	})
}
