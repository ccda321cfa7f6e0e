package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/core"
	"github.com/spf13/cobra"
)

// defaultLevels is sweep's --concurrency when none is given.
const defaultLevels = "1,2,4,8,16,32,64"

func newSweep() *cobra.Command {
	t := faultline.DefaultTest()
	var (
		nem, levels, file string
		jsonOut           bool
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run a test at several concurrency levels and fit the Universal Scalability Law",
		Long: "Run the same test (every run flag applies) once at each concurrency level of --concurrency,\n" +
			"with the same seed, record the throughput of ok operations and their latency at each, and\n" +
			"fit the Universal Scalability Law: contention σ, coherency κ, the concurrency of peak\n" +
			"throughput and the predicted ceiling. The sweep folder, <results>/<target>-<workload>-sweep/<time>/,\n" +
			"holds sweep.json, sweep.html and every level's run folder under levels/.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lv, err := parseLevels(levels)
			if err != nil {
				return err
			}
			if file != "" {
				if t, err = fromFile(cmd, file, t); err != nil {
					return err
				}
			} else {
				t.Nemesis = splitList(nem)
				// What the user did not set follows the target's
				// defaults; the concurrency is each level's.
				t = faultline.WithTargetDefaults(t, cmd.Flags().Changed)
			}
			t.Command = "faultline " + strings.Join(os.Args[1:], " ")
			t.Status = os.Stderr
			s := faultline.Sweep{Test: t, Levels: lv,
				RunCommand: func(n int, seed int64) string { return levelCommand(os.Args[1:], n, seed) },
				OnLevel: func(r *faultline.SweepResult, l faultline.SweepLevel) {
					fmt.Fprintf(os.Stderr, "faultline: %s\n", l.Line())
				},
			}
			if err := s.Validate(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "faultline: sweep of %s (%s) · %s · nemesis %s · %s per level on %d %s nodes · concurrency %s\n",
				t.Target, t.Variant, t.Workload, strings.Join(orNone(t.Nemesis), ","), t.TimeLimit, t.Nodes, t.Provider, joinInts(lv))
			res, err := faultline.RunSweep(cmd.Context(), s)
			if res == nil {
				return err
			}
			return reportSeries(res, res.Dir, "levels", &res.ExitCode, &res.Error, err, nil, jsonOut)
		},
	}
	f := cmd.Flags()
	testFlags(cmd, &t, &nem)
	fileFlag(cmd, &file)
	f.StringVar(&levels, "concurrency", defaultLevels, "concurrency levels: a comma list of client process counts, increasing")
	f.BoolVar(&jsonOut, "json", false, "print exactly one JSON object on stdout (sweep.json's content); everything else goes to stderr")
	return cmd
}

// parseLevels reads --concurrency: a comma list of whole numbers. Their
// values (positive, increasing) are faultline.Sweep.Validate's to judge.
func parseLevels(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, core.BadInput("--concurrency: no levels given; give a comma list such as 1,2,4,8")
	}
	var out []int
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, core.BadInput("--concurrency: item %d of %q is empty", i+1, s)
		}
		n, err := strconv.Atoi(item)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return nil, core.BadInput("--concurrency: %q is out of range", item)
			}
			return nil, core.BadInput("--concurrency: %q is not a whole number", item)
		}
		out = append(out, n)
	}
	return out, nil
}

// levelCommand is the command line that repeats one level of the sweep
// started with args: `faultline run` with the same flags, but for
// --concurrency n and --seed seed, and without --json.
func levelCommand(args []string, n int, seed int64) string {
	if len(args) > 0 && args[0] == "sweep" {
		args = args[1:]
	}
	out, _ := dropFlags(args, []string{"concurrency", "seed"}, []string{"json"}, false)
	out = append(append([]string{"faultline", "run"}, out...), "--concurrency", strconv.Itoa(n), "--seed", strconv.FormatInt(seed, 10))
	return strings.Join(out, " ")
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
