package nemesis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
)

// None is the --nemesis value that injects no fault.
const None = "none"

// Kind is one fault kind as `faultline list` shows it.
type Kind struct {
	// Name is the --nemesis name.
	Name string
	// Usage shows the name with its optional argument, as in "kill[=one|minority]".
	Usage string
	// Description is one line for `faultline list`.
	Description string
}

type kind struct {
	Kind
	parse func(arg string, hasArg bool) (Fault, error)
}

func kinds() []kind {
	return []kind{
		{Kind{"partition", "partition[=" + strings.Join(Shapes(), "|") + "|role:R[/role:S]|clients[/role:R]]",
			"cut links; by default node-to-node, each window drawing a shape: random halves, one node isolated, majorities ring, or bridge; role:R cuts role R off from the other nodes (or from role S), clients cuts the clients off from a random node or minority (or from role R)"},
			parsePartition},
		{Kind{"latency", "latency[=LATENCY[/JITTER]]",
			fmt.Sprintf("delay every link in each direction by latency ± jitter (default %v ± %v; jitter defaults to half the latency)", DefaultLatency, DefaultJitter)},
			parseLatency},
		{Kind{"loss", "loss[=FRACTION]",
			fmt.Sprintf("drop a share of the packets on every node-to-node link, in each direction (default %v; loss=0.3 sets it); docker provider only", DefaultLoss)},
			parseLoss},
		{Kind{"kill", "kill[=[role:R,]one|minority|all]",
			"kill a random node or a random minority (SIGKILL), of role R when named, restart it when the window ends"},
			func(arg string, has bool) (Fault, error) {
				s, err := parseSelection("kill", arg, has, PickOneOrMinority)
				return &Kill{Selection: s}, err
			}},
		{Kind{"pause", "pause[=[role:R,]one|minority|all]",
			"pause a random node (SIGSTOP), or a random minority, of role R when named, resume it when the window ends"},
			func(arg string, has bool) (Fault, error) {
				s, err := parseSelection("pause", arg, has, PickOne)
				return &Pause{Selection: s}, err
			}},
		{Kind{"client-pause", "client-pause[=DURATION]",
			fmt.Sprintf("stall every client that reaches its stall point (a lock holder between reading the resource and writing it back, a postgres bank client between reading balances and writing them back) for DURATION, as a GC pause does (default %v); targets and workloads whose clients have a stall point only", DefaultClientPause)},
			parseClientPause},
		{Kind{"failover", "failover[=" + FailoverIsolate + "|" + FailoverKill + "]",
			fmt.Sprintf("lose the primary as a failover manager would: cut it off from its replicas, let it take writes they never see for %v, promote a replica, then leave the old primary running (isolate: clients still on it write there) or kill it (kill); by default each window draws one; targets with a primary and replicas only (redis-lock's failover variant, postgres with --nodes 2)", DefaultFailoverLag)},
			parseFailover},
	}
}

// Kinds lists the fault kinds --nemesis accepts, in a fixed order.
func Kinds() []Kind {
	var out []Kind
	for _, k := range kinds() {
		out = append(out, k.Kind)
	}
	return out
}

func kindNames() string {
	names := []string{None}
	for _, k := range kinds() {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// Parse turns a --nemesis value into fresh faults, in list order: "none"
// gives an empty slice, otherwise a comma list of kinds, each optionally
// with an argument after "=" (see Kinds for the forms). An argument may hold
// commas itself ("pause=role:redis,one,kill"): an entry that names no kind
// continues the argument before it. Every error wraps core.ErrBadInput and
// lists the valid choices.
func Parse(list string) ([]Fault, error) {
	list = strings.TrimSpace(list)
	if list == None {
		return []Fault{}, nil
	}
	if list == "" {
		return nil, core.BadInput("empty --nemesis list; use %q or a comma list of: %s", None, kindNames())
	}
	var out []Fault
	var seen []string
	for _, item := range splitItems(list) {
		name, arg, hasArg := strings.Cut(item, "=")
		switch {
		case item == "":
			return nil, core.BadInput("empty entry in --nemesis %q; valid: %s", list, kindNames())
		case name == None:
			return nil, core.BadInput("--nemesis %q: %q cannot be combined with faults", list, None)
		case slices.Contains(seen, name):
			return nil, core.BadInput("--nemesis %q names %s twice", list, name)
		}
		i := slices.IndexFunc(kinds(), func(k kind) bool { return k.Name == name })
		if i < 0 {
			return nil, core.BadInput("unknown nemesis %q; valid: %s", name, kindNames())
		}
		f, err := kinds()[i].parse(arg, hasArg)
		if err != nil {
			return nil, err
		}
		seen = append(seen, name)
		out = append(out, f)
	}
	return out, nil
}

// splitItems splits a --nemesis list at commas, joining an entry that names
// no kind (and has no "=") to the argument of the entry before it.
func splitItems(list string) []string {
	var out []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		name, _, hasArg := strings.Cut(item, "=")
		known := name == None || slices.ContainsFunc(kinds(), func(k kind) bool { return k.Name == name })
		if !hasArg && !known && item != "" && len(out) > 0 && strings.Contains(out[len(out)-1], "=") {
			out[len(out)-1] += "," + item
			continue
		}
		out = append(out, item)
	}
	return out
}

func parsePartition(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Partition{}, nil
	}
	if slices.Contains(Shapes(), arg) {
		return &Partition{Shapes: []string{arg}}, nil
	}
	bad := func() error {
		return core.BadInput("partition=%s: valid forms: a shape (%s), role:R, role:R/role:S, clients, clients/role:R", arg, strings.Join(Shapes(), ", "))
	}
	first, second, two := strings.Cut(arg, "/")
	p := &Partition{}
	switch {
	case first == ShapeClients:
		p.Clients = true
		if two {
			r, ok := strings.CutPrefix(second, "role:")
			if !ok || !validRole(r) {
				return nil, bad()
			}
			p.Role = r
		}
	case strings.HasPrefix(first, "role:"):
		p.Role = strings.TrimPrefix(first, "role:")
		if !validRole(p.Role) {
			return nil, bad()
		}
		if two {
			r, ok := strings.CutPrefix(second, "role:")
			if !ok || !validRole(r) {
				return nil, bad()
			}
			if r == p.Role {
				return nil, core.BadInput("partition=%s cuts a role from itself", arg)
			}
			p.Against = r
		}
	default:
		return nil, bad()
	}
	return p, nil
}

