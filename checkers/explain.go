package checkers

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/core"
)

// sweepBudget bounds the configurations the exact explanation explores
// before it settles for porcupine's partial linearizations.
const sweepBudget = 1 << 18

// stuckPoint is where a key's history stops being linearizable: the first
// operation that must have taken effect by its return but cannot, and the
// states the key can hold while it is in flight.
type stuckPoint struct {
	op int // index into the key's operations
	// states are the distinct states of the key; writers[i] is the
	// operation that set states[i], or -1 for the initial state.
	states  []any
	writers []int
	// exact is true when states holds every state that any order
	// consistent with real time reaches there, not only a sample.
	exact bool
}

// explain describes why key j is not linearizable.
func explain(ctx context.Context, m Model, j *keyJob, info porcupine.LinearizationInfo) core.Anomaly {
	sp, ok := sweep(ctx, m, j.pops, sweepBudget)
	if !ok {
		sp, ok = fromPartials(m, j.pops, info)
	}
	if !ok {
		var events []int
		for _, op := range j.ops {
			events = append(events, op.Events()...)
		}
		sort.Ints(events)
		return core.Anomaly{
			Kind:        NonlinearizableKind,
			Key:         j.key,
			Description: fmt.Sprintf("key %s: no order of its operations consistent with real time is valid", j.key),
			Events:      events,
		}
	}
	return describeStuck(m, j, sp)
}

// describeStuck phrases the anomaly of key j from its stuck point.
func describeStuck(m Model, j *keyJob, sp stuckPoint) core.Anomaly {
	// Name the states in natural order of their descriptions.
	order := make([]int, len(sp.states))
	names := make([]string, len(sp.states))
	for i, s := range sp.states {
		order[i], names[i] = i, m.DescribeState(s)
	}
	sort.SliceStable(order, func(a, b int) bool { return NaturalLess(names[order[a]], names[order[b]]) })

	involved := map[int]bool{sp.op: true}
	for _, i := range order[:min(len(order), 5)] {
		if w := sp.writers[i]; w >= 0 {
			involved[w] = true
		}
	}
	var events []int
	for id := range involved {
		events = append(events, j.ops[id].Events()...)
	}
	sort.Ints(events)

	op, pop := j.ops[sp.op], j.pops[sp.op]
	when := fmt.Sprintf("%s–%s", formatSeconds(op.Start), formatSeconds(op.End))
	if op.Type == core.Info {
		when = fmt.Sprintf("from %s, outcome unknown", formatSeconds(op.Start))
	}
	words := make([]string, 0, min(len(sp.states), 6))
	for n, i := range order {
		if n == 5 {
			words = append(words, fmt.Sprintf("%d other values", len(order)-5))
			break
		}
		words = append(words, names[i])
	}
	var body string
	switch {
	case sp.exact:
		body = fmt.Sprintf("%s (process %d, %s), but in every order consistent with real time %s is %s while it runs",
			m.DescribeOperation(pop.Input, pop.Output), op.Process, when, j.key, joinOr(words))
	default:
		body = fmt.Sprintf("%s (process %d, %s), but no order consistent with real time allows it; in the longest orders found %s is %s there",
			m.DescribeOperation(pop.Input, pop.Output), op.Process, when, j.key, joinOr(words))
	}
	return core.Anomaly{Kind: NonlinearizableKind, Key: j.key, Description: "key " + j.key + ": " + body, Events: events}
}

// sweepConfig is one way the key's history can have unfolded so far: the
// state reached, the operations still in flight that have already taken
// effect (ascending), and the operation that last changed the state.
type sweepConfig struct {
	state any
	lin   []int
	last  int
}

type sweepKey struct {
	state any
	lin   string
}

