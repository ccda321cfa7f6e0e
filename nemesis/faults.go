package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
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

// Partition is the partition fault: each window draws one shape with the
// rng among Shapes (or among its own Shapes when set), skipping shapes that
// cut nothing on this many nodes, builds the grudge over a shuffled node
// list and applies it. A Partition serves one window at a time.
type Partition struct {
	// Shapes restricts the shapes drawn; empty means every shape.
	Shapes []string

	open *PartitionValue
}

// PartitionValue describes a partition window: its shape and, for each
// node, the nodes it cannot reach.
type PartitionValue struct {
	Shape  string `json:"shape"`
	Grudge Grudge `json:"grudge"`
}

var _ Fault = (*Partition)(nil)

// Name returns "partition".
func (p *Partition) Name() string { return "partition" }

// Start draws a shape and cuts the cluster along it. It returns a
// PartitionValue, also when Cluster.Partition fails (the links may be
// partly cut; Stop heals them). It fails on a cluster where no allowed
// shape cuts anything.
func (p *Partition) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	nodes := c.Nodes()
	shapes := p.Shapes
	if len(shapes) == 0 {
		shapes = Shapes()
	}
	shapes = slices.DeleteFunc(slices.Clone(shapes), func(s string) bool { return len(nodes) < minNodes(s) })
	if len(shapes) == 0 {
		return nil, fmt.Errorf("partition: no shape among %v cuts a cluster of %d node(s)", p.shapesOrAll(), len(nodes))
	}
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
	v := &PartitionValue{Shape: shape, Grudge: inOrder(g, nodes)}
	p.open = v
	if err := c.Partition(ctx, v.Grudge); err != nil {
		return *v, fmt.Errorf("partition %s: %w", shape, err)
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
	if err := c.HealPartition(ctx); err != nil {
		return v, fmt.Errorf("heal partition: %w", err)
	}
	p.open = nil
	return v, nil
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

// Start adds the latency; it draws nothing from rng.
func (l *Latency) Start(ctx context.Context, c Cluster, _ *rand.Rand) (any, error) {
	if err := c.SetLatency(ctx, l.Latency, l.Jitter); err != nil {
		return l.value(c), fmt.Errorf("latency: %w", err)
	}
	return l.value(c), nil
}

// Stop removes the latency.
func (l *Latency) Stop(ctx context.Context, c Cluster) (any, error) {
	v := l.value(c)
	if err := c.ClearLatency(ctx); err != nil {
		return v, fmt.Errorf("clear latency: %w", err)
	}
	return v, nil
}

// mechanism asks c how it injected fault kind, when it can say.
func mechanism(c Cluster, kind string) string {
	if m, ok := c.(MechanismReporter); ok {
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

// Start makes the links lossy; it draws nothing from rng. On a provider
// that cannot drop packets it fails with an error wrapping ErrUnsupported.
func (l *Loss) Start(ctx context.Context, c Cluster, _ *rand.Rand) (any, error) {
	if err := c.SetLoss(ctx, l.Fraction); err != nil {
		return l.value(c), fmt.Errorf("loss: %w", err)
	}
	return l.value(c), nil
}

// Stop removes the loss.
func (l *Loss) Stop(ctx context.Context, c Cluster) (any, error) {
	v := l.value(c)
	if err := c.ClearLoss(ctx); err != nil {
		return v, fmt.Errorf("clear loss: %w", err)
	}
	return v, nil
}

// Pick says which nodes a kill or pause window acts on.
type Pick string

// The picks.
const (
	// PickOne picks one random node.
	PickOne Pick = "one"
	// PickMinority picks a random minority: (n-1)/2 nodes, at least one.
	PickMinority Pick = "minority"
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
	default:
		return nil, fmt.Errorf("unknown node pick %q", string(t))
	}
	shuffled := slices.Clone(nodes)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	picked := shuffled[:k]
	slices.SortFunc(picked, func(a, b string) int { return slices.Index(nodes, a) - slices.Index(nodes, b) })
	return picked, nil
}

// NodesValue describes a kill or pause window: the nodes acted on.
type NodesValue struct {
	Nodes []string `json:"nodes"`
}

// Kill is the kill fault: each window kills the nodes Nodes picks (SIGKILL
// or equivalent) and Stop restarts them. A Kill serves one window at a
// time.
type Kill struct {
	// Nodes says which nodes to kill; the zero value draws one node or a
	// minority each window.
	Nodes Pick

	killed []string
}

var _ Fault = (*Kill)(nil)

// Name returns "kill".
func (k *Kill) Name() string { return "kill" }

// Start kills the picked nodes and returns a NodesValue of those it
// killed; when a kill fails it goes on with the others and reports the
// failures.
func (k *Kill) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	var errs []error
	k.killed, errs = eachNode(ctx, k.Nodes, c, rng, c.Kill)
	return NodesValue{Nodes: slices.Clone(k.killed)}, joinErr("kill", errs)
}

// Stop restarts every node Start killed and returns a NodesValue of those
// restarted.
func (k *Kill) Stop(ctx context.Context, c Cluster) (any, error) {
	done, errs := eachOf(ctx, k.killed, c.Restart)
	k.killed = nil
	return NodesValue{Nodes: done}, joinErr("restart", errs)
}

// Pause is the pause fault: each window pauses the nodes Nodes picks
// (SIGSTOP or equivalent) and Stop resumes them. A Pause serves one window
// at a time.
type Pause struct {
	// Nodes says which nodes to pause; Parse gives PickOne by default.
	Nodes Pick

	paused []string
}

var _ Fault = (*Pause)(nil)

// Name returns "pause".
func (p *Pause) Name() string { return "pause" }

// Start pauses the picked nodes and returns a NodesValue of those it
// paused; when a pause fails it goes on with the others and reports the
// failures.
func (p *Pause) Start(ctx context.Context, c Cluster, rng *rand.Rand) (any, error) {
	var errs []error
	p.paused, errs = eachNode(ctx, p.Nodes, c, rng, c.Pause)
	return NodesValue{Nodes: slices.Clone(p.paused)}, joinErr("pause", errs)
}

// Stop resumes every node Start paused and returns a NodesValue of those
// resumed.
func (p *Pause) Stop(ctx context.Context, c Cluster) (any, error) {
	done, errs := eachOf(ctx, p.paused, c.Resume)
	p.paused = nil
	return NodesValue{Nodes: done}, joinErr("resume", errs)
}

// eachNode picks nodes with t and applies act to each, returning those for
// which it succeeded.
func eachNode(ctx context.Context, t Pick, c Cluster, rng *rand.Rand, act func(context.Context, string) error) ([]string, []error) {
	picked, err := t.pick(rng, c.Nodes())
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
