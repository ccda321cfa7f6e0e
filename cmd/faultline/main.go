// Command faultline is the command-line face of the faultline test harness:
// `faultline run` drives a test, `faultline sweep` runs it at several
// concurrency levels and fits the Universal Scalability Law, `faultline
// check` re-checks a stored run, `faultline list` shows the choices and
// `faultline version` the version.
// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the run or check could not
// be carried out.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline"
	"github.com/spf13/cobra"
)

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	faultline.NodeMain()
	os.Exit(execute(os.Args[1:]))
}

// execute runs the CLI with args and returns the exit code.
func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		// A command that answers with JSON answers flag errors with
		// JSON too: its RunE, which prints it otherwise, never ran.
		if cmd != nil && wantsJSON(cmd, args) {
			faultline.WriteJSON(os.Stdout, nil, errors.New(oneLine(err.Error())))
		}
		fmt.Fprintf(os.Stderr, "faultline: %s\n", oneLine(err.Error()))
		return 3
	}
}

// wantsJSON reports whether args ask cmd for --json output, reading them
// as pflag would (the values of other flags skipped) without needing them
// to parse: it serves when parsing failed.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	fs := cmd.Flags()
	if fs.Lookup("json") == nil {
		return false
	}
	want := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			continue
		}
		name, val, hasVal := strings.Cut(name, "=")
		f := fs.Lookup(name)
		switch {
		case f == nil:
		case name == "json" && !hasVal:
			want = true
		case name == "json":
			if b, err := strconv.ParseBool(val); err == nil {
				want = b
			}
		case !hasVal && f.NoOptDefVal == "":
			i++ // the next argument is this flag's value
		}
	}
	return want
}

// bytesValue is a flag holding a memory size, read with
// faultline.ParseBytes ("512MiB", "2GiB", "25%").
type bytesValue struct{ p *int64 }

func (v bytesValue) String() string {
	if v.p == nil {
		return ""
	}
	return faultline.FormatBytes(*v.p)
}

func (v bytesValue) Set(s string) error {
	b, err := faultline.ParseBytes(s)
	if err != nil {
		return err
	}
	*v.p = b
	return nil
}

func (v bytesValue) Type() string { return "size" }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "A Jepsen-style test harness for distributed systems",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newRun(), newSweep(), newCheck(), newList(), newVersion(), newImages(), newCleanup(), newReport(), newServe(), newCompare(), newInit())
	return root
}

func newRun() *cobra.Command {
	t := faultline.DefaultTest()
	var (
		nem, junit, file string
		jsonOut          bool
		repeat           int
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a test: drive the workload, inject faults, check the history",
		Long: "Run a test. With no flags it runs the embedded default: demo-kv (unsafe) on three local\n" +
			"processes with the register workload under partitions for 20 seconds. With -f FILE it runs\n" +
			"the test file's test (faultline init writes one), flags given explicitly overriding it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if file != "" {
				t, err = fromFile(cmd, file, t)
			} else {
				t.Nemesis = splitList(nem)
				// What the user did not set follows the target's defaults.
				t = faultline.WithTargetDefaults(t, cmd.Flags().Changed)
			}
			t.Command = "faultline " + strings.Join(os.Args[1:], " ")
			t.Status = os.Stderr
			if repeat != 1 && err == nil {
				return runRepeat(cmd.Context(), t, repeat, junit, jsonOut)
			}
			start := time.Now()
			var res *faultline.Result
			if err == nil {
				err = t.Validate()
			}
			if err == nil {
				fmt.Fprintf(os.Stderr, "faultline: %s (%s) · %s · nemesis %s · %s on %d %s nodes\n",
					t.Target, t.Variant, t.Workload, strings.Join(orNone(t.Nemesis), ","), t.TimeLimit, t.Nodes, t.Provider)
				res, err = faultline.Run(cmd.Context(), t)
			}
			// The JUnit report comes after results.json; a report that
			// cannot be written makes the exit code 3.
			var junitErr error
			if junit != "" {
				junitErr = faultline.WriteJUnit(junit, t, res, err, start)
			}
			if err != nil && res != nil && res.Dir != "" {
				fmt.Fprintf(os.Stderr, "faultline: the history recorded so far is in %s\n", res.Dir)
			}
			return finishAfter(res, err, jsonOut, &t, junitErr)
		},
	}
	f := cmd.Flags()
	testFlags(cmd, &t, &nem)
	fileFlag(cmd, &file)
	f.IntVar(&t.Concurrency, "concurrency", t.Concurrency, "concurrent client processes")
	f.BoolVar(&jsonOut, "json", false, "print exactly one JSON object on stdout (verdict, run folder, counts, anomalies); everything else goes to stderr")
	f.StringVar(&junit, "junit", "", "also write a JUnit XML report to this file")
	f.IntVar(&repeat, "repeat", 1, repeatUsage)
	return cmd
}

