package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
)

// The partition shapes.
const (
	ShapeHalves         = "halves"          // two random halves
	ShapeIsolate        = "isolate"         // one random node cut off
	ShapeMajoritiesRing = "majorities-ring" // each node sees a different majority
	ShapeBridge         = "bridge"          // two sides joined by one node
)

// Shapes lists the partition shapes in the order Partition draws from.
func Shapes() []string {
	return []string{ShapeHalves, ShapeIsolate, ShapeMajoritiesRing, ShapeBridge}
}

// minNodes is the smallest cluster on which a shape cuts something.
func minNodes(shape string) int {
	switch shape {
	case ShapeMajoritiesRing:
		return 4
	case ShapeBridge:
		return 3
	}
	return 2
}

// Partition is the partition fault. By default each window draws one shape
// with the rng among Shapes (or among its own Shapes when set), skipping
// shapes that cut nothing on this many nodes, builds the grudge over a
// shuffled node list and applies it. With Role set it cuts that role's
// nodes off from Against's nodes (every other node when Against is empty);
// with Clients set it cuts the clients off from Role's nodes, or, without a
// Role, from one random node or a random minority each window. A Partition
// serves one window at a time.
type Partition struct {
	// Shapes restricts the shapes drawn; empty means every shape.
	Shapes []string
	// Role, when set, names the role whose nodes are cut off.
	Role string
	// Against, with Role, names the role Role is cut from; empty means
	// every node outside Role.
	Against string
	// Clients cuts the clients off from nodes instead of nodes from nodes.
	Clients bool

	open *PartitionValue
}

// The shapes of role and client partitions, as PartitionValue.Shape says.
const (
	ShapeRole    = "role"    // one role cut off from the rest, or from another role
	ShapeClients = "clients" // the clients cut off from some nodes
)

// PartitionValue describes a partition window: its shape and, for each
// node (and Clients), the nodes it cannot reach.
type PartitionValue struct {
	Shape  string `json:"shape"`
	Grudge Grudge `json:"grudge"`
}

var (
	_ Fault        = (*Partition)(nil)
	_ Availability = (*Partition)(nil)
)

// Name returns "partition".
func (p *Partition) Name() string { return "partition" }

// Available checks that c can cut links and that the partition cuts
// something on it: the roles it names exist (and differ), a shape fits.
func (p *Partition) Available(c Cluster) error {
	if _, err := capability[Partitioner](c, "partition"); err != nil {
		return err
	}
	_, err := p.plan(c)
	return err
}

// plan returns the node groups the partition acts on: the nodes shapes are
// drawn over, or the two sides of a role or client cut.
func (p *Partition) plan(c Cluster) (sides [2][]string, err error) {
	nodes := c.Nodes()
	roles := c.Roles()
	if p.Role != "" {
		a, err := roleNodes("partition", roles, p.Role)
		if err != nil {
			return sides, err
		}
		if p.Clients {
			return [2][]string{{Clients}, a}, nil
		}
		b := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return slices.Contains(a, n) })
		if p.Against != "" {
			if p.Against == p.Role {
				return sides, core.BadInput("partition=role:%s/role:%s cuts a role from itself", p.Role, p.Against)
			}
			if b, err = roleNodes("partition", roles, p.Against); err != nil {
				return sides, err
			}
		}
		if len(b) == 0 {
			return sides, core.BadInput("partition=role:%s: every node has that role, so nothing is left to cut it from", p.Role)
		}
		return [2][]string{a, b}, nil
	}
	if p.Clients {
		if len(nodes) == 0 {
			return sides, errors.New("partition: the cluster has no nodes")
		}
		return [2][]string{{Clients}, nodes}, nil
	}
	if len(p.shapes(len(nodes))) == 0 {
		return sides, core.BadInput("partition: no shape among %v cuts a cluster of %d node(s); it needs at least %d nodes", p.shapesOrAll(), len(nodes), minShapeNodes(p.shapesOrAll()))
	}
	return [2][]string{nodes}, nil
}

// minShapeNodes is the smallest cluster on which one of shapes cuts
// something.
func minShapeNodes(shapes []string) int {
	least := 0
	for _, s := range shapes {
		if m := minNodes(s); least == 0 || m < least {
			least = m
		}
	}
	return least
}

func (p *Partition) shapes(n int) []string {
	return slices.DeleteFunc(slices.Clone(p.shapesOrAll()), func(s string) bool { return n < minNodes(s) })
}

