package faultline

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/lifecycle"
	"github.com/faultline/faultline/internal/registry"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads"
)

// Validate reports the first setting Run cannot carry out, as an error
// wrapping ErrBadInput whose text is one line naming the flag and, where
// there are any, the valid choices.
func (t Test) Validate() error {
	_, err := t.plan()
	return err
}

// target returns the system under test: t.System, or the registry's
// target called t.Target.
func (t Test) target() (targets.Target, error) {
	if t.System != nil {
		if t.Target != "" && t.Target != t.System.Name() {
			return nil, core.BadInput("Test.Target %q names another target than Test.System (%s)", t.Target, t.System.Name())
		}
		return t.System, nil
	}
	tg, ok := registry.Target(t.Target)
	if !ok {
		return nil, core.BadInput("unknown target %q; valid targets: %s", t.Target, strings.Join(registry.TargetNames(), ", "))
	}
	return tg, nil
}

// runPlan is what validation learns and Run uses: the target, the
// workload, the provider, the planned nodes and the faults, each checked
// against the others.
type runPlan struct {
	target   targets.Target
	workload workloads.Workload
	provider provider
	nodes    []targets.Node
	faults   []nemesis.Fault
	// stall is the client-pause fault's hook for the run's clients.
	stall *nemesis.ClientStall
	// failover is the layout's switch-over, nil when it has no primary.
	failover func(targets.Admin) nemesis.Promoter
	// isolation is the resolved --isolation, "" for a target without
	// isolation levels.
	isolation string
	// store is the resolved --store, "" for a target without stores.
	store string
}

// resolveIsolation returns level when tg has it, tg's default level when
// level is empty, "" for a target without levels that was asked for none,
// and otherwise bad input listing the levels.
func resolveIsolation(tg targets.Target, level string) (string, error) {
	iso, ok := tg.(targets.Isolator)
	if !ok {
		if level != "" {
			return "", core.BadInput("--isolation: target %s has no isolation levels to choose from", tg.Name())
		}
		return "", nil
	}
	var names []string
	for _, c := range iso.Isolations() {
		names = append(names, c.Name)
	}
	switch {
	case level == "" && len(names) > 0:
		return names[0], nil
	case slices.Contains(names, level):
		return level, nil
	}
	return "", core.BadInput("--isolation %q: target %s has levels %s", level, tg.Name(), strings.Join(names, ", "))
}

// resolveStore returns store when tg has it, tg's default store when store
// is empty, "" for a target without stores that was asked for none, and
// otherwise bad input listing the stores.
func resolveStore(tg targets.Target, store string) (string, error) {
	st, ok := tg.(targets.Storer)
	if !ok {
		if store != "" {
			return "", core.BadInput("--store: target %s has no stores to choose from", tg.Name())
		}
		return "", nil
	}
	var names []string
	for _, c := range st.Stores() {
		names = append(names, c.Name)
	}
	switch {
	case store == "" && len(names) > 0:
		return names[0], nil
	case slices.Contains(names, store):
		return store, nil
	}
	return "", core.BadInput("--store %q: target %s has stores %s", store, tg.Name(), strings.Join(names, ", "))
}

// extend adds to c what the controller and the target can do for the
// faults: stall the clients, when the target's clients have a stall
// point; switch the primary over, when its layout has one. admin reaches
// the running nodes (nil for a cluster not started).
func (p runPlan) extend(c nemesis.Cluster, admin targets.Admin) nemesis.Cluster {
	var extras []any
	if s, ok := p.target.(targets.Staller); ok && s.StallPoint(p.workload.Name()) != "" {
		extras = append(extras, p.stall)
	}
	if p.failover != nil {
		extras = append(extras, p.failover(admin))
	}
	if len(extras) == 0 {
		return c
	}
	return nemesis.Extend(c, extras...)
}

