package faultline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/results/compare"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
)

// Comparison is two or more runs side by side (package results/compare
// renders it).
type Comparison = compare.Comparison

// ComparedRun is one run of a Comparison.
type ComparedRun = compare.Run

// Compare reads two or more stored runs for `faultline compare`, in the
// order given. Each argument is
//
//   - a run folder (one holding results.json, history.jsonl or
//     test.json), or a symbolic link to one, such as a results root's
//     latest link;
//   - a <target>-<workload> folder: its newest run that has a
//     results.json (run folders ordered by name, which is their UTC start
//     time);
//   - a results root: the run its latest link points at.
//
// Each run must have a results.json. A run's figures are results.json's
// "figures"; a run written before they were measured has them computed
// from its history.jsonl instead (decoded through the workload test.json
// names, register by default) by figures.FromHistory with test.json's
// time limit and op limit, and a note says so. A history that cannot be
// read, or whose operations do not pair, leaves the figures nil, with a
// note; it does not stop the comparison.
//
// Errors wrap core.ErrBadInput, one line naming the argument, for fewer
// than two arguments, an argument that does not exist or is no run
// folder, a run without results.json or whose results.json or test.json
// is not valid, and two arguments that are the same run.
func Compare(dirs []string) (*Comparison, error) {
	switch len(dirs) {
	case 0:
		return nil, core.BadInput("compare needs two runs or more (run folders), got none")
	case 1:
		return nil, core.BadInput("compare needs two runs or more, got only %s", dirs[0])
	}
	c := &Comparison{}
	seen := map[string]string{}
	for i, arg := range dirs {
		dir, err := findRun(arg)
		if err != nil {
			return nil, err
		}
		id := dir
		if abs, err := filepath.Abs(dir); err == nil {
			id = abs
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				id = real
			}
		}
		if prev, ok := seen[id]; ok {
			return nil, core.BadInput("%s is the same run as %s: name each run once", arg, prev)
		}
		seen[id] = arg
		r, err := readComparedRun(arg, dir)
		if err != nil {
			return nil, err
		}
		if r.Target != "" {
			r.Label = r.Target + " " + r.Variant + " #" + strconv.Itoa(i+1)
		} else {
			r.Label = "run #" + strconv.Itoa(i+1)
		}
		c.Runs = append(c.Runs, *r)
	}
	return c, nil
}

// findRun returns the run folder that arg names, as Compare says.
func findRun(arg string) (string, error) {
	st, err := os.Stat(arg)
	// "r/latest/" names the link itself, as "r/latest" does.
	arg = filepath.Clean(arg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", core.BadInput("%s: no such run folder", arg)
	}
	if err != nil {
		return "", fmt.Errorf("compare %s: %w", arg, unwrapPathError(err))
	}
	if !st.IsDir() {
		return "", core.BadInput("%s is not a folder: name a run folder", arg)
	}
	if isRunFolder(arg) {
		return followLink(arg), nil
	}
	// A <target>-<workload> folder: its newest finished run.
	entries, err := os.ReadDir(arg)
	if err != nil {
		return "", fmt.Errorf("compare %s: %w", arg, unwrapPathError(err))
	}
	var newest string
	runs := 0
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub := filepath.Join(arg, e.Name())
		if !isRunFolder(sub) {
			continue
		}
		runs++
		if _, err := os.Stat(filepath.Join(sub, runfolder.ResultsFile)); err != nil {
			continue
		}
		if newest == "" || runOrder(e.Name(), newest) > 0 {
			newest = e.Name()
		}
	}
	if newest != "" {
		return filepath.Join(arg, newest), nil
	}
	if runs > 0 {
		return "", core.BadInput("%s: none of its %d runs has %s (each still running, or stopped before its end)", arg, runs, runfolder.ResultsFile)
	}
	// A results root: the run its latest link points at.
	latest := filepath.Join(arg, runfolder.LatestLink)
	if lst, err := os.Lstat(latest); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
		if st, err := os.Stat(latest); err == nil && st.IsDir() && isRunFolder(latest) {
			return followLink(latest), nil
		}
		return "", core.BadInput("%s: its %s link points at no run folder", arg, runfolder.LatestLink)
	}
	return "", core.BadInput("%s is not a run folder: it holds no %s, %s or %s, no run folders and no %s link",
		arg, runfolder.ResultsFile, runfolder.HistoryFile, runfolder.TestFile, runfolder.LatestLink)
}

// isRunFolder reports whether dir holds one of a run folder's files.
func isRunFolder(dir string) bool {
	for _, f := range []string{runfolder.ResultsFile, runfolder.HistoryFile, runfolder.TestFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// followLink returns the folder a symbolic link points at (a relative
// link read from the link's own folder), so that a comparison names the
// run folder rather than a link that will move; anything else is
// returned as it is.
func followLink(path string) string {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return path
	}
	target, err := os.Readlink(path)
	if err != nil {
		return path
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(path), target)
	}
	if st, err := os.Stat(target); err != nil || !st.IsDir() {
		return path
	}
	return target
}

