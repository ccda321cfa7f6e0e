package faultline

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Line is the run's one-line account, as `faultline run --repeat` prints
// it when the run ends: its seed, verdict (or why it has none), its
// anomalies and the first anomalous operation's time and fault.
func (r RepeatRun) Line() string {
	var b strings.Builder
	b.WriteString(stepLine(fmt.Sprintf("seed %d", r.Seed), r.Verdict, r.Ended(), r.Interrupted, r.Error))
	if r.Anomalies > 0 {
		fmt.Fprintf(&b, " · %d %s", r.Anomalies, plural(r.Anomalies, "anomaly", "anomalies"))
	}
	if a := r.FirstAnomaly; a != nil {
		fmt.Fprintf(&b, " · first anomalous operation at %s (%s)", formatSeconds(a.TimeNS), a.Fault)
	}
	if r.RunDir != "" {
		b.WriteString(" · " + r.RunDir)
	}
	return b.String()
}

// RateLine is the detection rate in one line: "anomaly found in K of N
// seeds (95% CI a–b)", the interval over the decided runs; when some runs
// did not decide (unknown, or not carried out), it says of how many
// decided runs K is and how many did not decide.
func (r *RepeatResult) RateLine() string {
	d := r.Rate
	ci := fmt.Sprintf("%d%% CI %.2f–%.2f", int(d.Confidence*100+0.5), d.Low, d.High)
	if d.Decided == 0 {
		ci = "no interval: no seed decided"
	}
	if d.Decided == d.Runs {
		return fmt.Sprintf("anomaly found in %d of %d %s (%s)", d.Found, d.Runs, plural(d.Runs, "seed", "seeds"), ci)
	}
	return fmt.Sprintf("anomaly found in %d of %d decided %s (%s); of %d %s, %d undecided, %d not carried out",
		d.Found, d.Decided, plural(d.Decided, "seed", "seeds"), ci, d.Runs, plural(d.Runs, "seed", "seeds"), d.Unknown, d.NotDone)
}

// WriteSummary writes the plain account of a repeat that a person reads
// at its end: a table of the runs (seed, verdict, anomalies, first anomaly
// at, fault then), the rate line and where repeat.json is.
func (r *RepeatResult) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "seed\tverdict\tanomalies\tfirst anomaly at\tfault then")
	for _, run := range r.Runs {
		v, n, at, fault := stepVerdict(run.Verdict, run.Ended(), run.Interrupted), strconv.Itoa(run.Anomalies), "–", "–"
		if !run.Ended() {
			n = "–"
		}
		if a := run.FirstAnomaly; a != nil {
			at, fault = formatSeconds(a.TimeNS), a.Fault
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", run.Seed, v, n, at, fault)
	}
	tw.Flush()
	fmt.Fprintln(w, r.RateLine())
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  note: %s\n", e)
	}
	fmt.Fprintf(w, "Repeat: %s\n", filepath.Join(r.Dir, RepeatFile))
}

// formatSeconds writes ns as seconds with millisecond precision: 4.247s.
func formatSeconds(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
