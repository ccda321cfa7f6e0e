package faultline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/checkers/usl"
	"github.com/faultline/faultline/results/runfolder"
)

// level4History is a hand-written history of a level without figures in
// its results.json: with a 10ms time limit, starting at the first
// invocation (time 0), its load phase holds four operations: p0 ok
// (0–1ms), p1 ok (0.5–2ms), p0 fail (3–9ms) and p1 ok (6–10.5ms,
// invoked inside the limit); the final read (p2, from 20ms) and the
// nemesis are not counted. The load lasted 10ms (the limit: the last
// completion is past it), so 3 ok in 10ms is 300 ok/s; ok latencies 1ms,
// 1.5ms and 4.5ms: p50 1.5ms (rank 2 of 3), p99 and max 4.5ms.
var level4History = []string{
	`{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"k0","value":1}`,
	`{"index":1,"time":500000,"process":1,"type":"invoke","f":"read","key":"k0","value":null}`,
	`{"index":2,"time":1000000,"process":0,"type":"ok","f":"write","key":"k0","value":1}`,
	`{"index":3,"time":2000000,"process":1,"type":"ok","f":"read","key":"k0","value":1}`,
	`{"index":4,"time":2500000,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{}}}`,
	`{"index":5,"time":3000000,"process":0,"type":"invoke","f":"cas","key":"k0","value":[2,3]}`,
	`{"index":6,"time":6000000,"process":1,"type":"invoke","f":"write","key":"k0","value":4}`,
	`{"index":7,"time":9000000,"process":0,"type":"fail","f":"cas","key":"k0","value":[2,3]}`,
	`{"index":8,"time":10500000,"process":1,"type":"ok","f":"write","key":"k0","value":4}`,
	`{"index":9,"time":20000000,"process":2,"type":"invoke","f":"read","key":"k0","value":null}`,
	`{"index":10,"time":21000000,"process":2,"type":"ok","f":"read","key":"k0","value":4}`,
}

