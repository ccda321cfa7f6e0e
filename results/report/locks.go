package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/lock"
)

// This file builds the data behind the report's lock lanes: the critical
// sections of the lock workload's cycles (lock.Sections), one lane per
// lock, and the spans during which two holders held one lock. The page
// draws them on the timeline's time axis, merging the sections that fall
// on the same pixel, as it does the operations.

// maxLockRows bounds the rows of one lock's lane: sections that overlap
// more deeply than this share the last row.
const maxLockRows = 4

// locksJSON is the embedded data of the lock lanes. Times are µs since
// the run started.
type locksJSON struct {
	// Locks labels each lane: the locks that had a cycle, in natural
	// order (l2 before l10).
	Locks []string `json:"locks"`
	// Rows is, for each lane, how many rows its sections take: the most
	// sections of that lock held at once, at most maxLockRows.
	Rows []int `json:"rows"`
	// Holders is the table the sections' H column indexes.
	Holders []string `json:"holders"`
	// Sections holds one entry per critical section in every column,
	// lane by lane, each lane by start.
	Sections sectionColumns `json:"sections"`
	// Spans are the times during which two or more holders held one lock.
	Spans spanColumns `json:"spans"`
	// Anomalies lists, for each anomaly shown in the page (by its id),
	// the positions in Sections of the sections it names: both sections
	// of a lock-overlap, nothing for other anomalies.
	Anomalies [][]int `json:"anomalies"`
	// Overlapping counts the sections that overlap another holder's.
	Overlapping int `json:"overlapping"`
}

// Flags of a section, in its X column.
const (
	sectionOverlaps = 1 // overlaps another holder's section of its lock
	sectionCutShort = 2 // never began to release: held until its cycle ended
)

// sectionColumns holds the critical sections column by column.
type sectionColumns struct {
	S []int64 `json:"s"` // acquired, as the difference from the previous section's
	D []int64 `json:"d"` // from acquired to the start of the release
	L []int   `json:"l"` // lane
	R []int   `json:"r"` // row in the lane
	H []int   `json:"h"` // index into Holders
	K []int64 `json:"k"` // fencing token, 0 for none
	P []int   `json:"p"` // client process
	I []int   `json:"i"` // the cycle's invocation index, as the difference from the previous section's
	C []int   `json:"c"` // the cycle's completion index minus its invocation's
	X []int   `json:"x"` // flags: sectionOverlaps, sectionCutShort
}

// spanColumns holds the overlap spans column by column, lane by lane,
// each lane by start.
type spanColumns struct {
	L []int   `json:"l"`
	S []int64 `json:"s"`
	E []int64 `json:"e"`
}

// span is a time interval in nanoseconds.
type span struct{ start, end int64 }

// lockSections returns the critical sections of the lock cycles among ops
// (paired from the report's history, whose values are raw JSON) and the
// locks those cycles took. It returns no locks when ops hold no cycle, and
// an error when a cycle's value is not the lock workload's.
func lockSections(ops []checkers.Operation) (secs []lock.Section, locks []string, err error) {
	var h core.History
	seen := map[string]bool{}
	var w lock.Workload
	for i := range ops {
		op := &ops[i]
		if op.F != lock.Cycle {
			continue
		}
		if !seen[op.Key] {
			seen[op.Key] = true
			locks = append(locks, op.Key)
		}
		h = append(h, core.Event{Index: op.Invoke, Time: op.Start, Process: op.Process,
			Op: core.Op{Type: core.Invoke, F: op.F, Key: op.Key}})
		if !op.Completed() {
			continue
		}
		v := op.Output
		if raw, ok := v.(json.RawMessage); ok {
			if v, err = w.DecodeValue(op.F, op.Type, raw); err != nil {
				return nil, nil, fmt.Errorf("event %d: %w", op.Complete, err)
			}
		}
		h = append(h, core.Event{Index: op.Complete, Time: op.End, Process: op.Process,
			Op: core.Op{Type: op.Type, F: op.F, Key: op.Key, Value: v}})
	}
	if len(locks) == 0 {
		return nil, nil, nil
	}
	secs, err = lock.Sections(h)
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(locks, compareKeys)
	return secs, locks, nil
}