// validRole reports whether r may be a role name.
func validRole(r string) bool {
	if r == "" || len(r) > 31 || r[0] < 'a' || r[0] > 'z' {
		return false
	}
	for _, ch := range r {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return r != Clients
}

func parseLatency(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Latency{Latency: DefaultLatency, Jitter: DefaultJitter}, nil
	}
	latS, jitS, hasJitter := strings.Cut(arg, "/")
	lat, err := time.ParseDuration(latS)
	if err != nil || lat <= 0 {
		return nil, core.BadInput("latency %q: want a positive Go duration such as 100ms, optionally /JITTER", arg)
	}
	jit := lat / 2
	if hasJitter {
		jit, err = time.ParseDuration(jitS)
		if err != nil || jit < 0 || jit > lat {
			return nil, core.BadInput("latency %q: jitter must be a Go duration between 0 and the latency", arg)
		}
	}
	return &Latency{Latency: lat, Jitter: jit}, nil
}

func parseClientPause(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &ClientPause{Duration: DefaultClientPause}, nil
	}
	d, err := time.ParseDuration(arg)
	if err != nil || d <= 0 || d > time.Hour {
		return nil, core.BadInput("client-pause=%s: want a positive Go duration up to an hour, such as 2s", arg)
	}
	return &ClientPause{Duration: d}, nil
}

func parseFailover(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Failover{}, nil
	}
	if arg != FailoverIsolate && arg != FailoverKill {
		return nil, core.BadInput("failover=%s: valid: %s, %s (or no argument to draw one each window)", arg, FailoverIsolate, FailoverKill)
	}
	return &Failover{Mode: arg}, nil
}

func parseLoss(arg string, hasArg bool) (Fault, error) {
	if !hasArg {
		return &Loss{Fraction: DefaultLoss}, nil
	}
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1 {
		return nil, core.BadInput("loss %q: want a fraction of packets above 0 and at most 1, such as 0.3", arg)
	}
	return &Loss{Fraction: f}, nil
}

// parseSelection reads a kill or pause argument: comma-separated parts,
// at most one role:R and at most one of one, minority, all.
func parseSelection(fault, arg string, hasArg bool, def Pick) (Selection, error) {
	s := Selection{Nodes: def}
	if !hasArg {
		return s, nil
	}
	bad := func(why string) error {
		return core.BadInput("%s=%s: %s; valid: %s, %s, %s, each optionally with role:R (as in role:R,%s)", fault, arg, why, PickOne, PickMinority, PickAll, PickOne)
	}
	var role, count bool
	for _, part := range strings.Split(arg, ",") {
		part = strings.TrimSpace(part)
		switch t := Pick(part); {
		case t == PickOne || t == PickMinority || t == PickAll:
			if count {
				return s, bad("more than one count")
			}
			s.Nodes, count = t, true
		case strings.HasPrefix(part, "role:"):
			r := strings.TrimPrefix(part, "role:")
			if role {
				return s, bad("more than one role")
			}
			if !validRole(r) {
				return s, bad(fmt.Sprintf("bad role name %q", r))
			}
			s.Role, role = r, true
		default:
			return s, bad(fmt.Sprintf("unknown part %q", part))
		}
	}
	return s, nil
}
