package netfilter

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// Install replaces the content of a node's chains with r in one
// transaction and checks the rule counts. run runs a sh script, with env
// added, in the node's network namespace and returns what it printed; it
// fails unless the script exits 0. Install runs RestoreScript through it
// with r's input and returns an error wrapping nemesis.ErrNotApplied when
// the counts the script prints differ from r.Counts.
func Install(r Rules, run func(env []string, script string) (string, error)) error {
	out, err := run([]string{EnvRules + "=" + r.RestoreInput()}, RestoreScript)
	if err != nil {
		return fmt.Errorf("install iptables rules: %w", err)
	}
	p, l, err := ParseCounts(out)
	if err != nil {
		return fmt.Errorf("install iptables rules: %w", err)
	}
	if wp, wl := r.Counts(); p != wp || l != wl {
		return fmt.Errorf("%w: %d partition and %d loss rules installed, want %d and %d", nemesis.ErrNotApplied, p, l, wp, wl)
	}
	return nil
}

// Target is one link CheckLinks probes: the peer at its end and the
// address (host:port) a probe connects to.
type Target struct {
	Peer, Addr string
}

// CheckLinks probes, from inside node from, every link of targets and
// lists each one whose state differs from cut (pairs keyed by PairKey):
// a probe that could not run, a cut link that carries traffic, and, with
// strictOpen, a link that is not cut and drops traffic. probe tries a TCP
// connection to each address at once, each waiting up to timeout; every
// link is probed within short, and a link that is not cut but dropped
// gets a second chance within long (only with strictOpen). ok is false
// when a probe could not be made at all; its error is then the last
// problem listed.
func CheckLinks(from string, targets []Target, cut map[[2]string]bool, strictOpen bool, short, long time.Duration,
	probe func(addrs []string, timeout time.Duration) (map[string]ProbeOutcome, error)) (problems []string, ok bool) {
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var addrs []string
	peer := map[string]string{}
	for _, t := range targets {
		addrs = append(addrs, t.Addr)
		peer[t.Addr] = t.Peer
	}
	got, err := probe(addrs, short)
	if err != nil {
		add("probe from %s: %v", from, err)
		return problems, false
	}
	var again []string
	for _, t := range addrs {
		b := peer[t]
		switch wantCut := cut[PairKey(from, b)]; {
		case got[t] == ProbeFailed:
			add("probe %s->%s could not run", from, b)
		case wantCut && got[t] == ProbeOpen:
			add("%s->%s carries traffic across the partition", from, b)
		case !wantCut && got[t] == ProbeDropped:
			again = append(again, t)
		}
	}
	if len(again) == 0 || !strictOpen {
		return problems, true
	}
	got, err = probe(again, long)
	if err != nil {
		add("probe from %s: %v", from, err)
		return problems, false
	}
	for _, t := range again {
		if got[t] != ProbeOpen {
			add("%s->%s drops traffic but is not cut", from, peer[t])
		}
	}
	return problems, true
}
