package faultline_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/images"
)

// requireDocker skips outside CI when no Docker engine answers, and fails
// in CI, where a skip would hide a broken install step.
func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cli, err := images.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs a Docker engine: %v", err)
		}
		t.Skipf("skipped: no Docker engine answers (%v); the docker provider tests need one", err)
	}
	cli.Close()
}

// TestDockerUnsafeIsCaught: the same test as on local processes, on
// containers, gives the same verdict.
func TestDockerUnsafeIsCaught(t *testing.T) {
	requireDocker(t)
	tt := faultline.DefaultTest()
	tt.Provider = "docker"
	got := runSeeds(t, tt)
	total := got[faultline.Valid] + got[faultline.Invalid] + got[faultline.Unknown]
	if got[faultline.Invalid]*10 < total*9 {
		t.Fatalf("unsafe on docker found invalid in %d of %d runs, want at least 90%%", got[faultline.Invalid], total)
	}
}

// TestDockerSafeIsValid: Raft on containers stays valid under partitions
// (iptables), kills, pauses and packet loss.
func TestDockerSafeIsValid(t *testing.T) {
	requireDocker(t)
	tt := faultline.DefaultTest()
	tt.Provider = "docker"
	tt.Variant = "safe"
	tt.Nemesis = []string{"partition", "kill", "pause", "loss"}
	tt.NemesisInterval = 2 * time.Second
	got := runSeeds(t, tt)
	if got[faultline.Invalid] != 0 || got[faultline.Unknown] != 0 {
		t.Fatalf("safe on docker verdicts %v, want every run valid", got)
	}
}
