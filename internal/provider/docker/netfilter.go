package docker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/internal/provider/netfilter"
)

// The chains, scripts, rule sets and parsers of partitions and packet
// loss live in package netfilter, which the compose provider shares; what
// is here is the docker provider's own: latency with tc netem.

// parseNetem reads the "netem N" line of netfilter.StateScript.
func parseNetem(out string) (int, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "netem" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no netem count in %q", oneLine(out))
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
func netemMissing(res ExecResult) (string, bool) {
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
func oneLine(s string) string { return netfilter.OneLine(s) }
