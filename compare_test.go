package faultline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/results/compare"
)

// The runs below are written by hand, file by file: what test.json,
// results.json (with its figures) and history.jsonl hold, so that every
// number the comparison shows is known in advance.

const safeTest = `{"target":"demo-kv","variant":"safe","workload":"register","provider":"local","nodes":3,
"concurrency":6,"rate":200,"time_limit":"10s","op_limit":0,"op_timeout":"1s","keys":4,
"nemesis":["partition"],"loss":0.2,"nemesis_interval":"4s","seed":42,"results":"r"}`

const unsafeTest = `{"target":"demo-kv","variant":"unsafe","workload":"register","provider":"local","nodes":3,
"concurrency":6,"rate":200,"time_limit":"10s","op_limit":0,"op_timeout":"1s","keys":4,
"nemesis":["partition","kill"],"loss":0.2,"nemesis_interval":"4s","seed":42,"results":"r"}`

const safeResults = `{"verdict":"valid",
"checkers":[{"checker":"linearizability","verdict":"valid","summary":"linearizable"},
            {"checker":"stats","verdict":"valid","summary":"900 of 1000 client operations ok"}],
"counts":{"events":2000,"invoke":1000,"ok":900,"fail":100,"info":0,"nemesis":2,"by_f":{}},
"duration_ns":12000000000,
"figures":{"load_end_ns":10500000000,
 "availability":[
  {"period":"all","duration_ns":10000000000,"ops":1000,"ok":900,"fail":100,"info":0,"ok_share":0.9,"fail_share":0.1,"info_share":0,"ok_per_sec":90,"p50_ns":2000000,"p99_ns":40000000,"max_ns":900000000},
  {"period":"quiet","duration_ns":6000000000,"ops":700,"ok":690,"fail":10,"info":0,"ok_share":0.9857142857142858,"fail_share":0.014285714285714285,"info_share":0,"ok_per_sec":115,"p50_ns":1500000,"p99_ns":30000000,"max_ns":800000000},
  {"period":"partition","duration_ns":4000000000,"ops":300,"ok":210,"fail":90,"info":0,"ok_share":0.7,"fail_share":0.3,"info_share":0,"ok_per_sec":52.5,"p50_ns":5000000,"p99_ns":60000000,"max_ns":900000000},
  {"period":"partition","side":"majority","duration_ns":4000000000,"ops":200,"ok":190,"fail":10,"info":0,"ok_share":0.95,"fail_share":0.05,"info_share":0,"ok_per_sec":47.5,"p50_ns":4000000,"p99_ns":50000000,"max_ns":900000000},
  {"period":"partition","side":"minority","duration_ns":4000000000,"ops":100,"ok":20,"fail":80,"info":0,"ok_share":0.2,"fail_share":0.8,"info_share":0,"ok_per_sec":5,"p50_ns":9000000,"p99_ns":60000000,"max_ns":60000000}],
 "functions":[
  {"period":"all","f":"read","duration_ns":10000000000,"ops":500,"ok":480,"fail":20,"info":0,"ok_share":0.96,"fail_share":0.04,"info_share":0,"ok_per_sec":48,"p50_ns":1000000,"p99_ns":20000000,"max_ns":100000000},
  {"period":"all","f":"write","duration_ns":10000000000,"ops":500,"ok":420,"fail":80,"info":0,"ok_share":0.84,"fail_share":0.16,"info_share":0,"ok_per_sec":42,"p50_ns":3000000,"p99_ns":50000000,"max_ns":900000000}],
 "staleness":{"reads":480,"stale":0,"p50_ns":0,"p90_ns":0,"p99_ns":0,"max_ns":0,"max_writes_behind":0}}}`

