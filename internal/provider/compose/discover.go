package compose

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// Compose's own labels, which Compose v1 (docker-compose) and v2 (docker
// compose) both put on every container of a project.
const (
	// LabelProject holds the project name.
	LabelProject = "com.docker.compose.project"
	// LabelService holds the service name.
	LabelService = "com.docker.compose.service"
	// LabelNumber holds the container's number within its service, from 1.
	LabelNumber = "com.docker.compose.container-number"
	// LabelOneoff is "True" on the containers of `compose run`, which are
	// never nodes.
	LabelOneoff = "com.docker.compose.oneoff"
)

// projectName is what Compose accepts as a project name (v2's rule; v1
// lower-cases a name and drops other characters before it labels
// anything).
var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// serviceName is what Compose accepts as a service name.
var serviceName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// Plan checks a Compose stack's names and returns the nodes a run of it
// is validated with, before anything is asked of the engine: one node per
// service, named after it, of the role named after it. The running stack
// may have several containers for a service; Start names those nodes
// service-N. Errors wrap core.ErrBadInput.
func Plan(project string, services []string) ([]targets.Node, error) {
	if !projectName.MatchString(project) {
		return nil, core.BadInput("compose project %q: Compose names projects with lower-case letters, digits, '-' and '_', starting with a letter or digit", project)
	}
	if len(services) == 0 {
		return nil, core.BadInput("compose project %s: no services named: name the services whose containers are nodes", project)
	}
	if len(services) > lifecycle.MaxNodes {
		return nil, core.BadInput("compose project %s: at most %d services, got %d", project, lifecycle.MaxNodes, len(services))
	}
	seen := map[string]bool{}
	var out []targets.Node
	for _, s := range services {
		switch {
		case !serviceName.MatchString(s):
			return nil, core.BadInput("compose project %s: service name %q: Compose names services with letters, digits, '.', '_' and '-'", project, s)
		case s == nemesis.Clients:
			return nil, core.BadInput("compose project %s: service name %q stands for the clients in a partition; rename the service", project, s)
		case seen[s]:
			return nil, core.BadInput("compose project %s: service %s named twice", project, s)
		}
		seen[s] = true
		out = append(out, targets.Node{Name: s, Role: targets.Role{Name: s, Count: 1}})
	}
	return out, nil
}

// found is one container of the project as the engine describes it.
type found struct {
	id, cname string // container id and name
	service   string
	number    int
	oneoff    bool
	state     *container.State
	networks  map[string]netip.Addr // network name -> IPv4 address
	health    bool                  // it has a healthcheck
	probePort int
}

// describe turns an inspected container into a found.
func describe(in container.InspectResponse) found {
	f := found{id: in.ID, cname: strings.TrimPrefix(in.Name, "/"), state: in.State, networks: map[string]netip.Addr{}, probePort: defaultProbePort}
	var labels map[string]string
	if in.Config != nil {
		labels = in.Config.Labels
		if hc := in.Config.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
			f.health = true
		}
		var ports []int
		for p := range in.Config.ExposedPorts {
			if p.Proto() == "tcp" {
				ports = append(ports, int(p.Num()))
			}
		}
		if len(ports) > 0 {
			f.probePort = slices.Min(ports)
		}
	}
	if in.State != nil && in.State.Health != nil {
		f.health = true
	}
	f.service = labels[LabelService]
	f.number, _ = strconv.Atoi(labels[LabelNumber])
	f.oneoff = strings.EqualFold(labels[LabelOneoff], "true")
	if in.NetworkSettings != nil {
		for name, ep := range in.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress.Is4() {
				f.networks[name] = ep.IPAddress
			}
		}
	}
	return f
}

// ips returns f's IPv4 addresses on every network, sorted.
func (f found) ips() []netip.Addr {
	out := make([]netip.Addr, 0, len(f.networks))
	for _, a := range f.networks {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// discovered is the stack as Start found it: its nodes in cluster order and
// the network they are addressed on.
type discovered struct {
	nodes   []discoveredNode
	network string
}

type discoveredNode struct {
	name string
	found
}

// discover picks the nodes of project among its containers cs: the
// containers of each service of services (in that order; one-off
// containers of `compose run` left out), named after the service, or
// service-N (Compose's container number) for a service with several; and
// the network they share, on which peers and clients address them: the
// only one, or the project's default network (<project>_default), or the
// first by name. A project without containers, a service without any, a
// node that is not running or is paused, or nodes without a common
// network are bad input.
func discover(project string, services []string, cs []found) (discovered, error) {
	var d discovered
	bySvc := map[string][]found{}
	have := map[string]bool{}
	for _, c := range cs {
		if c.oneoff {
			continue
		}
		have[c.service] = true
		bySvc[c.service] = append(bySvc[c.service], c)
	}
	if len(have) == 0 {
		return d, core.BadInput("compose project %s has no containers: start the stack first (docker compose -p %s up -d)", project, project)
	}
	names := map[string]bool{}
	for _, s := range services {
		list := bySvc[s]
		if len(list) == 0 {
			var there []string
			for h := range have {
				there = append(there, h)
			}
			slices.Sort(there)
			return d, core.BadInput("compose project %s: service %s has no containers (services with containers: %s)", project, s, strings.Join(there, ", "))
		}
		slices.SortFunc(list, func(a, b found) int {
			return cmp.Or(cmp.Compare(a.number, b.number), strings.Compare(a.cname, b.cname))
		})
		for _, c := range list {
			name := s
			if len(list) > 1 {
				name = fmt.Sprintf("%s-%d", s, c.number)
			}
			if names[name] {
				return d, core.BadInput("compose project %s: two nodes would be called %s; rename a service", project, name)
			}
			names[name] = true
			d.nodes = append(d.nodes, discoveredNode{name: name, found: c})
		}
	}
	if len(d.nodes) > lifecycle.MaxNodes {
		return d, core.BadInput("compose project %s: at most %d nodes, the services named have %d containers", project, lifecycle.MaxNodes, len(d.nodes))
	}
	for _, n := range d.nodes {
		switch st := n.state; {
		case st == nil:
			return d, core.BadInput("compose project %s: node %s (container %s) has no state", project, n.name, n.cname)
		case st.Paused:
			return d, core.BadInput("compose project %s: node %s (container %s) is paused: every node must be running, unpaused, when the run begins", project, n.name, n.cname)
		case !st.Running:
			return d, core.BadInput("compose project %s: node %s (container %s) is %s, not running: every node must be running when the run begins", project, n.name, n.cname, st.Status)
		}
	}
	// The networks every node is on.
	var common []string
	for name := range d.nodes[0].networks {
		if !slices.ContainsFunc(d.nodes, func(n discoveredNode) bool { _, ok := n.networks[name]; return !ok }) {
			common = append(common, name)
		}
	}
	slices.Sort(common)
	switch {
	case len(common) == 0:
		return d, core.BadInput("compose project %s: its nodes share no network with an IPv4 address; faultline addresses peers on a network they share", project)
	case slices.Contains(common, project+"_default"):
		d.network = project + "_default"
	default:
		d.network = common[0]
	}
	return d, nil
}
