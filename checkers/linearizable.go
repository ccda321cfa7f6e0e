package checkers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/core"
)

// LinearizabilityName is the checker name that Linearizable puts in its
// results.
const LinearizabilityName = "linearizability"

// NonlinearizableKind is the Kind of the anomalies Linearizable reports.
const NonlinearizableKind = "nonlinearizable"

// maxVisualizations bounds the number of per-key visualization files one
// check writes.
const maxVisualizations = 10

// Model is the sequential specification of one key of a keyed object, as
// Linearizable uses it. Every key starts in Init and evolves independently
// of the others. Step must be pure (it must not modify its arguments), and
// states must be comparable with ==.
type Model interface {
	// Operation turns one client operation into the input and output that
	// Step receives. Linearizable calls it only for operations of type
	// core.OK and core.Info: failed operations certainly did not take
	// effect and are left out. For an Info operation the output must let
	// Step accept the operation in every state (an indeterminate cas that
	// does not match changes nothing), since its result is unknown; its
	// interval stays open, so it may also never take effect. keep false
	// leaves the operation out of the check (an indeterminate read, for
	// example). An error means the operation's values have the wrong
	// shape; it should wrap core.ErrBadInput.
	Operation(op Operation) (input, output any, keep bool, err error)
	// Init returns the state of a key before any operation.
	Init() any
	// Step reports whether an operation with this input and output can
	// take effect in state, and the state after it.
	Step(state, input, output any) (ok bool, next any)
	// DescribeOperation phrases an operation in a few words, for example
	// "read returned 17"; it is used in anomaly descriptions and in the
	// visualization.
	DescribeOperation(input, output any) string
	// DescribeState phrases a state, for example "12" or "absent".
	DescribeState(state any) string
}

// Reducer is an optional extension of Model for models that can tell, from
// one key's whole history, that an indeterminate operation can be left out
// or must have taken effect before some time, without changing the verdict.
// Open intervals are what makes the search explode; closing or removing
// them keeps checks of faulty runs fast.
type Reducer interface {
	// Reduce is given one key's operations in call order. For items whose
	// Indeterminate is true only, it may set Drop, or lower Return, in
	// ways that cannot change whether the key is linearizable.
	Reduce(items []Item)
}

// Item is one operation of a key as Reducer sees it: the input and output
// Model.Operation made for it, and its interval.
type Item struct {
	Input, Output any
	Call, Return  int64
	Indeterminate bool
	// Drop leaves the operation out of the check.
	Drop bool
}

// LinearizabilityOptions configures Linearizable. The zero value checks with
// GOMAXPROCS workers and writes no files.
type LinearizabilityOptions struct {
	// Dir is the run folder into which the visualization of each
	// non-linearizable key is written; empty means write no files.
	Dir string
	// Workers bounds how many keys are checked at once; zero or a value
	// above GOMAXPROCS means GOMAXPROCS.
	Workers int
}

// LinearizabilityDetails is the Details of a result from Linearizable,
// which stores it as a *LinearizabilityDetails.
type LinearizabilityDetails struct {
	// Keys counts the keys with at least one client operation.
	Keys        int `json:"keys"`
	ValidKeys   int `json:"valid_keys"`
	InvalidKeys int `json:"invalid_keys"`
	UnknownKeys int `json:"unknown_keys"`
	// Operations counts the operations checked (ok and indeterminate),
	// Indeterminate those of them whose outcome is unknown, Failed the
	// failed operations left out, and Skipped the operations the model
	// left out.
	Operations    int `json:"operations"`
	Indeterminate int `json:"indeterminate"`
	Failed        int `json:"failed"`
	Skipped       int `json:"skipped"`
	// PerKey holds one entry per key, in natural key order (k2 before k10).
	PerKey []KeyDetails `json:"per_key"`
	// VisualizationError says why a visualization file could not be
	// written, if one could not.
	VisualizationError string `json:"visualization_error,omitempty"`
}

// KeyDetails is what Linearizable found for one key; its counts mean what
// they mean in LinearizabilityDetails.
type KeyDetails struct {
	Key           string       `json:"key"`
	Verdict       core.Verdict `json:"verdict"`
	Operations    int          `json:"operations"`
	Indeterminate int          `json:"indeterminate"`
	Failed        int          `json:"failed"`
	Skipped       int          `json:"skipped"`
	// Dropped counts the indeterminate operations (among Operations) that
	// the model's Reducer left out of the search, and Closed those whose
	// open interval it closed.
	Dropped int `json:"dropped,omitempty"`
	Closed  int `json:"closed,omitempty"`
	// Algorithm names what decided the key: AlgorithmUniqueValues or
	// AlgorithmPorcupine.
	Algorithm string `json:"algorithm"`
	// ElapsedMS is how long the key's check took, in milliseconds.
	ElapsedMS float64 `json:"elapsed_ms"`
	// Visualization names the key's visualization file in the run folder,
	// if one was written.
	Visualization string `json:"visualization,omitempty"`
}

