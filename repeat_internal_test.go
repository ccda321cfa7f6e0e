package faultline

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/results/junit"
)

func TestWilsonIntervalKnownValues(t *testing.T) {
	for _, c := range []struct {
		k, n      int
		low, high float64
	}{
		{5, 5, 0.5655, 1},
		{0, 5, 0, 0.4345},
		{9, 10, 0.5958, 0.9821},
		{3, 3, 0.4385, 1},
		{0, 2, 0, 0.6576},
		{1, 2, 0.0945, 0.9055},
		{50, 100, 0.4038, 0.5962},
		{0, 0, 0, 1},
		{3, 2, 0, 1},
	} {
		lo, hi := WilsonInterval(c.k, c.n)
		if math.Abs(lo-c.low) > 5e-5 || math.Abs(hi-c.high) > 5e-5 {
			t.Errorf("WilsonInterval(%d, %d) = [%.5f, %.5f], want [%.4f, %.4f]", c.k, c.n, lo, hi, c.low, c.high)
		}
	}
	// The ends are exact where the share is.
	if lo, hi := WilsonInterval(7, 7); hi != 1 || lo >= 1 {
		t.Errorf("7 of 7: [%v, %v]", lo, hi)
	}
	if lo, hi := WilsonInterval(0, 7); lo != 0 || hi <= 0 {
		t.Errorf("0 of 7: [%v, %v]", lo, hi)
	}
}

// anomalyHistory is a hand-written history with two overlapping fault
// windows: partition from 300 to 1000 ns, kill from 800 to 1200 ns.
//
//	0  100 p0 invoke write      7   800 nemesis start-kill
//	1  200 p0 ok write          8   900 p1 invoke read
//	2  300 nemesis start-part.  9  1000 nemesis stop-partition
//	3  400 p1 invoke read      10  1100 p1 ok read
//	4  500 p2 invoke write     11  1200 nemesis stop-kill
//	5  600 p1 ok read          12  1300 p3 invoke read
//	6  700 p2 ok write         13  1400 p3 info read
var anomalyHistory = []string{
	`{"index":0,"time":100,"process":0,"type":"invoke","f":"write","key":"k0","value":1}`,
	`{"index":1,"time":200,"process":0,"type":"ok","f":"write","key":"k0","value":1}`,
	`{"index":2,"time":300,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{}}}`,
	`{"index":3,"time":400,"process":1,"type":"invoke","f":"read","key":"k0","value":null}`,
	`{"index":4,"time":500,"process":2,"type":"invoke","f":"write","key":"k0","value":2}`,
	`{"index":5,"time":600,"process":1,"type":"ok","f":"read","key":"k0","value":0}`,
	`{"index":6,"time":700,"process":2,"type":"ok","f":"write","key":"k0","value":2}`,
	`{"index":7,"time":800,"process":-1,"type":"info","f":"start-kill","value":{"nodes":["n1"]}}`,
	`{"index":8,"time":900,"process":1,"type":"invoke","f":"read","key":"k0","value":null}`,
	`{"index":9,"time":1000,"process":-1,"type":"info","f":"stop-partition"}`,
	`{"index":10,"time":1100,"process":1,"type":"ok","f":"read","key":"k0","value":0}`,
	`{"index":11,"time":1200,"process":-1,"type":"info","f":"stop-kill"}`,
	`{"index":12,"time":1300,"process":3,"type":"invoke","f":"read","key":"k0","value":null}`,
	`{"index":13,"time":1400,"process":3,"type":"info","f":"read","key":"k0","value":null}`,
}

