package faultline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
)

// lockParams reads how many seeds and how long each redis-lock run lasts:
// FAULTLINE_LOCK_SEEDS (default 1) and FAULTLINE_LOCK_TIME (default 12s).
// The full acceptance count is FAULTLINE_LOCK_SEEDS=10 FAULTLINE_LOCK_TIME=30s.
func lockParams(t *testing.T) (int, time.Duration) {
	t.Helper()
	return runParams(t, "LOCK")
}

// lockFinding is what one redis-lock run found, by guarantee.
type lockFinding struct {
	verdict      faultline.Verdict
	lockViolated bool // the mutual-exclusion checker found overlapping holders
	corrupted    bool // the resource checker found a lost update or a stale token accepted
	ok           int
}

// runLock runs redis-lock's variant with the variant's defaults (5 s
// operations; client-pause, five redis nodes for redlock; the failover
// fault and 100ms holds for failover) for every seed, re-checks each
// stored run offline, and returns the findings.
func runLock(t *testing.T, provider, variant string) []lockFinding {
	t.Helper()
	testenv.NeedBinary(t, "redis-server", "redis-server")
	seeds, dur := lockParams(t)
	var out []lockFinding
	for s := 1; s <= seeds; s++ {
		tt := faultline.DefaultTestFor("redis-lock")
		tt.Provider, tt.Variant = provider, variant
		tt = faultline.WithTargetDefaults(tt, func(flag string) bool { return flag == "variant" })
		tt.TimeLimit = dur
		tt.NemesisInterval = 3 * time.Second
		tt.Seed = int64(2000 + s)
		tt.Results = t.TempDir()
		res := runRechecked(t, variant, tt)
		f := lockFinding{verdict: res.Verdict, ok: res.Counts.OK}
		for _, c := range res.Checkers {
			switch c.Checker {
			case "mutual-exclusion":
				f.lockViolated = strings.HasPrefix(c.Summary, "lock violated")
			case "resource":
				f.corrupted = strings.HasPrefix(c.Summary, "resource corrupted")
			}
		}
		out = append(out, f)
	}
	return out
}

// checkLockFindings asserts Kleppmann's result: without fencing (naive,
// redlock) a holder stalled past its lease overlaps the next and loses
// updates, found invalid in at least nine runs of ten; with fencing the
// lock is still violated but the resource stays safe: valid in every run,
// the overlaps listed. A failover to an asynchronous replica loses held
// locks: found invalid in at least nine runs of ten.
func checkLockFindings(t *testing.T, provider string) {
	for _, variant := range []string{"naive", "fencing", "redlock", "failover"} {
		t.Run(variant, func(t *testing.T) {
			fs := runLock(t, provider, variant)
			caught, safe := 0, 0
			for _, f := range fs {
				if f.ok == 0 {
					t.Fatalf("%+v: no operation succeeded", f)
				}
				if f.verdict == faultline.Invalid && f.corrupted && f.lockViolated {
					caught++
				}
				if f.verdict == faultline.Valid && !f.corrupted && f.lockViolated {
					safe++
				}
			}
			switch variant {
			case "fencing":
				if safe != len(fs) {
					t.Fatalf("fencing: %d of %d runs valid with the lock violated and the resource safe; want all (%+v)", safe, len(fs), fs)
				}
			default:
				if caught*10 < len(fs)*9 {
					t.Fatalf("%s: %d of %d runs invalid with overlaps and a corrupted resource; want at least 90%% (%+v)", variant, caught, len(fs), fs)
				}
			}
		})
	}
}

// TestRedisLockFindings: redis-lock's four variants under their default
// faults, on local processes.
func TestRedisLockFindings(t *testing.T) { checkLockFindings(t, "local") }

// TestDockerRedisLockFindings: the same on containers.
func TestDockerRedisLockFindings(t *testing.T) {
	testenv.NeedDocker(t)
	checkLockFindings(t, "docker")
}

// TestRedisLockWithoutRedisNamesThePackage: on a machine without
// redis-server, a redis-lock run stops before anything is made and says
// which Debian package to install.
func TestRedisLockWithoutRedisNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tt := faultline.DefaultTestFor("redis-lock")
	tt.Results = filepath.Join(t.TempDir(), "results")
	res, err := faultline.Run(t.Context(), tt)
	if err == nil || res != nil || !strings.Contains(err.Error(), "install Debian's package redis-server (apt-get install redis-server)") {
		t.Fatalf("Run = %v, %v; want an error naming the package", res, err)
	}
	if _, err := os.Stat(tt.Results); !os.IsNotExist(err) {
		t.Fatalf("the results root was made: %v", err)
	}
}

// nodeFaults is the mix of node faults TestRedisLockUnderNodeFaults runs:
// clients cut off from Redis, Redis killed, the resource paused, latency.
const nodeFaults = "partition=clients/role:redis,kill=role:redis,pause=role:resource,latency"

// TestRedisLockUnderNodeFaults: under faults of the nodes of either role
// (no client pauses) fencing keeps the resource safe in every run, and
// some operations succeed; what naive shows is logged (a pause of the
// resource that outlasts leases can corrupt it, a run without one may
// not).
func TestRedisLockUnderNodeFaults(t *testing.T) {
	testenv.NeedBinary(t, "redis-server", "redis-server")
	seeds, dur := lockParams(t)
	for _, variant := range []string{"naive", "fencing"} {
		t.Run(variant, func(t *testing.T) {
			for s := 1; s <= seeds; s++ {
				tt := faultline.DefaultTestFor("redis-lock")
				tt.Variant, tt.Nemesis, tt.TimeLimit = variant, []string{nodeFaults}, dur
				tt.NemesisInterval, tt.Seed, tt.Results = 2*time.Second, int64(3000+s), t.TempDir()
				res, err := faultline.Run(context.Background(), tt)
				if err != nil {
					t.Fatalf("seed %d: %v", tt.Seed, err)
				}
				for _, c := range res.Checkers {
					t.Logf("%s seed %d: %s: %s", variant, tt.Seed, c.Checker, c.Summary)
				}
				t.Logf("%s seed %d: %s, %d ok, %d fail, %d info", variant, tt.Seed, res.Verdict, res.Counts.OK, res.Counts.Fail, res.Counts.Info)
				if res.Counts.OK == 0 {
					t.Fatalf("seed %d: no operation succeeded", tt.Seed)
				}
				if variant == "fencing" && res.Verdict != faultline.Valid {
					t.Fatalf("fencing seed %d: %s under node faults; want valid", tt.Seed, res.Verdict)
				}
			}
		})
	}
}
