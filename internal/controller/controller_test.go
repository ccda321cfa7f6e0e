package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

// seqGen hands out writes of 1, 2, 3, ... over one key.
type seqGen struct{ n int64 }

func (g *seqGen) Next() (core.Op, bool) {
	g.n++
	return core.Op{F: "write", Key: "k0", Value: g.n}, true
}
func (g *seqGen) FinalReads() []core.Op { return []core.Op{{F: "read", Key: "k0"}} }

// scriptClient answers with the outcome its function picks.
type scriptClient struct {
	outcome func(op core.Op) core.Type
	closed  *atomic.Int64
}

func (c scriptClient) Invoke(ctx context.Context, op core.Op) core.Op {
	op.Type = c.outcome(op)
	return op
}
func (c scriptClient) Close() error { c.closed.Add(1); return nil }

func newCfg(conc, limit int, outcome func(core.Op) core.Type) (Config, *atomic.Int64, *atomic.Int64) {
	var made, closed atomic.Int64
	return Config{
		Concurrency: conc, OpLimit: limit, OpTimeout: time.Second,
		Generator: &seqGen{},
		NewClient: func(int) (core.Client, error) {
			made.Add(1)
			return scriptClient{outcome: outcome, closed: &closed}, nil
		},
		Recorder: NewRecorder(nil),
	}, &made, &closed
}

// checkWellFormed asserts the history invariants of docs/formats.md.
func checkWellFormed(t *testing.T, h core.History) {
	t.Helper()
	open := map[int]core.Event{}
	var last int64 = -1
	for i, e := range h {
		if e.Index != i {
			t.Fatalf("event %d has index %d", i, e.Index)
		}
		if e.Time < last {
			t.Fatalf("event %d goes back in time", i)
		}
		last = e.Time
		if e.Type == core.Invoke {
			if _, ok := open[e.Process]; ok {
				t.Fatalf("process %d has two open invocations at %d", e.Process, i)
			}
			open[e.Process] = e
			continue
		}
		inv, ok := open[e.Process]
		if !ok {
			t.Fatalf("completion %d of process %d without invocation", i, e.Process)
		}
		if inv.F != e.F || inv.Key != e.Key {
			t.Fatalf("completion %d does not repeat its invocation's f and key", i)
		}
		delete(open, e.Process)
	}
	if len(open) != 0 {
		t.Fatalf("%d invocations left open", len(open))
	}
}

func TestOpLimitAndPairing(t *testing.T) {
	cfg, made, closed := newCfg(7, 500, func(core.Op) core.Type { return core.OK })
	n, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Recorder.History()
	if n != 500 || len(h) != 1000 {
		t.Fatalf("issued %d ops, %d events; want 500 and 1000", n, len(h))
	}
	checkWellFormed(t, h)
	// Every generated value was invoked exactly once.
	seen := map[int64]bool{}
	for _, e := range h {
		if e.Type == core.Invoke {
			v := e.Value.(int64)
			if seen[v] {
				t.Fatalf("value %d invoked twice", v)
			}
			seen[v] = true
		}
	}
	for v := int64(1); v <= 500; v++ {
		if !seen[v] {
			t.Fatalf("value %d never invoked", v)
		}
	}
	if made.Load() != 7 || closed.Load() != 7 {
		t.Fatalf("made %d clients, closed %d; want 7 and 7", made.Load(), closed.Load())
	}
}

func TestInfoRetiresProcess(t *testing.T) {
	cfg, made, closed := newCfg(3, 300, func(op core.Op) core.Type {
		if op.Value.(int64)%5 == 0 {
			return core.Info
		}
		return core.OK
	})
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	h := cfg.Recorder.History()
	checkWellFormed(t, h)
	retired := map[int]bool{}
	infos := 0
	for _, e := range h {
		if retired[e.Process] {
			t.Fatalf("retired process %d used again at event %d", e.Process, e.Index)
		}
		if e.Type == core.Info {
			retired[e.Process] = true
			infos++
		}
	}
	if infos != 60 {
		t.Fatalf("got %d info completions, want 60", infos)
	}
	if made.Load() != 3+60 || closed.Load() != made.Load() {
		t.Fatalf("made %d clients and closed %d; want %d each", made.Load(), closed.Load(), 63)
	}
	if got := cfg.Recorder.Counts.Info.Load(); got != 60 {
		t.Fatalf("info count %d, want 60", got)
	}
}