// runOrder orders run folder names by start time: the UTC timestamp,
// then the -2, -3, … of runs started in the same millisecond.
func runOrder(a, b string) int {
	ab, an := splitRunName(a)
	bb, bn := splitRunName(b)
	if c := strings.Compare(ab, bb); c != 0 {
		return c
	}
	return an - bn
}

func splitRunName(s string) (string, int) {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil && n > 0 {
			return s[:i], n
		}
	}
	return s, 1
}

// readComparedRun reads the run folder dir, which arg named.
func readComparedRun(arg, dir string) (*ComparedRun, error) {
	res, err := runfolder.ReadResults(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, core.BadInput("%s has no %s: the run has not ended, or was stopped before it could write it", arg, runfolder.ResultsFile)
	case errors.Is(err, core.ErrBadInput) && dir != arg:
		return nil, core.BadInput("%s: %s", arg, err)
	case err != nil:
		return nil, err
	}
	name := filepath.Base(dir)
	if abs, err := filepath.Abs(dir); err == nil {
		name = filepath.Base(abs)
	}
	r := &ComparedRun{Dir: dir, Name: name, Verdict: res.Verdict, Counts: res.Counts.OpCounts, Checkers: []compare.Checker{}}
	if st, err := os.Stat(filepath.Join(dir, runfolder.ReportFile)); err == nil && st.Mode().IsRegular() {
		r.Report = filepath.Join(dir, runfolder.ReportFile)
	}
	for _, ch := range res.Checkers {
		cc := compare.Checker{Checker: ch.Checker, Verdict: ch.Verdict, Anomalies: len(ch.Anomalies)}
		if len(ch.Anomalies) > 0 {
			cc.FirstAnomaly = ch.Anomalies[0].Description
		}
		r.Checkers = append(r.Checkers, cc)
	}

	var t Test
	testPath := filepath.Join(dir, runfolder.TestFile)
	b, err := runfolder.ReadFile(testPath)
	switch {
	case err == nil:
		if err := t.UnmarshalJSON(b); err != nil {
			return nil, core.BadInput("%s: %s", testPath, cutText(err.Error()))
		}
		r.Target, r.Variant, r.Workload, r.Provider = t.Target, t.Variant, t.Workload, t.Provider
		r.Seed, r.Nemesis, r.Concurrency = t.Seed, t.Nemesis, t.Concurrency
		if t.TimeLimit > 0 {
			r.TimeLimit = t.TimeLimit.String()
		}
	case errors.Is(err, fs.ErrNotExist):
		r.Notes = append(r.Notes, "no "+runfolder.TestFile+": what ran is not known")
	default:
		return nil, err
	}
	if r.Nemesis == nil {
		r.Nemesis = []string{}
	}

	if res.Figures != nil {
		r.Figures, r.FiguresFrom = withoutSamples(res.Figures), compare.FromResults
	} else {
		f, note := historyFigures(dir, t)
		if f != nil {
			r.Figures, r.FiguresFrom = withoutSamples(f), compare.FromHistory
		}
		r.Notes = append(r.Notes, note)
	}
	r.All = r.Figures.AllRow()
	return r, nil
}

// withoutSamples returns f with its staleness samples left out: a
// comparison shows the distribution, not each read.
func withoutSamples(f *figures.Figures) *figures.Figures {
	out := *f
	if f.Staleness != nil {
		s := *f.Staleness
		s.Samples = nil
		out.Staleness = &s
	}
	return &out
}

// historyFigures computes the figures of the run folder dir from its
// history, for a results.json without them (figures.FromHistory, with
// the workload's staleness); it returns nil and why when it cannot, else
// the figures and a note saying where they came from.
func historyFigures(dir string, t Test) (*figures.Figures, string) {
	name := t.Workload
	if name == "" {
		name = "register"
	}
	wl, ok := registry.Workload(name)
	if !ok {
		return nil, fmt.Sprintf("no figures: %s has none and workload %s is unknown", runfolder.ResultsFile, quoteShort(name))
	}
	h, _, err := history.ReadFileInfo(filepath.Join(dir, runfolder.HistoryFile), wl.DecodeValue)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Sprintf("no figures: %s has none and there is no %s", runfolder.ResultsFile, runfolder.HistoryFile)
	}
	if err == nil && len(h) == 0 {
		return nil, fmt.Sprintf("no figures: %s has none and the history is empty", runfolder.ResultsFile)
	}
	var f *figures.Figures
	if err == nil {
		// A history whose operations do not pair cannot be measured.
		f, err = figures.FromHistory(h, t.TimeLimit, t.OpLimit)
	}
	if err != nil {
		return nil, "no figures: " + runfolder.ResultsFile + " has none and the history cannot be read: " + cutText(strings.Join(strings.Fields(err.Error()), " "))
	}
	withStaleness(wl, h, f)
	return f, fmt.Sprintf("figures computed from %s (%s has none), the load phase taken to end at %s",
		runfolder.HistoryFile, runfolder.ResultsFile, time.Duration(f.LoadEndNS).Round(time.Millisecond))
}

// unwrapPathError drops the operation and path of a *fs.PathError, which
// the message names already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
