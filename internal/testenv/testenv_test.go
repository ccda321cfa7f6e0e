package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCI(t *testing.T) {
	for v, want := range map[string]bool{
		"true": true, "TRUE": true, "True": true, "1": true, "yes": true, "Yes": true, " yes ": true,
		"": false, "false": false, "0": false, "no": false, "y": false, "on": false, "ci": false, "2": false,
	} {
		t.Setenv(EnvCI, v)
		if got := CI(); got != want {
			t.Errorf("CI=%q: CI() = %v, want %v", v, got, want)
		}
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of
// ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestNeedSkipsOutsideCIAndFailsUnderCI(t *testing.T) {
	missing := errors.New("not in PATH")
	for _, tc := range []struct {
		ci          string
		err         error
		skip, fatal bool
	}{
		{"", missing, true, false},
		{"false", missing, true, false},
		{"true", missing, false, true},
		{"1", missing, false, true},
		{"true", nil, false, false},
		{"", nil, false, false},
	} {
		t.Setenv(EnvCI, tc.ci)
		r := &recorder{TB: t}
		Need(r, "xmllint", tc.err, "Debian package libxml2-utils")
		if (r.skipped != "") != tc.skip || (r.failed != "") != tc.fatal {
			t.Errorf("CI=%q err=%v: skipped %q, failed %q", tc.ci, tc.err, r.skipped, r.failed)
		}
		for _, msg := range []string{r.skipped, r.failed} {
			if msg != "" && (!strings.Contains(msg, "xmllint") || !strings.Contains(msg, "not in PATH") || !strings.Contains(msg, "libxml2-utils")) {
				t.Errorf("CI=%q: message %q does not say what is missing, why and how to get it", tc.ci, msg)
			}
		}
	}
}

func TestNeedBinary(t *testing.T) {
	t.Setenv(EnvCI, "")
	r := &recorder{TB: t}
	if p := NeedBinary(r, "go", "golang"); p == "" || r.skipped != "" || r.failed != "" {
		t.Errorf("go: path %q, skipped %q, failed %q", p, r.skipped, r.failed)
	}
	r = &recorder{TB: t}
	NeedBinary(r, "faultline-no-such-binary", "faultline-pkg")
	if !strings.Contains(r.skipped, "faultline-no-such-binary is not in PATH") || !strings.Contains(r.skipped, "faultline-pkg") {
		t.Errorf("missing binary: skip message %q", r.skipped)
	}
}

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := Poll(10*time.Second, func() error {
		calls++
		if calls < 3 {
			return ErrNotYet
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Poll: %v after %d calls, want nil after 3", err, calls)
	}
}

func TestPollIsBoundedInCountAndTime(t *testing.T) {
	for _, within := range []time.Duration{0, 100 * time.Millisecond} {
		calls := 0
		err := Poll(within, func() error {
			calls++
			return fmt.Errorf("attempt %d", calls)
		})
		if max := int(within/Interval) + 2; calls < 1 || calls > max {
			t.Errorf("within %v: %d calls, want 1 to %d", within, calls, max)
		}
		if want := fmt.Sprintf("attempt %d", calls); err == nil || err.Error() != want {
			t.Errorf("within %v: %v, want the last error %q", within, err, want)
		}
	}
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	Eventually(r, 0, "n1 ready", func() error { return errors.New("connection refused") })
	if !strings.Contains(r.failed, "n1 ready") || !strings.Contains(r.failed, "connection refused") {
		t.Errorf("failure message %q", r.failed)
	}
	r = &recorder{TB: t}
	Eventually(r, time.Second, "n1 ready", func() error { return nil })
	if r.failed != "" {
		t.Errorf("a condition that holds failed: %q", r.failed)
	}
}
