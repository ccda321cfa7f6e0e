package docker

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// The iptables chains each node's network namespace gets. Both hang off
// INPUT and chainPartition also off OUTPUT, so emptying a chain removes
// its fault and leaves the other alone.
const (
	// chainPartition holds the DROP rules of a partition: from and to each
	// peer the node cannot reach.
	chainPartition = "FAULTLINE"
	// chainLoss holds the random DROP rules of packet loss: from each peer.
	chainLoss = "FAULTLINE_LOSS"
)

// Environment variables the scripts below read.
const (
	envRules        = "FAULTLINE_RULES"
	envProbeTimeout = "FAULTLINE_PROBE_TIMEOUT"
)

// setupScript creates the chains and the jumps to them; it is idempotent,
// so it may run again in a namespace that already has them.
const setupScript = `set -e
iptables -w 5 -N ` + chainPartition + ` 2>/dev/null || true
iptables -w 5 -N ` + chainLoss + ` 2>/dev/null || true
iptables -w 5 -C INPUT -j ` + chainPartition + ` 2>/dev/null || iptables -w 5 -I INPUT 1 -j ` + chainPartition + `
iptables -w 5 -C INPUT -j ` + chainLoss + ` 2>/dev/null || iptables -w 5 -I INPUT 2 -j ` + chainLoss + `
iptables -w 5 -C OUTPUT -j ` + chainPartition + ` 2>/dev/null || iptables -w 5 -I OUTPUT 1 -j ` + chainPartition + `
`

// restoreScript replaces the content of both chains at once with the rules
// in $FAULTLINE_RULES (iptables-restore applies a table in one
// transaction, so no packet sees a half-written rule set), then prints
// "rules <partition rules> <loss rules>" so the caller can check the count.
const restoreScript = `set -e
printf '%s\n' "$` + envRules + `" | iptables-restore --noflush
p=$(iptables -w 5 -S ` + chainPartition + ` | grep -c -- '^-A' || true)
l=$(iptables -w 5 -S ` + chainLoss + ` | grep -c -- '^-A' || true)
echo "rules $p $l"
`

// stateScript prints what a heal must have removed: the rule counts of
// both chains and whether the interface has a netem qdisc.
const stateScript = `p=$(iptables -w 5 -S ` + chainPartition + ` 2>/dev/null | grep -c -- '^-A' || true)
l=$(iptables -w 5 -S ` + chainLoss + ` 2>/dev/null | grep -c -- '^-A' || true)
q=$(tc qdisc show dev eth0 2>/dev/null | grep -c netem || true)
echo "rules $p $l"
echo "netem $q"
`

// probeScript tries, in parallel, a TCP connection to each IP:PORT
// argument, each within $FAULTLINE_PROBE_TIMEOUT seconds, and prints one
// line per target: "IP:PORT STATUS", STATUS being bash's exit status (0
// connected, 124 timed out, anything else refused or failed).
const probeScript = `for t in "$@"; do
  ( timeout "$` + envProbeTimeout + `" bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}"' "$t" 2>/dev/null; echo "$t $?" ) &
done
wait
`

// rules is the desired content of both chains in one node.
type rules struct {
	// cut lists the peer addresses the node drops all traffic from and to.
	cut []netip.Addr
	// lossy lists the peer addresses the node drops packets from at random.
	lossy []netip.Addr
	// loss is the drop probability for lossy.
	loss float64
}