// testFlags defines on cmd the flags of every setting of t but its
// concurrency, which run and sweep define each their own way; nem receives
// --nemesis as given. run and sweep share it so that their flags stay the
// same.
func testFlags(cmd *cobra.Command, t *faultline.Test, nem *string) {
	f := cmd.Flags()
	f.StringVar(&t.Target, "target", t.Target, "system under test (see faultline list)")
	f.StringVar(&t.Variant, "variant", t.Variant, "variant of the target")
	f.StringVar(&t.Workload, "workload", t.Workload, "client workload")
	f.StringVar(&t.Provider, "provider", t.Provider, "where nodes run: local (OS processes), docker (containers) or compose (a running Compose stack a test file names)")
	f.IntVar(&t.Nodes, "nodes", t.Nodes, "number of nodes")
	f.Float64Var(&t.Rate, "rate", t.Rate, "operations per second, all workers together (0: unlimited)")
	f.DurationVar(&t.TimeLimit, "time-limit", t.TimeLimit, "how long to generate operations")
	f.IntVar(&t.OpLimit, "op-limit", t.OpLimit, "stop after this many operations (0: no limit)")
	f.DurationVar(&t.OpTimeout, "op-timeout", t.OpTimeout, "timeout of each operation; past it the outcome is unknown (info)")
	f.IntVar(&t.Keys, "keys", t.Keys, "number of keys")
	f.DurationVar(&t.Hold, "hold", t.Hold, "how long the lock workload's holder works between reading the resource and writing it back (0: the workload's default, 10ms)")
	f.StringVar(&t.Isolation, "isolation", t.Isolation, "isolation level of the target's transactions, for targets that have levels (postgres: read-committed, repeatable-read, serializable; default: the target's first)")
	f.StringVar(&t.Store, "store", t.Store, "where the target's services keep their state, for targets that have stores (saga: embedded, postgres; default: the target's first)")
	f.StringVar(&t.BankRule, "bank-rule", t.BankRule, "the bank workload's rule: total (money is only moved; no balance below zero) or joint (withdrawals; no pair of accounts below zero); default total")
	f.StringVar(nem, "nemesis", strings.Join(t.Nemesis, ","), "faults: comma list of partition, latency, loss, kill, pause, client-pause (forms: faultline list), or none")
	f.Float64Var(&t.Loss, "loss", t.Loss, "share of packets the loss fault drops (docker provider)")
	f.DurationVar(&t.NemesisInterval, "nemesis-interval", t.NemesisInterval, "length of each fault window and of the pause between windows")
	f.Int64Var(&t.Seed, "seed", t.Seed, "random seed (0: pick one; it is recorded in test.json)")
	f.StringVar(&t.Results, "results", t.Results, "root folder of run folders")
	f.DurationVar(&t.CheckTimeout, "check-timeout", t.CheckTimeout, "time budget of each checker; past it the verdict is unknown")
	f.Var(bytesValue{&t.CheckMemory}, "check-memory", "memory budget of the checkers (heap growth, e.g. 512MiB, 2GiB, 25%; default a quarter of this machine's memory); past it the verdict is unknown")
	f.DurationVar(&t.StartTimeout, "start-timeout", t.StartTimeout, "time budget for the nodes to start and serve requests")
	f.DurationVar(&t.RecoveryTimeout, "recovery-timeout", t.RecoveryTimeout, "time budget for recovery and final reads after the faults heal, and for each restarted node")
}

