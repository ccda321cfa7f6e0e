// Package registry lists every target and workload faultline knows. A new
// target or workload is a new package plus one line here.
package registry

import (
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/demokv"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/targets/redislock"
	"github.com/faultline/faultline/targets/saga"
	"github.com/faultline/faultline/targets/twopc"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
	"github.com/faultline/faultline/workloads/idempotency"
	"github.com/faultline/faultline/workloads/lock"
	"github.com/faultline/faultline/workloads/register"
	sagawl "github.com/faultline/faultline/workloads/saga"
	"github.com/faultline/faultline/workloads/transfer"
)

// Targets returns every target, in the order `faultline list` shows them.
func Targets() []targets.Target {
	return []targets.Target{demokv.Target{}, redislock.Target{}, postgres.Target{}, twopc.Target{}, saga.Target{}}
}

// Workloads returns every workload, in the order `faultline list` shows them.
func Workloads() []workloads.Workload {
	return []workloads.Workload{register.Workload{}, lock.Workload{}, idempotency.Workload{}, bank.Workload{}, transfer.Workload{}, sagawl.Workload{}}
}

// Target finds a target by name.
func Target(name string) (targets.Target, bool) {
	for _, t := range Targets() {
		if t.Name() == name {
			return t, true
		}
	}
	return nil, false
}

// Workload finds a workload by name.
func Workload(name string) (workloads.Workload, bool) {
	for _, w := range Workloads() {
		if w.Name() == name {
			return w, true
		}
	}
	return nil, false
}

// TargetNames lists the target names.
func TargetNames() []string {
	var out []string
	for _, t := range Targets() {
		out = append(out, t.Name())
	}
	return out
}

// WorkloadNames lists the workload names.
func WorkloadNames() []string {
	var out []string
	for _, w := range Workloads() {
		out = append(out, w.Name())
	}
	return out
}
