package nemesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

// fakeCluster records every call and fails those named in failOn.
type fakeCluster struct {
	nodes  []string
	roles  map[string][]string // nil: one role "node" of every node
	failOn map[string]bool     // "kill n2", "partition", ...

	mu    sync.Mutex
	calls []string
}

var (
	_ nemesis.Cluster         = (*fakeCluster)(nil)
	_ nemesis.Partitioner     = (*fakeCluster)(nil)
	_ nemesis.LatencyInjector = (*fakeCluster)(nil)
	_ nemesis.LossInjector    = (*fakeCluster)(nil)
	_ nemesis.Killer          = (*fakeCluster)(nil)
	_ nemesis.Pauser          = (*fakeCluster)(nil)
	_ nemesis.Healer          = (*fakeCluster)(nil)
)

func newFake(n int) *fakeCluster { return &fakeCluster{nodes: names(n), failOn: map[string]bool{}} }

func (f *fakeCluster) call(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	if f.failOn[s] {
		return errors.New("injected failure: " + s)
	}
	return nil
}

func (f *fakeCluster) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeCluster) Nodes() []string { return slices.Clone(f.nodes) }
func (f *fakeCluster) Roles() map[string][]string {
	if f.roles != nil {
		return f.roles
	}
	return map[string][]string{"node": slices.Clone(f.nodes)}
}
func (f *fakeCluster) Partition(_ context.Context, g nemesis.Grudge) error {
	b, _ := json.Marshal(g)
	if err := f.call("partition"); err != nil {
		return err
	}
	return f.call("grudge " + string(b))
}
func (f *fakeCluster) HealPartition(context.Context) error { return f.call("heal-partition") }
func (f *fakeCluster) SetLatency(_ context.Context, l, j time.Duration) error {
	return f.call(fmt.Sprintf("latency %v %v", l, j))
}
func (f *fakeCluster) ClearLatency(context.Context) error { return f.call("clear-latency") }
func (f *fakeCluster) SetLoss(_ context.Context, p float64) error {
	return f.call(fmt.Sprintf("loss %v", p))
}
func (f *fakeCluster) ClearLoss(context.Context) error        { return f.call("clear-loss") }
func (f *fakeCluster) Kill(_ context.Context, n string) error { return f.call("kill " + n) }
func (f *fakeCluster) Restart(_ context.Context, ns ...string) error {
	for _, n := range ns {
		if err := f.call("restart " + n); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeCluster) Pause(_ context.Context, n string) error  { return f.call("pause " + n) }
func (f *fakeCluster) Resume(_ context.Context, n string) error { return f.call("resume " + n) }
func (f *fakeCluster) HealAll(context.Context) error            { return f.call("heal-all") }

type event struct {
	F     string
	Value string
	Err   string
}

// runSchedule runs the schedule with every fault kind on a fresh fake
// cluster of five nodes until n events are recorded, and returns the
// events and the cluster calls.
func runSchedule(t *testing.T, seed uint64, n int) ([]event, []string) {
	t.Helper()
	faults, err := nemesis.Parse("partition,latency,kill,pause")
	if err != nil {
		t.Fatal(err)
	}
	c := newFake(5)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var events []event
	record := func(f string, v any, err error) {
		b, jerr := json.Marshal(v)
		if jerr != nil {
			t.Errorf("value of %s does not encode: %v", f, jerr)
		}
		e := event{F: f, Value: string(b)}
		if err != nil {
			e.Err = err.Error()
		}
		events = append(events, e)
		if len(events) == n {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- nemesis.Run(ctx, c, faults, time.Microsecond, rand.New(rand.NewPCG(seed, seed)), record)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("schedule did not end")
	}
	return events, c.Calls()
}

func TestScheduleDependsOnlyOnSeed(t *testing.T) {
	const n = 60
	e1, c1 := runSchedule(t, 42, n)
	e2, c2 := runSchedule(t, 42, n)
	if len(e1) != n || len(e2) != n {
		t.Fatalf("recorded %d and %d events, want %d", len(e1), len(e2), n)
	}
	if !slices.Equal(e1, e2) || !slices.Equal(c1, c2) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", e1, e2)
	}
	e3, _ := runSchedule(t, 43, n)
	if slices.Equal(e1, e3) {
		t.Errorf("seeds 42 and 43 gave the same schedule")
	}
	// Windows alternate start and stop of the same fault, and the schedule
	// visits every kind and several partition shapes.
	kinds, shapes := map[string]bool{}, map[string]bool{}
	for i := 0; i+1 < len(e1); i += 2 {
		name, ok := strings.CutPrefix(e1[i].F, "start-")
		if !ok || e1[i+1].F != "stop-"+name {
			t.Fatalf("events %d,%d = %s,%s; want start-X, stop-X", i, i+1, e1[i].F, e1[i+1].F)
		}
		kinds[name] = true
		if name == "partition" {
			var v nemesis.PartitionValue
			if err := json.Unmarshal([]byte(e1[i].Value), &v); err != nil {
				t.Fatal(err)
			}
			shapes[v.Shape] = true
		}
	}
	if len(kinds) != 4 || len(shapes) < 2 {
		t.Errorf("60 events covered kinds %v and shapes %v", kinds, shapes)
	}
}

// blockingFault records its calls; Start cancels the schedule's context
// when cancelOnStart is set.
type blockingFault struct {
	cancelOnStart context.CancelFunc
	startErr      error
	starts, stops int
	stopCtxErr    error
	stopDeadline  bool
}

func (b *blockingFault) Name() string { return "test" }
func (b *blockingFault) Start(context.Context, nemesis.Cluster, *rand.Rand) (any, error) {
	b.starts++
	if b.cancelOnStart != nil {
		b.cancelOnStart()
	}
	return "started", b.startErr
}
func (b *blockingFault) Stop(ctx context.Context, _ nemesis.Cluster) (any, error) {
	b.stops++
	b.stopCtxErr = ctx.Err()
	_, b.stopDeadline = ctx.Deadline()
	return "stopped", nil
}

func TestScheduleStopsOpenFaultOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := &blockingFault{cancelOnStart: cancel}
	var got []string
	err := nemesis.Run(ctx, newFake(3), []nemesis.Fault{f}, time.Millisecond, rand.New(rand.NewPCG(1, 1)),
		func(name string, v any, err error) { got = append(got, fmt.Sprint(name, "=", v)) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"start-test=started", "stop-test=stopped"}; !slices.Equal(got, want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
	if f.starts != 1 || f.stops != 1 {
		t.Errorf("starts=%d stops=%d, want 1 and 1", f.starts, f.stops)
	}
	if f.stopCtxErr != nil || !f.stopDeadline {
		t.Errorf("Stop ran with ctx err %v, deadline %v; want a live, bounded context", f.stopCtxErr, f.stopDeadline)
	}
}

func TestScheduleStopsAfterFailedStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := &blockingFault{startErr: errors.New("boom")}
	var got []string
	record := func(name string, _ any, err error) {
		got = append(got, fmt.Sprint(name, " ", err))
		if len(got) == 4 {
			cancel()
		}
	}
	if err := nemesis.Run(ctx, newFake(3), []nemesis.Fault{f}, time.Millisecond, rand.New(rand.NewPCG(1, 1)), record); err != nil {
		t.Fatal(err)
	}
	want := []string{"start-test boom", "stop-test <nil>", "start-test boom", "stop-test <nil>"}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
	if f.starts != 2 || f.stops != 2 {
		t.Errorf("starts=%d stops=%d, want 2 and 2", f.starts, f.stops)
	}
}

func TestScheduleReturnsOnCancelWithoutFaults(t *testing.T) {
	for _, faults := range [][]nemesis.Fault{nil, {&blockingFault{}}} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		recorded := 0
		go func() {
			done <- nemesis.Run(ctx, newFake(3), faults, time.Hour, rand.New(rand.NewPCG(1, 1)), func(string, any, error) { recorded++ })
		}()
		cancel()
		select {
		case err := <-done:
			if err != nil || recorded != 0 {
				t.Errorf("Run = %v after %d events; want nil after none", err, recorded)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

func TestScheduleBadArguments(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	if err := nemesis.Run(t.Context(), newFake(3), nil, 0, rng, nil); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("zero interval: %v", err)
	}
	if err := nemesis.Run(t.Context(), newFake(3), nil, time.Second, nil, nil); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("nil rng: %v", err)
	}
}

// windowKinds returns the fault kind of each window of events.
func windowKinds(t *testing.T, events []event) []string {
	t.Helper()
	var kinds []string
	for i := 0; i+1 < len(events); i += 2 {
		name, ok := strings.CutPrefix(events[i].F, "start-")
		if !ok || events[i+1].F != "stop-"+name {
			t.Fatalf("events %d,%d = %s,%s; want start-X, stop-X", i, i+1, events[i].F, events[i+1].F)
		}
		kinds = append(kinds, name)
	}
	return kinds
}

func TestScheduleCoversEveryKindBeforeRepeating(t *testing.T) {
	const rounds = 5
	for seed := range uint64(20) {
		// Four kinds: every run of four windows (a round) holds each once.
		events, _ := runSchedule(t, seed, 2*4*rounds)
		kinds := windowKinds(t, events)
		if len(kinds) != 4*rounds {
			t.Fatalf("seed %d: %d windows, want %d", seed, len(kinds), 4*rounds)
		}
		for r := range rounds {
			round := slices.Clone(kinds[4*r : 4*r+4])
			slices.Sort(round)
			if !slices.Equal(round, []string{"kill", "latency", "partition", "pause"}) {
				t.Fatalf("seed %d: round %d is %v, want each of four kinds once (windows %v)", seed, r, kinds[4*r:4*r+4], kinds)
			}
		}
	}
}

func TestScheduleOrderDependsOnSeed(t *testing.T) {
	// The rounds are shuffled: across seeds, the first window is not
	// always the same kind.
	first := map[string]bool{}
	for seed := range uint64(20) {
		events, _ := runSchedule(t, seed, 2)
		first[windowKinds(t, events)[0]] = true
	}
	if len(first) < 2 {
		t.Errorf("20 seeds all start with %v", first)
	}
}
