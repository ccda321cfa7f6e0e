package nemesis_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

func TestClientPause(t *testing.T) {
	fs, err := nemesis.Parse("client-pause=30ms")
	if err != nil {
		t.Fatal(err)
	}
	f := fs[0]
	if err := nemesis.Available(f, bareCluster{}); !errors.Is(err, nemesis.ErrTargetUnsupported) {
		t.Fatalf("client-pause without a stall point: %v, want ErrTargetUnsupported", err)
	}
	stall := &nemesis.ClientStall{}
	c := nemesis.Extend(bareCluster{}, stall)
	if err := nemesis.Available(f, c); err != nil {
		t.Fatalf("client-pause with the controller's stall: %v", err)
	}
	// The extension keeps the cluster's own nodes, and finds nothing it
	// does not have.
	if len(c.Nodes()) != 3 || nemesis.Available(&nemesis.Kill{}, c) == nil {
		t.Fatal("Extend changed the cluster's nodes or invented a capability")
	}
	if d := stall.Hook(t.Context()); d != 0 {
		t.Fatalf("hook stalled %v with the fault off", d)
	}
	v, err := f.Start(t.Context(), c, rand.New(rand.NewPCG(1, 1)))
	if err != nil || v.(nemesis.ClientPauseValue).Stall != "30ms" {
		t.Fatalf("start: %v, %v", v, err)
	}
	if d := stall.Hook(t.Context()); d < 30*time.Millisecond {
		t.Fatalf("hook stalled %v during the window, want 30ms", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if d := stall.Hook(ctx); d >= 30*time.Millisecond {
		t.Fatalf("hook ignored its context: stalled %v", d)
	}
	if _, err := f.Stop(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if d := stall.Hook(t.Context()); d != 0 {
		t.Fatalf("hook stalled %v after the window", d)
	}
	for _, bad := range []string{"client-pause=0s", "client-pause=x", "client-pause=2h"} {
		if _, err := nemesis.Parse(bad); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("Parse(%q) = %v, want bad input", bad, err)
		}
	}
}