// buildLocks lays out secs on one lane per lock of locks. anomalies holds
// the history indices each shown anomaly names, kinds their kinds.
func buildLocks(secs []lock.Section, locks []string, anomalies [][]int, kinds []string) *locksJSON {
	laneOf := make(map[string]int, len(locks))
	for i, l := range locks {
		laneOf[l] = i
	}
	byLane := make([][]lock.Section, len(locks))
	for _, s := range secs {
		l := laneOf[s.Lock]
		byLane[l] = append(byLane[l], s)
	}
	n := len(secs)
	c := sectionColumns{
		S: make([]int64, 0, n), D: make([]int64, 0, n), L: make([]int, 0, n), R: make([]int, 0, n), H: make([]int, 0, n),
		K: make([]int64, 0, n), P: make([]int, 0, n), I: make([]int, 0, n), C: make([]int, 0, n), X: make([]int, 0, n),
	}
	lj := &locksJSON{Locks: locks, Rows: make([]int, len(locks)), Anomalies: make([][]int, len(anomalies))}
	var holders interner
	posOf := make(map[int]int, n) // a cycle's invocation or completion index → its section's position
	var prevStart int64
	prevIndex := 0
	for l, lane := range byLane {
		slices.SortStableFunc(lane, func(a, b lock.Section) int {
			if a.Start != b.Start {
				return cmp.Compare(a.Start, b.Start)
			}
			return a.Invoke - b.Invoke
		})
		rows, nRows := sectionRows(lane)
		lj.Rows[l] = max(nRows, 1)
		spans := contested(lane)
		for _, sp := range spans {
			lj.Spans.L = append(lj.Spans.L, l)
			lj.Spans.S = append(lj.Spans.S, sp.start/1000)
			lj.Spans.E = append(lj.Spans.E, sp.end/1000)
		}
		for i, s := range lane {
			start := s.Start / 1000
			flags := 0
			if overlapsAny(spans, s) {
				flags |= sectionOverlaps
				lj.Overlapping++
			}
			if s.CutShort {
				flags |= sectionCutShort
			}
			posOf[s.Invoke] = len(c.S)
			posOf[s.Complete] = len(c.S)
			c.S = append(c.S, start-prevStart)
			c.D = append(c.D, s.End/1000-start)
			c.L = append(c.L, l)
			c.R = append(c.R, rows[i])
			c.H = append(c.H, holders.id(s.Holder))
			c.K = append(c.K, s.Token)
			c.P = append(c.P, s.Process)
			c.I = append(c.I, s.Invoke-prevIndex)
			c.C = append(c.C, s.Complete-s.Invoke)
			c.X = append(c.X, flags)
			prevStart, prevIndex = start, s.Invoke
		}
	}
	lj.Sections = c
	lj.Holders = holders.strings()
	for i, events := range anomalies {
		pos := []int{}
		if kinds[i] == lock.OverlapKind {
			for _, e := range events {
				if p, ok := posOf[e]; ok && !slices.Contains(pos, p) {
					pos = append(pos, p)
				}
			}
		}
		lj.Anomalies[i] = pos
	}
	if lj.Spans.L == nil {
		lj.Spans = spanColumns{L: []int{}, S: []int64{}, E: []int64{}}
	}
	return lj
}

