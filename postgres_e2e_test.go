package faultline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/workloads/bank"
)

// runParams reads how many seeds and how long each run of an end-to-end
// test lasts from FAULTLINE_<NAME>_SEEDS (default 1) and
// FAULTLINE_<NAME>_TIME (default 12s); runs are skipped with -short.
func runParams(t *testing.T, name string) (int, time.Duration) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	seeds, dur := 1, 12*time.Second
	if s := os.Getenv("FAULTLINE_" + name + "_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FAULTLINE_%s_SEEDS=%q is not a positive number", name, s)
		}
		seeds = n
	}
	if s := os.Getenv("FAULTLINE_" + name + "_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("FAULTLINE_%s_TIME=%q is not a positive duration", name, s)
		}
		dur = d
	}
	return seeds, dur
}

// runRechecked runs tt, logging each checker's verdict and summary and
// the operation counts under name, checks the stored run again offline,
// and returns the result; an error of the run, or a re-check that
// disagrees, ends the test.
func runRechecked(t *testing.T, name string, tt faultline.Test) *faultline.Result {
	t.Helper()
	res, err := faultline.Run(context.Background(), tt)
	if err != nil {
		t.Fatalf("%s seed %d: %v", name, tt.Seed, err)
	}
	for _, c := range res.Checkers {
		t.Logf("%s seed %d: %s: %s: %s", name, tt.Seed, c.Checker, c.Verdict, c.Summary)
	}
	t.Logf("%s seed %d: %s, %d ok, %d fail, %d info", name, tt.Seed, res.Verdict, res.Counts.OK, res.Counts.Fail, res.Counts.Info)
	again, err := faultline.Check(context.Background(), res.Dir, faultline.CheckConfig{Timeout: tt.CheckTimeout})
	if err != nil || again.Verdict != res.Verdict {
		t.Fatalf("%s seed %d: run said %s, re-check says %v (%v)", name, tt.Seed, res.Verdict, again, err)
	}
	return res
}

