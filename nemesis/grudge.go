package nemesis

import (
	"slices"

	"github.com/faultline/faultline/core"
)

// The grudge builders below are pure functions over a list of node names,
// in the manner of Jepsen's nemesis: they choose nothing at random (callers
// shuffle the list first for a random shape). Every grudge they return is
// symmetric, names every node of the list as a key (a node that can reach
// every other has an empty list), and lists the nodes each one cannot reach
// in the order of the input list.

// Bisect splits nodes into two halves; when the count is odd the first half
// is the smaller one. The halves share the backing array of nodes.
func Bisect(nodes []string) (first, second []string) {
	k := len(nodes) / 2
	return nodes[:k:k], nodes[k:]
}

// Complete returns the grudge in which every node cannot reach any node
// outside its own component. Nodes in no component appear in no grudge.
func Complete(components ...[]string) Grudge {
	g := Grudge{}
	for i, comp := range components {
		for _, n := range comp {
			cut := []string{}
			for j, other := range components {
				if j != i {
					cut = append(cut, other...)
				}
			}
			g[n] = cut
		}
	}
	return g
}

// Halves cuts nodes into two halves (see Bisect) that cannot reach each
// other.
func Halves(nodes []string) Grudge {
	a, b := Bisect(nodes)
	return Complete(a, b)
}

// Isolate cuts node off from every other node of nodes; the others still
// reach one another. node should be one of nodes.
func Isolate(nodes []string, node string) Grudge {
	rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == node })
	return Complete([]string{node}, rest)
}

// MajoritiesRing places nodes on a ring, in order, and lets each node reach
// only the nodes within distance k of it on the ring, k being the smallest
// number for which that is a majority. Every node thus sees a majority
// (itself included), yet no two nodes see the same one. The window is
// symmetric, so the grudge is too; with an even count a node sees one node
// more than the bare majority. With fewer than four nodes every node
// reaches every other and the grudge cuts nothing.
func MajoritiesRing(nodes []string) Grudge {
	n := len(nodes)
	k := (n/2 + 1) / 2 // 2k+1 >= n/2+1
	g := Grudge{}
	for i, a := range nodes {
		cut := []string{}
		for j, b := range nodes {
			d := abs(i - j)
			if d > k && n-d > k {
				cut = append(cut, b)
			}
		}
		g[a] = cut
	}
	return g
}

// Bridge splits nodes into two halves (see Bisect) and lets the first node
// of the second half, the bridge, reach everyone, while the rest of the two
// halves cannot reach each other. With fewer than three nodes the grudge
// cuts nothing.
func Bridge(nodes []string) Grudge {
	a, b := Bisect(nodes)
	if len(b) == 0 {
		return Complete(a)
	}
	g := Complete(a, b[1:])
	g[b[0]] = []string{}
	return g
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// inOrder returns g with each list sorted by position in nodes, so that a
// grudge built from a shuffled list reads the same way as the cluster's
// node list.
func inOrder(g Grudge, nodes []string) Grudge {
	pos := map[string]int{}
	for i, n := range nodes {
		pos[n] = i
	}
	out := make(Grudge, len(g))
	for k, v := range g {
		v = slices.Clone(v)
		slices.SortFunc(v, func(a, b string) int { return pos[a] - pos[b] })
		out[k] = v
	}
	return out
}

// empty reports whether g cuts nothing.
func (g Grudge) empty() bool {
	for _, v := range g {
		if len(v) > 0 {
			return false
		}
	}
	return true
}

// Split checks g's names with known (which is not asked about Clients)
// and splits g in two: the nodes the clients are cut off from, and the
// node-to-node grudge left. A name known refuses, or a node whose grudge
// names itself, is an error and the rest is not returned.
func (g Grudge) Split(known func(node string) error) (clients []string, nodes Grudge, err error) {
	check := func(n string) error {
		if n == Clients {
			return nil
		}
		return known(n)
	}
	nodes = Grudge{}
	for a, bs := range g {
		if err := check(a); err != nil {
			return nil, nil, err
		}
		for _, b := range bs {
			if err := check(b); err != nil {
				return nil, nil, err
			}
			switch {
			case a == b:
				return nil, nil, core.BadInput("partition: the grudge of %s names %s itself", a, a)
			case a == Clients:
				clients = append(clients, b)
			case b == Clients:
				clients = append(clients, a)
			default:
				nodes[a] = append(nodes[a], b)
			}
		}
	}
	return clients, nodes, nil
}
