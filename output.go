package faultline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/results/junit"
	"github.com/faultline/faultline/results/runfolder"
)

// Summary is the machine-readable account of a run or check: what
// `--json` prints as the one JSON object on stdout.
type Summary struct {
	Verdict   Verdict           `json:"verdict,omitempty"`
	ExitCode  int               `json:"exit_code"`
	RunDir    string            `json:"run_dir,omitempty"`
	Report    string            `json:"report,omitempty"`
	Seed      int64             `json:"seed,omitempty"`
	Counts    *runfolder.Counts `json:"counts,omitempty"`
	Checkers  []CheckSummary    `json:"checkers,omitempty"`
	Anomalies []Anomaly         `json:"anomalies,omitempty"`
	Errors    []string          `json:"errors,omitempty"`
	// Figures are the run's or check's figures, as results.json has them.
	Figures *figures.Figures `json:"figures,omitempty"`
	// Error is why the run or check could not be carried out (exit 3).
	Error string `json:"error,omitempty"`
}

// CheckSummary is one checker's verdict in a Summary.
type CheckSummary struct {
	Checker string  `json:"checker"`
	Verdict Verdict `json:"verdict"`
	Summary string  `json:"summary"`
}

// ExitCode is the process exit code of a run or check that returned res
// and err: 0 valid, 1 invalid, 2 unknown, 3 could not be carried out.
func ExitCode(res *Result, err error) int {
	if err != nil || res == nil {
		return 3
	}
	return res.Verdict.ExitCode()
}

// NewSummary builds the Summary of a run or check that returned res and
// err; res may be nil or partial when err is set.
func NewSummary(res *Result, err error) Summary {
	s := Summary{ExitCode: ExitCode(res, err)}
	if err != nil {
		s.Error = err.Error()
	}
	if res == nil {
		return s
	}
	s.RunDir, s.Seed, s.Errors, s.Figures = res.Dir, res.Seed, res.Errors, res.Figures
	if err == nil {
		s.Verdict = res.Verdict
		c := res.Counts
		s.Counts = &c
	}
	if res.Dir != "" {
		s.Report = filepath.Join(res.Dir, runfolder.ReportFile)
	}
	for _, c := range res.Checkers {
		s.Checkers = append(s.Checkers, CheckSummary{Checker: c.Checker, Verdict: c.Verdict, Summary: c.Summary})
		s.Anomalies = append(s.Anomalies, c.Anomalies...)
	}
	return s
}

// WriteJSON writes the Summary of res and err to w as one JSON object on
// one line.
func WriteJSON(w io.Writer, res *Result, err error) error {
	b, merr := json.Marshal(NewSummary(res, err))
	if merr != nil {
		return fmt.Errorf("encode summary: %w", merr)
	}
	_, werr := w.Write(append(b, '\n'))
	return werr
}

// WriteJUnit writes a JUnit XML report of the run t that returned res and
// err to path: one test suite for the run, one test case per checker, the
// anomaly as the failure message, an undecided checker or a run that could
// not be carried out as an error. It creates no folder; when path cannot
// be written it leaves no temporary file behind.
func WriteJUnit(path string, t Test, res *Result, err error, start time.Time) error {
	in := junit.Input{
		Name:  fmt.Sprintf("%s %s %s", t.Target, t.Variant, t.Workload),
		Start: start, Duration: time.Since(start), RunErr: err,
		Properties: map[string]string{"provider": t.Provider, "nemesis": fmt.Sprint(t.Nemesis), "time_limit": t.TimeLimit.String()},
	}
	if res != nil {
		in.Dir = res.Dir
		in.Properties["seed"] = fmt.Sprint(res.Seed)
		if err == nil {
			in.Checkers = res.Checkers
		}
	}
	if err == nil && (res == nil || len(res.Checkers) == 0) {
		in.RunErr = errors.New("no checker ran")
	}
	return junit.Write(path, in)
}
