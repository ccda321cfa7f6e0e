package checkers

import (
	"strings"

	"github.com/faultline/faultline/core"
)

// Window is one nemesis fault window: from a "start-<fault>" event to the
// matching "stop-<fault>" (the oldest open one of that fault). Times are
// nanoseconds since the run started.
type Window struct {
	Fault string `json:"fault"`
	Start int64  `json:"start_ns"`
	// End is the stop's time, or the end of the history when the fault
	// never stopped (Open).
	End  int64 `json:"end_ns"`
	Open bool  `json:"open,omitempty"`
}

// FaultWindows pairs the nemesis's start-X and stop-X events of h into
// windows (a stop closes the oldest open window of X), in order of their
// starts; windows that never stopped end with the history.
func FaultWindows(h core.History) []Window {
	var end int64
	var windows []Window
	open := map[string][]int{} // fault → positions in windows, oldest first
	for _, e := range h {
		end = max(end, e.Time)
		if e.Process != core.NemesisProcess {
			continue
		}
		switch {
		case strings.HasPrefix(e.F, "start-") && len(e.F) > len("start-"):
			f := strings.TrimPrefix(e.F, "start-")
			open[f] = append(open[f], len(windows))
			windows = append(windows, Window{Fault: f, Start: e.Time, Open: true})
		case strings.HasPrefix(e.F, "stop-") && len(open[strings.TrimPrefix(e.F, "stop-")]) > 0:
			f := strings.TrimPrefix(e.F, "stop-")
			w := &windows[open[f][0]]
			open[f] = open[f][1:]
			w.End, w.Open = e.Time, false
		}
	}
	for i := range windows {
		if windows[i].Open {
			windows[i].End = max(end, windows[i].Start)
		}
	}
	return windows
}

// During returns the windows of ws (in order of their starts) that
// overlap [start, end].
func During(ws []Window, start, end int64) []Window {
	var out []Window
	for _, w := range ws {
		if w.Start > end {
			break
		}
		if w.End >= start {
			out = append(out, w)
		}
	}
	return out
}
