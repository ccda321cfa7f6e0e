package faultline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/controller"
	"github.com/faultline/faultline/internal/images"
	"github.com/faultline/faultline/internal/progress"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads"
	"golang.org/x/sync/errgroup"
)

// ErrInterrupted is returned (wrapped) by Run when its context was
// cancelled before the run ended, for example by SIGINT. The history
// recorded so far is in the run folder and can be checked offline.
var ErrInterrupted = errors.New("run interrupted")

// Result is the outcome of a run.
type Result struct {
	// Verdict is the composition of every checker's verdict.
	Verdict Verdict
	// Dir is the run folder.
	Dir string
	// Checkers holds each checker's result.
	Checkers []CheckResult
	// Counts are the operation counts of the history.
	Counts results.Counts
	// Seed is the seed the run used.
	Seed int64
	// Errors lists problems during the run that did not stop it, such as
	// final reads that never succeeded.
	Errors []string
}

// Run carries out one test: it starts the cluster, drives the workload
// while the nemesis injects faults, heals and verifies the heal, performs
// the final reads, stops every node, checks the history and writes the run
// folder. The same cleanup runs when ctx is cancelled (then Run returns an
// error wrapping ErrInterrupted) or when a step fails. An anomaly is a
// result, not an error: err is non-nil only when the run could not be
// carried out, and then errors.Is(err, ErrBadInput) tells bad input apart.
func Run(ctx context.Context, t Test) (*Result, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	target, _ := registry.Target(t.Target)
	wl, _ := registry.Workload(t.Workload)
	faults, err := t.faults()
	if err != nil {
		return nil, err
	}
	if t.Seed == 0 {
		t.Seed = rand.Int64N(1<<53-1) + 1
	}
	t.Version = Version
	log := slog.New(slog.DiscardHandler)
	if t.Status != nil {
		log = slog.New(slog.NewTextHandler(t.Status, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	run, err := results.NewRun(t.Results, t.Target, t.Workload, time.Now())
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	res := &Result{Dir: run.Dir, Seed: t.Seed, Verdict: Unknown}
	if err := run.WriteJSON("test.json", t); err != nil {
		return res, fmt.Errorf("write test.json: %w", err)
	}
	hw, err := results.NewHistoryWriter(run.HistoryPath())
	if err != nil {
		return res, fmt.Errorf("open history: %w", err)
	}
	rec := controller.NewRecorder(hw)
	// Everything below ends in finish, which writes what was recorded.
	finish := func(runErr error) (*Result, error) {
		if err := hw.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("write history: %w", err)
		}
		if err := rec.Err(); err != nil && runErr == nil {
			runErr = fmt.Errorf("write history: %w", err)
		}
		h := rec.History()
		res.Counts = results.Count(h)
		if runErr == nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.CheckTimeout)
			res.Checkers = wl.Check(cctx, h, workloads.CheckOptions{Dir: run.Dir})
			cancel()
			res.Verdict = combine(res.Checkers)
		} else {
			res.Errors = append(res.Errors, runErr.Error())
		}
		end := time.Now()
		out := results.Results{Verdict: res.Verdict, Checkers: res.Checkers, Counts: res.Counts, Errors: res.Errors,
			Start: rec.Start(), End: end, DurationNS: int64(end.Sub(rec.Start()))}
		if err := run.WriteJSON("results.json", out); err != nil && runErr == nil {
			runErr = fmt.Errorf("write results.json: %w", err)
		}
		if err := results.WriteReport(run.Dir); err != nil && runErr == nil {
			runErr = fmt.Errorf("write report: %w", err)
		}
		if err := run.UpdateLatest(); err != nil && runErr == nil {
			runErr = fmt.Errorf("update latest link: %w", err)
		}
		return res, runErr
	}

	// Setup is bounded on its own and also ends on interrupt.
	cluster, err := startCluster(ctx, t, target, run.Dir, log)
	if err != nil {
		if ctx.Err() != nil {
			return finish(fmt.Errorf("%w during setup", ErrInterrupted))
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
		genRNG = rand.New(rand.NewPCG(uint64(t.Seed), 1))
		nemRNG = rand.New(rand.NewPCG(uint64(t.Seed), 2))
		addrs  = cluster.ClientAddrs()
		nodes  = cluster.Nodes()
		gen    = wl.NewGenerator(t.Keys, genRNG)
	)
	cfg := controller.Config{
		Concurrency: t.Concurrency, Rate: t.Rate, TimeLimit: t.TimeLimit, OpLimit: t.OpLimit,
		OpTimeout: t.OpTimeout, Generator: gen, Recorder: rec,
		NewClient: func(p int) (core.Client, error) {
			return target.NewClient(t.Workload, t.Variant, nodes, addrs, p%len(addrs))
		},
	}
	fault := progress.NewFault()
	stopStatus := progress.Start(t.Status, progress.Source{
		Elapsed: rec.Elapsed, Limit: t.TimeLimit, Counts: &rec.Counts, Fault: fault.Get,
	})

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
			nemesis.Run(nemCtx, cluster, faults, t.NemesisInterval, nemRNG, record)
			return nil
		})
	}
	workErr := g.Wait()
	stopWork()

	// Heal and verify, even when interrupted.
	hctx, cancel := cleanupCtx()
	healErr := cluster.HealAll(hctx)
	cancel()
	if healErr != nil {
		stopStatus()
		return finish(fmt.Errorf("heal faults: %w", healErr))
	}
	if ctx.Err() != nil {
		stopStatus()
		return finish(fmt.Errorf("%w after %s", ErrInterrupted, rec.Elapsed().Round(time.Millisecond)))
	}
	if workErr != nil {
		stopStatus()
		return finish(workErr)
	}
	fault.Set("final reads")
	// Wait for recovery and read the final state: each final read is retried
	// until it succeeds, within the recovery timeout.
	rctx, cancel := context.WithTimeout(ctx, t.RecoveryTimeout)
	_, missed := controller.FinalReads(rctx, cfg, gen.FinalReads(), rec.NextProcess(), 1000, 100*time.Millisecond)
	cancel()
	stopStatus()
	if ctx.Err() != nil {
		return finish(fmt.Errorf("%w during final reads", ErrInterrupted))
	}
	if err := controller.MissedError(missed); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	res.Errors = append(res.Errors, nemErrs...)
	if err := closeCluster(); err != nil {
		res.Errors = append(res.Errors, "stop cluster: "+err.Error())
	}
	return finish(nil)
}

