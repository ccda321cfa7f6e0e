package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/provider/local"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/idempotency"
)

// node is the name of the one pg node.
const node = "n1"

// needPostgres skips the test (or fails it under CI) when postgres is not
// installed where the target looks for it.
func needPostgres(t *testing.T) {
	t.Helper()
	_, err := Server().Find()
	testenv.Need(t, "postgres", err, "Debian package postgresql; make test installs it")
}

// openDir returns a fresh folder that the server's account may reach
// when the test runs as root (the test's own temporary folder is private).
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// startLocal starts variant's one-node cluster with the local provider
// and closes it when the test ends.
func startLocal(t *testing.T, variant string) *local.Cluster {
	t.Helper()
	return startNodes(t, variant, 1, 30*time.Second)
}

// startNodes starts variant's cluster of nodes pg nodes with the local
// provider, each given ready to be ready, and closes it when the test
// ends.
func startNodes(t *testing.T, variant string, nodes int, ready time.Duration) *local.Cluster {
	t.Helper()
	needPostgres(t)
	c, err := local.Start(t.Context(), local.Config{
		Target: Target{}, Variant: variant, Nodes: nodes, Dir: openDir(t),
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		ReadyTimeout: ready, StopGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("start %s cluster of %d: %v", variant, nodes, err)
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

// newClient returns a client of variant reaching the pg node at addr,
// closed when the test ends.
func newClient(t *testing.T, variant, addr string, p int) *Client {
	t.Helper()
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadIdempotency, Variant: variant,
		Nodes: []targets.Endpoint{{Name: node, Role: RolePG, Addr: addr}}, Process: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl.(*Client)
}

// charge sends one charge of id on account through cl, bounded by within.
func charge(t *testing.T, cl core.Client, account, id string, amount int64, within time.Duration) core.Op {
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: idempotency.Charge, Key: account,
		Value: idempotency.ChargeRequest{RequestID: id, Amount: amount, MaxAttempts: 3}})
}

// readLedger reads account's whole ledger through cl page by page, pages
// of size rows, and checks that the pages agree with one another.
func readLedger(t *testing.T, cl core.Client, account string, size int64) []idempotency.Row {
	t.Helper()
	var rows []idempotency.Row
	for from := int64(0); ; from += size {
		op := cl.Invoke(t.Context(), core.Op{Type: core.Invoke, F: idempotency.Ledger, Key: account,
			Value: idempotency.LedgerRead{From: from, Count: size}})
		st, ok := op.Value.(idempotency.LedgerState)
		if op.Type != core.OK || !ok {
			t.Fatalf("ledger of %s from %d: %s %q", account, from, op.Type, op.Error)
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("ledger of %s from %d: %v", account, from, err)
		}
		rows = append(rows, st.Rows...)
		if int64(len(st.Rows)) < size {
			if st.Total != int64(len(rows)) && !(st.Total == 0 && st.From == 0) {
				t.Fatalf("ledger of %s: %d rows read, total %d", account, len(rows), st.Total)
			}
			return rows
		}
	}
}

// TestChargesWithoutFaults runs, on a real postgres of each variant, 4
// clients charging 3 accounts one request after another (each request sent
// twice, one delivery after the other), then reads the ledgers in pages of
// 7 rows: every charge is ok, every request is in its account's ledger
// exactly once with its amount, in the order the charges were made, and
// the whole ledger read at once is the same.
func TestChargesWithoutFaults(t *testing.T) {
	for _, variant := range []string{VariantCheckThenInsert, VariantUniqueConstraint} {
		t.Run(variant, func(t *testing.T) {
			c := startLocal(t, variant)
			addr := c.Endpoints()[0].Addr
			const workers, perWorker = 4, 20
			accounts := []string{"a0", "a1", "a2"}
			type sent struct {
				account string
				amount  int64
			}
			var mu sync.Mutex
			want := map[string]sent{}
			var wg sync.WaitGroup
			for w := range workers {
				cl := newClient(t, variant, addr, w)
				wg.Go(func() {
					for j := range perWorker {
						id := fmt.Sprintf("w%d-%d", w, j)
						acct, amt := accounts[(w+j)%len(accounts)], int64(1+j)
						for range 2 {
							if op := charge(t, cl, acct, id, amt, 5*time.Second); op.Type != core.OK {
								t.Errorf("charge %s: %s %q", id, op.Type, op.Error)
							} else if v := op.Value.(idempotency.ChargeResult); v.Attempts != 1 || len(v.Errors) != 0 {
								t.Errorf("charge %s without faults: %+v", id, v)
							}
						}
						mu.Lock()
						want[id] = sent{acct, amt}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			reader := newClient(t, variant, addr, workers)
			seen := map[string]int{}
			for _, acct := range accounts {
				rows := readLedger(t, reader, acct, 7)
				whole := reader.Invoke(t.Context(), core.Op{Type: core.Invoke, F: idempotency.Ledger, Key: acct})
				if st, _ := whole.Value.(idempotency.LedgerState); whole.Type != core.OK || !slices.Equal(st.Rows, rows) || st.From != 0 || st.Total != 0 {
					t.Errorf("%s: the whole ledger %s %+v differs from its pages %v", acct, whole.Type, whole.Value, rows)
				}
				last := map[string]int{}
				for _, r := range rows {
					seen[r.RequestID]++
					w := want[r.RequestID]
					if w.account != acct || w.amount != r.Amount {
						t.Errorf("%s: row %+v; request sent as %+v", acct, r, w)
					}
					// A worker's requests are in the order it sent them.
					var wk, j int
					fmt.Sscanf(r.RequestID, "w%d-%d", &wk, &j)
					if p, ok := last[fmt.Sprint(wk)]; ok && p >= j {
						t.Errorf("%s: %s after w%d-%d", acct, r.RequestID, wk, p)
					}
					last[fmt.Sprint(wk)] = j
				}
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("request %s in the ledgers %d times; want once", id, seen[id])
				}
			}
			if len(seen) != len(want) {
				t.Errorf("%d requests in the ledgers, %d sent", len(seen), len(want))
			}
		})
	}
}

// TestConcurrentDeliveries delivers each of 150 requests twice at the same
// moment from two clients: with check-then-insert both deliveries find
// nothing and both insert, so some requests are charged twice although
// every charge is acknowledged; with unique-constraint every request is
// charged exactly once.
func TestConcurrentDeliveries(t *testing.T) {
	for _, variant := range []string{VariantCheckThenInsert, VariantUniqueConstraint} {
		t.Run(variant, func(t *testing.T) {
			c := startLocal(t, variant)
			addr := c.Endpoints()[0].Addr
			a, b := newClient(t, variant, addr, 1), newClient(t, variant, addr, 2)
			const n = 150
			for i := range n {
				id := fmt.Sprintf("r%d", i)
				start := make(chan struct{})
				var opA, opB core.Op
				var wg sync.WaitGroup
				wg.Go(func() { <-start; opA = charge(t, a, "a0", id, 10, 5*time.Second) })
				wg.Go(func() { <-start; opB = charge(t, b, "a0", id, 10, 5*time.Second) })
				close(start)
				wg.Wait()
				if opA.Type != core.OK || opB.Type != core.OK {
					t.Fatalf("%s: %s %q and %s %q; want both ok", id, opA.Type, opA.Error, opB.Type, opB.Error)
				}
			}
			count := map[string]int{}
			for _, r := range readLedger(t, a, "a0", idempotency.PageSize) {
				count[r.RequestID]++
			}
			var twice []string
			for id, k := range count {
				if k > 1 {
					twice = append(twice, id)
				}
			}
			slices.Sort(twice)
			t.Logf("%s: %d of %d requests charged twice: %v", variant, len(twice), n, twice)
			if len(count) != n {
				t.Errorf("%d requests in the ledger; want %d", len(count), n)
			}
			switch variant {
			case VariantCheckThenInsert:
				if len(twice) == 0 {
					t.Errorf("check-then-insert: no request charged twice in %d concurrent double deliveries", n)
				}
			default:
				if len(twice) > 0 {
					t.Errorf("unique-constraint: requests charged twice: %v", twice)
				}
			}
		})
	}
}

// TestServerKilled: once the pg node is killed, charges fail (every try
// refused before anything was sent) and say so; after the restart charges
// succeed again, and the ledger holds exactly the acknowledged charges:
// those before the kill, any acknowledged by a backend that outlived its
// postmaster for a moment (PostgreSQL's backends run in their own
// sessions and notice the postmaster's death on their own), and those
// after the restart.
func TestServerKilled(t *testing.T) {
	c := startLocal(t, VariantUniqueConstraint)
	cl := newClient(t, VariantUniqueConstraint, c.Endpoints()[0].Addr, 1)
	want := []idempotency.Row{{RequestID: "before", Amount: 5}}
	if op := charge(t, cl, "a0", "before", 5, 5*time.Second); op.Type != core.OK {
		t.Fatalf("charge before the kill: %s %q", op.Type, op.Error)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.Kill(ctx, node); err != nil {
		t.Fatal(err)
	}
	var last core.Op
	i := 0
	err := testenv.Poll(10*time.Second, func() error {
		i++
		id := fmt.Sprintf("during%d", i)
		last = charge(t, cl, "a0", id, 5, 3*time.Second)
		v, _ := last.Value.(idempotency.ChargeResult)
		switch {
		case last.Type == core.OK:
			want = append(want, idempotency.Row{RequestID: id, Amount: 5})
		case last.Type == core.Fail && v.Attempts == 3 && len(v.Errors) == 3 && strings.HasPrefix(v.Errors[2], "connect"):
			return nil
		case last.Type != core.Fail:
			t.Fatalf("charge %s with the server killed: %s %+v %q; want ok or fail", id, last.Type, last.Value, last.Error)
		}
		return fmt.Errorf("%s %q", last.Type, last.Error)
	})
	if err != nil {
		t.Fatalf("no charge refused with the server killed: %v", err)
	}
	t.Logf("with the server killed: %q", last.Error)
	if err := c.Restart(ctx, node); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if op := charge(t, cl, "a0", "after", 7, 5*time.Second); op.Type != core.OK {
		t.Fatalf("charge after the restart: %s %q", op.Type, op.Error)
	}
	want = append(want, idempotency.Row{RequestID: "after", Amount: 7})
	if rows := readLedger(t, cl, "a0", 10); !slices.Equal(rows, want) {
		t.Fatalf("ledger after the restart: %+v; want the acknowledged charges %+v", rows, want)
	}
}

// cutter is a TCP proxy to a postgres server that cuts a connection when
// the client sends a message containing pattern (matched in lower case):
// before forwarding it (it never arrives), or, with forward, when the
// server's first bytes after it come back (it arrived and was answered;
// the answer is lost). Each cut is counted before the connection closes.
type cutter struct {
	ln       net.Listener
	upstream string
	pattern  string
	forward  bool
	cuts     atomic.Int32
}

func newCutter(t *testing.T, upstream, pattern string, forward bool) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutter{ln: ln, upstream: upstream, pattern: pattern, forward: forward}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *cutter) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			down.Close()
			continue
		}
		var once sync.Once
		cut := func() {
			once.Do(func() {
				p.cuts.Add(1)
				up.Close()
				down.Close()
			})
		}
		var sent atomic.Bool // the message went to the server
		go func() {
			defer down.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					if sent.Load() {
						cut()
						return
					}
					if _, werr := down.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer up.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := down.Read(buf)
				if n > 0 {
					if strings.Contains(strings.ToLower(string(buf[:n])), p.pattern) {
						if !p.forward {
							cut()
							return
						}
						sent.Store(true)
					}
					if _, werr := up.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestCommitLost: a charge whose connection is cut while its commit is on
// the way completes info (each try's outcome is unknown), whether the
// commit reached the server (the row is in the ledger) or not (it is not).
func TestCommitLost(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	reader := newClient(t, VariantCheckThenInsert, addr, 9)
	readLedger(t, reader, "a1", 100) // makes the ledger
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprintf("forwarded=%v", forward), func(t *testing.T) {
			p := newCutter(t, addr, "commit\x00", forward)
			cl := newClient(t, VariantCheckThenInsert, p.ln.Addr().String(), 1)
			cl.prepared = true // the reader made it: the only commit is the charge's
			id := fmt.Sprintf("cut-%v", forward)
			ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
			defer cancel()
			op := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: idempotency.Charge, Key: "a1",
				Value: idempotency.ChargeRequest{RequestID: id, Amount: 3, MaxAttempts: 1}})
			v, _ := op.Value.(idempotency.ChargeResult)
			if op.Type != core.Info || v.Attempts != 1 || len(v.Errors) != 1 || !strings.HasPrefix(v.Errors[0], "commit") {
				t.Fatalf("charge with its commit cut: %s %+v %q; want info after one try lost at the commit", op.Type, op.Value, op.Error)
			}
			if p.cuts.Load() == 0 {
				t.Fatal("the proxy never saw a commit")
			}
			n := 0
			for _, r := range readLedger(t, reader, "a1", 100) {
				if r.RequestID == id {
					n++
				}
			}
			if want := map[bool]int{false: 0, true: 1}[forward]; n != want {
				t.Fatalf("request %s in the ledger %d times; want %d", id, n, want)
			}
			t.Logf("%s: %q", id, op.Error)
		})
	}
}

// TestNoUserIsClear: as root, a server whose account does not exist does
// not start, and the error names the account.
func TestNoUserIsClear(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs servers as another account")
	}
	needPostgres(t)
	_, err := local.Start(t.Context(), local.Config{
		Target: noUser{}, Nodes: 1, Dir: openDir(t), ReadyTimeout: 10 * time.Second,
	})
	if err == nil || !errors.Is(err, local.ErrUser) || !strings.Contains(err.Error(), `no user "faultline-nobody-here"`) {
		t.Fatalf("start as a missing account: %v; want an error naming the account", err)
	}
	t.Logf("%v", err)
}

// noUser is the postgres target whose server runs as an account that does
// not exist.
type noUser struct{ Target }

func (noUser) Name() string { return "postgres-no-user" }

func (n noUser) Layout(spec targets.Spec) (targets.Layout, error) {
	l, err := n.Target.Layout(spec)
	if err != nil {
		return l, err
	}
	s := l.Roles[0].Program.(targets.Server)
	s.User = "faultline-nobody-here"
	l.Roles[0].Program = s
	return l, nil
}
