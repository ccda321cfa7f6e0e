package faultline_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/history"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads/register"
)

// TestRunRecordsFigures: a short demo-kv run on local processes writes
// figures into results.json that count exactly the client operations
// invoked during the load phase (not the final reads after it), with the
// partitions' rows and the staleness of the register's reads; `faultline
// check` of the folder measures the same figures from history.jsonl.
func TestRunRecordsFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs are skipped with -short")
	}
	tt := faultline.DefaultTest()
	tt.TimeLimit = 3 * time.Second
	tt.NemesisInterval = 500 * time.Millisecond
	tt.Seed = 7
	tt.Results = t.TempDir()
	res, err := faultline.Run(context.Background(), tt)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := runfolder.ReadResults(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	fig := stored.Figures
	if fig == nil {
		t.Fatal("results.json has no figures")
	}
	h, err := history.ReadFile(res.Dir+"/"+runfolder.HistoryFile, register.Workload{}.DecodeValue)
	if err != nil {
		t.Fatal(err)
	}
	last := h[len(h)-1].Time
	if fig.LoadEndNS <= 0 || fig.LoadEndNS >= last {
		t.Fatalf("load_end_ns %d, want within the history (last event at %d)", fig.LoadEndNS, last)
	}
	var during, after, okDuring int
	for _, e := range h {
		if e.Process == core.NemesisProcess || e.Type != core.Invoke {
			continue
		}
		if e.Time <= fig.LoadEndNS {
			during++
		} else {
			after++
		}
	}
	if after == 0 {
		t.Error("no final read after load_end_ns: the cut is not tested")
	}
	all := fig.Availability[0]
	if all.Period != figures.All || all.Ops != during || all.DurationNS != fig.LoadEndNS {
		t.Errorf("all row %+v, want %d ops over %d ns", all, during, fig.LoadEndNS)
	}
	okDuring = all.OK
	if okDuring == 0 || all.P50NS <= 0 || all.P99NS < all.P50NS || all.OKPerSec <= 0 {
		t.Errorf("all row %+v: no successful operation measured", all)
	}
	if quiet := fig.Availability[1]; quiet.Period != figures.Quiet || quiet.DurationNS >= all.DurationNS {
		t.Errorf("quiet row %+v", quiet)
	}
	var partition *figures.Period
	sides := 0
	for i, p := range fig.Availability {
		if p.Period == "partition" && p.Side == "" {
			partition = &fig.Availability[i]
		}
		if p.Side != "" {
			sides += p.Ops
		}
	}
	if partition == nil || partition.DurationNS <= 0 || sides != partition.Ops {
		t.Errorf("partition row %+v, side rows hold %d ops", partition, sides)
	}
	st := fig.Staleness
	if st == nil || st.Reads == 0 || st.Reads > okDuring || st.Stale > st.Reads {
		t.Errorf("staleness %+v", st)
	}

	// The check of the stored run measures the same figures.
	again, err := faultline.Check(context.Background(), res.Dir, faultline.CheckConfig{Timeout: tt.CheckTimeout})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fig)
	b, _ := json.Marshal(again.Figures)
	if string(a) != string(b) {
		t.Errorf("check measured\n%s\nthe run recorded\n%s", b, a)
	}
}
