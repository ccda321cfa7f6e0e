package checkers

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// This file holds the wording every checker's summary shares, so that
// findings read alike whichever checker wrote them.

// Plural renders "1 key", "3 keys", or "3 accesses" for a noun ending in s.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ListNames renders up to five names, then how many more.
func ListNames(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}

// NaturalLess orders strings with embedded numbers by value: "k2" before
// "k10", "a2" before "a10".
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db {
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// digitPrefix returns the number of leading ASCII digits of s.
func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// Seconds renders nanoseconds since the run started as seconds with
// millisecond precision, for example "3.210s".
func Seconds(ns int64) string { return fmt.Sprintf("%.3fs", float64(ns)/1e9) }

// StopPhrase says why a check's context ended: "ran out of memory
// budget" (ErrMemoryBudget), "interrupted", or "ran out of time".
func StopPhrase(ctx context.Context) string {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrMemoryBudget):
		return "ran out of memory budget"
	case errors.Is(cause, context.Canceled):
		return "interrupted"
	}
	return "ran out of time"
}