const unsafeResults = `{"verdict":"invalid",
"checkers":[{"checker":"linearizability","verdict":"invalid","summary":"not linearizable on 1 of 4 keys: k0",
  "anomalies":[{"kind":"nonlinearizable","key":"k0","description":"key k0: read returned 3 (process 1, 4.1s–4.1s), but k0 is 5 while it runs","events":[3,4]},
               {"kind":"nonlinearizable","key":"k0","description":"key k0: the second one","events":[5,6]}]},
  {"checker":"stats","verdict":"valid","summary":"1150 of 1200 client operations ok"}],
"counts":{"events":2400,"invoke":1200,"ok":1150,"fail":40,"info":10,"nemesis":4,"by_f":{}},
"duration_ns":12000000000,
"figures":{"load_end_ns":10100000000,
 "availability":[
  {"period":"all","duration_ns":10000000000,"ops":1200,"ok":1150,"fail":40,"info":10,"ok_share":0.9583333333333334,"fail_share":0.03333333333333333,"info_share":0.008333333333333333,"ok_per_sec":115,"p50_ns":160000,"p99_ns":900000,"max_ns":3000000},
  {"period":"quiet","duration_ns":5000000000,"ops":600,"ok":600,"fail":0,"info":0,"ok_share":1,"fail_share":0,"info_share":0,"ok_per_sec":120,"p50_ns":150000,"p99_ns":800000,"max_ns":2000000},
  {"period":"partition","duration_ns":3000000000,"ops":360,"ok":350,"fail":10,"info":0,"ok_share":0.9722222222222222,"fail_share":0.027777777777777776,"info_share":0,"ok_per_sec":116.66666666666667,"p50_ns":170000,"p99_ns":900000,"max_ns":3000000},
  {"period":"partition","side":"minority","duration_ns":3000000000,"ops":120,"ok":120,"fail":0,"info":0,"ok_share":1,"fail_share":0,"info_share":0,"ok_per_sec":40,"p50_ns":160000,"p99_ns":700000,"max_ns":900000},
  {"period":"kill","duration_ns":2000000000,"ops":240,"ok":200,"fail":30,"info":10,"ok_share":0.8333333333333334,"fail_share":0.125,"info_share":0.041666666666666664,"ok_per_sec":100,"p50_ns":180000,"p99_ns":950000,"max_ns":3000000}],
 "functions":[
  {"period":"all","f":"cas","duration_ns":10000000000,"ops":200,"ok":150,"fail":40,"info":10,"ok_share":0.75,"fail_share":0.2,"info_share":0.05,"ok_per_sec":15,"p50_ns":250000,"p99_ns":1200000,"max_ns":3000000},
  {"period":"all","f":"read","duration_ns":10000000000,"ops":500,"ok":500,"fail":0,"info":0,"ok_share":1,"fail_share":0,"info_share":0,"ok_per_sec":50,"p50_ns":100000,"p99_ns":800000,"max_ns":2000000},
  {"period":"all","f":"write","duration_ns":10000000000,"ops":500,"ok":500,"fail":0,"info":0,"ok_share":1,"fail_share":0,"info_share":0,"ok_per_sec":50,"p50_ns":200000,"p99_ns":1000000,"max_ns":3000000}],
 "staleness":{"reads":500,"stale":25,"p50_ns":300000000,"p90_ns":900000000,"p99_ns":1500000000,"max_ns":2000000000,"max_writes_behind":7,
  "buckets":[{"up_to_ns":1000000,"count":0},{"up_to_ns":2048000000,"count":25}],
  "samples":[{"key":"k0","process":1,"time_ns":4100000000,"stale_ns":2000000000,"behind":7,"node":"n3"}]}}}`

// oneHistory is a history of two operations, enough to be a run folder's.
const oneHistory = `{"index":0,"time":2000000,"process":0,"type":"invoke","f":"write","key":"k0","value":1}
{"index":1,"time":3000000,"process":0,"type":"ok","f":"write","key":"k0","value":1,"node":"n1"}
`

