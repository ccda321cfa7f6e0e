package faultline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/jepsen"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads"
)

// CheckConfig configures Check.
type CheckConfig struct {
	// Workload names the workload whose checkers judge the history. Empty
	// means the one recorded in the run folder's test.json, or "register"
	// for a bare history file.
	Workload string
	// Timeout bounds each checker; past it the verdict is unknown.
	Timeout time.Duration
	// Memory bounds, in bytes, how much the checkers may grow the heap;
	// past it the verdict is unknown. Zero means
	// checkers.DefaultMemoryBudget().
	Memory int64
	// Format is the history's format: FormatFaultline, FormatJepsen, or
	// empty to tell from the path (see Check).
	Format string
}

// The history formats Check reads (CheckConfig.Format).
const (
	// FormatFaultline is faultline's own history.jsonl, or a run folder.
	FormatFaultline = "faultline"
	// FormatJepsen is a Jepsen cas-register history (results/jepsen):
	// history.edn, Jepsen's textual log of operations, or a Jepsen run's
	// store folder holding either. It is judged by the register
	// workload.
	FormatJepsen = "jepsen"
)

// Check re-checks a stored run offline: path is a run folder or a
// history.jsonl file. It reads a partial history too (a controller killed
// mid-run): a torn last line after a complete one is ignored (and noted in
// Errors) and open invocations count as indeterminate. It writes nothing
// into the folder. Errors wrap ErrBadInput when the path or the history is
// not usable: a missing path, a folder without history.jsonl, a history
// that is not a regular file (a named pipe, a device), and a file that is
// not a history (empty, blank lines only, a line that is not an event, its
// only line cut off); ErrInterrupted when ctx ends while the checkers run
// (Check returns at once); ErrCheckerCrashed when a checker panics. A
// history without one client operation that succeeded is judged unknown,
// never valid. Result.Figures measures the history as Run does, over the
// load phase the folder's results.json recorded (the whole history when
// there is none, or for a bare history file).
//
// cfg.Format says how to read path. FormatJepsen reads a Jepsen
// cas-register history (a file in either of results/jepsen's formats, or
// a folder holding history.edn or history.txt) and judges it with the
// register workload: a cfg.Workload other than "register" is bad input,
// and notes on how the history was read (times made up, lines skipped)
// are in Result.Errors. Empty Format means FormatJepsen for a file whose
// name ends in .edn and for a folder without history.jsonl that holds
// history.edn or history.txt, and FormatFaultline otherwise; any other
// value is bad input.
func Check(ctx context.Context, path string, cfg CheckConfig) (*Result, error) {
	if err := validCheckTimeout(cfg.Timeout); err != nil {
		return nil, err
	}
	if cfg.Memory == 0 {
		cfg.Memory = checkers.DefaultMemoryBudget()
	}
	if err := validCheckMemory(cfg.Memory); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, core.BadInput("%s: no such run folder or history file", path)
		}
		return nil, fmt.Errorf("check: %w", err)
	}
	format, err := checkFormat(path, st, cfg.Format)
	if err != nil {
		return nil, err
	}
	if format == FormatJepsen {
		return checkJepsen(ctx, path, cfg)
	}
	historyPath, dir := path, ""
	if st.IsDir() {
		dir, historyPath = path, filepath.Join(path, runfolder.HistoryFile)
		if _, err := os.Lstat(historyPath); errors.Is(err, fs.ErrNotExist) {
			return nil, core.BadInput("%s has no %s: not a run folder", path, runfolder.HistoryFile)
		}
		if cfg.Workload == "" {
			b, err := runfolder.ReadFile(filepath.Join(path, runfolder.TestFile))
			switch {
			case err == nil:
				var t Test
				if err := t.UnmarshalJSON(b); err != nil {
					return nil, core.BadInput("%s: %s", filepath.Join(path, runfolder.TestFile), cutText(err.Error()))
				}
				cfg.Workload = t.Workload
			case !errors.Is(err, fs.ErrNotExist):
				return nil, err
			}
		}
	}
	if cfg.Workload == "" {
		cfg.Workload = "register"
	}
	wl, ok := registry.Workload(cfg.Workload)
	if !ok {
		return nil, core.BadInput("unknown workload %s; valid workloads: %s", quoteShort(cfg.Workload), strings.Join(registry.WorkloadNames(), ", "))
	}
	h, info, err := history.ReadFileInfo(historyPath, wl.DecodeValue)
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		what := "the file is empty"
		if info.Lines > 0 {
			what = "it holds only blank lines"
		}
		return nil, core.BadInput("%s is not a history: %s", historyPath, what)
	}
	var notes []string
	if info.Torn {
		notes = append(notes, fmt.Sprintf("%s: the last line (line %d, %d bytes) is cut off: the run was stopped while writing it; it was ignored",
			historyPath, info.TornLine, info.TornBytes))
	}
	return checkHistory(ctx, wl, h, historyPath, dir, notes, cfg)
}

