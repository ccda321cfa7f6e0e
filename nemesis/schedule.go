package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/core"
)

// StopTimeout bounds each Stop that Run calls. Stop runs under a context
// of its own, detached from Run's cancellation, so a fault is healed even
// when the schedule is being cancelled.
const StopTimeout = 2 * time.Minute

// Run follows the fault schedule until ctx is cancelled: wait interval
// with the cluster healthy, start the next fault of the round (record
// "start-<name>"), wait interval, stop it (record "stop-<name>"), and
// again. A round is every fault of faults once, in an order shuffled with
// rng, so every listed kind has had a window before any kind repeats.
// When Start fails, Stop follows at once to heal what it may
// have done. When ctx is cancelled during a window, Run stops the open
// fault before it returns. The kinds, shapes and nodes of the schedule
// depend only on rng (and on what the cluster reports), so the same seed
// gives the same sequence.
//
// record receives each event's name, the value Start or Stop returned and
// its error; Run calls it from its own goroutine only. With no faults, Run
// waits for ctx. Run returns nil once ctx is cancelled, and an error
// wrapping core.ErrBadInput for a non-positive interval or a nil rng.
func Run(ctx context.Context, c Cluster, faults []Fault, interval time.Duration, rng *rand.Rand, record func(f string, value any, err error)) error {
	if interval <= 0 {
		return core.BadInput("nemesis interval must be positive, got %v", interval)
	}
	if rng == nil {
		return core.BadInput("nemesis schedule needs a seeded rng")
	}
	if c == nil {
		return errors.New("nemesis schedule: no cluster")
	}
	if record == nil {
		record = func(string, any, error) {}
	}
	if len(faults) == 0 {
		<-ctx.Done()
		return nil
	}
	var round []int
	for {
		if !wait(ctx, interval) {
			return nil
		}
		if len(round) == 0 {
			round = rng.Perm(len(faults))
		}
		f := faults[round[0]]
		round = round[1:]
		v, err := f.Start(ctx, c, rng)
		record("start-"+f.Name(), v, err)
		if err == nil {
			wait(ctx, interval)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
		v, err = f.Stop(sctx, c)
		cancel()
		record("stop-"+f.Name(), v, err)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// wait waits d, or until ctx is done; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}