// openResults returns a fresh results folder the postgres account may
// reach when the test runs as root (the test's own temporary folder is
// private to root).
func openResults(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPostgresIdempotency: the postgres target's two variants under its
// default fault (kill of the server; FAULTLINE_PG_NEMESIS names others,
// such as partition=clients), with a fifth of the requests
// delivered twice at once (the idempotency workload's default), for
// FAULTLINE_PG_SEEDS seeds (default 1) of FAULTLINE_PG_TIME (default 12s):
// check-then-insert charges some requests twice (invalid, duplicate
// charges) in every run; unique-constraint is valid in every run, with
// operations acknowledged. Each stored run is checked again offline.
func TestPostgresIdempotency(t *testing.T) {
	if _, err := postgres.Server().Find(); err != nil {
		testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
	}
	checkPostgresIdempotency(t, "local")
}

// TestDockerPostgresIdempotency: the same on containers of the target's
// image.
func TestDockerPostgresIdempotency(t *testing.T) {
	testenv.NeedDocker(t)
	checkPostgresIdempotency(t, "docker")
}

// checkPostgresIdempotency runs both variants on provider and asserts what
// TestPostgresIdempotency says.
func checkPostgresIdempotency(t *testing.T, provider string) {
	seeds, dur := runParams(t, "PG")
	for _, variant := range []string{postgres.VariantCheckThenInsert, postgres.VariantUniqueConstraint} {
		t.Run(variant, func(t *testing.T) {
			for s := 1; s <= seeds; s++ {
				tt := faultline.DefaultTestFor("postgres")
				tt.Variant, tt.Provider = variant, provider
				tt = faultline.WithTargetDefaults(tt, func(flag string) bool { return flag == "variant" })
				if n := os.Getenv("FAULTLINE_PG_NEMESIS"); n != "" {
					tt.Nemesis = []string{n}
				}
				tt.TimeLimit, tt.NemesisInterval = dur, 3*time.Second
				tt.Seed, tt.Results = int64(4000+s), openResults(t)
				res := runRechecked(t, variant, tt)
				summary := ""
				for _, c := range res.Checkers {
					if c.Checker == "idempotency" {
						summary = c.Summary
					}
				}
				if res.Counts.OK == 0 {
					t.Fatalf("seed %d: no operation succeeded", tt.Seed)
				}
				switch variant {
				case postgres.VariantCheckThenInsert:
					if res.Verdict != faultline.Invalid || !strings.Contains(summary, "duplicate charges:") {
						t.Fatalf("seed %d: %s, %q; want invalid with duplicate charges", tt.Seed, res.Verdict, summary)
					}
				default:
					if res.Verdict != faultline.Valid {
						t.Fatalf("seed %d: %s, %q; want valid", tt.Seed, res.Verdict, summary)
					}
				}
			}
		})
	}
}

// findCase is one row of a target's findings: a run and what it must
// find.
type findCase struct {
	name      string
	variant   string
	workload  string
	isolation string
	rule      string
	nodes     int
	keys      int
	store     string
	nemesis   string
	// nemeses, when set, is the whole --nemesis list (nemesis is then
	// ignored).
	nemeses []string
	// interval is the --nemesis-interval; zero means 3s.
	interval time.Duration
	// invalid names the checkers that must find an anomaly; none means the
	// run must be valid.
	invalid []string
	// check, when set, asserts more of the run's result.
	check func(t *testing.T, res *faultline.Result)
	// extra rows run only when FAULTLINE_<env>_CASES names them or is
	// "all" (a measurement); the others are the sample every test run
	// takes.
	extra bool
}

// pgCases are the bank, register and failover rows of the README's
// postgres table.
var pgCases = []findCase{
	{name: "bank-read-committed", workload: "bank", isolation: postgres.IsolationReadCommitted, nemesis: "client-pause", invalid: []string{bank.TotalsChecker}},
	{name: "bank-repeatable-read", workload: "bank", isolation: postgres.IsolationRepeatableRead, nemesis: "client-pause"},
	{name: "bank-joint-repeatable-read", workload: "bank", isolation: postgres.IsolationRepeatableRead, rule: bank.RuleJoint, keys: 2, nemesis: "client-pause", interval: time.Second, invalid: []string{bank.BalancesChecker}},
	{name: "bank-serializable", workload: "bank", isolation: postgres.IsolationSerializable, nemesis: "client-pause"},
	{name: "bank-joint-serializable", workload: "bank", isolation: postgres.IsolationSerializable, rule: bank.RuleJoint, keys: 2, nemesis: "client-pause", interval: time.Second},
	{name: "idempotency-serializable", variant: postgres.VariantCheckThenInsert, workload: "idempotency", isolation: postgres.IsolationSerializable, nemesis: "kill"},
	{name: "register-kill", workload: "register", nemesis: "kill"},
	{name: "register-partition", workload: "register", nemesis: "partition=clients"},
	{name: "failover-idempotency", variant: postgres.VariantUniqueConstraint, workload: "idempotency", nodes: 2, nemesis: "failover", invalid: []string{"idempotency"}},
	{name: "failover-register", workload: "register", nodes: 2, nemesis: "failover", invalid: []string{"linearizability"}},
}

// TestPostgresFindings: each row of pgCases on local processes, for
// FAULTLINE_PGX_SEEDS seeds (default 1) of FAULTLINE_PGX_TIME (default
// 12s; FAULTLINE_PGX_CASES names rows to run, comma-separated): with the
// bank clients stalled between their reads and writes (client-pause),
// read committed loses updates (wrong totals), repeatable read keeps
// totals but lets a jointly held pair go negative (write skew),
// serializable is valid under both rules, and turns check-then-insert's
// duplicate charges into serialization failures; the register is linearizable
// under kills and client partitions; a failover to an asynchronous replica
// loses acknowledged charges and writes. Valid runs need operations
// acknowledged; each stored run is checked again offline.
func TestPostgresFindings(t *testing.T) {
	if _, err := postgres.Server().Find(); err != nil {
		testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
	}
	checkPostgresFindings(t, "local")
}

// TestDockerPostgresFindings: the same on containers.
func TestDockerPostgresFindings(t *testing.T) {
	testenv.NeedDocker(t)
	checkPostgresFindings(t, "docker")
}

func checkPostgresFindings(t *testing.T, provider string) {
	checkFindings(t, "postgres", provider, "PGX", 5000, pgCases)
}

// checkFindings runs cases on target and provider, for
// FAULTLINE_<env>_SEEDS seeds (seed base+1, base+2, ...) of
// FAULTLINE_<env>_TIME, and asserts what each row says: the checkers it
// names find an anomaly, or the run is valid; every run acknowledges
// operations. Each stored run is checked again offline. The rows are
// those FAULTLINE_<env>_CASES names (comma-separated; "all" for every
// row), or without it every row but the extra ones.
func checkFindings(t *testing.T, target, provider, env string, base int64, cases []findCase) {
	seeds, dur := runParams(t, env)
	only := os.Getenv("FAULTLINE_" + env + "_CASES")
	for _, pc := range cases {
		switch {
		case only == "all":
		case only != "" && !slices.Contains(strings.Split(only, ","), pc.name):
			continue
		case only == "" && pc.extra:
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			for s := 1; s <= seeds; s++ {
				tt := faultline.DefaultTestFor(target)
				tt.Provider = provider
				if pc.workload != "" {
					tt.Workload = pc.workload
				}
				if pc.variant != "" {
					tt.Variant = pc.variant
				}
				tt = faultline.WithTargetDefaults(tt, func(flag string) bool { return flag == "variant" || flag == "workload" })
				tt.Isolation, tt.BankRule, tt.Store, tt.Nemesis = pc.isolation, pc.rule, pc.store, []string{pc.nemesis}
				if pc.nemeses != nil {
					tt.Nemesis = pc.nemeses
				}
				if pc.nodes > 0 {
					tt.Nodes = pc.nodes
				}
				if pc.keys > 0 {
					tt.Keys = pc.keys
				}
				tt.TimeLimit, tt.NemesisInterval = dur, 3*time.Second
				if pc.interval > 0 {
					tt.NemesisInterval = pc.interval
				}
				tt.Seed, tt.Results = base+int64(s), openResults(t)
				res := runRechecked(t, pc.name, tt)
				if pc.check != nil {
					pc.check(t, res)
				}
				var found []string
				for _, c := range res.Checkers {
					if c.Verdict == faultline.Invalid {
						found = append(found, c.Checker)
					}
				}
				if res.Counts.OK == 0 {
					t.Fatalf("seed %d: no operation succeeded", tt.Seed)
				}
				// A wrong verdict is reported and the other seeds still
				// run, so that a measurement counts every seed.
				if len(pc.invalid) == 0 {
					if res.Verdict != faultline.Valid {
						t.Errorf("seed %d: %s (invalid: %v); want valid", tt.Seed, res.Verdict, found)
					}
				} else {
					for _, want := range pc.invalid {
						if !slices.Contains(found, want) {
							t.Errorf("seed %d: %s, invalid checkers %v; want %s to find an anomaly", tt.Seed, res.Verdict, found, want)
						}
					}
				}
			}
		})
	}
}
