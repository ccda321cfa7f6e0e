package checkers_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/register"
)

func TestDefaultMemoryBudgetIsAShareOfMemory(t *testing.T) {
	b := checkers.DefaultMemoryBudget()
	if b < 64<<20 || b > 1<<50 {
		t.Fatalf("default memory budget %d bytes is not a plausible quarter of a machine's memory", b)
	}
}

func TestMemoryBudgetCancelsWithItsCause(t *testing.T) {
	ctx, cancel := checkers.WithMemoryBudget(context.Background(), 8<<20)
	defer cancel()
	// Hold far more than the budget, live, until the watcher gives up.
	var hold [][]byte
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("holding %d MiB over an 8 MiB budget did not end the context", len(hold))
		}
		if len(hold) < 64 {
			hold = append(hold, make([]byte, 1<<20))
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(context.Cause(ctx), checkers.ErrMemoryBudget) {
		t.Fatalf("cause %v, want ErrMemoryBudget", context.Cause(ctx))
	}
	_ = hold
}

func TestNoMemoryBudgetNeverCancels(t *testing.T) {
	ctx, cancel := checkers.WithMemoryBudget(context.Background(), 0)
	if ctx.Err() != nil {
		t.Fatal("context without a budget is done at once")
	}
	cancel()
	if errors.Is(context.Cause(ctx), checkers.ErrMemoryBudget) {
		t.Fatal("cancelled context without a budget blames the budget")
	}
}

func TestTinyMemoryBudgetMakesBigSearchUnknown(t *testing.T) {
	// 20 overlapping writes take porcupine about a minute and 1 GB; a
	// 16 MiB budget stops it long before its two-minute time budget.
	h := hardHistory(nil, "k0", 20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mctx, stop := checkers.WithMemoryBudget(ctx, 16<<20)
	defer stop()
	res, err := checkers.Linearizable(mctx, h, searchOnly{register.Model{}}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Unknown || !strings.Contains(res.Summary, "memory budget") || !strings.Contains(res.Summary, "k0") {
		t.Fatalf("verdict %s, summary %q; want unknown, k0 out of memory budget", res.Verdict, res.Summary)
	}
	if ctx.Err() != nil {
		t.Fatal("the time budget ran out first")
	}
}

func TestMemoryBudgetLeavesSmallChecksAlone(t *testing.T) {
	h := simulate(7, 2000, 4, 5, 0.05)
	ctx, stop := checkers.WithMemoryBudget(context.Background(), 256<<20)
	defer stop()
	res, err := checkers.Linearizable(ctx, h, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil || res.Verdict != core.Valid {
		t.Fatalf("verdict %s (%v), summary %q; want valid", res.Verdict, err, res.Summary)
	}
}

// cancellingModel is the register model (without its UniqueRegister
// side) that cancels a context once the search has taken a thousand steps.
type cancellingModel struct {
	checkers.Model
	steps  *atomic.Int64
	cancel context.CancelFunc
}

func (m cancellingModel) Step(s, in, out any) (bool, any) {
	if m.steps.Add(1) == 1000 {
		m.cancel()
	}
	return m.Model.Step(s, in, out)
}

func TestInterruptedCheckSaysSo(t *testing.T) {
	h := hardHistory(nil, "k0", 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := cancellingModel{Model: register.Model{}, steps: new(atomic.Int64), cancel: cancel}
	res, err := checkers.Linearizable(ctx, h, m, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Unknown || !strings.Contains(res.Summary, "interrupted") {
		t.Fatalf("verdict %s, summary %q; want unknown, interrupted", res.Verdict, res.Summary)
	}
}

// crashingModel is the register model (without its UniqueRegister side)
// with a Step that panics on a read of -1, which only hardHistory has.
type crashingModel struct{ checkers.Model }

func (m crashingModel) Step(s, in, out any) (bool, any) {
	if m.DescribeOperation(in, out) == "read returned -1" {
		var nilMap map[string]int
		nilMap["boom"]++
	}
	return m.Model.Step(s, in, out)
}

func TestModelPanicIsACrashNotAVerdict(t *testing.T) {
	h := hardHistory(simulate(3, 500, 3, 3, 0), "k9", 14)
	var crash *checkers.Crash
	func() {
		defer func() {
			r := recover()
			c, ok := r.(*checkers.Crash)
			if !ok {
				t.Fatalf("recovered %v (%T), want a *checkers.Crash", r, r)
			}
			crash = c
		}()
		res, err := checkers.Linearizable(context.Background(), h, crashingModel{register.Model{}}, checkers.LinearizabilityOptions{Workers: 2})
		t.Fatalf("a crashing model gave verdict %s (%v)", res.Verdict, err)
	}()
	if crash.Key != "k9" || !strings.Contains(crash.Error(), "assignment to entry in nil map") || len(crash.Stack) == 0 ||
		strings.Contains(crash.Error(), "\n") {
		t.Fatalf("crash %q on key %s; want k9's nil map assignment, one line, with a stack", crash.Error(), crash.Key)
	}
}

// BenchmarkLinearizableSearch measures porcupine's search itself (every
// step through the model wrapper): 13 overlapping writes and a read no
// order explains.
func BenchmarkLinearizableSearch(b *testing.B) {
	h := hardHistory(nil, "k0", 13)
	for b.Loop() {
		res, err := checkers.Linearizable(context.Background(), h, searchOnly{register.Model{}}, checkers.LinearizabilityOptions{})
		if err != nil || res.Verdict != core.Invalid {
			b.Fatalf("verdict %s (%v)", res.Verdict, err)
		}
	}
}
