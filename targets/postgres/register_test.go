package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/core"
	"github.com/faultline/faultline/internal/testenv"
	"github.com/faultline/faultline/targets"
	"github.com/faultline/faultline/workloads/register"
)

// newRegister returns a register client of process p at isolation reaching
// the pg node at addr, closed when the test ends.
func newRegister(t *testing.T, addr, isolation string, p int) *RegisterClient {
	t.Helper()
	cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadRegister, Isolation: isolation,
		Nodes: []targets.Endpoint{{Name: node, Role: RolePG, Addr: addr}}, Process: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	rc, ok := cl.(*RegisterClient)
	if !ok {
		t.Fatalf("register client is a %T", cl)
	}
	return rc
}

// invoke performs one register operation through cl, bounded by five
// seconds.
func invoke(t *testing.T, cl core.Client, f, key string, value any) core.Op {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return cl.Invoke(ctx, core.Op{Type: core.Invoke, F: f, Key: key, Value: value})
}

// expect fails t unless op completed as want with value (nil for an absent
// register) and, when errPart is not empty, an error containing it.
func expect(t *testing.T, what string, op core.Op, want core.Type, value any, errPart string) {
	t.Helper()
	if op.Type != want || op.Value != value || !strings.Contains(op.Error, errPart) || (want == core.OK) != (op.Error == "") {
		t.Fatalf("%s: %s %v (%T) %q; want %s %v (%T) with an error containing %q", what, op.Type, op.Value, op.Value, op.Error,
			want, value, value, errPart)
	}
}

// TestRegisterClientChoice: the register workload gets a *RegisterClient
// at each isolation level and whatever the variant, the target lists the
// workload, and an unknown isolation level is bad input.
func TestRegisterClientChoice(t *testing.T) {
	if !slices.Contains(Target{}.Workloads(), WorkloadRegister) {
		t.Fatalf("workloads %v lack %s", Target{}.Workloads(), WorkloadRegister)
	}
	eps := []targets.Endpoint{{Name: node, Role: RolePG, Addr: "127.0.0.1:1"}}
	for _, v := range []string{"", VariantCheckThenInsert, VariantUniqueConstraint} {
		for _, iso := range append([]string{""}, isolations...) {
			cl, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadRegister, Variant: v, Isolation: iso, Nodes: eps})
			if err != nil {
				t.Fatalf("variant %q isolation %q: %v", v, iso, err)
			}
			want, _ := isoLevel(iso)
			if rc, ok := cl.(*RegisterClient); !ok || rc.isolation != want {
				t.Fatalf("variant %q isolation %q: %T %+v", v, iso, cl, cl)
			}
			cl.Close()
		}
	}
	_, err := Target{}.NewClient(targets.ClientConfig{Workload: WorkloadRegister, Isolation: "snapshot", Nodes: eps})
	if !errors.Is(err, core.ErrBadInput) {
		t.Fatalf("unknown isolation: %v; want bad input", err)
	}
}

// TestRegisterRefusesBadValues: a read with a value, a write of anything
// but an int64, a cas of anything but a [2]int64, an empty key and an
// unknown operation fail at once, before any connection is tried (the
// address is dead, and no error speaks of connecting).
func TestRegisterRefusesBadValues(t *testing.T) {
	cl := newRegister(t, deadServer(t), "", 1)
	for _, op := range []core.Op{
		{F: register.Read, Key: "k0", Value: int64(1)},
		{F: register.Write, Key: "k0", Value: 5},
		{F: register.Write, Key: "k0", Value: "5"},
		{F: register.Write, Key: "k0"},
		{F: register.CAS, Key: "k0", Value: [2]int{1, 2}},
		{F: register.CAS, Key: "k0", Value: []int64{1, 2}},
		{F: register.CAS, Key: "k0", Value: int64(1)},
		{F: register.Write, Value: int64(1)},
		{F: register.Read},
		{F: "append", Key: "k0", Value: int64(1)},
	} {
		op.Type = core.Invoke
		got := invoke(t, cl, op.F, op.Key, op.Value)
		if got.Type != core.Fail || got.Error == "" || strings.Contains(got.Error, "connect") || fmt.Sprintf("%T %v", got.Value, got.Value) != fmt.Sprintf("%T %v", op.Value, op.Value) {
			t.Errorf("%+v: %s %v %q; want fail before connecting, value unchanged", op, got.Type, got.Value, got.Error)
		}
	}
}

// TestRegisterWithoutServer: with nothing listening, and with a server
// that never answers, every operation fails (nothing was sent), within its
// context, saying why; a read's value is nil.
func TestRegisterWithoutServer(t *testing.T) {
	for _, tc := range []struct {
		name, addr, err string
	}{
		{"refused", deadServer(t), "connect: "},
		{"silent", silentServer(t), "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newRegister(t, tc.addr, "", 1)
			for _, op := range []core.Op{
				{F: register.Read, Key: "k0"},
				{F: register.Write, Key: "k0", Value: int64(3)},
				{F: register.CAS, Key: "k0", Value: [2]int64{3, 4}},
			} {
				start := time.Now()
				ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
				got := cl.Invoke(ctx, core.Op{Type: core.Invoke, F: op.F, Key: op.Key, Value: op.Value})
				cancel()
				if got.Type != core.Fail || !strings.Contains(got.Error, tc.err) || got.Value != op.Value {
					t.Errorf("%s: %s %v %q; want fail with %q", op.F, got.Type, got.Value, got.Error, tc.err)
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s took %v past its 1.5s context", op.F, took)
				}
			}
		})
	}
}

