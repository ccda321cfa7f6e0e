package faultline_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/postgres"
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
				res, err := faultline.Run(context.Background(), tt)
				if err != nil {
					t.Fatalf("seed %d: %v", tt.Seed, err)
				}
				summary := ""
				for _, c := range res.Checkers {
					t.Logf("%s seed %d: %s: %s", variant, tt.Seed, c.Checker, c.Summary)
					if c.Checker == "idempotency" {
						summary = c.Summary
					}
				}
				t.Logf("%s seed %d: %s, %d ok, %d fail, %d info", variant, tt.Seed, res.Verdict, res.Counts.OK, res.Counts.Fail, res.Counts.Info)
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
				again, err := faultline.Check(context.Background(), res.Dir, faultline.CheckConfig{Timeout: tt.CheckTimeout})
				if err != nil || again.Verdict != res.Verdict {
					t.Fatalf("seed %d: run said %s, re-check says %v (%v)", tt.Seed, res.Verdict, again, err)
				}
			}
		})
	}
}
