package faultline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/controller"
	"github.com/faultline/faultline/internal/progress"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/report"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads"
	"golang.org/x/sync/errgroup"
)

// ErrInterrupted is returned (wrapped) by Run and Check when their context
// was cancelled before they ended, for example by SIGINT. The history
// recorded so far is in the run folder and can be checked offline.
var ErrInterrupted = errors.New("interrupted")

// Result is the outcome of a run.
type Result struct {
	// Verdict is the composition of every checker's verdict.
	Verdict Verdict
	// Dir is the run folder.
	Dir string
	// Checkers holds each checker's result.
	Checkers []CheckResult
	// Counts are the operation counts of the history.
	Counts runfolder.Counts
	// Seed is the seed the run used.
	Seed int64
	// Errors lists problems during the run that did not stop it, such as
	// final reads that never succeeded.
	Errors []string
	// Figures are the history's costs (package checkers/figures): what
	// results.json holds under "figures".
	Figures *figures.Figures
}

// measure returns the figures of h whose load phase ended at loadEnd (ns
// since the run started; 0 when not known), with the staleness of its
// reads when wl is a workloads.Staler.
func measure(wl workloads.Workload, h History, loadEnd int64) *figures.Figures {
	fig := figures.Compute(h, figures.Options{LoadEnd: loadEnd})
	withStaleness(wl, h, fig)
	return fig
}

// withStaleness sets fig.Staleness to the staleness of h's reads over
// fig's load phase (ending at fig.LoadEndNS) when wl is a
// workloads.Staler, and leaves it alone otherwise.
func withStaleness(wl workloads.Workload, h History, fig *figures.Figures) {
	if s, ok := wl.(workloads.Staler); ok {
		fig.Staleness = s.Staleness(h, figures.Options{LoadEnd: fig.LoadEndNS})
	}
}

// Run carries out one test: it starts the cluster, drives the workload
// while the nemesis injects faults, heals and verifies the heal, performs
// the final reads, stops every node, checks the history and writes the run
// folder. The same cleanup runs when ctx is cancelled (then Run returns an
// error wrapping ErrInterrupted) or when a step fails. An anomaly is a
// result, not an error: err is non-nil only when the run could not be
// carried out, and then errors.Is(err, ErrBadInput) tells bad input apart.
func Run(ctx context.Context, t Test) (*Result, error) {
	plan, err := t.plan()
	if err != nil {
		return nil, err
	}
	target, wl, faults := plan.target, plan.workload, plan.faults
	t.Target = target.Name()
	t.Variant, _ = targets.ResolveVariant(target, t.Variant)
	t.Isolation, t.Store = plan.isolation, plan.store
	if r, ok := wl.(workloads.Ruler); ok && t.BankRule == "" {
		t.BankRule = r.RuleInForce()
	}
	if t.Seed == 0 {
		t.Seed = rand.Int64N(1<<53-1) + 1
	}
	t.Version = Version
	log := slog.New(slog.DiscardHandler)
	if t.Status != nil {
		log = slog.New(slog.NewTextHandler(t.Status, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	// The run folder's errors name what failed ("create run folder: ...",
	// "write test.json: ...", "create history: ...").
	run, err := runfolder.New(t.Results, t.Target, t.Workload, time.Now())
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: run.Dir, Seed: t.Seed, Verdict: Unknown}
	// latest points at the newest run started, from its start, so that a
	// killed run is found there. Something else in its place is a warning:
	// the run goes on and its verdict stands.
	if err := run.UpdateLatest(); err != nil {
		res.Errors = append(res.Errors, err.Error())
		if t.Status != nil {
			fmt.Fprintf(t.Status, "faultline: warning: %s\n", err)
		}
	}
	if err := run.WriteJSON(runfolder.TestFile, t); err != nil {
		return res, err
	}
	hw, err := history.NewWriter(run.HistoryPath())
	if err != nil {
		return res, err
	}
	rec := controller.NewRecorder(hw)
	phase := progress.NewPhase()
	end := &ending{t: t, wl: wl, run: run, hw: hw, rec: rec, res: res, phase: phase, stopStatus: func() {}}
	// Everything below ends in finish, which writes what was recorded.
	finish := func(runErr error) (*Result, error) { return end.finish(ctx, runErr) }

	// Setup is bounded on its own and also ends on interrupt.
	cluster, err := plan.provider.start(ctx, t, target, run.Dir, log)
	if err != nil {
		if ctx.Err() != nil {
			return finish(fmt.Errorf("run %w during setup", ErrInterrupted))
		}
		return finish(fmt.Errorf("start cluster: %w", err))
	}
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), t.RecoveryTimeout+30*time.Second)
	}
	closeCluster := sync.OnceValue(func() error {
		c, cancel := cleanupCtx()
		defer cancel()
		return cluster.Close(c)
	})
	defer closeCluster()

	var (
		genRNG    = rand.New(rand.NewPCG(uint64(t.Seed), 1))
		nemRNG    = rand.New(rand.NewPCG(uint64(t.Seed), 2))
		endpoints = cluster.Endpoints()
		gen       = wl.NewGenerator(t.Keys, genRNG)
	)
	cfg := controller.Config{
		Concurrency: t.Concurrency, Rate: t.Rate, TimeLimit: t.TimeLimit, OpLimit: t.OpLimit,
		OpTimeout: t.OpTimeout, Generator: gen, Recorder: rec,
		NewClient: func(p int) (core.Client, error) {
			return target.NewClient(targets.ClientConfig{
				Workload: t.Workload, Variant: t.Variant, Nodes: slices.Clone(endpoints), Process: p, Run: filepath.Base(run.Dir),
				Stall: plan.stall.Hook, Isolation: t.Isolation, Store: t.Store,
			})
		},
	}
	fault := progress.NewFault()
	stopStatus := progress.Start(t.Status, progress.Source{
		Elapsed: rec.Elapsed, Limit: t.TimeLimit, Counts: &rec.Counts, Fault: fault.Get, Phase: phase,
	})
	end.stopStatus = stopStatus

	var nemErrs []string
	var nemMu sync.Mutex
	record := func(f string, value any, err error) {
		op := core.Op{Type: core.Info, F: f, Value: value}
		if err != nil {
			op.Error = err.Error()
			nemMu.Lock()
			nemErrs = append(nemErrs, f+": "+err.Error())
			nemMu.Unlock()
		}
		rec.Record(core.NemesisProcess, op)
		fault.Observe(f, value, err)
	}
	workCtx, stopWork := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(workCtx)
	nemCtx, stopNemesis := context.WithCancel(gctx)
	g.Go(func() error {
		defer stopNemesis()
		_, err := controller.Run(gctx, cfg)
		return err
	})
	if len(faults) > 0 {
		g.Go(func() error {
			return nemesis.Run(nemCtx, plan.extend(cluster, lifecycle.Admin(cluster)), faults, t.NemesisInterval, nemRNG, record)
		})
	}
	workErr := g.Wait()
	// The load phase ends here: healing and the final reads that follow
	// are not part of the run's figures.
	end.loadEnd = int64(rec.Elapsed())
	stopWork()

	// Heal and verify, even when interrupted.
	phase.Set("healing")
	hctx, cancel := cleanupCtx()
	healErr := cluster.HealAll(hctx)
	cancel()
	if healErr != nil {
		stopStatus()
		return finish(fmt.Errorf("heal faults: %w", healErr))
	}
	if ctx.Err() != nil {
		stopStatus()
		return finish(fmt.Errorf("run %w after %s", ErrInterrupted, rec.Elapsed().Round(time.Millisecond)))
	}
	if workErr != nil {
		stopStatus()
		return finish(workErr)
	}
	phase.Set("final reads")
	// Wait for recovery and read the final state: each final read is retried
	// until it succeeds, within the recovery timeout.
	rctx, cancel := context.WithTimeout(ctx, t.RecoveryTimeout)
	_, missed := controller.FinalReads(rctx, cfg, gen.FinalReads(), rec.NextProcess(), 1000, 100*time.Millisecond)
	cancel()
	if ctx.Err() != nil {
		stopStatus()
		return finish(fmt.Errorf("run %w during final reads", ErrInterrupted))
	}
	if err := controller.MissedError(missed); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	res.Errors = append(res.Errors, nemErrs...)
	phase.Set("stopping nodes")
	if err := closeCluster(); err != nil {
		res.Errors = append(res.Errors, "stop cluster: "+err.Error())
	}
	return finish(nil)
}

