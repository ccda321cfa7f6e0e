package faultline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/junit"
	"github.com/faultline/faultline/results/runfolder"
)

// Names in a repeat folder.
const (
	// RepeatFile is the repeat's account: its test, each run's verdict
	// and first anomaly, and the detection rate.
	RepeatFile = "repeat.json"
	// RepeatRunsDir is the results root of the runs' run folders, inside
	// the repeat folder.
	RepeatRunsDir = "runs"
)

// MaxRepeat is the most runs a repeat may ask for.
const MaxRepeat = 1000

// Confidence is the confidence level of a detection rate's interval.
const Confidence = 0.95

// z95 is the standard normal quantile of 0.975: the z of a two-sided 95%
// interval.
const z95 = 1.959963984540054

// Repeat is the same test run N times with N seeds, to measure how often
// it finds an anomaly: its detection rate. Every setting of Test but the
// seed, Test.Results included (the repeat folder goes under it), applies
// to every run.
type Repeat struct {
	// Test is the test every run runs, with its own seed. A Seed s other
	// than 0 gives the runs the seeds s, s+1, …, s+N−1 (0 skipped: the
	// N consecutive non-zero seeds from s); 0 makes RunRepeat pick the
	// first at random and record it.
	Test Test
	// N is how many runs, from 1 to MaxRepeat.
	N int
	// RunCommand, when set, returns the command line recorded in the
	// test.json of the run with seed (one that repeats that run alone);
	// nil records Test.Command.
	RunCommand func(seed int64) string
	// OnRun, when set, is called with the repeat so far and the run just
	// ended (the one an interrupt ended included), in order, once
	// repeat.json has been rewritten; it runs on RunRepeat's goroutine and
	// must not keep r.
	OnRun func(r *RepeatResult, run RepeatRun)
}

// Validate reports the first problem that would stop RunRepeat before
// anything starts: N outside 1 to MaxRepeat, seeds that would pass the
// largest int64, or a Test that is not valid (Test.Validate's error).
// Every error wraps ErrBadInput and names the flag.
func (r Repeat) Validate() error {
	if r.N < 1 || r.N > MaxRepeat {
		return core.BadInput("--repeat must be between 1 and %d, got %d", MaxRepeat, r.N)
	}
	if s := r.Test.Seed; s > 0 && s > math.MaxInt64-int64(r.N-1) {
		return core.BadInput("--seed %d: %d runs would need seeds past %d", s, r.N, int64(math.MaxInt64))
	}
	return r.Test.Validate()
}

// repeatSeeds returns the n consecutive non-zero seeds from first.
func repeatSeeds(first int64, n int) []int64 {
	out := make([]int64, 0, n)
	for s := first; len(out) < n; s++ {
		if s != 0 {
			out = append(out, s)
		}
	}
	return out
}

// RepeatRun is one run of a repeat: one seed.
type RepeatRun struct {
	// Seed is the run's seed.
	Seed int64 `json:"seed"`
	// RunDir is the run folder, relative to the repeat folder, with
	// slashes; empty when no run folder was made.
	RunDir string `json:"run_dir,omitempty"`
	// Verdict is the run's verdict; empty when it could not be carried
	// out to its end (see Error).
	Verdict Verdict `json:"verdict,omitempty"`
	// ExitCode is what `faultline run` would have exited with for this
	// run: 0, 1, 2, or 3 when it could not be carried out.
	ExitCode int `json:"exit_code"`
	// Interrupted is true for the run an interrupt ended.
	Interrupted bool `json:"interrupted,omitempty"`
	// Error is why the run could not be carried out to its end.
	Error string `json:"error,omitempty"`
	// Anomalies counts the anomalies of the run's invalid checkers.
	Anomalies int `json:"anomalies"`
	// FirstAnomaly is the first anomalous operation of the run (see
	// FindFirstAnomaly); nil when no anomaly names an event of the
	// history.
	FirstAnomaly *FirstAnomaly `json:"first_anomaly,omitempty"`

	// checkers are the run's checker results, for the JUnit report.
	checkers []CheckResult
}