// finish writes the outcome of a run or check: the human summary on
// stdout, or with jsonOut one JSON object on stdout and the summary on
// stderr; it returns the error that carries the exit code.
func finish(res *faultline.Result, err error, jsonOut bool, t *faultline.Test) error {
	return finishAfter(res, err, jsonOut, t, nil)
}

// finishAfter is finish for an outcome followed by a step that failed
// with after (writing the JUnit report): the verdict is still shown, the
// failure is one more line on stderr (and the JSON object's error), and
// the exit code is 3.
func finishAfter(res *faultline.Result, err error, jsonOut bool, t *faultline.Test, after error) error {
	if err != nil && after != nil {
		err = fmt.Errorf("%w (and %s)", err, after)
	}
	if !jsonOut {
		if err != nil {
			return err
		}
		res.WriteSummary(os.Stdout, t)
		if after != nil {
			return after
		}
		return exitError{res.Verdict.ExitCode()}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline: %s\n", oneLine(err.Error()))
	} else {
		res.WriteSummary(os.Stderr, t)
	}
	s := faultline.NewSummary(res, err)
	if err == nil && after != nil {
		fmt.Fprintf(os.Stderr, "faultline: %s\n", oneLine(after.Error()))
		s.ExitCode, s.Error = 3, after.Error()
	}
	b, jerr := json.Marshal(s)
	if jerr == nil {
		_, jerr = os.Stdout.Write(append(b, '\n'))
	}
	if jerr != nil {
		fmt.Fprintf(os.Stderr, "faultline: write summary: %s\n", oneLine(jerr.Error()))
		return exitError{3}
	}
	return exitError{s.ExitCode}
}

func orNone(l []string) []string {
	if len(l) == 0 {
		return []string{"none"}
	}
	return l
}

// splitList turns "partition, kill" into its names and "none" into none.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "none" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newCheck() *cobra.Command {
	def := faultline.DefaultTest()
	cfg := faultline.CheckConfig{Timeout: def.CheckTimeout, Memory: def.CheckMemory}
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "check RUN_DIR | HISTORY_FILE",
		Short: "Re-check a stored run or history file offline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := faultline.Check(cmd.Context(), args[0], cfg)
			return finish(res, err, jsonOut, nil)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print exactly one JSON object on stdout; everything else goes to stderr")
	cmd.Flags().StringVar(&cfg.Workload, "workload", "", "workload of the history (default: from test.json, else register)")
	cmd.Flags().StringVar(&cfg.Format, "format", "", "format of the history: faultline (history.jsonl or a run folder) or jepsen (history.edn, Jepsen's log of operations, or a Jepsen run folder); default jepsen for a .edn file or a folder with a Jepsen history and no history.jsonl, else faultline")
	cmd.Flags().DurationVar(&cfg.Timeout, "check-timeout", cfg.Timeout, "time budget of each checker; past it the verdict is unknown")
	cmd.Flags().Var(bytesValue{&cfg.Memory}, "check-memory", "memory budget of the checkers (heap growth, e.g. 512MiB, 2GiB, 25%; default a quarter of this machine's memory); past it the verdict is unknown")
	return cmd
}

func newList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List targets, variants, workloads, nemeses and providers",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { faultline.WriteList(os.Stdout) },
	}
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print faultline's version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Println("faultline", faultline.Version) },
	}
}