// opMeta is the porcupine metadata of one operation: where it came from.
type opMeta struct {
	process int
	events  []int
}

// keyJob is the work of checking one key.
type keyJob struct {
	key    string
	ops    []Operation           // aligned with pops
	pops   []porcupine.Operation // what porcupine checks
	detail KeyDetails            // counts filled while grouping
	out    keyOutcome            // filled by the worker
	info   porcupine.LinearizationInfo
	// guide is, for an invalid key the unique-values algorithm decided,
	// the order its visualization follows.
	guide []int
}

// keyOutcome is the verdict on one key.
type keyOutcome struct {
	verdict core.Verdict
	anomaly *core.Anomaly
	elapsed time.Duration
	// stopped says why an unknown key's check stopped: the context's
	// cause, or nil when porcupine ran out of time on its own.
	stopped error
	// crash is what the model panicked with, if it did, and stack where.
	crash any
	stack []byte
}

// Crash is what Linearizable panics with when the model panicked while
// a key was checked: the key, the value the model panicked with and the
// stack where it did.
type Crash struct {
	Key   string
	Value any
	Stack []byte
}

// Error phrases the crash without its stack, for example
// "linearizability on key k3: runtime error: index out of range".
func (c *Crash) Error() string {
	return fmt.Sprintf("%s on key %s: %v", LinearizabilityName, c.Key, c.Value)
}

// Linearizable checks that the client operations of h are linearizable
// under m, key by key: each key is checked on its own with porcupine, by a
// pool of at most GOMAXPROCS workers sharing ctx. When m is a
// UniqueRegister and a key installs every value at most once, the key is
// decided without search instead (KeyDetails.Algorithm says which). A
// key whose check runs past ctx's deadline (or is cancelled) is unknown,
// never valid. The verdict is invalid if any key is invalid, else unknown
// if any key is unknown, else valid.
//
// Failed operations are left out (they certainly did not take effect).
// Indeterminate operations (info, or an invocation that never completed)
// are checked with an open-ended interval, so they may take effect at any
// time after their invocation, or never.
//
// For each non-linearizable key the result holds one anomaly of kind
// NonlinearizableKind naming the key and, in its description, the first
// operation that no order consistent with real time can place and the
// states the key can hold while that operation runs; its Events are the
// history indices of that operation and of the operations that set those
// states. A key decided by the unique-values algorithm gets that
// description when it is quick to find, and otherwise the algorithm's
// own: the few operations that cannot be ordered and why, with their
// events. When opts.Dir is set, a porcupine visualization of each such key
// (up to ten keys) is written into it as linearizability-<key>.html and
// listed in Files; a failure to write one is reported in the details, not
// as an error. Details is a *LinearizabilityDetails.
//
// ctx bounds the whole check; Linearizable returns once every worker has
// stopped and leaves no goroutine behind. A key whose check stops because
// ctx ended is unknown, and the summary says why from context.Cause(ctx):
// out of time, out of memory budget (ErrMemoryBudget, see
// WithMemoryBudget) or interrupted.
//
// When m panics (in Step or in any other method) while a key is checked,
// in whichever worker goroutine, the other keys are abandoned and
// Linearizable panics in the caller's goroutine with a *Crash, once every
// worker has stopped: a crash is never a verdict, and a caller that
// recovers it can report it as an error.
//
// The error is non-nil only when h is malformed or holds values m cannot
// interpret; it wraps core.ErrBadInput, and the result is then unknown with
// a summary naming the problem.
func Linearizable(ctx context.Context, h core.History, m Model, opts LinearizabilityOptions) (core.CheckResult, error) {
	jobs, err := groupByKey(h, m)
	if err != nil {
		return core.CheckResult{
			Checker: LinearizabilityName,
			Verdict: core.Unknown,
			Summary: "cannot check linearizability: " + err.Error(),
		}, err
	}
	base := porcupineModel(m)
	if crash := runJobs(ctx, m, base, jobs, opts.Workers); crash != nil {
		panic(crash)
	}
	res := compose(jobs)
	if opts.Dir != "" {
		writeVisualizations(h, m, base, jobs, opts.Dir, &res)
	}
	return res, nil
}

