package faultline_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/targets/saga"
	wl "github.com/faultline/faultline/workloads/saga"
)

// sagaFaults are the faults of the rows: kills of any role, and latency
// that pushes a service's handling (delivery, store write, the event's
// publish and the acknowledgement, each crossing a slowed link) past the
// broker's one-second AckWait.
var sagaFaults = []string{"kill", "latency=300ms/100ms"}

// sagaCases are the saga target's findings: the naive rows must be
// invalid with duplicate charges, the others valid with orders both
// completed and compensated. The rows not marked extra are the sample
// every test run takes.
var sagaCases = []findCase{
	{name: "naive", variant: saga.VariantNaive, nemeses: sagaFaults, invalid: []string{wl.EffectsChecker}, check: duplicateCharges},
	{name: "idempotent", variant: saga.VariantIdempotent, nemeses: sagaFaults, check: completedAndCompensated},
	{name: "naive-postgres", extra: true, variant: saga.VariantNaive, store: saga.StorePostgres, nemeses: sagaFaults, invalid: []string{wl.EffectsChecker}, check: duplicateCharges},
	{name: "idempotent-postgres", variant: saga.VariantIdempotent, store: saga.StorePostgres, nemeses: sagaFaults, check: completedAndCompensated},
	{name: "idempotent-partition-pause", extra: true, variant: saga.VariantIdempotent, nemeses: []string{"partition=role:broker", "pause"}, check: completedAndCompensated},
}

// duplicateCharges asserts that the side-effects checker found orders
// charged more than once.
func duplicateCharges(t *testing.T, res *faultline.Result) {
	t.Helper()
	for _, c := range res.Checkers {
		if c.Checker == wl.EffectsChecker && !strings.Contains(c.Summary, "duplicate charges:") {
			t.Errorf("side effects %s %q; want duplicate charges", c.Verdict, c.Summary)
		}
	}
}

// completedAndCompensated asserts that the completeness checker judged
// orders both completed and compensated.
func completedAndCompensated(t *testing.T, res *faultline.Result) {
	t.Helper()
	for _, c := range res.Checkers {
		if c.Checker != wl.CompletenessChecker {
			continue
		}
		if d, ok := c.Details.(*wl.CompletenessDetails); !ok || d.Completed == 0 || d.Compensated == 0 {
			t.Errorf("completeness %q; want orders both completed and compensated", c.Summary)
		}
		return
	}
	t.Error("no completeness result")
}

// TestSagaFindings: each row of sagaCases on local processes, for
// FAULTLINE_SAGA_SEEDS seeds (default 1) of FAULTLINE_SAGA_TIME (default
// 12s; FAULTLINE_SAGA_CASES names rows to run, comma-separated): under
// kills and latency past the ack timeout the naive services charge some
// orders twice (invalid, duplicate charges), and the idempotent ones are
// valid with every order completed or compensated (both occur), on
// either store and under broker partitions and pauses too. Rows with
// --store postgres need Debian's postgresql. Each stored run is checked
// again offline.
func TestSagaFindings(t *testing.T) {
	if _, err := postgres.Server().Find(); err != nil {
		testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
	}
	checkFindings(t, saga.Name, "local", "SAGA", 6000, sagaCases)
}

// dockerSagaFaults replace sagaFaults on containers: where the kernel
// has no netem qdisc (this project's CI machines) latency reaches only the
// client proxies, never a service's links, so a pause of the payment
// service past the AckWait stands in for it (the broker delivers the
// charge again, and the service finds both deliveries when it resumes).
var dockerSagaFaults = []string{"kill", "pause=role:payment"}

// TestDockerSagaFindings: the same on containers, with dockerSagaFaults
// in place of sagaFaults.
func TestDockerSagaFindings(t *testing.T) {
	testenv.NeedDocker(t)
	cases := slices.Clone(sagaCases)
	for i := range cases {
		if slices.Equal(cases[i].nemeses, sagaFaults) {
			cases[i].nemeses = dockerSagaFaults
		}
	}
	checkFindings(t, saga.Name, "docker", "SAGA", 6000, cases)
}
