package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
)

func TestSeedCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--repeat", "5", "--variant", "safe", "--json", "--junit", "j.xml", "--seed", "3"},
			"faultline run --variant safe --seed 42"},
		{[]string{"run", "--repeat=5", "--seed=3", "--json=true", "--junit=j.xml", "--time-limit", "2s"},
			"faultline run --time-limit 2s --seed 42"},
		{[]string{"run", "--repeat", "2", "--"}, "faultline run --seed 42 --"},
	} {
		if got := seedCommand(c.args, 42); got != c.want {
			t.Errorf("seedCommand(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestRunRepeatTextAndJUnit runs `faultline run --repeat 2` on the safe
// variant without faults: each run's line on stderr as it ends, then on
// stdout the table of the two seeds and the rate line; exit 0; each run's
// test.json repeats that run alone; the JUnit report holds a suite per
// run and the rate's, and validates against the schema.
func TestRunRepeatTextAndJUnit(t *testing.T) {
	results := t.TempDir()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, stdout, stderr := cli(t, "run", "--results", results, "--repeat", "2", "--variant", "safe", "--nemesis", "none",
		"--time-limit", "1500ms", "--seed", "11", "--junit", junit)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	want := regexp.MustCompile(`^seed  verdict  anomalies  first anomaly at  fault then\n` +
		`11    valid    0          –                 –\n` +
		`12    valid    0          –                 –\n` +
		`anomaly found in 0 of 2 seeds \(95% CI 0\.00–0\.66\)\n` +
		`Repeat: ` + regexp.QuoteMeta(results) + `/demo-kv-register-repeat/[0-9TZ.]+/repeat\.json\n$`)
	if !want.MatchString(stdout) {
		t.Errorf("stdout:\n%s", stdout)
	}
	for _, s := range []string{"11", "12"} {
		if !regexp.MustCompile(`(?m)^faultline: seed ` + s + `: VALID · runs/demo-kv-register/[0-9TZ.]+$`).MatchString(stderr) {
			t.Errorf("no line for seed %s on stderr:\n%s", s, stderr)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(results, "demo-kv-register-repeat", "*", "runs", "demo-kv-register", "*"))
	if len(dirs) != 2 {
		t.Fatalf("run folders %v", dirs)
	}
	for i, dir := range dirs {
		var lt faultline.Test
		if b, err := os.ReadFile(filepath.Join(dir, "test.json")); err != nil || json.Unmarshal(b, &lt) != nil {
			t.Fatalf("test.json: %v", err)
		}
		wantCmd := fmt.Sprintf("faultline run --results %s --variant safe --nemesis none --time-limit 1500ms --seed %d", results, 11+i)
		if lt.Command != wantCmd || lt.Seed != int64(11+i) {
			t.Errorf("run %d: command %q seed %d, want %q", i, lt.Command, lt.Seed, wantCmd)
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suites) != 3 || suites.Tests != 4 {
		t.Fatalf("junit: %v %+v", err, suites)
	}
	rate := suites.Suites[2]
	props := map[string]string{}
	for _, p := range rate.Props {
		props[p.Name] = p.Value
	}
	if rate.Name != "demo-kv safe register detection rate" || props["found"] != "0" || props["decided"] != "2" || props["ci95_high"] != "0.658" {
		t.Errorf("rate suite %+v", rate)
	}
	xmllint := testenv.NeedBinary(t, "xmllint", "libxml2-utils")
	if out, err := exec.Command(xmllint, "--noout", "--schema", "../../results/junit/testdata/junit.xsd", junit).CombinedOutput(); err != nil {
		t.Errorf("junit.xml does not validate: %v\n%s", err, out)
	}
}

// TestRunRepeatJSON: with --json, stdout holds exactly one JSON object,
// repeat.json's content, with the rate, its interval and the runs; the
// table goes to stderr.
func TestRunRepeatJSON(t *testing.T) {
	results := t.TempDir()
	code, stdout, stderr := cli(t, "run", "--results", results, "--repeat", "2", "--variant", "safe", "--nemesis", "none",
		"--time-limit", "1500ms", "--json")
	dec := json.NewDecoder(strings.NewReader(stdout))
	var r faultline.RepeatResult
	if err := dec.Decode(&r); err != nil || dec.More() || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout is not one JSON object on one line: %v\n%s", err, stdout)
	}
	if code != 0 || r.ExitCode != 0 || r.Rate.Decided != 2 || r.Rate.Found != 0 || r.Rate.Confidence != 0.95 || r.Rate.High < 0.657 ||
		len(r.Runs) != 2 || r.Runs[1].Seed != r.Runs[0].Seed+1 || r.Test.Seed != r.Runs[0].Seed {
		t.Fatalf("exit %d, %+v", code, r)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "repeat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk faultline.RepeatResult
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.Rate != r.Rate || onDisk.Dir != r.Dir ||
		len(onDisk.Runs) != len(r.Runs) || onDisk.Runs[1].RunDir != r.Runs[1].RunDir || !onDisk.Complete {
		t.Errorf("repeat.json differs from stdout:\n%s\n%s", b, stdout)
	}
	if !strings.Contains(stderr, "anomaly found in 0 of 2 seeds (95% CI 0.00–0.66)") {
		t.Errorf("the rate line is not on stderr:\n%s", stderr)
	}
}

// TestRunRepeatSIGINTKeepsRunsDone interrupts `--repeat 3` once its first
// run is done and its second is running: exit 3, nothing on stdout,
// repeat.json keeps the first run with its verdict and the second as
// interrupted, says interrupted, and no node is left running.
func TestRunRepeatSIGINTKeepsRunsDone(t *testing.T) {
	results := t.TempDir()
	cmd, out, errb := startSeries(t, "run", "--results", results, "--repeat", "3", "--variant", "safe",
		"--nemesis", "none", "--time-limit", "4s", "--seed", "21")
	first, second := waitSecondRunning(t, filepath.Join(results, "demo-kv-register-repeat", "*", "runs", "demo-kv-register", "*"), "run", errb)
	interruptSeries(t, cmd, out, errb, "repeat", "faultline: repeat interrupted at seed 22 (1 of 3 runs done)")
	repeatDir := filepath.Dir(filepath.Dir(filepath.Dir(first)))
	b, err := os.ReadFile(filepath.Join(repeatDir, "repeat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r faultline.RepeatResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Complete || r.ExitCode != 3 || len(r.Runs) != 2 || r.Rate.Decided != 1 || r.Rate.NotDone != 1 {
		t.Fatalf("repeat.json: %+v", r)
	}
	if r1, r2 := r.Runs[0], r.Runs[1]; r1.Seed != 21 || r1.Verdict != faultline.Valid || filepath.Join(repeatDir, r1.RunDir) != first ||
		r2.Seed != 22 || !r2.Interrupted || filepath.Join(repeatDir, r2.RunDir) != second {
		t.Errorf("runs %+v", r.Runs)
	}
	for _, dir := range []string{first, second} {
		assertNothingLeft(t, dir)
	}
}
