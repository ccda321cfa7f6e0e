// Package progress shows a run's progress: a live line on a terminal, a
// plain status line every few seconds in CI or a pipe.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/controller"
	"golang.org/x/term"
)

// Source is what the display reads.
type Source struct {
	Elapsed func() time.Duration
	Limit   time.Duration
	Counts  *controller.Counts
	Fault   func() string
	// Phase names what the run does once operations stop (nil: the
	// display always shows the time elapsed of the limit).
	Phase *Phase
}

// Phase names the phase a run is in: empty while operations are generated,
// then for example "healing", "final reads", "checking". Safe for
// concurrent use; the display shows a new phase at once.
type Phase struct {
	mu      sync.Mutex
	now     string
	changed chan struct{}
}

// NewPhase returns a phase tracker in the generating phase.
func NewPhase() *Phase { return &Phase{changed: make(chan struct{}, 1)} }

// Set enters phase s.
func (p *Phase) Set(s string) {
	p.mu.Lock()
	p.now = s
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Get returns the current phase, or "" while operations are generated.
func (p *Phase) Get() string {
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now
}

// Fault tracks the active fault from the nemesis events; safe for
// concurrent use.
type Fault struct {
	mu  sync.Mutex
	now string
}

// NewFault returns a tracker with no active fault.
func NewFault() *Fault { return &Fault{} }

// Observe updates the tracker from a nemesis event.
func (f *Fault) Observe(name string, value any, err error) {
	switch {
	case err != nil:
		f.Set(name + " failed")
	case strings.HasPrefix(name, "start-"):
		f.Set(strings.TrimPrefix(name, "start-"))
	case strings.HasPrefix(name, "stop-"):
		f.Set("")
	}
}

// Set replaces the description of the active fault.
func (f *Fault) Set(s string) {
	f.mu.Lock()
	f.now = s
	f.mu.Unlock()
}

// Get returns the description of the active fault, or "".
func (f *Fault) Get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Line formats one status line: the time elapsed of the limit (never past
// it: operations in flight may finish after it) or, once operations have
// stopped, the phase; then the counts and the active fault.
func Line(s Source) string {
	fault := s.Fault()
	if fault == "" {
		fault = "none"
	}
	head := s.Phase.Get()
	if head == "" {
		head = fmt.Sprintf("%s of %s", min(s.Elapsed(), s.Limit).Round(time.Second), s.Limit)
	}
	return fmt.Sprintf("%s  ok %d  fail %d  info %d  fault: %s",
		head, s.Counts.OK.Load(), s.Counts.Fail.Load(), s.Counts.Info.Load(), fault)
}

// IsTerminal reports whether w is a terminal and the process is not in CI.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("CI") == "" && term.IsTerminal(int(f.Fd()))
}

// Start shows progress on w until the returned stop function is called;
// stop is idempotent and returns once the display has finished. A line is
// shown every few seconds and at once when s.Phase changes. A nil w shows
// nothing.
func Start(w io.Writer, s Source) (stop func()) {
	if w == nil {
		return func() {}
	}
	tty := IsTerminal(w)
	every := 5 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	return start(w, s, tty, every)
}

func start(w io.Writer, s Source, tty bool, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var changed <-chan struct{}
	if s.Phase != nil {
		changed = s.Phase.changed
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintf(w, "\r\033[K%s\n", Line(s))
				}
				return
			case <-t.C:
			case <-changed:
			}
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", Line(s))
			} else {
				fmt.Fprintln(w, Line(s))
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); <-finished })
	}
}
