package saga

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/targets/postgres"
	"github.com/faultline/faultline/workloads"
	wl "github.com/faultline/faultline/workloads/saga"
)

// startCluster starts the saga cluster of variant and store on local
// processes and closes it when the test ends.
func startCluster(t *testing.T, variant, store string) *local.Cluster {
	t.Helper()
	dir := t.TempDir()
	if store == StorePostgres {
		_, err := postgres.Server().Find()
		testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
		// The server's account must reach the run folder when the test
		// runs as root.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := local.Start(t.Context(), local.Config{
		Target: Target{}, Variant: variant, Nodes: 1, Store: store, Dir: dir,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		ReadyTimeout: 30 * time.Second, StopGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("start %s cluster on %s: %v", variant, store, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// recorder invokes operations through one client and records them as a
// history, one process per operation.
type recorder struct {
	mu  sync.Mutex
	h   core.History
	cl  core.Client
	seq int
}

func (r *recorder) record(p int, op core.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Node = ""
	r.h = append(r.h, core.Event{Index: len(r.h), Time: int64(len(r.h)), Process: p, Op: op})
}

func (r *recorder) invoke(ctx context.Context, op core.Op, within time.Duration) core.Op {
	r.mu.Lock()
	r.seq++
	p := r.seq
	r.mu.Unlock()
	r.record(p, op)
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	res := r.cl.Invoke(ctx, op)
	res.F, res.Key = op.F, op.Key
	r.record(p, res)
	return res
}

// placeOrder places order n (o<n>, of amount n) and checks that it ends
// with the outcome wl.FailsAt decides.
func placeOrder(t *testing.T, r *recorder, n int64) {
	id := wl.OrderID(n)
	res := r.invoke(t.Context(), core.Op{Type: core.Invoke, F: wl.FOrder, Value: wl.Order{ID: id, Account: "a1", Item: "i3", Amount: n}}, 20*time.Second)
	want := wl.Outcome{Outcome: wl.Completed}
	if f := wl.FailsAt(id); f != "" {
		want = wl.Outcome{Outcome: wl.Compensated, Failed: f}
	}
	if res.Type != core.OK || res.Value != want {
		t.Errorf("order %s: %s %+v %q; want ok %+v", id, res.Type, res.Value, res.Error, want)
	}
}

// finalReads performs the generator's final reads for orders orders and
// checks each is ok.
func finalReads(t *testing.T, r *recorder, orders int) {
	g := wl.Workload{}.NewGenerator(1, nil)
	for range orders {
		g.Next()
	}
	for _, op := range g.FinalReads() {
		if res := r.invoke(t.Context(), op, 12*time.Second); res.Type != core.OK {
			t.Fatalf("final read %s %s %+v: %s %q", op.F, op.Key, op.Value, res.Type, res.Error)
		}
	}
}

// redelivered returns how many messages the broker delivered again to
// consumer.
func redelivered(c *local.Cluster, consumer string) (int, error) {
	addr, ok := c.AdminAddr(RoleBroker)
	if !ok {
		return 0, fmt.Errorf("no broker")
	}
	nc, err := nats.Connect("nats://"+addr, nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, Stream, consumer)
	if err != nil {
		return 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumRedelivered, nil
}

// TestPausedPaymentGetsRedeliveries runs each variant on a real cluster
// with each store: orders complete or are compensated as their ids
// decide; then, with payment paused (SIGSTOP) while an order's charge is
// delivered, the broker delivers the charge again past AckWait, and once
// payment resumes it handles every delivery: the naive variant charges
// the order more than once (the side-effects checker finds duplicate
// charges in the recorded history), the idempotent one once (both
// checkers valid). Every order ends completed or compensated.
func TestPausedPaymentGetsRedeliveries(t *testing.T) {
	for _, store := range []string{StoreEmbedded, StorePostgres} {
		for _, variant := range []string{VariantNaive, VariantIdempotent} {
			t.Run(store+"/"+variant, func(t *testing.T) {
				c := startCluster(t, variant, store)
				cl, err := Target{}.NewClient(targets.ClientConfig{Workload: wl.Name, Variant: variant, Nodes: c.Endpoints(), Store: store})
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				r := &recorder{cl: cl}
				const before = 12
				var wg sync.WaitGroup
				for n := range int64(before) {
					wg.Go(func() { placeOrder(t, r, n+1) })
				}
				wg.Wait()
				if t.Failed() {
					return
				}
				base, err := redelivered(c, wl.Payment)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Pause(t.Context(), wl.Payment); err != nil {
					t.Fatal(err)
				}
				// An order that completes, so that its charge is the only
				// step payment takes.
				var paused int64 = before + 1
				for wl.FailsAt(wl.OrderID(paused)) != "" {
					paused++
				}
				wg.Go(func() { placeOrder(t, r, paused) })
				testenv.Eventually(t, 10*time.Second, "the broker delivers the charge again", func() error {
					n, err := redelivered(c, wl.Payment)
					if err == nil && n <= base {
						err = fmt.Errorf("%d messages delivered again", n)
					}
					return err
				})
				if err := c.Resume(t.Context(), wl.Payment); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				finalReads(t, r, int(paused))
				rs := wl.Workload{}.Check(t.Context(), r.h, workloads.CheckOptions{})
				eff, comp := rs[0], rs[1]
				if comp.Verdict != core.Valid {
					t.Errorf("completeness: %s %q", comp.Verdict, comp.Summary)
				}
				d := comp.Details.(*wl.CompletenessDetails)
				if d.Completed == 0 || d.Compensated == 0 {
					t.Errorf("completeness saw %d completed and %d compensated orders; want both", d.Completed, d.Compensated)
				}
				charged := fmt.Sprintf("(%s)", wl.OrderID(paused))
				if variant == VariantNaive {
					if eff.Verdict != core.Invalid || !strings.Contains(eff.Summary, "duplicate charges: 1 order charged more than once "+charged) {
						t.Errorf("side effects: %s %q; want duplicate charges of %s", eff.Verdict, eff.Summary, charged)
					}
				} else if eff.Verdict != core.Valid {
					t.Errorf("side effects: %s %q; want valid", eff.Verdict, eff.Summary)
				}
			})
		}
	}
}