// Start draws a shape (or the nodes of a client cut) and cuts the cluster
// along it. It returns a PartitionValue, also when Partition fails (the
// links may be partly cut; Stop heals them). It fails on a cluster without
// the Partitioner capability or where it cuts nothing.
func (p *Partition) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	pt, err := capability[Partitioner](c, "partition")
	if err != nil {
		return nil, err
	}
	sides, err := p.plan(c)
	if err != nil {
		return nil, err
	}
	nodes := c.Nodes()
	var v *PartitionValue
	switch {
	case p.Clients && p.Role == "":
		picked, err := PickOneOrMinority.pick(rng, sides[1])
		if err != nil {
			return nil, err
		}
		v = &PartitionValue{Shape: ShapeClients, Grudge: Complete([]string{Clients}, picked)}
	case p.Clients:
		v = &PartitionValue{Shape: ShapeClients, Grudge: Complete(sides[0], sides[1])}
	case p.Role != "":
		v = &PartitionValue{Shape: ShapeRole, Grudge: Complete(sides[0], sides[1])}
	default:
		shapes := p.shapes(len(nodes))
		shape := shapes[rng.IntN(len(shapes))]
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var g Grudge
		switch shape {
		case ShapeHalves:
			g = Halves(shuffled)
		case ShapeIsolate:
			g = Isolate(nodes, shuffled[0])
		case ShapeMajoritiesRing:
			g = MajoritiesRing(shuffled)
		case ShapeBridge:
			g = Bridge(shuffled)
		default:
			return nil, fmt.Errorf("partition: unknown shape %q", shape)
		}
		v = &PartitionValue{Shape: shape, Grudge: g}
	}
	v.Grudge = inOrder(v.Grudge, append([]string{Clients}, nodes...))
	p.open = v
	if err := pt.Partition(ctx, v.Grudge); err != nil {
		return *v, fmt.Errorf("partition %s: %w", v.Shape, err)
	}
	return *v, nil
}

func (p *Partition) shapesOrAll() []string {
	if len(p.Shapes) > 0 {
		return p.Shapes
	}
	return Shapes()
}

// Stop heals the partition and returns the PartitionValue it healed (an
// empty one when no window was open). It heals even when Start failed.
func (p *Partition) Stop(ctx context.Context, c Cluster) (any, error) {
	v := PartitionValue{}
	if p.open != nil {
		v = *p.open
	}
	pt, err := capability[Partitioner](c, "partition")
	if err != nil {
		return v, err
	}
	if err := pt.HealPartition(ctx); err != nil {
		return v, fmt.Errorf("heal partition: %w", err)
	}
	p.open = nil
	return v, nil
}

// roleNodes returns the nodes of role, or an error naming the roles there
// are.
func roleNodes(fault string, roles map[string][]string, role string) ([]string, error) {
	if ns := roles[role]; len(ns) > 0 {
		return slices.Clone(ns), nil
	}
	names := make([]string, 0, len(roles))
	for r := range roles {
		names = append(names, r)
	}
	slices.Sort(names)
	return nil, core.BadInput("%s: this cluster has no role %q (its roles: %s)", fault, role, strings.Join(names, ", "))
}

// Default latency fault values.
const (
	DefaultLatency = 100 * time.Millisecond
	DefaultJitter  = 50 * time.Millisecond
)

// Latency is the latency fault: each window adds Latency ± Jitter to every
// link in each direction.
type Latency struct {
	// Latency is the delay added to each direction of each link.
	Latency time.Duration
	// Jitter varies the delay uniformly within ±Jitter; at most Latency.
	Jitter time.Duration
}

// LatencyValue describes a latency window, with Go duration strings. Via
// says how the latency was injected, when the cluster reports it (see
// MechanismReporter).
type LatencyValue struct {
	Latency string `json:"latency"`
	Jitter  string `json:"jitter"`
	Via     string `json:"via,omitempty"`
}

var _ Fault = (*Latency)(nil)

// Name returns "latency".
func (l *Latency) Name() string { return "latency" }

func (l *Latency) value(c Cluster) LatencyValue {
	return LatencyValue{Latency: l.Latency.String(), Jitter: l.Jitter.String(), Via: mechanism(c, l.Name())}
}

var _ Availability = (*Latency)(nil)

// Available checks that c can delay traffic.
func (l *Latency) Available(c Cluster) error {
	_, err := capability[LatencyInjector](c, "latency")
	return err
}

// Start adds the latency; it draws nothing from rng.
func (l *Latency) Start(ctx context.Context, c Cluster, _ *rand.Rand) (any, error) {
	li, err := capability[LatencyInjector](c, "latency")
	if err != nil {
		return nil, err
	}
	if err := li.SetLatency(ctx, l.Latency, l.Jitter); err != nil {
		return l.value(c), fmt.Errorf("latency: %w", err)
	}
	return l.value(c), nil
}

