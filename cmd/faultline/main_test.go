package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary the faultline command too: scripts and
// Go tests run `faultline` from PATH (a copy of this binary that runs
// main), so no separate build is needed. Nodes of the local provider are
// that same copy, re-executed.
func TestMain(m *testing.M) {
	faultline.NodeMain()
	testscript.Main(cleanupM{m}, map[string]func(){
		"faultline": func() { os.Exit(execute(os.Args[1:])) },
	})
}

// cleanupM runs the tests, then removes what they built.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	removeStaticBinary()
	return code
}

// TestScripts runs the CLI scripts of testdata/script: each drives
// `faultline` and asserts its exit code, output and files.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("CI", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"refuses":  cmdRefuses,
			"norepeat": cmdNoRepeat,
			"onejson":  cmdOneJSON,
		},
	})
}

// cmdExits is the script command `exits CODE PROGRAM [ARGS...]`: it runs
// the program like exec and fails unless it exits with CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	code := 0
	var ee *exec.ExitError
	if err := ts.Exec(args[1], args[2:]...); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	if code != want {
		ts.Fatalf("%s exited %d, want %d", args[1], code, want)
	}
}

// cmdRefuses is the script command `refuses PROGRAM [ARGS...]`: it runs
// the program like exec and fails unless the program refuses as bad input
// must be refused: exit 3, nothing on stdout, and one line on stderr that
// starts "faultline: " and repeats no prefix.
func cmdRefuses(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: refuses PROGRAM [ARGS...]")
	}
	cmdExits(ts, false, append([]string{"3"}, args...))
	if out := ts.ReadFile("stdout"); out != "" {
		ts.Fatalf("stdout is not empty: %q", out)
	}
	errOut := ts.ReadFile("stderr")
	if strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") || !strings.HasPrefix(errOut, "faultline: ") {
		ts.Fatalf("stderr is not one line starting \"faultline: \": %q", errOut)
	}
	cmdNoRepeat(ts, false, []string{"stderr"})
}

// cmdOneJSON is the script command `onejson`: it fails unless the last
// command's stdout is exactly one JSON object on one line, with an
// exit_code, and, when it has no verdict, exit_code 3 and an error.
func cmdOneJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: onejson")
	}
	out := ts.ReadFile("stdout")
	dec := json.NewDecoder(strings.NewReader(out))
	var s struct {
		Verdict  string `json:"verdict"`
		ExitCode *int   `json:"exit_code"`
		Error    string `json:"error"`
	}
	if err := dec.Decode(&s); err != nil {
		ts.Fatalf("stdout is not a JSON object: %v: %q", err, out)
	}
	if dec.More() || strings.Count(out, "\n") != 1 {
		ts.Fatalf("stdout holds more than one JSON object, on one line: %q", out)
	}
	if s.ExitCode == nil || (s.Verdict == "" && (*s.ExitCode != 3 || s.Error == "")) {
		ts.Fatalf("summary without a verdict must have exit_code 3 and an error: %q", out)
	}
}

// cmdNoRepeat is the script command `norepeat stderr|stdout`: it fails
// when a line of the last command's output repeats a prefix, as in
// "create run folder: create run folder: ...".
func cmdNoRepeat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || (args[0] != "stderr" && args[0] != "stdout") {
		ts.Fatalf("usage: norepeat stderr|stdout")
	}
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		if p := repeatedPrefix(line); p != "" {
			ts.Fatalf("%q repeats %q", line, p)
		}
	}
}

// repeatedPrefix returns a segment of an error line (the parts between
// ": ") that a later segment starts with again, for example "write report"
// in "write report: write report: disk full", or "" when there is none.
// Words are compared, so "write history" repeats in "write history: write
// history event 3: ..." but a single word ("k0") may come back. Errors
// joined with "; " are looked at one by one; a leading "faultline" is not
// a segment.
func repeatedPrefix(line string) string {
	for _, clause := range strings.Split(strings.TrimPrefix(line, "faultline: "), "; ") {
		segs := strings.Split(clause, ": ")
		for i, a := range segs {
			wa := strings.Fields(a)
			if len(wa) < 2 {
				continue
			}
			for _, b := range segs[i+1:] {
				wb := strings.Fields(b)
				if len(wb) >= len(wa) && slices.Equal(wa, wb[:len(wa)]) {
					return a
				}
			}
		}
	}
	return ""
}

func TestRepeatedPrefix(t *testing.T) {
	for line, want := range map[string]string{
		"faultline: create run folder: create run folder: mkdir x: not a directory": "create run folder",
		"faultline: write history: write history event 3: disk full":                "write history",
		"faultline: update latest link: update latest: x exists":                    "",
		"faultline: start cluster: start timeout 1µs (--start-timeout) passed: n1":  "",
		"faultline: k0: k0: bad": "",
		"faultline: start cluster: node n1: not ready: x; node n2: not ready: x": "",
		"faultline: a: b c: d; e f: e f g":                                       "e f",
		"faultline: run interrupted during the check":                            "",
	} {
		if got := repeatedPrefix(line); got != want {
			t.Errorf("repeatedPrefix(%q) = %q, want %q", line, got, want)
		}
	}
}

