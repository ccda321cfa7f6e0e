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

// Sink receives every recorded event, for example the history.jsonl
// writer. The recorder calls Write from one goroutine of its own, in index
// order and outside its lock, so that encoding an event never holds up the
// goroutines that record.
type Sink interface {
	Write(e core.Event) error
}

// Counts are the live totals of a run, safe to read while it goes on.
type Counts struct {
	Invoke, OK, Fail, Info atomic.Int64
}

// Recorder assigns each event its dense index and its time since the
// start, keeps the history in memory and streams it to a sink. It is safe
// for concurrent use. Index and time are taken together under one lock, so
// times never go backwards in index order; nothing else happens under it.
// A goroutine owned by the recorder hands the events to the sink; Close
// stops it.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	history core.History
	maxProc int

	sink Sink
	wake chan struct{} // one pending wake-up of the sink goroutine
	stop chan struct{}
	done chan struct{}
	sent int // events handed to the sink; owned by the sink goroutine

	errMu   sync.Mutex
	sinkErr error

	closeOnce sync.Once
	// Counts are updated as events are recorded.
	Counts Counts
}

// NewRecorder returns a recorder whose clock starts now. sink may be nil;
// when it is not, the caller must call Close once recording is over.
func NewRecorder(sink Sink) *Recorder {
	r := &Recorder{start: time.Now(), sink: sink, history: make(core.History, 0, 1<<12)}
	if sink != nil {
		r.wake = make(chan struct{}, 1)
		r.stop = make(chan struct{})
		r.done = make(chan struct{})
		go r.feed()
	}
	return r
}

// Start is the instant the recorder's clock counts from.
func (r *Recorder) Start() time.Time { return r.start }

// Elapsed is the time since the recorder started, on the monotonic clock.
func (r *Recorder) Elapsed() time.Duration { return time.Since(r.start) }

// Record appends one event for process and returns it. The sink receives
// it shortly after, from the recorder's goroutine; an event recorded after
// Close stays in memory only.
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
	r.mu.Unlock()
	if r.wake != nil {
		select {
		case r.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	return e
}

// feed hands recorded events to the sink until Close.
func (r *Recorder) feed() {
	defer close(r.done)
	for {
		select {
		case <-r.wake:
			r.send()
		case <-r.stop:
			r.send()
			return
		}
	}
}

// send hands the events recorded since the last call to the sink. The
// events below len(history) never change once appended, so they are read
// outside the lock.
func (r *Recorder) send() {
	r.mu.Lock()
	batch := r.history[r.sent:len(r.history)]
	r.mu.Unlock()
	r.sent += len(batch)
	if r.Err() != nil {
		return
	}
	for _, e := range batch {
		if err := r.sink.Write(e); err != nil {
			r.errMu.Lock()
			r.sinkErr = err
			r.errMu.Unlock()
			return
		}
	}
}

// Close hands every event recorded so far to the sink and stops the
// recorder's goroutine; it does not close the sink. It returns Err. Close
// is idempotent.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() {
		if r.stop != nil {
			close(r.stop)
			<-r.done
		}
	})
	return r.Err()
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
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.sinkErr
}
