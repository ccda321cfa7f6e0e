// Command runner runs one test of composestack.Register on a running
// Compose stack through faultline.Run, as a program of a user's own
// would: the compose provider's signal tests start it, signal it and
// look at the stack afterwards. SIGINT and SIGTERM cancel the run's
// context. It exits 0, 1 or 2 with the verdict and 3 when the run could
// not be carried out, as faultline run does, and prints the run folder
// on stderr once the run is over.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testtargets/composestack"
)

func main() {
	faultline.NodeMain()
	project := flag.String("project", "", "the Compose project")
	services := flag.String("services", strings.Join(composestack.Services, ","), "the services whose containers are nodes")
	results := flag.String("results", "", "the results root")
	nodeBinary := flag.String("node-binary", "", "the static faultline binary of the node image")
	timeLimit := flag.Duration("time-limit", 60*time.Second, "how long operations are generated")
	nemesis := flag.String("nemesis", "partition", "the faults")
	interval := flag.Duration("nemesis-interval", time.Second, "each fault window")
	seed := flag.Int64("seed", 1, "the seed")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := faultline.DefaultTest()
	t.Target, t.System, t.Variant = "", composestack.NewRegister(), "ok"
	t.Provider = "compose"
	t.Compose = &faultline.ComposeStack{Project: *project, Services: strings.Split(*services, ",")}
	t.Results, t.NodeBinary = *results, *nodeBinary
	t.TimeLimit, t.NemesisInterval, t.Seed = *timeLimit, *interval, *seed
	t.Nemesis = strings.Split(*nemesis, ",")
	t.Rate, t.Concurrency = 50, 2
	t.Status = os.Stderr
	res, err := faultline.Run(ctx, t)
	if res != nil {
		fmt.Fprintln(os.Stderr, "runner: run folder", res.Dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, "runner: verdict", res.Verdict)
	os.Exit(res.Verdict.ExitCode())
}