// writeLevelRun writes a hand-written run folder under root, as Run
// would, with results.json (verdict, and figures when figs is set) and
// history.jsonl holding lines.
func writeLevelRun(t *testing.T, root string, verdict Verdict, figs *figures.Figures, lines []string) string {
	t.Helper()
	run, err := runfolder.New(root, "demo-kv", "register", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := run.WriteResults(&runfolder.Results{Verdict: verdict, Checkers: []CheckResult{}, Figures: figs}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(run.HistoryPath(), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return run.Dir
}

// allRow returns figures whose Availability holds a quiet row first (to
// be skipped) and then the All row.
func allRow(okPerSec float64, ok int, p50, p99 time.Duration) *figures.Figures {
	return &figures.Figures{Availability: []figures.Period{
		{Period: figures.Quiet, DurationNS: 1, Ops: 1, OK: 1, OKPerSec: 1, P50NS: 1, P99NS: 1},
		{Period: figures.All, DurationNS: int64(time.Second), Ops: ok + 2, OK: ok, Fail: 2, OKPerSec: okPerSec,
			P50NS: int64(p50), P99NS: int64(p99), MaxNS: int64(2 * p99)},
	}}
}

// sweepTest is a valid test whose results root is a temporary folder.
func sweepTest(t *testing.T) Test {
	t.Helper()
	tt := DefaultTest()
	tt.Results = t.TempDir()
	tt.Nemesis = nil
	tt.TimeLimit = 10 * time.Millisecond
	return tt
}

// stubLevels stands in for Run: level n writes the run folder make(n)
// describes and returns its result and error.
type stubLevel struct {
	verdict Verdict
	figs    *figures.Figures
	lines   []string
	err     error
}

func stubRun(t *testing.T, seen *[]Test, levels map[int]stubLevel) func(context.Context, Test) (*Result, error) {
	return func(_ context.Context, lt Test) (*Result, error) {
		*seen = append(*seen, lt)
		l, ok := levels[lt.Concurrency]
		if !ok {
			t.Fatalf("level %d was not expected to run", lt.Concurrency)
		}
		if l.err != nil && l.lines == nil {
			return nil, l.err
		}
		dir := writeLevelRun(t, lt.Results, l.verdict, l.figs, l.lines)
		return &Result{Dir: dir, Verdict: l.verdict, Seed: lt.Seed}, l.err
	}
}

// readSweepJSON reads dir/sweep.json into a generic map and into a
// SweepResult.
func readSweepJSON(t *testing.T, dir string) (map[string]any, SweepResult) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, SweepFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("sweep.json: %v", err)
	}
	var r SweepResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("sweep.json: %v", err)
	}
	return m, r
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestSweepWritesLevelsFitAndPage(t *testing.T) {
	tt := sweepTest(t)
	tt.Command = "faultline sweep --concurrency 1,2,4 --results <&>"
	var seen []Test
	run := stubRun(t, &seen, map[int]stubLevel{
		1: {verdict: Valid, figs: allRow(100, 100, time.Millisecond, 2*time.Millisecond), lines: level4History},
		2: {verdict: Invalid, figs: allRow(180, 180, 1500*time.Microsecond, 4*time.Millisecond), lines: level4History},
		4: {verdict: Valid, lines: level4History},
	})
	var called []int
	var dir string
	s := Sweep{Test: tt, Levels: []int{1, 2, 4},
		RunCommand: func(n int, seed int64) string {
			return fmt.Sprintf("faultline run --concurrency %d --seed %d", n, seed)
		},
		OnLevel: func(_ *SweepResult, l SweepLevel) {
			called = append(called, l.Concurrency)
			// sweep.json already holds the level, and says the
			// sweep is not over.
			_, r := readSweepJSON(t, dir)
			if len(r.Levels) != len(called) || r.Complete || r.ExitCode != 3 || r.Levels[len(r.Levels)-1].Concurrency != l.Concurrency {
				t.Errorf("sweep.json at level %d: %d levels, complete %v, exit %d", l.Concurrency, len(r.Levels), r.Complete, r.ExitCode)
			}
		}}
	// The sweep folder is the only one under <results>/demo-kv-register-sweep.
	seedCheck := func(ctx context.Context, lt Test) (*Result, error) {
		if dir == "" {
			dir = filepath.Dir(lt.Results)
		}
		return run(ctx, lt)
	}
	res, err := runSweep(context.Background(), s, seedCheck)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(called, []int{1, 2, 4}) {
		t.Fatalf("OnLevel called for %v", called)
	}
	if res.Dir != dir || filepath.Dir(filepath.Dir(dir)) != tt.Results || filepath.Base(filepath.Dir(dir)) != "demo-kv-register-sweep" {
		t.Fatalf("sweep folder %s (levels under %s), want <results>/demo-kv-register-sweep/<time>", res.Dir, dir)
	}
	// Same seed for every level, picked once; each level's command.
	for i, lt := range seen {
		if lt.Seed == 0 || lt.Seed != seen[0].Seed || lt.Concurrency != s.Levels[i] || lt.Results != filepath.Join(dir, "levels") {
			t.Errorf("level %d ran with seed %d, concurrency %d, results %s", i, lt.Seed, lt.Concurrency, lt.Results)
		}
		if want := fmt.Sprintf("faultline run --concurrency %d --seed %d", s.Levels[i], seen[0].Seed); lt.Command != want {
			t.Errorf("level command %q, want %q", lt.Command, want)
		}
	}

	raw, r := readSweepJSON(t, dir)
	if r.Verdict != Invalid || r.ExitCode != 1 || !r.Complete || r.Interrupted || r.Error != "" || r.Dir != dir {
		t.Fatalf("sweep.json: verdict %s, exit %d, complete %v, interrupted %v, error %q", r.Verdict, r.ExitCode, r.Complete, r.Interrupted, r.Error)
	}
	if raw["interrupted"] != false || raw["complete"] != true {
		t.Errorf("interrupted and complete must be written: %v %v", raw["interrupted"], raw["complete"])
	}
	if r.Test.Seed != seen[0].Seed || r.Test.Concurrency != 0 || r.Test.Target != "demo-kv" || !slices.Equal(r.Concurrency, []int{1, 2, 4}) {
		t.Errorf("sweep.json test: seed %d concurrency %d target %s levels %v", r.Test.Seed, r.Test.Concurrency, r.Test.Target, r.Concurrency)
	}
	if len(r.Levels) != 3 {
		t.Fatalf("%d levels", len(r.Levels))
	}
	for i, l := range r.Levels {
		if !strings.HasPrefix(l.RunDir, "levels/demo-kv-register/") || filepath.IsAbs(l.RunDir) {
			t.Errorf("level %d run_dir %q is not relative to the sweep folder", l.Concurrency, l.RunDir)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(l.RunDir), "results.json")); err != nil {
			t.Errorf("level %d: %v", l.Concurrency, err)
		}
		if want := []Verdict{Valid, Invalid, Valid}[i]; l.Verdict != want || l.ExitCode != want.ExitCode() {
			t.Errorf("level %d verdict %s exit %d, want %s", l.Concurrency, l.Verdict, l.ExitCode, want)
		}
	}
	// Levels 1 and 2 take the All row of results.json; level 4 has none
	// and is measured from its history (see level4History).
	l1, l2, l4 := r.Levels[0], r.Levels[1], r.Levels[2]
	if l1.FiguresFrom != FiguresFromResults || l1.Figures.OKPerSec != 100 || l1.Figures.P50NS != 1e6 || l1.Figures.P99NS != 2e6 || l1.Figures.Period != "all" {
		t.Errorf("level 1 figures from %s: %+v", l1.FiguresFrom, l1.Figures)
	}
	if l2.FiguresFrom != FiguresFromResults || l2.Figures.OKPerSec != 180 {
		t.Errorf("level 2 figures from %s: %+v", l2.FiguresFrom, l2.Figures)
	}
	want4 := figures.Period{Period: "all", DurationNS: 10e6, Ops: 4, OK: 3, Fail: 1, OKShare: 0.75, FailShare: 0.25,
		OKPerSec: 300, P50NS: 1.5e6, P99NS: 4.5e6, MaxNS: 4.5e6}
	if l4.FiguresFrom != FiguresFromHistory || l4.Figures == nil || *l4.Figures != want4 {
		t.Errorf("level 4 figures from %s: %+v, want %+v", l4.FiguresFrom, l4.Figures, want4)
	}
	// 100, 180 and 300 ok/s at 1, 2 and 4: λ = 100, σ = 1/9, κ = 0 fit
	// exactly (200/(1+σ) = 180, 400/(1+3σ) = 300); the ceiling is
	// λ/σ = 900.
	f := r.Fit
	if f == nil || !near(f.Lambda, 100, 1e-6) || !near(f.Sigma, 1.0/9, 1e-6) || f.Kappa > 1e-9 || f.Shape != usl.Asymptote ||
		!near(f.Ceiling, 900, 1e-5) || !slices.Equal(r.FitLevels, []int{1, 2, 4}) || r.FitError != "" {
		t.Fatalf("fit %+v on levels %v (%s)", f, r.FitLevels, r.FitError)
	}

	b, err := os.ReadFile(filepath.Join(dir, SweepPage))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`<svg class="chart" id="throughput-chart"`, `<svg class="chart" id="latency-chart"`,
		`<path class="fit-curve" d="M`,
		`<div class="verdict invalid" id="verdict">invalid</div>`,
		`<td>contention σ</td><td class="n">0.1111</td>`, `<td>coherency κ</td><td class="n">0</td>`,
		`<td>one client alone λ</td><td class="n">100 ok/s</td>`, `<td>predicted ceiling</td><td class="n">900 ok/s (λ/σ, approached, never reached)</td>`,
		"Throughput approaches 900 ok/s and never reaches it",
		`<td class="n">300</td>`, `<td class="n">1.50ms</td><td class="n">4.50ms</td>`,
		"faultline sweep --concurrency 1,2,4 --results &lt;&amp;&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("sweep.html lacks %q", want)
		}
	}
	// The ceiling, three times the most measured, is left out of the
	// chart, which would squash the points into its bottom third.
	if strings.Contains(page, `<line class="ceiling"`) {
		t.Errorf("the chart draws a ceiling far above the points")
	}
	for _, l := range r.Levels {
		if want := `<a href="` + l.RunDir + `/report.html">report</a>`; !strings.Contains(page, want) {
			t.Errorf("sweep.html lacks the link %s", want)
		}
	}
	for class, n := range map[string]int{"measured": 3, "p50": 3, "p99": 3} {
		if got := strings.Count(page, `<circle class="`+class+`"`); got != n {
			t.Errorf("%d %s points, want %d", got, class, n)
		}
	}
	// The account printed at the end, and each level's line.
	var sum strings.Builder
	res.WriteSummary(&sum)
	wantSum := `  concurrency  verdict  ok/s     p50     p99
            1    valid   100  1.00ms  2.00ms
            2  invalid   180  1.50ms  4.00ms
            4    valid   300  1.50ms  4.50ms
INVALID: at least one level's history could not have happened on a correct system (see each level's report).
USL fit over 1,2,4: σ 0.1111, κ 0, λ 100 ok/s, R² 1.0000; N* none, ceiling 900 ok/s. Throughput approaches 900 ok/s and never reaches it: contention caps it, and no coherency cost shows.
Sweep: ` + filepath.Join(dir, "sweep.html") + "\n"
	if sum.String() != wantSum {
		t.Errorf("summary:\n%s\nwant:\n%s", sum.String(), wantSum)
	}
	if got, want := l4.Line(), "concurrency 4: VALID · 300 ok/s · p50 1.50ms · p99 4.50ms · 3 ok, 1 fail, 0 info"; got != want {
		t.Errorf("level line %q, want %q", got, want)
	}
	// Self-contained: nothing is fetched.
	if regexp.MustCompile(`(?i)(src=|https?:|<link rel="stylesheet"|@import)`).MatchString(page) {
		t.Errorf("sweep.html loads something from outside")
	}
}

