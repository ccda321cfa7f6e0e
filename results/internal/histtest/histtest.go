// Package histtest builds histories for the tests and benchmarks of the
// results packages.
package histtest

import (
	"strconv"

	"github.com/faultline/faultline/core"
)

// Register builds a register-workload history of n events: ten
// processes, writes, reads and cas over ten keys, some failures and
// timeouts, and a partition every 50,000 events.
func Register(n int) core.History {
	h := make(core.History, 0, n)
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	grudge := map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
	t := int64(0)
	for op := 0; len(h) < n; op++ {
		t += 1500
		if op%25000 == 0 {
			f, v := "start-partition", any(map[string]any{"grudge": grudge})
			if op%50000 != 0 {
				f, v = "stop-partition", nil
			}
			h = append(h, core.Event{Index: len(h), Time: t, Process: -1, Op: core.Op{Type: core.Info, F: f, Value: v}})
			continue
		}
		p := op % 10
		key := keys[(op/10)%10]
		var inv, comp core.Op
		switch op % 3 {
		case 0:
			inv = core.Op{Type: core.Invoke, F: "write", Key: key, Value: int64(op)}
			comp = inv
			comp.Type = core.OK
		case 1:
			inv = core.Op{Type: core.Invoke, F: "read", Key: key}
			comp = inv
			comp.Type = core.OK
			comp.Value = int64(op - 1)
		default:
			inv = core.Op{Type: core.Invoke, F: "cas", Key: key, Value: [2]int64{int64(op - 2), int64(op)}}
			comp = inv
			comp.Type = core.Fail
		}
		if op%97 == 0 {
			comp.Type = core.Info
			comp.Error = "timeout after 1s"
		}
		comp.Node = nodes[op%5]
		h = append(h, core.Event{Index: len(h), Time: t, Process: p, Op: inv})
		if len(h) < n {
			h = append(h, core.Event{Index: len(h), Time: t + 700, Process: p, Op: comp})
		}
	}
	return h
}