// restoreInput renders r in iptables-restore format. Declaring a chain
// that exists empties it, even with --noflush.
func (r rules) restoreInput() string {
	var b strings.Builder
	b.WriteString("*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", chainPartition, chainLoss)
	for _, ip := range r.cut {
		fmt.Fprintf(&b, "-A %s -s %s -j DROP\n", chainPartition, hostPrefix(ip))
		fmt.Fprintf(&b, "-A %s -d %s -j DROP\n", chainPartition, hostPrefix(ip))
	}
	if r.loss > 0 {
		for _, ip := range r.lossy {
			fmt.Fprintf(&b, "-A %s -s %s -m statistic --mode random --probability %s -j DROP\n",
				chainLoss, hostPrefix(ip), formatProbability(r.loss))
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// counts returns how many rules each chain holds once r is installed.
func (r rules) counts() (partition, loss int) {
	partition = 2 * len(r.cut)
	if r.loss > 0 {
		loss = len(r.lossy)
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

// parseCounts reads the "rules P L" line the scripts print.
func parseCounts(out string) (partition, loss int, err error) {
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
	return 0, 0, fmt.Errorf("no rule counts in %q", oneLine(out))
}

// parseNetem reads the "netem N" line of stateScript.
func parseNetem(out string) (int, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "netem" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no netem count in %q", oneLine(out))
}

// cutPairs returns the set of unordered node pairs g cuts; a pair is cut
// when either node names the other.
func cutPairs(g nemesis.Grudge) map[[2]string]bool {
	out := map[[2]string]bool{}
	for a, bs := range g {
		for _, b := range bs {
			out[pairKey(a, b)] = true
		}
	}
	return out
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// cutPeers returns, in the order of names, the nodes that node may not
// exchange traffic with under the cut pairs.
func cutPeers(cut map[[2]string]bool, names []string, node string) []string {
	var out []string
	for _, n := range names {
		if n != node && cut[pairKey(node, n)] {
			out = append(out, n)
		}
	}
	return out
}

// probeOutcome is what one probe found.
type probeOutcome int

const (
	probeOpen    probeOutcome = iota // connected, or refused: packets flow
	probeDropped                     // timed out: packets are dropped
	probeFailed                      // the probe itself could not run
)

func (o probeOutcome) String() string {
	switch o {
	case probeOpen:
		return "open"
	case probeDropped:
		return "dropped"
	}
	return "probe failed"
}

// parseProbes reads probeScript's output into an outcome per target.
// Exit status 124 is timeout's own; 125 to 127 mean timeout or bash could
// not run; any other failure (refused, unreachable at once) shows the
// packets flowing.
func parseProbes(out string, targets []string) (map[string]probeOutcome, error) {
	got := map[string]probeOutcome{}
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
			got[f[0]] = probeDropped
		case code >= 125 && code <= 127:
			got[f[0]] = probeFailed
		default:
			got[f[0]] = probeOpen
		}
	}
	for _, t := range targets {
		if _, ok := got[t]; !ok {
			return got, fmt.Errorf("no probe result for %s in %q", t, oneLine(out))
		}
	}
	return got, nil
}

// seconds renders d for timeout(1).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// netemArgs returns the tc arguments that delay every packet leaving eth0
// by latency ± jitter (uniform).
func netemArgs(latency, jitter time.Duration) []string {
	args := []string{"tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", tcTime(latency)}
	if jitter > 0 {
		args = append(args, tcTime(jitter))
	}
	return args
}

// tcTime renders d in microseconds, which every tc version reads.
func tcTime(d time.Duration) string {
	return strconv.FormatInt(d.Microseconds(), 10) + "us"
}

// netemMissing reports whether tc's failure means that the kernel (or
// the image) cannot run netem, as opposed to some other failure, and
// describes why.
func netemMissing(res execResult) (string, bool) {
	msg := oneLine(res.Stderr + " " + res.Stdout)
	switch {
	case res.ExitCode == 127:
		return "tc is not installed in the node image", true
	case strings.Contains(msg, "Specified qdisc not found"),
		strings.Contains(msg, "Specified qdisc kind is unknown"),
		strings.Contains(msg, "Unknown qdisc"),
		strings.Contains(msg, "No such file or directory"),
		strings.Contains(msg, "Operation not supported"):
		return "the kernel has no netem qdisc (tc: " + msg + ")", true
	}
	return "", false
}

// oneLine joins s's fields with single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
