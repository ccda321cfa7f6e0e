package netfilter

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/nemesis"
)

func TestInstall(t *testing.T) {
	r := Rules{Cut: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Loss: 0.5, Lossy: []netip.Addr{netip.MustParseAddr("10.0.0.3")}}
	var gotEnv []string
	var gotScript string
	run := func(out string, err error) func([]string, string) (string, error) {
		return func(env []string, script string) (string, error) {
			gotEnv, gotScript = env, script
			return out, err
		}
	}
	if err := Install(r, run("rules 2 1\n", nil)); err != nil {
		t.Fatalf("Install with matching counts: %v", err)
	}
	if gotScript != RestoreScript || len(gotEnv) != 1 || gotEnv[0] != EnvRules+"="+r.RestoreInput() {
		t.Errorf("Install ran %q with env %q", gotScript, gotEnv)
	}
	err := Install(r, run("rules 1 1\n", nil))
	if !errors.Is(err, nemesis.ErrNotApplied) || err.Error() != "fault not in effect: 1 partition and 1 loss rules installed, want 2 and 1" {
		t.Errorf("Install with a missing rule: %v", err)
	}
	boom := errors.New("exit status 1: iptables-restore: line 3 failed")
	if err := Install(r, run("", boom)); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "install iptables rules: ") {
		t.Errorf("Install with a failing script: %v", err)
	}
	if err := Install(r, run("no counts\n", nil)); err == nil || !strings.HasPrefix(err.Error(), "install iptables rules: ") {
		t.Errorf("Install without counts: %v", err)
	}
}

// fakeProbe answers each probe from a table per timeout and records the
// calls.
type fakeProbe struct {
	answers map[time.Duration]map[string]ProbeOutcome
	fail    map[time.Duration]error
	calls   []string
}

func (f *fakeProbe) probe(addrs []string, timeout time.Duration) (map[string]ProbeOutcome, error) {
	f.calls = append(f.calls, timeout.String()+" "+strings.Join(addrs, ","))
	if err := f.fail[timeout]; err != nil {
		return nil, err
	}
	out := map[string]ProbeOutcome{}
	for _, a := range addrs {
		out[a] = f.answers[timeout][a]
	}
	return out, nil
}

func TestCheckLinks(t *testing.T) {
	const short, long = time.Second, 2 * time.Second
	targets := []Target{{"n2", "10.0.0.2:7000"}, {"n3", "10.0.0.3:7000"}, {"n4", "10.0.0.4:7000"}, {"n5", "10.0.0.5:7000"}}
	cut := map[[2]string]bool{PairKey("n1", "n2"): true, PairKey("n1", "n3"): true}
	f := &fakeProbe{answers: map[time.Duration]map[string]ProbeOutcome{
		// n2 is cut and drops; n3 is cut but carries traffic; n4 is not
		// cut and drops at first, then connects; n5 is not cut and keeps
		// dropping.
		short: {"10.0.0.2:7000": ProbeDropped, "10.0.0.3:7000": ProbeOpen, "10.0.0.4:7000": ProbeDropped, "10.0.0.5:7000": ProbeDropped},
		long:  {"10.0.0.4:7000": ProbeOpen, "10.0.0.5:7000": ProbeDropped},
	}}
	ps, ok := CheckLinks("n1", targets, cut, true, short, long, f.probe)
	want := []string{"n1->n3 carries traffic across the partition", "n1->n5 drops traffic but is not cut"}
	if !ok || !reflect.DeepEqual(ps, want) {
		t.Errorf("CheckLinks = %q, %v; want %q, true", ps, ok, want)
	}
	if wantCalls := []string{"1s 10.0.0.2:7000,10.0.0.3:7000,10.0.0.4:7000,10.0.0.5:7000", "2s 10.0.0.4:7000,10.0.0.5:7000"}; !reflect.DeepEqual(f.calls, wantCalls) {
		t.Errorf("probes %q, want %q", f.calls, wantCalls)
	}

	// Without strictOpen a dropped open link gets no second chance.
	f.calls = nil
	ps, ok = CheckLinks("n1", targets, cut, false, short, long, f.probe)
	if want := []string{"n1->n3 carries traffic across the partition"}; !ok || !reflect.DeepEqual(ps, want) || len(f.calls) != 1 {
		t.Errorf("CheckLinks without strictOpen = %q, %v after %q", ps, ok, f.calls)
	}

	// A probe that could not run, and one that could not be made.
	f = &fakeProbe{answers: map[time.Duration]map[string]ProbeOutcome{short: {"10.0.0.2:7000": ProbeFailed}}}
	ps, ok = CheckLinks("n1", targets[:1], nil, true, short, long, f.probe)
	if want := []string{"probe n1->n2 could not run"}; !ok || !reflect.DeepEqual(ps, want) {
		t.Errorf("CheckLinks with a failed probe = %q, %v", ps, ok)
	}
	f = &fakeProbe{fail: map[time.Duration]error{long: errors.New("container paused")},
		answers: map[time.Duration]map[string]ProbeOutcome{short: {"10.0.0.2:7000": ProbeDropped}}}
	ps, ok = CheckLinks("n1", targets[:1], nil, true, short, long, f.probe)
	if want := []string{"probe from n1: container paused"}; ok || !reflect.DeepEqual(ps, want) {
		t.Errorf("CheckLinks with a second probe failing = %q, %v", ps, ok)
	}
}
