package compare

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers/figures"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/runfolder"
)

const xss = `<script>window.pwned=1</script>`

// sample is a comparison of two runs written out by hand: the first safe
// and slow, the second unsafe, fast, with an anomaly and stale reads. Its
// texts from run folders carry markup that must stay text.
func sample(root string) *Comparison {
	safeDir := filepath.Join(root, "demo-kv-register", "20261201T100000.000Z")
	unsafeDir := filepath.Join(root, "demo-kv-register", "20261201T100100.000Z")
	safeAll := figures.Period{Period: figures.All, DurationNS: 10e9, Ops: 1000, OK: 900, Fail: 100, OKShare: 0.9, FailShare: 0.1,
		OKPerSec: 90, P50NS: 2_000_000, P99NS: 40_000_000, MaxNS: 900_000_000}
	unsafeAll := figures.Period{Period: figures.All, DurationNS: 10e9, Ops: 1200, OK: 1150, Fail: 50, OKShare: 1150.0 / 1200, FailShare: 50.0 / 1200,
		OKPerSec: 180, P50NS: 160_000, P99NS: 900_000, MaxNS: 3_000_000}
	return &Comparison{Runs: []Run{
		{
			Label: "demo-kv safe #1", Dir: safeDir, Name: filepath.Base(safeDir), Report: filepath.Join(safeDir, runfolder.ReportFile),
			Target: "demo-kv", Variant: "safe", Workload: "register", Provider: "local", Seed: 42, Nemesis: []string{"partition"},
			Concurrency: 6, TimeLimit: "10s", Verdict: core.Valid,
			Checkers: []Checker{{Checker: "linearizability", Verdict: core.Valid}},
			Counts:   runfolder.OpCounts{Invoke: 1000, OK: 900, Fail: 100},
			All:      &safeAll,
			Figures: &figures.Figures{LoadEndNS: 10e9,
				Availability: []figures.Period{safeAll,
					{Period: "partition", Side: figures.Minority, DurationNS: 4e9, Ops: 100, OK: 20, Fail: 80, OKShare: 0.2, FailShare: 0.8, OKPerSec: 5}},
				Functions: []figures.Period{
					{Period: figures.All, F: "read", Ops: 500, OK: 480, OKPerSec: 48, P50NS: 1_000_000, P99NS: 20_000_000, MaxNS: 1e8},
					{Period: figures.All, F: "write", Ops: 500, OK: 420, OKPerSec: 42, P50NS: 3_000_000, P99NS: 50_000_000, MaxNS: 9e8}},
				Staleness: &figures.Staleness{Reads: 480}},
			FiguresFrom: FromResults,
		},
		{
			Label: "demo-kv unsafe #2", Dir: unsafeDir, Name: filepath.Base(unsafeDir), Report: filepath.Join(unsafeDir, runfolder.ReportFile),
			Target: "demo-kv", Variant: "unsafe", Workload: "register", Provider: "local", Seed: 42, Nemesis: []string{"partition"},
			Concurrency: 6, TimeLimit: "10s", Verdict: core.Invalid,
			Checkers: []Checker{{Checker: "linearizability", Verdict: core.Invalid, Anomalies: 3, FirstAnomaly: "key k0: read " + xss}},
			Counts:   runfolder.OpCounts{Invoke: 1200, OK: 1150, Fail: 50},
			All:      &unsafeAll,
			Figures: &figures.Figures{LoadEndNS: 10e9,
				Availability: []figures.Period{unsafeAll,
					{Period: "partition", Side: figures.Minority, DurationNS: 4e9, Ops: 200, OK: 200, OKShare: 1, OKPerSec: 50}},
				Functions: []figures.Period{
					{Period: figures.All, F: "read", Ops: 600, OK: 600, OKPerSec: 60, P50NS: 100_000, P99NS: 800_000, MaxNS: 2e6},
					{Period: figures.All, F: "write", Ops: 600, OK: 550, OKPerSec: 55, P50NS: 200_000, P99NS: 1_000_000, MaxNS: 3e6}},
				Staleness: &figures.Staleness{Reads: 600, Stale: 30, P99NS: 1_500_000_000, MaxNS: 2e9, MaxBehind: 7}},
			FiguresFrom: FromResults,
			Notes:       []string{"a note " + xss},
		},
	}}
}

