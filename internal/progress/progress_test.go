package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/controller"
)

func source(c *controller.Counts, f *Fault) Source {
	return Source{Elapsed: func() time.Duration { return 3 * time.Second }, Limit: 20 * time.Second, Counts: c, Fault: f.Get}
}

func TestLineAndFaultTracking(t *testing.T) {
	var c controller.Counts
	c.OK.Add(7)
	c.Fail.Add(2)
	c.Info.Add(1)
	f := NewFault()
	if got := Line(source(&c, f)); got != "3s of 20s  ok 7  fail 2  info 1  fault: none" {
		t.Fatalf("line %q", got)
	}
	f.Observe("start-partition", nil, nil)
	if !strings.HasSuffix(Line(source(&c, f)), "fault: partition") {
		t.Fatalf("active fault not shown: %q", Line(source(&c, f)))
	}
	f.Observe("stop-partition", nil, nil)
	if f.Get() != "" {
		t.Fatalf("fault still active after stop: %q", f.Get())
	}
	f.Observe("start-kill", nil, errors.New("no such node"))
	if f.Get() != "start-kill failed" {
		t.Fatalf("failed fault shown as %q", f.Get())
	}
}

// syncBuffer is a bytes.Buffer safe to read while the display writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPlainLinesWithoutTerminal(t *testing.T) {
	var c controller.Counts
	var buf syncBuffer
	stop := start(&buf, source(&c, NewFault()), false, time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // idempotent
	out := buf.String()
	if strings.Count(out, "\n") < 2 || !strings.Contains(out, "ok 0") || strings.Contains(out, "\r") {
		t.Fatalf("want repeated plain status lines without carriage returns, got %q", out)
	}
}

func TestTerminalRedrawsOneLine(t *testing.T) {
	var c controller.Counts
	var buf bytes.Buffer
	stop := start(&buf, source(&c, NewFault()), true, time.Hour)
	stop()
	if out := buf.String(); !strings.HasPrefix(out, "\r\033[K") || strings.Count(out, "\n") != 1 {
		t.Fatalf("terminal display should redraw in place and end with one newline, got %q", out)
	}
}

func TestNilWriterIsQuiet(t *testing.T) {
	Start(nil, Source{})()
}

func TestLineNeverCountsPastTheLimitAndNamesThePhase(t *testing.T) {
	var c controller.Counts
	ph := NewPhase()
	s := Source{Elapsed: func() time.Duration { return 22 * time.Second }, Limit: 20 * time.Second, Counts: &c, Fault: NewFault().Get, Phase: ph}
	if got := Line(s); !strings.HasPrefix(got, "20s of 20s  ") {
		t.Fatalf("line past the limit: %q", got)
	}
	for _, p := range []string{"healing", "final reads", "checking"} {
		ph.Set(p)
		if got := Line(s); !strings.HasPrefix(got, p+"  ok 0") || strings.Contains(got, " of ") {
			t.Fatalf("phase %s shown as %q", p, got)
		}
	}
}

func TestPhaseChangeShowsAtOnce(t *testing.T) {
	var c controller.Counts
	var buf syncBuffer
	ph := NewPhase()
	s := source(&c, NewFault())
	s.Phase = ph
	stop := start(&buf, s, false, time.Hour)
	defer stop()
	ph.Set("checking")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "checking  ok 0") {
		if time.Now().After(deadline) {
			t.Fatalf("phase change not shown: %q", buf.String())
		}
		time.Sleep(time.Millisecond)
	}
}
