package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faultline-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "faultline")
	// A static binary, so the docker provider puts this very binary into
	// the node image.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs the built binary with args and returns its exit code, stdout
// and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
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

func TestBadInputExitsThreeWithOneLine(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "history.jsonl")
	os.WriteFile(notJSON, []byte("this is not json\n{\"index\":0}\n"), 0o644)
	cases := []struct {
		args []string
		want []string // substrings of the one line
	}{
		{[]string{"run", "--target", "nope"}, []string{"unknown target", "demo-kv"}},
		{[]string{"run", "--variant", "nope"}, []string{"unknown variant", "safe", "unsafe"}},
		{[]string{"run", "--workload", "nope"}, []string{"unknown workload", "register"}},
		{[]string{"run", "--nemesis", "partition,flood"}, []string{"flood", "partition", "kill", "pause", "latency"}},
		{[]string{"run", "--concurrency", "0"}, []string{"--concurrency"}},
		{[]string{"run", "--concurrency", "-4"}, []string{"--concurrency"}},
		{[]string{"run", "--provider", "moon"}, []string{"unknown provider", "local"}},
		{[]string{"run", "--time-limit", "soon"}, []string{"time-limit"}},
		{[]string{"run", "--bogus"}, []string{"unknown flag"}},
		{[]string{"check", notJSON}, []string{"line 1"}},
		{[]string{"check", filepath.Join(dir, "missing")}, []string{"missing"}},
		{[]string{"check", notJSON, "--workload", "nope"}, []string{"unknown workload", "register"}},
	}
	for _, c := range cases {
		args := c.args
		if args[0] == "run" {
			args = append(args, "--results", dir)
		}
		code, stdout, stderr := cli(t, args...)
		if code != 3 {
			t.Errorf("%v: exit %d, want 3 (stderr %q)", c.args, code, stderr)
			continue
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) != 1 || stdout != "" {
			t.Errorf("%v: want one line on stderr and nothing on stdout, got stderr %q stdout %q", c.args, stderr, stdout)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%v: %q does not mention %q", c.args, lines[0], w)
			}
		}
	}
	// Bad input never starts a run: no run folder appears.
	if entries, _ := filepath.Glob(filepath.Join(dir, "*-*")); len(entries) != 0 {
		t.Errorf("bad input left run folders: %v", entries)
	}
}

func TestListAndVersion(t *testing.T) {
	code, out, _ := cli(t, "list")
	if code != 0 {
		t.Fatalf("list exit %d", code)
	}
	for _, w := range []string{"demo-kv", "unsafe", "safe", "register", "partition", "kill", "pause", "latency", "local"} {
		if !strings.Contains(out, w) {
			t.Errorf("list does not mention %q:\n%s", w, out)
		}
	}
	code, out, _ = cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "faultline ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
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
	cmd := exec.Command(binary, append([]string{"run", "--results", results}, args...)...)
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
	code, _, stderr := cli(t, "run", "--results", results, "--recovery-timeout", "1us", "--time-limit", "5s")
	if code != 3 || !strings.Contains(stderr, "start cluster") {
		t.Fatalf("exit %d, stderr %q; want 3 and a start cluster error", code, stderr)
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

func TestRunAndCheckExitCodes(t *testing.T) {
	results := t.TempDir()
	code, out, stderr := cli(t, "run", "--results", results, "--variant", "safe", "--nemesis", "none", "--time-limit", "2s")
	if code != 0 || !strings.HasPrefix(out, "VALID") || !strings.Contains(out, "report.html") {
		t.Fatalf("safe run without faults: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	latest := filepath.Join(results, "latest")
	for _, f := range []string{"test.json", "history.jsonl", "results.json", "report.html", "nodes/n1/node.log"} {
		if _, err := os.Stat(filepath.Join(latest, f)); err != nil {
			t.Errorf("run folder lacks %s: %v", f, err)
		}
	}
	if code, out, _ := cli(t, "check", latest); code != 0 || !strings.HasPrefix(out, "VALID") {
		t.Fatalf("re-check: exit %d, %q", code, out)
	}
	if code, out, _ := cli(t, "check", filepath.Join(latest, "history.jsonl")); code != 0 {
		t.Fatalf("re-check of the history file: exit %d, %q", code, out)
	}
	// A checker out of time says unknown, exit 2, never valid.
	if code, out, _ := cli(t, "check", latest, "--check-timeout", "1ns"); code != 2 || !strings.HasPrefix(out, "UNKNOWN") {
		t.Fatalf("check with no time: exit %d, %q; want 2 and UNKNOWN", code, out)
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

	// Bad input with --json is still exactly one JSON object, exit 3.
	code, stdout, stderr = cli(t, "run", "--results", results, "--target", "nope", "--json")
	var bad struct {
		ExitCode int    `json:"exit_code"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &bad); err != nil || code != 3 || bad.ExitCode != 3 ||
		!strings.Contains(bad.Error, "unknown target") || len(strings.Split(strings.TrimSpace(stderr), "\n")) != 1 {
		t.Fatalf("bad input with --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
