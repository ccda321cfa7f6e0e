package faultline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

// A series is a sequence of runs of one test recorded in one folder: a
// sweep (one run per concurrency level, under levels/) or a repeat (one
// run per seed, under runs/). Both validate first, create their folder,
// run in order, rewrite their JSON account after each run, stop at the
// first run that cannot be carried out or at an interrupt, and combine
// the verdicts of the runs that ended. This file holds what they share.

// startSeries prepares t, the test of a series of kind ("sweep" or
// "repeat"), once the series is valid: its target's name, a seed picked at
// random when it has none, the Version; then it creates the series folder
// under t.Results. It returns the prepared test, the folder and the start
// time.
func startSeries(t Test, kind string) (Test, string, time.Time, error) {
	tg, err := t.target()
	if err != nil {
		return t, "", time.Time{}, err
	}
	t.Target = tg.Name()
	if t.Seed == 0 {
		t.Seed = rand.Int64N(1<<53-1) + 1
	}
	t.Version = Version
	start := time.Now()
	dir, err := newSeriesDir(t.Results, t.Target, t.Workload, kind, start)
	if err != nil {
		return t, "", time.Time{}, err
	}
	return t, dir, start, nil
}

// seriesRun is how one run of a series ended, as its level or run
// records it.
type seriesRun struct {
	verdict     Verdict
	exitCode    int
	interrupted bool
	err         string
	// runDir is the run folder relative to the series folder, with
	// slashes; empty when no run folder was made.
	runDir string
}

// endOfRun is how the run that Run ended with res and err ended, its run
// folder taken relative to the series folder dir: its verdict and exit
// code when it ran to its end, else exit code 3 with the error (and
// interrupted when an interrupt ended it).
func endOfRun(dir string, res *Result, err error) seriesRun {
	e := seriesRun{exitCode: 3}
	switch {
	case err == nil && res != nil:
		e.verdict, e.exitCode = res.Verdict, res.Verdict.ExitCode()
	case errors.Is(err, ErrInterrupted):
		e.interrupted, e.err = true, err.Error()
	case err != nil:
		e.err = err.Error()
	}
	if res != nil && res.Dir != "" {
		if rel, rerr := filepath.Rel(dir, res.Dir); rerr == nil {
			e.runDir = filepath.ToSlash(rel)
		} else {
			e.runDir = filepath.ToSlash(res.Dir)
		}
	}
	return e
}

// runSeries runs the steps of a series of kind ("sweep" or "repeat")
// in order: labels name them ("concurrency 2", "seed 7") and units
// is what they are ("levels", "runs"). Before each it checks ctx; step
// runs the i-th, records it and rewrites the series' account, returning
// the run's error and the rewrite's. It returns the error that ended the
// series: an interrupt (wrapping ErrInterrupted, with how many steps were
// done), a run that could not be carried out (named by its label), or a
// rewrite that failed; nil when every step ended.
func runSeries(ctx context.Context, kind, units string, labels []string, step func(i int) (runErr, writeErr error)) error {
	for i, label := range labels {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %w before %s (%d of %d %s done)", kind, ErrInterrupted, label, i, len(labels), units)
		}
		err, werr := step(i)
		if err != nil {
			if errors.Is(err, ErrInterrupted) {
				return fmt.Errorf("%s %w at %s (%d of %d %s done)", kind, ErrInterrupted, label, i, len(labels), units)
			}
			return fmt.Errorf("%s: %w", label, err)
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// seriesEnd is how a series ended, as its account records it.
type seriesEnd struct {
	verdict     Verdict
	exitCode    int
	complete    bool
	interrupted bool
	err         string
	end         time.Time
}

// finishSeries records the end of a series that runErr ended (nil: every
// step ended) through set, then rewrites its account with write. The
// verdict combines ended, the verdicts of the runs that ended (unknown
// when none did); the exit code is the verdict's, or 3 with the error
// when runErr is not nil or the last rewrite fails. It returns runErr, or
// else the rewrite's error.
func finishSeries(runErr error, ended []Verdict, set func(seriesEnd), write func() error) error {
	e := seriesEnd{verdict: Unknown, complete: runErr == nil, interrupted: errors.Is(runErr, ErrInterrupted), end: time.Now()}
	if len(ended) > 0 {
		e.verdict = core.Combine(ended...)
	}
	e.exitCode = e.verdict.ExitCode()
	if runErr != nil {
		e.exitCode, e.err = 3, runErr.Error()
	}
	set(e)
	if err := write(); err != nil && runErr == nil {
		e.exitCode, e.err = 3, err.Error()
		set(e)
		return err
	}
	return runErr
}

// seriesDuration is the length of a series that started at start: up to
// end, or up to now while end is zero (the series still running).
func seriesDuration(start, end time.Time) int64 {
	if end.IsZero() {
		return int64(time.Since(start))
	}
	return int64(end.Sub(start))
}

// newSeriesDir creates <root>/<target>-<workload>-<kind>/<UTC time>/, the
// folder of a series of runs (kind "sweep" or "repeat"), named as run
// folders are (runfolder.TimestampFormat, -2, -3, … for a second series
// in the same millisecond). Its errors name the kind's folder.
func newSeriesDir(root, target, workload, kind string, now time.Time) (string, error) {
	name := target + "-" + workload + "-" + kind
	if !filepath.IsLocal(name) || filepath.Base(name) != name {
		return "", core.BadInput("%s folder: target %q and workload %q must be plain names", kind, target, workload)
	}
	parent := filepath.Join(root, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create %s folder: %w", kind, err)
	}
	base := now.UTC().Format(runfolder.TimestampFormat)
	for n := 1; n <= 1000; n++ {
		dir := filepath.Join(parent, base)
		if n > 1 {
			dir += "-" + strconv.Itoa(n)
		}
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create %s folder: %w", kind, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("create %s folder: too many %ss named %s in %s", kind, kind, base, parent)
}

// stepLine is the start of a series step's one-line account: its label
// ("seed 7", "concurrency 2"), ": ", then the verdict in capitals when the
// step ended, else "interrupted" or why it could not be carried out.
func stepLine(label string, v Verdict, ended, interrupted bool, errText string) string {
	switch {
	case ended:
		return label + ": " + strings.ToUpper(string(v))
	case interrupted:
		return label + ": interrupted"
	default:
		return label + ": could not be carried out: " + errText
	}
}

// stepVerdict is a series step's verdict in a summary table: the verdict
// when the step ended, else "interrupted" or "not done".
func stepVerdict(v Verdict, ended, interrupted bool) string {
	switch {
	case ended:
		return string(v)
	case interrupted:
		return "interrupted"
	default:
		return "not done"
	}
}
