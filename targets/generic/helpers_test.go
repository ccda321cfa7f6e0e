package generic_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/controller"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/generic"
	"github.com/faultline/faultline/workloads"
)

// run is the namespace every test run uses.
const run = "20260101T000000.123Z"

// ns is run's namespace as keys carry it.
const ns = "20260101T000000123Z"

// drive runs ops operations of wl (seeded, over keys keys) from
// concurrency client processes of tg against nodes, then the workload's
// final reads, as a run does, and returns the history and the workload's
// check of it.
func drive(t *testing.T, tg *generic.Target, wl workloads.Workload, nodes []targets.Endpoint, keys, ops, concurrency int) (core.History, []core.CheckResult) {
	t.Helper()
	rec := controller.NewRecorder(nil)
	gen := wl.NewGenerator(keys, rand.New(rand.NewPCG(7, 11)))
	cfg := controller.Config{
		Concurrency: concurrency, OpLimit: ops, OpTimeout: 2 * time.Second, Generator: gen, Recorder: rec,
		NewClient: func(p int) (core.Client, error) {
			return tg.NewClient(targets.ClientConfig{Workload: wl.Name(), Variant: tg.Kind(), Nodes: nodes, Process: p, Run: run})
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := controller.Run(ctx, cfg); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, missed := controller.FinalReads(ctx, cfg, gen.FinalReads(), rec.NextProcess(), 3, 50*time.Millisecond); len(missed) > 0 {
		t.Fatalf("final reads missed: %v", missed)
	}
	h := rec.History()
	return h, wl.Check(ctx, h, workloads.CheckOptions{})
}

// counts returns how many completions of f in h have each type, and how
// many ok reads returned a value.
func counts(h core.History, f string) (byType map[core.Type]int, values int) {
	byType = map[core.Type]int{}
	for _, e := range h {
		if e.F != f || e.Type == core.Invoke {
			continue
		}
		byType[e.Type]++
		if e.Type == core.OK && e.Value != nil {
			values++
		}
	}
	return byType, values
}

// verdict returns the one result's verdict, failing t when there is not
// exactly one.
func verdict(t *testing.T, res []core.CheckResult) core.CheckResult {
	t.Helper()
	if len(res) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(res), res)
	}
	return res[0]
}

// invoke performs one operation with a fresh client of tg for process p
// and closes the client.
func invoke(t *testing.T, tg *generic.Target, nodes []targets.Endpoint, p int, op core.Op, within time.Duration) core.Op {
	t.Helper()
	cl, err := tg.NewClient(targets.ClientConfig{Workload: workloadOf(op.F), Variant: tg.Kind(), Nodes: nodes, Process: p, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	op.Type = core.Invoke
	return cl.Invoke(ctx, op)
}

func workloadOf(f string) string {
	if f == generic.OpCharge || f == generic.OpLedger {
		return generic.WorkloadIdempotency
	}
	return generic.WorkloadRegister
}
