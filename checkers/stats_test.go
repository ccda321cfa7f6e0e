package checkers

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
)

func TestStats(t *testing.T) {
	inv := func(i, p int, f string) core.Event {
		return core.Event{Index: i, Process: p, Op: core.Op{Type: core.Invoke, F: f}}
	}
	done := func(i, p int, f string, typ core.Type) core.Event {
		return core.Event{Index: i, Process: p, Op: core.Op{Type: typ, F: f}}
	}
	nem := core.Event{Index: 0, Process: core.NemesisProcess, Op: core.Op{Type: core.Info, F: "start-kill"}}
	cases := []struct {
		name    string
		h       core.History
		verdict core.Verdict
		say     string
	}{
		{"empty", nil, core.Unknown, "holds no client operation"},
		{"nemesis only", core.History{nem}, core.Unknown, "holds no client operation"},
		{"only invocations", core.History{inv(0, 0, "read"), inv(1, 1, "write")}, core.Unknown, "none of the 2 client operations completed"},
		{"nothing ok", core.History{inv(0, 0, "read"), done(1, 0, "read", core.Fail), inv(2, 1, "read"), done(3, 1, "read", core.Info), inv(4, 2, "cas")},
			core.Unknown, "nothing succeeded: none of the 3 client operations returned ok (1 fail, 1 info, 1 never completed)"},
		{"one ok", core.History{nem, inv(1, 0, "read"), done(2, 0, "read", core.OK), inv(3, 1, "cas"), done(4, 1, "cas", core.Fail)},
			core.Valid, "1 of 2 client operations ok; none ok: cas"},
	}
	for _, c := range cases {
		res := Stats(c.h)
		if res.Checker != StatsName || res.Verdict != c.verdict || !strings.Contains(res.Summary, c.say) {
			t.Errorf("%s: %+v, want %s saying %q", c.name, res, c.verdict, c.say)
		}
	}
}