// Ended reports whether the run ran to its end with a verdict, which
// makes it count in the detection rate.
func (r RepeatRun) Ended() bool { return r.Verdict != "" && r.Error == "" }

// FirstAnomaly is the first anomalous operation of a history: of every
// event named by an anomaly of an invalid checker, the one whose operation
// was invoked first.
type FirstAnomaly struct {
	// TimeNS is that operation's invocation time, in ns since the run
	// started (the history's time).
	TimeNS int64 `json:"time_ns"`
	// Event is the history index of that invocation (of the nemesis
	// event itself when an anomaly names one).
	Event int `json:"event"`
	// Checker, Kind and Key are those of the anomaly that names it (the
	// first such anomaly, in the order of the checkers and their
	// anomalies).
	Checker string `json:"checker"`
	Kind    string `json:"kind"`
	Key     string `json:"key,omitempty"`
	// Fault is the fault active at TimeNS: the faults of the nemesis's
	// windows (checkers.FaultWindows) open then, start and end included,
	// each once, in the order of their windows' starts, joined with ",";
	// "quiet" (figures.Quiet) when none was.
	Fault string `json:"fault"`
}

// FindFirstAnomaly returns the first anomalous operation of h as checks
// judged it, and false when no anomaly of an invalid checker names an
// event of h. An anomaly's events are history indices; each stands for
// its operation's invocation: an invocation for itself, a completion for
// the invocation its process made last before it (a process has at most
// one open), a nemesis event (or a completion with no invocation before
// it) for itself. Indices outside h are ignored.
func FindFirstAnomaly(h History, checks []CheckResult) (*FirstAnomaly, bool) {
	want := map[int]bool{}
	for _, c := range checks {
		if c.Verdict != Invalid {
			continue
		}
		for _, a := range c.Anomalies {
			for _, i := range a.Events {
				want[i] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, false
	}
	type inv struct {
		time  int64
		index int
	}
	invokedAt := map[int]inv{} // wanted index → its operation's invocation
	open := map[int]inv{}      // process → its last invocation
	for _, e := range h {
		if e.Type == Invoke && e.Process != NemesisProcess {
			open[e.Process] = inv{e.Time, e.Index}
		}
		if !want[e.Index] {
			continue
		}
		at := inv{e.Time, e.Index}
		if o, ok := open[e.Process]; ok && e.Type != Invoke && e.Process != NemesisProcess {
			at = o
		}
		invokedAt[e.Index] = at
	}
	var first *FirstAnomaly
	for _, c := range checks {
		if c.Verdict != Invalid {
			continue
		}
		for _, a := range c.Anomalies {
			for _, i := range a.Events {
				at, ok := invokedAt[i]
				if !ok || (first != nil && (at.time > first.TimeNS || at.time == first.TimeNS && at.index >= first.Event)) {
					continue
				}
				first = &FirstAnomaly{TimeNS: at.time, Event: at.index, Checker: c.Checker, Kind: a.Kind, Key: a.Key}
			}
		}
	}
	if first == nil {
		return nil, false
	}
	first.Fault = FaultAt(h, first.TimeNS)
	return first, true
}

// FaultAt names the fault active at time t (ns since the run started) in
// h: the faults of the windows of checkers.FaultWindows(h) that hold t
// (start and end included), each once, in the order of the windows'
// starts, joined with ","; figures.Quiet when none does.
func FaultAt(h History, t int64) string {
	var names []string
	for _, w := range checkers.During(checkers.FaultWindows(h), t, t) {
		if !slices.Contains(names, w.Fault) {
			names = append(names, w.Fault)
		}
	}
	if len(names) == 0 {
		return figures.Quiet
	}
	return strings.Join(names, ",")
}

// DetectionRate is how often the runs of a repeat found an anomaly.
type DetectionRate struct {
	// Runs counts the runs recorded (ended or not).
	Runs int `json:"runs"`
	// Found counts the runs whose verdict is invalid.
	Found int `json:"found"`
	// Valid counts the runs whose verdict is valid.
	Valid int `json:"valid"`
	// Unknown counts the runs that ended undecided.
	Unknown int `json:"unknown"`
	// NotDone counts the runs that could not be carried out to their end
	// (an error or an interrupt).
	NotDone int `json:"not_done"`
	// Decided is Found + Valid: the runs that decided whether an anomaly
	// is there, the denominator of Share and of the interval.
	Decided int `json:"decided"`
	// Share is Found / Decided; 0 when nothing was decided.
	Share float64 `json:"share"`
	// Confidence is the confidence level of the interval (0.95).
	Confidence float64 `json:"confidence"`
	// Low and High bound the Wilson score interval of Share at
	// Confidence ([0, 1] when nothing was decided).
	Low  float64 `json:"ci_low"`
	High float64 `json:"ci_high"`
}

// NewDetectionRate counts runs into a DetectionRate.
func NewDetectionRate(runs []RepeatRun) DetectionRate {
	d := DetectionRate{Runs: len(runs), Confidence: Confidence}
	for _, r := range runs {
		switch {
		case !r.Ended():
			d.NotDone++
		case r.Verdict == Invalid:
			d.Found++
		case r.Verdict == Valid:
			d.Valid++
		default:
			d.Unknown++
		}
	}
	d.Decided = d.Found + d.Valid
	if d.Decided > 0 {
		d.Share = float64(d.Found) / float64(d.Decided)
	}
	d.Low, d.High = WilsonInterval(d.Found, d.Decided)
	return d
}

// WilsonInterval returns the Wilson score interval at 95% confidence of
// the share of successes among trials: for p = successes/trials, n =
// trials and z = 1.96 (the 0.975 quantile of the standard normal),
// (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), clamped to [0, 1]
// (exactly 0 below when successes is 0, exactly 1 above when it is
// trials). With no trials, or successes outside 0 to trials, it is
// [0, 1]: nothing is known.
func WilsonInterval(successes, trials int) (low, high float64) {
	if trials <= 0 || successes < 0 || successes > trials {
		return 0, 1
	}
	n, p, z2 := float64(trials), float64(successes)/float64(trials), z95*z95
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	low, high = max(0, center-half), min(1, center+half)
	if successes == 0 {
		low = 0
	}
	if successes == trials {
		high = 1
	}
	return low, high
}

// RepeatResult is the outcome of a repeat, and the content of
// repeat.json.
type RepeatResult struct {
	// Verdict combines the verdicts of the runs that ended: invalid beats
	// unknown beats valid; unknown when none ended.
	Verdict Verdict `json:"verdict"`
	// ExitCode is the repeat's exit code: the Verdict's (0, 1, 2), or 3
	// when a run could not be carried out, when the repeat was
	// interrupted, and while it is still running.
	ExitCode int `json:"exit_code"`
	// Dir is the repeat folder, <results>/<target>-<workload>-repeat/<UTC
	// time>/, as Test.Results names it.
	Dir string `json:"dir"`
	// Test is the test every run ran, with the first seed.
	Test Test `json:"test"`
	// Repeat is how many runs were asked for.
	Repeat int `json:"repeat"`
	// Seeds are the seeds of the runs asked for, in order.
	Seeds []int64 `json:"seeds"`
	// Rate is the detection rate of the runs so far.
	Rate DetectionRate `json:"rate"`
	// Runs holds the runs so far, in order.
	Runs []RepeatRun `json:"runs"`
	// Complete is true once every run has ended.
	Complete bool `json:"complete"`
	// Interrupted is true when an interrupt (SIGINT, SIGTERM) ended the
	// repeat; the runs done are kept.
	Interrupted bool `json:"interrupted"`
	// Error is why the repeat could not be carried out to its end.
	Error string `json:"error,omitempty"`
	// Errors lists problems met along the way that did not stop the
	// repeat (a history that could not be read for the first anomaly).
	Errors []string `json:"errors,omitempty"`
	// Start and End are the repeat's wall-clock times (End absent while
	// it runs); DurationNS its length so far.
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	DurationNS int64     `json:"duration_ns"`
}

// RunRepeat runs rp: it validates it first (bad input before anything is
// made), creates the repeat folder under rp.Test.Results, then calls Run
// once per seed, in order, with the run folder under the repeat folder's
// runs/ (so the repeat folder holds everything), and rewrites repeat.json
// after each run, so that a repeat killed mid-way keeps what it did. For
// each run it reads the history to find the first anomalous operation. A
// run that cannot be carried out ends the repeat (an error naming its
// seed). When ctx ends, the run in progress ends as Run ends it (its
// folder kept), repeat.json is written with Interrupted set, and the error
// wraps ErrInterrupted. The result is non-nil once the repeat folder
// exists.
func RunRepeat(ctx context.Context, rp Repeat) (*RepeatResult, error) {
	return runRepeat(ctx, rp, Run)
}

// runRepeat is RunRepeat with runOne in Run's place.
func runRepeat(ctx context.Context, rp Repeat, runOne func(context.Context, Test) (*Result, error)) (*RepeatResult, error) {
	if err := rp.Validate(); err != nil {
		return nil, err
	}
	t, dir, start, err := startSeries(rp.Test, "repeat")
	if err != nil {
		return nil, err
	}
	res := &RepeatResult{Verdict: Unknown, ExitCode: 3, Dir: dir, Test: t, Repeat: rp.N,
		Seeds: repeatSeeds(t.Seed, rp.N), Runs: []RepeatRun{}, Start: start}
	res.Rate = NewDetectionRate(nil)
	if err := res.write(); err != nil {
		return res, err
	}
	return res, res.run(ctx, rp, t, runOne)
}

// run runs a copy of t for each seed through runOne (Run, or a stand-in
// in tests), rewriting repeat.json after each, and then writes the
// outcome. It returns the error that ended the repeat.
func (r *RepeatResult) run(ctx context.Context, rp Repeat, t Test, runOne func(context.Context, Test) (*Result, error)) error {
	labels := make([]string, len(r.Seeds))
	for i, seed := range r.Seeds {
		labels[i] = fmt.Sprintf("seed %d", seed)
	}
	runErr := runSeries(ctx, "repeat", "runs", labels, func(i int) (error, error) {
		rt := t
		rt.Seed = r.Seeds[i]
		rt.Results = filepath.Join(r.Dir, RepeatRunsDir)
		if rp.RunCommand != nil {
			rt.Command = rp.RunCommand(rt.Seed)
		}
		res, err := runOne(ctx, rt)
		run := r.addRun(rt.Seed, res, err)
		werr := r.write()
		if rp.OnRun != nil {
			rp.OnRun(r, run)
		}
		return err, werr
	})
	var vs []Verdict
	for _, run := range r.Runs {
		if run.Ended() {
			vs = append(vs, run.Verdict)
		}
	}
	return finishSeries(runErr, vs, func(e seriesEnd) {
		r.Verdict, r.ExitCode, r.Complete, r.Interrupted, r.Error, r.End = e.verdict, e.exitCode, e.complete, e.interrupted, e.err, e.end
	}, r.write)
}

// addRun records the run with seed that Run ended with res and err: its
// verdict or error, its run folder, its anomalies and the first of them;
// then it counts the rate again.
func (r *RepeatResult) addRun(seed int64, res *Result, err error) RepeatRun {
	e := endOfRun(r.Dir, res, err)
	run := RepeatRun{Seed: seed, RunDir: e.runDir, Verdict: e.verdict, ExitCode: e.exitCode,
		Interrupted: e.interrupted, Error: e.err}
	if res != nil {
		run.checkers = res.Checkers
		for _, c := range res.Checkers {
			if c.Verdict == Invalid {
				run.Anomalies += len(c.Anomalies)
			}
		}
	}
	if res != nil && res.Dir != "" {
		if run.Anomalies > 0 {
			h, herr := history.ReadFile(filepath.Join(res.Dir, runfolder.HistoryFile), nil)
			if herr != nil {
				r.Errors = append(r.Errors, fmt.Sprintf("seed %d: first anomaly: %v", seed, herr))
			} else {
				run.FirstAnomaly, _ = FindFirstAnomaly(h, res.Checkers)
			}
		}
	}
	r.Runs = append(r.Runs, run)
	r.Rate = NewDetectionRate(r.Runs)
	return run
}

// write writes repeat.json atomically.
func (r *RepeatResult) write() error {
	r.DurationNS = seriesDuration(r.Start, r.End)
	return (&runfolder.Run{Dir: r.Dir}).WriteJSON(RepeatFile, r)
}

// WriteRepeatJUnit writes the JUnit XML report of the repeat r to path:
// one test suite per run, as WriteJUnit writes a run's (named
// "<target> <variant> <workload> seed <seed>"), then a suite named
// "<target> <variant> <workload> detection rate" with no test case whose
// properties carry the rate (runs, found, valid, unknown, not_done,
// decided, detection_rate, ci95_low, ci95_high, seeds, repeat_dir) and
// whose system-out is RateLine. It creates no folder; when path cannot be
// written it leaves no temporary file behind.
func WriteRepeatJUnit(path string, r *RepeatResult) error {
	t := r.Test
	name := fmt.Sprintf("%s %s %s", t.Target, t.Variant, t.Workload)
	var suites []junit.Suite
	for _, run := range r.Runs {
		in := junit.Input{
			Name: fmt.Sprintf("%s seed %d", name, run.Seed),
			Dir:  filepath.Join(r.Dir, filepath.FromSlash(run.RunDir)),
			Properties: map[string]string{"provider": t.Provider, "nemesis": fmt.Sprint(t.Nemesis),
				"time_limit": t.TimeLimit.String(), "seed": fmt.Sprint(run.Seed)},
		}
		if run.RunDir == "" {
			in.Dir = ""
		}
		in.Start = r.Start // for a run without results.json
		if st, d, ok := runTimes(r.Dir, run.RunDir); ok {
			in.Start, in.Duration = st, d
		}
		switch {
		case run.Error != "":
			in.RunErr = errors.New(run.Error)
		case len(run.checkers) == 0:
			in.RunErr = errors.New("no checker ran")
		default:
			in.Checkers = run.checkers
		}
		suites = append(suites, junit.NewSuite(in))
	}
	d := r.Rate
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	props := []junit.Property{
		{Name: "repeat_dir", Value: r.Dir},
		{Name: "runs", Value: fmt.Sprint(d.Runs)},
		{Name: "found", Value: fmt.Sprint(d.Found)},
		{Name: "valid", Value: fmt.Sprint(d.Valid)},
		{Name: "unknown", Value: fmt.Sprint(d.Unknown)},
		{Name: "not_done", Value: fmt.Sprint(d.NotDone)},
		{Name: "decided", Value: fmt.Sprint(d.Decided)},
		{Name: "detection_rate", Value: formatShare(d.Share)},
		{Name: "ci95_low", Value: formatShare(d.Low)},
		{Name: "ci95_high", Value: formatShare(d.High)},
		{Name: "seeds", Value: strings.Join(seeds, ",")},
	}
	end := r.End
	if end.IsZero() {
		end = time.Now()
	}
	suites = append(suites, junit.Suite{
		Name:       name + " detection rate",
		Time:       end.Sub(r.Start).Seconds(),
		Timestamp:  r.Start.UTC().Format("2006-01-02T15:04:05"),
		Properties: &junit.Properties{List: props},
		Cases:      []junit.Case{},
		SystemOut:  r.RateLine(),
	})
	return junit.WriteSuites(path, junit.Collect(suites...))
}

// runTimes returns the start and length of the run folder rel under dir,
// from its results.json; false when it has none.
func runTimes(dir, rel string) (time.Time, time.Duration, bool) {
	if rel == "" {
		return time.Time{}, 0, false
	}
	res, err := runfolder.ReadResults(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil || res == nil || res.Start.IsZero() {
		return time.Time{}, 0, false
	}
	return res.Start, time.Duration(res.DurationNS), true
}

// formatShare writes a share from 0 to 1 with three decimals.
func formatShare(x float64) string { return fmt.Sprintf("%.3f", x) }
