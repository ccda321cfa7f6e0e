package junit

import (
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
)

func junitCases() map[string]Input {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	return map[string]Input{
		"valid": {Name: "demo-kv safe register", Dir: "results/x", Start: start, Duration: 21 * time.Second,
			Checkers:   []core.CheckResult{{Checker: "linearizability", Verdict: core.Valid, Summary: "linearizable"}},
			Properties: map[string]string{"seed": "7", "nemesis": "partition"}},
		"invalid": {Name: "demo-kv unsafe register", Start: start, Duration: time.Second,
			Checkers: []core.CheckResult{{Checker: "linearizability", Verdict: core.Invalid, Summary: "not linearizable on k2",
				Anomalies: []core.Anomaly{{Kind: "nonlinearizable", Key: "k2", Description: `key k2: read returned 17 <script>&"`, Events: []int{4, 5}}}}}},
		"unknown": {Name: "demo-kv safe register", Start: start,
			Checkers: []core.CheckResult{{Checker: "linearizability", Verdict: core.Unknown, Summary: "undecided: 1 of 4 keys ran out of time"}}},
		"run error": {Name: "demo-kv safe register", Start: start, RunErr: errors.New("start cluster: node n2 exited")},
	}
}

func TestJUnitVerdictsMapToCases(t *testing.T) {
	want := map[string][3]int{ // tests, failures, errors
		"valid": {1, 0, 0}, "invalid": {1, 1, 0}, "unknown": {1, 0, 1}, "run error": {1, 0, 1},
	}
	for name, in := range junitCases() {
		path := filepath.Join(t.TempDir(), "junit.xml")
		if err := Write(path, in); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got Suites
		if err := xml.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: not XML: %v", name, err)
		}
		s := got.Suites[0]
		if w := want[name]; s.Tests != w[0] || s.Failures != w[1] || s.Errors != w[2] || got.Failures != w[1] || got.Errors != w[2] {
			t.Errorf("%s: tests/failures/errors %d/%d/%d, want %v", name, s.Tests, s.Failures, s.Errors, w)
		}
		if name == "invalid" {
			f := s.Cases[0].Failure
			if f == nil || !strings.Contains(f.Message, "read returned 17 <script>") || !strings.Contains(f.Text, "[4 5]") {
				t.Errorf("anomaly not carried as the failure message: %+v", f)
			}
		}
	}
}

// TestJUnitValidatesAgainstSchema checks every kind of report against the
// JUnit schema CI systems read (testdata/junit.xsd), with xmllint.
func TestJUnitValidatesAgainstSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is missing in CI: scripts/prepare-tests installs libxml2-utils")
		}
		t.Skip("xmllint not installed (Debian package libxml2-utils); scripts/prepare-tests installs it")
	}
	for name, in := range junitCases() {
		path := filepath.Join(t.TempDir(), "junit.xml")
		if err := Write(path, in); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit.xsd", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: junit.xml does not validate: %v\n%s", name, err, out)
		}
	}
}