// plan validates t and lays its cluster out, before anything is made.
func (t Test) plan() (runPlan, error) {
	p := runPlan{stall: &nemesis.ClientStall{}}
	bad := core.BadInput
	tg, err := t.target()
	if err != nil {
		return p, err
	}
	p.target = tg
	if t.Variant == "" {
		return p, bad("--variant must name a variant of %s: %s", t.Target, strings.Join(targets.VariantNames(tg), ", "))
	}
	variant, err := targets.ResolveVariant(tg, t.Variant)
	if err != nil {
		return p, err
	}
	wl, ok := registry.Workload(t.Workload)
	if !ok || !slices.Contains(tg.Workloads(), t.Workload) {
		return p, bad("unknown workload %q for target %s; valid workloads: %s", t.Workload, tg.Name(), strings.Join(tg.Workloads(), ", "))
	}
	if t.Hold < 0 || t.Hold > time.Minute {
		return p, bad("--hold must be between 0 (the workload's default) and 1m, got %s", t.Hold)
	}
	if t.Hold > 0 {
		h, ok := wl.(workloads.Holder)
		if !ok {
			return p, bad("--hold: workload %s holds nothing (the lock workload does)", wl.Name())
		}
		wl = h.WithHold(t.Hold)
	}
	if t.BankRule != "" {
		r, ok := wl.(workloads.Ruler)
		if !ok {
			return p, bad("--bank-rule: workload %s has no rules (the bank workload has)", wl.Name())
		}
		if wl, err = r.WithRule(t.BankRule); err != nil {
			return p, err
		}
	}
	p.workload = wl
	if p.isolation, err = resolveIsolation(tg, t.Isolation); err != nil {
		return p, err
	}
	if p.store, err = resolveStore(tg, t.Store); err != nil {
		return p, err
	}
	if p.provider, err = findProvider(t.Provider); err != nil {
		return p, err
	}
	if t.Compose != nil && t.Provider != "compose" {
		return p, bad("--provider %s: Test.Compose names a running Compose stack, which only the compose provider runs on", t.Provider)
	}
	faults, err := t.faults()
	if err != nil {
		return p, err
	}
	p.faults = faults
	if err := t.checkScalars(len(faults) > 0); err != nil {
		return p, err
	}
	t.Variant, t.Store = variant, p.store
	if p.nodes, err = p.provider.plan(t, tg); err != nil {
		return p, err
	}
	// A Compose stack runs what it runs: the target's Layout lays nothing
	// out there (and offers no failover).
	if t.Provider != "compose" {
		layout, err := tg.Layout(targets.Spec{Variant: variant, Nodes: t.Nodes, Store: p.store})
		if err != nil {
			return p, err
		}
		p.failover = layout.Failover
	}
	planned := p.extend(p.provider.planned(p.nodes), nil)
	for _, f := range faults {
		if err := nemesis.Available(f, planned); err != nil {
			if errors.Is(err, nemesis.ErrTargetUnsupported) {
				return p, bad("--nemesis %v (target %s, variant %s)", err, tg.Name(), variant)
			}
			if errors.Is(err, nemesis.ErrUnsupported) {
				var can []string
				for _, o := range providers {
					if nemesis.Available(f, p.extend(o.planned(p.nodes), nil)) == nil {
						can = append(can, o.Name)
					}
				}
				if len(can) == 0 {
					can = []string{"none"}
				}
				return p, bad("--nemesis %s: the %s provider cannot inject it; providers that can: %s", f.Name(), t.Provider, strings.Join(can, ", "))
			}
			return p, bad("--nemesis %v (target %s)", err, tg.Name())
		}
	}
	return p, nil
}

// checkScalars checks the numeric and duration settings; withFaults says
// whether the nemesis list names any fault.
func (t Test) checkScalars(withFaults bool) error {
	bad := core.BadInput
	// A Compose stack's nodes are its containers: --nodes does not apply.
	if most := lifecycle.MaxNodes; t.Provider != "compose" && (t.Nodes < 1 || t.Nodes > most) {
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
	if withFaults {
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
