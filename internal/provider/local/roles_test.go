package local

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// TestRolesPartitionAndKill starts a head and two workers and acts on them
// by role through the nemesis faults: the head cut off from the workers,
// the clients cut off from the head, every worker killed and restarted.
func TestRolesPartitionAndKill(t *testing.T) {
	c, err := Start(t.Context(), testConfig(t, 2, "roles"))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeAndCheck(t, c) })
	if got := strings.Join(c.Nodes(), " "); got != "head worker1 worker2" {
		t.Fatalf("nodes %q", got)
	}
	roles := c.Roles()
	if !slices.Equal(roles["head"], []string{"head"}) || !slices.Equal(roles["worker"], []string{"worker1", "worker2"}) {
		t.Fatalf("roles %v", roles)
	}
	eps := map[string]targets.Endpoint{}
	for _, e := range c.Endpoints() {
		eps[e.Name] = e
	}
	if eps["worker2"].Role != "worker" || eps["head"].Role != "head" || eps["head"].Addr == "" {
		t.Fatalf("endpoints %v", c.Endpoints())
	}
	if cfg, _ := c.NodeConfig("worker1"); cfg.Role != "worker" || !slices.Equal(cfg.Roles["head"], []string{"head"}) {
		t.Fatalf("worker1's config: role %q roles %v", cfg.Role, cfg.Roles)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	// peer asks node from, through the client link, to reach node to
	// through its own link.
	peer := func(from, to string) string {
		resp, err := request(eps[from].Addr, "peer "+to, okWait)
		if err != nil {
			return "err " + err.Error()
		}
		return resp
	}

	// Role from role: the head cannot reach the workers, nor they it; the
	// workers still reach each other.
	p := &nemesis.Partition{Role: "head"}
	if err := nemesis.Available(p, c); err != nil {
		t.Fatal(err)
	}
	v, err := p.Start(t.Context(), c, rng)
	if err != nil {
		t.Fatalf("partition role:head: %v", err)
	}
	t.Logf("grudge %v", v)
	for _, pair := range [][2]string{{"head", "worker1"}, {"worker2", "head"}} {
		if got := peer(pair[0], pair[1]); strings.HasPrefix(got, "ok") {
			t.Errorf("%s reached %s across the partition: %q", pair[0], pair[1], got)
		}
	}
	if got := peer("worker1", "worker2"); got != "ok hello" {
		t.Errorf("worker1 to worker2 inside one side: %q", got)
	}
	if _, err := p.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got := peer("head", "worker1"); got != "ok hello" {
		t.Errorf("head to worker1 after heal: %q", got)
	}

	// Clients from a role: the head's client link is cut, the workers'
	// are not.
	p = &nemesis.Partition{Clients: true, Role: "head"}
	if _, err := p.Start(t.Context(), c, rng); err != nil {
		t.Fatalf("partition clients/role:head: %v", err)
	}
	if resp, err := request(eps["head"].Addr, "ping", shortWait); err == nil {
		t.Errorf("client reached the head across the cut: %q", resp)
	}
	if resp, err := request(eps["worker1"].Addr, "ping", okWait); err != nil || resp != "ok" {
		t.Errorf("client to worker1: %q, %v", resp, err)
	}
	if got := peer("worker1", "head"); got != "ok hello" {
		t.Errorf("node-to-node link cut by a client partition: %q", got)
	}
	if _, err := p.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if resp, err := request(eps["head"].Addr, "ping", okWait); err != nil || resp != "ok" {
		t.Errorf("client to head after heal: %q, %v", resp, err)
	}

	// Every worker killed, the head untouched.
	before := c.pids()
	k := &nemesis.Kill{Selection: nemesis.Selection{Role: "worker", Nodes: nemesis.PickAll}}
	kv, err := k.Start(t.Context(), c, rng)
	if err != nil {
		t.Fatalf("kill=role:worker,all: %v", err)
	}
	if got := kv.(nemesis.NodesValue).Nodes; !slices.Equal(got, []string{"worker1", "worker2"}) {
		t.Fatalf("killed %v", got)
	}
	if resp, err := request(eps["head"].Addr, "ping", okWait); err != nil || resp != "ok" {
		t.Errorf("head while the workers are down: %q, %v", resp, err)
	}
	if _, err := request(eps["worker1"].Addr, "ping", shortWait); err == nil {
		t.Error("worker1 answers after its kill")
	}
	if _, err := k.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	after := c.pids()
	if before[0] != after[0] || before[1] == after[1] || before[2] == after[2] {
		t.Errorf("pids before %v after %v: want the head's kept and the workers' new", before, after)
	}
	if err := c.HealAll(t.Context()); err != nil {
		t.Fatal(err)
	}
}
