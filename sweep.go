package faultline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/checkers/usl"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
)

// Names in a sweep folder.
const (
	// SweepFile is the sweep's account: its test, each level's verdict
	// and figures, and the fit.
	SweepFile = "sweep.json"
	// SweepPage is the sweep's HTML page.
	SweepPage = "sweep.html"
	// SweepLevelsDir is the results root of the levels' run folders,
	// inside the sweep folder.
	SweepLevelsDir = "levels"
)

// Figures sources of a level (SweepLevel.FiguresFrom).
const (
	// FiguresFromResults: the "figures" object of the level's
	// results.json (its Availability row for figures.All).
	FiguresFromResults = "results.json"
	// FiguresFromHistory: measured by the sweep from the level's
	// history.jsonl, for a results.json that has no figures.
	FiguresFromHistory = "history.jsonl"
)

// Sweep is a contention sweep: Test run once at each concurrency level of
// Levels, in order, with the same seed, to see how throughput and latency
// change with the number of clients. Test.Concurrency is ignored; every
// other setting, Test.Results included (the sweep folder goes under it),
// applies to every level.
type Sweep struct {
	// Test is the test each level runs, with Concurrency set to the
	// level's. A Seed of 0 makes RunSweep pick one seed for every level.
	Test Test
	// Levels are the concurrency levels, strictly increasing, each from 1
	// to MaxConcurrency.
	Levels []int
	// RunCommand, when set, returns the command line recorded in the
	// test.json of the level at concurrency n run with seed (one that
	// repeats that level alone); nil records Test.Command.
	RunCommand func(n int, seed int64) string
	// OnLevel, when set, is called with the sweep so far and the level
	// just ended (the one an interrupt ended included), in order, once
	// sweep.json has been rewritten; it runs on RunSweep's goroutine and
	// must not keep r.
	OnLevel func(r *SweepResult, l SweepLevel)
}

