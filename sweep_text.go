package faultline

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Line is the level's one-line account, as `faultline sweep` prints it
// when the level ends: its concurrency, verdict (or why it has none), ok
// throughput and latency percentiles.
func (l SweepLevel) Line() string {
	var b strings.Builder
	b.WriteString(stepLine(fmt.Sprintf("concurrency %d", l.Concurrency), l.Verdict, l.Ended(), l.Interrupted, l.Error))
	if f := l.Figures; f != nil {
		fmt.Fprintf(&b, " · %s ok/s · p50 %s · p99 %s · %d ok, %d fail, %d info",
			formatRate(f.OKPerSec), formatNS(f.P50NS), formatNS(f.P99NS), f.OK, f.Fail, f.Info)
	}
	return b.String()
}

// FitLine is the fit in one line: σ, κ, λ, R² and what they predict; or
// why there is no fit.
func (r *SweepResult) FitLine() string {
	m := r.Fit
	if m == nil {
		return "USL fit: none (" + r.FitError + ")"
	}
	var lv []string
	for _, n := range r.FitLevels {
		lv = append(lv, strconv.Itoa(n))
	}
	peak := "none"
	if m.PeakN > 0 {
		peak = fmt.Sprintf("%.1f", m.PeakN)
	}
	ceiling := "none"
	if m.Ceiling > 0 {
		ceiling = formatRate(m.Ceiling) + " ok/s"
	}
	return fmt.Sprintf("USL fit over %s: σ %s, κ %s, λ %s ok/s, R² %.4f; N* %s, ceiling %s. %s",
		strings.Join(lv, ","), formatParam(m.Sigma), formatParam(m.Kappa), formatRate(m.Lambda), m.R2, peak, ceiling,
		fitSentence(*m, r.FitLevels))
}

// WriteSummary writes the plain account of a sweep that a person reads at
// its end: a table of the levels (concurrency, verdict, ok/s, p50, p99),
// the combined verdict, the fit and where the page is.
func (r *SweepResult) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tverdict\tok/s\tp50\tp99\t")
	for _, l := range r.Levels {
		v := stepVerdict(l.Verdict, l.Ended(), l.Interrupted)
		rate, p50, p99 := "–", "–", "–"
		if f := l.Figures; f != nil {
			rate, p50, p99 = formatRate(f.OKPerSec), formatNS(f.P50NS), formatNS(f.P99NS)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", l.Concurrency, v, rate, p50, p99)
	}
	tw.Flush()
	switch r.Verdict {
	case Valid:
		fmt.Fprintln(w, "VALID: every level's history could have happened on a correct system.")
	case Invalid:
		fmt.Fprintln(w, "INVALID: at least one level's history could not have happened on a correct system (see each level's report).")
	default:
		fmt.Fprintln(w, "UNKNOWN: no level found an anomaly, but a checker could not decide at some level; this is not a pass.")
	}
	fmt.Fprintln(w, r.FitLine())
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  note: %s\n", e)
	}
	fmt.Fprintf(w, "Sweep: %s\n", filepath.Join(r.Dir, SweepPage))
}
