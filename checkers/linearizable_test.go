package checkers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads/register"
)

// searchOnly is a model without the register model's UniqueRegister side,
// so that its keys go to porcupine's search: the tests of deadlines,
// budgets and crashes need a search that takes long, and the unique-values
// algorithm decides their histories at once.
type searchOnly struct{ checkers.Model }

// hardHistory returns, on key, n writes that all overlap followed by a read
// of a value none of them wrote. Proving it non-linearizable means trying
// every subset of the writes in every order, which porcupine cannot finish
// for n around 40 (check it with searchOnly: the unique-values algorithm
// decides it at once).
func hardHistory(h core.History, key string, n int) core.History {
	t := int64(0)
	if len(h) > 0 {
		t = h[len(h)-1].Time
	}
	add := func(p int, typ core.Type, f string, v any) {
		t++
		h = append(h, core.Event{Index: len(h), Time: t, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	}
	for p := range n {
		add(p, core.Invoke, register.Write, int64(p+1))
	}
	for p := range n {
		add(p, core.OK, register.Write, int64(p+1))
	}
	add(n, core.Invoke, register.Read, nil)
	add(n, core.OK, register.Read, int64(-1))
	return h
}

// staleRead returns h with a stale read on key appended.
func staleRead(h core.History, key string) core.History {
	t := int64(0)
	if len(h) > 0 {
		t = h[len(h)-1].Time
	}
	add := func(p int, typ core.Type, f string, v any) {
		t++
		h = append(h, core.Event{Index: len(h), Time: t, Process: p, Op: core.Op{Type: typ, F: f, Key: key, Value: v}})
	}
	add(0, core.Invoke, register.Write, int64(1001))
	add(0, core.OK, register.Write, int64(1001))
	add(0, core.Invoke, register.Write, int64(1002))
	add(0, core.OK, register.Write, int64(1002))
	add(1, core.Invoke, register.Read, nil)
	add(1, core.OK, register.Read, int64(1001))
	return h
}

func details(t *testing.T, res core.CheckResult) *checkers.LinearizabilityDetails {
	t.Helper()
	d, ok := res.Details.(*checkers.LinearizabilityDetails)
	if !ok {
		t.Fatalf("details are %T", res.Details)
	}
	return d
}

func TestExpiredDeadlineIsUnknown(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for name, h := range map[string]core.History{
		"hard":         hardHistory(nil, "k0", 40),
		"easy, valid":  simulate(3, 200, 2, 3, 0),
		"easy, broken": staleRead(nil, "k0"),
	} {
		res, err := checkers.Linearizable(ctx, h, register.Model{}, checkers.LinearizabilityOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != core.Unknown {
			t.Errorf("%s: verdict %s under an expired deadline, want unknown", name, res.Verdict)
		}
	}
}

func TestShortDeadlineOnHardHistoryIsUnknown(t *testing.T) {
	h := hardHistory(nil, "k0", 40)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := checkers.Linearizable(ctx, h, searchOnly{register.Model{}}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Unknown {
		t.Fatalf("verdict %s, want unknown", res.Verdict)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("check took %v past a 200ms deadline", elapsed)
	}
	if d := details(t, res); d.UnknownKeys != 1 || !strings.Contains(res.Summary, "k0") {
		t.Errorf("summary %q / %d unknown keys, want k0 named as unknown", res.Summary, d.UnknownKeys)
	}
}

func TestCancelledCheckIsUnknown(t *testing.T) {
	h := hardHistory(nil, "k0", 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(100*time.Millisecond, cancel)
	defer stop.Stop()
	res, err := checkers.Linearizable(ctx, h, searchOnly{register.Model{}}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Unknown {
		t.Fatalf("verdict %s after cancellation, want unknown", res.Verdict)
	}
}

// TestInvalidBeatsUnknown has one key that cannot be decided in time and
// one that is plainly invalid.
func TestInvalidBeatsUnknown(t *testing.T) {
	h := staleRead(hardHistory(nil, "k7", 40), "k3")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := checkers.Linearizable(ctx, h, searchOnly{register.Model{}}, checkers.LinearizabilityOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Invalid {
		t.Fatalf("verdict %s, want invalid", res.Verdict)
	}
	if len(res.Anomalies) != 1 || res.Anomalies[0].Key != "k3" {
		t.Fatalf("anomalies %+v, want one on k3", res.Anomalies)
	}
	d := details(t, res)
	if d.InvalidKeys != 1 || d.UnknownKeys != 1 || d.PerKey[0].Key != "k3" || d.PerKey[1].Verdict != core.Unknown {
		t.Errorf("details %+v, want k3 invalid and k7 unknown", *d)
	}
}

func TestVisualizationWrittenForInvalidKeys(t *testing.T) {
	dir := t.TempDir()
	h := staleRead(simulate(4, 500, 3, 3, 0.02), "k1")
	h = append(h, core.Event{Index: len(h), Time: h[len(h)-1].Time + 1, Process: core.NemesisProcess,
		Op: core.Op{Type: core.Info, F: "start-partition"}})
	res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Invalid {
		t.Fatalf("verdict %s (%s), want invalid", res.Verdict, res.Summary)
	}
	if len(res.Files) != 1 || res.Files[0] != "linearizability-k1.html" {
		t.Fatalf("files %v, want [linearizability-k1.html]", res.Files)
	}
	page, err := os.ReadFile(filepath.Join(dir, res.Files[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"read returned 1001", "partition", "process 1, events"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("visualization lacks %q", want)
		}
	}
	if d := details(t, res); d.VisualizationError != "" {
		t.Errorf("visualization error %q", d.VisualizationError)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("run folder holds %d entries (%v), want the one visualization", len(entries), err)
	}
}

func TestNoFilesForValidHistory(t *testing.T) {
	dir := t.TempDir()
	res, err := checkers.Linearizable(context.Background(), simulate(5, 500, 3, 3, 0.02), register.Model{},
		checkers.LinearizabilityOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Valid || len(res.Files) != 0 {
		t.Fatalf("verdict %s files %v, want valid and none", res.Verdict, res.Files)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("run folder holds %d entries, want none", len(entries))
	}
}

func TestEmptyHistoryIsValid(t *testing.T) {
	res, err := checkers.Linearizable(context.Background(), nil, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Valid || res.Checker != checkers.LinearizabilityName {
		t.Errorf("empty history: %s from %q", res.Verdict, res.Checker)
	}
}

func TestMalformedHistoryIsBadInput(t *testing.T) {
	h := core.History{ev(0, 10, 3, core.OK, register.Read, "k0", nil)}
	res, err := checkers.Linearizable(context.Background(), h, register.Model{}, checkers.LinearizabilityOptions{})
	if err == nil || res.Verdict != core.Unknown {
		t.Fatalf("error %v verdict %s, want an error and unknown", err, res.Verdict)
	}
}

// TestSmallHardHistoryIsInvalid shows that the history used for the
// deadline tests is indeed not linearizable, so unknown is not a default.
func TestSmallHardHistoryIsInvalid(t *testing.T) {
	res, err := checkers.Linearizable(context.Background(), hardHistory(nil, "k0", 10), register.Model{},
		checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != core.Invalid || len(res.Anomalies) != 1 {
		t.Fatalf("verdict %s with %d anomalies, want invalid with 1", res.Verdict, len(res.Anomalies))
	}
	// Any of the ten writes may be the last before the read.
	want := "key k0: read returned -1 (process 10, 0.000s–0.000s), but in every order consistent with real time " +
		"k0 is 1, 2, 3, 4, 5 or 5 other values while it runs"
	if a := res.Anomalies[0]; a.Description != want || !contains(a.Events, 21) {
		t.Errorf("anomaly %q with events %v, want %q with event 21", a.Description, a.Events, want)
	}
}