func TestSweepInterruptedKeepsLevelsDone(t *testing.T) {
	tt := sweepTest(t)
	var seen []Test
	partial := level4History[:7] // p0's cas and p1's write still open
	run := stubRun(t, &seen, map[int]stubLevel{
		1: {verdict: Valid, figs: allRow(100, 100, time.Millisecond, 2*time.Millisecond), lines: level4History},
		2: {verdict: Unknown, lines: partial, err: fmt.Errorf("run %w after 1.2s", ErrInterrupted)},
	})
	res, err := runSweep(context.Background(), Sweep{Test: tt, Levels: []int{1, 2, 4}}, run)
	if !errors.Is(err, ErrInterrupted) || err.Error() != "sweep interrupted at concurrency 2 (1 of 3 levels done)" {
		t.Fatalf("err %v, want the sweep interrupted at concurrency 2", err)
	}
	if len(seen) != 2 {
		t.Fatalf("%d levels ran, want 2", len(seen))
	}
	_, r := readSweepJSON(t, res.Dir)
	if !r.Interrupted || r.Complete || r.ExitCode != 3 || r.Error != err.Error() || r.Verdict != Valid || len(r.Levels) != 2 {
		t.Fatalf("sweep.json: interrupted %v complete %v exit %d error %q verdict %s levels %d",
			r.Interrupted, r.Complete, r.ExitCode, r.Error, r.Verdict, len(r.Levels))
	}
	l1, l2 := r.Levels[0], r.Levels[1]
	if !l1.Ended() || l1.Interrupted || l1.Verdict != Valid {
		t.Errorf("level 1: %+v", l1)
	}
	// The interrupted level keeps its folder and what it measured, but
	// has no verdict and stays out of the fit.
	want2 := figures.Period{Period: "all", DurationNS: 6e6, Ops: 4, OK: 2, Info: 2, OKShare: 0.5, InfoShare: 0.5,
		OKPerSec: 2 / 0.006, P50NS: 1e6, P99NS: 1.5e6, MaxNS: 1.5e6}
	if !l2.Interrupted || l2.Verdict != "" || l2.ExitCode != 3 || l2.RunDir == "" || l2.Error != "run interrupted after 1.2s" ||
		l2.Figures == nil || *l2.Figures != want2 {
		t.Errorf("level 2: %+v figures %+v, want %+v", l2, l2.Figures, want2)
	}
	if got, want := l2.Line(), "concurrency 2: interrupted · 333 ok/s · p50 1.00ms · p99 1.50ms · 2 ok, 0 fail, 2 info"; got != want {
		t.Errorf("level line %q, want %q", got, want)
	}
	if r.Fit != nil || !strings.Contains(r.FitError, "at least 3 distinct concurrency levels, got 1") {
		t.Errorf("fit %+v, fit error %q", r.Fit, r.FitError)
	}
	page, err := os.ReadFile(filepath.Join(res.Dir, SweepPage))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Interrupted: 2 of 3 levels ran", `<span class="badge unknown">interrupted</span>`, "No fit: usl fit: needs at least 3"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("sweep.html lacks %q", want)
		}
	}
}

