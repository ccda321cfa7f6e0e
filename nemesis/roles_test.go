package nemesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

// rolesFake is a fake cluster of a coordinator and three participants.
func rolesFake() *fakeCluster {
	f := &fakeCluster{
		nodes:  []string{"coordinator", "participant1", "participant2", "participant3"},
		failOn: map[string]bool{},
	}
	f.roles = map[string][]string{"coordinator": {"coordinator"}, "participant": {"participant1", "participant2", "participant3"}}
	return f
}

// bareCluster has nodes and roles and no capability at all.
type bareCluster struct{}

func (bareCluster) Nodes() []string            { return []string{"n1", "n2", "n3"} }
func (bareCluster) Roles() map[string][]string { return map[string][]string{"kv": {"n1", "n2", "n3"}} }

func TestParseRoleForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"kill=role:coordinator", "kill role:coordinator"},
		{"pause=role:redis,one", "pause role:redis,one"},
		{"pause=role:redis,one,kill", "pause role:redis,one | kill "},
		{"kill=all,role:participant,partition", "kill role:participant,all | partition "},
		{"kill=minority", "kill minority"},
		{"partition=role:coordinator", "partition role:coordinator"},
		{"partition=role:redis/role:resource", "partition role:redis/role:resource"},
		{"partition=clients", "partition clients"},
		{"partition=clients/role:coordinator,latency", "partition clients/role:coordinator | latency "},
	} {
		fs, err := nemesis.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Name()+" "+describe(f))
		}
		if strings.Join(got, " | ") != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, strings.Join(got, " | "), tc.want)
		}
	}
	for _, in := range []string{
		"kill=role:", "kill=role:Bad", "kill=role:a,role:b", "kill=one,minority", "pause=role:a,most",
		"partition=role:a/role:a", "partition=role:a/b", "partition=clients/x", "partition=role:clients",
		"partition=nodes", "kill=role:a,,one", "one,kill",
	} {
		if _, err := nemesis.Parse(in); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("Parse(%q) = %v, want bad input", in, err)
		}
	}
}

// describe gives a fault's selection as the tests compare it.
func describe(f nemesis.Fault) string {
	switch f := f.(type) {
	case *nemesis.Kill:
		return f.Selection.String()
	case *nemesis.Pause:
		return f.Selection.String()
	case *nemesis.Partition:
		var s string
		switch {
		case f.Clients:
			s = "clients"
			if f.Role != "" {
				s += "/role:" + f.Role
			}
		case f.Role != "":
			s = "role:" + f.Role
			if f.Against != "" {
				s += "/role:" + f.Against
			}
		default:
			s = strings.Join(f.Shapes, ",")
		}
		return s
	}
	return ""
}

func TestKillAndPauseByRole(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 20; i++ {
		f := rolesFake()
		k := &nemesis.Kill{Selection: nemesis.Selection{Role: "participant"}}
		v, err := k.Start(t.Context(), f, rng)
		if err != nil {
			t.Fatal(err)
		}
		nodes := v.(nemesis.NodesValue).Nodes
		if len(nodes) != 1 || !strings.HasPrefix(nodes[0], "participant") {
			t.Fatalf("kill=role:participant killed %v; want one participant (a minority of three is one)", nodes)
		}
	}
	f := rolesFake()
	k := &nemesis.Kill{Selection: nemesis.Selection{Role: "coordinator"}}
	if v, err := k.Start(t.Context(), f, rng); err != nil || !slices.Equal(v.(nemesis.NodesValue).Nodes, []string{"coordinator"}) {
		t.Fatalf("kill=role:coordinator: %v, %v", v, err)
	}
	if _, err := k.Stop(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	if got := f.Calls(); !slices.Equal(got, []string{"kill coordinator", "restart coordinator"}) {
		t.Fatalf("calls %v", got)
	}
	p := &nemesis.Pause{Selection: nemesis.Selection{Role: "participant", Nodes: nemesis.PickAll}}
	v, err := p.Start(t.Context(), f, rng)
	if err != nil || !slices.Equal(v.(nemesis.NodesValue).Nodes, []string{"participant1", "participant2", "participant3"}) {
		t.Fatalf("pause=role:participant,all: %v, %v", v, err)
	}
	bad := &nemesis.Pause{Selection: nemesis.Selection{Role: "redis", Nodes: nemesis.PickOne}}
	if err := nemesis.Available(bad, f); !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), "coordinator, participant") {
		t.Fatalf("pause of a missing role: %v; want bad input naming the roles", err)
	}
}

