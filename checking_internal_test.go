package faultline

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/controller"
	"github.com/faultline/faultline/internal/progress"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/register"
)

// recordHard records on key k0 n writes that all overlap and then a read
// of a value none wrote: porcupine needs 13 s for n=18 and more than a
// minute for n=20 to refuse it. The last writer writes the first one's
// value again, so the unique-values algorithm, which would refuse it at
// once, leaves the key to porcupine.
func recordHard(rec *controller.Recorder, n int) {
	value := func(p int) int64 {
		if p == n-1 && n > 1 {
			return 1
		}
		return int64(p + 1)
	}
	for p := range n {
		rec.Record(p, core.Op{Type: core.Invoke, F: register.Write, Key: "k0", Value: value(p)})
	}
	for p := range n {
		rec.Record(p, core.Op{Type: core.OK, F: register.Write, Key: "k0", Value: value(p)})
	}
	rec.Record(n, core.Op{Type: core.Invoke, F: register.Read, Key: "k0"})
	rec.Record(n, core.Op{Type: core.OK, F: register.Read, Key: "k0", Value: int64(-1)})
}

func TestRunInterruptedDuringTheCheck(t *testing.T) {
	run, err := runfolder.New(t.TempDir(), "demo-kv", "register", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hw, err := history.NewWriter(run.HistoryPath())
	if err != nil {
		t.Fatal(err)
	}
	rec := controller.NewRecorder(hw)
	recordHard(rec, 20)
	wl, _ := registry.Workload("register")
	tt := DefaultTest()
	tt.CheckTimeout = 2 * time.Minute
	tt.CheckMemory = 1 << 30
	phase := progress.NewPhase()
	e := &ending{t: tt, wl: wl, run: run, hw: hw, rec: rec, res: &Result{Dir: run.Dir}, phase: phase, stopStatus: func() {}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res *Result
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.finish(ctx, nil)
		done <- outcome{res, err, time.Now()}
	}()
	// The phase is the marker that checking began; once the process has
	// also spent half a second of CPU since, porcupine is deep in its
	// search. Then cancel, as SIGINT does.
	deadline := time.Now().Add(30 * time.Second)
	for phase.Get() != "checking" {
		if time.Now().After(deadline) {
			t.Fatal("checking never began")
		}
		time.Sleep(time.Millisecond)
	}
	base := cpuTime(t)
	for cpuTime(t)-base < 500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the check never got busy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancelled := time.Now()
	cancel()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end within 30 s of the interrupt")
	}
	took := o.at.Sub(cancelled)
	t.Logf("run ended %v after the interrupt during the check", took.Round(time.Millisecond))
	if !errors.Is(o.err, ErrInterrupted) || o.err.Error() != "run interrupted during the check" {
		t.Fatalf("error %v, want the run interrupted during the check", o.err)
	}
	if ExitCode(o.res, o.err) != 3 || o.res.Verdict != Unknown {
		t.Fatalf("exit %d, verdict %s; want 3 and unknown", ExitCode(o.res, o.err), o.res.Verdict)
	}
	got, err := runfolder.ReadResults(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != Unknown || len(got.Errors) != 1 || got.Errors[0] != "run interrupted during the check" {
		t.Fatalf("results.json says %s with errors %q; want unknown, interrupted during the check", got.Verdict, got.Errors)
	}
	if took > 10*time.Second {
		t.Errorf("took %v to end after the interrupt", took)
	}
}

// cpuTime is the CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// crashingWorkload is the register workload whose checker panics.
type crashingWorkload struct{ register.Workload }

func (crashingWorkload) Check(context.Context, core.History, workloads.CheckOptions) []core.CheckResult {
	var keys []string
	_ = keys[3]
	return nil
}

// crashingModel panics in Step, which porcupine calls in goroutines of
// its own.
type crashingModel struct{ register.Model }

func (crashingModel) Step(s, in, out any) (bool, any) { panic("model bug") }

// crashingSearch checks with crashingModel.
type crashingSearch struct{ register.Workload }

func (crashingSearch) Check(ctx context.Context, h core.History, opts workloads.CheckOptions) []core.CheckResult {
	res, _ := checkers.Linearizable(ctx, h, crashingModel{}, checkers.LinearizabilityOptions{})
	return []core.CheckResult{res}
}

func TestCheckerCrashIsAnErrorNotAVerdict(t *testing.T) {
	rec := controller.NewRecorder(nil)
	recordHard(rec, 3)
	h := rec.History()
	for name, wl := range map[string]workloads.Workload{"checker": crashingWorkload{}, "model in porcupine": crashingSearch{}} {
		res, err := runCheckers(context.Background(), wl, h, workloads.CheckOptions{}, time.Minute, 1<<30)
		if !errors.Is(err, ErrCheckerCrashed) || res != nil {
			t.Fatalf("%s: %v, %v; want ErrCheckerCrashed and no result", name, res, err)
		}
		if strings.Contains(err.Error(), "\n") || ExitCode(nil, err) != 3 {
			t.Fatalf("%s: %q (exit %d); want one line, exit 3", name, err, ExitCode(nil, err))
		}
		t.Logf("%s: %v", name, err)
	}
}