// checkHistory judges the history h read from historyPath (in the run
// folder dir, or "" for a bare file) with wl's checkers; notes go into
// Result.Errors.
func checkHistory(ctx context.Context, wl workloads.Workload, h History, historyPath, dir string, notes []string, cfg CheckConfig) (*Result, error) {
	// A history whose invocations and completions do not pair up is bad
	// input, not an undecidable one.
	if _, err := checkers.Pair(h); err != nil {
		return nil, fmt.Errorf("%s: %w", historyPath, err)
	}
	res := &Result{Dir: dir, Counts: runfolder.Count(h), Errors: notes}
	res.Figures = measure(wl, h, recordedLoadEnd(dir))
	var err error
	res.Checkers, res.Verdict, err = judge(ctx, wl, h, workloads.CheckOptions{}, cfg.Timeout, cfg.Memory)
	if errors.Is(err, errCheckInterrupted) {
		return nil, fmt.Errorf("check %w", ErrInterrupted)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkFormat resolves CheckConfig.Format for path (st is its Stat).
func checkFormat(path string, st fs.FileInfo, format string) (string, error) {
	switch format {
	case FormatFaultline, FormatJepsen:
		return format, nil
	case "":
	default:
		return "", core.BadInput("unknown --format %s; valid formats: %s, %s", quoteShort(format), FormatFaultline, FormatJepsen)
	}
	if !st.IsDir() {
		if strings.EqualFold(filepath.Ext(path), ".edn") {
			return FormatJepsen, nil
		}
		return FormatFaultline, nil
	}
	if _, err := os.Lstat(filepath.Join(path, runfolder.HistoryFile)); err == nil {
		return FormatFaultline, nil
	}
	for _, name := range jepsen.HistoryFiles {
		if _, err := os.Lstat(filepath.Join(path, name)); err == nil {
			return FormatJepsen, nil
		}
	}
	return FormatFaultline, nil
}

// checkJepsen checks the Jepsen history at path with the register
// workload.
func checkJepsen(ctx context.Context, path string, cfg CheckConfig) (*Result, error) {
	const workload = "register"
	if cfg.Workload != "" && cfg.Workload != workload {
		return nil, core.BadInput("--format %s reads cas-register histories, which the %s workload judges; --workload %s cannot", FormatJepsen, workload, quoteShort(cfg.Workload))
	}
	wl, ok := registry.Workload(workload)
	if !ok {
		return nil, fmt.Errorf("check: the %s workload is not registered", workload)
	}
	h, info, file, err := jepsen.ReadPath(path)
	if err != nil {
		return nil, err
	}
	return checkHistory(ctx, wl, h, file, "", info.Notes(file), cfg)
}

// recordedLoadEnd is the load phase's end that the run folder dir's
// results.json recorded (figures.load_end_ns), or 0 when dir is empty or
// its results.json has none or cannot be read: then the figures cover the
// whole history, final reads included.
func recordedLoadEnd(dir string) int64 {
	if dir == "" {
		return 0
	}
	res, err := runfolder.ReadResults(dir)
	if err != nil || res.Figures == nil {
		return 0
	}
	return max(res.Figures.LoadEndNS, 0)
}

// judge runs the workload's checkers on h, then the stats rule that a
// history in which nothing succeeded is never valid, and composes their
// verdicts. Run and Check both judge through it; its errors are those of
// runCheckers (interrupted, crashed).
func judge(ctx context.Context, wl workloads.Workload, h History, opts workloads.CheckOptions, timeout time.Duration, memory int64) ([]CheckResult, Verdict, error) {
	cs, err := runCheckers(ctx, wl, h, opts, timeout, memory)
	if err != nil {
		return nil, Unknown, err
	}
	cs = append(cs, checkers.Stats(h))
	return cs, combine(cs), nil
}

// quoteShort quotes s for an error line, cut to about 200 bytes.
func quoteShort(s string) string {
	return strconv.Quote(cutText(s))
}

// cutText cuts s to about 200 bytes at a character boundary, saying how
// long it was.
func cutText(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	n := most
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// WriteSummary writes the short, plain account of a result that a person
// reads at the end of a run or check: the verdict, what it means, the
// anomaly in one sentence, counts, and where the report is.
func (r *Result) WriteSummary(w io.Writer, t *Test) {
	verdict := strings.ToUpper(string(r.Verdict))
	switch r.Verdict {
	case Valid:
		fmt.Fprintf(w, "%s: no anomaly found; the history could have happened on a correct system.\n", verdict)
	case Invalid:
		fmt.Fprintf(w, "%s: the history could not have happened on a correct system.\n", verdict)
	default:
		fmt.Fprintf(w, "%s: no anomaly found, but a checker could not decide (see below); this is not a pass.\n", verdict)
	}
	for _, c := range r.Checkers {
		fmt.Fprintf(w, "  %s: %s\n", c.Checker, c.Summary)
		for i, a := range c.Anomalies {
			if i == 3 {
				fmt.Fprintf(w, "    ... and %d more anomalies in results.json\n", len(c.Anomalies)-3)
				break
			}
			fmt.Fprintf(w, "    %s\n", a.Description)
		}
	}
	if r.Verdict == Invalid && t != nil {
		if tg, ok := registry.Target(t.Target); ok {
			for _, v := range tg.Variants() {
				if v.Name == t.Variant && v.About(t.Workload) {
					fmt.Fprintf(w, "  About %s %s: %s.\n", t.Target, v.Name, v.Description)
				}
			}
		}
	}
	c := r.Counts
	fmt.Fprintf(w, "  operations: %d ok, %d fail, %d info; nemesis events: %d\n", c.OK, c.Fail, c.Info, c.Nemesis)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  note: %s\n", e)
	}
	if r.Dir != "" {
		if _, err := os.Stat(filepath.Join(r.Dir, "report.html")); err == nil {
			fmt.Fprintf(w, "Report: %s\n", filepath.Join(r.Dir, "report.html"))
		} else {
			fmt.Fprintf(w, "Run folder: %s\n", r.Dir)
		}
	}
}

// WriteList writes every target (with its variants and workloads),
// workload and nemesis, each with one line of description.
func WriteList(w io.Writer) {
	fmt.Fprintln(w, "Targets (--target, --variant):")
	for _, t := range registry.Targets() {
		fmt.Fprintf(w, "  %-12s %s (workloads: %s)\n", t.Name(), t.Description(), strings.Join(t.Workloads(), ", "))
		if roles := describeRoles(t); roles != "" {
			fmt.Fprintf(w, "    roles at the default --nodes: %s\n", roles)
		}
		width := 10
		for _, v := range t.Variants() {
			width = max(width, len(v.Name))
		}
		for i, v := range t.Variants() {
			def := ""
			if len(v.Workloads) > 0 {
				def = " (" + strings.Join(v.Workloads, ", ") + " only)"
			}
			if i == 0 {
				def += " (default)"
			}
			fmt.Fprintf(w, "    %-*s %s%s\n", width, v.Name, v.Description, def)
		}
		if iso, ok := t.(targets.Isolator); ok {
			var names []string
			for i, c := range iso.Isolations() {
				if i == 0 {
					names = append(names, c.Name+" (default)")
				} else {
					names = append(names, c.Name)
				}
			}
			fmt.Fprintf(w, "    isolation levels (--isolation): %s\n", strings.Join(names, ", "))
		}
		if st, ok := t.(targets.Storer); ok {
			var names []string
			for i, c := range st.Stores() {
				if i == 0 {
					names = append(names, c.Name+" (default)")
				} else {
					names = append(names, c.Name)
				}
			}
			fmt.Fprintf(w, "    stores (--store): %s\n", strings.Join(names, ", "))
		}
	}
	fmt.Fprintln(w, "Workloads (--workload):")
	for _, wl := range registry.Workloads() {
		fmt.Fprintf(w, "  %-12s %s\n", wl.Name(), wl.Description())
	}
	fmt.Fprintln(w, "Nemeses (--nemesis, comma list or none):")
	for _, k := range nemesis.Kinds() {
		fmt.Fprintf(w, "  %-12s %s\n", k.Name, k.Description)
		fmt.Fprintf(w, "  %-12s --nemesis %s\n", "", k.Usage)
	}
	fmt.Fprintln(w, "Providers (--provider):")
	for _, p := range providers {
		fmt.Fprintf(w, "  %-12s %s\n", p.Name, p.Description)
	}
}

// describeRoles lays t out with its default variant and its default
// --nodes and names each role with its node count and program, as in
// "kv ×3 (Go)" or "redis ×5 (redis-server)".
func describeRoles(t targets.Target) string {
	variant, _ := targets.ResolveVariant(t, "")
	def := DefaultTest()
	def.Target, def.System = "", t
	def = WithTargetDefaults(def, func(string) bool { return false })
	nodes, err := targets.Plan(t, targets.Spec{Variant: variant, Nodes: def.Nodes})
	if err != nil {
		return ""
	}
	var parts []string
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.Role.Name] {
			continue
		}
		seen[n.Role.Name] = true
		prog := "Go"
		if s, ok := n.Role.Program.(targets.Server); ok {
			prog = s.Binary
		}
		parts = append(parts, fmt.Sprintf("%s ×%d (%s)", n.Role.Name, n.Role.Count, prog))
	}
	return strings.Join(parts, ", ")
}

// combine composes the checkers' verdicts: invalid beats unknown beats
// valid. No checker at all is unknown, never valid.
func combine(cs []CheckResult) Verdict {
	if len(cs) == 0 {
		return Unknown
	}
	vs := make([]Verdict, len(cs))
	for i, c := range cs {
		vs[i] = c.Verdict
	}
	return core.Combine(vs...)
}
