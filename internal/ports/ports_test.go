package ports

import (
	"net"
	"strconv"
	"testing"
)

func TestReserveOutsideEphemeralRange(t *testing.T) {
	lo, hi := ephemeralRange()
	ps, err := Reserve(8)
	if err != nil {
		t.Fatal(err)
	}
	defer Release(ps)
	seen := map[int]bool{}
	for _, p := range ps {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if lo-1-lowestNodePort >= 64*8 && p >= lo && p <= hi {
			t.Fatalf("port %d lies in the ephemeral range %d-%d", p, lo, hi)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("reserved port %d cannot be bound: %v", p, err)
		}
		ln.Close()
	}
	// Reserved ports are not handed out again until released.
	more, err := Reserve(8)
	if err != nil {
		t.Fatal(err)
	}
	defer Release(more)
	for _, p := range more {
		if seen[p] {
			t.Fatalf("port %d handed out while still reserved", p)
		}
	}
}
