package jepsen_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/results/jepsen"
	"github.com/faultline/faultline/workloads/register"
)

// porcupineModule is the module whose test data holds Jepsen's etcd
// histories with published verdicts.
const porcupineModule = "github.com/anishathalye/porcupine"

// publishedCase is one etcd history of porcupine's test data and the
// verdict porcupine's own tests expect of it.
type publishedCase struct {
	log          string // path of etcd_NNN.log
	num          int
	linearizable bool
}

// publishedCases reads, from porcupine's source in the module cache, the
// verdicts its tests publish for the etcd histories (the calls
// checkJepsen(t, N, linearizable) in porcupine_test.go), with the logs'
// paths. Outside CI the test skips when the module's source is missing;
// under CI (where `go mod download` has fetched it) that is a failure.
func publishedCases(t *testing.T) []publishedCase {
	t.Helper()
	dir, err := moduleDir(porcupineModule)
	testenv.Need(t, "the source of "+porcupineModule+" in the module cache", err, "run go mod download")
	src, err := os.ReadFile(filepath.Join(dir, "porcupine_test.go"))
	if err != nil {
		t.Fatalf("read the published verdicts: %v", err)
	}
	re := regexp.MustCompile(`checkJepsen\(t, (\d+), (true|false)\)`)
	var cases []publishedCase
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[1])
		cases = append(cases, publishedCase{
			log:          filepath.Join(dir, "test_data", "jepsen", fmt.Sprintf("etcd_%03d.log", n)),
			num:          n,
			linearizable: m[2] == "true",
		})
	}
	// porcupine v1.3.1 publishes 102 verdicts (etcd_000 to etcd_102 but
	// the empty etcd_095), 23 of them linearizable.
	valid := 0
	for _, c := range cases {
		if c.linearizable {
			valid++
		}
	}
	if len(cases) != 102 || valid != 23 {
		t.Fatalf("found %d published verdicts, %d linearizable, in %s; want 102 and 23", len(cases), valid, dir)
	}
	return cases
}

// moduleDir returns the folder of module mod's source in the module
// cache, as `go list -m` reports it.
func moduleDir(mod string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m %s: the module is not in the module cache", mod)
	}
	if _, err := os.Stat(filepath.Join(dir, "test_data", "jepsen")); err != nil {
		return "", err
	}
	return dir, nil
}

