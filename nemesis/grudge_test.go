package nemesis_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/nemesis"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// checkWellFormed checks what every grudge must satisfy: every node is a
// key, only known nodes appear, no node holds a grudge against itself or
// twice against another, and the grudge is symmetric.
func checkWellFormed(t *testing.T, nodes []string, g nemesis.Grudge) {
	t.Helper()
	if len(g) != len(nodes) {
		t.Errorf("grudge has %d keys for %d nodes: %v", len(g), len(nodes), g)
	}
	for _, n := range nodes {
		if _, ok := g[n]; !ok {
			t.Errorf("node %s missing from %v", n, g)
		}
	}
	for a, bs := range g {
		if !slices.Contains(nodes, a) {
			t.Errorf("unknown node %s in %v", a, g)
		}
		seen := map[string]bool{}
		for _, b := range bs {
			if b == a || !slices.Contains(nodes, b) || seen[b] {
				t.Errorf("bad entry %s in grudge of %s: %v", b, a, g)
			}
			seen[b] = true
			if !slices.Contains(g[b], a) {
				t.Errorf("not symmetric: %s cannot reach %s but %s can reach %s: %v", a, b, b, a, g)
			}
		}
	}
}

// reach returns the nodes a can reach, itself included.
func reach(nodes []string, g nemesis.Grudge, a string) []string {
	var out []string
	for _, b := range nodes {
		if !slices.Contains(g[a], b) {
			out = append(out, b)
		}
	}
	return out
}

func cuts(g nemesis.Grudge) int {
	k := 0
	for _, v := range g {
		k += len(v)
	}
	return k
}

func TestBisect(t *testing.T) {
	for n := 0; n <= 7; n++ {
		a, b := nemesis.Bisect(names(n))
		if len(a) != n/2 || len(b) != n-n/2 || !slices.Equal(append(slices.Clone(a), b...), names(n)) {
			t.Errorf("Bisect(%d) = %v, %v", n, a, b)
		}
		// The first half is capped: appending to it must not overwrite the second.
		if n >= 2 {
			before := slices.Clone(b)
			_ = append(a, "x")
			if !slices.Equal(b, before) {
				t.Errorf("appending to the first half of %d nodes changed the second", n)
			}
		}
	}
}

func TestHalves(t *testing.T) {
	for n := 1; n <= 9; n++ {
		nodes := names(n)
		g := nemesis.Halves(nodes)
		checkWellFormed(t, nodes, g)
		a, b := nemesis.Bisect(nodes)
		for _, x := range a {
			if !slices.Equal(g[x], b) {
				t.Errorf("n=%d: %s cuts %v, want the other half %v", n, x, g[x], b)
			}
		}
		for _, x := range b {
			if !slices.Equal(g[x], a) {
				t.Errorf("n=%d: %s cuts %v, want the other half %v", n, x, g[x], a)
			}
		}
	}
}

func TestIsolate(t *testing.T) {
	for n := 2; n <= 7; n++ {
		nodes := names(n)
		for _, lone := range nodes {
			g := nemesis.Isolate(nodes, lone)
			checkWellFormed(t, nodes, g)
			if got := reach(nodes, g, lone); !slices.Equal(got, []string{lone}) {
				t.Errorf("isolated %s reaches %v", lone, got)
			}
			for _, x := range nodes {
				if x != lone && !slices.Equal(g[x], []string{lone}) {
					t.Errorf("n=%d isolate %s: %s cuts %v, want only %s", n, lone, x, g[x], lone)
				}
			}
		}
	}
}

func TestMajoritiesRing(t *testing.T) {
	for n := 1; n <= 11; n++ {
		nodes := names(n)
		g := nemesis.MajoritiesRing(nodes)
		checkWellFormed(t, nodes, g)
		majority := n/2 + 1
		views := map[string]string{}
		for _, a := range nodes {
			r := reach(nodes, g, a)
			if len(r) < majority {
				t.Errorf("n=%d: %s reaches %v, not a majority", n, a, r)
			}
			if n >= 4 {
				key := fmt.Sprint(r)
				if other, ok := views[key]; ok {
					t.Errorf("n=%d: %s and %s see the same nodes %v", n, a, other, r)
				}
				views[key] = a
			}
		}
		if n >= 4 && cuts(g) == 0 {
			t.Errorf("n=%d: ring cuts nothing", n)
		}
		if n < 4 && cuts(g) != 0 {
			t.Errorf("n=%d: ring cuts %v", n, g)
		}
	}
	// The five-node ring: each node sees itself and its two neighbours.
	g := nemesis.MajoritiesRing(names(5))
	if want := []string{"n3", "n4"}; !slices.Equal(g["n1"], want) {
		t.Errorf("5-node ring: n1 cuts %v, want %v", g["n1"], want)
	}
}

func TestBridge(t *testing.T) {
	for n := 3; n <= 9; n++ {
		nodes := names(n)
		g := nemesis.Bridge(nodes)
		checkWellFormed(t, nodes, g)
		a, b := nemesis.Bisect(nodes)
		bridge, rest := b[0], b[1:]
		if len(g[bridge]) != 0 {
			t.Errorf("n=%d: bridge %s cuts %v", n, bridge, g[bridge])
		}
		for _, x := range a {
			if !slices.Equal(g[x], rest) {
				t.Errorf("n=%d: %s cuts %v, want %v", n, x, g[x], rest)
			}
		}
		for _, x := range rest {
			if !slices.Equal(g[x], a) {
				t.Errorf("n=%d: %s cuts %v, want %v", n, x, g[x], a)
			}
		}
		if cuts(g) == 0 {
			t.Errorf("n=%d: bridge cuts nothing", n)
		}
	}
	for n := 1; n <= 2; n++ {
		if g := nemesis.Bridge(names(n)); cuts(g) != 0 || len(g) != n {
			t.Errorf("Bridge of %d nodes = %v, want nothing cut", n, g)
		}
	}
}

func TestComplete(t *testing.T) {
	g := nemesis.Complete([]string{"a"}, []string{"b", "c"}, []string{"d"})
	checkWellFormed(t, []string{"a", "b", "c", "d"}, g)
	if !slices.Equal(g["b"], []string{"a", "d"}) || len(g["a"]) != 3 {
		t.Errorf("Complete = %v", g)
	}
}

func TestGrudgeSplit(t *testing.T) {
	known := func(n string) error {
		if n == "n9" {
			return errors.New("unknown node n9")
		}
		return nil
	}
	g := nemesis.Grudge{nemesis.Clients: {"n1"}, "n1": {nemesis.Clients, "n2"}, "n2": {"n1"}}
	clients, nodes, err := g.Split(known)
	slices.Sort(clients)
	if err != nil || !slices.Equal(clients, []string{"n1", "n1"}) || !slices.Equal(nodes["n1"], []string{"n2"}) ||
		!slices.Equal(nodes["n2"], []string{"n1"}) || len(nodes) != 2 {
		t.Fatalf("Split = %v, %v, %v", clients, nodes, err)
	}
	if _, _, err := (nemesis.Grudge{"n1": {"n9"}}).Split(known); err == nil {
		t.Error("an unknown node was accepted")
	}
	if _, _, err := (nemesis.Grudge{"n1": {"n1"}}).Split(known); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("a node cut from itself: %v", err)
	}
}