func TestSweepInterruptedBetweenLevels(t *testing.T) {
	tt := sweepTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []Test
	run := stubRun(t, &seen, map[int]stubLevel{1: {verdict: Valid, lines: level4History}})
	res, err := runSweep(ctx, Sweep{Test: tt, Levels: []int{1, 2}, OnLevel: func(*SweepResult, SweepLevel) { cancel() }}, run)
	if !errors.Is(err, ErrInterrupted) || err.Error() != "sweep interrupted before concurrency 2 (1 of 2 levels done)" || len(seen) != 1 {
		t.Fatalf("err %v after %d levels", err, len(seen))
	}
	if _, r := readSweepJSON(t, res.Dir); !r.Interrupted || len(r.Levels) != 1 || r.ExitCode != 3 {
		t.Fatalf("sweep.json: interrupted %v, %d levels, exit %d", r.Interrupted, len(r.Levels), r.ExitCode)
	}
}

func TestSweepStopsAtALevelThatCannotRun(t *testing.T) {
	tt := sweepTest(t)
	var seen []Test
	run := stubRun(t, &seen, map[int]stubLevel{
		1: {verdict: Valid, lines: level4History},
		2: {err: errors.New("start cluster: node n1: not ready")},
	})
	res, err := runSweep(context.Background(), Sweep{Test: tt, Levels: []int{1, 2, 4}}, run)
	if err == nil || err.Error() != "concurrency 2: start cluster: node n1: not ready" || errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	_, r := readSweepJSON(t, res.Dir)
	if r.Interrupted || r.Complete || r.ExitCode != 3 || len(r.Levels) != 2 || r.Levels[1].Error != "start cluster: node n1: not ready" || r.Levels[1].RunDir != "" {
		t.Fatalf("sweep.json: %+v", r)
	}
}

