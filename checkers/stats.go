package checkers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
)

// StatsName is the name of the Stats checker in results.
const StatsName = "stats"

// Stats judges whether a history says anything at all: a history in which
// no client operation succeeded is never valid, whatever the other
// checkers say, because a system that did nothing cannot be shown wrong.
// Its verdict is unknown when the history holds no client operation, when
// none completed, or when none completed ok; otherwise it is valid, and
// its summary names each f that never succeeded. The nemesis's events are
// not counted.
func Stats(h core.History) core.CheckResult {
	type count struct{ invoked, ok, fail, info int }
	byF := map[string]*count{}
	var all count
	for _, e := range h {
		if e.Process == core.NemesisProcess {
			continue
		}
		c := byF[e.F]
		if c == nil {
			c = &count{}
			byF[e.F] = c
		}
		switch e.Type {
		case core.Invoke:
			c.invoked++
			all.invoked++
		case core.OK:
			c.ok++
			all.ok++
		case core.Fail:
			c.fail++
			all.fail++
		default:
			c.info++
			all.info++
		}
	}
	res := core.CheckResult{Checker: StatsName, Verdict: core.Unknown}
	switch {
	case all.invoked == 0:
		res.Summary = "nothing to judge: the history holds no client operation"
	case all.ok+all.fail+all.info == 0:
		res.Summary = fmt.Sprintf("nothing to judge: none of the %d client operations completed", all.invoked)
	case all.ok == 0:
		res.Summary = fmt.Sprintf("nothing succeeded: none of the %d client operations returned ok (%d fail, %d info, %d never completed)",
			all.invoked, all.fail, all.info, all.invoked-all.fail-all.info)
	default:
		res.Verdict = core.Valid
		res.Summary = fmt.Sprintf("%d of %d client operations ok", all.ok, all.invoked)
		var none []string
		for f, c := range byF {
			if c.ok == 0 {
				none = append(none, f)
			}
		}
		if len(none) > 0 {
			slices.Sort(none)
			res.Summary += "; none ok: " + strings.Join(none, ", ")
		}
	}
	return res
}