// Stop removes the latency.
func (l *Latency) Stop(ctx context.Context, c Cluster) (any, error) {
	v := l.value(c)
	li, err := capability[LatencyInjector](c, "latency")
	if err != nil {
		return v, err
	}
	if err := li.ClearLatency(ctx); err != nil {
		return v, fmt.Errorf("clear latency: %w", err)
	}
	return v, nil
}

// mechanism asks c how it injected fault kind, when it can say.
func mechanism(c Cluster, kind string) string {
	if m, ok := capabilityOf[MechanismReporter](c); ok {
		return m.FaultMechanism(kind)
	}
	return ""
}

// DefaultLoss is the share of packets the loss fault drops by default.
const DefaultLoss = 0.2

// Loss is the packet loss fault: each window drops each packet on every
// node-to-node link, in each direction, with probability Fraction.
type Loss struct {
	// Fraction is the probability that a packet is dropped, in (0, 1].
	Fraction float64
}

// LossValue describes a loss window.
type LossValue struct {
	Fraction float64 `json:"fraction"`
	Via      string  `json:"via,omitempty"`
}

var _ Fault = (*Loss)(nil)

// Name returns "loss".
func (l *Loss) Name() string { return "loss" }

func (l *Loss) value(c Cluster) LossValue {
	return LossValue{Fraction: l.Fraction, Via: mechanism(c, l.Name())}
}

var _ Availability = (*Loss)(nil)

// Available checks that c can drop packets.
func (l *Loss) Available(c Cluster) error {
	_, err := capability[LossInjector](c, "loss")
	return err
}

// Start makes the links lossy; it draws nothing from rng. On a cluster
// that cannot drop packets it fails with an error wrapping ErrUnsupported.
func (l *Loss) Start(ctx context.Context, c Cluster, _ *rand.Rand) (any, error) {
	li, err := capability[LossInjector](c, "loss")
	if err != nil {
		return nil, err
	}
	if err := li.SetLoss(ctx, l.Fraction); err != nil {
		return l.value(c), fmt.Errorf("loss: %w", err)
	}
	return l.value(c), nil
}

// Stop removes the loss.
func (l *Loss) Stop(ctx context.Context, c Cluster) (any, error) {
	v := l.value(c)
	li, err := capability[LossInjector](c, "loss")
	if err != nil {
		return v, err
	}
	if err := li.ClearLoss(ctx); err != nil {
		return v, fmt.Errorf("clear loss: %w", err)
	}
	return v, nil
}

// Pick says how many nodes a kill or pause window acts on.
type Pick string

// The picks.
const (
	// PickOne picks one random node.
	PickOne Pick = "one"
	// PickMinority picks a random minority: (n-1)/2 nodes, at least one.
	PickMinority Pick = "minority"
	// PickAll picks every node (of the role, when one is named).
	PickAll Pick = "all"
	// PickOneOrMinority draws PickOne or PickMinority each window.
	PickOneOrMinority Pick = ""
)

// pick draws the nodes of a window.
func (t Pick) pick(rng *rand.Rand, nodes []string) ([]string, error) {
	if len(nodes) == 0 {
		return nil, errors.New("the cluster has no nodes")
	}
	if t == PickOneOrMinority {
		t = []Pick{PickOne, PickMinority}[rng.IntN(2)]
	}
	k := 1
	switch t {
	case PickOne:
	case PickMinority:
		k = max(1, (len(nodes)-1)/2)
	case PickAll:
		return slices.Clone(nodes), nil
	default:
		return nil, fmt.Errorf("unknown node pick %q", string(t))
	}
	shuffled := slices.Clone(nodes)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	picked := shuffled[:k]
	slices.SortFunc(picked, func(a, b string) int { return slices.Index(nodes, a) - slices.Index(nodes, b) })
	return picked, nil
}

// Selection says which nodes a kill or pause window acts on: Nodes of the
// role Role, or of the whole cluster when Role is empty.
type Selection struct {
	// Role restricts the pick to one role's nodes; empty means any node.
	Role string
	// Nodes says how many to pick.
	Nodes Pick
}

// candidates returns the nodes s picks from.
func (s Selection) candidates(fault string, c Cluster) ([]string, error) {
	if s.Role == "" {
		return c.Nodes(), nil
	}
	return roleNodes(fault, c.Roles(), s.Role)
}

// String gives s as --nemesis writes it, for example "role:redis,one".
func (s Selection) String() string {
	var parts []string
	if s.Role != "" {
		parts = append(parts, "role:"+s.Role)
	}
	if s.Nodes != PickOneOrMinority {
		parts = append(parts, string(s.Nodes))
	}
	return strings.Join(parts, ",")
}

// NodesValue describes a kill or pause window: the nodes acted on.
type NodesValue struct {
	Nodes []string `json:"nodes"`
}

