package report

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/results/internal/histtest"
	"github.com/faultline/faultline/results/runfolder"
	"github.com/faultline/faultline/workloads/lock"
)

// writeLockRun writes a lock run folder holding h, checked for mutual
// exclusion.
func writeLockRun(t testing.TB, h core.History) *runfolder.Run {
	t.Helper()
	r, err := runfolder.New(t.TempDir(), "redis-lock", "lock", runTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(runfolder.TestFile, map[string]any{"target": "redis-lock", "workload": "lock", "variant": "naive"}); err != nil {
		t.Fatal(err)
	}
	writeHistory(t, r.HistoryPath(), h)
	me := lock.CheckMutualExclusion(context.Background(), h)
	if err := r.WriteResults(runfolder.NewResults(h, []core.CheckResult{me})); err != nil {
		t.Fatal(err)
	}
	return r
}

// section is one decoded entry of the page's lock sections.
type section struct {
	Lock, Holder       string
	Token              int64
	Row                int
	Start, End         int64 // µs
	Invoke, Complete   int
	Overlaps, CutShort bool
}

func decodeSections(lj *locksJSON) []section {
	c := lj.Sections
	var out []section
	var start int64
	inv := 0
	for i := range c.D {
		start += c.S[i]
		inv += c.I[i]
		out = append(out, section{Lock: lj.Locks[c.L[i]], Holder: lj.Holders[c.H[i]], Token: c.K[i], Row: c.R[i],
			Start: start, End: start + c.D[i], Invoke: inv, Complete: inv + c.C[i],
			Overlaps: c.X[i]&sectionOverlaps != 0, CutShort: c.X[i]&sectionCutShort != 0})
	}
	return out
}

func TestReportDrawsLockSections(t *testing.T) {
	h := histtest.Lock()
	r := writeLockRun(t, h)
	page := readReport(t, r.Dir)
	lj := pageDataOf(t, page).Locks
	if lj == nil {
		t.Fatal("the report of a lock run has no lock lanes")
	}
	if !slices.Equal(lj.Locks, []string{"l0", "l1", "l10"}) || !slices.Equal(lj.Rows, []int{2, 1, 1}) {
		t.Errorf("lanes %q with rows %v, want l0 (two rows), l1, l10", lj.Locks, lj.Rows)
	}
	// The sections as lock.Sections places them, lane by lane, by start.
	want, err := lockSectionsOf(h)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeSections(lj)
	if len(got) != 8 || !slices.Equal(got, want) {
		t.Errorf("sections:\n got %+v\nwant %+v", got, want)
	}
	// p0's stalled section and p2's overlap; p4's was never released.
	for _, s := range got {
		overlapping := s.Lock == "l0" && (s.Holder == "p0" || s.Holder == "p2")
		if s.Overlaps != overlapping || s.CutShort != (s.Holder == "p4") {
			t.Errorf("section %+v: overlaps %v, cut short %v", s, s.Overlaps, s.CutShort)
		}
		if s.Holder == "p2" && s.Row != 1 {
			t.Errorf("p2's section, held with p0's, is in row %d, want 1", s.Row)
		}
	}
	if lj.Overlapping != 2 || !slices.Equal(lj.Spans.L, []int{0}) || !slices.Equal(lj.Spans.S, []int64{450_000}) || !slices.Equal(lj.Spans.E, []int64{520_000}) {
		t.Errorf("overlapping %d, spans %+v; want p0 and p2 on l0 from 450 ms to 520 ms", lj.Overlapping, lj.Spans)
	}
	// The checker's anomaly names both sections.
	if len(lj.Anomalies) != 1 || len(lj.Anomalies[0]) != 2 {
		t.Fatalf("lock anomalies = %v", lj.Anomalies)
	}
	var holders []string
	for _, p := range lj.Anomalies[0] {
		holders = append(holders, got[p].Holder)
	}
	if slices.Sort(holders); !slices.Equal(holders, []string{"p0", "p2"}) {
		t.Errorf("the overlap anomaly names the sections of %v, want p0 and p2", holders)
	}
	for _, s := range []string{
		`<a href="#locks">Locks</a>`,
		`<h2 id="locks">Locks</h2>`,
		`<canvas id="locks-canvas"`,
		`<a class="show-lock" href="#locks" data-lock-anomaly="0">show on the lock lanes</a>`,
		`<p id="locks-note">8 critical sections by 6 holders on 3 locks; 2 sections overlap another holder&#39;s on l0 (red, the overlapping time marked).</p>`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

// lockSectionsOf is what the page should hold: the sections of h in
// µs, lane by lane in natural lock order, each lane by start.
func lockSectionsOf(h core.History) ([]section, error) {
	secs, err := lock.Sections(h)
	if err != nil {
		return nil, err
	}
	order := map[string]int{"l0": 0, "l1": 1, "l10": 2}
	slices.SortStableFunc(secs, func(a, b lock.Section) int {
		if a.Lock != b.Lock {
			return order[a.Lock] - order[b.Lock]
		}
		return int(a.Start - b.Start)
	})
	var out []section
	for _, s := range secs {
		row := 0
		if s.Holder == "p2" {
			row = 1
		}
		out = append(out, section{Lock: s.Lock, Holder: s.Holder, Token: s.Token, Row: row, Start: s.Start / 1000, End: s.End / 1000,
			Invoke: s.Invoke, Complete: s.Complete})
	}
	for i := range out {
		out[i].Overlaps = out[i].Lock == "l0" && (out[i].Holder == "p0" || out[i].Holder == "p2")
		out[i].CutShort = out[i].Holder == "p4"
	}
	return out, nil
}

func TestReportOfRegisterRunHasNoLocks(t *testing.T) {
	r := makeRun(t)
	page := readReport(t, r.Dir)
	if pageDataOf(t, page).Locks != nil {
		t.Error("a register run has lock lanes")
	}
	for _, s := range []string{`id="locks"`, `href="#locks"`, `class="show-lock"`, `<canvas id="locks-canvas"`} {
		if strings.Contains(page, s) {
			t.Errorf("the report of a register run holds %q", s)
		}
	}
	if strings.Contains(scriptData(t, page), `"locks"`) {
		t.Error("the page data of a register run has a locks field")
	}
}

func TestLockLanesKeepHoldersText(t *testing.T) {
	h := histtest.Lock()
	for i, e := range h {
		if v, ok := e.Value.(lock.CycleValue); ok && v.Holder == "p2" {
			v.Holder = xss
			h[i].Value = v
		}
	}
	r := writeLockRun(t, h)
	page := readReport(t, r.Dir)
	lj := pageDataOf(t, page).Locks
	if lj == nil || !slices.Contains(lj.Holders, xss) {
		t.Fatalf("holders = %v, want the hostile one among them", lj)
	}
	if !strings.Contains(scriptData(t, page), `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Error("the embedded data lacks the hostile holder, escaped")
	}
	rest := page[:strings.Index(page, `<script type="application/json"`)]
	if strings.Contains(strings.ToLower(rest), "<script") {
		t.Error("a holder appears unescaped in the report")
	}
}

func TestReportOfBadLockValueSaysSo(t *testing.T) {
	r, err := runfolder.New(t.TempDir(), "redis-lock", "lock", runTime)
	if err != nil {
		t.Fatal(err)
	}
	// An ok cycle whose lock was never acquired is impossible.
	lines := `{"index":0,"time":1000000,"process":0,"type":"invoke","f":"cycle","key":"l0","value":{"hold_ns":10}}
{"index":1,"time":2000000,"process":0,"type":"ok","f":"cycle","key":"l0","value":{"holder":"p0","acquire":"fail","read":"","write":"","release":""}}
`
	if err := os.WriteFile(r.HistoryPath(), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	page := readReport(t, r.Dir)
	if !strings.Contains(page, "the lock lanes are left out: event 1: lock: cycle ok value") {
		t.Error("the report does not say why the lock lanes are left out")
	}
	if pageDataOf(t, page).Locks != nil || strings.Contains(page, `id="locks"`) {
		t.Error("a bad lock value still gave lock lanes")
	}
	if pageDataOf(t, page).Timeline == nil {
		t.Error("a bad lock value took the timeline away")
	}
}

func TestContestedSpans(t *testing.T) {
	sec := func(holder string, start, end int64) lock.Section {
		return lock.Section{Lock: "l0", Holder: holder, Start: start, End: end}
	}
	for _, tc := range []struct {
		name string
		lane []lock.Section
		want []span
		rows []int
	}{
		{"apart", []lock.Section{sec("a", 0, 10), sec("b", 10, 20), sec("a", 30, 40)}, nil, []int{0, 0, 0}},
		{"same holder", []lock.Section{sec("a", 0, 10), sec("a", 5, 20)}, nil, []int{0, 1}},
		{"two", []lock.Section{sec("a", 0, 10), sec("b", 5, 20)}, []span{{5, 10}}, []int{0, 1}},
		{"inside", []lock.Section{sec("a", 0, 100), sec("b", 10, 20), sec("c", 50, 60)}, []span{{10, 20}, {50, 60}}, []int{0, 1, 1}},
		// b takes over from c at 20 while a still holds: one span.
		{"swap", []lock.Section{sec("a", 0, 100), sec("b", 10, 20), sec("c", 20, 30)}, []span{{10, 30}}, []int{0, 1, 1}},
		{"empty section", []lock.Section{sec("a", 0, 100), sec("b", 10, 10)}, nil, []int{0, 1}},
		{"deep", []lock.Section{sec("a", 0, 100), sec("b", 1, 100), sec("c", 2, 100), sec("d", 3, 100), sec("e", 4, 100)},
			[]span{{1, 100}}, []int{0, 1, 2, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := contested(tc.lane)
			if !slices.Equal(got, tc.want) {
				t.Errorf("spans = %v, want %v", got, tc.want)
			}
			rows, _ := sectionRows(tc.lane)
			if !slices.Equal(rows, tc.rows) {
				t.Errorf("rows = %v, want %v", rows, tc.rows)
			}
			for _, s := range tc.lane {
				if overlapsAny(got, s) != spansHit(got, s) {
					t.Errorf("overlapsAny(%+v) = %v", s, overlapsAny(got, s))
				}
			}
		})
	}
}

// spansHit reports by brute force whether s overlaps one of spans for a
// positive time.
func spansHit(spans []span, s lock.Section) bool {
	for _, sp := range spans {
		if min(sp.end, s.End) > max(sp.start, s.Start) {
			return true
		}
	}
	return false
}

func TestCompareKeys(t *testing.T) {
	keys := []string{"l10", "l2", "l1", "m0", "l02", "l", "k9"}
	slices.SortFunc(keys, compareKeys)
	if want := []string{"k9", "l", "l1", "l02", "l2", "l10", "m0"}; !slices.Equal(keys, want) {
		t.Errorf("sorted %q, want %q", keys, want)
	}
}

// TestReportOf100kLockCycles checks the size of the report of a lock run
// of 100,000 cycles.
func TestReportOf100kLockCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("large report skipped with -short")
	}
	h := histtest.LockCycles(100_000)
	r := writeLockRun(t, h)
	if err := Write(r.Dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(r.Path(runfolder.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	lj := pageDataOf(t, page).Locks
	if lj == nil {
		t.Fatal("no lock lanes")
	}
	secs, err := lock.Sections(h)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = json.Marshal(lj)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of 100,000 cycles, %d sections, %d overlapping: %.1f MB, of which the lock lanes' data %.1f MB",
		len(secs), lj.Overlapping, float64(len(page))/1e6, float64(len(raw))/1e6)
	if len(lj.Sections.D) != len(secs) || lj.Overlapping == 0 {
		t.Errorf("page holds %d sections, %d overlapping; want %d and some overlapping", len(lj.Sections.D), lj.Overlapping, len(secs))
	}
	if len(page) >= 20_000_000 {
		t.Errorf("report is %d bytes, want under 20 MB", len(page))
	}
}
