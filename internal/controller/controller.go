package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"golang.org/x/sync/errgroup"
)

// Config describes one run of the workers.
type Config struct {
	// Concurrency is the number of workers; each is one process at a time.
	Concurrency int
	// Rate is the total operations per second of all workers together; 0
	// means as fast as the workers can go.
	Rate float64
	// TimeLimit ends the generation of operations; 0 means no limit.
	TimeLimit time.Duration
	// OpLimit ends the generation after that many operations; 0 means no
	// limit.
	OpLimit int
	// OpTimeout bounds each operation; an operation that runs out of it is
	// recorded as info by the client.
	OpTimeout time.Duration
	// Generator hands out the operations.
	Generator workloads.Generator
	// NewClient returns a fresh client for a process. The worker closes it
	// when the process retires.
	NewClient func(process int) (core.Client, error)
	// Recorder records every event.
	Recorder *Recorder
}

// Validate reports a configuration the workers cannot run.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	case c.Rate < 0:
		return fmt.Errorf("rate must not be negative, got %g", c.Rate)
	case c.OpTimeout <= 0:
		return fmt.Errorf("operation timeout must be positive, got %s", c.OpTimeout)
	case c.Generator == nil || c.NewClient == nil || c.Recorder == nil:
		return errors.New("generator, client factory and recorder are required")
	}
	return nil
}

// Run drives the workers until the generator, the time limit or the
// operation limit ends, or ctx is cancelled; every operation that started
// is completed (by the client within OpTimeout) and recorded before Run
// returns. It returns the number of operations invoked. An error means a
// client could not be made.
func Run(ctx context.Context, cfg Config) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	d := &dispenser{cfg: cfg, start: time.Now()}
	if cfg.Rate > 0 {
		d.interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	var nextProcess atomic.Int64
	nextProcess.Store(int64(cfg.Concurrency))
	g, gctx := errgroup.WithContext(ctx)
	// The time limit ends generation only: operations in flight then
	// complete within their own timeout. Cancelling ctx ends both.
	genCtx := gctx
	if cfg.TimeLimit > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(gctx, cfg.TimeLimit)
		defer cancel()
	}
	for w := 0; w < cfg.Concurrency; w++ {
		g.Go(func() error {
			return worker(gctx, genCtx, cfg, d, w, func() int { return int(nextProcess.Add(1) - 1) })
		})
	}
	err := g.Wait()
	return d.Issued(), err
}

func worker(ctx, genCtx context.Context, cfg Config, d *dispenser, process int, fresh func() int) error {
	client, err := cfg.NewClient(process)
	if err != nil {
		return fmt.Errorf("client for process %d: %w", process, err)
	}
	defer func() { client.Close() }()
	for {
		op, ok := d.take(genCtx)
		if !ok {
			return nil
		}
		res := Invoke(ctx, cfg, client, process, op)
		if res.Type == core.Info {
			client.Close()
			process = fresh()
			if client, err = cfg.NewClient(process); err != nil {
				client = nopClient{}
				return fmt.Errorf("client for process %d: %w", process, err)
			}
		}
	}
}

// Invoke records op's invocation for process, performs it with the client
// under cfg.OpTimeout and records its completion, which it returns. A
// completion of any other type than ok, fail or info is recorded as info.
func Invoke(ctx context.Context, cfg Config, client core.Client, process int, op core.Op) core.Op {
	op.Type = core.Invoke
	op.Node, op.Error = "", ""
	cfg.Recorder.Record(process, op)
	opCtx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
	res := client.Invoke(opCtx, op)
	cancel()
	switch res.Type {
	case core.OK, core.Fail, core.Info:
	default:
		res.Type = core.Info
		if res.Error == "" {
			res.Error = "client returned no outcome"
		}
	}
	res.F, res.Key = op.F, op.Key
	cfg.Recorder.Record(process, res)
	return res
}

// dispenser hands out operations in generator order under the rate and
// the operation limit.
type dispenser struct {
	cfg      Config
	start    time.Time
	interval time.Duration
	mu       sync.Mutex
	issued   int
	done     bool
}

func (d *dispenser) Issued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.issued
}

// take returns the next operation once its slot in the rate schedule has
// come, or false when generation is over.
func (d *dispenser) take(ctx context.Context) (core.Op, bool) {
	if ctx.Err() != nil {
		return core.Op{}, false
	}
	d.mu.Lock()
	if d.done || (d.cfg.OpLimit > 0 && d.issued >= d.cfg.OpLimit) {
		d.done = true
		d.mu.Unlock()
		return core.Op{}, false
	}
	op, ok := d.cfg.Generator.Next()
	if !ok {
		d.done = true
		d.mu.Unlock()
		return core.Op{}, false
	}
	slot := d.issued
	d.issued++
	d.mu.Unlock()
	if d.interval > 0 {
		if wait := time.Until(d.start.Add(time.Duration(slot) * d.interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return core.Op{}, false
			case <-t.C:
			}
		}
	}
	return op, true
}

type nopClient struct{}

func (nopClient) Invoke(_ context.Context, op core.Op) core.Op { op.Type = core.Fail; return op }
func (nopClient) Close() error                                 { return nil }