// writeFiles writes the files (name → content) into dir, creating it.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// twoRuns writes the safe and the unsafe run under root, as a run would:
// <root>/demo-kv-register/<time>/, and returns their folders.
func twoRuns(t *testing.T, root string) (string, string) {
	t.Helper()
	safe := writeFiles(t, filepath.Join(root, "demo-kv-register", "20261201T100000.000Z"), map[string]string{
		"test.json": safeTest, "results.json": safeResults, "history.jsonl": oneHistory, "report.html": "<p>safe</p>",
	})
	unsafe := writeFiles(t, filepath.Join(root, "demo-kv-register", "20261201T100100.000Z"), map[string]string{
		"test.json": unsafeTest, "results.json": unsafeResults, "history.jsonl": oneHistory,
	})
	return safe, unsafe
}

// wantTable is the table of the safe run against the unsafe one. Every
// number is results.json's: ratios are the unsafe run's over the safe
// one's (ok/s 115/90; p50 0.16ms/2ms; p99 0.9ms/40ms; max 3ms/900ms; cas
// has no base; read p50 0.1ms/1ms, p99 0.8ms/20ms; write p50 0.2ms/3ms,
// p99 1ms/50ms). Availability rows come in the order of first
// appearance; a dash where a run has no such period.
const wantTable = `                        demo-kv safe #1             demo-kv unsafe #2
                        20261201T100000.000Z        20261201T100100.000Z
run
  target                demo-kv                     demo-kv
  variant               safe                        unsafe
  workload              register                    register
  provider              local                       local
  seed                  42                          42
  nemesis               partition                   partition,kill
  concurrency           6                           6
  time limit            10s                         10s
verdict
  verdict               VALID                       INVALID
  linearizability       valid                       invalid · 2 anomalies
  stats                 valid                       valid
  operations            900 ok · 100 fail · 0 info  1150 ok · 40 fail · 10 info
throughput (load phase)
  ok ops                900                         1150  ×1.3
  ok/s                  90.0/s                      115.0/s  ×1.3
latency of ok ops
  p50 all               2.00ms                      160µs  ×0.08
  p99 all               40.0ms                      900µs  ×0.02
  max all               900ms                       3.00ms  ×<0.01
  p50 cas               —                           250µs
  p99 cas               —                           1.20ms
  p50 read              1.00ms                      100µs  ×0.10
  p99 read              20.0ms                      800µs  ×0.04
  p50 write             3.00ms                      200µs  ×0.07
  p99 write             50.0ms                      1.00ms  ×0.02
availability (ok share · ok/s)
  all                   90.0% · 90.0/s              95.8% · 115.0/s
  quiet                 98.6% · 115.0/s             100.0% · 120.0/s
  partition             70.0% · 52.5/s              97.2% · 116.7/s
  partition · majority  95.0% · 47.5/s              —
  partition · minority  20.0% · 5.0/s               100.0% · 40.0/s
  kill                  —                           83.3% · 100.0/s
staleness of reads
  stale reads           0 of 480 (0.0%)             25 of 500 (5.0%)
  p99                   none                        1.50s
  max                   none                        2.00s
  most writes behind    none                        7
first anomalies:
  demo-kv unsafe #2 · linearizability: key k0: read returned 3 (process 1, 4.1s–4.1s), but k0 is 5
      while it runs
`

