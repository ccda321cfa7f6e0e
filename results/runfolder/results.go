package runfolder

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
)

// Results is the content of results.json: the combined verdict first, then
// what each checker said, the operation counts, the run's timing and the
// problems met during the run that did not stop it.
type Results struct {
	// Verdict is the combination of the checkers' verdicts (invalid beats
	// unknown beats valid); a caller that met a problem making the check
	// doubtful may lower valid to unknown.
	Verdict core.Verdict `json:"verdict"`
	// Checkers holds one entry per checker, in the order they ran.
	Checkers []core.CheckResult `json:"checkers"`
	// Counts counts the history's events.
	Counts Counts `json:"counts"`
	// Start and End are the wall-clock times of the run, when known.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// DurationNS is the run's length in nanoseconds (monotonic).
	DurationNS int64 `json:"duration_ns"`
	// Errors lists problems during the run that did not stop it, one line
	// each (a heal that needed a retry, a torn history line, a node that
	// logged a crash).
	Errors []string `json:"errors,omitempty"`
	// Figures are the run's costs: availability, throughput and latency
	// per fault window, staleness of reads (package checkers/figures).
	// Absent from runs written before they were measured.
	Figures *figures.Figures `json:"figures,omitempty"`
}

// NewResults returns the results of checks on h: the combined verdict
// (unknown when there is no checker: no check is not a pass), the
// checkers' results and the counts. Timing and errors are left for the
// caller.
func NewResults(h core.History, checks []core.CheckResult) *Results {
	if len(checks) == 0 {
		return &Results{Verdict: core.Unknown, Checkers: []core.CheckResult{}, Counts: Count(h)}
	}
	vs := make([]core.Verdict, len(checks))
	for i, c := range checks {
		vs[i] = c.Verdict
	}
	return &Results{Verdict: core.Combine(vs...), Checkers: checks, Counts: Count(h)}
}

// OpCounts counts client operations.
type OpCounts struct {
	Invoke int `json:"invoke"`
	OK     int `json:"ok"`
	Fail   int `json:"fail"`
	// Info counts info completions and invocations that never completed,
	// which docs/formats.md counts as info; so Invoke == OK + Fail + Info.
	Info int `json:"info"`
	// Unfinished is how many of Info never completed.
	Unfinished int `json:"unfinished,omitempty"`
}

// Counts counts the events of a history. The client totals are promoted
// from the embedded OpCounts (c.OK is the number of ok completions of
// every f), and appear at the top level of the JSON object.
type Counts struct {
	// Events is the number of events, the nemesis's included.
	Events int `json:"events"`
	// OpCounts counts the client operations of every f.
	OpCounts
	// Nemesis is the number of nemesis events (process -1).
	Nemesis int `json:"nemesis"`
	// ByF counts the client operations by f.
	ByF map[string]OpCounts `json:"by_f"`
	// NemesisByF counts the nemesis events by f.
	NemesisByF map[string]int `json:"nemesis_by_f,omitempty"`
}

// Count counts the events of h. An invocation without a completion counts
// as info (and as unfinished).
func Count(h core.History) Counts {
	var c Counter
	for _, e := range h {
		c.Add(e)
	}
	return c.Result()
}

// Counter counts events one at a time, so that a history can be counted
// while it is scanned. Its zero value is ready to use.
type Counter struct {
	c    Counts
	open map[int]string // process → f of its open invocation
}

// Add counts e, the next event of the history.
func (k *Counter) Add(e core.Event) {
	c := &k.c
	c.Events++
	if e.Process == core.NemesisProcess {
		c.Nemesis++
		if c.NemesisByF == nil {
			c.NemesisByF = make(map[string]int)
		}
		c.NemesisByF[e.F]++
		return
	}
	if c.ByF == nil {
		c.ByF = make(map[string]OpCounts)
		k.open = make(map[int]string)
	}
	oc := c.ByF[e.F]
	switch e.Type {
	case core.Invoke:
		oc.Invoke++
		c.Invoke++
		k.open[e.Process] = e.F
	case core.OK:
		oc.OK++
		c.OK++
		delete(k.open, e.Process)
	case core.Fail:
		oc.Fail++
		c.Fail++
		delete(k.open, e.Process)
	default:
		oc.Info++
		c.Info++
		delete(k.open, e.Process)
	}
	c.ByF[e.F] = oc
}

// Result returns the counts of the events added so far, each open
// invocation counted as info; Add may be called again afterwards.
func (k *Counter) Result() Counts {
	c := k.c
	if c.ByF == nil {
		c.ByF = map[string]OpCounts{}
	} else {
		byF := make(map[string]OpCounts, len(c.ByF))
		for f, oc := range c.ByF {
			byF[f] = oc
		}
		c.ByF = byF
	}
	for _, f := range k.open {
		oc := c.ByF[f]
		oc.Info++
		oc.Unfinished++
		c.ByF[f] = oc
		c.Info++
		c.Unfinished++
	}
	return c
}

// WriteResults writes res to the run's results.json, atomically.
func (r *Run) WriteResults(res *Results) error {
	return r.WriteJSON(ResultsFile, res)
}

// ReadResults reads results.json from the run folder dir. A missing file
// gives an error wrapping fs.ErrNotExist; a file that is not valid results,
// or not a regular file, gives an error wrapping core.ErrBadInput.
func ReadResults(dir string) (*Results, error) {
	path := filepath.Join(dir, ResultsFile)
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, core.BadInput("%s: invalid JSON at byte %d: %v", path, se.Offset, err)
		}
		return nil, core.BadInput("%s: %v", path, err)
	}
	switch res.Verdict {
	case core.Valid, core.Invalid, core.Unknown:
	default:
		return nil, core.BadInput("%s: verdict %q is not valid, invalid or unknown", path, res.Verdict)
	}
	return &res, nil
}