// runCluster is what Run needs of a provider's cluster.
type runCluster interface {
	nemesis.Cluster
	// ClientAddrs lists, indexed like Nodes, where clients reach each node.
	ClientAddrs() []string
	// Close stops every node and removes everything the cluster made.
	Close(ctx context.Context) error
}

// startCluster starts t's nodes on t's provider, with node logs and data
// under the run folder dir.
func startCluster(ctx context.Context, t Test, target targets.Target, dir string, log *slog.Logger) (runCluster, error) {
	switch t.Provider {
	case "local":
		exe := t.NodeBinary
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("find node binary: %w", err)
			}
		}
		return local.Start(ctx, local.Config{
			Target: target, Variant: t.Variant, Nodes: t.Nodes, Dir: dir, Exe: exe, Logger: log,
			ReadyTimeout: t.RecoveryTimeout,
		})
	case "docker":
		return startDocker(ctx, t, target, dir, log)
	}
	return nil, core.BadInput("unknown provider %q", t.Provider)
}

// startDocker builds what the node image lacks (progress on t.Status) and
// starts the nodes as containers on a private network made for the run.
func startDocker(ctx context.Context, t Test, target targets.Target, dir string, log *slog.Logger) (runCluster, error) {
	out := t.Status
	if out == nil {
		out = io.Discard
	}
	cli, err := images.Connect(ctx)
	if err != nil {
		return nil, err
	}
	binary := t.NodeBinary
	if binary == "" {
		if binary, err = images.NodeBinary(ctx, out); err != nil {
			cli.Close()
			return nil, err
		}
	}
	tag, err := images.EnsureNode(ctx, cli, binary, out)
	cli.Close()
	if err != nil {
		return nil, err
	}
	return docker.Start(ctx, docker.Config{
		Target: target, Variant: t.Variant, Nodes: t.Nodes, Dir: dir, Image: tag, Logger: log,
		ReadyTimeout: t.RecoveryTimeout,
	})
}
