package faultline_test

import (
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/twopc"
	"github.com/faultline/faultline/workloads/transfer"
)

// twopcCases are the rows of the README's twopc table; one run of each
// variant is the sample every test run takes.
var twopcCases = []findCase{
	{name: "naive-kill-coordinator", variant: twopc.VariantNaive, nemesis: "kill=role:coordinator", invalid: []string{transfer.AtomicityChecker}},
	{name: "correct-kill-coordinator", variant: twopc.VariantCorrect, nemesis: "kill=role:coordinator", check: atomicAndMeasured},
	{name: "correct-kill-participant", extra: true, variant: twopc.VariantCorrect, nemesis: "kill=role:participant", check: atomicAndMeasured},
	{name: "correct-partition", extra: true, variant: twopc.VariantCorrect, nemesis: "partition=role:coordinator", check: atomicAndMeasured},
	{name: "correct-pause", extra: true, variant: twopc.VariantCorrect, nemesis: "pause", check: atomicAndMeasured},
}

// atomicAndMeasured asserts that a valid twopc run had something to
// judge: transactions committed on every participant, and prepared
// transactions whose time in doubt the blocking checker measured.
func atomicAndMeasured(t *testing.T, res *faultline.Result) {
	t.Helper()
	for _, c := range res.Checkers {
		switch d := c.Details.(type) {
		case transfer.AtomicityDetails:
			if d.Committed == 0 {
				t.Errorf("atomicity judged no committed transaction: %s", c.Summary)
			}
		case transfer.BlockingDetails:
			if d.InDoubt == 0 || len(d.Windows) == 0 {
				t.Errorf("blocking measured nothing: %s", c.Summary)
			}
		}
	}
}

// TestTwoPCFindings: each row of twopcCases on local processes, for
// FAULTLINE_TWOPC_SEEDS seeds (default 1) of FAULTLINE_TWOPC_TIME (default
// 12s; FAULTLINE_TWOPC_CASES names rows, "all" for the extra ones too):
// the naive variant splits
// transactions (committed on one participant, aborted on another) and
// loses acknowledged ones when its coordinator is killed; the correct
// variant is
// atomic under kills, partitions and pauses, with its blocking measured.
func TestTwoPCFindings(t *testing.T) {
	checkFindings(t, twopc.Name, "local", "TWOPC", 7000, twopcCases)
}

// TestDockerTwoPCFindings: the same on containers.
func TestDockerTwoPCFindings(t *testing.T) {
	testenv.NeedDocker(t)
	checkFindings(t, twopc.Name, "docker", "TWOPC", 7000, twopcCases)
}
