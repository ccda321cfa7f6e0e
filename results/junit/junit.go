// Package junit writes the JUnit XML report of a run, the form CI systems
// read: one test suite per run, one test case per checker.
package junit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
)

// Suites is the root of a JUnit XML report in the form CI systems
// read (Jenkins, GitLab, GitHub Actions reporters): one test suite per run,
// one test case per checker.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one run.
type Suite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       float64     `xml:"time,attr"`
	Timestamp  string      `xml:"timestamp,attr"`
	Properties *Properties `xml:"properties,omitempty"`
	Cases      []Case      `xml:"testcase"`
	SystemOut  string      `xml:"system-out,omitempty"`
}

// Properties holds a suite's properties; nil writes no element (the
// schema wants at least one property inside one).
type Properties struct {
	List []Property `xml:"property"`
}

// Property is one name=value pair of a suite.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one checker (or, when the run could not be carried out,
// the run itself).
type Case struct {
	Name      string   `xml:"name,attr"`
	ClassName string   `xml:"classname,attr"`
	Time      float64  `xml:"time,attr"`
	Error     *Problem `xml:"error,omitempty"`
	Failure   *Problem `xml:"failure,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Problem is a failure (an anomaly) or an error (an unknown verdict,
// or a run that could not be carried out).
type Problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Input is what a JUnit report is made from.
type Input struct {
	// Name names the suite, for example "demo-kv unsafe register".
	Name string
	// Dir is the run folder, recorded as a property.
	Dir string
	// Start and Duration time the run.
	Start    time.Time
	Duration time.Duration
	// Checkers are the checker results; empty when RunErr is set.
	Checkers []core.CheckResult
	// RunErr is why the run could not be carried out, if it could not.
	RunErr error
	// Properties are extra name=value pairs (seed, nemesis, ...).
	Properties map[string]string
}

// New builds the report of one run: NewSuite(in) alone under the root.
func New(in Input) Suites {
	return Collect(NewSuite(in))
}

// Collect puts suites, in order, under one root named "faultline" whose
// tests, failures, errors and time are the sums of theirs.
func Collect(suites ...Suite) Suites {
	out := Suites{Name: "faultline", Suites: suites}
	for _, s := range suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Time += s.Time
	}
	return out
}

// NewSuite builds the suite of one run: an invalid checker is a failure
// whose message is its summary and whose text lists the anomalies; an
// unknown checker is an error (an undecided check is not a pass); a run
// that could not be carried out is one errored test case named "run".
func NewSuite(in Input) Suite {
	s := Suite{
		Name:      in.Name,
		Time:      in.Duration.Seconds(),
		Timestamp: in.Start.UTC().Format("2006-01-02T15:04:05"),
	}
	var props []Property
	if in.Dir != "" {
		props = append(props, Property{Name: "run_dir", Value: in.Dir})
	}
	for _, k := range slices.Sorted(maps.Keys(in.Properties)) {
		props = append(props, Property{Name: k, Value: in.Properties[k]})
	}
	if len(props) > 0 {
		s.Properties = &Properties{List: props}
	}
	class := "faultline." + strings.ReplaceAll(in.Name, " ", ".")
	if in.RunErr != nil {
		s.Cases = append(s.Cases, Case{Name: "run", ClassName: class,
			Error: &Problem{Message: in.RunErr.Error(), Type: "run-error", Text: in.RunErr.Error()}})
		s.Errors++
	}
	for _, c := range in.Checkers {
		tc := Case{Name: c.Checker, ClassName: class, SystemOut: c.Summary}
		switch c.Verdict {
		case core.Valid:
		case core.Invalid:
			var b strings.Builder
			for _, a := range c.Anomalies {
				fmt.Fprintf(&b, "%s: %s", a.Kind, a.Description)
				if len(a.Events) > 0 {
					fmt.Fprintf(&b, " (history events %v)", a.Events)
				}
				b.WriteByte('\n')
			}
			msg := c.Summary
			if len(c.Anomalies) > 0 {
				msg = c.Anomalies[0].Description
			}
			tc.Failure = &Problem{Message: msg, Type: "anomaly", Text: b.String()}
			s.Failures++
		default:
			tc.Error = &Problem{Message: "unknown: " + c.Summary, Type: "unknown", Text: c.Summary}
			s.Errors++
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	return s
}

// Write writes the report of one run, New(in), to path as WriteSuites
// does.
func Write(path string, in Input) error {
	return WriteSuites(path, New(in))
}

// WriteSuites writes the report r to path atomically: a temporary file in
// the same folder, renamed over path. It creates no folder: a missing
// parent folder, a folder at path or a folder it may not write into is an
// error, and no temporary file is left behind.
func WriteSuites(path string, r Suites) error {
	b, err := xml.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("write junit %s: not a file name", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write junit %s: %w", path, unwrapPath(err))
	}
	tmp := f.Name()
	_, err = f.Write(append([]byte(xml.Header), append(b, '\n')...))
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write junit %s: %w", path, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops the operation and temporary path of a *fs.PathError or
// *os.LinkError, keeping the cause: the message names path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
