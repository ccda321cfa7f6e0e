// Package netfilter holds what the container providers run in a node's
// network namespace to cut and degrade links: the iptables chains and the
// shell scripts that set them up, fill them, report on them, probe links
// and tear them down, the rule sets they install, the parsers of what the
// scripts print, and the two steps both providers build on them:
// installing a rule set (Install) and checking a node's links against
// the partition (CheckLinks). The docker provider runs the scripts in the
// node's own container; the compose provider in a container of its own
// that shares the node's network namespace. Both need a POSIX sh,
// iptables (with iptables-restore and the statistic match) and, for the
// probe, bash and timeout(1).
package netfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// The iptables chains each node's network namespace gets. Both hang off
// INPUT and ChainPartition also off OUTPUT, so emptying a chain removes
// its fault and leaves the other alone.
const (
	// ChainPartition holds the DROP rules of a partition: from and to each
	// peer the node cannot reach.
	ChainPartition = "FAULTLINE"
	// ChainLoss holds the random DROP rules of packet loss: from each peer.
	ChainLoss = "FAULTLINE_LOSS"
)

// Environment variables the scripts below read.
const (
	// EnvRules holds RestoreScript's iptables-restore input.
	EnvRules = "FAULTLINE_RULES"
	// EnvProbeTimeout holds ProbeScript's timeout, in seconds (Seconds).
	EnvProbeTimeout = "FAULTLINE_PROBE_TIMEOUT"
)

// SetupScript creates the chains and the jumps to them; it is idempotent,
// so it may run again in a namespace that already has them.
const SetupScript = `set -e
iptables -w 5 -N ` + ChainPartition + ` 2>/dev/null || true
iptables -w 5 -N ` + ChainLoss + ` 2>/dev/null || true
iptables -w 5 -C INPUT -j ` + ChainPartition + ` 2>/dev/null || iptables -w 5 -I INPUT 1 -j ` + ChainPartition + `
iptables -w 5 -C INPUT -j ` + ChainLoss + ` 2>/dev/null || iptables -w 5 -I INPUT 2 -j ` + ChainLoss + `
iptables -w 5 -C OUTPUT -j ` + ChainPartition + ` 2>/dev/null || iptables -w 5 -I OUTPUT 1 -j ` + ChainPartition + `
`

// RestoreScript replaces the content of both chains at once with the rules
// in $FAULTLINE_RULES (iptables-restore applies a table in one
// transaction, so no packet sees a half-written rule set), then prints
// "rules <partition rules> <loss rules>" so the caller can check the count
// (ParseCounts).
const RestoreScript = `set -e
printf '%s\n' "$` + EnvRules + `" | iptables-restore --noflush
p=$(iptables -w 5 -S ` + ChainPartition + ` | grep -c -- '^-A' || true)
l=$(iptables -w 5 -S ` + ChainLoss + ` | grep -c -- '^-A' || true)
echo "rules $p $l"
`

// StateScript prints what a heal must have removed: the rule counts of
// both chains ("rules P L", ParseCounts; a chain that does not exist
// counts 0) and whether the interface eth0 has a netem qdisc ("netem N").
const StateScript = `p=$(iptables -w 5 -S ` + ChainPartition + ` 2>/dev/null | grep -c -- '^-A' || true)
l=$(iptables -w 5 -S ` + ChainLoss + ` 2>/dev/null | grep -c -- '^-A' || true)
q=$(tc qdisc show dev eth0 2>/dev/null | grep -c netem || true)
echo "rules $p $l"
echo "netem $q"
`

// TeardownScript removes every trace of SetupScript: the jumps from INPUT
// and OUTPUT to both chains (every copy of them), then the chains, emptied
// first. It is idempotent: a namespace without them is left as it is. It
// then prints "left N", N being the number of lines of iptables -S that
// still name one of the chains (ParseLeft): 0 when the namespace is as it
// was before SetupScript.
const TeardownScript = `for c in ` + ChainPartition + ` ` + ChainLoss + `; do
  while iptables -w 5 -D INPUT -j "$c" 2>/dev/null; do :; done
  while iptables -w 5 -D OUTPUT -j "$c" 2>/dev/null; do :; done
  iptables -w 5 -F "$c" 2>/dev/null || true
  iptables -w 5 -X "$c" 2>/dev/null || true
done
n=$(iptables -w 5 -S | grep -c -e '` + ChainPartition + `' || true)
echo "left $n"
`