func TestBadOutcomeBecomesInfo(t *testing.T) {
	cfg, _, _ := newCfg(1, 3, func(core.Op) core.Type { return core.Invoke })
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, e := range cfg.Recorder.History() {
		if e.Index%2 == 1 && e.Type != core.Info {
			t.Fatalf("completion %d has type %s, want info", e.Index, e.Type)
		}
	}
}

func TestRateIsALowerBoundOnDuration(t *testing.T) {
	cfg, _, _ := newCfg(4, 50, func(core.Op) core.Type { return core.OK })
	cfg.Rate = 500 // 50 ops at 500/s need at least 98 ms (slot 49 at 98 ms)
	start := time.Now()
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 98*time.Millisecond {
		t.Fatalf("50 ops at 500/s took %s, faster than the rate allows", el)
	}
}

// blockClient blocks until its context ends and then reports info.
type blockClient struct{}

func (blockClient) Invoke(ctx context.Context, op core.Op) core.Op {
	<-ctx.Done()
	op.Type, op.Error = core.Info, ctx.Err().Error()
	return op
}
func (blockClient) Close() error { return nil }

func TestCancelCompletesOpenOperations(t *testing.T) {
	cfg := Config{Concurrency: 5, OpTimeout: time.Hour, Generator: &seqGen{},
		NewClient: func(int) (core.Client, error) { return blockClient{}, nil }, Recorder: NewRecorder(nil)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := Run(ctx, cfg); done <- err }()
	// Wait until all five workers are inside an operation, then cancel.
	deadline := time.Now().Add(10 * time.Second)
	for cfg.Recorder.Counts.Invoke.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatal("workers never started")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	h := cfg.Recorder.History()
	checkWellFormed(t, h)
	if cfg.Recorder.Counts.Info.Load() != 5 {
		t.Fatalf("want 5 info completions, got %d", cfg.Recorder.Counts.Info.Load())
	}
}

func TestClientFactoryErrorStopsRun(t *testing.T) {
	cfg, _, _ := newCfg(2, 10, func(core.Op) core.Type { return core.OK })
	cfg.NewClient = func(int) (core.Client, error) { return nil, errors.New("no route") }
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("Run succeeded without clients")
	}
}

func TestValidate(t *testing.T) {
	good, _, _ := newCfg(1, 1, nil)
	for name, mut := range map[string]func(*Config){
		"zero concurrency":  func(c *Config) { c.Concurrency = 0 },
		"negative rate":     func(c *Config) { c.Rate = -1 },
		"no op timeout":     func(c *Config) { c.OpTimeout = 0 },
		"missing generator": func(c *Config) { c.Generator = nil },
	} {
		c := good
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFinalReadsRetry(t *testing.T) {
	calls := 0
	cfg, _, _ := newCfg(1, 0, func(core.Op) core.Type {
		calls++
		if calls < 3 {
			return core.Info
		}
		return core.OK
	})
	next, missed := FinalReads(context.Background(), cfg, []core.Op{{F: "read", Key: "k0"}}, 10, 5, time.Millisecond)
	if len(missed) != 0 || next != 13 {
		t.Fatalf("missed %v, next process %d; want none and 13", missed, next)
	}
	h := cfg.Recorder.History()
	checkWellFormed(t, h)
	if len(h) != 6 || h[5].Type != core.OK || h[4].Process != 12 {
		t.Fatalf("unexpected history %v", fmt.Sprint(h))
	}
}

// slowClient takes d per operation unless its context ends first.
type slowClient struct{ d time.Duration }

func (c slowClient) Invoke(ctx context.Context, op core.Op) core.Op {
	select {
	case <-time.After(c.d):
		op.Type = core.OK
	case <-ctx.Done():
		op.Type = core.Info
	}
	return op
}
func (slowClient) Close() error { return nil }

// TestTimeLimitLetsOperationsFinish: the time limit ends generation, but
// operations in flight complete on their own instead of being cut to info.
func TestTimeLimitLetsOperationsFinish(t *testing.T) {
	cfg := Config{Concurrency: 4, TimeLimit: 20 * time.Millisecond, OpTimeout: time.Minute, Generator: &seqGen{},
		NewClient: func(int) (core.Client, error) { return slowClient{d: 100 * time.Millisecond}, nil },
		Recorder:  NewRecorder(nil)}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	h := cfg.Recorder.History()
	checkWellFormed(t, h)
	if cfg.Recorder.Counts.Info.Load() != 0 || cfg.Recorder.Counts.OK.Load() < 4 {
		t.Fatalf("ok %d, info %d: want every operation to finish ok", cfg.Recorder.Counts.OK.Load(), cfg.Recorder.Counts.Info.Load())
	}
}
