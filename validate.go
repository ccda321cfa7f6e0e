package faultline

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
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
}

// plan validates t and lays its cluster out, before anything is made.
func (t Test) plan() (runPlan, error) {
	var p runPlan
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
	p.workload = wl
	if p.provider, err = findProvider(t.Provider); err != nil {
		return p, err
	}
	faults, err := t.faults()
	if err != nil {
		return p, err
	}
	p.faults = faults
	if err := t.checkScalars(len(faults) > 0); err != nil {
		return p, err
	}
	t.Variant = variant
	if p.nodes, err = p.provider.plan(t, tg); err != nil {
		return p, err
	}
	planned := p.provider.planned(p.nodes)
	for _, f := range faults {
		if err := nemesis.Available(f, planned); err != nil {
			if errors.Is(err, nemesis.ErrUnsupported) {
				var can []string
				for _, o := range providers {
					if nemesis.Available(f, o.planned(p.nodes)) == nil {
						can = append(can, o.Name)
					}
				}
				if len(can) == 0 {
					can = []string{"none"}
				}
				return p, bad("--nemesis %s: the %s provider cannot inject it; providers that can: %s", f.Name(), t.Provider, strings.Join(can, ", "))
			}
			return p, bad("--nemesis %s on target %s: %v", f.Name(), tg.Name(), err)
		}
	}
	return p, nil
}

// checkScalars checks the numeric and duration settings; withFaults says
// whether the nemesis list names any fault.
func (t Test) checkScalars(withFaults bool) error {
	bad := core.BadInput
	switch {
	case t.Nodes < 1:
		return bad("--nodes must be at least 1, got %d", t.Nodes)
	case t.Concurrency < 1:
		return bad("--concurrency must be at least 1, got %d", t.Concurrency)
	case t.Rate < 0:
		return bad("--rate must not be negative, got %g", t.Rate)
	case t.TimeLimit <= 0:
		return bad("--time-limit must be positive, got %s", t.TimeLimit)
	case t.OpLimit < 0:
		return bad("--op-limit must not be negative, got %d", t.OpLimit)
	case t.OpTimeout <= 0:
		return bad("--op-timeout must be positive, got %s", t.OpTimeout)
	case t.Keys < 1:
		return bad("--keys must be at least 1, got %d", t.Keys)
	case withFaults && t.NemesisInterval <= 0:
		return bad("--nemesis-interval must be positive, got %s", t.NemesisInterval)
	case t.Loss <= 0 || t.Loss > 1:
		return bad("--loss must be a share above 0 and at most 1, got %g", t.Loss)
	case t.CheckTimeout <= 0:
		return bad("--check-timeout must be positive, got %s", t.CheckTimeout)
	case t.RecoveryTimeout <= 0:
		return bad("--recovery-timeout must be positive, got %s", t.RecoveryTimeout)
	case t.Results == "":
		return bad("--results must name a folder")
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