// ProbeScript tries, in parallel, a TCP connection to each IP:PORT
// argument, each within $FAULTLINE_PROBE_TIMEOUT seconds, and prints one
// line per target: "IP:PORT STATUS", STATUS being bash's exit status (0
// connected, 124 timed out, anything else refused or failed). Run it with
// bash -c ProbeScript probe TARGET...; ParseProbes reads its output.
const ProbeScript = `for t in "$@"; do
  ( timeout "$` + EnvProbeTimeout + `" bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}"' "$t" 2>/dev/null; echo "$t $?" ) &
done
wait
`

// Rules is the desired content of both chains in one node.
type Rules struct {
	// Cut lists the addresses the node drops all traffic from and to.
	Cut []netip.Addr
	// Lossy lists the addresses the node drops packets from at random.
	Lossy []netip.Addr
	// Loss is the drop probability for Lossy; 0 installs no loss rule.
	Loss float64
}

// RestoreInput renders r in iptables-restore format, for RestoreScript.
// Declaring a chain that exists empties it, even with --noflush.
func (r Rules) RestoreInput() string {
	var b strings.Builder
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", ChainPartition, ChainLoss)
	for _, ip := range r.Cut {
		fmt.Fprintf(&b, "-A %s -s %s -j DROP\n", ChainPartition, hostPrefix(ip))
		fmt.Fprintf(&b, "-A %s -d %s -j DROP\n", ChainPartition, hostPrefix(ip))
	}
	if r.Loss > 0 {
		for _, ip := range r.Lossy {
			fmt.Fprintf(&b, "-A %s -s %s -m statistic --mode random --probability %s -j DROP\n",
				ChainLoss, hostPrefix(ip), formatProbability(r.Loss))
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// Counts returns how many rules each chain holds once r is installed.
func (r Rules) Counts() (partition, loss int) {
	partition = 2 * len(r.Cut)
	if r.Loss > 0 {
		loss = len(r.Lossy)
	}
	return partition, loss
}

func hostPrefix(ip netip.Addr) string {
	return netip.PrefixFrom(ip, ip.BitLen()).String()
}

// formatProbability renders p for the statistic match, which reads a
// decimal fraction.
func formatProbability(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64)
}

// ParseCounts reads the "rules P L" line RestoreScript and StateScript
// print.
func ParseCounts(out string) (partition, loss int, err error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "rules" {
			p, err1 := strconv.Atoi(f[1])
			l, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				return p, l, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no rule counts in %q", OneLine(out))
}

// ParseLeft reads the "left N" line TeardownScript prints.
func ParseLeft(out string) (int, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "left" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no count of rules left in %q", OneLine(out))
}

// CutPairs returns the set of unordered node pairs g cuts; a pair is cut
// when either node names the other.
func CutPairs(g nemesis.Grudge) map[[2]string]bool {
	out := map[[2]string]bool{}
	for a, bs := range g {
		for _, b := range bs {
			out[PairKey(a, b)] = true
		}
	}
	return out
}

// PairKey returns the key of the unordered pair a, b in CutPairs' set.
func PairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// CutPeers returns, in the order of names, the nodes that node may not
// exchange traffic with under the cut pairs.
func CutPeers(cut map[[2]string]bool, names []string, node string) []string {
	var out []string
	for _, n := range names {
		if n != node && cut[PairKey(node, n)] {
			out = append(out, n)
		}
	}
	return out
}

// ProbeOutcome is what one probe found.
type ProbeOutcome int

// The outcomes of a probe.
const (
	ProbeOpen    ProbeOutcome = iota // connected, or refused: packets flow
	ProbeDropped                     // timed out: packets are dropped
	ProbeFailed                      // the probe itself could not run
)

func (o ProbeOutcome) String() string {
	switch o {
	case ProbeOpen:
		return "open"
	case ProbeDropped:
		return "dropped"
	}
	return "probe failed"
}

// ParseProbes reads ProbeScript's output into an outcome per target.
// Exit status 124 is timeout's own; 125 to 127 mean timeout or bash could
// not run; any other failure (refused, unreachable at once) shows the
// packets flowing. A target without a line is an error.
func ParseProbes(out string, targets []string) (map[string]ProbeOutcome, error) {
	got := map[string]ProbeOutcome{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch {
		case code == 124:
			got[f[0]] = ProbeDropped
		case code >= 125 && code <= 127:
			got[f[0]] = ProbeFailed
		default:
			got[f[0]] = ProbeOpen
		}
	}
	for _, t := range targets {
		if _, ok := got[t]; !ok {
			return got, fmt.Errorf("no probe result for %s in %q", t, OneLine(out))
		}
	}
	return got, nil
}

// Seconds renders d for timeout(1), as EnvProbeTimeout wants it.
func Seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// OneLine joins s's fields with single spaces.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
