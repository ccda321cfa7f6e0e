package runfolder

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

func ev(i, p int, t core.Type, f string) core.Event {
	return core.Event{Index: i, Time: int64(i) * 1e6, Process: p, Op: core.Op{Type: t, F: f, Key: "k1"}}
}

func sampleHistory() core.History {
	return core.History{
		ev(0, 0, core.Invoke, "write"),
		ev(1, 1, core.Invoke, "read"),
		ev(2, -1, core.Info, "start-partition"),
		ev(3, 0, core.OK, "write"),
		ev(4, 1, core.Info, "read"),
		ev(5, 2, core.Invoke, "cas"),
		ev(6, 2, core.Fail, "cas"),
		ev(7, 3, core.Invoke, "read"),
		ev(8, -1, core.Info, "stop-partition"),
		ev(9, 4, core.Invoke, "write"), // never completes
	}
}

func TestCount(t *testing.T) {
	got := Count(sampleHistory())
	want := Counts{
		Events:   10,
		OpCounts: OpCounts{Invoke: 5, OK: 1, Fail: 1, Info: 3, Unfinished: 2},
		ByF: map[string]OpCounts{
			"write": {Invoke: 2, OK: 1, Info: 1, Unfinished: 1},
			"read":  {Invoke: 2, Info: 2, Unfinished: 1},
			"cas":   {Invoke: 1, Fail: 1},
		},
		Nemesis:    2,
		NemesisByF: map[string]int{"start-partition": 1, "stop-partition": 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Count =\n%+v\nwant\n%+v", got, want)
	}
	if got.Invoke != got.OK+got.Fail+got.Info {
		t.Error("invoke != ok + fail + info")
	}
	empty := Count(nil)
	if empty.Events != 0 || empty.ByF == nil {
		t.Errorf("Count(nil) = %+v, want zero counts with an empty ByF", empty)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	r, err := New(t.TempDir(), "demo", "register", runTime)
	if err != nil {
		t.Fatal(err)
	}
	checks := []core.CheckResult{
		{Checker: "linearizability", Verdict: core.Invalid, Summary: "not linearizable", Anomalies: []core.Anomaly{{Kind: "stale-read", Key: "k1", Description: "read 1 after write 2", Events: []int{3, 4}}}, Files: []string{"linearizability.html"}},
		{Checker: "perf", Verdict: core.Unknown, Summary: "ran out of time"},
	}
	res := NewResults(sampleHistory(), checks)
	if res.Verdict != core.Invalid {
		t.Fatalf("verdict %q, want invalid", res.Verdict)
	}
	res.Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res.End = res.Start.Add(90 * time.Second)
	res.DurationNS = int64(90 * time.Second)
	res.Errors = []string{"heal partition: retried once"}
	if err := r.WriteResults(res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "{\n  \"verdict\": \"invalid\",\n  \"checkers\": [") {
		t.Errorf("results.json does not start with the verdict then the checkers:\n%s", b)
	}
	back, err := ReadResults(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Verdict != res.Verdict || !reflect.DeepEqual(back.Checkers, res.Checkers) || !reflect.DeepEqual(back.Counts, res.Counts) ||
		!back.Start.Equal(res.Start) || back.DurationNS != res.DurationNS || !reflect.DeepEqual(back.Errors, res.Errors) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, res)
	}

	// No checker at all is not a pass.
	if v := NewResults(nil, nil); v.Verdict != core.Unknown || v.Checkers == nil {
		t.Errorf("NewResults with no checkers = %+v, want unknown", v)
	}
}

func TestReadResultsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadResults(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing results.json: %v, want ErrNotExist", err)
	}
	for _, bad := range []string{"{", `{"verdict":"maybe"}`, `{"verdict":1}`, `[]`} {
		os.WriteFile(filepath.Join(dir, ResultsFile), []byte(bad), 0o644)
		_, err := ReadResults(dir)
		if !errors.Is(err, core.ErrBadInput) || !strings.Contains(err.Error(), ResultsFile) {
			t.Errorf("results.json %q: %v, want ErrBadInput naming the file", bad, err)
		}
	}
}
