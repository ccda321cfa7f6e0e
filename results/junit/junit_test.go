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
	"github.com/faultline/faultline/internal/testenv"
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
	xmllint := testenv.NeedBinary(t, "xmllint", "libxml2-utils")
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

// TestJUnitWriteFailsCleanly shows that a report that cannot be written is
// an error that creates no folder and leaves no temporary file.
func TestJUnitWriteFailsCleanly(t *testing.T) {
	in := junitCases()["valid"]
	t.Run("missing parent folder", func(t *testing.T) {
		dir := t.TempDir()
		err := Write(filepath.Join(dir, "out", "junit.xml"), in)
		if err == nil || !strings.Contains(err.Error(), "junit.xml") {
			t.Fatalf("Write = %v, want an error naming the file", err)
		}
		assertOnly(t, dir)
	})
	t.Run("folder in its place", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "junit.xml"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(filepath.Join(dir, "junit.xml"), in); err == nil {
			t.Fatal("Write over a folder succeeded")
		}
		assertOnly(t, dir, "junit.xml")
	})
	t.Run("read-only folder", func(t *testing.T) {
		dir := readOnlyDir(t)
		if err := Write(filepath.Join(dir, "junit.xml"), in); err == nil {
			t.Fatal("Write into a read-only folder succeeded")
		}
		assertOnly(t, dir)
	})
}

// assertOnly fails unless dir holds exactly the names given.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

// readOnlyDir returns an empty folder no file can be created in: mode
// 0555, and for root, who ignores the mode, the immutable attribute where
// chattr can set it. It skips the test when neither holds.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	writable := func() bool {
		f, err := os.CreateTemp(dir, "probe")
		if err != nil {
			return false
		}
		f.Close()
		os.Remove(f.Name())
		return true
	}
	if !writable() {
		return dir
	}
	if chattr, err := exec.LookPath("chattr"); err == nil && exec.Command(chattr, "+i", dir).Run() == nil {
		t.Cleanup(func() { exec.Command(chattr, "-i", dir).Run() })
		if !writable() {
			return dir
		}
	}
	t.Skip("cannot make a read-only folder here (root, and no immutable attribute)")
	return ""
}

// TestJUnitCollectSumsSuites puts the suites of several runs and one
// without test cases under one root: its counts are their sums, and the
// report validates against the schema.
func TestJUnitCollectSumsSuites(t *testing.T) {
	cases := junitCases()
	var suites []Suite
	for _, name := range []string{"valid", "invalid", "unknown", "run error"} {
		suites = append(suites, NewSuite(cases[name]))
	}
	suites = append(suites, Suite{Name: "rate", Time: 2, Properties: &Properties{List: []Property{{Name: "found", Value: "1"}}},
		Cases: []Case{}, SystemOut: "anomaly found in 1 of 2 seeds"})
	r := Collect(suites...)
	if len(r.Suites) != 5 || r.Tests != 4 || r.Failures != 1 || r.Errors != 2 || r.Time != 21+1+2 || r.Name != "faultline" {
		t.Fatalf("collected: %d suites, tests/failures/errors %d/%d/%d, time %v", len(r.Suites), r.Tests, r.Failures, r.Errors, r.Time)
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteSuites(path, r); err != nil {
		t.Fatal(err)
	}
	xmllint := testenv.NeedBinary(t, "xmllint", "libxml2-utils")
	if out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit.xsd", path).CombinedOutput(); err != nil {
		t.Errorf("junit.xml does not validate: %v\n%s", err, out)
	}
}