func TestPartitionRolesAndClients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	grudge := func(p *nemesis.Partition) nemesis.PartitionValue {
		t.Helper()
		f := rolesFake()
		if err := nemesis.Available(p, f); err != nil {
			t.Fatalf("Available: %v", err)
		}
		v, err := p.Start(t.Context(), f, rng)
		if err != nil {
			t.Fatal(err)
		}
		pv := v.(nemesis.PartitionValue)
		// The cluster got the same grudge the history records.
		b, _ := json.Marshal(pv.Grudge)
		if !slices.Contains(f.Calls(), "grudge "+string(b)) {
			t.Fatalf("cluster calls %v lack grudge %s", f.Calls(), b)
		}
		return pv
	}
	v := grudge(&nemesis.Partition{Role: "coordinator"})
	if v.Shape != nemesis.ShapeRole || !slices.Equal(v.Grudge["coordinator"], []string{"participant1", "participant2", "participant3"}) ||
		!slices.Equal(v.Grudge["participant2"], []string{"coordinator"}) {
		t.Fatalf("role:coordinator grudge %v", v)
	}
	v = grudge(&nemesis.Partition{Role: "participant", Against: "coordinator"})
	if len(v.Grudge["participant1"]) != 1 || v.Grudge["participant1"][0] != "coordinator" {
		t.Fatalf("role:participant/role:coordinator grudge %v", v)
	}
	v = grudge(&nemesis.Partition{Clients: true, Role: "coordinator"})
	if v.Shape != nemesis.ShapeClients || !slices.Equal(v.Grudge[nemesis.Clients], []string{"coordinator"}) ||
		!slices.Equal(v.Grudge["coordinator"], []string{nemesis.Clients}) || len(v.Grudge) != 2 {
		t.Fatalf("clients/role:coordinator grudge %v", v)
	}
	for i := 0; i < 10; i++ {
		v = grudge(&nemesis.Partition{Clients: true})
		cut := v.Grudge[nemesis.Clients]
		if n := len(cut); n < 1 || n > 1 { // one, or a minority of four: one
			t.Fatalf("clients grudge %v cuts %d nodes", v.Grudge, n)
		}
	}
	f := rolesFake()
	for _, p := range []*nemesis.Partition{{Role: "nobody"}, {Role: "coordinator", Against: "nobody"}, {Clients: true, Role: "nobody"}} {
		if err := nemesis.Available(p, f); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("Available(%+v) = %v, want bad input", *p, err)
		}
	}
	// A role that holds every node cannot be cut from the rest.
	if err := nemesis.Available(&nemesis.Partition{Role: "node"}, newFake(3)); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("partition of the only role: %v", err)
	}
}

func TestCapabilitiesAreAsserted(t *testing.T) {
	faults, err := nemesis.Parse("partition,latency,loss,kill,pause")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if err := nemesis.Available(f, bareCluster{}); !errors.Is(err, nemesis.ErrUnsupported) {
			t.Errorf("%s on a cluster without the capability: Available = %v, want ErrUnsupported", f.Name(), err)
		}
		if _, err := f.Start(context.Background(), bareCluster{}, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, nemesis.ErrUnsupported) {
			t.Errorf("%s on a cluster without the capability: Start = %v, want ErrUnsupported", f.Name(), err)
		}
		if err := nemesis.Available(f, newFake(3)); err != nil {
			t.Errorf("%s on a cluster with every capability: %v", f.Name(), err)
		}
	}
}