func TestHistoryFiguresKnownAnswers(t *testing.T) {
	// A level's figures measured from its history, as figures.FromHistory
	// measures a stored run: the load phase runs from the run's start
	// (time 0) to the first client invocation plus the time limit, or to
	// the op_limit-th invocation when that comes first, never past the
	// last event; it holds the operations invoked within it.
	//
	// Times in ms: p0 write 1–2 ok, p1 read 1.5–2.5 fail, p0 cas 3–7 ok,
	// p1 write 4–6 info, p2 read 5–5.5 ok, p2 write 10.5–12 ok (invoked
	// inside a 10ms limit from 1ms), p3 read 20–21 ok (a final read).
	ev := func(i int, ms float64, p int, typ, f string) Event {
		return Event{Index: i, Time: int64(ms * 1e6), Process: p, Op: Op{Type: Type(typ), F: f, Key: "k0"}}
	}
	h := History{
		ev(0, 1, 0, "invoke", "write"), ev(1, 1.5, 1, "invoke", "read"), ev(2, 2, 0, "ok", "write"),
		ev(3, 2.5, 1, "fail", "read"), ev(4, 3, 0, "invoke", "cas"), ev(5, 4, 1, "invoke", "write"),
		ev(6, 5, 2, "invoke", "read"), ev(7, 5.5, 2, "ok", "read"), ev(8, 6, 1, "info", "write"),
		ev(9, 7, 0, "ok", "cas"), ev(10, 10.5, 2, "invoke", "write"), ev(11, 12, 2, "ok", "write"),
		ev(12, 20, 3, "invoke", "read"), ev(13, 21, 3, "ok", "read"),
	}
	for _, c := range []struct {
		name      string
		h         History
		timeLimit time.Duration
		opLimit   int
		want      figures.Period
	}{
		{
			// The load phase is [0, 11ms] (1ms + 10ms): six operations;
			// ok latencies 1, 4, 0.5, 1.5 ms: p50 1ms (rank 2 of 4),
			// p99 4ms; 4 ok in 11ms.
			"time limit", h, 10 * time.Millisecond, 0,
			figures.Period{Period: "all", DurationNS: 11e6, Ops: 6, OK: 4, Fail: 1, Info: 1, OKShare: 4.0 / 6, FailShare: 1.0 / 6,
				InfoShare: 1.0 / 6, OKPerSec: 4 / 0.011, P50NS: 1e6, P99NS: 4e6, MaxNS: 4e6},
		},
		{
			// The third invocation, at 3ms, ends the load phase: the
			// first three operations (the cas completing at 7ms), 2 ok
			// in 3ms; ok latencies 1 and 4 ms: p50 1ms (rank 1 of 2).
			"op limit", h, 10 * time.Millisecond, 3,
			figures.Period{Period: "all", DurationNS: 3e6, Ops: 3, OK: 2, Fail: 1, OKShare: 2.0 / 3, FailShare: 1.0 / 3,
				OKPerSec: 2 / 0.003, P50NS: 1e6, P99NS: 4e6, MaxNS: 4e6},
		},
		{
			// Cut short at 1.5ms, both invocations open: none ok in 1.5ms.
			"interrupted", h[:2], time.Second, 0,
			figures.Period{Period: "all", DurationNS: 1.5e6, Ops: 2, OK: 0, Info: 2, InfoShare: 1},
		},
		{"empty", History{}, time.Second, 0, figures.Period{Period: "all"}},
	} {
		got, err := historyLevelFigures(c.h, Test{TimeLimit: c.timeLimit, OpLimit: c.opLimit})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// ok/s to within rounding (4/0.011 is not exact in binary).
		g := *got
		if near(g.OKPerSec, c.want.OKPerSec, 1e-12) {
			g.OKPerSec = c.want.OKPerSec
		}
		if g != c.want {
			t.Errorf("%s: got %+v\nwant %+v", c.name, *got, c.want)
		}
	}
	if _, err := historyLevelFigures(History{ev(0, 1, 0, "ok", "write")}, Test{TimeLimit: time.Second}); !errors.Is(err, ErrBadInput) {
		t.Errorf("a completion without invocation: %v, want bad input", err)
	}
}

