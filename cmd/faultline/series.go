package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// seriesResult is what reportSeries needs of a series' result (a
// *faultline.SweepResult or a *faultline.RepeatResult): its plain account;
// with --json the result itself is written as JSON.
type seriesResult interface {
	WriteSummary(w io.Writer)
}

// reportSeries ends `faultline sweep` and `faultline run --repeat` once
// the series has run, res not nil: dir is its folder, units what its
// steps are ("levels", "runs"), exitCode and errText point at its result's
// ExitCode and Error, err is the error that ended it and reportErr that of
// a report written after its JSON account (nil for none). When err is not
// nil it says on stderr where the steps done are. Without jsonOut it
// returns err, or else writes the summary on stdout and returns reportErr
// or the series' exit code. With jsonOut the summary (or err) goes to
// stderr, a reportErr turns the exit code to 3, and stdout gets exactly
// one JSON object, res. It returns the error that carries the exit code.
func reportSeries(res seriesResult, dir, units string, exitCode *int, errText *string, err, reportErr error, jsonOut bool) error {
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline: the %s done are in %s\n", units, dir)
	}
	if !jsonOut {
		if err != nil {
			return err
		}
		res.WriteSummary(os.Stdout)
		if reportErr != nil {
			return reportErr
		}
		return exitError{*exitCode}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline: %s\n", oneLine(err.Error()))
	} else {
		res.WriteSummary(os.Stderr)
	}
	if err == nil && reportErr != nil {
		fmt.Fprintf(os.Stderr, "faultline: %s\n", oneLine(reportErr.Error()))
		*exitCode, *errText = 3, reportErr.Error()
	}
	b, jerr := json.Marshal(res)
	if jerr == nil {
		_, jerr = os.Stdout.Write(append(b, '\n'))
	}
	if jerr != nil {
		fmt.Fprintf(os.Stderr, "faultline: write summary: %s\n", oneLine(jerr.Error()))
		return exitError{3}
	}
	return exitError{*exitCode}
}

// dropFlags returns args without the flags named in valued (--name v or
// --name=v, the value dropped too) and in bare (--name or --name=v), for
// the command line that repeats one step of a series. With stop, the args
// from a "--" on (one not taken as a flag's value) are returned apart, as
// rest, untouched; without, a "--" is kept as any other arg.
func dropFlags(args, valued, bare []string, stop bool) (kept, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if stop && a == "--" {
			return kept, args[i:]
		}
		name, _, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if strings.HasPrefix(a, "--") {
			switch {
			case slices.Contains(valued, name):
				if !hasVal {
					i++ // the value follows
				}
				continue
			case slices.Contains(bare, name):
				continue
			}
		}
		kept = append(kept, a)
	}
	return kept, nil
}
