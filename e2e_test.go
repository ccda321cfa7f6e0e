package faultline_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline"
)

func TestMain(m *testing.M) {
	// The local provider re-executes this test binary as each node.
	faultline.NodeMain(myRegister{})
	os.Exit(m.Run())
}

// e2eParams reads how many seeds and how long each end-to-end run lasts:
// FAULTLINE_E2E_SEEDS (default 2) and FAULTLINE_E2E_TIME (default 8s).
// The full acceptance count is FAULTLINE_E2E_SEEDS=10 FAULTLINE_E2E_TIME=20s.
func e2eParams(t *testing.T) (int, time.Duration) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	seeds, dur := 2, 8*time.Second
	if s := os.Getenv("FAULTLINE_E2E_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FAULTLINE_E2E_SEEDS=%q is not a positive number", s)
		}
		seeds = n
	}
	if s := os.Getenv("FAULTLINE_E2E_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("FAULTLINE_E2E_TIME=%q is not a positive duration", s)
		}
		dur = d
	}
	return seeds, dur
}

func runSeeds(t *testing.T, base faultline.Test) map[faultline.Verdict]int {
	t.Helper()
	seeds, dur := e2eParams(t)
	base.TimeLimit = dur
	base.Results = t.TempDir()
	got := map[faultline.Verdict]int{}
	for s := 1; s <= seeds; s++ {
		tt := base
		tt.Seed = int64(1000 + s)
		res, err := faultline.Run(context.Background(), tt)
		if err != nil {
			t.Fatalf("seed %d: %v", tt.Seed, err)
		}
		t.Logf("seed %d: %s (%d ok, %d fail, %d info) %s", tt.Seed, res.Verdict, res.Counts.OK, res.Counts.Fail, res.Counts.Info, res.Dir)
		for _, c := range res.Checkers {
			t.Logf("  %s: %s", c.Checker, c.Summary)
		}
		// The stored run re-checks offline to the same verdict.
		again, err := faultline.Check(context.Background(), res.Dir, faultline.CheckConfig{Timeout: tt.CheckTimeout})
		if err != nil {
			t.Fatalf("seed %d: re-check: %v", tt.Seed, err)
		}
		if again.Verdict != res.Verdict {
			t.Fatalf("seed %d: run said %s, re-check says %s", tt.Seed, res.Verdict, again.Verdict)
		}
		got[res.Verdict]++
	}
	return got
}

// TestUnsafeIsCaught: asynchronous replication under partitions must be
// found invalid in at least nine runs of ten.
func TestUnsafeIsCaught(t *testing.T) {
	tt := faultline.DefaultTest()
	got := runSeeds(t, tt)
	total := got[faultline.Valid] + got[faultline.Invalid] + got[faultline.Unknown]
	if got[faultline.Invalid]*10 < total*9 {
		t.Fatalf("unsafe found invalid in %d of %d runs, want at least 90%%", got[faultline.Invalid], total)
	}
}

// TestSafeIsValid: the raft variant must be valid under every nemesis, in
// every run.
func TestSafeIsValid(t *testing.T) {
	tt := faultline.DefaultTest()
	tt.Variant = "safe"
	tt.Nemesis = []string{"partition", "kill", "pause", "latency"}
	tt.NemesisInterval = 2 * time.Second
	got := runSeeds(t, tt)
	if got[faultline.Invalid] != 0 || got[faultline.Unknown] != 0 {
		t.Fatalf("safe verdicts %v, want every run valid", got)
	}
}

// TestSafeSurvivesKillingEveryNode: killing every node of the raft variant
// at once, by role, must restart them together (none becomes ready without
// a quorum of the others): the heal succeeds, no nemesis error is noted,
// operations succeed after the windows and the run is valid.
func TestSafeSurvivesKillingEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	tt := faultline.DefaultTest()
	tt.Variant = "safe"
	tt.Nemesis = []string{"kill=role:kv,all"}
	tt.NemesisInterval = time.Second
	tt.TimeLimit = 5 * time.Second
	tt.Results = t.TempDir()
	res, err := faultline.Run(t.Context(), tt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != faultline.Valid || len(res.Errors) != 0 || res.Counts.Nemesis < 4 || res.Counts.OK == 0 {
		t.Fatalf("verdict %s, errors %q, counts %+v; want valid, no errors, two kill windows, operations that succeeded",
			res.Verdict, res.Errors, res.Counts)
	}
}