func TestSweepValidate(t *testing.T) {
	tt := sweepTest(t)
	bad := tt
	bad.Target = "nope"
	for _, c := range []struct {
		levels []int
		test   Test
		want   string
	}{
		{nil, tt, "--concurrency: no levels given"},
		{[]int{1, 0}, tt, "--concurrency: level 0 is not a number of clients of at least 1"},
		{[]int{-2}, tt, "--concurrency: level -2 is not"},
		{[]int{1, 2, 2}, tt, "--concurrency: level 2 is listed twice"},
		{[]int{1, 4, 2}, tt, "--concurrency: level 2 comes after 4; list the levels in increasing order"},
		{[]int{1, MaxConcurrency + 1}, tt, "--concurrency must be between 1 and 10000, got 10001"},
		{[]int{1, 2}, bad, `unknown target "nope"`},
	} {
		err := Sweep{Test: c.test, Levels: c.levels}.Validate()
		if !errors.Is(err, ErrBadInput) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("levels %v: %v, want bad input %q", c.levels, err, c.want)
		}
		// Nothing is made for bad input.
		if _, err := RunSweep(context.Background(), Sweep{Test: c.test, Levels: c.levels}); !errors.Is(err, ErrBadInput) {
			t.Errorf("RunSweep of levels %v: %v", c.levels, err)
		}
	}
	if entries, _ := os.ReadDir(tt.Results); len(entries) != 0 {
		t.Errorf("bad input made %v", entries)
	}
	if err := (Sweep{Test: tt, Levels: []int{1, 3, 64}}).Validate(); err != nil {
		t.Errorf("valid levels refused: %v", err)
	}
}

func TestSweepPageFormats(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.30000000000000004: "0.3", 15000: "15000", 2e6: "2000000", 2.5: "2.5"} {
		if got := axisLabel(v); got != want {
			t.Errorf("axisLabel(%v) = %q, want %q", v, got, want)
		}
	}
	for ns, want := range map[int64]string{0: "0", 980_000: "980µs", 1_500_000: "1.50ms", 15_400_000: "15.4ms", 2_000_000_000: "2.00s"} {
		if got := formatNS(ns); got != want {
			t.Errorf("formatNS(%d) = %q, want %q", ns, got, want)
		}
	}
	for x, want := range map[float64]string{3.14159: "3.14", 33.333: "33.3", 812.6: "813", math.Inf(1): "–"} {
		if got := formatRate(x); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", x, got, want)
		}
	}
}
