package faultline

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/core"
)

// byteUnits are the units ParseBytes knows, longest suffix first within
// each size.
var byteUnits = []struct {
	suffix string
	size   float64
}{
	{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"tb", 1e12}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3},
	{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10},
	{"b", 1},
}

// ParseBytes reads a memory size: a number of bytes with an optional unit
// (KiB, MiB, GiB, TiB; KB, MB, GB, TB in powers of ten; K, M, G, T as the
// binary ones; case does not matter), for example "512MiB" or "1.5GiB", or
// a share of this machine's memory (checkers.MachineMemory) such as
// "25%". The result is at least one byte and fits an int64; anything else
// is an error wrapping ErrBadInput.
func ParseBytes(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	if num, ok := strings.CutSuffix(in, "%"); ok {
		in, scale = num, float64(checkers.MachineMemory())/100
	} else {
		for _, u := range byteUnits {
			if num, ok := strings.CutSuffix(in, u.suffix); ok {
				in, scale = num, u.size
				break
			}
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(in), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, core.BadInput("%q is not a memory size (for example 512MiB, 2GiB or 25%%)", s)
	}
	b := f * scale
	if b < 1 || b >= math.MaxInt64 {
		return 0, core.BadInput("memory size %q must be at least 1 byte and below 8EiB", s)
	}
	return int64(b), nil
}

// FormatBytes writes a memory size in the largest binary unit that keeps
// it short: "1GiB", "1.5GiB", "700B".
func FormatBytes(b int64) string {
	units := []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		switch {
		case b >= u.size && b%u.size == 0:
			return fmt.Sprintf("%d%s", b/u.size, u.suffix)
		case b >= u.size:
			return strconv.FormatFloat(float64(b)/float64(u.size), 'f', 1, 64) + u.suffix
		}
	}
	return fmt.Sprintf("%dB", b)
}
