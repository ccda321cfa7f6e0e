package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/core"
)

// FlushInterval is the longest time an event accepted by
// Writer.Write stays in the writer's buffer before it is handed to
// the operating system.
const FlushInterval = 100 * time.Millisecond

// flushSize is the buffer size at which Write hands the buffer over at
// once instead of waiting for the next tick.
const flushSize = 64 << 10

// Writer writes events to a history file in the format of docs/formats.md,
// in index order. It is safe for concurrent use. Events may arrive out of
// order (two goroutines that took indices 7 and 8 may call Write in either
// order): an event whose predecessors have not all arrived waits in memory
// and goes out as soon as the gap is filled, so the file is always a dense
// prefix of the history.
//
// Lines are buffered; a goroutine owned by the writer flushes the buffer
// every FlushInterval, so a reader of the file sees an event at most about
// FlushInterval after Write returned. The caller must call Close, which
// stops that goroutine, flushes and syncs.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	file    *os.File // set when the writer opened the file; Close closes it
	buf     []byte
	next    int            // index of the next event to go into buf
	pending map[int][]byte // encoded events waiting for a gap to fill
	err     error          // first write error; sticky
	closed  bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewWriter creates the history file at path and returns a writer
// for it. It refuses to overwrite an existing file: a history is evidence.
// The writer owns the file; Close closes it.
func NewWriter(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	hw := newHistoryWriter(f)
	hw.file = f
	return hw, nil
}

// NewWriterTo returns a writer that writes history lines to w. The
// caller keeps ownership of w: Close flushes and, when w has a
// Sync() error method, syncs it, but never closes it. Writes to w come
// from the caller's goroutines and from the writer's flush goroutine, never
// two at a time.
func NewWriterTo(w io.Writer) *Writer {
	return newHistoryWriter(w)
}

func newHistoryWriter(w io.Writer) *Writer {
	hw := &Writer{
		w:       w,
		buf:     make([]byte, 0, flushSize+4096),
		pending: make(map[int][]byte),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go hw.flushLoop()
	return hw
}

func (w *Writer) flushLoop() {
	defer close(w.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			_ = w.flushLocked() // the error is sticky; Write and Close return it
			w.mu.Unlock()
		}
	}
}

// Write encodes e and queues it for the file. It rejects an event whose
// type is invalid, whose process is below NemesisProcess, whose index or
// time is negative, whose index is already written, whose value cannot be
// encoded as JSON, or whose line would be longer than MaxLineBytes;
// a rejected event is not written, so the events after it wait in memory
// until Close (which writes them and reports the gap): the caller should
// treat any error from Write as fatal to the run. After a write error
// every call returns that error. Write after Close returns an error wrapping os.ErrClosed.
func (w *Writer) Write(e core.Event) error {
	if !e.Type.Valid() {
		return fmt.Errorf("write history event %d: invalid type %q", e.Index, e.Type)
	}
	if e.Process < core.NemesisProcess {
		return fmt.Errorf("write history event %d: invalid process %d", e.Index, e.Process)
	}
	if e.Index < 0 {
		return fmt.Errorf("write history event: negative index %d", e.Index)
	}
	if e.Time < 0 {
		return fmt.Errorf("write history event %d: negative time %d", e.Index, e.Time)
	}
	var scratch [512]byte
	line, err := appendEvent(scratch[:0], e)
	if err != nil {
		return fmt.Errorf("write history event %d: %w", e.Index, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("write history event %d: %w", e.Index, os.ErrClosed)
	}
	if w.err != nil {
		return w.err
	}
	switch {
	case e.Index == w.next:
		w.buf = append(w.buf, line...)
		w.next++
		for len(w.pending) > 0 {
			p, ok := w.pending[w.next]
			if !ok {
				break
			}
			w.buf = append(w.buf, p...)
			delete(w.pending, w.next)
			w.next++
		}
	case e.Index < w.next:
		return fmt.Errorf("write history event %d: index already written", e.Index)
	default:
		if _, dup := w.pending[e.Index]; dup {
			return fmt.Errorf("write history event %d: index already written", e.Index)
		}
		w.pending[e.Index] = bytes.Clone(line)
	}
	if len(w.buf) >= flushSize {
		return w.flushLocked()
	}
	return nil
}

// Flush hands every buffered event that is in order to the operating
// system. It does not sync. It returns the writer's first write error.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("write history: %w", err)
	}
	return w.err
}

// Close stops the flush goroutine, writes what is buffered, syncs, and
// closes the file if the writer opened it. Events still waiting for a
// missing index are written too, in index order, and Close reports the
// gap as an error (the file then fails to read, saying where). Close is
// idempotent: later calls return the first call's result.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
		var errs []error
		if len(w.pending) > 0 {
			idx := make([]int, 0, len(w.pending))
			for i := range w.pending {
				idx = append(idx, i)
			}
			slices.Sort(idx)
			errs = append(errs, fmt.Errorf("close history: index %d was never written; %d later events written after the gap", w.next, len(idx)))
			for _, i := range idx {
				w.buf = append(w.buf, w.pending[i]...)
			}
			clear(w.pending)
		}
		if err := w.flushLocked(); err != nil {
			errs = append(errs, err)
		}
		if s, ok := w.w.(interface{ Sync() error }); ok {
			if err := s.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
				errs = append(errs, fmt.Errorf("sync history: %w", err))
			}
		}
		if w.file != nil {
			if err := w.file.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close history: %w", err))
			}
		}
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}