func TestCompareHandWrittenRuns(t *testing.T) {
	safe, unsafe := twoRuns(t, t.TempDir())
	c, err := faultline.Compare([]string{safe, unsafe})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := compare.WriteTable(&table, c); err != nil {
		t.Fatal(err)
	}
	if got := table.String(); got != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", got, wantTable)
	}
	for i, line := range strings.Split(table.String(), "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line %d is %d characters wide, more than 100: %q", i+1, n, line)
		}
	}

	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Runs []struct {
			Label, Dir, Name, Report, Target, Variant, Workload, Provider string
			Seed                                                          int64
			Nemesis                                                       []string
			Concurrency                                                   int
			TimeLimit                                                     string `json:"time_limit"`
			Verdict                                                       string
			Checkers                                                      []struct {
				Checker, Verdict string
				Anomalies        int
				FirstAnomaly     string `json:"first_anomaly"`
			}
			Counts struct{ Invoke, OK, Fail, Info int }
			All    *struct {
				OK       int     `json:"ok"`
				OKPerSec float64 `json:"ok_per_sec"`
				P50      int64   `json:"p50_ns"`
				P99      int64   `json:"p99_ns"`
				Max      int64   `json:"max_ns"`
			}
			Figures struct {
				LoadEnd      int64             `json:"load_end_ns"`
				Availability []json.RawMessage `json:"availability"`
				Functions    []json.RawMessage `json:"functions"`
				Staleness    map[string]any    `json:"staleness"`
			}
			FiguresFrom string `json:"figures_from"`
			Notes       []string
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 2 {
		t.Fatalf("%d runs in the JSON", len(got.Runs))
	}
	s, u := got.Runs[0], got.Runs[1]
	if s.Label != "demo-kv safe #1" || s.Dir != safe || s.Name != "20261201T100000.000Z" || s.Report != filepath.Join(safe, "report.html") ||
		s.Target != "demo-kv" || s.Variant != "safe" || s.Workload != "register" || s.Provider != "local" || s.Seed != 42 ||
		strings.Join(s.Nemesis, ",") != "partition" || s.Concurrency != 6 || s.TimeLimit != "10s" || s.Verdict != "valid" {
		t.Errorf("safe run: %+v", s)
	}
	if u.Label != "demo-kv unsafe #2" || u.Report != "" || strings.Join(u.Nemesis, ",") != "partition,kill" || u.Verdict != "invalid" {
		t.Errorf("unsafe run: %+v", u)
	}
	if len(u.Checkers) != 2 || u.Checkers[0].Checker != "linearizability" || u.Checkers[0].Verdict != "invalid" || u.Checkers[0].Anomalies != 2 ||
		!strings.HasPrefix(u.Checkers[0].FirstAnomaly, "key k0: read returned 3") || u.Checkers[1].Anomalies != 0 || u.Checkers[1].FirstAnomaly != "" {
		t.Errorf("unsafe checkers: %+v", u.Checkers)
	}
	if u.Counts.Invoke != 1200 || u.Counts.OK != 1150 || u.Counts.Fail != 40 || u.Counts.Info != 10 {
		t.Errorf("unsafe counts: %+v", u.Counts)
	}
	if u.All == nil || u.All.OK != 1150 || u.All.OKPerSec != 115 || u.All.P50 != 160_000 || u.All.P99 != 900_000 || u.All.Max != 3_000_000 {
		t.Errorf("unsafe all row: %+v", u.All)
	}
	if s.All == nil || s.All.OK != 900 || s.All.OKPerSec != 90 || s.All.P50 != 2_000_000 {
		t.Errorf("safe all row: %+v", s.All)
	}
	if u.FiguresFrom != "results.json" || s.FiguresFrom != "results.json" || len(u.Notes)+len(s.Notes) != 0 {
		t.Errorf("figures from %q and %q, notes %q %q", s.FiguresFrom, u.FiguresFrom, s.Notes, u.Notes)
	}
	if u.Figures.LoadEnd != 10_100_000_000 || len(u.Figures.Availability) != 5 || len(u.Figures.Functions) != 3 || len(s.Figures.Availability) != 5 {
		t.Errorf("unsafe figures: load end %d, %d availability rows, %d function rows", u.Figures.LoadEnd, len(u.Figures.Availability), len(u.Figures.Functions))
	}
	// The staleness summary keeps the distribution, not each read.
	if st := u.Figures.Staleness; st["stale"] != float64(25) || st["max_writes_behind"] != float64(7) || st["buckets"] == nil || st["samples"] != nil {
		t.Errorf("unsafe staleness: %v", st)
	}
}