// linearizable checks h with the register workload's model, as
// `faultline check` does, and returns the verdict and the per-key details.
func linearizable(t *testing.T, h core.History) (core.Verdict, *checkers.LinearizabilityDetails) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	res, err := checkers.Linearizable(ctx, h, register.Model{}, checkers.LinearizabilityOptions{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return res.Verdict, res.Details.(*checkers.LinearizabilityDetails)
}

func want(c publishedCase) core.Verdict {
	if c.linearizable {
		return core.Valid
	}
	return core.Invalid
}

// TestPublishedVerdictsOfJepsenEtcdLogs reads every etcd history of
// porcupine's test data as Jepsen's textual log and checks that faultline's
// verdict is the one porcupine publishes for it.
func TestPublishedVerdictsOfJepsenEtcdLogs(t *testing.T) {
	start := time.Now()
	var slowest time.Duration
	slowestLog := ""
	for _, c := range publishedCases(t) {
		h, info, err := jepsen.ReadFile(c.log)
		if err != nil {
			t.Fatalf("etcd_%03d.log: %v", c.num, err)
		}
		if info.Format != jepsen.FormatLog || info.Timed || info.Independent || info.Skipped != 0 {
			t.Fatalf("etcd_%03d.log read as %+v; want an untimed single-key log with no skipped line", c.num, info)
		}
		if _, err := checkers.Pair(h); err != nil {
			t.Fatalf("etcd_%03d.log: the history does not pair: %v", c.num, err)
		}
		began := time.Now()
		got, d := linearizable(t, h)
		if took := time.Since(began); took > slowest {
			slowest, slowestLog = took, filepath.Base(c.log)
		}
		if got != want(c) {
			t.Errorf("etcd_%03d.log: verdict %s; porcupine publishes %s", c.num, got, want(c))
		}
		if d.Keys != 1 || d.PerKey[0].Key != jepsen.SingleKey {
			t.Errorf("etcd_%03d.log: keys %+v; want the one key %s", c.num, d.PerKey, jepsen.SingleKey)
		}
	}
	t.Logf("102 published verdicts matched in %v (slowest check: %s, %v)", time.Since(start).Round(time.Millisecond), slowestLog, slowest.Round(time.Millisecond))
}

// ednOf writes h as Jepsen EDN: one operation map a line, each client
// operation on key (nil: plain values, else [key value] tuples), with
// :time when timed, wrapped in open and close ("" for none).
func ednOf(h core.History, key *int, timed bool, open, close string) string {
	var b strings.Builder
	b.WriteString(open)
	for _, e := range h {
		process := strconv.Itoa(e.Process)
		if e.Process == core.NemesisProcess {
			process = ":nemesis"
		}
		v := "nil"
		switch x := e.Value.(type) {
		case int64:
			v = strconv.FormatInt(x, 10)
		case [2]int64:
			v = fmt.Sprintf("[%d %d]", x[0], x[1])
		}
		if e.F == "read" && e.Type != core.Invoke && e.Type != core.OK {
			v = ":timed-out"
		}
		if key != nil && v != ":timed-out" {
			v = fmt.Sprintf("[%d %s]", *key, v)
		}
		fmt.Fprintf(&b, "{:process %s, :type :%s, :f :%s, :value %s", process, e.Type, e.F, v)
		if timed {
			fmt.Fprintf(&b, ", :time %d", e.Time)
		}
		b.WriteString("}\n")
	}
	b.WriteString(close)
	return b.String()
}

// TestPublishedVerdictsThroughEDN converts a few of the etcd logs to EDN
// (a vector, a list, bare maps; with and without :time) and checks that
// the EDN path reads the same events and gives the published verdicts;
// then puts several logs on independent keys of one history and checks
// each key's verdict.
func TestPublishedVerdictsThroughEDN(t *testing.T) {
	cases := publishedCases(t)
	pick := map[int]bool{0: true, 2: true, 7: true, 11: true, 25: true, 57: true, 75: true, 99: true}
	var picked []publishedCase
	for _, c := range cases {
		if pick[c.num] {
			picked = append(picked, c)
		}
	}
	if len(picked) != len(pick) {
		t.Fatalf("picked %d logs, want %d", len(picked), len(pick))
	}
	dir := t.TempDir()
	var combined strings.Builder
	combined.WriteString("; several etcd logs, each on its own key\n[\n")
	offset := 0
	for i, c := range picked {
		fromLog, _, err := jepsen.ReadFile(c.log)
		if err != nil {
			t.Fatal(err)
		}
		layouts := []struct{ open, close string }{{"[", "]"}, {"(", ")"}, {"", ""}}
		lay := layouts[i%len(layouts)]
		timed := i%2 == 0
		path := filepath.Join(dir, fmt.Sprintf("etcd_%03d.edn", c.num))
		if err := os.WriteFile(path, []byte(ednOf(fromLog, nil, timed, lay.open, lay.close)), 0o644); err != nil {
			t.Fatal(err)
		}
		fromEDN, info, err := jepsen.ReadFile(path)
		if err != nil {
			t.Fatalf("etcd_%03d.edn: %v", c.num, err)
		}
		if info.Format != jepsen.FormatEDN || info.Timed != timed {
			t.Fatalf("etcd_%03d.edn read as %+v", c.num, info)
		}
		if !sameEvents(fromLog, fromEDN) {
			t.Fatalf("etcd_%03d: the EDN gives other events than the log", c.num)
		}
		if got, _ := linearizable(t, fromEDN); got != want(c) {
			t.Errorf("etcd_%03d.edn: verdict %s; porcupine publishes %s", c.num, got, want(c))
		}
		// The same operations on key c.num, by processes of their own.
		shifted := slices.Clone(fromLog)
		for j := range shifted {
			shifted[j].Process += offset
		}
		offset += 1000
		key := c.num
		combined.WriteString(ednOf(shifted, &key, false, "", ""))
	}
	combined.WriteString("]\n")
	path := filepath.Join(dir, "independent.edn")
	if err := os.WriteFile(path, []byte(combined.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h, info, err := jepsen.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Independent {
		t.Fatalf("independent.edn read as %+v; want independent keys", info)
	}
	got, d := linearizable(t, h)
	if got != core.Invalid {
		t.Errorf("independent.edn: verdict %s; want invalid (some of its keys are)", got)
	}
	if d.Keys != len(picked) {
		t.Fatalf("independent.edn: %d keys, want %d", d.Keys, len(picked))
	}
	for _, c := range picked {
		key := strconv.Itoa(c.num)
		i := slices.IndexFunc(d.PerKey, func(k checkers.KeyDetails) bool { return k.Key == key })
		if i < 0 {
			t.Fatalf("independent.edn: no key %s in %+v", key, d.PerKey)
		}
		if d.PerKey[i].Verdict != want(c) {
			t.Errorf("independent.edn key %s (etcd_%03d): verdict %s; porcupine publishes %s", key, c.num, d.PerKey[i].Verdict, want(c))
		}
	}
}

// sameEvents compares two histories event by event, times aside.
func sameEvents(a, b core.History) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Time, y.Time = 0, 0
		if x.Error != "" || y.Error != "" {
			x.Error, y.Error = "", ""
		}
		if fmt.Sprintf("%#v", x) != fmt.Sprintf("%#v", y) {
			return false
		}
	}
	return true
}
