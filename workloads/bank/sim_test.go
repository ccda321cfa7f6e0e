package bank_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/workloads"
	"github.com/faultline/faultline/workloads/bank"
)

// simConfig describes a simulated bank run driven by the workload's own
// generator.
type simConfig struct {
	seed        uint64
	rule        string
	keys, procs int
	ops         int
	balance     int64
	// racy makes each transfer and withdrawal read its balances and write
	// them back at two different instants while a fault is active, so
	// concurrent ones can lose updates and skew writes; otherwise each
	// reads and writes at one instant (serializable).
	racy bool
	// lostPct of the transfers and withdrawals complete info: half of
	// them took effect, half did not.
	lostPct int
}

// simTruth is what the simulation knows happened, read by read.
type simTruth struct {
	reads int
	// wrongTotal holds the completion index of every ok read whose total
	// differs from the initial total less what withdrawals took out.
	wrongTotal map[int]bool
	// skewed counts the reads that saw a pair below zero.
	skewed int
}

// simProc is one client process of the simulation.
type simProc struct {
	at    int64 // time of the process's next step
	phase int   // 0 invoke, 1 read step, 2 write step, 3 complete
	op    core.Op
	typ   core.Type
	out   any
	// writes are the absolute balances the op will write in its write step.
	writes map[string]int64
	drop   bool // the op's effect is lost (an info op that did not apply)
	wrong  bool // a read that saw a wrong total
}

// simulate runs cfg and returns its history and the truth.
func simulate(cfg simConfig) (core.History, simTruth) {
	rng := rand.New(rand.NewPCG(cfg.seed, 99))
	w := bank.Workload{Rule: cfg.rule, Balance: cfg.balance}
	g := w.NewGenerator(cfg.keys, rand.New(rand.NewPCG(cfg.seed, 7)))
	n := w.Accounts(cfg.keys)
	state := map[string]int64{}
	for i := range n {
		state[bank.AccountName(i)] = w.InitialBalance()
	}
	initial := int64(n) * w.InitialBalance()
	var withdrawn, deposited int64
	truth := simTruth{wrongTotal: map[int]bool{}}
	var h core.History
	add := func(at int64, p int, typ core.Type, f string, v any) int {
		h = append(h, core.Event{Index: len(h), Time: at, Process: p, Op: core.Op{Type: typ, F: f, Value: v}})
		return len(h) - 1
	}
	procs := make([]simProc, cfg.procs)
	issued, faultOn, nextFault := 0, false, int64(2e6)
	step := func() int64 { return 1000 + rng.Int64N(100_000) }
	for {
		p := -1
		for i := range procs {
			if (procs[i].phase != 0 || issued < cfg.ops) && (p < 0 || procs[i].at < procs[p].at) {
				p = i
			}
		}
		if p < 0 {
			break
		}
		pr := &procs[p]
		apply := func() {
			if !pr.drop {
				maps.Copy(state, pr.writes)
				switch v := pr.op.Value.(type) {
				case bank.Withdrawal:
					withdrawn += v.Amount
				case bank.Deposit:
					deposited += v.Amount
				}
			}
			pr.phase = 3
		}
		for nextFault <= pr.at {
			if faultOn {
				add(nextFault, core.NemesisProcess, core.Info, "stop-partition", nil)
			} else {
				add(nextFault, core.NemesisProcess, core.Info, "start-partition", nil)
			}
			faultOn = !faultOn
			nextFault += 2e6
		}
		switch pr.phase {
		case 0:
			pr.op, _ = g.Next()
			issued++
			add(pr.at, p, core.Invoke, pr.op.F, pr.op.Value)
			pr.phase, pr.typ, pr.out, pr.writes, pr.drop = 1, core.OK, pr.op.Value, nil, false
		case 1:
			switch v := pr.op.Value.(type) {
			case bank.ReadRequest:
				b := bank.Balances(maps.Clone(state))
				pr.out = b
				truth.reads++
				skew := false
				for i := 0; i+1 < n; i += 2 {
					skew = skew || b[bank.AccountName(i)]+b[bank.AccountName(i+1)] < 0
				}
				if skew {
					truth.skewed++
				}
				pr.wrong = b.Total() != initial-withdrawn+deposited
				pr.phase = 3
			case bank.Transfer:
				if state[v.From] < v.Amount {
					pr.typ, pr.phase = core.Fail, 3
					break
				}
				pr.writes = map[string]int64{v.From: state[v.From] - v.Amount, v.To: state[v.To] + v.Amount}
				pr.phase = 2
			case bank.Withdrawal:
				if state[v.Account]+state[v.Pair] < v.Amount {
					pr.typ, pr.phase = core.Fail, 3
					break
				}
				pr.writes = map[string]int64{v.Account: state[v.Account] - v.Amount}
				pr.phase = 2
			case bank.Deposit:
				pr.writes = map[string]int64{v.Account: state[v.Account] + v.Amount}
				pr.phase = 2
			default:
				panic(fmt.Sprintf("the simulation has no step for %T", v))
			}
			if pr.phase == 2 && rng.IntN(100) < cfg.lostPct {
				pr.typ, pr.drop = core.Info, rng.IntN(2) == 0
			}
			if pr.phase == 2 && !(cfg.racy && faultOn) {
				apply() // the write at the same instant as the read
			}
		case 2:
			apply()
		case 3:
			out := pr.out
			if pr.typ == core.Info {
				out = nil
			}
			i := add(pr.at, p, pr.typ, pr.op.F, out)
			if pr.wrong {
				truth.wrongTotal[i] = true
			}
			pr.phase, pr.wrong = 0, false
		}
		pr.at += step()
	}
	return h, truth
}