// TestRegisterKnownAnswers: on a real postgres, at each isolation level, a
// register never written reads ok nil; a write then reads back its value,
// from its own client and from another; a cas from the value held
// succeeds and a cas from any other value (or on an absent key) fails and
// changes nothing; a second write overwrites the first.
func TestRegisterKnownAnswers(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	for i, iso := range isolations {
		t.Run(iso, func(t *testing.T) {
			cl, other := newRegister(t, addr, iso, 2*i), newRegister(t, addr, iso, 2*i+1)
			k, absent := "known-"+iso, "absent-"+iso
			expect(t, "read before any write", invoke(t, cl, register.Read, k, nil), core.OK, nil, "")
			expect(t, "write 5", invoke(t, cl, register.Write, k, int64(5)), core.OK, int64(5), "")
			expect(t, "read after write 5", invoke(t, cl, register.Read, k, nil), core.OK, int64(5), "")
			expect(t, "read after write 5 by another client", invoke(t, other, register.Read, k, nil), core.OK, int64(5), "")
			expect(t, "cas 5 → 6", invoke(t, cl, register.CAS, k, [2]int64{5, 6}), core.OK, [2]int64{5, 6}, "")
			expect(t, "read after cas 5 → 6", invoke(t, other, register.Read, k, nil), core.OK, int64(6), "")
			expect(t, "cas 5 → 7 on 6", invoke(t, other, register.CAS, k, [2]int64{5, 7}), core.Fail, [2]int64{5, 7}, "cas mismatch")
			expect(t, "read after the failed cas", invoke(t, cl, register.Read, k, nil), core.OK, int64(6), "")
			expect(t, "cas on an absent key", invoke(t, cl, register.CAS, absent, [2]int64{0, 1}), core.Fail, [2]int64{0, 1}, "cas mismatch")
			expect(t, "read of the absent key after the cas", invoke(t, other, register.Read, absent, nil), core.OK, nil, "")
			expect(t, "write 8 over 6", invoke(t, other, register.Write, k, int64(8)), core.OK, int64(8), "")
			expect(t, "read after write 8", invoke(t, cl, register.Read, k, nil), core.OK, int64(8), "")
			expect(t, "negative write", invoke(t, cl, register.Write, k, int64(-1)<<62), core.OK, int64(-1)<<62, "")
			expect(t, "read of the negative write", invoke(t, other, register.Read, k, nil), core.OK, int64(-1)<<62, "")
		})
	}
}

// TestRegisterConcurrentCAS: at each isolation level, eight clients cas
// one key from the value it holds at the same moment, twenty times: each
// time exactly one cas is ok, the others fail (a mismatch, or a
// serialization failure above read committed), and the key then holds the
// winner's value.
func TestRegisterConcurrentCAS(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	for i, iso := range isolations {
		t.Run(iso, func(t *testing.T) {
			const clients, rounds = 8, 20
			var cls []*RegisterClient
			for j := range clients {
				cls = append(cls, newRegister(t, addr, iso, 100*i+j))
			}
			k := "race-" + iso
			expect(t, "first write", invoke(t, cls[0], register.Write, k, int64(0)), core.OK, int64(0), "")
			cur := int64(0)
			errs := map[string]int{}
			for r := range rounds {
				ops := make([]core.Op, clients)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for j, cl := range cls {
					wg.Go(func() {
						<-start
						ops[j] = invoke(t, cl, register.CAS, k, [2]int64{cur, int64(1000*(r+1) + j)})
					})
				}
				close(start)
				wg.Wait()
				var winners []int64
				for _, op := range ops {
					switch op.Type {
					case core.OK:
						winners = append(winners, op.Value.([2]int64)[1])
					case core.Fail:
						errs[op.Error]++
					default:
						t.Fatalf("round %d: %s %q; want ok or fail", r, op.Type, op.Error)
					}
				}
				if len(winners) != 1 {
					t.Fatalf("round %d: %d cas from %d succeeded: %v", r, len(winners), cur, winners)
				}
				cur = winners[0]
				expect(t, fmt.Sprintf("read after round %d", r), invoke(t, cls[r%clients], register.Read, k, nil), core.OK, cur, "")
			}
			t.Logf("%s: failures: %v", iso, errs)
		})
	}
}