// writeReports gives each run of c a report.html.
func writeReports(t *testing.T, c *Comparison) {
	t.Helper()
	for _, r := range c.Runs {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.Report, []byte("<!DOCTYPE html><title>report of "+r.Label+"</title><p id=\"verdict\">"+string(r.Verdict)+"</p>"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPageEscapesAndLinks(t *testing.T) {
	root := t.TempDir()
	c := sample(root)
	var buf bytes.Buffer
	if err := RenderHTML(&buf, c, filepath.Join(root, Folder, "20261201T110000.000Z")); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, xss) {
		t.Error("text from a run folder is not escaped")
	}
	for _, want := range []string{
		`&lt;script&gt;window.pwned=1&lt;/script&gt;`,
		`<a class="report" href="../../demo-kv-register/20261201T100000.000Z/report.html">demo-kv safe #1</a>`,
		`<a class="report" href="../../demo-kv-register/20261201T100100.000Z/report.html">demo-kv unsafe #2</a>`,
		`<tr class="group"><th colspan="3">throughput (load phase)</th></tr>`,
		`<td class="v">180.0/s<span class="ratio">×2.0 vs first</span></td>`,
		`<td class="v"><span class="badge invalid">invalid</span> · 3 anomalies<div class="detail">key k0: read &lt;script&gt;`,
		`<td class="v"><span class="badge valid">valid</span></td>`,
		"<td class=\"v\">20.0% · 5.0/s</td>\n<td class=\"v\">100.0% · 50.0/s</td>",
		`<li>demo-kv unsafe #2: a note &lt;script&gt;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Throughput: one bar per run, 180/s the longest (barSpan) and 90/s
	// half of it. Latency: p99 and p50 per run for all, read and write.
	for _, want := range []string{
		`<rect class="bar ok-rate" x="220" y="10" width="220" height="16" fill="#0969da">`,
		`<rect class="bar ok-rate" x="220" y="34" width="440" height="16" fill="#bf3989">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, `class="bar p99"`); n != 6 {
		t.Errorf("%d p99 bars, want 6", n)
	}
	if n := strings.Count(page, `class="bar p50"`); n != 6 {
		t.Errorf("%d p50 bars, want 6", n)
	}
	// Nothing is loaded from elsewhere.
	for _, bad := range []string{"http://", "https://", "<script src", "<link rel=\"stylesheet\""} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
}

func TestRelHref(t *testing.T) {
	for _, tc := range []struct{ dir, target, want string }{
		{"/r/compare/x", "/r/t-w/20261201T100000.000Z/report.html", "../../t-w/20261201T100000.000Z/report.html"},
		{"/out", "/r/odd name#1/report.html", "../r/odd%20name%231/report.html"},
		{"/out", "", ""},
	} {
		if got := relHref(tc.dir, tc.target); got != tc.want {
			t.Errorf("relHref(%q, %q) = %q, want %q", tc.dir, tc.target, got, tc.want)
		}
	}
}

func TestWriteMakesAFolderPerComparison(t *testing.T) {
	root := t.TempDir()
	c := sample(root)
	now := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	first, err := Write(root, c, now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Write(root, c, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "compare", "20261201T110000.000Z", "compare.html"); first != want {
		t.Errorf("first page %s, want %s", first, want)
	}
	if want := filepath.Join(root, "compare", "20261201T110000.000Z-2", "compare.html"); second != want {
		t.Errorf("second page %s, want %s", second, want)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(first), JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Comparison
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, c) {
		t.Errorf("compare.json does not hold the comparison:\n%s", b)
	}
	if st, err := os.Stat(first); err != nil || st.Size() == 0 {
		t.Errorf("page: %v", err)
	}
}

func TestTableFitsAndShowsRatios(t *testing.T) {
	c := sample(t.TempDir())
	var buf bytes.Buffer
	if err := WriteTable(&buf, c); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"\n  ok/s                  90.0/s                      180.0/s  ×2.0\n",
		"\n  p50 write             3.00ms                      200µs  ×0.07\n",
		"\n  linearizability       valid                       invalid · 3 anomalies\n",
		"\n  partition · minority  20.0% · 5.0/s               100.0% · 50.0/s\n",
		"\n  stale reads           0 of 480 (0.0%)             30 of 600 (5.0%)\n",
		"\nfirst anomalies:\n  demo-kv unsafe #2 · linearizability: key k0: read " + xss + "\n",
		"\nnotes:\n  demo-kv unsafe #2: a note " + xss + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line of %d characters: %q", n, line)
		}
	}
	// A long cell is cut to the column's width.
	c.Runs[0].Nemesis = []string{strings.Repeat("partition=role:coordinator,", 4)}
	buf.Reset()
	if err := WriteTable(&buf, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  nemesis               partition=role:coordinator,partitio…  partition\n") {
		t.Errorf("the long nemesis is not cut:\n%s", buf.String())
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{{0, "0ns"}, {850, "850ns"}, {12_345, "12.3µs"}, {4_560_000, "4.56ms"}, {123_400_000, "123ms"}, {1_204_000_000, "1.20s"}, {125_000_000_000, "125s"}} {
		if got := Duration(tc.ns); got != tc.want {
			t.Errorf("Duration(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
	for _, tc := range []struct {
		r    float64
		want string
	}{{2.34, "×2.3"}, {1, "×1.0"}, {0.996, "×1.0"}, {0.5, "×0.50"}, {0.0749, "×0.07"}, {12.6, "×13"}, {0.001, "×<0.01"}} {
		if got := ratio(tc.r); got != tc.want {
			t.Errorf("ratio(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
