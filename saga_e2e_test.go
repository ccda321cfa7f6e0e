package faultline_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/targets/saga"
	wl "github.com/faultline/faultline/workloads/saga"
)

// sagaCase is one row of the saga findings: a run and what it must find.
type sagaCase struct {
	name    string
	variant string
	store   string
	nemesis []string
	// duplicates says the run must be invalid with duplicate charges;
	// otherwise it must be valid with orders both completed and
	// compensated.
	duplicates bool
}

// sagaFaults are the faults of the rows: kills of any role, and latency
// that pushes a service's handling (delivery, store write, the event's
// publish and the acknowledgement, each crossing a slowed link) past the
// broker's one-second AckWait.
var sagaFaults = []string{"kill", "latency=300ms/100ms"}

// sagaCases are the saga target's findings.
var sagaCases = []sagaCase{
	{name: "naive", variant: saga.VariantNaive, nemesis: sagaFaults, duplicates: true},
	{name: "idempotent", variant: saga.VariantIdempotent, nemesis: sagaFaults},
	{name: "naive-postgres", variant: saga.VariantNaive, store: saga.StorePostgres, nemesis: sagaFaults, duplicates: true},
	{name: "idempotent-postgres", variant: saga.VariantIdempotent, store: saga.StorePostgres, nemesis: sagaFaults},
	{name: "idempotent-partition-pause", variant: saga.VariantIdempotent, nemesis: []string{"partition=role:broker", "pause"}},
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
	seeds, dur := runParams(t, "SAGA")
	only := os.Getenv("FAULTLINE_SAGA_CASES")
	for _, sc := range sagaCases {
		if only != "" && !slices.Contains(strings.Split(only, ","), sc.name) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			if sc.store == saga.StorePostgres {
				if _, err := postgres.Server().Find(); err != nil {
					testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
				}
			}
			for s := 1; s <= seeds; s++ {
				tt := faultline.DefaultTestFor(saga.Name)
				tt.Variant, tt.Store, tt.Nemesis = sc.variant, sc.store, sc.nemesis
				tt.TimeLimit, tt.NemesisInterval = dur, 3*time.Second
				tt.Seed, tt.Results = int64(6000+s), openResults(t)
				res := runRechecked(t, sc.name, tt)
				byName := map[string]faultline.CheckResult{}
				for _, c := range res.Checkers {
					byName[c.Checker] = c
				}
				eff, comp := byName[wl.EffectsChecker], byName[wl.CompletenessChecker]
				if res.Counts.OK == 0 {
					t.Fatalf("seed %d: no operation succeeded", tt.Seed)
				}
				// A wrong verdict is reported and the other seeds still
				// run, so that a measurement counts every seed.
				if sc.duplicates {
					if res.Verdict != faultline.Invalid || eff.Verdict != faultline.Invalid || !strings.Contains(eff.Summary, "duplicate charges:") {
						t.Errorf("seed %d: %s, side effects %s %q; want duplicate charges", tt.Seed, res.Verdict, eff.Verdict, eff.Summary)
					}
					continue
				}
				if res.Verdict != faultline.Valid {
					t.Errorf("seed %d: %s (side effects %s %q; completeness %s %q); want valid", tt.Seed, res.Verdict, eff.Verdict, eff.Summary, comp.Verdict, comp.Summary)
					continue
				}
				d, ok := comp.Details.(*wl.CompletenessDetails)
				if !ok || d.Completed == 0 || d.Compensated == 0 {
					t.Errorf("seed %d: completeness %q; want orders both completed and compensated", tt.Seed, comp.Summary)
				}
			}
		})
	}
}
