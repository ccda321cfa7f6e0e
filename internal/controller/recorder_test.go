package controller

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

// orderSink keeps what it is given; it can hold the first Write until
// released.
type orderSink struct {
	mu      sync.Mutex
	got     []int
	entered chan struct{} // closed when the first Write starts
	release chan struct{} // the first Write waits for it
	failAt  int           // index whose Write fails; -1 for none
	once    sync.Once
}

func (s *orderSink) Write(e core.Event) error {
	s.once.Do(func() {
		if s.entered != nil {
			close(s.entered)
			<-s.release
		}
	})
	if e.Index == s.failAt {
		return errors.New("disk full")
	}
	s.mu.Lock()
	s.got = append(s.got, e.Index)
	s.mu.Unlock()
	return nil
}

func TestRecorderFeedsSinkInIndexOrder(t *testing.T) {
	sink := &orderSink{failAt: -1}
	r := NewRecorder(sink)
	var wg sync.WaitGroup
	const goroutines, each = 16, 500
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				r.Record(g, core.Op{Type: core.Invoke, F: "read"})
			}
		}()
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != goroutines*each {
		t.Fatalf("sink got %d events, want %d", len(sink.got), goroutines*each)
	}
	h := r.History()
	for i, idx := range sink.got {
		if idx != i {
			t.Fatalf("sink got index %d at position %d", idx, i)
		}
		if i > 0 && h[i].Time < h[i-1].Time {
			t.Fatalf("time goes backwards at index %d: %d after %d", i, h[i].Time, h[i-1].Time)
		}
	}
}

// TestRecordDoesNotWaitForTheSink shows that the sink (which encodes) runs
// outside the recorder's lock: while the sink is stuck in a Write, other
// events are still recorded.
func TestRecordDoesNotWaitForTheSink(t *testing.T) {
	sink := &orderSink{failAt: -1, entered: make(chan struct{}), release: make(chan struct{})}
	r := NewRecorder(sink)
	r.Record(0, core.Op{Type: core.Invoke, F: "read"})
	select {
	case <-sink.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sink never received the first event")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			r.Record(1, core.Op{Type: core.Invoke, F: "read"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record waited for the sink")
	}
	close(sink.release)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != 101 {
		t.Fatalf("sink got %d events, want 101", len(sink.got))
	}
}

func TestRecorderStopsAtTheFirstSinkError(t *testing.T) {
	sink := &orderSink{failAt: 3}
	r := NewRecorder(sink)
	for range 10 {
		r.Record(0, core.Op{Type: core.Invoke, F: "read"})
	}
	if err := r.Close(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Close = %v, want the sink's error", err)
	}
	if err := r.Close(); err == nil {
		t.Fatal("a second Close forgot the error")
	}
	if len(sink.got) != 3 || len(r.History()) != 10 {
		t.Fatalf("sink got %v and history has %d events; want 0..2 and 10", sink.got, len(r.History()))
	}
}