// TestSimulatedRuns: runs simulated with the workload's own generator. A
// serializable bank passes under both rules, indeterminate operations and
// all; a bank whose clients read and write back at different instants
// during faults loses updates (wrong totals) and, under the joint rule,
// lets concurrent withdrawals take a pair below zero; the checkers must
// find exactly the reads the simulation knows to be wrong.
func TestSimulatedRuns(t *testing.T) {
	cases := map[string]struct {
		cfg simConfig
		// wrong and skew say whether the simulation must have produced
		// wrong totals and skewed pairs (so the case tests what it means to).
		wrong, skew bool
	}{
		"serializable, total rule":       {cfg: simConfig{seed: 1, keys: 5, procs: 8, ops: 5000, lostPct: 5}},
		"serializable, joint rule":       {cfg: simConfig{seed: 2, rule: bank.RuleJoint, keys: 4, procs: 8, ops: 5000, balance: 300, lostPct: 5}},
		"racy during faults, total rule": {cfg: simConfig{seed: 3, keys: 4, procs: 8, ops: 5000, racy: true, lostPct: 5}, wrong: true},
		"racy during faults, joint rule": {cfg: simConfig{seed: 4, rule: bank.RuleJoint, keys: 4, procs: 8, ops: 5000, balance: 300, racy: true}, wrong: true, skew: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, truth := simulate(tc.cfg)
			if (len(truth.wrongTotal) > 0) != tc.wrong || (truth.skewed > 0) != tc.skew {
				t.Fatalf("the simulation saw %d wrong totals and %d skewed reads; the case needs wrong totals %v, skew %v", len(truth.wrongTotal), truth.skewed, tc.wrong, tc.skew)
			}
			totals, balances := checkAll(t, tc.cfg.rule, h)
			d := totals.Details.(*bank.TotalsDetails)
			if d.Reads.OK != truth.reads {
				t.Errorf("%d ok reads judged, the simulation made %d", d.Reads.OK, truth.reads)
			}
			found := 0
			for _, f := range d.Findings {
				if !truth.wrongTotal[f.Complete] {
					t.Errorf("read at event %d reported wrong, but its total was right: %+v", f.Complete, f)
				}
				found++
			}
			if tc.cfg.rule != bank.RuleJoint && found != len(truth.wrongTotal) {
				// Under the total rule the expected total is exact.
				t.Errorf("%d wrong totals found, the simulation saw %d", found, len(truth.wrongTotal))
			}
			if tc.wrong && found == 0 {
				t.Errorf("no wrong total found; the simulation saw %d", len(truth.wrongTotal))
			}
			bd := balances.Details.(*bank.BalancesDetails)
			if bd.WrongReads != truth.skewed || kinds(balances.Anomalies)[bank.NegativeBalanceKind] != 0 {
				t.Errorf("%d reads with a pair below zero found, the simulation saw %d: %s", bd.WrongReads, truth.skewed, balances.Summary)
			}
			wantT, wantB := core.Valid, core.Valid
			if tc.wrong {
				wantT = core.Invalid
			}
			if tc.skew {
				wantB = core.Invalid
			}
			if totals.Verdict != wantT || balances.Verdict != wantB {
				t.Errorf("totals %s (%s), balances %s (%s); want %s, %s", totals.Verdict, totals.Summary, balances.Verdict, balances.Summary, wantT, wantB)
			}
			t.Logf("%d events; %s; %s", len(h), totals.Summary, balances.Summary)
		})
	}
}

// benchHistory is a simulated run of 100k operations over 10 accounts by
// 10 clients, with faults and lost replies; racy makes nearly every read
// wrong, the worst case for the checkers' reporting.
func benchHistory(b *testing.B, rule string, racy bool) core.History {
	b.Helper()
	h, truth := simulate(simConfig{seed: 9, rule: rule, keys: 10, procs: 10, ops: 100_000, balance: 2000, racy: racy, lostPct: 2})
	b.Logf("%d events, %d reads, %d wrong totals, %d skewed", len(h), truth.reads, len(truth.wrongTotal), truth.skewed)
	return h
}

func benchCheck(b *testing.B, rule string, racy bool, want core.Verdict) {
	h := benchHistory(b, rule, racy)
	b.ResetTimer()
	for range b.N {
		for _, res := range (bank.Workload{Rule: rule}).Check(context.Background(), h, workloads.CheckOptions{}) {
			if res.Verdict != want && (want == core.Valid || res.Checker == bank.TotalsChecker) {
				b.Fatalf("%s: %s (%s), want %s", res.Checker, res.Verdict, res.Summary, want)
			}
		}
	}
}

func BenchmarkCheckTotalRule(b *testing.B)      { benchCheck(b, bank.RuleTotal, false, core.Valid) }
func BenchmarkCheckJointRule(b *testing.B)      { benchCheck(b, bank.RuleJoint, false, core.Valid) }
func BenchmarkCheckTotalRuleWrong(b *testing.B) { benchCheck(b, bank.RuleTotal, true, core.Invalid) }
func BenchmarkCheckJointRuleWrong(b *testing.B) { benchCheck(b, bank.RuleJoint, true, core.Invalid) }
