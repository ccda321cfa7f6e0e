package faultline

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/docker"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
)

// providers lists the --provider choices, each with its line for
// `faultline list`.
var providers = []targets.Choice{
	{Name: "local", Description: "nodes are OS processes on 127.0.0.1; every link passes an in-process proxy"},
	{Name: "docker", Description: "nodes are containers on a private network made for the run; faults with iptables and the engine API"},
}

// Validate reports the first setting Run cannot carry out, as an error
// wrapping ErrBadInput whose text is one line naming the flag and, where
// there are any, the valid choices.
func (t Test) Validate() error {
	bad := core.BadInput
	tg, ok := registry.Target(t.Target)
	if !ok {
		return bad("unknown target %q; valid targets: %s", t.Target, strings.Join(registry.TargetNames(), ", "))
	}
	if t.Variant == "" {
		return bad("--variant must name a variant of %s: %s", t.Target, strings.Join(targets.VariantNames(tg), ", "))
	}
	if _, err := targets.ResolveVariant(tg, t.Variant); err != nil {
		return err
	}
	if _, ok := registry.Workload(t.Workload); !ok || !slices.Contains(tg.Workloads(), t.Workload) {
		return bad("unknown workload %q for target %s; valid workloads: %s", t.Workload, t.Target, strings.Join(tg.Workloads(), ", "))
	}
	var providerNames []string
	for _, p := range providers {
		providerNames = append(providerNames, p.Name)
	}
	if !slices.Contains(providerNames, t.Provider) {
		return bad("unknown provider %q; valid providers: %s", t.Provider, strings.Join(providerNames, ", "))
	}
	faults, err := t.faults()
	if err != nil {
		return err
	}
	if most := maxNodes(t.Provider); t.Nodes < 1 || t.Nodes > most {
		return bad("--nodes must be between 1 and %d for the %s provider, got %d", most, t.Provider, t.Nodes)
	}
	switch {
	case t.Concurrency < 1 || t.Concurrency > MaxConcurrency:
		return bad("--concurrency must be between 1 and %d, got %d", MaxConcurrency, t.Concurrency)
	case math.IsNaN(t.Rate) || math.IsInf(t.Rate, 0) || t.Rate < 0 || (t.Rate > 0 && t.Rate < MinRate):
		return bad("--rate must be 0 (unlimited) or a number of operations per second from %g, got %g", MinRate, t.Rate)
	case t.OpLimit < 0:
		return bad("--op-limit must not be negative, got %d", t.OpLimit)
	case t.Keys < 1 || t.Keys > MaxKeys:
		return bad("--keys must be between 1 and %d, got %d", MaxKeys, t.Keys)
	case math.IsNaN(t.Loss) || t.Loss <= 0 || t.Loss > 1:
		return bad("--loss must be a share above 0 and at most 1, got %g", t.Loss)
	case t.Results == "":
		return bad("--results must name a folder")
	case strings.ContainsRune(t.Results, 0):
		return bad("--results must not hold a NUL byte")
	}
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{
		{"--time-limit", t.TimeLimit}, {"--op-timeout", t.OpTimeout}, {"--start-timeout", t.StartTimeout},
		{"--recovery-timeout", t.RecoveryTimeout},
	} {
		if err := validDuration(d.flag, d.d); err != nil {
			return err
		}
	}
	if len(faults) > 0 {
		if err := validDuration("--nemesis-interval", t.NemesisInterval); err != nil {
			return err
		}
		if t.NemesisInterval < MinNemesisInterval {
			return bad("--nemesis-interval must be at least %s, got %s", MinNemesisInterval, t.NemesisInterval)
		}
	}
	if err := validCheckTimeout(t.CheckTimeout); err != nil {
		return err
	}
	if err := validCheckMemory(t.CheckMemory); err != nil {
		return err
	}
	for _, f := range faults {
		if f.Name() == "partition" && t.Nodes < 2 {
			return bad("--nemesis partition needs at least 2 nodes, got --nodes %d", t.Nodes)
		}
		if f.Name() == "loss" && t.Provider != "docker" {
			return bad("--nemesis loss needs --provider docker: the local provider's proxies cannot drop single packets")
		}
	}
	return nil
}

// Bounds that Validate enforces beyond the obvious ones: each keeps a
// setting from overflowing a computation or exhausting the machine.
const (
	// MaxConcurrency is the largest --concurrency: each client process is
	// a goroutine with its own connections.
	MaxConcurrency = 10000
	// MaxKeys is the largest --keys: the generator keeps state per key
	// and the final reads read every key.
	MaxKeys = 100000
	// MinRate is the smallest non-zero --rate: below it the interval
	// between operations does not fit a duration.
	MinRate = 0.001
	// MaxDuration is the longest duration any flag takes (a year), so
	// that sums of timeouts cannot overflow.
	MaxDuration = 365 * 24 * time.Hour
	// MinNemesisInterval is the shortest --nemesis-interval.
	MinNemesisInterval = 10 * time.Millisecond
	// MinCheckMemory is the smallest --check-memory.
	MinCheckMemory = 1 << 20
)

// maxNodes is the largest cluster provider p starts.
func maxNodes(p string) int {
	if p == "docker" {
		return docker.MaxNodes
	}
	return local.MaxNodes
}

// validDuration checks that the duration of flag is positive and at most
// MaxDuration.
func validDuration(flag string, d time.Duration) error {
	if d <= 0 || d > MaxDuration {
		return core.BadInput("%s must be positive and at most %dh (a year), got %s", flag, MaxDuration/time.Hour, d)
	}
	return nil
}

// validCheckTimeout checks --check-timeout.
func validCheckTimeout(d time.Duration) error { return validDuration("--check-timeout", d) }

// validCheckMemory checks --check-memory.
func validCheckMemory(b int64) error {
	if b < MinCheckMemory {
		return core.BadInput("--check-memory must be at least %s, got %s", FormatBytes(MinCheckMemory), FormatBytes(b))
	}
	return nil
}

// faults parses the nemesis list; an empty list means no faults.
func (t Test) faults() ([]nemesis.Fault, error) {
	if len(t.Nemesis) == 0 {
		return nil, nil
	}
	list := slices.Clone(t.Nemesis)
	for i, n := range list {
		if n == "loss" {
			list[i] = fmt.Sprintf("loss=%g", t.Loss)
		}
	}
	return nemesis.Parse(strings.Join(list, ","))
}