// Kill is the kill fault: each window kills the nodes its Selection picks
// (SIGKILL or equivalent) and Stop restarts them. A Kill serves one window
// at a time.
type Kill struct {
	// Selection says which nodes to kill; the zero value draws one node or
	// a minority of the cluster each window.
	Selection

	killed []string
}

var (
	_ Fault        = (*Kill)(nil)
	_ Availability = (*Kill)(nil)
)

// Name returns "kill".
func (k *Kill) Name() string { return "kill" }

// Available checks that c can kill nodes and has the role named.
func (k *Kill) Available(c Cluster) error {
	if _, err := capability[Killer](c, "kill"); err != nil {
		return err
	}
	_, err := k.candidates("kill", c)
	return err
}

// Start kills the picked nodes and returns a NodesValue of those it
// killed; when a kill fails it goes on with the others and reports the
// failures.
func (k *Kill) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	kl, err := capability[Killer](c, "kill")
	if err != nil {
		return NodesValue{Nodes: []string{}}, err
	}
	var errs []error
	k.killed, errs = eachNode(ctx, "kill", k.Selection, c, rng, kl.Kill)
	return NodesValue{Nodes: slices.Clone(k.killed)}, joinErr("kill", errs)
}

// Stop restarts every node Start killed and returns a NodesValue of those
// restarted.
func (k *Kill) Stop(ctx context.Context, c Cluster) (any, error) {
	kl, err := capability[Killer](c, "kill")
	if err != nil {
		return NodesValue{Nodes: []string{}}, err
	}
	done := slices.Clone(k.killed)
	if done == nil {
		done = []string{}
	}
	if len(k.killed) > 0 {
		if err = kl.Restart(ctx, k.killed...); err != nil {
			done = []string{}
		}
	}
	k.killed = nil
	return NodesValue{Nodes: done}, joinErr("restart", errorsOf(err))
}

// Pause is the pause fault: each window pauses the nodes its Selection
// picks (SIGSTOP or equivalent) and Stop resumes them. A Pause serves one
// window at a time.
type Pause struct {
	// Selection says which nodes to pause; Parse gives PickOne by default.
	Selection

	paused []string
}

var (
	_ Fault        = (*Pause)(nil)
	_ Availability = (*Pause)(nil)
)

// Name returns "pause".
func (p *Pause) Name() string { return "pause" }

// Available checks that c can pause nodes and has the role named.
func (p *Pause) Available(c Cluster) error {
	if _, err := capability[Pauser](c, "pause"); err != nil {
		return err
	}
	_, err := p.candidates("pause", c)
	return err
}

// Start pauses the picked nodes and returns a NodesValue of those it
// paused; when a pause fails it goes on with the others and reports the
// failures.
func (p *Pause) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	ps, err := capability[Pauser](c, "pause")
	if err != nil {
		return NodesValue{Nodes: []string{}}, err
	}
	var errs []error
	p.paused, errs = eachNode(ctx, "pause", p.Selection, c, rng, ps.Pause)
	return NodesValue{Nodes: slices.Clone(p.paused)}, joinErr("pause", errs)
}

// Stop resumes every node Start paused and returns a NodesValue of those
// resumed.
func (p *Pause) Stop(ctx context.Context, c Cluster) (any, error) {
	ps, err := capability[Pauser](c, "pause")
	if err != nil {
		return NodesValue{Nodes: []string{}}, err
	}
	done, errs := eachOf(ctx, p.paused, ps.Resume)
	p.paused = nil
	return NodesValue{Nodes: done}, joinErr("resume", errs)
}

// eachNode picks nodes with s and applies act to each, returning those for
// which it succeeded.
func eachNode(ctx context.Context, fault string, s Selection, c Cluster, rng *rand.Rand, act func(context.Context, string) error) ([]string, []error) {
	from, err := s.candidates(fault, c)
	if err != nil {
		return nil, []error{err}
	}
	picked, err := s.Nodes.pick(rng, from)
	if err != nil {
		return nil, []error{err}
	}
	return eachOf(ctx, picked, act)
}
func eachOf(ctx context.Context, nodes []string, act func(context.Context, string) error) ([]string, []error) {
	done := []string{}
	var errs []error
	for _, n := range nodes {
		if err := act(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, n)
	}
	return done, errs
}

// errorsOf returns err as a list: empty when nil.
func errorsOf(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

// joinErr wraps every error of errs under what, on one line.
func joinErr(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	verbs := make([]string, len(errs))
	args := []any{what}
	for i, e := range errs {
		verbs[i] = "%w"
		args = append(args, e)
	}
	return fmt.Errorf("%s: "+strings.Join(verbs, "; "), args...)
}