// sectionRows gives each section of lane (one lock's, by start) a row: the
// first row free when it starts, so that sections held at once are drawn
// one above the other. It returns the rows and how many there are.
func sectionRows(lane []lock.Section) (rows []int, n int) {
	rows = make([]int, len(lane))
	var free []int64 // when each row is free again
	for i, s := range lane {
		row := -1
		for r, f := range free {
			if f <= s.Start {
				row = r
				break
			}
		}
		if row < 0 && len(free) < maxLockRows {
			row = len(free)
			free = append(free, 0)
		}
		if row < 0 { // as deep as the lane goes: the row free soonest
			row = 0
			for r, f := range free {
				if f < free[row] {
					row = r
				}
			}
		}
		free[row] = max(free[row], s.End)
		rows[i] = row
	}
	return rows, len(free)
}

// contested returns the spans, by start, during which two or more
// different holders held the lock of lane: where its sections overlap as
// CheckMutualExclusion counts them (a holder does not overlap itself, and
// sections that merely touch do not overlap).
func contested(lane []lock.Section) []span {
	type edge struct {
		t      int64
		enter  bool
		holder string
	}
	edges := make([]edge, 0, 2*len(lane))
	for _, s := range lane {
		if s.End <= s.Start {
			continue
		}
		edges = append(edges, edge{s.Start, true, s.Holder}, edge{s.End, false, s.Holder})
	}
	slices.SortStableFunc(edges, func(a, b edge) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		switch { // leaving before entering: touching sections do not overlap
		case !a.enter && b.enter:
			return -1
		case a.enter && !b.enter:
			return 1
		}
		return 0
	})
	holding := map[string]int{}
	var out []span
	var since int64
	for _, e := range edges {
		before := len(holding)
		if e.enter {
			holding[e.holder]++
		} else if holding[e.holder]--; holding[e.holder] == 0 {
			delete(holding, e.holder)
		}
		after := len(holding)
		switch {
		case before < 2 && after >= 2:
			since = e.t
		case before >= 2 && after < 2 && e.t > since:
			if n := len(out); n > 0 && out[n-1].end == since {
				out[n-1].end = e.t // one holder swapped for another: one span
			} else {
				out = append(out, span{since, e.t})
			}
		}
	}
	return out
}

// overlapsAny reports whether s overlaps, for a positive time, one of
// spans (sorted by start, disjoint).
func overlapsAny(spans []span, s lock.Section) bool {
	i, _ := slices.BinarySearchFunc(spans, s.Start, func(sp span, t int64) int {
		if sp.end <= t {
			return -1
		}
		return 1
	})
	return i < len(spans) && spans[i].start < s.End && s.End > s.Start
}

// locksNote says in a sentence what the lock lanes show.
func locksNote(lj *locksJSON) string {
	n := len(lj.Sections.D)
	note := fmt.Sprintf("%s by %s on %s", countOf(n, "critical section"), countOf(len(lj.Holders), "holder"), countOf(len(lj.Locks), "lock"))
	if lj.Overlapping == 0 {
		return note + "; no two holders of one lock overlap."
	}
	var locks []string
	seen := map[int]bool{}
	for _, l := range lj.Spans.L {
		if !seen[l] {
			seen[l] = true
			locks = append(locks, lj.Locks[l])
		}
	}
	shown := locks
	more := ""
	if len(locks) > 5 {
		shown, more = locks[:5], fmt.Sprintf(" and %d more", len(locks)-5)
	}
	return fmt.Sprintf("%s; %s overlap another holder's on %s%s (red, the overlapping time marked).",
		note, countOf(lj.Overlapping, "section"), strings.Join(shown, ", "), more)
}

// countOf renders "1 lock" or "3 locks".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// compareKeys orders keys by their text before a trailing number, then by
// that number: "l2" before "l10".
func compareKeys(a, b string) int {
	pa, na := splitDigits(a)
	pb, nb := splitDigits(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if len(na) != len(nb) {
		return len(na) - len(nb)
	}
	if c := strings.Compare(na, nb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// splitDigits splits s into its text and its trailing digits, the digits
// without leading zeros.
func splitDigits(s string) (text, digits string) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	return s[:i], strings.TrimLeft(s[i:], "0")
}