// TestRegisterServerError: at repeatable read, a write and a cas whose row
// another transaction updated and committed while they waited for it get
// the server's serialization failure (an ERROR: their transactions are
// rolled back): they fail, and the key holds the other transaction's
// value.
func TestRegisterServerError(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	cl := newRegister(t, addr, IsolationRepeatableRead, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	holder, err := dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	watcher, err := dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	for n, tc := range []struct {
		f     string
		value any
	}{
		{register.Write, int64(50)},
		{register.CAS, [2]int64{1, 51}},
	} {
		k := "contended-" + tc.f
		expect(t, "first write", invoke(t, cl, register.Write, k, int64(1)), core.OK, int64(1), "")
		tx, err := holder.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := int64(90 + n)
		if _, err := tx.Exec(ctx, `UPDATE registers SET value = $2 WHERE key = $1`, k, other); err != nil {
			t.Fatal(err)
		}
		done := make(chan core.Op, 1)
		go func() { done <- invoke(t, cl, tc.f, k, tc.value) }()
		testenv.Eventually(t, 10*time.Second, "the client waits for the row", func() error {
			var waiting int
			if err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%registers%'`).Scan(&waiting); err != nil {
				return err
			}
			if waiting != 1 {
				return fmt.Errorf("%d sessions wait for a lock", waiting)
			}
			return nil
		})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		op := <-done
		expect(t, tc.f+" against a concurrent update", op, core.Fail, tc.value, "SQLSTATE 40001")
		t.Logf("%s: %q", tc.f, op.Error)
		expect(t, "read after "+tc.f, invoke(t, cl, register.Read, k, nil), core.OK, other, "")
	}
}

// TestRegisterConnectionCut: an operation whose connection is cut at each
// of its steps completes as what may have happened says: a write or cas
// cut while its commit was on its way is info, whether the commit arrived
// (the value changed) or not (it did not); one cut while its statement was
// on its way, before any commit was sent, is fail, and the value did not
// change, whether the statement arrived or not; a read cut while its
// SELECT was on its way is fail with a nil value.
func TestRegisterConnectionCut(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	reader := newRegister(t, addr, "", 99)
	for i, tc := range []struct {
		name, f, pattern string
		forward          bool
		want             core.Type
		applied          bool
		errPart          string
	}{
		{"cas commit lost", register.CAS, "commit\x00", false, core.Info, false, "commit: "},
		{"cas commit answer lost", register.CAS, "commit\x00", true, core.Info, true, "commit: "},
		{"write commit lost", register.Write, "commit\x00", false, core.Info, false, "commit: "},
		{"write commit answer lost", register.Write, "commit\x00", true, core.Info, true, "commit: "},
		{"write statement lost", register.Write, "insert into registers", false, core.Fail, false, "write: "},
		{"write statement answer lost", register.Write, "insert into registers", true, core.Fail, false, "write: "},
		{"cas statement lost", register.CAS, "update registers", false, core.Fail, false, "cas: "},
		{"cas statement answer lost", register.CAS, "update registers", true, core.Fail, false, "cas: "},
		{"read lost", register.Read, "select value from registers", false, core.Fail, false, "read: "},
		{"read answer lost", register.Read, "select value from registers", true, core.Fail, false, "read: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := fmt.Sprintf("cut%d", i)
			before, after := int64(10*i+1), int64(10*i+2)
			expect(t, "first write", invoke(t, reader, register.Write, k, before), core.OK, before, "")
			p := newCutter(t, addr, tc.pattern, tc.forward)
			cl := newRegister(t, p.ln.Addr().String(), "", i)
			cl.prepared = true // the reader made the table: nothing of the preparation crosses the proxy
			var value any
			switch tc.f {
			case register.Write:
				value = after
			case register.CAS:
				value = [2]int64{before, after}
			}
			op := invoke(t, cl, tc.f, k, value)
			expect(t, tc.name, op, tc.want, value, tc.errPart)
			if p.cuts.Load() == 0 {
				t.Fatal("the proxy never cut the connection")
			}
			want := before
			if tc.applied {
				want = after
			}
			expect(t, "read after the cut", invoke(t, reader, register.Read, k, nil), core.OK, want, "")
			t.Logf("%s: %s %q", tc.name, op.Type, op.Error)
		})
	}
}

// TestRegisterTable: the clients' table has the columns the workload
// needs, key the primary key, and making it again (a client's fresh
// session on a made table) changes nothing.
func TestRegisterTable(t *testing.T) {
	c := startLocal(t, VariantCheckThenInsert)
	addr := c.Endpoints()[0].Addr
	a := newRegister(t, addr, "", 1)
	expect(t, "write", invoke(t, a, register.Write, "k0", int64(4)), core.OK, int64(4), "")
	b := newRegister(t, addr, "", 2)
	expect(t, "read by a client that made the table again", invoke(t, b, register.Read, "k0", nil), core.OK, int64(4), "")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		FROM pg_attribute a WHERE a.attrelid = 'registers'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"key text not null", "value bigint not null"}; !slices.Equal(cols, want) {
		t.Fatalf("columns %q; want %q", cols, want)
	}
	var pk string
	if err := conn.QueryRow(ctx, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'registers'::regclass AND contype = 'p'`).Scan(&pk); err != nil {
		t.Fatal(err)
	}
	if pk != "PRIMARY KEY (key)" {
		t.Fatalf("primary key %q", pk)
	}
}