// groupByKey pairs h and converts its operations into one job per key, in
// natural key order.
func groupByKey(h core.History, m Model) ([]*keyJob, error) {
	ops, err := Pair(h)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*keyJob)
	var jobs []*keyJob
	rows := make(map[string]map[int]int) // key -> process -> visualization row
	for _, op := range ops {
		j := byKey[op.Key]
		if j == nil {
			j = &keyJob{key: op.Key, detail: KeyDetails{Key: op.Key}}
			byKey[op.Key] = j
			jobs = append(jobs, j)
			rows[op.Key] = make(map[int]int)
		}
		if op.Type == core.Fail {
			j.detail.Failed++
			continue
		}
		in, out, keep, err := m.Operation(op)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", op.Invoke, err)
		}
		if !keep {
			j.detail.Skipped++
			continue
		}
		ret := op.End
		if op.Type == core.Info {
			// An indeterminate operation may take effect at any later
			// time, or never: its interval stays open.
			ret = math.MaxInt64
			j.detail.Indeterminate++
		}
		row, ok := rows[op.Key][op.Process]
		if !ok {
			row = len(rows[op.Key])
			rows[op.Key][op.Process] = row
		}
		j.ops = append(j.ops, op)
		j.pops = append(j.pops, porcupine.Operation{
			ClientId: row,
			Input:    in,
			Call:     op.Start,
			Output:   out,
			Return:   ret,
			Metadata: opMeta{process: op.Process, events: op.Events()},
		})
		j.detail.Operations++
	}
	if r, ok := m.(Reducer); ok {
		for _, j := range jobs {
			reduce(r, j)
		}
	}
	sort.Slice(jobs, func(a, b int) bool { return NaturalLess(jobs[a].key, jobs[b].key) })
	return jobs, nil
}

// reduce lets r drop or close the indeterminate operations of j.
func reduce(r Reducer, j *keyJob) {
	items := make([]Item, len(j.pops))
	for i, p := range j.pops {
		items[i] = Item{Input: p.Input, Output: p.Output, Call: p.Call, Return: p.Return, Indeterminate: j.ops[i].Type != core.OK}
	}
	r.Reduce(items)
	ops, pops := j.ops[:0], j.pops[:0]
	for i, it := range items {
		p := j.pops[i]
		if !items[i].Indeterminate {
			ops, pops = append(ops, j.ops[i]), append(pops, p)
			continue
		}
		if it.Drop {
			j.detail.Dropped++
			continue
		}
		if it.Return < p.Return && it.Return >= p.Call {
			p.Return = it.Return
			j.detail.Closed++
		}
		ops, pops = append(ops, j.ops[i]), append(pops, p)
	}
	j.ops, j.pops = ops, pops
}

// porcupineModel adapts m to porcupine for one key.
func porcupineModel(m Model) porcupine.Model {
	return porcupine.Model{
		Init:              m.Init,
		Step:              m.Step,
		DescribeOperation: m.DescribeOperation,
		DescribeState:     m.DescribeState,
		DescribeOperationMetadata: func(meta any) string {
			md, ok := meta.(opMeta)
			if !ok {
				return ""
			}
			parts := make([]string, len(md.events))
			for i, e := range md.events {
				parts[i] = fmt.Sprint(e)
			}
			return fmt.Sprintf("process %d, events %s", md.process, strings.Join(parts, ", "))
		},
	}
}

// runJobs checks every job with a pool of workers and fills job.out. When
// the model panics on a key it stops the other workers and returns the
// first crash.
func runJobs(ctx context.Context, m Model, base porcupine.Model, jobs []*keyJob, workers int) *Crash {
	if maxW := runtime.GOMAXPROCS(0); workers <= 0 || workers > maxW {
		workers = maxW
	}
	workers = min(workers, len(jobs))
	// Largest keys first, so that the pool finishes together.
	order := make([]*keyJob, len(jobs))
	copy(order, jobs)
	sort.SliceStable(order, func(a, b int) bool { return len(order[a].pops) > len(order[b].pops) })
	ctx, abandon := context.WithCancel(ctx)
	defer abandon()
	var (
		crashMu sync.Mutex
		crash   *Crash
	)
	next := make(chan *keyJob)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range next {
				checkKeySafely(ctx, m, base, j)
				if j.out.crash != nil {
					crashMu.Lock()
					if crash == nil {
						crash = &Crash{Key: j.key, Value: j.out.crash, Stack: j.out.stack}
					}
					crashMu.Unlock()
					abandon()
				}
			}
		})
	}
	for _, j := range order {
		next <- j
	}
	close(next)
	wg.Wait()
	return crash
}

