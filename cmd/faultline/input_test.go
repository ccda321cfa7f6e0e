package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// assertLatest fails unless <results>/latest resolves to the run folder
// dir.
func assertLatest(t *testing.T, results, dir string) {
	t.Helper()
	got, err := filepath.EvalSymlinks(filepath.Join(results, "latest"))
	if err != nil {
		t.Fatalf("latest: %v", err)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if got != want {
		t.Fatalf("latest → %s, want %s", got, want)
	}
}

// wantOneLine fails unless s is exactly one line and returns it.
func wantOneLine(t *testing.T, what, s string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Errorf("%s: want one line on stderr, got %q", what, s)
		return ""
	}
	return lines[0]
}

// TestCheckAndReportBadInputs runs check and report on everything that is
// not a history, and on histories with nothing to judge.
func TestCheckAndReportBadInputs(t *testing.T) {
	dir := t.TempDir()
	ev := func(i int, time int64, p int, typ string) string {
		return `{"index":` + strconv.Itoa(i) + `,"time":` + strconv.FormatInt(time, 10) + `,"process":` + strconv.Itoa(p) + `,"type":"` + typ + `","f":"write","key":"k0","value":1}` + "\n"
	}
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	noHistory := filepath.Join(dir, "no-history")
	os.Mkdir(noHistory, 0o755)
	os.WriteFile(filepath.Join(noHistory, "test.json"), []byte(`{"workload":"register"}`), 0o644)
	fifoRun := filepath.Join(dir, "fifo-run")
	os.Mkdir(fifoRun, 0o755)
	syscall.Mkfifo(filepath.Join(fifoRun, "history.jsonl"), 0o644)

	cases := []struct {
		name string
		args []string
		code int
		say  string // in the stderr line (exit 3) or on stdout (exit 2)
	}{
		{"empty file", []string{"check", file("empty", "")}, 3, "not a history: the file is empty"},
		{"blank lines", []string{"check", file("blank", "\n \n\n")}, 3, "not a history: it holds only blank lines"},
		{"only line cut off", []string{"check", file("torn", `{"index":0,"time":1`)}, 3, "line 1: invalid JSON"},
		{"binary garbage", []string{"check", file("garbage", "\x7fELF\x02\x01\x01\x00\n\x00\xff\xfe")}, 3, "line 1: not a JSON object"},
		{"garbage, no newline", []string{"check", file("garbage2", "\x00\x01\x02")}, 3, "no complete event comes before it"},
		{"negative time", []string{"check", file("negative", ev(0, -1, 0, "invoke"))}, 3, "line 1: time -1 is negative"},
		{"time backwards", []string{"check", file("backwards", ev(0, 5000, 0, "invoke")+ev(1, 4000, 0, "ok"))}, 3, "line 2: time 4000 is before"},
		{"line over 1 MiB", []string{"check", file("long", ev(0, 1, 0, "invoke")+`{"x":"`+strings.Repeat("y", 1<<20)+`"}`+"\n")}, 3, "line 2: line is longer than 1048576 bytes"},
		{"long bad type", []string{"check", file("longtype", strings.Replace(ev(0, 1, 0, "invoke"), `"invoke"`, `"`+strings.Repeat("z", 100_000)+`"`, 1))}, 3, "bytes) is not invoke"},
		{"named pipe", []string{"check", fifo}, 3, "is a named pipe, not a history file"},
		{"named pipe in a run folder", []string{"check", fifoRun}, 3, "is a named pipe, not a history file"},
		{"device", []string{"check", "/dev/zero"}, 3, "is a device, not a history file"},
		{"folder without history", []string{"check", noHistory}, 3, "has no history.jsonl: not a run folder"},
		{"report of a folder without history", []string{"report", noHistory}, 3, "has no history.jsonl: not a run folder"},
		{"report of a named pipe history", []string{"report", fifoRun}, 3, "is a named pipe, not a history file"},
		{"no operation completed", []string{"check", file("invokes", ev(0, 1, 0, "invoke")+ev(1, 2, 1, "invoke"))}, 2, "nothing to judge: none of the 2 client operations completed"},
		{"only line, no newline", []string{"check", file("one", strings.TrimSuffix(ev(0, 1, 0, "invoke"), "\n"))}, 2, "nothing to judge"},
		{"nothing succeeded", []string{"check", file("fails", ev(0, 1, 0, "invoke")+ev(1, 2, 0, "fail"))}, 2, "nothing succeeded"},
	}
	for _, c := range cases {
		start := time.Now()
		code, stdout, stderr := cli(t, c.args...)
		took := time.Since(start)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", c.name, code, c.code, stdout, stderr)
			continue
		}
		if took > 30*time.Second {
			t.Errorf("%s: took %v", c.name, took)
		}
		if c.code == 3 {
			line := wantOneLine(t, c.name, stderr)
			if stdout != "" || !strings.Contains(line, c.say) || len(line) > 700 {
				t.Errorf("%s: stderr %.300q, stdout %q; want one short line saying %q", c.name, line, stdout, c.say)
			}
			continue
		}
		if !strings.HasPrefix(stdout, "UNKNOWN") || !strings.Contains(stdout, c.say) {
			t.Errorf("%s: stdout %q, want UNKNOWN saying %q", c.name, stdout, c.say)
		}
	}
	if _, err := os.Stat(filepath.Join(noHistory, "report.html")); err == nil {
		t.Error("report wrote a page into a folder without a history")
	}
}

