package generic

import (
	"fmt"
	"strconv"
	"strings"
)

// CodeRange is a range of HTTP status codes, Lo to Hi inclusive, each from
// 100 to 599. In a test file it is written as one code (409), a range
// ("500-504") or a class ("5xx").
type CodeRange struct {
	Lo, Hi int
}

// UnmarshalText reads "409", "500-504" or "5xx" (x in either case),
// refusing codes outside 100 to 599 and a range whose end is below its
// start.
func (r *CodeRange) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	var c CodeRange
	switch lo, hi, isRange := strings.Cut(s, "-"); {
	case len(s) == 3 && (strings.HasSuffix(s, "xx") || strings.HasSuffix(s, "XX")):
		d, err := strconv.Atoi(s[:1])
		if err != nil {
			return fmt.Errorf("%q is not a status code, range (500-504) or class (5xx)", s)
		}
		c = CodeRange{d * 100, d*100 + 99}
	case isRange:
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%q is not a status code, range (500-504) or class (5xx)", s)
		}
		c = CodeRange{l, h}
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a status code, range (500-504) or class (5xx)", s)
		}
		c = CodeRange{n, n}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	*r = c
	return nil
}

// Validate reports a range outside 100 to 599 or one whose end is below
// its start.
func (r CodeRange) Validate() error {
	switch {
	case r.Lo < 100 || r.Lo > 599 || r.Hi < 100 || r.Hi > 599:
		return fmt.Errorf("status code %s is out of range (HTTP status codes are 100 to 599)", r)
	case r.Hi < r.Lo:
		return fmt.Errorf("status range %d-%d ends below its start", r.Lo, r.Hi)
	}
	return nil
}

// String writes the range as a test file does.
func (r CodeRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(r.Lo)
	}
	if r.Lo%100 == 0 && r.Hi == r.Lo+99 {
		return strconv.Itoa(r.Lo/100) + "xx"
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// Contains reports whether code is in the range.
func (r CodeRange) Contains(code int) bool { return code >= r.Lo && code <= r.Hi }

// Status maps HTTP status codes to outcomes. For a change (write, cas,
// charge): OK means it took effect, Fail that it certainly did not, Info
// that it may have; a code in no list is info. For a read: OK carries the
// value, Absent means the key holds nothing (the read is ok, of no value),
// and every other code makes the read fail (a read changes nothing). For
// a ledger read only OK applies. OK left empty means 200-299, less any
// code another list names; the lists must not overlap.
type Status struct {
	OK     []CodeRange `yaml:"ok"`
	Fail   []CodeRange `yaml:"fail"`
	Info   []CodeRange `yaml:"info"`
	Absent []CodeRange `yaml:"absent"`
}

// Outcome is what a status code means under a Status.
type Outcome int

// The outcomes of a status code.
const (
	// Unmapped: no list names the code (info for a change, fail for a
	// read).
	Unmapped Outcome = iota
	OutcomeOK
	OutcomeFail
	OutcomeInfo
	OutcomeAbsent
)

// lists returns the status's lists with their names, in order.
func (s Status) lists() []struct {
	name   string
	ranges []CodeRange
	out    Outcome
} {
	return []struct {
		name   string
		ranges []CodeRange
		out    Outcome
	}{{"ok", s.OK, OutcomeOK}, {"fail", s.Fail, OutcomeFail}, {"info", s.Info, OutcomeInfo}, {"absent", s.Absent, OutcomeAbsent}}
}

// Classify returns what code means: the list that names it, or OK for a
// code from 200 to 299 that no list names when OK is empty, or Unmapped.
func (s Status) Classify(code int) Outcome {
	for _, l := range s.lists() {
		for _, r := range l.ranges {
			if r.Contains(code) {
				return l.out
			}
		}
	}
	if len(s.OK) == 0 && code >= 200 && code <= 299 {
		return OutcomeOK
	}
	return Unmapped
}

// validate checks every range and that no code is in two lists; allowed
// names the lists the operation takes ("ok", "fail", "info", "absent"),
// and why the others do not apply. It returns the field (relative to the
// status) and the problem.
func (s Status) validate(allowed []string, why string) (string, error) {
	type owner struct {
		list string
		r    CodeRange
	}
	var seen []owner
	for _, l := range s.lists() {
		if l.ranges == nil {
			continue
		}
		if !contains(allowed, l.name) {
			return l.name, fmt.Errorf("does not apply here: %s", why)
		}
		if len(l.ranges) == 0 {
			return l.name, fmt.Errorf("an empty list; leave the field out for the default")
		}
		for i, r := range l.ranges {
			field := fmt.Sprintf("%s[%d]", l.name, i)
			if err := r.Validate(); err != nil {
				return field, err
			}
			for _, o := range seen {
				switch {
				case r.Lo > o.r.Hi || o.r.Lo > r.Hi:
				case o.list == l.name:
					return field, fmt.Errorf("%s overlaps %s, already in this list", r, o.r)
				default:
					return field, fmt.Errorf("%s overlaps %s of %s: a code must mean one thing", r, o.r, o.list)
				}
			}
			seen = append(seen, owner{l.name, r})
		}
	}
	return "", nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
