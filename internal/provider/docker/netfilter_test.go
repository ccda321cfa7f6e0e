package docker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/faultline/faultline/internal/provider/netfilter"
	"github.com/faultline/faultline/nemesis"
)

// These tests need no engine.

func TestRestoreInput(t *testing.T) {
	a, b := netip.MustParseAddr("172.20.0.3"), netip.MustParseAddr("172.20.0.4")
	r := netfilter.Rules{Cut: []netip.Addr{a}, Lossy: []netip.Addr{a, b}, Loss: 0.25}
	want := `*filter
:FAULTLINE - [0:0]
:FAULTLINE_LOSS - [0:0]
-A FAULTLINE -s 172.20.0.3/32 -j DROP
-A FAULTLINE -d 172.20.0.3/32 -j DROP
-A FAULTLINE_LOSS -s 172.20.0.3/32 -m statistic --mode random --probability 0.25 -j DROP
-A FAULTLINE_LOSS -s 172.20.0.4/32 -m statistic --mode random --probability 0.25 -j DROP
COMMIT
`
	if got := r.RestoreInput(); got != want {
		t.Errorf("restore input:\n%s\nwant:\n%s", got, want)
	}
	if p, l := r.Counts(); p != 2 || l != 2 {
		t.Errorf("counts %d %d", p, l)
	}
	// No faults: both chains declared (emptied), nothing else.
	empty := netfilter.Rules{}.RestoreInput()
	if want := "*filter\n:FAULTLINE - [0:0]\n:FAULTLINE_LOSS - [0:0]\nCOMMIT\n"; empty != want {
		t.Errorf("empty restore input %q", empty)
	}
	if p, l := (netfilter.Rules{Lossy: []netip.Addr{a}}).Counts(); p != 0 || l != 0 {
		t.Errorf("no loss fraction counted %d %d", p, l)
	}
}

func TestCutPeers(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	// An asymmetric grudge still cuts both directions of each pair.
	cut := netfilter.CutPairs(nemesis.Grudge{"n1": {"n2"}, "n4": {"n1"}})
	for node, want := range map[string][]string{
		"n1": {"n2", "n4"}, "n2": {"n1"}, "n3": nil, "n4": {"n1"}, "n5": nil,
	} {
		if got := netfilter.CutPeers(cut, nodes, node); !slices.Equal(got, want) {
			t.Errorf("cutPeers %s = %v, want %v", node, got, want)
		}
	}
	if got := wantDropped(nemesis.Isolate(nodes[:3], "n2")); !slices.Equal(got, []string{"n1->n2", "n2->n1", "n2->n3", "n3->n2"}) {
		t.Errorf("wantDropped %v", got)
	}
}

func TestParseScriptsOutput(t *testing.T) {
	got, err := netfilter.ParseProbes("10.0.0.2:8001 0\n10.0.0.3:8001 124\n10.0.0.4:8001 1\n10.0.0.5:8001 127\n", []string{"10.0.0.2:8001", "10.0.0.3:8001", "10.0.0.4:8001", "10.0.0.5:8001"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]netfilter.ProbeOutcome{"10.0.0.2:8001": netfilter.ProbeOpen, "10.0.0.3:8001": netfilter.ProbeDropped, "10.0.0.4:8001": netfilter.ProbeOpen, "10.0.0.5:8001": netfilter.ProbeFailed}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
	if _, err := netfilter.ParseProbes("10.0.0.2:8001 0\n", []string{"10.0.0.2:8001", "10.0.0.9:8001"}); err == nil {
		t.Error("a missing probe result went unnoticed")
	}
	if p, l, err := netfilter.ParseCounts("rules 4 2\n"); err != nil || p != 4 || l != 2 {
		t.Errorf("parseCounts: %d %d %v", p, l, err)
	}
	if _, _, err := netfilter.ParseCounts("iptables: No chain/target/match by that name.\n"); err == nil {
		t.Error("parseCounts accepted garbage")
	}
	if q, err := parseNetem("rules 0 0\nnetem 1\n"); err != nil || q != 1 {
		t.Errorf("parseNetem: %d %v", q, err)
	}
}

func TestNetem(t *testing.T) {
	if got := netemArgs(100*time.Millisecond, 50*time.Millisecond); !slices.Equal(got, []string{"tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "100000us", "50000us"}) {
		t.Errorf("netemArgs %v", got)
	}
	if got := netemArgs(time.Millisecond, 0); !slices.Equal(got[len(got)-2:], []string{"delay", "1000us"}) {
		t.Errorf("netemArgs without jitter %v", got)
	}
	for _, tc := range []struct {
		res     ExecResult
		missing bool
		want    string
	}{
		// What this machine's kernel says.
		{ExecResult{ExitCode: 2, Stderr: "Error: Specified qdisc kind is unknown.\n"}, true, "no netem"},
		{ExecResult{ExitCode: 2, Stderr: "RTNETLINK answers: No such file or directory\n"}, true, "no netem"},
		{ExecResult{ExitCode: 127, Stderr: "sh: tc: not found"}, true, "not installed"},
		{ExecResult{ExitCode: 2, Stderr: "RTNETLINK answers: Operation not permitted\n"}, false, ""},
	} {
		why, missing := netemMissing(tc.res)
		if missing != tc.missing || !strings.Contains(why, tc.want) {
			t.Errorf("netemMissing(%+v) = %q, %v", tc.res, why, missing)
		}
	}
}

// listingEngine is an engine that lists what it is given, whatever the
// filter (as a faulty engine might), and records removals.
type listingEngine struct {
	Engine
	containers []container.Summary
	networks   []network.Summary
	removed    []string
}

func (f *listingEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.containers}, nil
}

func (f *listingEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{Items: f.networks}, nil
}

func (f *listingEngine) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	if !o.Force {
		return client.ContainerRemoveResult{}, errors.New("not forced")
	}
	f.removed = append(f.removed, id)
	return client.ContainerRemoveResult{}, nil
}

func (f *listingEngine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.removed = append(f.removed, id)
	return client.NetworkRemoveResult{}, nil
}

func TestCleanupChecksTheLabelItself(t *testing.T) {
	nw := func(id string, labels map[string]string) network.Summary {
		var s network.Summary
		s.ID, s.Name, s.Labels = id, "net-"+id, labels
		return s
	}
	f := &listingEngine{
		containers: []container.Summary{
			{ID: "c1", Names: []string{"/a"}, Labels: map[string]string{LabelFaultline: "1", LabelRun: "r1"}},
			{ID: "c2", Names: []string{"/b"}, Labels: map[string]string{"other": "1"}},
			{ID: "c3", Names: []string{"/c"}, Labels: map[string]string{LabelFaultline: "0"}},
			{ID: "c4", Names: []string{"/d"}},
			// Started by someone else from the node image: it inherits the
			// image's faultline=1 but has no run id.
			{ID: "c5", Names: []string{"/e"}, Labels: map[string]string{LabelFaultline: "1", "faultline.role": "node"}},
		},
		networks: []network.Summary{
			nw("w1", map[string]string{LabelFaultline: "1", LabelRun: "r1"}),
			nw("w2", nil),
			nw("w3", map[string]string{LabelFaultline: "1"}),
		},
	}
	removed, err := Cleanup(t.Context(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.removed, []string{"c1", "w1"}) {
		t.Errorf("removed ids %v, want c1 and w1 only", f.removed)
	}
	if !slices.Equal(removed, []string{"container a", "network net-w1"}) {
		t.Errorf("Cleanup reported %v", removed)
	}
}