// TestRunInWhichNothingSucceededIsUnknown: with operations that time out
// at once, no operation succeeds, and the run is unknown, never valid.
func TestRunInWhichNothingSucceededIsUnknown(t *testing.T) {
	results := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--results", results, "--variant", "safe", "--nemesis", "none",
		"--time-limit", "1s", "--op-timeout", "1ns", "--recovery-timeout", "5s")
	if code != 2 || !strings.HasPrefix(stdout, "UNKNOWN") || !strings.Contains(stdout, "stats: nothing succeeded") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and UNKNOWN saying nothing succeeded", code, stdout, stderr)
	}
	var res struct {
		Verdict  string `json:"verdict"`
		Checkers []struct {
			Checker, Verdict string
		} `json:"checkers"`
	}
	b, err := os.ReadFile(filepath.Join(results, "latest", "results.json"))
	if err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("results.json: %v", err)
	}
	last := res.Checkers[len(res.Checkers)-1]
	if res.Verdict != "unknown" || last.Checker != "stats" || last.Verdict != "unknown" {
		t.Fatalf("results.json says %+v", res)
	}
}

// TestLatestInTheWayIsAWarning: a file where the latest link goes is left
// alone, with a warning, and the exit code is still the verdict.
func TestLatestInTheWayIsAWarning(t *testing.T) {
	results := t.TempDir()
	mine := filepath.Join(results, "latest")
	if err := os.WriteFile(mine, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, "run", "--results", results, "--variant", "safe", "--nemesis", "none", "--time-limit", "1s")
	if code != 0 || !strings.HasPrefix(stdout, "VALID") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the verdict, 0", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: update latest: "+mine+" is not a symbolic link; it was left alone") {
		t.Errorf("no warning on stderr: %q", stderr)
	}
	if b, _ := os.ReadFile(mine); string(b) != "not yours" {
		t.Errorf("latest was changed: %q", b)
	}
}

// TestJUnitThatCannotBeWritten: exit 3 after results.json is written, no
// folder invented, no temporary file left.
func TestJUnitThatCannotBeWritten(t *testing.T) {
	for _, c := range []struct {
		name string
		json bool
		path func(dir string) string
	}{
		{"missing parent folder", false, func(dir string) string { return filepath.Join(dir, "missing", "junit.xml") }},
		{"folder in its place", true, func(dir string) string {
			p := filepath.Join(dir, "junit.xml")
			os.Mkdir(p, 0o755)
			return p
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			results, out := t.TempDir(), t.TempDir()
			junit := c.path(out)
			args := []string{"run", "--results", results, "--variant", "safe", "--nemesis", "none", "--time-limit", "1s", "--junit", junit}
			if c.json {
				args = append(args, "--json")
			}
			code, stdout, stderr := cli(t, args...)
			if code != 3 {
				t.Fatalf("exit %d, want 3 (stdout %q, stderr %q)", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, "write junit "+junit) {
				t.Errorf("last stderr line %q does not name the junit file", last)
			}
			if _, err := os.Stat(filepath.Join(results, "latest", "results.json")); err != nil {
				t.Errorf("results.json was not written: %v", err)
			}
			if c.json {
				var s struct {
					Verdict  string `json:"verdict"`
					ExitCode int    `json:"exit_code"`
					Error    string `json:"error"`
				}
				if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.ExitCode != 3 || s.Verdict != "valid" || !strings.Contains(s.Error, "junit") {
					t.Errorf("--json summary %q: %v", stdout, err)
				}
			} else if !strings.HasPrefix(stdout, "VALID") {
				t.Errorf("the verdict is not shown: %q", stdout)
			}
			entries, _ := os.ReadDir(out)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := map[bool]string{false: "", true: "junit.xml"}[c.json]; strings.Join(names, ",") != want {
				t.Errorf("the junit folder holds %v, want %q", names, want)
			}
		})
	}
}

// TestServeStopsOnSIGINTWithIdleConnections: `faultline serve` with a
// keep-alive connection and a silent one open ends promptly on SIGINT.
func TestServeStopsOnSIGINTWithIdleConnections(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(faultlineBinary(t), "serve", root, "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 {
				urls <- strings.Fields(sc.Text()[i:])[0]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var u string
	select {
	case u = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed no address")
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	silent, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	code := waitExit(t, cmd, 5*time.Second)
	t.Logf("serve exited %d, %v after SIGINT with two idle connections open", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("serve exit %d after SIGINT, want 0", code)
	}
}