// ending is what a run's end needs: where it writes and what it recorded.
type ending struct {
	t          Test
	wl         workloads.Workload
	run        *runfolder.Run
	hw         io.Closer // the history file the recorder writes to
	rec        *controller.Recorder
	res        *Result
	phase      *progress.Phase
	stopStatus func()
	// loadEnd is when the workers stopped, in ns since the run started;
	// 0 until they did (a run that ended during setup).
	loadEnd int64
}

// finish ends a run whose operations are over: it closes the history,
// checks it unless runErr is set, and writes results.json, the report and
// the latest link. The checkers stop being waited for when ctx ends: the
// run is then interrupted during the check, which results.json records.
// It returns the result and the error that ended the run, if any.
func (e *ending) finish(ctx context.Context, runErr error) (*Result, error) {
	res, rec := e.res, e.rec
	// The history's errors say "write history ..." themselves.
	if err := rec.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if err := e.hw.Close(); err != nil && runErr == nil {
		runErr = err
	}
	h := rec.History()
	res.Counts = runfolder.Count(h)
	if runErr == nil {
		e.phase.Set("checking")
		res.Checkers, res.Verdict, runErr = judge(ctx, e.wl, h, workloads.CheckOptions{Dir: e.run.Dir}, e.t.CheckTimeout, e.t.CheckMemory)
		if errors.Is(runErr, errCheckInterrupted) {
			runErr = fmt.Errorf("run %w during the check", ErrInterrupted)
		}
	}
	e.stopStatus()
	if runErr != nil {
		res.Verdict = Unknown
		res.Errors = append(res.Errors, runErr.Error())
	}
	// Whatever was recorded is measured, also when the run failed.
	res.Figures = measure(e.wl, h, e.loadEnd)
	end := time.Now()
	out := runfolder.Results{Verdict: res.Verdict, Checkers: res.Checkers, Counts: res.Counts, Errors: res.Errors,
		Start: rec.Start(), End: end, DurationNS: int64(end.Sub(rec.Start())), Figures: res.Figures}
	// Their errors say which file: "write results.json: ...".
	if err := e.run.WriteResults(&out); err != nil && runErr == nil {
		runErr = err
	}
	if err := report.Write(e.run.Dir); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// errStartTimeout is the cause of a start context whose StartTimeout passed.
var errStartTimeout = errors.New("start timeout")

// startContext bounds a provider's Start (nodes started and ready; not the
// image build before it) by t.StartTimeout.
func startContext(ctx context.Context, t Test) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, t.StartTimeout, fmt.Errorf("%w %s (--start-timeout) passed", errStartTimeout, t.StartTimeout))
}

// startError names the start timeout when it is what ended a failed start.
func startError(sctx context.Context, err error) error {
	if cause := context.Cause(sctx); errors.Is(cause, errStartTimeout) && !errors.Is(err, errStartTimeout) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
