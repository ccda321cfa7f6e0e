package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline"
)

// repeatUsage is the help text of run's --repeat flag.
const repeatUsage = "run the test this many times, with consecutive seeds from --seed (0: the first picked at random), " +
	"and report in how many an anomaly was found, with a 95% confidence interval (1: one run; at most 1000)"

// runRepeat is `faultline run --repeat n` for n other than 1: t run n
// times with n seeds, each run's line on stderr as it ends, then the
// table of the runs and the detection rate on stdout (or, with jsonOut,
// repeat.json's content as one JSON object), and with junitPath a JUnit
// report of every run and the rate. It returns the error that carries the
// exit code.
func runRepeat(ctx context.Context, t faultline.Test, n int, junitPath string, jsonOut bool) error {
	start := time.Now()
	rp := faultline.Repeat{Test: t, N: n,
		RunCommand: func(seed int64) string { return seedCommand(os.Args[1:], seed) },
		OnRun: func(_ *faultline.RepeatResult, run faultline.RepeatRun) {
			fmt.Fprintf(os.Stderr, "faultline: %s\n", run.Line())
		},
	}
	var res *faultline.RepeatResult
	err := rp.Validate()
	if err == nil {
		from := ""
		if t.Seed != 0 {
			from = fmt.Sprintf(" from %d", t.Seed)
		}
		fmt.Fprintf(os.Stderr, "faultline: %s (%s) · %s · nemesis %s · %s on %d %s nodes · %d seeds%s\n",
			t.Target, t.Variant, t.Workload, strings.Join(orNone(t.Nemesis), ","), t.TimeLimit, t.Nodes, t.Provider, n, from)
		res, err = faultline.RunRepeat(ctx, rp)
	}
	// The JUnit report comes after repeat.json; a report that cannot be
	// written makes the exit code 3.
	var junitErr error
	switch {
	case junitPath == "":
	case res != nil:
		junitErr = faultline.WriteRepeatJUnit(junitPath, res)
	default:
		junitErr = faultline.WriteJUnit(junitPath, t, nil, err, start)
	}
	if err != nil && junitErr != nil {
		err = fmt.Errorf("%w (and %s)", err, junitErr)
	}
	if res == nil {
		return err
	}
	return reportSeries(res, res.Dir, "runs", &res.ExitCode, &res.Error, err, junitErr, jsonOut)
}

// seedCommand is the command line that repeats one run of the repeat
// started with args (which begin with "run"): the same flags, but for
// --seed set to seed and without --repeat, --json and --junit.
func seedCommand(args []string, seed int64) string {
	out, rest := dropFlags(args, []string{"repeat", "seed", "junit"}, []string{"json"}, true)
	out = append(append([]string{"faultline"}, out...), "--seed", strconv.FormatInt(seed, 10))
	return strings.Join(append(out, rest...), " ")
}