func (c sweepConfig) key() sweepKey {
	b := make([]byte, 0, 3*len(c.lin))
	for _, id := range c.lin {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return sweepKey{state: c.state, lin: string(b)}
}

// sweep walks the operations in real-time order keeping every
// configuration the key can be in (in the manner of Knossos' linear
// checker) and returns the first operation that no configuration can
// apply before its return, with every state the key can hold while that
// operation is in flight. ok is false when the search exceeds budget, ctx
// is done, or every operation can be placed.
func sweep(ctx context.Context, m Model, pops []porcupine.Operation, budget int) (stuckPoint, bool) {
	type entry struct {
		t   int64
		ret bool
		id  int
	}
	entries := make([]entry, 0, 2*len(pops))
	for id, p := range pops {
		entries = append(entries, entry{p.Call, false, id})
		if p.Return != math.MaxInt64 {
			entries = append(entries, entry{p.Return, true, id})
		}
	}
	sort.Slice(entries, func(a, b int) bool {
		ea, eb := entries[a], entries[b]
		if ea.t != eb.t {
			return ea.t < eb.t
		}
		if ea.ret != eb.ret {
			return !ea.ret // calls first: intervals are closed
		}
		return ea.id < eb.id
	})

	configs := []sweepConfig{{state: m.Init(), last: -1}}
	var open []int // called and not returned
	work := 0
	for _, e := range entries {
		if !e.ret {
			open = append(open, e.id)
			continue
		}
		var next, visited []sweepConfig
		nextSeen := make(map[sweepKey]bool)
		seen := make(map[sweepKey]bool)
		stack := make([]sweepConfig, 0, len(configs))
		for _, c := range configs {
			if k := c.key(); !seen[k] {
				seen[k] = true
				stack = append(stack, c)
			}
		}
		addNext := func(c sweepConfig) {
			if k := c.key(); !nextSeen[k] {
				nextSeen[k] = true
				next = append(next, c)
			}
		}
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if work++; work > budget || (work%1024 == 0 && ctx.Err() != nil) {
				return stuckPoint{}, false
			}
			if i, found := slices.BinarySearch(c.lin, e.id); found {
				// Already took effect: it leaves the in-flight set.
				addNext(sweepConfig{state: c.state, lin: slices.Delete(slices.Clone(c.lin), i, i+1), last: c.last})
				continue
			}
			visited = append(visited, c)
			for _, id := range open {
				if _, found := slices.BinarySearch(c.lin, id); found {
					continue
				}
				legal, ns := m.Step(c.state, pops[id].Input, pops[id].Output)
				if !legal {
					continue
				}
				last := c.last
				if ns != c.state {
					last = id
				}
				if id == e.id {
					addNext(sweepConfig{state: ns, lin: c.lin, last: last})
					continue
				}
				lin := slices.Clone(c.lin)
				at, _ := slices.BinarySearch(lin, id)
				nc := sweepConfig{state: ns, lin: slices.Insert(lin, at, id), last: last}
				if k := nc.key(); !seen[k] {
					seen[k] = true
					stack = append(stack, nc)
				}
			}
		}
		if len(next) == 0 {
			sp := stuckPoint{op: e.id, exact: true}
			for _, c := range visited {
				if !slices.Contains(sp.states, c.state) {
					sp.states = append(sp.states, c.state)
					sp.writers = append(sp.writers, c.last)
				}
			}
			return sp, true
		}
		configs = next
		if i := slices.Index(open, e.id); i >= 0 {
			open = slices.Delete(open, i, i+1)
		}
	}
	return stuckPoint{}, false
}

// fromPartials finds the stuck point from porcupine's partial
// linearizations. Each of them got stuck at the earliest-returning
// operation it does not contain; the one that got furthest names the
// operation, and the states of those that got that far are a sample of
// what the key could hold there.
func fromPartials(m Model, pops []porcupine.Operation, info porcupine.LinearizationInfo) (stuckPoint, bool) {
	n := len(pops)
	byReturn := make([]int, n)
	for i := range byReturn {
		byReturn[i] = i
	}
	sort.SliceStable(byReturn, func(a, b int) bool { return pops[byReturn[a]].Return < pops[byReturn[b]].Return })

	var candidates [][]int
	if p := info.PartialLinearizations(); len(p) > 0 {
		candidates = p[0]
	}
	candidates = append(candidates, nil) // the empty order always exists
	stamp := make([]int, n)
	best := -1
	var atBest [][]int
	for gen, p := range candidates {
		for _, id := range p {
			if id >= 0 && id < n {
				stamp[id] = gen + 1
			}
		}
		pos := 0
		for pos < n && stamp[byReturn[pos]] == gen+1 {
			pos++
		}
		if pos == n || pops[byReturn[pos]].Return == math.MaxInt64 {
			continue
		}
		if pos > best {
			best, atBest = pos, atBest[:0]
		}
		if pos == best {
			atBest = append(atBest, p)
		}
	}
	if best < 0 {
		return stuckPoint{}, false
	}
	sp := stuckPoint{op: byReturn[best]}
	for _, p := range atBest {
		state, last, ok := replay(m, pops, p)
		if ok && !slices.Contains(sp.states, state) {
			sp.states = append(sp.states, state)
			sp.writers = append(sp.writers, last)
		}
	}
	return sp, len(sp.states) > 0
}

// replay applies the operations of p in order from m's initial state and
// returns the final state and the last operation that changed the state
// (-1 if none). ok is false if p is not a valid order.
func replay(m Model, pops []porcupine.Operation, p []int) (state any, last int, ok bool) {
	state, last = m.Init(), -1
	for _, id := range p {
		if id < 0 || id >= len(pops) {
			return nil, -1, false
		}
		legal, next := m.Step(state, pops[id].Input, pops[id].Output)
		if !legal {
			return nil, -1, false
		}
		if next != state {
			last = id
		}
		state = next
	}
	return state, last, true
}