func TestCompareComputesMissingFiguresFromHistory(t *testing.T) {
	root := t.TempDir()
	safe, _ := twoRuns(t, root)
	// A run written before figures were measured: results.json has none.
	// Its first operation is invoked at 2ms and its time limit is 1s, so
	// its load phase is taken to end at 1.002s; the read at 1.5s is a
	// final read.
	old := writeFiles(t, filepath.Join(root, "old"), map[string]string{
		"test.json": `{"target":"demo-kv","variant":"unsafe","workload":"register","time_limit":"1s","seed":7}`,
		"results.json": `{"verdict":"valid","checkers":[{"checker":"linearizability","verdict":"valid","summary":"ok"}],
			"counts":{"events":4,"invoke":2,"ok":2,"fail":0,"info":0,"nemesis":0,"by_f":{}},"duration_ns":1600000000}`,
		"history.jsonl": `{"index":0,"time":2000000,"process":0,"type":"invoke","f":"write","key":"k0","value":1}
{"index":1,"time":3000000,"process":0,"type":"ok","f":"write","key":"k0","value":1,"node":"n1"}
{"index":2,"time":1500000000,"process":6,"type":"invoke","f":"read","key":"k0","value":null}
{"index":3,"time":1600000000,"process":6,"type":"ok","f":"read","key":"k0","value":1,"node":"n2"}
`,
	})
	c, err := faultline.Compare([]string{safe, old})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Runs[1]
	// The load end is the comparison's own estimate; the figures are
	// figures.Compute's over that load phase: the write only (the read at
	// 1.5s is a final read), ok, 1ms.
	if r.FiguresFrom != compare.FromHistory || r.Figures == nil || r.Figures.LoadEndNS != 1_002_000_000 || r.Figures.Staleness == nil {
		t.Fatalf("figures from %q: %+v", r.FiguresFrom, r.Figures)
	}
	if a := r.All; a == nil || a.Ops != 1 || a.OK != 1 || a.DurationNS != 1_002_000_000 || a.P50NS != 1_000_000 || a.P99NS != 1_000_000 {
		t.Errorf("all row from the history: %+v", a)
	}
	if s := r.Figures.Staleness; s.Reads != 0 || s.Stale != 0 {
		t.Errorf("staleness from the history: %+v (the only read is a final read)", s)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "figures computed from history.jsonl") || !strings.Contains(r.Notes[0], "1.002s") {
		t.Errorf("notes: %q", r.Notes)
	}
	if r.Label != "demo-kv unsafe #2" || r.Seed != 7 || r.TimeLimit != "1s" {
		t.Errorf("old run: %+v", r)
	}

	// A history whose completion has no invocation gives no figures,
	// and a note says why (the reader refuses it).
	if err := os.WriteFile(filepath.Join(old, "history.jsonl"),
		[]byte(`{"index":0,"time":3000000,"process":0,"type":"ok","f":"write","key":"k0","value":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = faultline.Compare([]string{safe, old})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Runs[1]; r.Figures != nil || r.FiguresFrom != "" || r.All != nil || len(r.Notes) != 1 ||
		!strings.HasPrefix(r.Notes[0], "no figures: results.json has none and the history cannot be read: ") ||
		!strings.HasSuffix(r.Notes[0], `process 0 completes "write" (ok) without an open invocation`) {
		t.Errorf("unpaired history: figures %+v from %q, notes %q", r.Figures, r.FiguresFrom, r.Notes)
	}

	// Without a history there are no figures, and a note says why; the
	// comparison is still made.
	if err := os.Remove(filepath.Join(old, "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	c, err = faultline.Compare([]string{safe, old})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Runs[1]; r.Figures != nil || r.FiguresFrom != "" || r.All != nil || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "no history.jsonl") {
		t.Errorf("without a history: figures %+v from %q, notes %q", r.Figures, r.FiguresFrom, r.Notes)
	}
	var table bytes.Buffer
	if err := compare.WriteTable(&table, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n  ok/s                  90.0/s                      —\n",
		"\n  partition · minority  20.0% · 5.0/s               —\n",
		"\nnotes:\n  demo-kv unsafe #2: no figures: results.json has none and there is no history.jsonl\n",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestCompareFindsRuns(t *testing.T) {
	root := t.TempDir()
	safe, unsafe := twoRuns(t, root)
	test := filepath.Join(root, "demo-kv-register")
	// Newer runs in the same folder: -10 is newer than -2; the newest
	// of all has no results.json yet (it is still running) and is
	// passed over.
	newer := writeFiles(t, filepath.Join(test, "20261201T100200.000Z-10"), map[string]string{
		"test.json": unsafeTest, "results.json": unsafeResults, "history.jsonl": oneHistory})
	writeFiles(t, filepath.Join(test, "20261201T100200.000Z-2"), map[string]string{
		"test.json": unsafeTest, "results.json": unsafeResults, "history.jsonl": oneHistory})
	writeFiles(t, filepath.Join(test, "20261201T100300.000Z"), map[string]string{"test.json": unsafeTest, "history.jsonl": oneHistory})
	if err := os.Symlink("demo-kv-register/20261201T100000.000Z", filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}

	c, err := faultline.Compare([]string{filepath.Join(root, "latest") + "/", test})
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs[0].Dir != safe || c.Runs[0].Name != "20261201T100000.000Z" || c.Runs[1].Dir != newer {
		t.Errorf("latest link → %s (want %s); test folder → %s (want %s)", c.Runs[0].Dir, safe, c.Runs[1].Dir, newer)
	}
	// A results root means the run its latest link points at.
	c, err = faultline.Compare([]string{unsafe, root})
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs[1].Dir != safe {
		t.Errorf("results root → %s, want %s", c.Runs[1].Dir, safe)
	}
}

func TestCompareRefusesBadInput(t *testing.T) {
	root := t.TempDir()
	safe, unsafe := twoRuns(t, root)
	if err := os.Symlink("demo-kv-register/20261201T100000.000Z", filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	noResults := writeFiles(t, filepath.Join(root, "x", "noresults"), map[string]string{"test.json": safeTest, "history.jsonl": oneHistory})
	garbage := writeFiles(t, filepath.Join(root, "x", "garbage"), map[string]string{"results.json": "{not json", "history.jsonl": oneHistory})
	badVerdict := writeFiles(t, filepath.Join(root, "x", "badverdict"), map[string]string{"results.json": `{"verdict":"fine"}`})
	badTest := writeFiles(t, filepath.Join(root, "x", "badtest"), map[string]string{"results.json": safeResults, "test.json": `{"time_limit":"soon"}`})
	aFile := filepath.Join(safe, "history.jsonl")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"none", nil, "compare needs two runs or more (run folders), got none"},
		{"one", []string{safe}, "compare needs two runs or more, got only " + safe},
		{"missing", []string{safe, filepath.Join(root, "nope")}, filepath.Join(root, "nope") + ": no such run folder"},
		{"file", []string{aFile, safe}, aFile + " is not a folder: name a run folder"},
		{"empty", []string{safe, empty}, empty + " is not a run folder: it holds no results.json, history.jsonl or test.json, no run folders and no latest link"},
		{"no results", []string{safe, noResults}, noResults + " has no results.json: the run has not ended, or was stopped before it could write it"},
		{"garbage", []string{garbage, safe}, filepath.Join(garbage, "results.json") + ": invalid JSON at byte 2"},
		{"bad verdict", []string{safe, badVerdict}, filepath.Join(badVerdict, "results.json") + `: verdict "fine" is not valid, invalid or unknown`},
		{"bad test", []string{safe, badTest}, filepath.Join(badTest, "test.json") + `: time_limit: time: invalid duration "soon"`},
		{"twice", []string{safe, unsafe, safe}, safe + " is the same run as " + safe + ": name each run once"},
		{"twice by link", []string{safe, filepath.Join(root, "latest")}, filepath.Join(root, "latest") + " is the same run as " + safe},
		{"twice by root", []string{root, safe}, safe + " is the same run as " + root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := faultline.Compare(tc.args)
			if !errors.Is(err, faultline.ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting %q", msg, tc.want)
			}
		})
	}
}