// faultlineBinary is the faultline command that TestMain put on PATH.
func faultlineBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("faultline")
	if err != nil {
		t.Fatalf("faultline is not on PATH: %v", err)
	}
	return p
}

// cli runs faultline with args and returns its exit code, stdout and
// stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cliWith(t, faultlineBinary(t), args...)
}

// cliWith runs the faultline binary bin with args.
func cliWith(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// nodeProcesses returns the pids of live node processes whose data lives
// under dir, found by their environment.
func nodeProcesses(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if bytes.HasPrefix(kv, []byte("FAULTLINE_NODE_CONFIG=")) && bytes.Contains(kv, []byte(dir)) {
				pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				if err == nil && !isZombie(pid) {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// clusterAddrs reads every address the run bound (nodes and proxies) from
// the run folder's nodes/cluster.json.
func clusterAddrs(t *testing.T, runDir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "nodes", "cluster.json"))
	if err != nil {
		t.Fatalf("read cluster.json: %v", err)
	}
	var c struct {
		Addrs []string `json:"addrs"`
	}
	if err := json.Unmarshal(b, &c); err != nil || len(c.Addrs) == 0 {
		t.Fatalf("cluster.json lists no addresses: %v", err)
	}
	return c.Addrs
}

func assertNothingLeft(t *testing.T, runDir string) {
	t.Helper()
	if pids := nodeProcesses(t, runDir); len(pids) != 0 {
		t.Errorf("node processes still running: %v", pids)
	}
	for _, a := range clusterAddrs(t, runDir) {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("address %s still bound: %v", a, err)
			continue
		}
		l.Close()
	}
}

// startRun starts `faultline run` in the background and waits until its
// history holds at least minEvents events; it returns the command and the
// run folder.
func startRun(t *testing.T, results string, minEvents int, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startRunWith(t, faultlineBinary(t), results, minEvents, args...)
}

// startRunWith is startRun with the faultline binary bin.
func startRunWith(t *testing.T, bin, results string, minEvents int, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run", "--results", results}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		dirs, _ := filepath.Glob(filepath.Join(results, "demo-kv-register", "*"))
		if len(dirs) == 1 && countLines(filepath.Join(dirs[0], "history.jsonl")) >= minEvents {
			return cmd, dirs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("run never recorded %d events; stderr: %s", minEvents, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		n++
	}
	return n
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("faultline did not exit within %s", within)
		return -1
	}
}

func TestSIGINTAndSIGTERMCleanUp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			results := t.TempDir()
			cmd, dir := startRun(t, results, 200, "--time-limit", "60s", "--nemesis", "partition,pause", "--nemesis-interval", "1s")
			if len(nodeProcesses(t, dir)) != 3 {
				t.Fatalf("expected 3 live node processes mid-run")
			}
			cmd.Process.Signal(sig)
			if code := waitExit(t, cmd, 60*time.Second); code != 3 {
				t.Errorf("interrupted run exit %d, want 3", code)
			}
			assertNothingLeft(t, dir)
			// What was recorded is kept and checkable.
			if code, out, stderr := cli(t, "check", dir); code > 2 {
				t.Fatalf("check of interrupted run: exit %d: %s %s", code, out, stderr)
			}
		})
	}
}

