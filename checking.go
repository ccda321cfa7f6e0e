package faultline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
)

// ErrCheckerCrashed marks a check that could not be carried out because a
// checker panicked. It is an error (exit 3), never a verdict.
var ErrCheckerCrashed = errors.New("checker crashed")

// errCheckInterrupted is what runCheckers returns when ctx ends first;
// Run and Check phrase it for what they were doing.
var errCheckInterrupted = errors.New("interrupted while checking")

// runCheckers runs wl's checkers on h, each bounded by timeout, all
// together by a memory budget of memory bytes of heap growth
// (checkers.WithMemoryBudget), and returns their results.
//
// The checkers run in a goroutine of their own, so that the caller stops
// waiting the moment ctx ends (SIGINT or SIGTERM): runCheckers then
// returns errCheckInterrupted at once, whatever the checkers were doing.
// Their context ends with ctx, so they stop on their own shortly after (a
// porcupine search notices it within its next step); a process that was
// interrupted exits without waiting for them.
//
// A checker that panics gives an error wrapping ErrCheckerCrashed, never a
// verdict.
func runCheckers(ctx context.Context, wl workloads.Workload, h core.History, opts workloads.CheckOptions, timeout time.Duration, memory int64) ([]CheckResult, error) {
	type outcome struct {
		res []CheckResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() { done <- o }()
		defer func() {
			if r := recover(); r != nil {
				o.err = crashError(r)
			}
		}()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		mctx, stopBudget := checkers.WithMemoryBudget(cctx, memory)
		defer stopBudget()
		o.res = wl.Check(mctx, h, opts)
	}()
	select {
	case o := <-done:
		if ctx.Err() != nil {
			// Checkers cut short by the interrupt say unknown; that
			// is not their verdict.
			return nil, errCheckInterrupted
		}
		return o.res, o.err
	case <-ctx.Done():
		return nil, errCheckInterrupted
	}
}

// crashError turns what a checker panicked with (a *checkers.Crash names
// the checker and the key) into an error wrapping ErrCheckerCrashed.
func crashError(r any) error {
	return fmt.Errorf("%w: %v", ErrCheckerCrashed, r)
}
