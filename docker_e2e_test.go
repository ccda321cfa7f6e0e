package faultline_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
)

// TestDockerUnsafeIsCaught: the same test as on local processes, on
// containers, gives the same verdict.
func TestDockerUnsafeIsCaught(t *testing.T) {
	testenv.NeedDocker(t)
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
	testenv.NeedDocker(t)
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