func TestSetupErrorCleansUp(t *testing.T) {
	results := t.TempDir()
	// Nodes cannot become ready in a microsecond: setup fails after the
	// processes and proxies have started.
	code, _, stderr := cli(t, "run", "--results", results, "--start-timeout", "1us", "--time-limit", "5s")
	if code != 3 || !strings.Contains(stderr, "start cluster") || !strings.Contains(stderr, "--start-timeout") {
		t.Fatalf("exit %d, stderr %q; want 3 and a start cluster error naming --start-timeout", code, stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(results, "demo-kv-register", "*"))
	if len(dirs) != 1 {
		t.Fatalf("want one run folder, got %v", dirs)
	}
	// The node processes were started before setup failed.
	for _, n := range []string{"n1", "n2", "n3"} {
		if _, err := os.Stat(filepath.Join(dirs[0], "nodes", n, "node.log")); err != nil {
			t.Errorf("node %s never started: %v", n, err)
		}
	}
	assertNothingLeft(t, dirs[0])
}

func TestSIGKILLLeavesCheckableHistory(t *testing.T) {
	results := t.TempDir()
	cmd, dir := startRun(t, results, 400, "--time-limit", "60s")
	// latest names the run from its start, so a killed run is found.
	assertLatest(t, results, dir)
	cmd.Process.Kill()
	waitExit(t, cmd, 30*time.Second)
	// The nodes die with their parent (parent-death signal).
	deadline := time.Now().Add(20 * time.Second)
	for len(nodeProcesses(t, dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	assertNothingLeft(t, dir)
	code, out, stderr := cli(t, "check", dir)
	if code > 2 {
		t.Fatalf("check of killed run: exit %d: %s %s", code, out, stderr)
	}
	if !strings.Contains(out, "linearizability") {
		t.Fatalf("check output names no checker: %s", out)
	}
}

func TestJSONAndJUnitOutputs(t *testing.T) {
	results := t.TempDir()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, stdout, stderr := cli(t, "run", "--results", results, "--time-limit", "3s", "--nemesis-interval", "500ms",
		"--json", "--junit", junit)
	var s struct {
		Verdict   string           `json:"verdict"`
		ExitCode  int              `json:"exit_code"`
		RunDir    string           `json:"run_dir"`
		Report    string           `json:"report"`
		Counts    map[string]any   `json:"counts"`
		Anomalies []map[string]any `json:"anomalies"`
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value: %q", stdout)
	}
	if s.ExitCode != code || s.RunDir == "" || s.Counts == nil {
		t.Fatalf("summary %+v does not match exit %d", s, code)
	}
	if want := map[string]int{"valid": 0, "invalid": 1, "unknown": 2}[s.Verdict]; want != code {
		t.Fatalf("verdict %q with exit %d", s.Verdict, code)
	}
	if (s.Verdict == "invalid") != (len(s.Anomalies) > 0) {
		t.Fatalf("verdict %s with %d anomalies", s.Verdict, len(s.Anomalies))
	}
	if !strings.Contains(stderr, strings.ToUpper(s.Verdict)) {
		t.Fatalf("human summary not on stderr: %q", stderr)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suites) != 1 || len(suites.Suites[0].Cases) != 2 {
		t.Fatalf("junit: %v %+v", err, suites)
	}
	tc, stats := suites.Suites[0].Cases[0], suites.Suites[0].Cases[1]
	if tc.Name != "linearizability" || (tc.Failure != nil) != (s.Verdict == "invalid") || stats.Name != "stats" || stats.Failure != nil {
		t.Fatalf("junit cases %+v, %+v for verdict %s", tc, stats, s.Verdict)
	}
}

// writeHardHistory writes, on one key, n writes that all overlap and then
// a read of a value none of them wrote: porcupine must try every subset of
// the writes in every order to refuse it. Measured on this project's
// 2-core machine, n=18 takes 13 s and 386 MB; n=20 more than a minute and
// about 1 GB.
func writeHardHistory(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	idx := 0
	add := func(p int, typ, f string, v string) {
		fmt.Fprintf(&b, `{"index":%d,"time":%d,"process":%d,"type":%q,"f":%q,"key":"k0","value":%s}`+"\n", idx, (idx+1)*1000, p, typ, f, v)
		idx++
	}
	// The last writer writes the first one's value again, so the
	// unique-values algorithm leaves the key to porcupine's search.
	value := func(p int) string {
		if p == n-1 && n > 1 {
			return "1"
		}
		return strconv.Itoa(p + 1)
	}
	for p := range n {
		add(p, "invoke", "write", value(p))
	}
	for p := range n {
		add(p, "ok", "write", value(p))
	}
	add(n, "invoke", "read", "null")
	add(n, "ok", "read", "-1")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cpuTime returns the CPU time process pid has used so far, from
// /proc/PID/stat (user and system time, in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func TestSignalWhileCheckingEndsAtOnce(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("skipped: needs /proc to tell when checking has begun")
	}
	history := filepath.Join(t.TempDir(), "history.jsonl")
	writeHardHistory(t, history, 20)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(faultlineBinary(t), "check", history, "--check-timeout", "2m", "--check-memory", "1GiB")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			// Reading a 42-line history takes milliseconds: once the
			// process has used half a second of CPU it is searching.
			deadline := time.Now().Add(60 * time.Second)
			for cpuTime(cmd.Process.Pid) < 500*time.Millisecond {
				if time.Now().After(deadline) {
					t.Fatalf("check never started searching; stderr %q", errb.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			sent := time.Now()
			cmd.Process.Signal(sig)
			code := waitExit(t, cmd, 30*time.Second)
			took := time.Since(sent)
			t.Logf("%s while checking: exit %d after %v", sig, code, took.Round(time.Millisecond))
			if code != 3 || out.Len() != 0 || errb.String() != "faultline: check interrupted\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3, nothing and one line saying the check was interrupted", code, out.String(), errb.String())
			}
			// A second is the contract; the bound is generous for a busy
			// machine, and the time is logged.
			if took > 10*time.Second {
				t.Errorf("took %v to end after %s", took, sig)
			}
		})
	}
}
