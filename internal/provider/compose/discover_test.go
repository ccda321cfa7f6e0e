package compose

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/faultline/faultline/core"
)

// These tests need no engine.

func running() *container.State {
	return &container.State{Status: container.StateRunning, Running: true, StartedAt: "t0"}
}

func ct(service string, number int, net string, ip string) found {
	return found{
		id: service + "-id-" + string(rune('0'+number)), cname: "proj-" + service + "-" + string(rune('0'+number)),
		service: service, number: number, state: running(),
		networks: map[string]netip.Addr{net: netip.MustParseAddr(ip)}, probePort: defaultProbePort,
	}
}

func TestDiscoverNamesNodesAfterServicesAndNumbers(t *testing.T) {
	oneoff := ct("db", 9, "proj_default", "172.20.0.9")
	oneoff.oneoff = true
	cs := []found{
		// Listed out of order: the replica's second container first.
		ct("replica", 2, "proj_default", "172.20.0.4"),
		ct("primary", 1, "proj_default", "172.20.0.2"),
		ct("replica", 1, "proj_default", "172.20.0.3"),
		ct("other", 1, "proj_default", "172.20.0.5"),
		oneoff,
	}
	d, err := discover("proj", []string{"primary", "replica"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range d.nodes {
		got = append(got, n.name+"="+n.networks[d.network].String())
	}
	if want := []string{"primary=172.20.0.2", "replica-1=172.20.0.3", "replica-2=172.20.0.4"}; !slices.Equal(got, want) {
		t.Errorf("nodes %v, want %v", got, want)
	}
	if d.network != "proj_default" {
		t.Errorf("network %q", d.network)
	}
}

func TestDiscoverPicksTheSharedNetwork(t *testing.T) {
	a := ct("a", 1, "proj_back", "10.1.0.2")
	a.networks["proj_default"] = netip.MustParseAddr("10.0.0.2")
	a.networks["proj_front"] = netip.MustParseAddr("10.2.0.2")
	b := ct("b", 1, "proj_back", "10.1.0.3")
	b.networks["proj_front"] = netip.MustParseAddr("10.2.0.3")
	d, err := discover("proj", []string{"a", "b"}, []found{a, b})
	if err != nil {
		t.Fatal(err)
	}
	// The default network is not shared; of the shared ones the first by name.
	if d.network != "proj_back" {
		t.Errorf("network %q, want proj_back", d.network)
	}
	if got := d.nodes[0].ips(); len(got) != 3 {
		t.Errorf("a's addresses %v: a cut must drop every one of them", got)
	}
	b.networks["proj_default"] = netip.MustParseAddr("10.0.0.3")
	if d, _ := discover("proj", []string{"a", "b"}, []found{a, b}); d.network != "proj_default" {
		t.Errorf("network %q, want the project's default network when shared", d.network)
	}
}

func TestDiscoverRefusesWhatItCannotRunOn(t *testing.T) {
	paused := ct("b", 1, "proj_default", "10.0.0.3")
	paused.state = &container.State{Status: container.StatePaused, Running: true, Paused: true}
	exited := ct("b", 1, "proj_default", "10.0.0.3")
	exited.state = &container.State{Status: container.StateExited}
	apart := ct("b", 1, "elsewhere", "10.9.0.3")
	oneoff := ct("a", 1, "proj_default", "10.0.0.2")
	oneoff.oneoff = true
	a := ct("a", 1, "proj_default", "10.0.0.2")
	for _, tc := range []struct {
		name string
		cs   []found
		want string
	}{
		{"no containers", nil, "compose project proj has no containers: start the stack first"},
		{"only one-off containers", []found{oneoff}, "compose project proj has no containers"},
		{"a service without containers", []found{a}, "compose project proj: service b has no containers (services with containers: a)"},
		{"a paused node", []found{a, paused}, "node b (container proj-b-1) is paused"},
		{"a stopped node", []found{a, exited}, "node b (container proj-b-1) is exited, not running"},
		{"no shared network", []found{a, apart}, "its nodes share no network"},
	} {
		_, err := discover("proj", []string{"a", "b"}, tc.cs)
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one bad-input line with %q", tc.name, err, tc.want)
		}
	}
}

func TestPlanChecksTheNames(t *testing.T) {
	nodes, err := Plan("fltest-x", []string{"db", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[1].Name != "web" || nodes[1].Role.Name != "web" {
		t.Errorf("planned %+v", nodes)
	}
	for _, tc := range []struct {
		project  string
		services []string
		want     string
	}{
		{"", []string{"a"}, `compose project ""`},
		{"My Project", []string{"a"}, `compose project "My Project": Compose names projects with lower-case letters`},
		{"p", nil, "no services named"},
		{"p", []string{"a", "a"}, "service a named twice"},
		{"p", []string{"clients"}, `service name "clients" stands for the clients`},
		{"p", []string{"a/b"}, `service name "a/b"`},
	} {
		_, err := Plan(tc.project, tc.services)
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%q, %q): %v; want bad input with %q", tc.project, tc.services, err, tc.want)
		}
	}
}

func TestDescribeReadsHealthAndProbePort(t *testing.T) {
	var in container.InspectResponse
	in.ID, in.Name, in.State = "abc", "/proj-a-1", running()
	in.Config = &container.Config{
		Labels: map[string]string{LabelService: "a", LabelNumber: "3", LabelOneoff: "False"},
	}
	f := describe(in)
	if f.service != "a" || f.number != 3 || f.oneoff || f.health || f.probePort != defaultProbePort || f.cname != "proj-a-1" {
		t.Errorf("described %+v", f)
	}
	in.Config.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
	if describe(in).health {
		t.Error("a disabled healthcheck counts as one")
	}
	in.Config.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "/server", "-health"}}
	if !describe(in).health {
		t.Error("the healthcheck went unnoticed")
	}
	// The probe port is the lowest exposed TCP port.
	in.Config.ExposedPorts = network.PortSet{
		network.MustParsePort("9000/tcp"): {}, network.MustParsePort("53/udp"): {}, network.MustParsePort("8080/tcp"): {},
	}
	if p := describe(in).probePort; p != 8080 {
		t.Errorf("probe port %d, want 8080", p)
	}
}