// anomalyEvents is anomalyHistory as events (values left out: they do
// not matter here).
func anomalyEvents(t *testing.T) History {
	t.Helper()
	var h History
	for _, l := range anomalyHistory {
		var e struct {
			Index   int    `json:"index"`
			Time    int64  `json:"time"`
			Process int    `json:"process"`
			Type    Type   `json:"type"`
			F       string `json:"f"`
			Key     string `json:"key"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		h = append(h, Event{Index: e.Index, Time: e.Time, Process: e.Process, Op: Op{Type: e.Type, F: e.F, Key: e.Key}})
	}
	return h
}

func invalidWith(checker string, events ...[]int) CheckResult {
	c := CheckResult{Checker: checker, Verdict: Invalid, Summary: "bad"}
	for i, ev := range events {
		c.Anomalies = append(c.Anomalies, Anomaly{Kind: fmt.Sprintf("kind%d", i), Key: "k0", Description: "d", Events: ev})
	}
	return c
}

func TestFindFirstAnomaly(t *testing.T) {
	h := anomalyEvents(t)
	for _, c := range []struct {
		name   string
		checks []CheckResult
		want   *FirstAnomaly
	}{
		{"completions stand for their invocations",
			[]CheckResult{invalidWith("lin", []int{5, 6})},
			&FirstAnomaly{TimeNS: 400, Event: 3, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "partition"}},
		{"the earliest of every anomaly, whatever the order",
			[]CheckResult{invalidWith("lin", []int{13}, []int{10, 6})},
			&FirstAnomaly{TimeNS: 500, Event: 4, Checker: "lin", Kind: "kind1", Key: "k0", Fault: "partition"}},
		{"two faults open at once",
			[]CheckResult{invalidWith("lin", []int{10})},
			&FirstAnomaly{TimeNS: 900, Event: 8, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "partition,kill"}},
		{"an info completion outside every window",
			[]CheckResult{invalidWith("lin", []int{13})},
			&FirstAnomaly{TimeNS: 1300, Event: 12, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "quiet"}},
		{"a window's start counts as inside it; a nemesis event stands for itself",
			[]CheckResult{invalidWith("lin", []int{12, 2})},
			&FirstAnomaly{TimeNS: 300, Event: 2, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "partition"}},
		{"a tie goes to the first checker",
			[]CheckResult{invalidWith("a", []int{8}), invalidWith("b", []int{3}, []int{10})},
			&FirstAnomaly{TimeNS: 400, Event: 3, Checker: "b", Kind: "kind0", Key: "k0", Fault: "partition"}},
		{"same operation in two checkers: the first checker's",
			[]CheckResult{invalidWith("a", []int{10}), invalidWith("b", []int{8})},
			&FirstAnomaly{TimeNS: 900, Event: 8, Checker: "a", Kind: "kind0", Key: "k0", Fault: "partition,kill"}},
		{"only invalid checkers count",
			[]CheckResult{{Checker: "u", Verdict: Unknown, Anomalies: []Anomaly{{Events: []int{0}}}}, invalidWith("lin", []int{1, 0}), {Checker: "v", Verdict: Valid}},
			&FirstAnomaly{TimeNS: 100, Event: 0, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "quiet"}},
		{"indices outside the history are ignored",
			[]CheckResult{invalidWith("lin", []int{99, -1, 11})},
			&FirstAnomaly{TimeNS: 1200, Event: 11, Checker: "lin", Kind: "kind0", Key: "k0", Fault: "kill"}},
		{"nothing named", []CheckResult{invalidWith("lin", []int{99}), {Checker: "x", Verdict: Invalid}}, nil},
		{"no invalid checker", []CheckResult{{Checker: "u", Verdict: Unknown, Anomalies: []Anomaly{{Events: []int{3}}}}}, nil},
	} {
		got, ok := FindFirstAnomaly(h, c.checks)
		if ok != (c.want != nil) || (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: got %+v (%v), want %+v", c.name, got, ok, c.want)
		}
	}
	for tm, want := range map[int64]string{0: "quiet", 299: "quiet", 300: "partition", 800: "partition,kill",
		1000: "partition,kill", 1001: "kill", 1200: "kill", 1201: "quiet"} {
		if got := FaultAt(h, tm); got != want {
			t.Errorf("FaultAt(%d) = %q, want %q", tm, got, want)
		}
	}
}

// stubRepeat stands in for Run: the run of each seed writes a run folder
// holding anomalyHistory and the verdict of verdicts[seed], with one
// anomaly naming events 5 and 6 when invalid; errs[seed] is returned
// with it (after cancel, when set, is called for an interrupt).
func stubRepeat(t *testing.T, seen *[]Test, verdicts map[int64]Verdict, errs map[int64]error) func(context.Context, Test) (*Result, error) {
	return func(_ context.Context, rt Test) (*Result, error) {
		*seen = append(*seen, rt)
		v, ok := verdicts[rt.Seed]
		if !ok {
			t.Fatalf("seed %d was not expected to run", rt.Seed)
		}
		dir := writeLevelRun(t, rt.Results, v, nil, anomalyHistory)
		res := &Result{Dir: dir, Verdict: v, Seed: rt.Seed}
		switch v {
		case Invalid:
			res.Checkers = []CheckResult{invalidWith("linearizability", []int{5, 6}, []int{10}), {Checker: "stats", Verdict: Valid, Summary: "ok"}}
		case Valid:
			res.Checkers = []CheckResult{{Checker: "linearizability", Verdict: Valid, Summary: "fine"}}
		case Unknown:
			res.Checkers = []CheckResult{{Checker: "linearizability", Verdict: Unknown, Summary: "ran out of time"}}
		}
		return res, errs[rt.Seed]
	}
}

func readRepeatJSON(t *testing.T, dir string) (map[string]any, RepeatResult) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, RepeatFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	var r RepeatResult
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return m, r
}

func TestRepeatCountsRateAndWritesRepeatJSON(t *testing.T) {
	tt := sweepTest(t)
	tt.Seed = 40
	tt.Command = "faultline run --repeat 4 --seed 40"
	var seen []Test
	run := stubRepeat(t, &seen, map[int64]Verdict{40: Invalid, 41: Valid, 42: Unknown, 43: Invalid}, nil)
	var lines []string
	rp := Repeat{Test: tt, N: 4,
		RunCommand: func(seed int64) string { return fmt.Sprintf("faultline run --seed %d", seed) },
		OnRun: func(r *RepeatResult, run RepeatRun) {
			lines = append(lines, run.Line())
			// repeat.json already holds the run and says the repeat is
			// not over.
			_, got := readRepeatJSON(t, r.Dir)
			if len(got.Runs) != len(lines) || got.Complete || got.ExitCode != 3 || got.Rate.Runs != len(lines) {
				t.Errorf("repeat.json after seed %d: %d runs, complete %v, exit %d", run.Seed, len(got.Runs), got.Complete, got.ExitCode)
			}
		}}
	res, err := runRepeat(context.Background(), rp, run)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(filepath.Dir(res.Dir)) != tt.Results || filepath.Base(filepath.Dir(res.Dir)) != "demo-kv-register-repeat" {
		t.Fatalf("repeat folder %s, want <results>/demo-kv-register-repeat/<time>", res.Dir)
	}
	for i, rt := range seen {
		if want := int64(40 + i); rt.Seed != want || rt.Results != filepath.Join(res.Dir, "runs") || rt.Command != fmt.Sprintf("faultline run --seed %d", want) {
			t.Errorf("run %d: seed %d, results %s, command %q", i, rt.Seed, rt.Results, rt.Command)
		}
	}
	raw, r := readRepeatJSON(t, res.Dir)
	if r.Verdict != Invalid || r.ExitCode != 1 || !r.Complete || r.Interrupted || r.Error != "" || r.Repeat != 4 ||
		!slices.Equal(r.Seeds, []int64{40, 41, 42, 43}) || r.Test.Seed != 40 || r.Test.Command != tt.Command {
		t.Fatalf("repeat.json: %+v", r)
	}
	if raw["interrupted"] != false || raw["complete"] != true {
		t.Errorf("interrupted and complete must be written: %v %v", raw["interrupted"], raw["complete"])
	}
	// 2 found of 3 decided (the unknown run is not decided).
	lo, hi := WilsonInterval(2, 3)
	want := DetectionRate{Runs: 4, Found: 2, Valid: 1, Unknown: 1, Decided: 3, Share: 2.0 / 3, Confidence: 0.95, Low: lo, High: hi}
	if r.Rate != want || math.Abs(lo-0.2077) > 1e-4 || math.Abs(hi-0.9385) > 1e-4 {
		t.Errorf("rate %+v, want %+v", r.Rate, want)
	}
	first := &FirstAnomaly{TimeNS: 400, Event: 3, Checker: "linearizability", Kind: "kind0", Key: "k0", Fault: "partition"}
	for i, run := range r.Runs {
		v := []Verdict{Invalid, Valid, Unknown, Invalid}[i]
		if run.Seed != int64(40+i) || run.Verdict != v || run.ExitCode != v.ExitCode() || run.Error != "" ||
			!strings.HasPrefix(run.RunDir, "runs/demo-kv-register/") || filepath.IsAbs(run.RunDir) {
			t.Errorf("run %d: %+v", i, run)
		}
		if _, err := os.Stat(filepath.Join(res.Dir, filepath.FromSlash(run.RunDir), "history.jsonl")); err != nil {
			t.Error(err)
		}
		wantN, wantFirst := 0, (*FirstAnomaly)(nil)
		if v == Invalid {
			wantN, wantFirst = 2, first
		}
		if run.Anomalies != wantN || (run.FirstAnomaly == nil) != (wantFirst == nil) || (wantFirst != nil && *run.FirstAnomaly != *wantFirst) {
			t.Errorf("run %d: %d anomalies, first %+v", i, run.Anomalies, run.FirstAnomaly)
		}
	}
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "seed 40: INVALID · 2 anomalies · first anomalous operation at 0.000s (partition) · runs/demo-kv-register/") ||
		!strings.HasPrefix(lines[1], "seed 41: VALID · runs/") || !strings.HasPrefix(lines[2], "seed 42: UNKNOWN · runs/") {
		t.Errorf("lines: %q", lines)
	}
	if got, want := r.RateLine(), "anomaly found in 2 of 3 decided seeds (95% CI 0.21–0.94); of 4 seeds, 1 undecided, 0 not carried out"; got != want {
		t.Errorf("rate line %q, want %q", got, want)
	}
	var b bytes.Buffer
	res.WriteSummary(&b)
	wantText := "seed  verdict  anomalies  first anomaly at  fault then\n" +
		"40    invalid  2          0.000s            partition\n" +
		"41    valid    0          –                 –\n" +
		"42    unknown  0          –                 –\n" +
		"43    invalid  2          0.000s            partition\n" +
		"anomaly found in 2 of 3 decided seeds (95% CI 0.21–0.94); of 4 seeds, 1 undecided, 0 not carried out\n" +
		"Repeat: " + filepath.Join(res.Dir, "repeat.json") + "\n"
	if b.String() != wantText {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), wantText)
	}
}

func TestRepeatSeeds(t *testing.T) {
	if got := repeatSeeds(-2, 4); !slices.Equal(got, []int64{-2, -1, 1, 2}) {
		t.Errorf("seeds from -2: %v (0 must be skipped: it means pick one)", got)
	}
	// Seed 0 picks the first at random and records it.
	tt := sweepTest(t)
	var seen []Test
	run := func(ctx context.Context, rt Test) (*Result, error) {
		seen = append(seen, rt)
		return &Result{Dir: writeLevelRun(t, rt.Results, Valid, nil, anomalyHistory), Verdict: Valid,
			Checkers: []CheckResult{{Checker: "x", Verdict: Valid}}}, nil
	}
	res, err := runRepeat(context.Background(), Repeat{Test: tt, N: 3}, run)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Test.Seed
	if s <= 0 || len(seen) != 3 || seen[0].Seed != s || seen[1].Seed != s+1 || seen[2].Seed != s+2 || !slices.Equal(res.Seeds, []int64{s, s + 1, s + 2}) {
		t.Errorf("seed %d, runs %v, seeds %v", s, seen, res.Seeds)
	}
	if got, want := res.RateLine(), "anomaly found in 0 of 3 seeds (95% CI 0.00–0.56)"; got != want || res.ExitCode != 0 {
		t.Errorf("rate line %q, want %q; exit %d", got, want, res.ExitCode)
	}
}

func TestRepeatBadInput(t *testing.T) {
	tt := sweepTest(t)
	for _, c := range []struct {
		n    int
		seed int64
		want string
	}{
		{0, 0, "--repeat must be between 1 and 1000, got 0"},
		{-3, 0, "--repeat must be between 1 and 1000, got -3"},
		{1001, 0, "--repeat must be between 1 and 1000, got 1001"},
		{3, math.MaxInt64 - 1, "--seed 9223372036854775806: 3 runs would need seeds past 9223372036854775807"},
	} {
		tc := tt
		tc.Seed = c.seed
		res, err := runRepeat(context.Background(), Repeat{Test: tc, N: c.n}, func(context.Context, Test) (*Result, error) {
			t.Fatal("a run started")
			return nil, nil
		})
		if res != nil || !errors.Is(err, ErrBadInput) || err.Error() != c.want {
			t.Errorf("N %d seed %d: %v, want %q", c.n, c.seed, err, c.want)
		}
	}
	bad := tt
	bad.Rate = -1
	if _, err := RunRepeat(context.Background(), Repeat{Test: bad, N: 2}); !errors.Is(err, ErrBadInput) {
		t.Errorf("a bad test: %v", err)
	}
	entries, _ := os.ReadDir(tt.Results)
	if len(entries) != 0 {
		t.Errorf("bad input created %v", entries)
	}
}

func TestRepeatInterruptedKeepsRunsDone(t *testing.T) {
	tt := sweepTest(t)
	tt.Seed = 7
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []Test
	stub := stubRepeat(t, &seen, map[int64]Verdict{7: Invalid, 8: Unknown}, map[int64]error{8: fmt.Errorf("run %w after 1s", ErrInterrupted)})
	run := func(c context.Context, rt Test) (*Result, error) {
		if rt.Seed == 8 {
			cancel()
		}
		return stub(c, rt)
	}
	res, err := runRepeat(ctx, Repeat{Test: tt, N: 3}, run)
	if !errors.Is(err, ErrInterrupted) || err.Error() != "repeat interrupted at seed 8 (1 of 3 runs done)" {
		t.Fatalf("err %v", err)
	}
	_, r := readRepeatJSON(t, res.Dir)
	if !r.Interrupted || r.Complete || r.ExitCode != 3 || r.Verdict != Invalid || len(r.Runs) != 2 || len(seen) != 2 || r.Error != err.Error() {
		t.Fatalf("repeat.json: %+v", r)
	}
	if i := r.Runs[1]; !i.Interrupted || i.Verdict != "" || i.ExitCode != 3 || i.RunDir == "" {
		t.Errorf("interrupted run: %+v", i)
	}
	if d := r.Rate; d.Runs != 2 || d.Found != 1 || d.NotDone != 1 || d.Decided != 1 || math.Abs(d.Low-0.2065) > 1e-4 || d.High != 1 {
		t.Errorf("rate %+v", d)
	}
	if got, want := r.RateLine(), "anomaly found in 1 of 1 decided seed (95% CI 0.21–1.00); of 2 seeds, 0 undecided, 1 not carried out"; got != want {
		t.Errorf("rate line %q, want %q", got, want)
	}
	if l := r.Runs[1].Line(); !strings.HasPrefix(l, "seed 8: interrupted · runs/") {
		t.Errorf("line %q", l)
	}
}

func TestRepeatStopsAtARunThatCannotBeCarriedOut(t *testing.T) {
	tt := sweepTest(t)
	tt.Seed = 1
	var seen []Test
	run := func(ctx context.Context, rt Test) (*Result, error) {
		seen = append(seen, rt)
		if rt.Seed == 2 {
			return nil, errors.New("start cluster: node n2 exited")
		}
		return stubRepeat(t, &[]Test{}, map[int64]Verdict{1: Valid}, nil)(ctx, rt)
	}
	res, err := runRepeat(context.Background(), Repeat{Test: tt, N: 3}, run)
	if err == nil || err.Error() != "seed 2: start cluster: node n2 exited" || errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	_, r := readRepeatJSON(t, res.Dir)
	if r.ExitCode != 3 || r.Complete || r.Interrupted || len(r.Runs) != 2 || len(seen) != 2 || r.Verdict != Valid {
		t.Fatalf("repeat.json: %+v", r)
	}
	if f := r.Runs[1]; f.Error != "start cluster: node n2 exited" || f.RunDir != "" || f.ExitCode != 3 {
		t.Errorf("failed run: %+v", f)
	}
	if l := r.Runs[1].Line(); l != "seed 2: could not be carried out: start cluster: node n2 exited" {
		t.Errorf("line %q", l)
	}
}

// TestRepeatJUnit writes the JUnit report of a repeat: a suite per run
// as WriteJUnit writes a run's, then the detection rate's suite; it
// validates against the schema CI systems read.
func TestRepeatJUnit(t *testing.T) {
	tt := sweepTest(t)
	tt.Seed = 40
	var seen []Test
	stub := stubRepeat(t, &seen, map[int64]Verdict{40: Invalid, 41: Valid, 42: Unknown}, nil)
	run := func(ctx context.Context, rt Test) (*Result, error) {
		if rt.Seed == 43 {
			return nil, errors.New("start cluster: boom")
		}
		return stub(ctx, rt)
	}
	res, err := runRepeat(context.Background(), Repeat{Test: tt, N: 5}, run)
	if err == nil {
		t.Fatal("seed 43 did not stop the repeat")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteRepeatJUnit(path, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got junit.Suites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// Runs 40 (invalid: linearizability fails, stats passes), 41 (valid),
	// 42 (unknown: an error), 43 (could not be carried out: an error),
	// then the rate.
	if len(got.Suites) != 5 || got.Tests != 5 || got.Failures != 1 || got.Errors != 2 {
		t.Fatalf("%d suites, tests/failures/errors %d/%d/%d", len(got.Suites), got.Tests, got.Failures, got.Errors)
	}
	for i, want := range []string{"demo-kv unsafe register seed 40", "demo-kv unsafe register seed 41", "demo-kv unsafe register seed 42",
		"demo-kv unsafe register seed 43", "demo-kv unsafe register detection rate"} {
		if got.Suites[i].Name != want {
			t.Errorf("suite %d named %q, want %q", i, got.Suites[i].Name, want)
		}
	}
	if c := got.Suites[3].Cases; len(c) != 1 || c[0].Name != "run" || c[0].Error == nil || c[0].Error.Message != "start cluster: boom" {
		t.Errorf("seed 43's cases: %+v", c)
	}
	rate := got.Suites[4]
	props := map[string]string{}
	for _, p := range rate.Properties.List {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{"runs": "4", "found": "1", "valid": "1", "unknown": "1", "not_done": "1", "decided": "2",
		"detection_rate": "0.500", "ci95_low": "0.095", "ci95_high": "0.905", "seeds": "40,41,42,43,44", "repeat_dir": res.Dir} {
		if props[k] != v {
			t.Errorf("rate property %s = %q, want %q", k, props[k], v)
		}
	}
	if rate.Tests != 0 || rate.SystemOut != res.RateLine() || !strings.Contains(rate.SystemOut, "anomaly found in 1 of 2 decided seeds") {
		t.Errorf("rate suite: %+v", rate)
	}
	xmllint := testenv.NeedBinary(t, "xmllint", "libxml2-utils")
	if out, err := exec.Command(xmllint, "--noout", "--schema", "results/junit/testdata/junit.xsd", path).CombinedOutput(); err != nil {
		t.Errorf("junit.xml does not validate: %v\n%s", err, out)
	}
}
