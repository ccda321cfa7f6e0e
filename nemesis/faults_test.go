package nemesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // fault names
	}{
		{"none", []string{}},
		{" none ", []string{}},
		{"partition", []string{"partition"}},
		{"partition,kill", []string{"partition", "kill"}},
		{"kill, pause ,latency,partition", []string{"kill", "pause", "latency", "partition"}},
		{"partition=bridge,latency=200ms/20ms,kill=minority,pause=one", []string{"partition", "latency", "kill", "pause"}},
		{"loss,partition", []string{"loss", "partition"}},
		{"loss=0.35", []string{"loss"}},
	} {
		fs, err := nemesis.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if fs == nil {
			t.Errorf("Parse(%q) = nil, want a non-nil slice", tc.in)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Name())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}

	fs, err := nemesis.Parse("partition=bridge,latency=200ms/20ms,kill=minority")
	if err != nil {
		t.Fatal(err)
	}
	if p := fs[0].(*nemesis.Partition); !slices.Equal(p.Shapes, []string{"bridge"}) {
		t.Errorf("partition=bridge gave shapes %v", p.Shapes)
	}
	if l := fs[1].(*nemesis.Latency); l.Latency != 200*time.Millisecond || l.Jitter != 20*time.Millisecond {
		t.Errorf("latency=200ms/20ms gave %v ± %v", l.Latency, l.Jitter)
	}
	if k := fs[2].(*nemesis.Kill); k.Nodes != nemesis.PickMinority {
		t.Errorf("kill=minority gave %q", k.Nodes)
	}
	fs, _ = nemesis.Parse("latency=300ms")
	if l := fs[0].(*nemesis.Latency); l.Latency != 300*time.Millisecond || l.Jitter != 150*time.Millisecond {
		t.Errorf("latency=300ms gave %v ± %v", l.Latency, l.Jitter)
	}
	fs, _ = nemesis.Parse("latency")
	if l := fs[0].(*nemesis.Latency); l.Latency != nemesis.DefaultLatency || l.Jitter != nemesis.DefaultJitter {
		t.Errorf("latency gave %v ± %v", l.Latency, l.Jitter)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "partition, latency, loss, kill, pause, client-pause, failover"},
		{"chaos", "partition, latency, loss, kill, pause, client-pause, failover"},
		{"partition,chaos", `unknown nemesis "chaos"`},
		{"partition,,kill", "empty entry"},
		{"kill,kill", "twice"},
		{"none,kill", "cannot be combined"},
		{"partition=triangle", "halves, isolate, majorities-ring, bridge"},
		{"latency=fast", "Go duration"},
		{"latency=-1s", "positive"},
		{"latency=10ms/20ms", "jitter"},
		{"loss=0", "above 0 and at most 1"},
		{"loss=1.5", "above 0 and at most 1"},
		{"loss=-0.1", "above 0 and at most 1"},
		{"loss=NaN", "above 0 and at most 1"},
		{"loss=lots", "above 0 and at most 1"},
		{"loss=", "above 0 and at most 1"},
		{"kill=most", "one, minority"},
		{"pause=", "one, minority"},
	} {
		fs, err := nemesis.Parse(tc.in)
		if !errors.Is(err, core.ErrBadInput) {
			t.Errorf("Parse(%q) = %v, %v; want ErrBadInput", tc.in, fs, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %q lacks %q", tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error spans lines: %q", tc.in, err)
		}
	}
}

func TestKinds(t *testing.T) {
	ks := nemesis.Kinds()
	var got []string
	for _, k := range ks {
		got = append(got, k.Name)
		if k.Description == "" || !strings.HasPrefix(k.Usage, k.Name) {
			t.Errorf("kind %+v lacks a description or usage", k)
		}
		// Every listed kind parses on its own.
		if fs, err := nemesis.Parse(k.Name); err != nil || len(fs) != 1 || fs[0].Name() != k.Name {
			t.Errorf("Parse(%q) = %v, %v", k.Name, fs, err)
		}
	}
	if want := []string{"partition", "latency", "loss", "kill", "pause", "client-pause", "failover"}; !slices.Equal(got, want) {
		t.Errorf("Kinds = %v, want %v", got, want)
	}
}

