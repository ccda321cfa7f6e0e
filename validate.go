package faultline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/core"
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
	case len(faults) > 0 && t.NemesisInterval <= 0:
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
