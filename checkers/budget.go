package checkers

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// ErrMemoryBudget is the cause (context.Cause) of a context that
// WithMemoryBudget cancelled because the heap grew past the budget. A
// checker whose context ends so says unknown.
var ErrMemoryBudget = errors.New("memory budget exhausted")

// fallbackMemory is what MachineMemory assumes when it cannot tell.
const fallbackMemory = 4 << 30

// DefaultMemoryBudget returns the default memory budget of the checkers:
// a quarter of MachineMemory.
func DefaultMemoryBudget() int64 { return MachineMemory() / 4 }

// MachineMemory returns the memory this process may use: MemTotal in
// /proc/meminfo, or the cgroup's memory.max where that is lower. Where
// neither can be read (not Linux) it assumes 4 GiB.
func MachineMemory() int64 {
	total := int64(0)
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			// MemTotal:       24684312 kB
			if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil && kb > 0 {
					total = kb << 10
				}
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && (total == 0 || limit < total) {
			total = limit
		}
	}
	if total == 0 {
		total = fallbackMemory
	}
	return total
}

// memoryPoll is how often WithMemoryBudget reads the heap size, and
// memoryGCEvery how often at most it collects garbage to tell live memory
// from garbage before it gives up.
const (
	memoryPoll    = 10 * time.Millisecond
	memoryGCEvery = 100 * time.Millisecond
)

// heapBytes is the memory held by heap objects, garbage not yet collected
// included.
const heapBytes = "/memory/classes/heap/objects:bytes"

// readHeap returns the bytes held by heap objects.
func readHeap() int64 {
	s := []metrics.Sample{{Name: heapBytes}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// WithMemoryBudget returns a copy of parent that is cancelled with cause
// ErrMemoryBudget once the Go heap holds more than budget bytes above what
// it held when WithMemoryBudget was called. A watcher goroutine reads the
// heap size (runtime/metrics) every few milliseconds; when the heap is
// over, it collects garbage (at most every 100 ms) and gives up only if
// live memory is still over. The heap is the process's, so the budget
// bounds what the checkers allocate only while nothing else in the process
// allocates much. A checker that honours its context (as Linearizable
// does) then stops and says unknown; the heap can overshoot by what is
// allocated in the moments before it stops. A budget of zero or less
// means no budget.
//
// The returned cancel function stops the watcher, cancels the context and
// returns once the watcher has ended; call it when the check is done.
func WithMemoryBudget(parent context.Context, budget int64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	if budget <= 0 {
		return ctx, func() { cancel(context.Canceled) }
	}
	limit := readHeap() + budget
	if limit < budget { // overflow
		return ctx, func() { cancel(context.Canceled) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(memoryPoll)
		defer tick.Stop()
		var lastGC time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if readHeap() <= limit || time.Since(lastGC) < memoryGCEvery {
				continue
			}
			runtime.GC()
			lastGC = time.Now()
			if readHeap() > limit {
				cancel(ErrMemoryBudget)
				return
			}
		}
	}()
	return ctx, func() {
		cancel(context.Canceled)
		<-done
	}
}

// stopReason phrases why the check of some keys stopped early, from the
// cause of its context: out of memory budget, interrupted or (a deadline,
// or porcupine's own timeout) out of time.
func stopReason(cause error) string {
	switch {
	case errors.Is(cause, ErrMemoryBudget):
		return "ran out of memory budget"
	case errors.Is(cause, context.Canceled):
		return "were interrupted"
	default:
		return "ran out of time"
	}
}