func TestPartitionFault(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	shapes := map[string]bool{}
	for range 40 {
		c := newFake(5)
		p := &nemesis.Partition{}
		v, err := p.Start(t.Context(), c, rng)
		if err != nil {
			t.Fatal(err)
		}
		pv := v.(nemesis.PartitionValue)
		shapes[pv.Shape] = true
		checkWellFormed(t, c.nodes, pv.Grudge)
		if cuts(pv.Grudge) == 0 {
			t.Errorf("shape %s cut nothing", pv.Shape)
		}
		b, _ := json.Marshal(pv.Grudge)
		if calls := c.Calls(); !slices.Equal(calls, []string{"partition", "grudge " + string(b)}) {
			t.Errorf("Start made calls %v, want the grudge it returned", calls)
		}
		// Lists are in cluster order whatever the shuffle.
		for _, l := range pv.Grudge {
			if !slices.IsSortedFunc(l, func(a, b string) int { return strings.Compare(a, b) }) {
				t.Errorf("grudge list %v not in node order", l)
			}
		}
		sv, err := p.Stop(t.Context(), c)
		if err != nil || sv.(nemesis.PartitionValue).Shape != pv.Shape {
			t.Errorf("Stop = %v, %v; want the healed %s", sv, err, pv.Shape)
		}
		if calls := c.Calls(); calls[len(calls)-1] != "heal-partition" {
			t.Errorf("Stop did not heal: %v", calls)
		}
	}
	if len(shapes) != 4 {
		t.Errorf("40 windows on 5 nodes drew shapes %v, want all 4", shapes)
	}

	// Shapes that cut nothing on a small cluster are never drawn.
	for range 20 {
		v, err := (&nemesis.Partition{}).Start(t.Context(), newFake(3), rng)
		if err != nil || v.(nemesis.PartitionValue).Shape == nemesis.ShapeMajoritiesRing {
			t.Fatalf("3 nodes: %v, %v", v, err)
		}
	}
	if _, err := (&nemesis.Partition{}).Start(t.Context(), newFake(1), rng); err == nil {
		t.Error("partition of one node succeeded")
	}
	if _, err := (&nemesis.Partition{Shapes: []string{nemesis.ShapeMajoritiesRing}}).Start(t.Context(), newFake(3), rng); err == nil {
		t.Error("a majorities ring of 3 nodes succeeded")
	}

	// A failed Partition still gets healed by Stop.
	c := newFake(3)
	c.failOn["partition"] = true
	p := &nemesis.Partition{}
	if _, err := p.Start(t.Context(), c, rng); err == nil {
		t.Fatal("injected failure not reported")
	}
	if _, err := p.Stop(t.Context(), c); err != nil || !slices.Contains(c.Calls(), "heal-partition") {
		t.Errorf("Stop after failed Start: %v, calls %v", err, c.Calls())
	}
}

func TestKillFaultRestartsWhatItKilled(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	sizes := map[int]bool{}
	for range 30 {
		c := newFake(5)
		k := &nemesis.Kill{}
		v, err := k.Start(t.Context(), c, rng)
		if err != nil {
			t.Fatal(err)
		}
		killed := v.(nemesis.NodesValue).Nodes
		sizes[len(killed)] = true
		if len(killed) < 1 || len(killed) > 2 {
			t.Errorf("killed %v: want one node or a minority of 5", killed)
		}
		sv, err := k.Stop(t.Context(), c)
		if err != nil || !slices.Equal(sv.(nemesis.NodesValue).Nodes, killed) {
			t.Errorf("Stop = %v, %v; want %v restarted", sv, err, killed)
		}
		var want []string
		for _, n := range killed {
			want = append(want, "kill "+n)
		}
		for _, n := range killed {
			want = append(want, "restart "+n)
		}
		if got := c.Calls(); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	}
	if !sizes[1] || !sizes[2] {
		t.Errorf("default kill drew sizes %v, want both one node and a minority of two", sizes)
	}

	// A kill that fails is reported, and only the nodes killed are restarted.
	for try := 0; ; try++ {
		if try == 100 {
			t.Fatal("100 minority kills never drew a failing node")
		}
		c := newFake(5)
		c.failOn["kill n1"] = true
		c.failOn["kill n2"] = true
		k := &nemesis.Kill{Selection: nemesis.Selection{Nodes: nemesis.PickMinority}}
		v, err := k.Start(t.Context(), c, rng)
		if err == nil {
			continue // drew neither n1 nor n2
		}
		if !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("Start error %v", err)
		}
		killed := v.(nemesis.NodesValue).Nodes
		if slices.Contains(killed, "n1") || slices.Contains(killed, "n2") {
			t.Errorf("value %v names a node whose kill failed", killed)
		}
		sv, _ := k.Stop(t.Context(), c)
		if !slices.Equal(sv.(nemesis.NodesValue).Nodes, killed) {
			t.Errorf("restarted %v, killed %v", sv, killed)
		}
		for _, call := range c.Calls() {
			if n, ok := strings.CutPrefix(call, "restart "); ok && !slices.Contains(killed, n) {
				t.Errorf("restarted %s, which was never killed", n)
			}
		}
		break
	}
}

