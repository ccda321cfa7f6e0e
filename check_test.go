package faultline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lines of a register history, for the check tests.
const (
	invokeW = `{"index":%d,"time":%d,"process":0,"type":"invoke","f":"write","key":"k0","value":1}`
	okW     = `{"index":%d,"time":%d,"process":0,"type":"ok","f":"write","key":"k0","value":1}`
	failW   = `{"index":%d,"time":%d,"process":0,"type":"fail","f":"write","key":"k0","value":1}`
	kill    = `{"index":%d,"time":%d,"process":-1,"type":"info","f":"start-kill","value":null}`
)

// lines numbers the event lines given as formats, index and time rising.
func lines(formats ...string) string {
	var b strings.Builder
	for i, f := range formats {
		fmt.Fprintf(&b, f+"\n", i, 1000*(i+1))
	}
	return b.String()
}

func checkFile(t *testing.T, content string) (*Result, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return Check(context.Background(), path, CheckConfig{Timeout: time.Minute})
}

// TestCheckRefusesWhatIsNotAHistory: these are not histories (exit 3),
// never valid.
func TestCheckRefusesWhatIsNotAHistory(t *testing.T) {
	cases := map[string]struct{ content, say string }{
		"empty":                     {"", "is not a history: the file is empty"},
		"blank lines only":          {"\n  \n\t\n", "is not a history: it holds only blank lines"},
		"only line cut off":         {`{"index":0,"time":1,"pro`, "line 1: invalid JSON"},
		"binary garbage":            {"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\n\x00\x00", "line 1: not a JSON object"},
		"binary without newline":    {"\x00\x01\x02\xff", "line 1: not a JSON object (the line is cut off"},
		"negative time":             {strings.Replace(lines(invokeW), `"time":1000`, `"time":-5`, 1), "line 1: time -5 is negative"},
		"time going backwards":      {lines(invokeW, kill) + `{"index":2,"time":1500,"process":0,"type":"ok","f":"write","key":"k0","value":1}` + "\n", "line 3: time 1500 is before the time 2000 of line 2"},
		"line over the cap":         {lines(invokeW) + `{"index":1,"time":5000,"process":-1,"type":"info","f":"x","value":"` + strings.Repeat("v", 1<<20) + `"}` + "\n", "line 2: line is longer than 1048576 bytes"},
		"index gap":                 {lines(invokeW) + `{"index":5,"time":5000,"process":0,"type":"ok","f":"write","key":"k0","value":1}` + "\n", "line 2: index 5, want 1"},
		"garbage after a good line": {lines(invokeW) + strings.Repeat("\x01\x02garbage", 1000) + "\n", "line 2: not a JSON object"},
	}
	for name, c := range cases {
		res, err := checkFile(t, c.content)
		if !errors.Is(err, ErrBadInput) || res != nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, %v; want bad input saying %q", name, res, err, c.say)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 600 {
			t.Errorf("%s: error is not one short line: %q", name, msg)
		}
	}
}

// TestCheckNothingToJudgeIsUnknown: a history in which no client
// operation completed, or none succeeded, is unknown (exit 2), never valid.
func TestCheckNothingToJudgeIsUnknown(t *testing.T) {
	cases := map[string]struct{ content, say string }{
		"nemesis only":               {lines(kill), "holds no client operation"},
		"only line, no newline":      {strings.TrimSuffix(lines(invokeW), "\n"), "none of the 1 client operations completed"},
		"invocations only":           {lines(invokeW, kill), "none of the 1 client operations completed"},
		"nothing succeeded":          {lines(invokeW, failW), "nothing succeeded"},
		"torn line after a complete": {lines(invokeW, failW) + `{"index":2,"ti`, "nothing succeeded"},
	}
	for name, c := range cases {
		res, err := checkFile(t, c.content)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if res.Verdict != Unknown || ExitCode(res, nil) != 2 {
			t.Errorf("%s: verdict %s, want unknown", name, res.Verdict)
		}
		last := res.Checkers[len(res.Checkers)-1]
		if last.Checker != "stats" || last.Verdict != Unknown || !strings.Contains(last.Summary, c.say) {
			t.Errorf("%s: stats says %+v, want %q", name, last, c.say)
		}
	}
	res, err := checkFile(t, lines(invokeW, okW)+`{"index":2,"ti`)
	if err != nil || res.Verdict != Valid || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "line 3") {
		t.Fatalf("a good history with a torn last line: %+v, %v; want valid with a note", res, err)
	}
}

// TestNoCheckerIsNotValid: the composition of no checker is unknown.
func TestNoCheckerIsNotValid(t *testing.T) {
	if v := combine(nil); v == Valid {
		t.Fatalf("no checker composes to %s", v)
	}
}

// TestSummaryAboutTheVariantOnlyForItsWorkloads: an invalid run's summary
// describes the variant only when the variant concerns the run's
// workload (postgres's variants are about the idempotency workload).
func TestSummaryAboutTheVariantOnlyForItsWorkloads(t *testing.T) {
	r := &Result{Verdict: Invalid}
	for wl, want := range map[string]bool{"idempotency": true, "bank": false} {
		var b strings.Builder
		r.WriteSummary(&b, &Test{Target: "postgres", Variant: "check-then-insert", Workload: wl})
		if got := strings.Contains(b.String(), "About postgres check-then-insert"); got != want {
			t.Errorf("workload %s: the summary describes the variant: %v, want %v\n%s", wl, got, want, b.String())
		}
	}
}
