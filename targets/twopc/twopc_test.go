package twopc

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/transfer"
)

func TestLayout(t *testing.T) {
	nodes, err := targets.Plan(Target{}, targets.Spec{Variant: VariantCorrect, Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(targets.Names(nodes), ","); got != "coordinator,participant1,participant2,participant3" {
		t.Fatalf("nodes %s", got)
	}
	for _, n := range []int{0, 1, MaxParticipants + 1} {
		if _, err := (Target{}).Layout(targets.Spec{Nodes: n}); !errors.Is(err, core.ErrBadInput) {
			t.Errorf("--nodes %d: %v, want bad input", n, err)
		}
	}
	if _, err := (Target{}).Layout(targets.Spec{Variant: "bogus", Nodes: 3}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("variant bogus: %v, want bad input", err)
	}
	if _, err := (Target{}).NewClient(targets.ClientConfig{Workload: "register"}); !errors.Is(err, core.ErrBadInput) {
		t.Errorf("workload register: %v, want bad input", err)
	}
}

func TestOwner(t *testing.T) {
	for acct, want := range map[string]int{"a0": 0, "a1": 1, "a2": 2, "a3": 0, "a31": 1} {
		if got, err := Owner(acct, 3); err != nil || got != want {
			t.Errorf("Owner(%s, 3) = %d, %v; want %d", acct, got, err, want)
		}
	}
	for _, bad := range []string{"", "b1", "a", "a-1", "ax"} {
		if _, err := Owner(bad, 3); err == nil {
			t.Errorf("Owner(%q) accepted", bad)
		}
	}
}

// TestWALIgnoresTornTail: a line a kill cut short (no newline, or not
// JSON) ends the replay and is cut off, so the next entry starts clean.
func TestWALIgnoresTornTail(t *testing.T) {
	dir := t.TempDir()
	w, entries, err := openWAL(dir)
	if err != nil || len(entries) != 0 {
		t.Fatal(entries, err)
	}
	for _, tx := range []string{"t1", "t2"} {
		if err := w.append(entry{Kind: "prepare", Tx: tx, Deltas: map[string]int64{"a0": -1}}, true); err != nil {
			t.Fatal(err)
		}
	}
	w.close()
	f, _ := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"k":"commit","tx":"t1"`)
	f.Close()
	w, entries, err = openWAL(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("replayed %v, %v; want the two whole entries", entries, err)
	}
	if err := w.append(entry{Kind: "abort", Tx: "t2"}, true); err != nil {
		t.Fatal(err)
	}
	w.close()
	_, entries, _ = openWAL(dir)
	if len(entries) != 3 || entries[2].Kind != "abort" {
		t.Fatalf("after the torn tail: %+v", entries)
	}
}

// newTestParticipant returns participant 1 of 2 (accounts a0, a2, ...)
// over a log in dir, replayed.
func newTestParticipant(t *testing.T, dir, variant string) *participant {
	t.Helper()
	w, entries, err := openWAL(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close() })
	p := &participant{name: "participant1", variant: variant, index: 0, count: 2, log: slog.New(slog.DiscardHandler), wal: w,
		balances: map[string]int64{}, txs: map[string]*ptx{}, locks: map[string]string{}, reads: map[string][]string{}, decided: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.replay(entries)
	return p
}

// TestParticipantPreparesDecidesAndRecovers: a participant opens its own
// accounts, votes no on what it cannot do, holds a prepared transaction's
// locks until the decision, and after a restart finds its balances and
// its transactions in doubt again, locks held.
func TestParticipantPreparesDecidesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	p := newTestParticipant(t, dir, VariantCorrect)
	if v, why := p.prepare(PrepareBody{Tx: "t0", Deltas: map[string]int64{"a0": -1}}); v != "no" || !strings.Contains(why, "not open") {
		t.Fatalf("before any read: %s %q", v, why)
	}
	p.mu.Lock()
	if err := p.openLocked(ReadBody{ID: "r", Accounts: 4, Balance: 10}); err != nil {
		t.Fatal(err)
	}
	p.mu.Unlock()
	if len(p.balances) != 2 || p.balances["a0"] != 10 || p.balances["a2"] != 10 {
		t.Fatalf("opened %v; want a0 and a2 at 10", p.balances)
	}
	for _, c := range []struct {
		b    PrepareBody
		want string
	}{
		{PrepareBody{Tx: "t1", Deltas: map[string]int64{"a1": 5}}, "does not live"},
		{PrepareBody{Tx: "t2", Deltas: map[string]int64{"a0": -11}}, "insufficient funds"},
	} {
		if v, why := p.prepare(c.b); v != "no" || !strings.Contains(why, c.want) {
			t.Errorf("%s: %s %q; want no, %q", c.b.Tx, v, why, c.want)
		}
	}
	if v, why := p.prepare(PrepareBody{Tx: "t3", Deltas: map[string]int64{"a0": -4}}); v != "yes" {
		t.Fatalf("t3: %s %q", v, why)
	}
	if v, why := p.prepare(PrepareBody{Tx: "t4", Deltas: map[string]int64{"a0": 1}}); v != "no" || !strings.Contains(why, transfer.RefusedInDoubt) {
		t.Fatalf("t4 on a0 held by t3: %s %q; want no, held in doubt", v, why)
	}
	if v, _ := p.prepare(PrepareBody{Tx: "t5", Deltas: map[string]int64{"a2": 2}}); v != "yes" {
		t.Fatal("t5 refused")
	}
	if st, err := p.decide("t3", decCommit, false); err != nil || st != transfer.Committed {
		t.Fatalf("commit t3: %s %v", st, err)
	}
	if st, _ := p.decide("t3", decAbort, false); st != transfer.Committed {
		t.Fatalf("abort after commit changed t3 to %s", st)
	}
	if p.balances["a0"] != 6 {
		t.Fatalf("a0 = %d after t3; want 6", p.balances["a0"])
	}
	p.wal.close()

	// Restart: t3 committed, t5 in doubt with a2 locked.
	q := newTestParticipant(t, dir, VariantCorrect)
	if q.balances["a0"] != 6 || q.balances["a2"] != 10 {
		t.Fatalf("replayed balances %v; want a0 6, a2 10", q.balances)
	}
	if q.locks["a2"] != "t5" || q.txs["t5"].state != transfer.InDoubt {
		t.Fatalf("t5 after restart: locks %v, state %s", q.locks, q.txs["t5"].state)
	}
	rs, doubt := q.records(t.Context(), 0, 10, 0)
	if doubt != 1 || len(rs) != 2 || rs[0].Tx != "t3" || rs[0].State != transfer.Committed || rs[1].State != transfer.InDoubt {
		t.Fatalf("records %+v, %d in doubt", rs, doubt)
	}
	if st, _ := q.decide("t5", decAbort, true); st != transfer.Aborted {
		t.Fatal("t5 not aborted")
	}
	if rs, _ := q.records(t.Context(), 1, 10, 0); len(rs) != 1 || !rs[0].Alone || q.balances["a2"] != 10 {
		t.Fatalf("t5 after abort alone: %+v, a2 %d", rs, q.balances["a2"])
	}
}
