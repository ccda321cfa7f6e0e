package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/core"
)

// FinalReads performs each of ops until it completes ok, each attempt as a
// recorded operation of a fresh process (first, first+1, ...), retrying a
// failed or indeterminate attempt after retry until ctx ends or attempts
// run out. It returns the next unused process id and the ops that never
// completed ok; those are reported, not fatal: the history holds every
// attempt and the checkers judge it.
func FinalReads(ctx context.Context, cfg Config, ops []core.Op, first int, attempts int, retry time.Duration) (int, []core.Op) {
	process := first
	var missed []core.Op
	for _, op := range ops {
		done := false
		for a := 0; a < attempts && !done && ctx.Err() == nil; a++ {
			if a > 0 {
				t := time.NewTimer(retry)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			client, err := cfg.NewClient(process)
			if err != nil {
				continue
			}
			res := Invoke(ctx, cfg, client, process, op)
			client.Close()
			process++
			done = res.Type == core.OK
		}
		if !done {
			missed = append(missed, op)
		}
	}
	return process, missed
}

// MissedError describes final reads that never succeeded.
func MissedError(missed []core.Op) error {
	if len(missed) == 0 {
		return nil
	}
	return fmt.Errorf("%d final reads did not complete (first: %s %s)", len(missed), missed[0].F, missed[0].Key)
}
