// Package controller drives the workers of a run: it hands out the
// generator's operations under the rate and limits, records every
// invocation and completion, retires processes after an indeterminate
// outcome, and performs the final reads.
package controller

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/core"
)

// Sink receives every recorded event in index order, for example the
// history.jsonl writer. Write is called with the recorder's lock held, so
// a sink sees events one at a time and in order.
type Sink interface {
	Write(e core.Event) error
}

// Counts are the live totals of a run, safe to read while it goes on.
type Counts struct {
	Invoke, OK, Fail, Info atomic.Int64
}

// Recorder assigns each event its dense index and its time since the
// start, keeps the history in memory and streams it to a sink. It is safe
// for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	history core.History
	sink    Sink
	sinkErr error
	maxProc int
	// Counts are updated as events are recorded.
	Counts Counts
}

// NewRecorder returns a recorder whose clock starts now. sink may be nil.
func NewRecorder(sink Sink) *Recorder {
	return &Recorder{start: time.Now(), sink: sink, history: make(core.History, 0, 1<<12)}
}

// Start is the instant the recorder's clock counts from.
func (r *Recorder) Start() time.Time { return r.start }

// Elapsed is the time since the recorder started, on the monotonic clock.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

// Record appends one event for process and returns it.
func (r *Recorder) Record(process int, op core.Op) core.Event {
	switch op.Type {
	case core.Invoke:
		r.Counts.Invoke.Add(1)
	case core.OK:
		r.Counts.OK.Add(1)
	case core.Fail:
		r.Counts.Fail.Add(1)
	case core.Info:
		if process != core.NemesisProcess {
			r.Counts.Info.Add(1)
		}
	}
	r.mu.Lock()
	e := core.Event{Index: len(r.history), Time: int64(time.Since(r.start)), Process: process, Op: op}
	r.history = append(r.history, e)
	r.maxProc = max(r.maxProc, process)
	if r.sink != nil && r.sinkErr == nil {
		r.sinkErr = r.sink.Write(e)
	}
	r.mu.Unlock()
	return e
}

// History returns a copy of the events recorded so far.
func (r *Recorder) History() core.History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(core.History(nil), r.history...)
}

// NextProcess returns a process id greater than every one recorded so far.
func (r *Recorder) NextProcess() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxProc + 1
}

// Err returns the first error the sink returned, if any. After a sink error
// the recorder keeps the history in memory but stops writing to the sink.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sinkErr
}
