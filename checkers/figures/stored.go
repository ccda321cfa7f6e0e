package figures

import (
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// EstimateLoadEnd estimates when the workers of a stored run stopped, for
// a run whose results.json does not say (Options.LoadEnd): its first
// client invocation plus timeLimit, or its opLimit-th client invocation
// when that comes first (the workers issue exactly opLimit operations;
// the final reads follow), never past its last event. Zero limits are not
// used; with neither, and for a history without client operations, it is
// the last event's time. An empty history gives 0.
func EstimateLoadEnd(h core.History, timeLimit time.Duration, opLimit int) int64 {
	if len(h) == 0 {
		return 0
	}
	last := h[len(h)-1].Time
	var first, nth int64 = -1, -1
	invokes := 0
	for _, e := range h {
		if e.Process == core.NemesisProcess || e.Type != core.Invoke {
			continue
		}
		invokes++
		if first < 0 {
			first = e.Time
		}
		if invokes == opLimit {
			nth = e.Time
			break
		}
	}
	end := last
	if first >= 0 && timeLimit > 0 {
		end = min(end, first+int64(timeLimit))
	}
	if nth >= 0 {
		end = min(end, nth)
	}
	return end
}

// FromHistory returns the figures of a stored run whose results.json has
// none, measured from its history h with the time limit and op limit its
// test.json recorded: Compute's figures with the load phase ending at
// EstimateLoadEnd(h, timeLimit, opLimit) (so it runs from the run's
// start, time 0, to there, and LoadEndNS says where). Staleness is left
// nil: it depends on the workload (workloads.Staler), so the caller adds
// it, over Options{LoadEnd: LoadEndNS}. A history that checkers.Pair
// refuses gives Pair's error (wrapping core.ErrBadInput) rather than
// figures without operations.
func FromHistory(h core.History, timeLimit time.Duration, opLimit int) (*Figures, error) {
	if _, err := checkers.Pair(h); err != nil {
		return nil, err
	}
	return Compute(h, Options{LoadEnd: EstimateLoadEnd(h, timeLimit, opLimit)}), nil
}