// checkKeySafely is checkKey with any panic of the model recorded in
// j.out instead of crashing the process.
func checkKeySafely(ctx context.Context, m Model, base porcupine.Model, j *keyJob) {
	defer func() {
		if r := recover(); r != nil && j.out.crash == nil {
			j.out.verdict, j.out.crash, j.out.stack = core.Unknown, r, debug.Stack()
		}
	}()
	checkKey(ctx, m, base, j)
}

// checkKey decides one key under ctx, with the unique-values algorithm
// where it applies and porcupine otherwise, and records the outcome.
func checkKey(ctx context.Context, m Model, base porcupine.Model, j *keyJob) {
	start := time.Now()
	defer func() { j.out.elapsed = time.Since(start) }()
	var unique *uniqueKey
	j.detail.Algorithm = AlgorithmPorcupine
	if ur, ok := m.(UniqueRegister); ok {
		if unique, ok = prepareUnique(m, ur, j); ok {
			j.detail.Algorithm = AlgorithmUniqueValues
		}
	}
	if len(j.pops) == 0 {
		j.out.verdict = core.Valid
		return
	}
	j.out.verdict = core.Unknown
	if ctx.Err() != nil {
		j.out.stopped = context.Cause(ctx)
		return
	}
	if unique != nil {
		if checkUnique(ctx, m, unique, j) {
			return
		}
		j.detail.Algorithm = AlgorithmPorcupine
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			j.out.stopped = context.DeadlineExceeded
			return
		}
	}
	// porcupine stops on its own timeout but knows nothing of ctx. Once
	// ctx is done every step is accepted, which ends the search quickly;
	// the key is then unknown whatever porcupine answers. Step runs in
	// porcupine's own goroutines, where a panic would end the process: it
	// is recovered there, ends the search the same way and is re-raised
	// in this goroutine.
	var stop, forced atomic.Bool
	var panicked atomic.Pointer[Crash]
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	model := base
	model.StepContext = func(_ context.Context, state, in, out any) (ok bool, next any) {
		if stop.Load() {
			forced.Store(true)
			return true, state
		}
		defer func() {
			if r := recover(); r != nil {
				panicked.CompareAndSwap(nil, &Crash{Key: j.key, Value: r, Stack: debug.Stack()})
				stop.Store(true)
				ok, next = true, state
			}
		}()
		return m.Step(state, in, out)
	}
	res, info := porcupine.CheckOperationsVerbose(model, j.pops, timeout)
	if c := panicked.Load(); c != nil {
		j.out.crash, j.out.stack = c.Value, c.Stack
		return
	}
	if forced.Load() {
		j.out.stopped = context.Cause(ctx)
		return
	}
	if res == porcupine.Unknown {
		j.out.stopped = context.DeadlineExceeded
	}
	switch res {
	case porcupine.Ok:
		j.out.verdict = core.Valid
	case porcupine.Illegal:
		j.out.verdict = core.Invalid
		a := explain(ctx, m, j, info)
		j.out.anomaly = &a
		j.info = info
	}
}