// Validate reports the first problem that would stop RunSweep before
// anything starts: no levels, a level below 1, levels not strictly
// increasing (a level listed twice is named as such), or a level at which
// Test itself is not valid (Test.Validate's error). Every error wraps
// ErrBadInput and names the flag.
func (s Sweep) Validate() error {
	if len(s.Levels) == 0 {
		return core.BadInput("--concurrency: no levels given; give a comma list such as 1,2,4,8")
	}
	for i, n := range s.Levels {
		if n < 1 {
			return core.BadInput("--concurrency: level %d is not a number of clients of at least 1", n)
		}
		if slices.Contains(s.Levels[:i], n) {
			return core.BadInput("--concurrency: level %d is listed twice", n)
		}
		if i > 0 && n < s.Levels[i-1] {
			return core.BadInput("--concurrency: level %d comes after %d; list the levels in increasing order", n, s.Levels[i-1])
		}
	}
	for _, n := range s.Levels {
		t := s.Test
		t.Concurrency = n
		if err := t.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// SweepLevel is one level of a sweep: one run at one concurrency.
type SweepLevel struct {
	// Concurrency is the level's number of client processes.
	Concurrency int `json:"concurrency"`
	// RunDir is the level's run folder, relative to the sweep folder,
	// with slashes; empty when no run folder was made.
	RunDir string `json:"run_dir,omitempty"`
	// Verdict is the level's verdict; empty when the level could not be
	// carried out to its end (see Error).
	Verdict Verdict `json:"verdict,omitempty"`
	// ExitCode is what `faultline run` would have exited with for this
	// level: 0, 1, 2, or 3 when it could not be carried out.
	ExitCode int `json:"exit_code"`
	// Interrupted is true for the level an interrupt ended.
	Interrupted bool `json:"interrupted,omitempty"`
	// Error is why the level could not be carried out to its end.
	Error string `json:"error,omitempty"`
	// FiguresFrom says where Figures come from: FiguresFromResults or
	// FiguresFromHistory; empty when there are none.
	FiguresFrom string `json:"figures_from,omitempty"`
	// Figures are the level's figures over its whole load phase (the
	// figures.All row): operations, their outcomes, ok throughput and ok
	// latency percentiles.
	Figures *figures.Period `json:"figures,omitempty"`
}

// Ended reports whether the level ran to its end with a verdict, which
// makes its figures count in the fit.
func (l SweepLevel) Ended() bool { return l.Verdict != "" && l.Error == "" }

// OKPerSec is the level's throughput of ok operations (0 without
// figures).
func (l SweepLevel) OKPerSec() float64 {
	if l.Figures == nil {
		return 0
	}
	return l.Figures.OKPerSec
}

// SweepResult is the outcome of a sweep, and the content of sweep.json.
type SweepResult struct {
	// Verdict combines the verdicts of the levels that ended: invalid
	// beats unknown beats valid; unknown when none ended.
	Verdict Verdict `json:"verdict"`
	// ExitCode is the sweep's exit code: the Verdict's (0, 1, 2), or 3
	// when a level could not be carried out, when the sweep was
	// interrupted, and while it is still running.
	ExitCode int `json:"exit_code"`
	// Dir is the sweep folder, <results>/<target>-<workload>-sweep/<UTC
	// time>/, as Test.Results names it.
	Dir string `json:"dir"`
	// Test is the test of every level (its Concurrency 0: each level has
	// its own), with the seed used.
	Test Test `json:"test"`
	// Concurrency lists the levels asked for, in order.
	Concurrency []int `json:"concurrency"`
	// Levels holds the levels run so far, in order.
	Levels []SweepLevel `json:"levels"`
	// Fit is the Universal Scalability Law fitted to the ok throughput of
	// the levels in FitLevels; nil when it could not be fitted (FitError
	// says why).
	Fit *usl.Model `json:"fit,omitempty"`
	// FitLevels are the concurrencies whose throughput was fitted: the
	// levels that ended with some ok throughput.
	FitLevels []int `json:"fit_levels,omitempty"`
	// FitError is why there is no fit.
	FitError string `json:"fit_error,omitempty"`
	// Complete is true once every level has ended.
	Complete bool `json:"complete"`
	// Interrupted is true when an interrupt (SIGINT, SIGTERM) ended the
	// sweep; the levels done are kept.
	Interrupted bool `json:"interrupted"`
	// Error is why the sweep could not be carried out to its end.
	Error string `json:"error,omitempty"`
	// Errors lists problems met along the way that did not stop the
	// sweep (figures that could not be read).
	Errors []string `json:"errors,omitempty"`
	// Start and End are the sweep's wall-clock times (End absent while it
	// runs); DurationNS its length so far.
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	DurationNS int64     `json:"duration_ns"`
}

// RunSweep runs s: it validates every level first (bad input before
// anything is made), creates the sweep folder under s.Test.Results, then
// calls Run at each level in order with the level's run folder under the
// sweep folder's levels/ (so the sweep folder holds everything), and
// rewrites sweep.json and sweep.html after each level, so that a sweep
// killed mid-way keeps what it did. A level that cannot be carried out
// ends the sweep (an error naming the level). When ctx ends, the level in
// progress ends as Run ends it (its folder kept), sweep.json and the page
// are written with Interrupted set, and the error wraps ErrInterrupted.
// The result is non-nil once the sweep folder exists.
func RunSweep(ctx context.Context, s Sweep) (*SweepResult, error) {
	return runSweep(ctx, s, Run)
}

// runSweep is RunSweep with runLevel in Run's place.
func runSweep(ctx context.Context, s Sweep, runLevel func(context.Context, Test) (*Result, error)) (*SweepResult, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	t, dir, start, err := startSeries(s.Test, "sweep")
	if err != nil {
		return nil, err
	}
	recorded := t
	recorded.Concurrency = 0
	res := &SweepResult{Verdict: Unknown, ExitCode: 3, Dir: dir, Test: recorded,
		Concurrency: slices.Clone(s.Levels), Levels: []SweepLevel{}, Start: start}
	if err := res.write(); err != nil {
		return res, err
	}
	return res, res.run(ctx, s, t, runLevel)
}

// run runs the levels of s, each a copy of t at its concurrency through
// runLevel (Run, or a stand-in in tests), rewriting sweep.json and the
// page after each, and then writes the outcome. It returns the error that
// ended the sweep.
func (r *SweepResult) run(ctx context.Context, s Sweep, t Test, runLevel func(context.Context, Test) (*Result, error)) error {
	labels := make([]string, len(s.Levels))
	for i, n := range s.Levels {
		labels[i] = fmt.Sprintf("concurrency %d", n)
	}
	runErr := runSeries(ctx, "sweep", "levels", labels, func(i int) (error, error) {
		lt := t
		lt.Concurrency = s.Levels[i]
		lt.Results = filepath.Join(r.Dir, SweepLevelsDir)
		if s.RunCommand != nil {
			lt.Command = s.RunCommand(lt.Concurrency, t.Seed)
		}
		res, err := runLevel(ctx, lt)
		lvl := r.addLevel(lt, res, err)
		werr := r.write()
		if s.OnLevel != nil {
			s.OnLevel(r, lvl)
		}
		return err, werr
	})
	var vs []Verdict
	for _, l := range r.Levels {
		if l.Ended() {
			vs = append(vs, l.Verdict)
		}
	}
	return finishSeries(runErr, vs, func(e seriesEnd) {
		r.Verdict, r.ExitCode, r.Complete, r.Interrupted, r.Error, r.End = e.verdict, e.exitCode, e.complete, e.interrupted, e.err, e.end
	}, r.write)
}

// addLevel records the level t that Run ended with res and err: its
// verdict or error, its run folder and its figures; then it fits again.
func (r *SweepResult) addLevel(t Test, res *Result, err error) SweepLevel {
	e := endOfRun(r.Dir, res, err)
	lvl := SweepLevel{Concurrency: t.Concurrency, RunDir: e.runDir, Verdict: e.verdict, ExitCode: e.exitCode,
		Interrupted: e.interrupted, Error: e.err}
	if res != nil && res.Dir != "" {
		p, from, ferr := LevelFigures(res.Dir, t)
		switch {
		case ferr == nil:
			lvl.Figures, lvl.FiguresFrom = p, from
		case !errors.Is(ferr, fs.ErrNotExist):
			r.Errors = append(r.Errors, fmt.Sprintf("concurrency %d: figures: %v", t.Concurrency, ferr))
		}
	}
	r.Levels = append(r.Levels, lvl)
	r.refit()
	return lvl
}

// refit fits the Universal Scalability Law to the levels that ended with
// some ok throughput.
func (r *SweepResult) refit() {
	r.Fit, r.FitLevels, r.FitError = nil, nil, ""
	var pts []usl.Point
	for _, l := range r.Levels {
		if l.Ended() && l.OKPerSec() > 0 {
			pts = append(pts, usl.Point{N: float64(l.Concurrency), X: l.OKPerSec()})
			r.FitLevels = append(r.FitLevels, l.Concurrency)
		}
	}
	m, err := usl.Fit(pts)
	if err != nil {
		r.FitError = err.Error()
		return
	}
	r.Fit = &m
}

// write writes sweep.json and sweep.html, each atomically.
func (r *SweepResult) write() error {
	r.DurationNS = seriesDuration(r.Start, r.End)
	f := &runfolder.Run{Dir: r.Dir}
	if err := f.WriteJSON(SweepFile, r); err != nil {
		return err
	}
	page, err := r.Page()
	if err != nil {
		return fmt.Errorf("write %s: %w", SweepPage, err)
	}
	return f.WriteFile(SweepPage, page)
}

// LevelFigures returns the figures of the run folder dir over its whole
// load phase, and where they come from: the figures.All row of its
// results.json when it has one (FiguresFromResults), else the figures.All
// row measured from its history.jsonl (FiguresFromHistory) as
// figures.FromHistory measures a stored run, with t the level's test. A
// folder with neither gives an error wrapping fs.ErrNotExist; a history
// whose operations do not pair, an error wrapping ErrBadInput.
func LevelFigures(dir string, t Test) (*figures.Period, string, error) {
	res, err := runfolder.ReadResults(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	if res != nil {
		if p := res.Figures.AllRow(); p != nil {
			return p, FiguresFromResults, nil
		}
	}
	h, err := history.ReadFile(filepath.Join(dir, runfolder.HistoryFile), nil)
	if err != nil {
		return nil, "", err
	}
	p, err := historyLevelFigures(h, t)
	if err != nil {
		return nil, "", err
	}
	return p, FiguresFromHistory, nil
}

// historyLevelFigures is the figures.All row of figures.FromHistory(h)
// under the level's test t.
func historyLevelFigures(h History, t Test) (*figures.Period, error) {
	f, err := figures.FromHistory(h, t.TimeLimit, t.OpLimit)
	if err != nil {
		return nil, err
	}
	return f.AllRow(), nil
}