func TestPauseFaultResumesWhatItPaused(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	c := newFake(3)
	p := &nemesis.Pause{}
	v, err := p.Start(t.Context(), c, rng)
	if err != nil {
		t.Fatal(err)
	}
	paused := v.(nemesis.NodesValue).Nodes
	if len(paused) != 1 {
		t.Fatalf("paused %v, want one node", paused)
	}
	if _, err := p.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if want := []string{"pause " + paused[0], "resume " + paused[0]}; !slices.Equal(c.Calls(), want) {
		t.Errorf("calls %v, want %v", c.Calls(), want)
	}
}

func TestLatencyFault(t *testing.T) {
	c := newFake(3)
	l := &nemesis.Latency{Latency: 80 * time.Millisecond, Jitter: 10 * time.Millisecond}
	v, err := l.Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"latency":"80ms","jitter":"10ms"}` {
		t.Errorf("value %s", b)
	}
	if _, err := l.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if want := []string{"latency 80ms 10ms", "clear-latency"}; !slices.Equal(c.Calls(), want) {
		t.Errorf("calls %v, want %v", c.Calls(), want)
	}
}

func TestParseLoss(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"loss", nemesis.DefaultLoss},
		{"loss=0.3", 0.3},
		{"loss=1", 1},
		{"loss=0.001", 0.001},
	} {
		fs, err := nemesis.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if l, ok := fs[0].(*nemesis.Loss); !ok || l.Fraction != tc.want {
			t.Errorf("Parse(%q) = %#v, want a Loss of %v", tc.in, fs[0], tc.want)
		}
	}
	if nemesis.DefaultLoss != 0.2 {
		t.Errorf("DefaultLoss = %v, want 0.2", nemesis.DefaultLoss)
	}
}

func TestLossFault(t *testing.T) {
	c := newFake(3)
	l := &nemesis.Loss{Fraction: 0.3}
	v, err := l.Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"fraction":0.3}` {
		t.Errorf("start value %s", b)
	}
	v, err = l.Stop(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"fraction":0.3}` {
		t.Errorf("stop value %s", b)
	}
	if want := []string{"loss 0.3", "clear-loss"}; !slices.Equal(c.Calls(), want) {
		t.Errorf("calls %v, want %v", c.Calls(), want)
	}
}

// unsupportedLoss is a cluster that cannot drop packets, as the local
// provider.
type unsupportedLoss struct{ *fakeCluster }

func (u unsupportedLoss) SetLoss(ctx context.Context, p float64) error {
	u.call(fmt.Sprintf("loss %v", p))
	return fmt.Errorf("packet loss: %w", nemesis.ErrUnsupported)
}

func TestLossFaultUnsupported(t *testing.T) {
	c := unsupportedLoss{newFake(3)}
	l := &nemesis.Loss{Fraction: nemesis.DefaultLoss}
	v, err := l.Start(t.Context(), c, nil)
	if !errors.Is(err, nemesis.ErrUnsupported) {
		t.Fatalf("Start error %v, want one wrapping ErrUnsupported", err)
	}
	if lv, ok := v.(nemesis.LossValue); !ok || lv.Fraction != nemesis.DefaultLoss {
		t.Errorf("Start value %#v", v)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

// reporting is a cluster that says how it injects latency and loss.
type reporting struct{ *fakeCluster }

func (reporting) FaultMechanism(kind string) string { return kind + " via test" }

func TestFaultValuesCarryTheMechanism(t *testing.T) {
	c := reporting{newFake(3)}
	lat := &nemesis.Latency{Latency: 80 * time.Millisecond, Jitter: 10 * time.Millisecond}
	v, err := lat.Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"latency":"80ms","jitter":"10ms","via":"latency via test"}` {
		t.Errorf("latency value %s", b)
	}
	loss := &nemesis.Loss{Fraction: 0.5}
	v, err = loss.Start(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"fraction":0.5,"via":"loss via test"}` {
		t.Errorf("loss value %s", b)
	}
}

func TestScheduleWithLoss(t *testing.T) {
	faults, err := nemesis.Parse("loss=0.25")
	if err != nil {
		t.Fatal(err)
	}
	c := newFake(3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var fs []string
	record := func(f string, _ any, err error) {
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		fs = append(fs, f)
		if len(fs) == 4 {
			cancel()
		}
	}
	if err := nemesis.Run(ctx, c, faults, time.Microsecond, rand.New(rand.NewPCG(1, 1)), record); err != nil {
		t.Fatal(err)
	}
	if want := []string{"start-loss", "stop-loss", "start-loss", "stop-loss"}; !slices.Equal(fs, want) {
		t.Errorf("events %v, want %v", fs, want)
	}
	if want := []string{"loss 0.25", "clear-loss", "loss 0.25", "clear-loss"}; !slices.Equal(c.Calls(), want) {
		t.Errorf("calls %v, want %v", c.Calls(), want)
	}
}
