package checkers

import (
	"slices"
	"sort"
	"testing"
)

func TestNaturalLess(t *testing.T) {
	keys := []string{"k10", "k2", "b", "k1", "a10", "a9", "k02", "k", ""}
	sort.Slice(keys, func(i, j int) bool { return NaturalLess(keys[i], keys[j]) })
	want := []string{"", "a9", "a10", "b", "k", "k1", "k2", "k02", "k10"}
	if !slices.Equal(keys, want) {
		t.Errorf("sorted %q, want %q", keys, want)
	}
}

func TestVisualizationName(t *testing.T) {
	used := map[string]bool{}
	for _, c := range []struct{ key, want string }{
		{"k1", "linearizability-k1.html"},
		{"a/b c", "linearizability-a_b_c.html"},
		{"a_b_c", "linearizability-a_b_c-2.html"},
		{"K1", "linearizability-K1-2.html"},
	} {
		if got := visualizationName(c.key, used); got != c.want {
			t.Errorf("visualizationName(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}
