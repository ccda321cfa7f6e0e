package netfilter

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseLeft(t *testing.T) {
	if n, err := ParseLeft("left 0\n"); err != nil || n != 0 {
		t.Errorf("ParseLeft: %d %v", n, err)
	}
	if n, err := ParseLeft("iptables: warning\nleft 3\n"); err != nil || n != 3 {
		t.Errorf("ParseLeft after a warning: %d %v", n, err)
	}
	if _, err := ParseLeft("iptables: Permission denied (you must be root)\n"); err == nil {
		t.Error("ParseLeft accepted output without a count")
	}
}

func TestTeardownUndoesSetup(t *testing.T) {
	// Every jump SetupScript inserts, TeardownScript deletes; both chains
	// are emptied and removed; the count looks for both names.
	for _, want := range []string{
		"-D INPUT -j \"$c\"", "-D OUTPUT -j \"$c\"", "-F \"$c\"", "-X \"$c\"",
		"for c in " + ChainPartition + " " + ChainLoss + ";", "grep -c -e '" + ChainPartition + "'",
	} {
		if !strings.Contains(TeardownScript, want) {
			t.Errorf("TeardownScript lacks %q", want)
		}
	}
	for _, jump := range []string{"-I INPUT 1 -j " + ChainPartition, "-I INPUT 2 -j " + ChainLoss, "-I OUTPUT 1 -j " + ChainPartition} {
		if !strings.Contains(SetupScript, jump) {
			t.Errorf("SetupScript lacks %q", jump)
		}
	}
	r := Rules{Cut: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}
	if in := r.RestoreInput(); !strings.Contains(in, "-A FAULTLINE -s 10.0.0.2/32 -j DROP\n-A FAULTLINE -d 10.0.0.2/32 -j DROP\n") {
		t.Errorf("restore input %q", in)
	}
}