// compose builds the result from the jobs' outcomes.
func compose(jobs []*keyJob) core.CheckResult {
	d := LinearizabilityDetails{Keys: len(jobs), PerKey: make([]KeyDetails, 0, len(jobs))}
	res := core.CheckResult{Checker: LinearizabilityName}
	var verdicts []core.Verdict
	var invalid, unknown []string
	var stopped error // why the unknown keys stopped, the budget first
	for _, j := range jobs {
		kd := j.detail
		kd.Verdict = j.out.verdict
		kd.ElapsedMS = float64(j.out.elapsed.Microseconds()) / 1000
		d.PerKey = append(d.PerKey, kd)
		d.Operations += kd.Operations
		d.Indeterminate += kd.Indeterminate
		d.Failed += kd.Failed
		d.Skipped += kd.Skipped
		verdicts = append(verdicts, kd.Verdict)
		switch kd.Verdict {
		case core.Valid:
			d.ValidKeys++
		case core.Invalid:
			d.InvalidKeys++
			invalid = append(invalid, j.key)
			if j.out.anomaly != nil {
				res.Anomalies = append(res.Anomalies, *j.out.anomaly)
			}
		default:
			d.UnknownKeys++
			unknown = append(unknown, j.key)
			if stopped == nil || errors.Is(j.out.stopped, ErrMemoryBudget) {
				stopped = j.out.stopped
			}
		}
	}
	res.Verdict = core.Combine(verdicts...)
	switch res.Verdict {
	case core.Valid:
		res.Summary = fmt.Sprintf("linearizable: %s on %s checked (%d indeterminate)",
			Plural(d.Operations, "operation"), Plural(d.Keys, "key"), d.Indeterminate)
	case core.Invalid:
		if len(invalid) == 1 && len(res.Anomalies) == 1 {
			res.Summary = "not linearizable on " + res.Anomalies[0].Description
		} else {
			res.Summary = fmt.Sprintf("not linearizable on %d of %s: %s", len(invalid), Plural(d.Keys, "key"), ListNames(invalid))
		}
		if len(unknown) > 0 {
			res.Summary += fmt.Sprintf("; %d more undecided", len(unknown))
		}
	default:
		res.Summary = fmt.Sprintf("undecided: %d of %s %s (%s); the other %d are linearizable",
			len(unknown), Plural(d.Keys, "key"), stopReason(stopped), ListNames(unknown), d.ValidKeys)
	}
	res.Details = &d
	return res
}

// writeVisualizations writes porcupine's view of each invalid key into dir
// and records the files in res.
func writeVisualizations(h core.History, m Model, base porcupine.Model, jobs []*keyJob, dir string, res *core.CheckResult) {
	d := res.Details.(*LinearizabilityDetails)
	notes := nemesisAnnotations(h)
	used := make(map[string]bool)
	written := 0
	for i, j := range jobs {
		if j.out.verdict != core.Invalid || written == maxVisualizations {
			continue
		}
		name := visualizationName(j.key, used)
		model, info := base, j.info
		if j.guide != nil {
			model, info = guidedInfo(m, base, j)
		}
		info.AddAnnotations(notes)
		if err := visualize(model, info, filepath.Join(dir, name)); err != nil {
			if d.VisualizationError == "" {
				d.VisualizationError = fmt.Sprintf("write %s: %v", name, err)
			}
			continue
		}
		written++
		d.PerKey[i].Visualization = name
		res.Files = append(res.Files, name)
	}
}

// visualize writes porcupine's HTML view of info to path.
func visualize(model porcupine.Model, info porcupine.LinearizationInfo, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("render visualization: %v", r)
		}
	}()
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return fmt.Errorf("render visualization: %w", err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// visualizationName returns a file name for key's visualization that is
// safe on every file system and not yet in used.
func visualizationName(key string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	stem := "linearizability-" + b.String()
	name := stem + ".html"
	for n := 2; used[strings.ToLower(name)]; n++ {
		name = fmt.Sprintf("%s-%d.html", stem, n)
	}
	used[strings.ToLower(name)] = true
	return name
}

// nemesisAnnotations turns the nemesis events of h into visualization
// annotations: a window from each "start-X" to the next "stop-X" (or to the
// end of the history), and a point for any other event.
func nemesisAnnotations(h core.History) []porcupine.Annotation {
	var end int64
	for _, e := range h {
		end = max(end, e.Time)
	}
	var notes []porcupine.Annotation
	open := make(map[string][]int) // fault -> positions in notes
	for _, e := range h {
		if e.Process != core.NemesisProcess {
			continue
		}
		details := ""
		if e.Value != nil {
			details = fmt.Sprint(e.Value)
		}
		switch {
		case strings.HasPrefix(e.F, "start-"):
			fault := strings.TrimPrefix(e.F, "start-")
			open[fault] = append(open[fault], len(notes))
			notes = append(notes, porcupine.Annotation{
				Tag: "nemesis", Start: e.Time, End: end, Description: fault, Details: details,
				BackgroundColor: "#fde2e2",
			})
		case strings.HasPrefix(e.F, "stop-") && len(open[strings.TrimPrefix(e.F, "stop-")]) > 0:
			fault := strings.TrimPrefix(e.F, "stop-")
			at := open[fault][0]
			open[fault] = open[fault][1:]
			notes[at].End = e.Time
		default:
			notes = append(notes, porcupine.Annotation{
				Tag: "nemesis", Start: e.Time, Description: e.F, Details: details,
			})
		}
	}
	return notes
}

// joinOr renders "a", "a or b", "a, b or c".
func joinOr(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
