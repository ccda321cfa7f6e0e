package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads/transfer"
)

// TestBlockingTable: the blocking checker's figures, read back from
// results.json, are drawn as a table with a row per fault window, one
// for the time outside them and a total; other checkers get none.
func TestBlockingTable(t *testing.T) {
	d := transfer.BlockingDetails{InDoubt: 12, LongestInDoubtMs: 3104.2, P99InDoubtMs: 20, Stuck: 3, Refused: 7, LongestOpMs: 3150,
		Windows: []transfer.WindowBlocking{
			{Window: checkers.Window{Fault: "kill", Start: 3e9, End: 6e9}, InDoubt: 5, LongestInDoubtMs: 3104.2, MedianInDoubtMs: 3001, Stuck: 3, Refused: 7, LongestOpMs: 3150},
			{Window: checkers.Window{Fault: "none"}, InDoubt: 7, LongestInDoubtMs: 4, MedianInDoubtMs: 2, LongestOpMs: 30},
		}}
	b, _ := json.Marshal(d)
	var asRead any
	json.Unmarshal(b, &asRead)
	tb := blockingTable(asRead)
	if tb == nil || len(tb.Rows) != 3 {
		t.Fatalf("table %+v; want 3 rows", tb)
	}
	if got := strings.Join(tb.Rows[0], "|"); got != "kill|3.0 s – 6.0 s|5|3.104s|3.001s|3|7|3.15s" {
		t.Errorf("kill row %s", got)
	}
	if got := strings.Join(tb.Rows[1], "|"); got != "none|outside every window|7|4ms|2ms|0|0|30ms" {
		t.Errorf("outside row %s", got)
	}
	if got := strings.Join(tb.Rows[2], "|"); got != "all||12|3.104s|p99 20ms|3|7|3.15s" {
		t.Errorf("total row %s", got)
	}
	if blockingTable(map[string]any{"keys": 4}) != nil {
		t.Error("a table from other details")
	}

	r := makeRun(t)
	res := runfolder.NewResults(nil, []core.CheckResult{{Checker: transfer.BlockingChecker, Verdict: core.Valid, Summary: "measured", Details: d}})
	if err := r.WriteResults(res); err != nil {
		t.Fatal(err)
	}
	page := readReport(t, r.Dir)
	for _, want := range []string{`<table class="figures"><caption>Blocking per fault window`, `<td>3.0 s – 6.0 s</td>`, `<td>outside every window</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
