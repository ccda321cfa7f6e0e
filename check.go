package faultline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
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
}

// Check re-checks a stored run offline: path is a run folder or a
// history.jsonl file. It reads a partial history too (a controller killed
// mid-run): a torn last line is ignored and open invocations count as
// indeterminate. It writes nothing into the folder. Errors wrap ErrBadInput
// when the path or the history is not usable.
func Check(ctx context.Context, path string, cfg CheckConfig) (*Result, error) {
	if cfg.Timeout <= 0 {
		return nil, core.BadInput("--check-timeout must be positive, got %s", cfg.Timeout)
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, core.BadInput("%s: no such run folder or history file", path)
		}
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	historyPath, dir := path, ""
	if st.IsDir() {
		dir, historyPath = path, filepath.Join(path, "history.jsonl")
		if cfg.Workload == "" {
			if b, err := os.ReadFile(filepath.Join(path, "test.json")); err == nil {
				var t Test
				if err := t.UnmarshalJSON(b); err != nil {
					return nil, core.BadInput("%s: %v", filepath.Join(path, "test.json"), err)
				}
				cfg.Workload = t.Workload
			}
		}
	}
	if cfg.Workload == "" {
		cfg.Workload = "register"
	}
	wl, ok := registry.Workload(cfg.Workload)
	if !ok {
		return nil, core.BadInput("unknown workload %q; valid workloads: %s", cfg.Workload, strings.Join(registry.WorkloadNames(), ", "))
	}
	h, err := history.ReadFile(historyPath, wl.DecodeValue)
	if err != nil {
		return nil, err
	}
	// A history whose invocations and completions do not pair up is bad
	// input, not an undecidable one.
	if _, err := checkers.Pair(h); err != nil {
		return nil, fmt.Errorf("%s: %w", historyPath, err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := &Result{Dir: dir, Counts: runfolder.Count(h)}
	res.Checkers = wl.Check(cctx, h, workloads.CheckOptions{})
	res.Verdict = combine(res.Checkers)
	return res, nil
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
		fmt.Fprintf(w, "%s: a checker could not decide (time or memory budget ran out); this is not a pass.\n", verdict)
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
				if v.Name == t.Variant {
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
		for i, v := range t.Variants() {
			def := ""
			if i == 0 {
				def = " (default)"
			}
			fmt.Fprintf(w, "    %-10s %s%s\n", v.Name, v.Description, def)
		}
	}
	fmt.Fprintln(w, "Workloads (--workload):")
	for _, wl := range registry.Workloads() {
		fmt.Fprintf(w, "  %-12s %s\n", wl.Name(), wl.Description())
	}
	fmt.Fprintln(w, "Nemeses (--nemesis, comma list or none):")
	for _, k := range nemesis.Kinds() {
		fmt.Fprintf(w, "  %-12s %s\n", k.Name, k.Description)
	}
	fmt.Fprintln(w, "Providers (--provider):")
	for _, p := range providers {
		fmt.Fprintf(w, "  %-12s %s\n", p.Name, p.Description)
	}
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
